//! Benchmark driver for `benches/search_peers.py`: times one nearmatch search engine on the raw
//! files the script writes and prints one JSON object.
//!
//! ```text
//! search_bench DIR ENGINE RADIUS QUERIES REPEAT
//!   DIR/set.u64      packed digests, little-endian u64 words, 4 per 256-bit digest
//!   DIR/queries.u64  packed query digests (one probe per query)
//!   ENGINE           scan | mih
//!   QUERIES          how many of the queries to run (0 = all)
//! ```
//! It writes the (query, entry) pairs found to `DIR/nearmatch_<engine>.pairs` (u32 LE pairs).
//! For `mih` it times the index build (median of up to three, on one thread: wall and CPU
//! seconds; then on two threads), stores the tables as `DIR/mih_offsets.u32` /
//! `DIR/mih_ids.u32` and times re-opening them as a set file is opened: memory maps, then
//! `MihRef::from_parts` and the searcher (what `HashSet::searcher` does).

use nearmatch::search::{Engine, MihIndex, MihRef, Queries, Searcher};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

fn map(path: &Path) -> memmap2::Mmap {
    let f = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // SAFETY: the benchmark files are written once by the driver script before this runs and
    // are not modified while mapped.
    unsafe { memmap2::Mmap::map(&f) }.expect("mmap")
}

fn words(m: &memmap2::Mmap) -> &[u64] {
    bytemuck::try_cast_slice(&m[..]).expect("file is a whole number of aligned u64 words")
}

fn peak_rss_bytes() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// CPU seconds (user + system, all threads) used by this process so far: on a shared machine
/// this, not wall time, is the per-core cost.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 6 {
        eprintln!("usage: search_bench DIR scan|mih RADIUS QUERIES REPEAT");
        std::process::exit(64);
    }
    let dir = Path::new(&args[1]);
    let engine = match args[2].as_str() {
        "scan" => Engine::Scan,
        "mih" => Engine::Mih,
        other => panic!("unknown engine {other}"),
    };
    let r: u32 = args[3].parse().expect("radius");
    let qlimit: usize = args[4].parse().expect("queries");
    let repeat: usize = args[5].parse().expect("repeat");
    const W: usize = 4;

    let t = Instant::now();
    let set_map = map(&dir.join("set.u64"));
    let set = words(&set_map);
    let q_map = map(&dir.join("queries.u64"));
    let mut qwords = words(&q_map);
    if qlimit > 0 {
        qwords = &qwords[..(qlimit * W).min(qwords.len())];
    }
    let open_set_s = t.elapsed().as_secs_f64();
    let n = set.len() / W;

    let mut build_s = 0.0;
    let mut build_cpu_s = 0.0;
    let mut build_2t_s = 0.0;
    let mut open_index_s = 0.0;
    let mut index_bytes = 0usize;
    let mut params = None;
    let tables;
    if engine == Engine::Mih {
        // Build time: median of up to three builds on one thread (wall and CPU), then on two.
        let timed = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("thread pool");
            let (t, c) = (Instant::now(), cpu_seconds());
            let idx = pool.install(|| MihIndex::build_auto(set, W).expect("build"));
            (idx, t.elapsed().as_secs_f64(), cpu_seconds() - c)
        };
        let builds = repeat.clamp(1, 3);
        let (mut walls, mut cpus, mut walls2) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..builds {
            let (idx, w, c) = timed(1);
            drop(idx);
            walls.push(w);
            cpus.push(c);
        }
        for _ in 0..builds {
            let (idx, w, _) = timed(2);
            drop(idx);
            walls2.push(w);
        }
        build_s = median(&mut walls);
        build_cpu_s = median(&mut cpus);
        build_2t_s = median(&mut walls2);
        let idx = MihIndex::build_auto(set, W).expect("build");
        index_bytes = idx.table_bytes();
        params = Some(idx.params());
        std::fs::write(
            dir.join("mih_offsets.u32"),
            bytemuck::cast_slice::<u32, u8>(idx.offsets()),
        )
        .expect("write offsets");
        std::fs::write(
            dir.join("mih_ids.u32"),
            bytemuck::cast_slice::<u32, u8>(idx.ids()),
        )
        .expect("write ids");
        drop(idx);
        let t = Instant::now();
        let off_map = map(&dir.join("mih_offsets.u32"));
        let ids_map = map(&dir.join("mih_ids.u32"));
        tables = Some((off_map, ids_map));
        open_index_s = t.elapsed().as_secs_f64();
    } else {
        tables = None;
    }
    // What `HashSet::searcher` does on an open set: borrow the tables (an O(1) shape check).
    let t = Instant::now();
    let mut searcher = Searcher::new(set, W).expect("set");
    if let Some((o, i)) = &tables {
        let mih = MihRef::from_parts(
            params.expect("set"),
            bytemuck::cast_slice(&o[..]),
            bytemuck::cast_slice(&i[..]),
            n,
        )
        .expect("valid tables");
        searcher = searcher.with_index(mih).expect("index fits");
    }
    let searcher_s = t.elapsed().as_secs_f64();
    let queries = Queries::single(qwords, W).expect("queries");

    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    let mut result = Vec::new();
    for _ in 0..repeat.max(1) {
        let (t, c) = (Instant::now(), cpu_seconds());
        result = searcher.radius_search(&queries, r, engine).expect("search");
        times.push(t.elapsed().as_secs_f64());
        cpu_times.push(cpu_seconds() - c);
    }
    times.sort_by(f64::total_cmp);
    cpu_times.sort_by(f64::total_cmp);
    let wall = times[times.len() / 2];
    let median = cpu_times[cpu_times.len() / 2].max(1e-3);

    let mut pairs = Vec::with_capacity(result.len() * 8);
    for m in &result {
        pairs.extend_from_slice(&m.query.to_le_bytes());
        pairs.extend_from_slice(&m.entry.to_le_bytes());
    }
    let name = if engine == Engine::Mih { "mih" } else { "scan" };
    File::create(dir.join(format!("nearmatch_{name}.pairs")))
        .and_then(|mut f| f.write_all(&pairs))
        .expect("write pairs");

    let nq = queries.len();
    let json = serde_json::json!({
        "engine": name,
        "level": searcher.level().name(),
        "threads": rayon::current_num_threads(),
        "n": n,
        "queries": nq,
        "radius": r,
        "matches": result.len(),
        "search_s": median,
        "search_wall_s": wall,
        "search_cpu_s_all": cpu_times,
        "qps": nq as f64 / median,
        "comparisons_per_s": (nq as f64 * n as f64) / median,
        "build_s": build_s,
        "build_cpu_s": build_cpu_s,
        "build_2t_s": build_2t_s,
        "open_s": open_set_s + open_index_s + searcher_s,
        "searcher_s": searcher_s,
        "index_bytes": index_bytes,
        "raw_bytes": set.len() * 8,
        "params": params.map(|p| format!("{} chunks x {}-{} bits", p.chunks, p.width(p.chunks - 1), p.width(0))),
        "peak_rss_bytes": peak_rss_bytes(),
    });
    println!("{json}");
}
