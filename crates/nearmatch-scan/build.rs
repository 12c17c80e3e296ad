//! Captures the git commit (and whether the working tree differs from it) of the build, for the
//! chain of custody in scan reports (CLI and Python alike). Never fails the build: without git the values are
//! `unknown`.

use std::path::PathBuf;
use std::process::Command;

/// The package directory, as cargo gives it to this run. Read at run time, not with `env!`: a
/// build script compiled once may be run for another checkout of the same package (a worktree
/// sharing the target directory), and a compiled-in path may no longer exist.
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| ".".into()))
}

/// Runs `git ARGS` in the package directory; its trimmed standard output on success.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(manifest_dir())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).filter(|c| !c.is_empty());
    // `git describe --dirty` semantics: tracked files differ from HEAD (untracked files ignored).
    let dirty = commit.as_ref().and_then(|_| {
        git(&["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty())
    });
    println!(
        "cargo:rustc-env=NEARMATCH_GIT_COMMIT={}",
        commit.as_deref().unwrap_or("unknown")
    );
    println!(
        "cargo:rustc-env=NEARMATCH_GIT_DIRTY={}",
        dirty.map_or("unknown".to_string(), |d| d.to_string())
    );

    // Rerun when HEAD moves (the worktree's HEAD, the branch ref, packed refs), when the index
    // changes, and when sources change (they decide the dirty flag). In a worktree `.git` is a
    // file: ask git where the real directories are.
    let abs = |p: Option<String>| p.map(PathBuf::from);
    if let Some(dir) = abs(git(&["rev-parse", "--absolute-git-dir"])) {
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        println!("cargo:rerun-if-changed={}", dir.join("index").display());
    }
    if let Some(common) = abs(git(&["rev-parse", "--git-common-dir"])) {
        let common = if common.is_absolute() {
            common
        } else {
            manifest_dir().join(common)
        };
        let mut watch = vec![common.join("packed-refs")];
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(common.join(r));
        }
        // A missing path would make cargo rerun this script on every build.
        for p in watch.into_iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", p.display());
        }
    }
    for p in ["build.rs", "Cargo.toml", "../../Cargo.lock", "../../crates"] {
        println!("cargo:rerun-if-changed={p}");
    }
}
