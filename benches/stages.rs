//! Criterion benches of the hashing pipeline stage by stage (decode, colour conversion, PDQ tent
//! filter, DCT, imagehash resize, fast decode) on synthetic 640x480, 1024x768 and 4000x3000
//! images. The per-image breakdown table in one run is `bench_hash profile`
//! (crates/nearmatch/examples/bench_hash.rs); the peer comparison is `benches/pdq_peers.py`.
//!
//! `cargo bench --bench stages` (add `-- 1024x768` to run one size).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use nearmatch::decode::{decode, decode_reduced, Limits};
use nearmatch::hash::file::FAST_MIN_SIDE;
use nearmatch::hash::luma::pil_luma;
use nearmatch::hash::pdq::{stages, PdqHasher, Profile};
use nearmatch::hash::resample::{resize_lanczos, PillowVersion};
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let lim = Limits::default();
    for (w, h) in [(640u32, 480u32), (1024, 768), (4000, 3000)] {
        let label = format!("{w}x{h}");
        let img = generate(Scene::Landscape, w, h, 11);
        let jpg = encode_jpeg(&img, 90);
        let png = encode_png(&img);
        let image = decode(&jpg, &lim).unwrap().image;
        let mut g = c.benchmark_group(format!("stages/{label}"));
        g.sample_size(10);
        g.bench_function(BenchmarkId::new("decode", "jpeg"), |b| {
            b.iter(|| decode(black_box(&jpg), &lim).unwrap())
        });
        g.bench_function(BenchmarkId::new("decode", "png"), |b| {
            b.iter(|| decode(black_box(&png), &lim).unwrap())
        });
        g.bench_function(BenchmarkId::new("decode_fast", "jpeg"), |b| {
            b.iter(|| decode_reduced(black_box(&jpg), FAST_MIN_SIDE, &lim).unwrap())
        });
        g.bench_function(BenchmarkId::new("decode_fast", "png"), |b| {
            b.iter(|| decode_reduced(black_box(&png), FAST_MIN_SIDE, &lim).unwrap())
        });
        let mut luma = Vec::new();
        g.bench_function("pdq_luma_f64", |b| {
            b.iter(|| stages::luma(black_box(&image), Profile::Pdqhash, &mut luma))
        });
        let (lw, lh) = stages::luma(&image, Profile::Pdqhash, &mut luma);
        let mut hasher = PdqHasher::new();
        let mut work = luma.clone();
        // Includes one copy of the luma plane (the stage overwrites its input).
        g.bench_function("pdq_tent_decimate", |b| {
            b.iter(|| {
                work.copy_from_slice(&luma);
                stages::tent(&mut hasher, &mut work, lw, lh)
            })
        });
        work.copy_from_slice(&luma);
        let a = stages::tent(&mut hasher, &mut work, lw, lh);
        g.bench_function("pdq_dct", |b| b.iter(|| stages::dct(black_box(&a))));
        let coeffs = stages::dct(&a);
        g.bench_function("pdq_quality_bits", |b| {
            b.iter(|| {
                (
                    stages::quality(black_box(&a)),
                    stages::bits(black_box(&coeffs)),
                )
            })
        });
        g.bench_function("pil_luma", |b| b.iter(|| pil_luma(black_box(&image))));
        let l = pil_luma(&image);
        g.bench_function("lanczos_32x32", |b| {
            b.iter(|| {
                resize_lanczos(
                    black_box(&l),
                    w as usize,
                    h as usize,
                    32,
                    32,
                    PillowVersion::Pillow13,
                )
                .unwrap()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
