//! Writes every reference-fixture image and `manifest.csv`.
//!
//! `cargo run -p nearmatch-synth --release --example gen_fixtures -- OUTDIR [LARGEDIR]`
//!
//! Committed fixtures go to `OUTDIR/images/`, large ones to `LARGEDIR` (default
//! `target/fixtures-large`), the manifest to `OUTDIR/manifest.csv`. Rerunning reproduces the same
//! bytes; `fixtures/make_reference.py` then computes the peers' hashes of every file.

use std::path::PathBuf;

use nearmatch_synth::fixtures::{manifest_row, render, specs, MANIFEST_HEADER};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: gen_fixtures OUTDIR [LARGEDIR]");
        std::process::exit(64);
    };
    let large = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/fixtures-large"));
    let images = out.join("images");
    std::fs::create_dir_all(&images)?;
    std::fs::create_dir_all(&large)?;
    let all = specs();
    let start = std::time::Instant::now();
    let rows: Vec<Result<(String, u64), String>> = all
        .par_iter()
        .map(|f| {
            let bytes = render(f);
            if bytes.is_empty() {
                return Err(format!("{}: encoder produced nothing", f.name));
            }
            let dir = if f.committed { &images } else { &large };
            let path = dir.join(f.file_name());
            std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            let digest = hex::encode(Sha256::digest(&bytes));
            let committed = if f.committed { bytes.len() as u64 } else { 0 };
            Ok((manifest_row(f, Some(&digest)), committed))
        })
        .collect();
    let mut manifest = String::from(MANIFEST_HEADER);
    manifest.push('\n');
    let mut committed_bytes = 0;
    for r in rows {
        let (row, n) = r?;
        manifest.push_str(&row);
        manifest.push('\n');
        committed_bytes += n;
    }
    std::fs::write(out.join("manifest.csv"), manifest)?;
    eprintln!(
        "{} fixtures ({} committed, {} bytes) in {:.1?}",
        all.len(),
        all.iter().filter(|f| f.committed).count(),
        committed_bytes,
        start.elapsed()
    );
    Ok(())
}
