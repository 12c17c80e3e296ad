//! Benchmark driver for `benches/pdq_peers.py`: writes synthetic JPEGs and times nearmatch's
//! read + decode + hash of each, on the calling thread, printing one JSON object.
//!
//! ```text
//! bench_hash gen DIR COUNT WIDTH HEIGHT QUALITY   write COUNT JPEGs (scenes in turn) to DIR,
//!                                                  print their paths as a JSON array
//! bench_hash time ALGO REPEAT FILE...             ALGO: pdq | phash; print per-file timings
//! ```
//!
//! `time` reads each file from disk, decodes it with `decode::decode` (libjpeg-turbo by default)
//! and hashes it, `REPEAT` times per file after one untimed warm-up, and prints
//! `{"algo": .., "files": [{"path": .., "hash": .., "wall": [s..], "cpu": [s..]}, ..]}` (`cpu` is
//! the thread's CPU time, `null` where `/proc/thread-self/schedstat` is missing). Everything runs on the
//! calling thread: the hash functions are single-threaded (parallelism lives in the callers).

use std::path::{Path, PathBuf};
use std::time::Instant;

use nearmatch::decode::{decode, Limits};
use nearmatch::hash::imagehash::HashSize;
use nearmatch::hash::imagehash::{hashes_from_luma, ImagehashKind};
use nearmatch::hash::luma::LumaPlane;
use nearmatch::hash::pdq::{PdqHasher, Profile};
use nearmatch::hash::resample::PillowVersion;
use nearmatch::synth::{encode_jpeg, generate, Scene};

fn usage() -> ! {
    eprintln!(
        "usage: bench_hash gen DIR COUNT WIDTH HEIGHT QUALITY\n       bench_hash time pdq|phash REPEAT FILE..."
    );
    std::process::exit(64)
}

fn arg<T: std::str::FromStr>(v: Option<String>) -> T {
    v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage())
}

fn gen(mut args: impl Iterator<Item = String>) {
    let dir = PathBuf::from(args.next().unwrap_or_else(|| usage()));
    let count: u32 = arg(args.next());
    let (w, h): (u32, u32) = (arg(args.next()), arg(args.next()));
    let quality: u8 = arg(args.next());
    std::fs::create_dir_all(&dir).expect("create output directory");
    let mut paths = Vec::new();
    for i in 0..count {
        let scene = Scene::ALL[i as usize % Scene::ALL.len()];
        let img = generate(scene, w, h, 1000 + u64::from(i));
        let path = dir.join(format!("{}-{w}x{h}-{i:02}.jpg", scene.name()));
        std::fs::write(&path, encode_jpeg(&img, quality)).expect("write JPEG");
        paths.push(path.display().to_string());
    }
    println!("{}", serde_json::to_string(&paths).expect("JSON"));
}

/// Read + decode + hash one file; returns the hex digest.
fn hash_file(path: &Path, algo: &str, pdq: &mut PdqHasher) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let image = decode(&bytes, &Limits::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .image;
    match algo {
        "pdq" => pdq.hash(&image, Profile::Pdqhash).digest.to_hex(),
        "phash" => {
            let plane = LumaPlane::from_image(&image).expect("non-empty image");
            let d = hashes_from_luma(
                &plane,
                &[(ImagehashKind::Phash, HashSize::Eight)],
                PillowVersion::Pillow13,
            )
            .expect("phash");
            d[0].to_hex()
        }
        _ => usage(),
    }
}

/// CPU time of the calling thread (user + system), from `/proc/thread-self/schedstat` (ns), so
/// that other processes on a shared machine do not count; `None` where it is unavailable.
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 * 1e-9)
}

fn time(mut args: impl Iterator<Item = String>) {
    let algo = args.next().unwrap_or_else(|| usage());
    let repeat: usize = arg(args.next());
    let files: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if files.is_empty() || repeat == 0 {
        usage();
    }
    // One hasher reused across files, as a scan's worker thread would.
    let mut pdq = PdqHasher::new();
    let mut out = Vec::new();
    for path in &files {
        let hash = hash_file(path, &algo, &mut pdq);
        let mut wall = Vec::with_capacity(repeat);
        let mut cpu = Vec::with_capacity(repeat);
        for _ in 0..repeat {
            let (c0, t) = (thread_cpu_seconds(), Instant::now());
            let h = hash_file(path, &algo, &mut pdq);
            wall.push(t.elapsed().as_secs_f64());
            cpu.push(thread_cpu_seconds().zip(c0).map(|(b, a)| b - a));
            assert_eq!(h, hash, "nondeterministic hash");
        }
        out.push(serde_json::json!({
            "path": path.display().to_string(), "hash": hash, "wall": wall, "cpu": cpu,
        }));
    }
    println!("{}", serde_json::json!({"algo": algo, "files": out}));
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("gen") => gen(args),
        Some("time") => time(args),
        _ => usage(),
    }
}
