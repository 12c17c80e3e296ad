//! Times the multi-index engine alone on the files `search_bench` leaves behind, for A/B runs of
//! two builds of the library against the same tables (no index build, no file writes).
//!
//! ```text
//! mih_ab DIR RADIUS QUERIES REPEAT
//!   DIR/set.u64                        packed 256-bit digests (4 LE u64 words each)
//!   DIR/queries.u64                    packed query digests (one probe per query)
//!   DIR/mih_offsets.u32, mih_ids.u32   tables written by `search_bench DIR mih ...`
//!   QUERIES                            how many queries to run (0 = all)
//! ```
//! Prints one JSON line: the median over REPEAT searches of the process CPU time, queries per
//! CPU-second, and a fingerprint of the matches (count and an order-dependent hash) so two builds
//! can be checked to return the same result. Run it with `RAYON_NUM_THREADS=1`.

use nearmatch::search::{Engine, MihParams, MihRef, Queries, Searcher};
use std::fs::File;
use std::path::Path;
use std::time::Instant;

fn map(path: &Path) -> memmap2::Mmap {
    let f = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // SAFETY: the benchmark files are written once by the driver script before this runs and
    // are not modified while mapped.
    unsafe { memmap2::Mmap::map(&f) }.expect("mmap")
}

/// CPU seconds used by the process, all threads (CLOCK_PROCESS_CPUTIME_ID): the per-core cost.
/// The search runs on rayon's worker, not on this thread, so a thread clock would miss it.
fn cpu_seconds() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: mih_ab DIR RADIUS QUERIES REPEAT");
        std::process::exit(64);
    }
    let dir = Path::new(&args[1]);
    let r: u32 = args[2].parse().expect("radius");
    let qlimit: usize = args[3].parse().expect("queries");
    let repeat: usize = args[4].parse::<usize>().expect("repeat").max(1);
    const W: usize = 4;

    let set_map = map(&dir.join("set.u64"));
    let set: &[u64] = bytemuck::cast_slice(&set_map[..]);
    let q_map = map(&dir.join("queries.u64"));
    let mut qwords: &[u64] = bytemuck::cast_slice(&q_map[..]);
    if qlimit > 0 {
        qwords = &qwords[..(qlimit * W).min(qwords.len())];
    }
    let n = set.len() / W;
    let off_map = map(&dir.join("mih_offsets.u32"));
    let ids_map = map(&dir.join("mih_ids.u32"));
    let params = MihParams::auto(n, 256).expect("params");
    let mih = MihRef::from_parts(
        params,
        bytemuck::cast_slice(&off_map[..]),
        bytemuck::cast_slice(&ids_map[..]),
        n,
    )
    .expect("tables match the set");
    let searcher = Searcher::new(set, W)
        .expect("set")
        .with_index(mih)
        .expect("index fits");
    let queries = Queries::single(qwords, W).expect("queries");

    // One untimed pass warms the page cache mappings (first touch of every mapped page).
    let mut result = searcher
        .radius_search(&queries, r, Engine::Mih)
        .expect("search");
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    for _ in 0..repeat {
        let (t, c) = (Instant::now(), cpu_seconds());
        result = searcher
            .radius_search(&queries, r, Engine::Mih)
            .expect("search");
        cpu.push(cpu_seconds() - c);
        wall.push(t.elapsed().as_secs_f64());
    }
    let mut fingerprint = 0xcbf2_9ce4_8422_2325u64;
    for m in &result {
        for v in [m.query, m.entry, u32::from(m.distance)] {
            fingerprint = (fingerprint ^ u64::from(v)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (cpu_med, wall_med) = (med(&mut cpu), med(&mut wall));
    let json = serde_json::json!({
        "n": n,
        "queries": queries.len(),
        "radius": r,
        "matches": result.len(),
        "fingerprint": format!("{fingerprint:016x}"),
        "cpu_s_median": cpu_med,
        "wall_s_median": wall_med,
        "cpu_s_all": cpu,
        "qps_cpu": queries.len() as f64 / cpu_med,
    });
    println!("{json}");
}
