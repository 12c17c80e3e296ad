//! Exact-lookup rate of a crypto hash set (`HashSet::lookup_exact`), as a scan does it: one
//! binary search per file digest in the memory-mapped set.
//!
//! `cargo run --release -p nearmatch --example exact_lookup -- SET QUERIES [PASSES]`
//!
//! QUERIES holds one hex digest per line. Prints the queries found, and nanoseconds per lookup
//! over PASSES passes (default 5): the median pass and the first (the cold one, when the set is
//! not yet in the page cache).

use std::time::Instant;

use nearmatch::hashset::HashSet;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err("usage: exact_lookup SET QUERIES [PASSES]".into());
    }
    let passes: usize = args.get(3).map_or(Ok(5), |s| s.parse())?;
    let set = HashSet::open(&args[1])?;
    let queries: Vec<Vec<u8>> = std::fs::read_to_string(&args[2])?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| hex::decode(l.trim()))
        .collect::<Result<_, _>>()?;
    let mut per_pass = Vec::new();
    let mut found = 0;
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        found = 0;
        for q in &queries {
            found += !set.lookup_exact(q).is_empty() as usize;
        }
        per_pass.push(t.elapsed().as_nanos() as f64 / queries.len().max(1) as f64);
    }
    let first = per_pass[0];
    per_pass.sort_by(f64::total_cmp);
    println!(
        "{} entries, {} queries, {found} found, {:.0} ns/lookup (median of {} passes; first {:.0})",
        set.len(),
        queries.len(),
        per_pass[per_pass.len() / 2],
        per_pass.len(),
        first
    );
    Ok(())
}
