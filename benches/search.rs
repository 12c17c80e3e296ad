//! Criterion benches for the search engines on a small random 256-bit set (quick to run; the
//! peer comparison at 1M-10M entries is `benches/search_peers.py`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nearmatch::search::{Engine, MihIndex, Queries, Searcher};
use std::hint::black_box;

const N: usize = 200_000;
const Q: usize = 200;

/// Deterministic SplitMix64 words.
fn words(count: usize, seed: u64) -> Vec<u64> {
    let mut s = seed;
    (0..count)
        .map(|_| {
            s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let set = words(N * 4, 1);
    let mut qwords = words(Q * 4, 2);
    // Every tenth query is a copy of an entry with a few bits flipped, so there are matches.
    for i in (0..Q).step_by(10) {
        let e = (i * 7919) % N;
        qwords[i * 4..i * 4 + 4].copy_from_slice(&set[e * 4..e * 4 + 4]);
        qwords[i * 4] ^= (1u64 << (i % 32)) - 1;
    }
    let index = MihIndex::build_auto(&set, 4).unwrap();
    let searcher = Searcher::new(&set, 4)
        .unwrap()
        .with_index(index.view())
        .unwrap();
    let queries = Queries::single(&qwords, 4).unwrap();

    let mut g = c.benchmark_group("radius_search_256_r31");
    g.sample_size(10);
    g.throughput(Throughput::Elements(Q as u64));
    for (name, engine) in [("scan", Engine::Scan), ("mih", Engine::Mih)] {
        g.bench_function(BenchmarkId::new(name, N), |b| {
            b.iter(|| black_box(searcher.radius_search(&queries, 31, engine).unwrap()))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("knn_256");
    g.sample_size(10);
    g.throughput(Throughput::Elements(Q as u64));
    g.bench_function(BenchmarkId::new("k10", N), |b| {
        b.iter(|| black_box(searcher.knn(&queries, 10).unwrap()))
    });
    g.finish();

    let mut g = c.benchmark_group("mih_build_256");
    g.sample_size(10);
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function(BenchmarkId::new("auto", N), |b| {
        b.iter(|| black_box(MihIndex::build_auto(&set, 4).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
