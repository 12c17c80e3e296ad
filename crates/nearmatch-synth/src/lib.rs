//! A deterministic generator of benign synthetic images for tests, the demo and the benchmarks.
//!
//! Seven kinds of scene ([`Scene::ALL`]): gradients, 1/f noise textures, dead-leaves clutter,
//! landscapes, indoor rooms, product shots and documents/screenshots. Nothing depicts people; no
//! photographs, fonts or other files are read: every pixel is computed from the seed.
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
        Scene::ALL
            .into_iter()
            .find(|sc| sc.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Scene::ALL.iter().map(|s| s.name()).collect();
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
