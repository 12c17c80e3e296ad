//! Writes a few generated images as PNG for a visual check: `synth_gallery OUTDIR [SIZE] [N]`.
use nearmatch::synth::{encode_png, generate, generate_variant, Scene};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(1).map(String::as_str).unwrap_or("/tmp/synth"));
    let size: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(256);
    let n: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(4);
    std::fs::create_dir_all(&out).unwrap();
    let t = std::time::Instant::now();
    for scene in Scene::ALL {
        for seed in 0..n {
            let img = generate(scene, size, size * 3 / 4, seed);
            std::fs::write(out.join(format!("{scene}-{seed}.png")), encode_png(&img)).unwrap();
        }
        let v = generate_variant(scene, size, size * 3 / 4, 0, 1);
        std::fs::write(out.join(format!("{scene}-0-v1.png")), encode_png(&v)).unwrap();
    }
    eprintln!("{:?}", t.elapsed());
}
