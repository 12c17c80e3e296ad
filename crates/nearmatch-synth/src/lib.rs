//! A deterministic generator of benign synthetic images for tests, the demo and the benchmarks.
//!
//! Seven kinds of scene ([`Scene::ALL`]): gradients, 1/f noise textures, dead-leaves clutter,
//! landscapes, indoor rooms, product shots and documents/screenshots; and a photo-like scene
//! ([`Scene::Photo`], calibrated so PDQ behaves on it as on photographs). Nothing depicts people;
//! no photographs, fonts or other files are read: every pixel is computed from the seed.
//!
//! Determinism: the same `(scene, width, height, seed, variant)` always gives the same bytes, on
//! every platform. The generator has its own PRNG (SplitMix64) and value noise on integer
//! hashes, and uses only IEEE-754 basic operations (`+ - * /`, `sqrt`, which are correctly
//! rounded everywhere) — no `sin`, `exp` or `pow`, whose results vary between libm builds.
//!
//! A crate of its own so that the core library carries no generator: the other crates use it as a
//! dev-dependency, `nearmatch-eval` as a dependency (it generates its corpus at run time).
//! It builds on `nearmatch` and returns its [`nearmatch::Image`], so every caller hashes generated
//! pictures as they are, and only the core's own unit tests (a second copy of `nearmatch`, whose
//! `Image` is another type) copy generated pixels into their `Image`, the core tests that encode
//! pictures being integration tests (`crates/nearmatch/tests/encoded.rs`) instead.
//!
//! ```
//! use nearmatch_synth::{generate, generate_variant, Scene};
//! let a = generate(Scene::Landscape, 64, 48, 7);
//! assert_eq!(a, generate(Scene::Landscape, 64, 48, 7));
//! assert_eq!((a.width(), a.height()), (64, 48));
//! // Same background and object positions, different objects:
//! let b = generate_variant(Scene::Landscape, 64, 48, 7, 1);
//! assert_ne!(a, b);
//! let png = nearmatch_synth::encode_png(&a);
//! assert_eq!(&png[1..4], b"PNG");
//! ```

mod canvas;
mod encode;
pub mod fixtures;
mod font;
mod noise;
mod photo;
mod rng;
mod scenes;

use std::fmt;
use std::str::FromStr;

use nearmatch::pixels::{Image, Layout};
use nearmatch::Error;

pub use encode::{encode_jpeg, encode_jpeg_with, encode_png, Subsampling};

/// The generator's output version: raised whenever [`generate_variant`] output changes (the
/// pinned digest in the tests guards it), so stored benchmark results name the pixels they used.
pub const GENERATOR_VERSION: u32 = 1;

/// A kind of synthetic scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scene {
    /// Linear, radial or four-corner multi-stop gradients (often smooth: PDQ quality < 50).
    Gradient,
    /// 1/f value-noise textures: clouds, marble, wood, granite.
    Noise,
    /// Dead-leaves clutter of overlapping circles, rectangles and triangles.
    DeadLeaves,
    /// Sky, sun, layered ridges, trees, houses and rocks.
    Landscape,
    /// Rooms in perspective: floor, walls, window or picture, furniture.
    Indoor,
    /// Simple objects on a plain or gradient backdrop with soft shadows.
    Product,
    /// Text pages and application screenshots drawn with a built-in bitmap font.
    Document,
    /// Photo-like pictures (outdoor, close-up, dim) with the statistics that make PDQ behave on
    /// them as on photographs: 1/f spectra from scale-free occlusion, soft and hard edges,
    /// content meeting the frame, camera noise. Not in [`Scene::ALL`]: the calibrated corpus
    /// of `nearmatch eval --corpus photo` (issue #24).
    Photo,
}

impl Scene {
    /// Every scene, in a fixed order.
    pub const ALL: [Scene; 7] = [
        Scene::Gradient,
        Scene::Noise,
        Scene::DeadLeaves,
        Scene::Landscape,
        Scene::Indoor,
        Scene::Product,
        Scene::Document,
    ];

    /// The scene's name (`gradient`, `noise`, `dead-leaves`, …), as parsed by `FromStr`.
    pub fn name(self) -> &'static str {
        match self {
            Scene::Gradient => "gradient",
            Scene::Noise => "noise",
            Scene::DeadLeaves => "dead-leaves",
            Scene::Landscape => "landscape",
            Scene::Indoor => "indoor",
            Scene::Product => "product",
            Scene::Document => "document",
            Scene::Photo => "photo",
        }
    }

    /// A per-scene constant mixed into the seed, so scenes with one seed are unrelated.
    fn tag(self) -> u64 {
        0x5CE0_0000 + self as u64
    }
}

impl fmt::Display for Scene {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Scene {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        // The classic scenes and the photo-like one.
        let known = || Scene::ALL.into_iter().chain([Scene::Photo]);
        known().find(|sc| sc.name() == s).ok_or_else(|| {
            let names: Vec<&str> = known().map(|s| s.name()).collect();
            Error::InvalidArgument(format!(
                "unknown scene {s:?} (expected one of {})",
                names.join(", ")
            ))
        })
    }
}

/// Generates an RGB8 image of `scene` from `seed`; identical bytes for identical arguments.
///
/// Equal to `generate_variant(scene, width, height, seed, 0)`. Memory is `3 * width * height`
/// bytes; a zero width or height gives an empty image.
pub fn generate(scene: Scene, width: u32, height: u32, seed: u64) -> Image {
    generate_variant(scene, width, height, seed, 0)
}

/// Generates variant `variant` of a seed's image: the background and the positions of the
/// foreground objects come from `seed`, the objects themselves from `(seed, variant)`.
///
/// Variants of one seed are "same place, different object" hard negatives. Variant 0 is
/// [`generate`]; every other variant draws at least one foreground object.
pub fn generate_variant(scene: Scene, width: u32, height: u32, seed: u64, variant: u32) -> Image {
    let (w, h) = (width as usize, height as usize);
    let mut canvas = canvas::Canvas::new(w, h);
    if w > 0 && h > 0 {
        let base = rng::mix64(seed ^ rng::mix64(scene.tag()));
        let mut ctx = scenes::Ctx {
            bg: rng::Rng::new(base),
            fg: rng::Rng::new(rng::mix64(
                base ^ rng::mix64(0xF0F0_0000_0000 + u64::from(variant)),
            )),
            forced: variant != 0,
        };
        match scene {
            Scene::Gradient => scenes::gradient(&mut canvas, &mut ctx),
            Scene::Noise => scenes::noise(&mut canvas, &mut ctx),
            Scene::DeadLeaves => scenes::dead_leaves(&mut canvas, &mut ctx),
            Scene::Landscape => scenes::landscape(&mut canvas, &mut ctx),
            Scene::Indoor => scenes::indoor(&mut canvas, &mut ctx),
            Scene::Product => scenes::product(&mut canvas, &mut ctx),
            Scene::Document => scenes::document(&mut canvas, &mut ctx),
            Scene::Photo => photo::photo(&mut canvas, &mut ctx),
        }
    }
    Image::new(width, height, Layout::Rgb8(canvas.px))
        .expect("the canvas holds exactly width * height * 3 samples")
}

/// The 5x7 bitmap font's coverage of `text` at `scale` pixels per font pixel: `(width, height,
/// mask)`, the mask one byte (0 or 1) per pixel, row-major.
///
/// The generator's own font, for stamping captions and watermarks onto images made elsewhere.
/// Covers capitals, digits, space and `. , : - /`; other characters leave a blank cell.
///
/// ```
/// let (w, h, mask) = nearmatch_synth::text_mask("HI", 1);
/// assert_eq!((w, h), (11, 7));
/// assert_eq!(mask.len(), w * h);
/// ```
pub fn text_mask(text: &str, scale: usize) -> (usize, usize, Vec<u8>) {
    font::text_mask(text.as_bytes(), scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(img: &Image) -> &[u8] {
        match img.layout() {
            Layout::Rgb8(v) => v,
            other => panic!("expected RGB8, got {other:?}"),
        }
    }

    #[test]
    fn same_seed_same_bytes_different_seed_different_bytes() {
        for scene in Scene::ALL {
            let a = generate(scene, 67, 45, 11);
            let b = generate(scene, 67, 45, 11);
            assert_eq!(a, b, "{scene}");
            let c = generate(scene, 67, 45, 12);
            assert_ne!(a, c, "{scene}: seeds 11 and 12 gave identical images");
        }
    }

    #[test]
    fn scenes_differ_from_each_other_for_one_seed() {
        let imgs: Vec<Image> = Scene::ALL.iter().map(|&s| generate(s, 40, 30, 5)).collect();
        for i in 0..imgs.len() {
            for j in i + 1..imgs.len() {
                assert_ne!(imgs[i], imgs[j]);
            }
        }
    }

    #[test]
    fn tiny_and_odd_sizes_do_not_panic() {
        for scene in Scene::ALL {
            for &(w, h) in &[
                (1, 1),
                (5, 5),
                (1, 9),
                (9, 1),
                (2, 3),
                (7, 5),
                (63, 65),
                (0, 0),
                (0, 4),
                (3, 0),
            ] {
                for seed in 0..4 {
                    let img = generate_variant(scene, w, h, seed, seed as u32 % 2);
                    assert_eq!((img.width(), img.height()), (w, h));
                    assert_eq!(bytes(&img).len(), (w * h * 3) as usize);
                }
            }
        }
    }

    #[test]
    fn images_use_a_real_range_of_values() {
        // Every scene at a normal size is neither blank nor a single colour (except by design
        // for rare flat gradients, which seed 1 is not) and spans a visible range.
        for scene in Scene::ALL {
            let img = generate(scene, 96, 80, 1);
            let b = bytes(&img);
            let (lo, hi) = (b.iter().min().unwrap(), b.iter().max().unwrap());
            assert!(hi - lo >= 40, "{scene}: range {lo}..{hi}");
            let distinct: std::collections::BTreeSet<[u8; 3]> =
                b.chunks_exact(3).map(|p| [p[0], p[1], p[2]]).collect();
            assert!(distinct.len() >= 8, "{scene}: {} colours", distinct.len());
        }
    }

    #[test]
    fn variants_keep_most_of_the_background() {
        for scene in Scene::ALL {
            for seed in 0..3 {
                let a = generate_variant(scene, 128, 96, seed, 0);
                let b = generate_variant(scene, 128, 96, seed, 1);
                let c = generate_variant(scene, 128, 96, seed, 2);
                assert_ne!(a, b, "{scene} seed {seed}");
                assert_ne!(b, c, "{scene} seed {seed}");
                let (pa, pb) = (bytes(&a), bytes(&b));
                let same = pa
                    .chunks_exact(3)
                    .zip(pb.chunks_exact(3))
                    .filter(|(x, y)| x == y)
                    .count();
                // Documents change all their text; other scenes keep most pixels.
                let min = if scene == Scene::Document { 0.3 } else { 0.4 };
                assert!(
                    same as f64 >= min * (128.0 * 96.0),
                    "{scene} seed {seed}: {same} equal pixels"
                );
            }
        }
    }

    #[test]
    fn scene_names_round_trip() {
        for scene in Scene::ALL {
            assert_eq!(scene.name().parse::<Scene>().unwrap(), scene);
            assert_eq!(scene.to_string(), scene.name());
        }
        assert!("people".parse::<Scene>().is_err());
    }

    /// The radially averaged power spectrum's log-log slope of the luma of `img` (a square
    /// power-of-two side is not needed: a plain separable DFT), fitted over `lo..=hi` cycles per
    /// picture.
    fn spectrum_slope(img: &Image, lo: usize, hi: usize) -> f64 {
        let (w, h) = (img.width() as usize, img.height() as usize);
        let b = bytes(img);
        let mut luma: Vec<f64> = b
            .chunks_exact(3)
            .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
            .collect();
        let mean = luma.iter().sum::<f64>() / luma.len() as f64;
        // A Hann window, so the frame's edges do not add a 1/f² cross of their own.
        for y in 0..h {
            for x in 0..w {
                let hx = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * x as f64 / w as f64).cos();
                let hy = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * y as f64 / h as f64).cos();
                luma[y * w + x] = (luma[y * w + x] - mean) * hx * hy;
            }
        }
        let dft = |n: usize, k: usize, j: usize| {
            let a = -2.0 * std::f64::consts::PI * (k * j % n) as f64 / n as f64;
            (a.cos(), a.sin())
        };
        // Rows, then columns.
        let mut re = vec![0.0; w * h];
        let mut im = vec![0.0; w * h];
        for y in 0..h {
            for k in 0..w {
                let (mut sr, mut si) = (0.0, 0.0);
                for x in 0..w {
                    let (c, s) = dft(w, k, x);
                    sr += luma[y * w + x] * c;
                    si += luma[y * w + x] * s;
                }
                re[y * w + k] = sr;
                im[y * w + k] = si;
            }
        }
        let mut power = vec![0.0; hi + 1];
        let mut count = vec![0u32; hi + 1];
        for k in 0..h {
            for x in 0..w {
                let (mut sr, mut si) = (0.0, 0.0);
                for y in 0..h {
                    let (c, s) = dft(h, k, y);
                    sr += re[y * w + x] * c - im[y * w + x] * s;
                    si += re[y * w + x] * s + im[y * w + x] * c;
                }
                let fx = x.min(w - x) as f64;
                let fy = k.min(h - k) as f64;
                let f = (fx * fx + fy * fy).sqrt().round() as usize;
                if (lo..=hi).contains(&f) {
                    power[f] += sr * sr + si * si;
                    count[f] += 1;
                }
            }
        }
        let pts: Vec<(f64, f64)> = (lo..=hi)
            .filter(|&f| count[f] > 0 && power[f] > 0.0)
            .map(|f| ((f as f64).ln(), (power[f] / f64::from(count[f])).ln()))
            .collect();
        let n = pts.len() as f64;
        let (mx, my) = (
            pts.iter().map(|p| p.0).sum::<f64>() / n,
            pts.iter().map(|p| p.1).sum::<f64>() / n,
        );
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
        sxy / sxx
    }

    #[test]
    fn photo_like_pictures_have_a_power_spectrum_in_the_range_of_photographs() {
        // Over the band PDQ sees (its 16x16 DCT of a 64x64 reduction: up to 8 cycles per
        // picture, here 2-16), photographs' power falls as 1/f^a with a from about 1.6 to 3
        // (van der Schaaf & van Hateren 1996: mean 1.88, sd 0.43). The median over pictures
        // must be in that range; none may be as flat as noise (a < 1) or fall as fast as a
        // bare gradient (a > 4.5; the classic gradient scene reaches 5.4).
        let mut slopes: Vec<f64> = (0..16)
            .map(|seed| spectrum_slope(&generate(Scene::Photo, 128, 128, seed), 2, 16))
            .collect();
        slopes.sort_by(f64::total_cmp);
        let median = slopes[slopes.len() / 2];
        eprintln!("photo-like spectrum slopes (2-16 cycles): median {median:.2}, {slopes:.2?}");
        assert!(
            (-3.1..=-1.6).contains(&median),
            "median slope {median}: {slopes:?}"
        );
        assert!(
            slopes[0] > -4.5 && slopes[slopes.len() - 1] < -1.0,
            "{slopes:?}"
        );
        // The estimator itself: white noise is flat.
        let mut rng = rng::Rng::new(9);
        let noise: Vec<u8> = (0..128 * 128 * 3).map(|_| rng.below(256) as u8).collect();
        let flat = spectrum_slope(&Image::new(128, 128, Layout::Rgb8(noise)).unwrap(), 2, 16);
        assert!(flat.abs() < 0.3, "white noise slope {flat}");
    }

    #[test]
    fn photo_like_pictures_are_deterministic_and_vary() {
        let a = generate(Scene::Photo, 80, 60, 3);
        assert_eq!(a, generate(Scene::Photo, 80, 60, 3));
        assert_ne!(a, generate(Scene::Photo, 80, 60, 4));
        for &(w, h) in &[(1, 1), (2, 3), (9, 1), (0, 5), (63, 65)] {
            let img = generate_variant(Scene::Photo, w, h, 5, 1);
            assert_eq!(bytes(&img).len(), (w * h * 3) as usize);
        }
        // Variants keep the background: same place, other subject.
        let (b, c) = (
            generate_variant(Scene::Photo, 128, 96, 8, 0),
            generate_variant(Scene::Photo, 128, 96, 8, 1),
        );
        assert_ne!(b, c);
        let same = bytes(&b)
            .chunks_exact(3)
            .zip(bytes(&c).chunks_exact(3))
            .filter(|(x, y)| x == y)
            .count();
        assert!(same as f64 >= 0.4 * 128.0 * 96.0, "{same} equal pixels");
        assert_eq!("photo".parse::<Scene>().unwrap(), Scene::Photo);
        assert!(!Scene::ALL.contains(&Scene::Photo));
    }

    #[test]
    fn output_is_pinned() {
        // Guards against accidental changes of the generator: fixtures, demo sets and reference
        // hashes in the repository depend on these bytes. If a change is intended, regenerate the
        // fixtures (see fixtures/README.md) and update these digests.
        use sha2::{Digest, Sha256};
        let mut all = Sha256::new();
        for scene in Scene::ALL {
            all.update(bytes(&generate(scene, 33, 21, 99)));
        }
        let got = hex::encode(all.finalize());
        assert_eq!(got, PINNED_DIGEST);
    }

    const PINNED_DIGEST: &str = "71a6c1abaead0a936d1d2c9b106390a8a6f91e920ddfef3d3c4ca097b9c6ba92";
}
