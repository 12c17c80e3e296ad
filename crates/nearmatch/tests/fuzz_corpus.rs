//! Replays the fuzzers' seed corpora (`fuzz/seeds/<target>/`) and every input they ever found
//! (`fuzz/regressions/<target>/`) through the same checks the fuzz targets run, so a fixed
//! crash stays fixed without cargo-fuzz. See `fuzz/README.md`.

use std::fs;
use std::path::{Path, PathBuf};

use nearmatch::import::Format;

#[path = "../../../fuzz/checks.rs"]
mod checks;

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
fn decode_hash_inputs() {
    assert!(
        replay("decode_hash", checks::decode_hash) >= 10,
        "seed corpus missing"
    );
}

#[test]
fn importer_inputs() {
    for (target, format) in [
        ("import_plain", Format::Plain),
        ("import_csv", Format::Csv),
        ("import_threatexchange", Format::ThreatExchange),
        ("import_vics", Format::Vics),
    ] {
        assert!(
            replay(target, |d| checks::import(d, format)) >= 1,
            "{target}: no seeds"
        );
    }
}

#[test]
fn hashset_open_inputs() {
    assert!(
        replay("hashset_open", checks::hashset_open) >= 3,
        "seed corpus missing"
    );
}
