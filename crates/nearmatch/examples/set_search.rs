//! Benchmark driver for `benches/set_scale.py`: opens a built set file as `nearmatch match`
//! does, times its radius search on one thread and measures the physical limits (random and
//! sequential read rates) on the same mapped file; prints one JSON object.
//!
//! ```text
//! set_search SET QUERIES RADIUS REPEAT
//!   SET      a perceptual set file (`nearmatch set build`)
//!   QUERIES  packed query digests: native-endian u64 words in the set's word order
//! ```
//! It writes the hits to `QUERIES.hits` as records of (query u32, distance u32, the entry's
//! digest words), so the caller can check planted pairs by digest, not by entry number.
//!
//! The physical limits: a multi-index query reads a known number of lines (one offsets line per
//! probed bucket, one ids line per bucket, one digest line per candidate; from the layout's
//! expected counts). `random_bound_qps` is the random-line rate this core gets on the mapped
//! file (prefetched, as the search does) over those lines: what reading them in query order
//! reaches. `bandwidth_bound_qps` is the sequential read rate over the bytes of those lines:
//! no order of reads can beat it.

use std::fs::File;
use std::io::Write;
use std::time::Instant;

use nearmatch::hashset::HashSet;
use nearmatch::search::{Engine, Queries};

/// CPU seconds (user + system) used by this process so far.
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Random cache lines per CPU-second the mapped `words` serve with `ahead` reads in flight
/// (xorshift line indices, each prefetched `ahead` steps before it is read), and sequential
/// bytes per CPU-second over the same words.
fn memory_rates(words: &[u64], reads: usize, ahead: usize) -> (f64, f64) {
    // A power of two of lines, so an index is a mask, not a division.
    let lines = (words.len() / 8).max(2).next_power_of_two() / 2;
    let mut ring = vec![0usize; ahead + 1];
    let mut z = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        z ^= z << 13;
        z ^= z >> 7;
        z ^= z << 17;
        (z as usize & (lines - 1)) * 8
    };
    for slot in ring.iter_mut() {
        *slot = next();
    }
    let mut sum = 0u64;
    let (t, c) = (Instant::now(), cpu_seconds());
    for i in 0..reads {
        let slot = i % (ahead + 1);
        let at = ring[slot];
        let fresh = next();
        ring[slot] = fresh;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: PREFETCHT0 is a hint that never faults, on any address; SSE is baseline on
        // x86-64.
        unsafe {
            core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
                words.as_ptr().wrapping_add(fresh).cast(),
            );
        }
        sum = sum.wrapping_add(words[at]);
    }
    let random = reads as f64
        / (cpu_seconds() - c)
            .max(t.elapsed().as_secs_f64() * 0.5)
            .max(1e-6);
    let span = &words[..(lines * 8).min(words.len())];
    let (t, c) = (Instant::now(), cpu_seconds());
    for _ in 0..2 {
        sum = sum.wrapping_add(span.iter().fold(0u64, |a, &w| a ^ w));
    }
    let seq = (16 * span.len()) as f64
        / (cpu_seconds() - c)
            .max(t.elapsed().as_secs_f64() * 0.5)
            .max(1e-6);
    std::hint::black_box(sum);
    (random, seq)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: set_search SET QUERIES RADIUS REPEAT");
        std::process::exit(64);
    }
    let r: u32 = args[3].parse()?;
    let repeat: usize = args[4].parse()?;
    let qbytes = std::fs::read(&args[2])?;
    let qwords: Vec<u64> = qbytes
        .chunks_exact(8)
        .map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))
        .collect();

    // Open as `nearmatch match` does: map, check the header and sections, borrow the index.
    let t = Instant::now();
    let set = HashSet::open(&args[1])?;
    let searcher = set.searcher()?;
    let open_s = t.elapsed().as_secs_f64();
    let w = set.words_per_digest();
    let queries = Queries::single(&qwords, w)?;

    // A first pass warms the page cache (reported separately), then the timed passes.
    let t = Instant::now();
    searcher.radius_search(&queries, r, Engine::Auto)?;
    let first_s = t.elapsed().as_secs_f64();
    let (mut cpu, mut wall) = (Vec::new(), Vec::new());
    let mut result = Vec::new();
    for _ in 0..repeat.max(1) {
        let (t, c) = (Instant::now(), cpu_seconds());
        result = searcher.radius_search(&queries, r, Engine::Auto)?;
        wall.push(t.elapsed().as_secs_f64());
        cpu.push(cpu_seconds() - c);
    }
    let cpu_s = median(&mut cpu).max(1e-3);
    let wall_s = median(&mut wall);

    let mut out = Vec::with_capacity(result.len() * (8 + 8 * w));
    for m in &result {
        out.extend_from_slice(&m.query.to_le_bytes());
        out.extend_from_slice(&u32::from(m.distance).to_le_bytes());
        for word in set.digest_words(m.entry as usize).expect("hit is an entry") {
            out.extend_from_slice(&word.to_ne_bytes());
        }
    }
    File::create(format!("{}.hits", args[2]))?.write_all(&out)?;

    let nq = queries.len();
    let engine = searcher.choose(r);
    let (params, probes, candidates) = match searcher.index() {
        Some(mih) => {
            let p = mih.params();
            (
                Some(format!(
                    "{} x {}-{} bits",
                    p.chunks,
                    p.width(p.chunks - 1),
                    p.width(0)
                )),
                p.probes_per_query(r),
                p.expected_candidates(set.len(), r),
            )
        }
        None => (None, 0.0, set.len() as f64),
    };
    // Lines per query: offsets of each probed bucket, ids of each (at most one line for the
    // few ids a bucket holds), the digest of each candidate.
    let lines_per_query = 2.0 * probes + candidates;
    let (lines_per_s, bytes_per_s) = memory_rates(set.words(), 20_000_000, 32);
    let json = serde_json::json!({
        "n": set.len(),
        "file_bytes": set.file_len(),
        "queries": nq,
        "radius": r,
        "engine": format!("{engine:?}"),
        "params": params,
        "matches": result.len(),
        "open_s": open_s,
        "first_pass_s": first_s,
        "search_cpu_s": cpu_s,
        "search_wall_s": wall_s,
        "qps": nq as f64 / cpu_s,
        "probes_per_query": probes,
        "expected_candidates": candidates,
        "lines_per_query": lines_per_query,
        "random_lines_per_s": lines_per_s,
        "sequential_bytes_per_s": bytes_per_s,
        "random_bound_qps": lines_per_s / lines_per_query.max(1.0),
        "bandwidth_bound_qps": bytes_per_s / (64.0 * lines_per_query.max(1.0)),
    });
    println!("{json}");
    Ok(())
}
