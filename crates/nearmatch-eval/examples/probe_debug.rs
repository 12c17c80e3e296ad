//! Per-original view of one transform under one probe set: the plain distance, the closest
//! probe and its distance, so a probe strategy's misses can be inspected (dev tool).
//!
//! `cargo run --release -p nearmatch-eval --example probe_debug -- N TRANSFORM PROBES [RADIUS]`

use nearmatch::hash::pdq::{self, Profile};
use nearmatch::probe::{pdq_probes, ProbeConfig};
use nearmatch_eval::corpus::{originals, transform_seed};
use nearmatch_eval::transform;
use nearmatch_eval::Config;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args[1].parse().expect("N");
    let tr = transform::select(&args[2]).expect("transform");
    let cfg = ProbeConfig::parse(&args[3]).expect("probe spec");
    let radius: u32 = args.get(4).map_or(31, |r| r.parse().expect("radius"));
    let c = Config {
        n,
        ..Config::default()
    };
    let mut hits = 0;
    for spec in originals(&c) {
        let original = spec.generate_variant(0).expect("a synthetic original");
        let want = pdq::hash(&transform::to_image(original.clone()), Profile::Pdqhash).digest;
        let seed = transform_seed(&spec, 0);
        let out = transform::apply(tr[0].op, &original, seed).expect("transform");
        let probes = pdq_probes(&out.image, Profile::Pdqhash, &cfg);
        let plain = probes[0].digest.distance(&want);
        let best = probes
            .iter()
            .min_by_key(|p| p.digest.distance(&want))
            .expect("the plain probe");
        let d = best.digest.distance(&want);
        hits += usize::from(d <= radius);
        println!(
            "{:4} {:12} {}x{} plain {:3} best {:3} {:24} probes {:3}{}",
            spec.index,
            spec.scene.map_or("file", |s| s.name()),
            out.image.width(),
            out.image.height(),
            plain,
            d,
            best.name(),
            probes.len(),
            if d > radius { "  MISS" } else { "" }
        );
    }
    println!("hits {hits}/{n}");
}
