//! Times reading entries' metadata the way a search reports hits: `HashSet::entry` at random
//! entry numbers, on each set given (e.g. a version-1 set with an offset per entry against a
//! version-2 one that steps over up to 63 records from every 64th offset).
//!
//! ```text
//! entry_lookup SET... [--count N]
//! ```
//! Prints per set: format version, entries, ns per `entry` call (median of 5 passes over the
//! same N random entry numbers, after one warm-up pass), and a checksum of the ids and labels
//! read so the sets can be compared.

use std::time::Instant;

use nearmatch::hashset::HashSet;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut count = 1_000_000usize;
    if let Some(p) = args.iter().position(|a| a == "--count") {
        count = args[p + 1].parse().expect("--count N");
        args.drain(p..p + 2);
    }
    for path in &args {
        let set = HashSet::open(path).expect("open");
        let n = set.len();
        // A fixed xorshift sequence: the same entry numbers for every set of the same size.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let picks: Vec<usize> = (0..count)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % n as u64) as usize
            })
            .collect();
        let mut sum = 0u64;
        let pass = |sum: &mut u64| {
            let t = Instant::now();
            for &i in &picks {
                let e = set.entry(i).expect("entry");
                *sum = sum.wrapping_mul(31).wrapping_add(e.id.len() as u64);
                for l in &e.labels {
                    *sum = sum.wrapping_add(l.value.len() as u64);
                }
            }
            t.elapsed().as_nanos() as f64 / count as f64
        };
        pass(&mut sum);
        let mut times: Vec<f64> = (0..5)
            .map(|_| {
                let mut s = 0;
                let t = pass(&mut s);
                sum = s;
                t
            })
            .collect();
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "{path}: version {} entries {n} ns/entry {:.0} (min {:.0}, max {:.0}) checksum {sum:x}",
            set.format_version(),
            times[2],
            times[0],
            times[4]
        );
    }
}
