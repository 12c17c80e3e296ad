//! Replays the container fuzzers' seed corpora (`fuzz/seeds/<target>/`) and every input they
//! found (`fuzz/regressions/<target>/`) through the checks the fuzz targets run, so a fixed crash
//! stays fixed without cargo-fuzz. See `fuzz/README.md`.

use std::fs;
use std::path::{Path, PathBuf};

use nearmatch_scan::container::ContainerKind;

#[path = "../../../fuzz/container_checks.rs"]
mod container_checks;

/// Every file under `fuzz/{seeds,regressions}/<target>/`, sorted.
fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut files = Vec::new();
    for kind in ["seeds", "regressions"] {
        if let Ok(dir) = fs::read_dir(fuzz.join(kind).join(target)) {
            files.extend(dir.flatten().map(|e| e.path()).filter(|p| p.is_file()));
        }
    }
    files.sort();
    files
}

/// Runs `check` on each input of `target`, naming the file of any panic; returns how many ran.
fn replay(target: &str, check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) -> usize {
    let files = inputs(target);
    for path in &files {
        let data = fs::read(path).unwrap();
        if std::panic::catch_unwind(|| check(&data)).is_err() {
            panic!("fuzz input {} fails its check again", path.display());
        }
    }
    files.len()
}

#[test]
fn container_inputs() {
    assert!(
        replay("container_zip", |d| container_checks::container(
            ContainerKind::Zip,
            d
        )) >= 3
    );
    assert!(
        replay("container_7z", |d| container_checks::container(
            ContainerKind::SevenZip,
            d
        )) >= 1
    );
    assert!(
        replay("container_pdf", |d| container_checks::container(
            ContainerKind::Pdf,
            d
        )) >= 1
    );
    let tar = |d: &[u8]| {
        if let Some((&pick, rest)) = d.split_first() {
            let kinds = [
                ContainerKind::Tar,
                ContainerKind::Gzip,
                ContainerKind::Bzip2,
                ContainerKind::Xz,
                ContainerKind::Zstd,
            ];
            container_checks::container(kinds[pick as usize % 5], rest)
        }
    };
    assert!(replay("container_tar", tar) >= 4);
}

#[test]
fn image_frame_inputs() {
    assert!(replay("image_frames", container_checks::image_frames) >= 3);
}

#[test]
fn disk_inputs() {
    use nearmatch_scan::disk::FsKind;
    // fat32.img and ntfs.img are not committed (too large): `make_seeds.py --disks` writes them.
    for (target, big) in [("disk_fat", "fat32.img"), ("disk_ntfs", "ntfs.img")] {
        if !inputs(target).iter().any(|p| p.ends_with(big)) {
            eprintln!(
                "SKIPPED fuzz/seeds/{target}/{big}: not generated (python3 fuzz/make_seeds.py --disks)"
            );
        }
    }
    assert!(replay("disk_volumes", container_checks::disk_volumes) >= 3);
    let fs = |kind| move |d: &[u8]| container_checks::file_system(kind, d);
    assert!(replay("disk_fat", fs(FsKind::Fat)) >= 2);
    assert!(replay("disk_exfat", fs(FsKind::ExFat)) >= 1);
    assert!(replay("disk_ext", fs(FsKind::Ext)) >= 1);
    replay("disk_ntfs", fs(FsKind::Ntfs));
}

/// NTFS volume `data` through the reader: the error it ended with (if any) and the reasons of
/// the broken members it reported.
fn expand_ntfs(data: &[u8]) -> (Result<(), String>, Vec<String>) {
    use nearmatch_scan::container::{MemberKind, Next};
    use nearmatch_scan::disk::{Media, Window};
    use std::io::Write;
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(data).unwrap();
    let media = std::sync::Arc::new(Media::raw(f).unwrap());
    let len = media.len();
    let mut broken = Vec::new();
    let mut visit = |h: nearmatch_scan::container::MemberHeader, _: &mut dyn std::io::Read| {
        if let MemberKind::Broken(why) = h.kind {
            broken.push(why);
        }
        Next::Continue
    };
    let result = nearmatch_scan::disk::ntfs::expand(Window::new(media, 0, len), &mut visit)
        .map_err(|e| e.to_string());
    (result, broken)
}

/// The `ntfs` crate's panics that `disk_ntfs` found are fixed in the patched copy
/// (`third_party/ntfs/PATCHED.md`): no input the fuzzer ever kept makes the reader give up (its
/// `catch_unwind` fallback, which the plain replay above cannot tell from a clean error). The
/// index entry shorter than its header is reported as a damaged directory index, the walk going
/// on.
#[test]
fn ntfs_crate_panics_found_by_the_fuzzer_are_errors_now() {
    let files = inputs("disk_ntfs");
    assert!(
        files.len() >= 4,
        "the regression inputs are there: {files:?}"
    );
    for path in &files {
        let (result, broken) = expand_ntfs(&fs::read(path).unwrap());
        if let Err(e) = &result {
            assert!(
                !e.contains("the reader gave up"),
                "the ntfs crate panicked on {}: {e}",
                path.display()
            );
        }
        if path.ends_with("panic-ntfs-crate-empty-index-entry") {
            assert!(
                broken
                    .iter()
                    .any(|why| why.contains("NTFS directory index damaged")),
                "no damaged-index member reported; broken members: {broken:?}, result: {result:?}"
            );
        }
    }
}
