//! Benchmark driver for `benches/pdq_peers.py`: writes synthetic JPEGs and times nearmatch's
//! read + decode + hash of each, on the calling thread, printing one JSON object.
//!
//! ```text
//! bench_hash gen DIR COUNT WIDTH HEIGHT QUALITY   write COUNT JPEGs (scenes in turn) to DIR,
//!                                                  print their paths as a JSON array
//! bench_hash time ALGO REPEAT FILE...             ALGO: pdq | pdq-whole | phash | phash-whole |
//!                                                  pdq-fast | phash-fast | decode; print
//!                                                  per-file timings
//! bench_hash profile [REPEAT [COUNT]]             per-stage medians (table) on 640x480,
//!                                                  1024x768, 4000x3000 JPEGs (q90) and PNGs
//! bench_hash probes [REPEAT [COUNT]]            cost of the query-side probe sets: probes per
//!                                                  image and CPU per image against plain PDQ,
//!                                                  on decoded 640x480 and 1024x768 JPEGs, as is
//!                                                  and with a white border (so trim fires)
//! bench_hash agree [COUNT [MIN_SIDE]]             fast vs exact hash distances over a mixed
//!                                                  synthetic corpus (sizes, scenes, qualities);
//!                                                  MIN_SIDE other than FAST_MIN_SIDE explores
//!                                                  other reduction thresholds
//! ```
//!
//! The `-fast` algorithms decode with `decode::decode_reduced` (the fast hashing mode: JPEG at
//! reduced DCT scale, other formats box-averaged). `pdq` and `phash` are `hash::file::hash_bytes`
//! asked for that hash alone, as the CLI's `hash` and `scan` ask (a JPEG streams its rows into
//! the filter or the resize there); `pdq-whole` and `phash-whole` decode the whole image first
//! and hash its pixels (the path other requests take), for comparison in the same run.
//!
//! `time` reads each file from disk, decodes it with `decode::decode` (libjpeg-turbo by default)
//! and hashes it, `REPEAT` times per file after one untimed warm-up, and prints
//! `{"algo": .., "files": [{"path": .., "hash": .., "wall": [s..], "cpu": [s..]}, ..]}` (`cpu` is
//! the thread's CPU time, `null` where the thread CPU clock is missing). Everything runs on the
//! calling thread: the hash functions are single-threaded (parallelism lives in the callers).

use std::path::{Path, PathBuf};
use std::time::Instant;

use nearmatch::decode::{decode, decode_reduced, Limits};
use nearmatch::hash::file::{hash_bytes, hash_image, HashMode, HashOptions, FAST_MIN_SIDE};
use nearmatch::hash::imagehash::HashSize;
use nearmatch::hash::imagehash::{hashes_from_luma, ImagehashKind};
use nearmatch::hash::luma::{pil_luma, LumaPlane};
use nearmatch::hash::pdq::{self, stages, PdqHasher, Profile};
use nearmatch::hash::resample::{resize_lanczos, PillowVersion};
use nearmatch::hash::Algorithm;
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};

fn usage() -> ! {
    eprintln!(
        "usage: bench_hash gen DIR COUNT WIDTH HEIGHT QUALITY\n       bench_hash time pdq|pdq-whole|phash|phash-whole|pdq-fast|phash-fast|decode REPEAT FILE...\n       bench_hash profile [REPEAT [COUNT]]\n       bench_hash probes [REPEAT [COUNT]]\n       bench_hash agree [COUNT]"
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
    if algo == "decode" {
        // The floor a hash is measured against (benches/pdq_floor.py): read + decode only.
        let image = decode(&bytes, &Limits::default())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .image;
        return format!("{}x{}", image.width(), image.height());
    }
    if algo == "pdq" || algo == "phash" {
        let a = if algo == "pdq" {
            Algorithm::Pdq
        } else {
            Algorithm::Phash
        };
        let out = hash_bytes(&bytes, &[a], &HashOptions::default());
        return out
            .get(a)
            .unwrap_or_else(|| panic!("{}: {:?}", path.display(), out.image_error));
    }
    let algo = algo.strip_suffix("-whole").unwrap_or(algo);
    let (algo, fast) = match algo.strip_suffix("-fast") {
        Some(a) => (a, true),
        None => (algo, false),
    };
    let image = if fast {
        decode_reduced(&bytes, FAST_MIN_SIDE, &Limits::default()).map(|r| r.decoded.image)
    } else {
        decode(&bytes, &Limits::default()).map(|d| d.image)
    }
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
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

/// CPU time of the calling thread (user + system), from `CLOCK_THREAD_CPUTIME_ID`, so that other
/// processes on a shared machine do not count; `None` where the clock is unavailable.
/// (`/proc/thread-self/schedstat` is only updated at scheduler ticks: useless for 5 ms jobs.)
fn thread_cpu_seconds() -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// `probes`: for each probe set, probes per image and median CPU per image (hash_image with
/// PDQ), against plain PDQ on the same decoded pixels.
fn probes(mut args: impl Iterator<Item = String>) {
    use nearmatch::pixels::{Image, Layout};
    use nearmatch::probe::ProbeConfig;
    let repeat: usize = args.next().map_or(5, |a| arg(Some(a)));
    let count: u32 = args.next().map_or(14, |a| arg(Some(a)));
    let bordered = |img: &Image| -> Image {
        let (w, h) = (img.width(), img.height());
        let (bw, bh) = (w / 10, h / 10);
        let (ow, oh) = (w + 2 * bw, h + 2 * bh);
        let mut rgb = vec![255u8; (ow * oh * 3) as usize];
        for y in 0..h {
            for x in 0..w {
                let o = (((y + bh) * ow + x + bw) * 3) as usize;
                rgb[o..o + 3].copy_from_slice(&img.rgb_at(x, y));
            }
        }
        Image::new(ow, oh, Layout::Rgb8(rgb)).expect("w * h * 3 samples")
    };
    let sets = [
        ("none", ProbeConfig::none()),
        ("trim", ProbeConfig::parse("trim").unwrap()),
        ("content-box", ProbeConfig::parse("content-box").unwrap()),
        ("default", ProbeConfig::default()),
        (
            "default,dihedral",
            ProbeConfig::parse("default,dihedral").unwrap(),
        ),
        (
            "default,rotate",
            ProbeConfig::parse("default,rotate").unwrap(),
        ),
        ("default,crop", ProbeConfig::parse("default,crop").unwrap()),
        ("all", ProbeConfig::all()),
    ];
    println!("| image | probe set | probes/image | CPU ms/image | × plain |");
    println!("|---|---|---:|---:|---:|");
    let sizes: Vec<(u32, u32)> = match std::env::var("PROBE_SIZES").ok().as_deref() {
        Some("small") => vec![(640, 480)],
        _ => vec![(640, 480), (1024, 768)],
    };
    for (w, h) in sizes {
        for border in [false, true] {
            let images: Vec<Image> = (0..count)
                .map(|i| {
                    let scene = Scene::ALL[i as usize % Scene::ALL.len()];
                    let jpeg = encode_jpeg(&generate(scene, w, h, 2000 + u64::from(i)), 90);
                    let img = decode(&jpeg, &Limits::default()).expect("decodes").image;
                    if border {
                        bordered(&img)
                    } else {
                        img
                    }
                })
                .collect();
            let mut plain_ms = 0.0;
            for (name, config) in sets {
                let opts = HashOptions {
                    probes: (!config.is_none()).then_some(config),
                    ..HashOptions::default()
                };
                let mut n_probes = 0usize;
                let mut runs = Vec::new();
                for r in 0..=repeat {
                    let c0 = thread_cpu_seconds().unwrap_or(0.0);
                    for img in &images {
                        let out = hash_image(img, &[Algorithm::Pdq], &opts);
                        if r == 0 {
                            n_probes += out.pdq_probes.len().max(1);
                        }
                    }
                    if r > 0 {
                        runs.push((thread_cpu_seconds().unwrap_or(0.0) - c0) / images.len() as f64);
                    }
                }
                runs.sort_by(f64::total_cmp);
                let ms = runs[runs.len() / 2] * 1e3;
                if name == "none" {
                    plain_ms = ms;
                }
                println!(
                    "| {w}x{h}{} | {name} | {:.1} | {ms:.2} | {:.2} |",
                    if border { " + border" } else { "" },
                    n_probes as f64 / images.len() as f64,
                    ms / plain_ms
                );
            }
        }
    }
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

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median thread-CPU seconds per call of `f` over `repeat` runs (after one warm-up); a run
/// loops `f` for at least 20 ms so that sub-millisecond stages are measured too.
fn cpu_median<T>(repeat: usize, mut f: impl FnMut() -> T) -> f64 {
    std::hint::black_box(f());
    let runs = (0..repeat)
        .map(|_| {
            let c0 = thread_cpu_seconds().unwrap_or(0.0);
            let mut n = 0u32;
            loop {
                std::hint::black_box(f());
                n += 1;
                let dt = thread_cpu_seconds().unwrap_or(0.0) - c0;
                if dt >= 0.02 {
                    return dt / f64::from(n);
                }
            }
        })
        .collect();
    median(runs)
}

/// Per-stage cost table: each stage timed alone on its real input, medians of `repeat` runs,
/// averaged over `count` images (scenes in turn), in milliseconds of thread CPU time.
fn profile(mut args: impl Iterator<Item = String>) {
    let repeat: usize = args.next().map_or(5, |s| arg(Some(s)));
    let count: usize = args.next().map_or(3, |s| arg(Some(s)));
    let dir = std::env::temp_dir().join("nearmatch-profile");
    std::fs::create_dir_all(&dir).expect("temp dir");
    let stages_names = [
        "read",
        "decode",
        "pdq luma (f64)",
        "pdq tent+decimate",
        "pdq dct",
        "pdq quality+bits",
        "PIL L convert",
        "lanczos 32x32",
        "phash core",
        "decode fast",
        "pdq on fast",
    ];
    println!(
        "| image | {} | PDQ exact total | PDQ fast total |",
        stages_names.join(" | ")
    );
    println!("|{}", "---|".repeat(stages_names.len() + 3));
    for (w, h) in [(640u32, 480u32), (1024, 768), (4000, 3000)] {
        for fmt in ["jpeg", "png"] {
            let mut sums = vec![0f64; stages_names.len()];
            for i in 0..count {
                let img = generate(Scene::ALL[(i + 2) % Scene::ALL.len()], w, h, 77 + i as u64);
                let bytes = if fmt == "jpeg" {
                    encode_jpeg(&img, 90)
                } else {
                    encode_png(&img)
                };
                let path = dir.join(format!("p-{w}x{h}-{i}.{fmt}"));
                std::fs::write(&path, &bytes).expect("write");
                let mut t = Vec::new();
                t.push(cpu_median(repeat, || std::fs::read(&path).expect("read")));
                let lim = Limits::default();
                t.push(cpu_median(repeat, || decode(&bytes, &lim).expect("decode")));
                let image = decode(&bytes, &lim).expect("decode").image;
                let mut luma = Vec::new();
                t.push(cpu_median(repeat, || {
                    stages::luma(&image, Profile::Pdqhash, &mut luma)
                }));
                let (lw, lh) = stages::luma(&image, Profile::Pdqhash, &mut luma);
                let mut hasher = PdqHasher::new();
                let mut work = luma.clone();
                t.push(cpu_median(repeat, || {
                    work.copy_from_slice(&luma);
                    stages::tent(&mut hasher, &mut work, lw, lh)
                }));
                // The copy is not part of the stage: subtract it.
                let copy = cpu_median(repeat, || work.copy_from_slice(&luma));
                let last = t.len() - 1;
                t[last] = (t[last] - copy).max(0.0);
                work.copy_from_slice(&luma);
                let a = stages::tent(&mut hasher, &mut work, lw, lh);
                t.push(cpu_median(repeat, || stages::dct(&a)));
                let b = stages::dct(&a);
                t.push(cpu_median(repeat, || {
                    (stages::quality(&a), stages::bits(&b))
                }));
                t.push(cpu_median(repeat, || pil_luma(&image)));
                let l = pil_luma(&image);
                let (iw, ih) = (w as usize, h as usize);
                let pv = PillowVersion::Pillow13;
                t.push(cpu_median(repeat, || {
                    resize_lanczos(&l, iw, ih, 32, 32, pv).expect("resize")
                }));
                let small = LumaPlane::new(32, 32, resize_lanczos(&l, iw, ih, 32, 32, pv).unwrap())
                    .unwrap();
                t.push(cpu_median(repeat, || {
                    nearmatch::hash::phash::phash_luma(&small, HashSize::Eight, pv).unwrap()
                }));
                t.push(cpu_median(repeat, || {
                    decode_reduced(&bytes, FAST_MIN_SIDE, &lim).expect("decode")
                }));
                let reduced = decode_reduced(&bytes, FAST_MIN_SIDE, &lim)
                    .unwrap()
                    .decoded
                    .image;
                t.push(cpu_median(repeat, || {
                    hasher.hash(&reduced, Profile::Pdqhash)
                }));
                for (s, v) in sums.iter_mut().zip(t) {
                    *s += v;
                }
            }
            let ms: Vec<f64> = sums.iter().map(|s| s * 1e3 / count as f64).collect();
            let exact: f64 = ms[..6].iter().sum();
            let fast = ms[0] + ms[9] + ms[10];
            println!(
                "| {w}x{h} {fmt} | {} | {exact:.2} | {fast:.2} |",
                ms.iter()
                    .map(|v| format!("{v:.2}"))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
        }
    }
    println!(
        "# ms of thread CPU per image, median of {repeat} runs, mean over {count} images per row"
    );
}

/// Fast-vs-exact agreement over a mixed corpus: JSON with per-image distances and a summary.
fn agree(mut args: impl Iterator<Item = String>) {
    let count: usize = args.next().map_or(300, |s| arg(Some(s)));
    let min_side: u32 = args.next().map_or(FAST_MIN_SIDE, |s| arg(Some(s)));
    let sizes: [(u32, u32); 10] = [
        (640, 480),
        (800, 600),
        (1024, 768),
        (1280, 720),
        (1600, 1200),
        (1080, 1920),
        (2048, 1536),
        (3000, 2000),
        (2400, 1080),
        (4000, 3000),
    ];
    let qualities = [50u8, 75, 90, 95];
    let algos = [Algorithm::Pdq, Algorithm::Phash];
    let exact = HashOptions::default();
    let fast = HashOptions {
        mode: HashMode::Fast,
        ..HashOptions::default()
    };
    let mut rows = Vec::new();
    for i in 0..count {
        let scene = Scene::ALL[i % Scene::ALL.len()];
        let (w, h) = sizes[(i / Scene::ALL.len() + i) % sizes.len()];
        let png = i % 6 == 5;
        let q = qualities[(i / 3) % qualities.len()];
        let img = generate(scene, w, h, 5000 + i as u64);
        let bytes = if png {
            encode_png(&img)
        } else {
            encode_jpeg(&img, q)
        };
        let e = hash_bytes(&bytes, &algos, &exact);
        let f = if min_side == FAST_MIN_SIDE {
            hash_bytes(&bytes, &algos, &fast)
        } else {
            let r = decode_reduced(&bytes, min_side, &Limits::default()).expect("decode");
            let mut f = hash_image(&r.decoded.image, &algos, &exact);
            f.hashed_dimensions =
                (r.scale > 1).then(|| (r.decoded.image.width(), r.decoded.image.height()));
            f
        };
        let d = |a: Algorithm| {
            e.digest(a)
                .and_then(|x| f.digest(a).and_then(|y| x.distance(&y)))
                .expect("both hashed")
        };
        rows.push(serde_json::json!({
            "scene": scene.name(), "size": format!("{w}x{h}"),
            "format": if png { "png".to_string() } else { format!("jpeg-q{q}") },
            "hashed": f.hashed_dimensions.map(|(a, b)| format!("{a}x{b}")),
            "quality_exact": e.pdq_quality, "quality_fast": f.pdq_quality,
            "pdq": d(Algorithm::Pdq), "phash": d(Algorithm::Phash),
        }));
        eprint!("\r{}/{count}", i + 1);
    }
    eprintln!();
    let summary = |filter: &dyn Fn(&serde_json::Value) -> bool, key: &str| {
        let mut v: Vec<u64> = rows
            .iter()
            .filter(|r| filter(r))
            .map(|r| r[key].as_u64().unwrap())
            .collect();
        v.sort_unstable();
        if v.is_empty() {
            return serde_json::json!(null);
        }
        let mean = v.iter().sum::<u64>() as f64 / v.len() as f64;
        // p99 as the nearest-rank percentile.
        let p99 = v[((v.len() as f64 * 0.99).ceil() as usize).clamp(1, v.len()) - 1];
        serde_json::json!({"n": v.len(), "mean": (mean * 100.0).round() / 100.0, "p99": p99, "max": v[v.len() - 1]})
    };
    let reduced = |r: &serde_json::Value| !r["hashed"].is_null();
    let reduced_good = |r: &serde_json::Value| {
        reduced(r) && r["quality_exact"].as_u64().unwrap_or(0) >= u64::from(pdq::MIN_QUALITY)
    };
    let all = |_: &serde_json::Value| true;
    let mut by_size = serde_json::Map::new();
    for (w, h) in sizes {
        let label = format!("{w}x{h}");
        let f = |r: &serde_json::Value| r["size"] == label.as_str();
        by_size.insert(
            label.clone(),
            serde_json::json!({"pdq": summary(&f, "pdq"), "phash": summary(&f, "phash")}),
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&serde_json::json!({
            "min_side": min_side,
            "images": rows.len(),
            "reduced": rows.iter().filter(|r| reduced(r)).count(),
            "all": {"pdq": summary(&all, "pdq"), "phash": summary(&all, "phash")},
            "reduced_only": {"pdq": summary(&reduced, "pdq"), "phash": summary(&reduced, "phash")},
            "reduced_quality_ge_50": {"pdq": summary(&reduced_good, "pdq"), "phash": summary(&reduced_good, "phash")},
            "by_size": by_size,
            "rows": rows,
        }))
        .expect("JSON")
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("gen") => gen(args),
        Some("time") => time(args),
        Some("profile") => profile(args),
        Some("agree") => agree(args),
        Some("probes") => probes(args),
        _ => usage(),
    }
}
