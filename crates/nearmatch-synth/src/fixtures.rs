//! The reference-fixture catalogue: every image whose peer hashes (Meta's PDQ via `pdqhash`,
//! Python `imagehash` under Pillow 12 and 13) are stored in `fixtures/*.csv`.
//!
//! The list and the bytes of each file are a pure function of this code, so tests regenerate the
//! large, uncommitted fixtures on demand and check the committed ones byte for byte.
//! `cargo run -p nearmatch-synth --release --example gen_fixtures -- fixtures` writes them all.
//!
//! ```
//! use nearmatch_synth::fixtures::{specs, render};
//! let all = specs();
//! assert!(all.len() >= 120);
//! let f = all.iter().find(|f| f.name == "flat-808080-64x64").unwrap();
//! assert_eq!(&render(f)[1..4], b"PNG");
//! ```

use super::encode::{encode_jpeg_with, Subsampling};
use super::rng::{hash2, unit};
use super::{generate_variant, Scene};
use nearmatch::pixels::{Image, Layout};

/// Where a fixture's pixels come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A generated scene.
    Scene {
        /// The scene kind.
        scene: Scene,
        /// Its seed.
        seed: u64,
        /// Its variant (0 = the plain scene).
        variant: u32,
    },
    /// One colour everywhere (PDQ quality 0; ties decide the imagehash bits).
    Flat([u8; 3]),
    /// A smooth two-colour ramp, horizontal (`vertical == false`) or vertical, without noise.
    Ramp {
        /// Colour at the left or top edge.
        from: [u8; 3],
        /// Colour at the right or bottom edge.
        to: [u8; 3],
        /// Direction of the ramp.
        vertical: bool,
    },
}

impl Source {
    /// The manifest's `scene` column: the scene name, `flat` or `ramp`.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Scene { scene, .. } => scene.name(),
            Source::Flat(_) => "flat",
            Source::Ramp { .. } => "ramp",
        }
    }
}

/// The pixel format a fixture file stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// 8-bit RGB.
    Rgb,
    /// 8-bit RGB plus an alpha channel with fully transparent areas (never composited).
    Rgba,
    /// 8-bit grey.
    Gray,
    /// 8-bit grey plus alpha.
    GrayAlpha,
    /// 8-bit palette (a 6x7x6 colour cube).
    Palette,
    /// 8-bit palette with a tRNS chunk making some entries transparent.
    PaletteTrns,
    /// 16-bit grey: high byte is the grey value, low byte noise.
    Gray16,
    /// 16-bit grey with values below 256 only (dark to the high byte, bright to Pillow's clip).
    Gray16Low,
    /// 16-bit RGB with each sample `v * 257` (every 16-to-8-bit reduction gives back `v`).
    Rgb16,
    /// 16-bit RGBA, samples `v * 257`.
    Rgba16,
}

impl Mode {
    /// The manifest name of the mode.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Rgb => "rgb",
            Mode::Rgba => "rgba",
            Mode::Gray => "gray",
            Mode::GrayAlpha => "gray-alpha",
            Mode::Palette => "palette",
            Mode::PaletteTrns => "palette-trns",
            Mode::Gray16 => "gray16",
            Mode::Gray16Low => "gray16-low",
            Mode::Rgb16 => "rgb16",
            Mode::Rgba16 => "rgba16",
        }
    }
}

/// The file format of a fixture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PNG (lossless).
    Png,
    /// Baseline JPEG at a quality with a chroma subsampling (grey JPEGs for grey modes).
    Jpeg {
        /// Quality, 1–100.
        quality: u8,
        /// Chroma subsampling.
        subsampling: Subsampling,
    },
}

/// One fixture: what to generate and how to store it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureSpec {
    /// Unique name, also the file stem.
    pub name: String,
    /// Where the pixels come from.
    pub source: Source,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Stored pixel format.
    pub mode: Mode,
    /// File format.
    pub format: Format,
    /// True if the file is committed under `fixtures/images/`; false for large files that are
    /// regenerated (into `target/fixtures-large/` by the example, or in memory by tests).
    pub committed: bool,
}

impl FixtureSpec {
    /// The file name: the name plus `.png` or `.jpg`.
    pub fn file_name(&self) -> String {
        match self.format {
            Format::Png => format!("{}.png", self.name),
            Format::Jpeg { .. } => format!("{}.jpg", self.name),
        }
    }

    /// The generated RGB pixels before mode conversion and encoding.
    pub fn rgb(&self) -> Image {
        let (w, h) = (self.width, self.height);
        match self.source {
            Source::Scene {
                scene,
                seed,
                variant,
            } => generate_variant(scene, w, h, seed, variant),
            Source::Flat(c) => {
                let px = c
                    .iter()
                    .copied()
                    .cycle()
                    .take(w as usize * h as usize * 3)
                    .collect();
                Image::new(w, h, Layout::Rgb8(px)).expect("flat buffer has the right length")
            }
            Source::Ramp { from, to, vertical } => {
                let mut px = Vec::with_capacity(w as usize * h as usize * 3);
                let n = if vertical { h } else { w };
                for y in 0..h {
                    for x in 0..w {
                        let i = if vertical { y } else { x };
                        for k in 0..3 {
                            let (a, b) = (i64::from(from[k]), i64::from(to[k]));
                            // Integer interpolation rounded half up: exact and platform-free.
                            // The numerator is 2d times a value in [0, 255], so never negative.
                            let d = i64::from(n.max(2) - 1);
                            let num = 2 * d * a + 2 * i64::from(i) * (b - a) + d;
                            px.push((num / (2 * d)) as u8);
                        }
                    }
                }
                Image::new(w, h, Layout::Rgb8(px)).expect("ramp buffer has the right length")
            }
        }
    }
}

/// Writes `name` into the list with a running index so every name is unique.
struct Builder(Vec<FixtureSpec>);

impl Builder {
    fn add(
        &mut self,
        source: Source,
        (width, height): (u32, u32),
        mode: Mode,
        format: Format,
        committed: bool,
    ) {
        let what = match source {
            Source::Scene {
                scene,
                seed,
                variant: 0,
            } => format!("{}-s{seed}", scene.name()),
            Source::Scene {
                scene,
                seed,
                variant,
            } => format!("{}-s{seed}v{variant}", scene.name()),
            Source::Flat(c) => format!("flat-{:02x}{:02x}{:02x}", c[0], c[1], c[2]),
            Source::Ramp { from, to, vertical } => format!(
                "ramp{}-{:02x}{:02x}{:02x}-{:02x}{:02x}{:02x}",
                if vertical { "v" } else { "h" },
                from[0],
                from[1],
                from[2],
                to[0],
                to[1],
                to[2]
            ),
        };
        let mut name = format!("{what}-{width}x{height}");
        if mode != Mode::Rgb {
            name.push('-');
            name.push_str(mode.name());
        }
        if let Format::Jpeg {
            quality,
            subsampling,
        } = format
        {
            name.push_str(&format!("-q{quality}"));
            if subsampling != Subsampling::S420 {
                name.push_str(match subsampling {
                    Subsampling::S444 => "-444",
                    _ => "-422",
                });
            }
        }
        self.0.push(FixtureSpec {
            name,
            source,
            width,
            height,
            mode,
            format,
            committed,
        });
    }
}

fn sc(scene: Scene, seed: u64) -> Source {
    Source::Scene {
        scene,
        seed,
        variant: 0,
    }
}

const PNG: Format = Format::Png;

fn jpeg(quality: u8) -> Format {
    Format::Jpeg {
        quality,
        subsampling: Subsampling::S420,
    }
}

/// Every fixture, in a fixed order (the manifest's order).
pub fn specs() -> Vec<FixtureSpec> {
    use Scene::*;
    let mut b = Builder(Vec::new());
    let all = Scene::ALL;
    // 1. Every scene at four small sizes: square, odd both ways, landscape, portrait.
    let mut seed = 0;
    for &size in &[(64, 64), (127, 129), (200, 150), (96, 160)] {
        for &scene in &all {
            b.add(sc(scene, seed), size, Mode::Rgb, PNG, true);
            seed += 1;
        }
    }
    // 2. Edge sizes around PDQ's minimum (5), imagehash's resize targets (8, 9x8, 32, 64) and
    //    the 64x64 no-blur special case of PDQ.
    let edges: [(u32, u32); 22] = [
        (1, 1),
        (4, 4),
        (4, 9),
        (5, 5),
        (5, 4),
        (7, 5),
        (5, 7),
        (8, 8),
        (9, 8),
        (8, 9),
        (16, 16),
        (31, 17),
        (32, 32),
        (33, 31),
        (63, 65),
        (65, 63),
        (64, 64),
        (64, 64),
        (128, 128),
        (129, 127),
        (300, 17),
        (17, 300),
    ];
    for (i, &size) in edges.iter().enumerate() {
        b.add(
            sc(all[i % all.len()], 100 + i as u64),
            size,
            Mode::Rgb,
            PNG,
            true,
        );
    }
    // 3. Pixel modes, each on several scenes and an odd size.
    let modes = [
        Mode::Gray,
        Mode::GrayAlpha,
        Mode::Rgba,
        Mode::Palette,
        Mode::PaletteTrns,
        Mode::Gray16,
        Mode::Gray16Low,
        Mode::Rgb16,
        Mode::Rgba16,
    ];
    for (i, &mode) in modes.iter().enumerate() {
        b.add(sc(all[i % 7], 200 + i as u64), (96, 72), mode, PNG, true);
        b.add(
            sc(all[(i + 3) % 7], 220 + i as u64),
            (65, 49),
            mode,
            PNG,
            true,
        );
        b.add(
            sc(all[(i + 5) % 7], 240 + i as u64),
            (64, 64),
            mode,
            PNG,
            true,
        );
    }
    // 4. Flat and low-texture images (PDQ quality < 50).
    for &(c, size) in &[
        ([0, 0, 0], (64, 64)),
        ([255, 255, 255], (64, 64)),
        ([128, 128, 128], (64, 64)),
        ([200, 30, 90], (100, 80)),
        ([17, 160, 240], (5, 5)),
        ([90, 90, 90], (333, 257)),
    ] {
        b.add(Source::Flat(c), size, Mode::Rgb, PNG, true);
    }
    b.add(Source::Flat([77, 77, 77]), (64, 48), Mode::Gray, PNG, true);
    b.add(
        Source::Flat([160, 160, 160]),
        (40, 40),
        Mode::Gray16,
        PNG,
        true,
    );
    let ramps = [
        ([0, 0, 0], [255, 255, 255], false, (256, 64)),
        ([20, 40, 200], [240, 200, 20], true, (120, 90)),
        ([100, 100, 100], [110, 110, 110], false, (64, 64)),
        ([30, 90, 30], [200, 220, 180], true, (77, 201)),
    ];
    for &(from, to, vertical, size) in &ramps {
        b.add(
            Source::Ramp { from, to, vertical },
            size,
            Mode::Rgb,
            PNG,
            true,
        );
    }
    b.add(
        Source::Ramp {
            from: [0, 0, 0],
            to: [255, 255, 255],
            vertical: true,
        },
        (50, 70),
        Mode::Gray,
        PNG,
        true,
    );
    // Gradient scenes are mostly smooth too.
    for seed in [300, 301, 302, 303] {
        b.add(sc(Gradient, seed), (160, 120), Mode::Rgb, PNG, true);
    }
    // 5. Hard-negative variants: same background and layout, different objects.
    for &scene in &[Product, Landscape, Indoor, DeadLeaves] {
        for v in 0..3 {
            b.add(
                Source::Scene {
                    scene,
                    seed: 400,
                    variant: v,
                },
                (128, 96),
                Mode::Rgb,
                PNG,
                true,
            );
        }
    }
    // 6. JPEGs: qualities, subsamplings, grey, odd sizes (not multiples of the 8/16 MCU).
    for (i, &q) in [50u8, 75, 90, 95].iter().enumerate() {
        b.add(
            sc(all[i], 500 + i as u64),
            (160, 120),
            Mode::Rgb,
            jpeg(q),
            true,
        );
        b.add(
            sc(all[i + 3], 510 + i as u64),
            (200, 150),
            Mode::Rgb,
            jpeg(q),
            true,
        );
    }
    for (i, &sub) in [Subsampling::S444, Subsampling::S422].iter().enumerate() {
        let f = Format::Jpeg {
            quality: 85,
            subsampling: sub,
        };
        b.add(
            sc(Landscape, 520 + i as u64),
            (160, 120),
            Mode::Rgb,
            f,
            true,
        );
        b.add(
            sc(DeadLeaves, 530 + i as u64),
            (127, 129),
            Mode::Rgb,
            f,
            true,
        );
    }
    b.add(sc(Document, 540), (160, 120), Mode::Gray, jpeg(85), true);
    b.add(sc(Noise, 541), (63, 65), Mode::Rgb, jpeg(85), true);
    b.add(sc(Product, 542), (17, 9), Mode::Rgb, jpeg(90), true);
    b.add(sc(Indoor, 543), (64, 64), Mode::Rgb, jpeg(80), true);
    b.add(sc(Gradient, 544), (100, 75), Mode::Rgb, jpeg(75), true);
    // 7. Mid sizes: a tall page, and sides just above 512 (Meta's CLI resizes those to 512x512).
    b.add(sc(Document, 600), (346, 768), Mode::Rgb, PNG, true);
    b.add(sc(Product, 601), (520, 390), Mode::Rgb, PNG, true);
    b.add(sc(Document, 602), (513, 300), Mode::Rgb, PNG, true);
    b.add(sc(DeadLeaves, 603), (300, 600), Mode::Rgb, jpeg(85), true);
    b.add(sc(Landscape, 604), (640, 480), Mode::Rgb, jpeg(90), true);
    // 8. Large images: regenerated, never committed.
    let large: [(Scene, (u32, u32), Mode, Format); 14] = [
        (Landscape, (1024, 768), Mode::Rgb, PNG),
        (Landscape, (1024, 768), Mode::Rgb, jpeg(90)),
        (Indoor, (2000, 1500), Mode::Rgb, PNG),
        (Indoor, (2000, 1500), Mode::Rgb, jpeg(85)),
        (Noise, (4000, 3000), Mode::Rgb, PNG),
        (Noise, (4000, 3000), Mode::Rgb, jpeg(85)),
        (Landscape, (4000, 3000), Mode::Rgb, jpeg(92)),
        (DeadLeaves, (3000, 2000), Mode::Rgb, PNG),
        (Document, (1080, 2400), Mode::Rgb, PNG),
        (Document, (1080, 2400), Mode::Rgb, jpeg(90)),
        (Product, (2400, 1080), Mode::Rgb, PNG),
        (Gradient, (1920, 1080), Mode::Rgb, PNG),
        (Product, (1200, 1600), Mode::Gray, PNG),
        (Indoor, (1536, 1024), Mode::Rgba, PNG),
    ];
    for (i, &(scene, size, mode, format)) in large.iter().enumerate() {
        b.add(sc(scene, 700 + i as u64), size, mode, format, false);
    }
    b.0
}

/// Alpha for the alpha modes: blocks of random opacity, including fully transparent ones.
fn alpha_at(x: u32, y: u32) -> u8 {
    let v = unit(hash2(i64::from(x / 4), i64::from(y / 4), 0xA1FA));
    if v < 0.2 {
        0
    } else {
        (v * 255.0) as u8
    }
}

/// Pillow's `L` weights (ITU-R 601-2 in 16-bit fixed point), used to make the grey fixtures.
fn grey(p: &[u8]) -> u8 {
    ((19595 * u32::from(p[0]) + 38470 * u32::from(p[1]) + 7471 * u32::from(p[2]) + 0x8000) >> 16)
        as u8
}

/// Level `v` (0..=255) quantised to `n` steps, as an index.
fn level(v: u8, n: u32) -> u32 {
    (u32::from(v) * (n - 1) + 127) / 255
}

/// The 6x7x6 colour-cube palette (252 entries).
fn palette() -> Vec<u8> {
    let mut p = Vec::with_capacity(252 * 3);
    for r in 0..6u32 {
        for g in 0..7u32 {
            for b in 0..6u32 {
                p.extend(
                    [(r * 255 + 2) / 5, (g * 255 + 3) / 6, (b * 255 + 2) / 5].map(|v| v as u8),
                );
            }
        }
    }
    p
}

/// Encodes the fixture: its pixels converted to its mode, in its format. Deterministic bytes.
pub fn render(spec: &FixtureSpec) -> Vec<u8> {
    let img = spec.rgb();
    let (w, h) = (spec.width, spec.height);
    let rgb = match img.layout() {
        Layout::Rgb8(v) => v.as_slice(),
        _ => unreachable!("the generator and the sources make RGB8"),
    };
    let coords = (0..h).flat_map(|y| (0..w).map(move |x| (x, y)));
    match spec.format {
        Format::Jpeg {
            quality,
            subsampling,
        } => {
            let img = match spec.mode {
                Mode::Gray => {
                    let g = rgb.chunks_exact(3).map(grey).collect();
                    Image::new(w, h, Layout::Gray8(g)).expect("grey buffer has the right length")
                }
                _ => img.clone(),
            };
            encode_jpeg_with(&img, quality, subsampling)
        }
        Format::Png => {
            use png::{BitDepth, ColorType};
            let n = rgb.len() / 3;
            /// Colour type, bit depth, samples, palette and transparency of a PNG to write.
            type PngParts = (
                ColorType,
                BitDepth,
                Vec<u8>,
                Option<Vec<u8>>,
                Option<Vec<u8>>,
            );
            let (color, depth, data, pal, trns): PngParts = match spec.mode {
                Mode::Rgb => (ColorType::Rgb, BitDepth::Eight, rgb.to_vec(), None, None),
                Mode::Rgba => {
                    let d = rgb
                        .chunks_exact(3)
                        .zip(coords)
                        .flat_map(|(p, (x, y))| [p[0], p[1], p[2], alpha_at(x, y)])
                        .collect();
                    (ColorType::Rgba, BitDepth::Eight, d, None, None)
                }
                Mode::Gray => (
                    ColorType::Grayscale,
                    BitDepth::Eight,
                    rgb.chunks_exact(3).map(grey).collect(),
                    None,
                    None,
                ),
                Mode::GrayAlpha => {
                    let d = rgb
                        .chunks_exact(3)
                        .zip(coords)
                        .flat_map(|(p, (x, y))| [grey(p), alpha_at(x, y)])
                        .collect();
                    (ColorType::GrayscaleAlpha, BitDepth::Eight, d, None, None)
                }
                Mode::Palette | Mode::PaletteTrns => {
                    let d = rgb
                        .chunks_exact(3)
                        .map(|p| (level(p[0], 6) * 42 + level(p[1], 7) * 6 + level(p[2], 6)) as u8)
                        .collect();
                    // Entries 0..16 (the darkest reds/greens) transparent, the rest opaque.
                    let trns = (spec.mode == Mode::PaletteTrns)
                        .then(|| (0..252).map(|i| if i < 16 { 0 } else { 255 }).collect());
                    (
                        ColorType::Indexed,
                        BitDepth::Eight,
                        d,
                        Some(palette()),
                        trns,
                    )
                }
                Mode::Gray16 | Mode::Gray16Low => {
                    let low = spec.mode == Mode::Gray16Low;
                    let d = rgb
                        .chunks_exact(3)
                        .zip(coords)
                        .flat_map(|(p, (x, y))| {
                            let g = u16::from(grey(p));
                            let noise = (hash2(i64::from(x), i64::from(y), 0x16B) & 0xff) as u16;
                            let v = if low { g } else { (g << 8) | noise };
                            v.to_be_bytes()
                        })
                        .collect();
                    (ColorType::Grayscale, BitDepth::Sixteen, d, None, None)
                }
                Mode::Rgb16 => {
                    let d = rgb
                        .iter()
                        .flat_map(|&v| (u16::from(v) * 257).to_be_bytes())
                        .collect();
                    (ColorType::Rgb, BitDepth::Sixteen, d, None, None)
                }
                Mode::Rgba16 => {
                    let d = rgb
                        .chunks_exact(3)
                        .zip(coords)
                        .flat_map(|(p, (x, y))| {
                            let a = alpha_at(x, y);
                            [p[0], p[1], p[2], a].map(|v| (u16::from(v) * 257).to_be_bytes())
                        })
                        .flatten()
                        .collect();
                    (ColorType::Rgba, BitDepth::Sixteen, d, None, None)
                }
            };
            debug_assert!(n == 0 || data.len() % n == 0);
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(color);
            enc.set_depth(depth);
            enc.set_compression(if spec.committed {
                png::Compression::High
            } else {
                png::Compression::Balanced
            });
            if let Some(p) = pal {
                enc.set_palette(p);
            }
            if let Some(t) = trns {
                enc.set_trns(t);
            }
            let res = enc
                .write_header()
                .and_then(|mut wr| wr.write_image_data(&data).and_then(|_| wr.finish()));
            if res.is_err() {
                out.clear();
            }
            out
        }
    }
}

/// The manifest's header line.
pub const MANIFEST_HEADER: &str =
    "name,file,scene,width,height,seed,mode,format,jpeg_quality,committed,variant,subsampling,sha256";

/// One manifest line for `spec` (no newline); `sha256` is the hex digest of the file bytes, or
/// left off (with its comma) when `None`.
pub fn manifest_row(spec: &FixtureSpec, sha256: Option<&str>) -> String {
    let (seed, variant) = match spec.source {
        Source::Scene { seed, variant, .. } => (seed, variant),
        _ => (0, 0),
    };
    let (format, quality, sub) = match spec.format {
        Format::Png => ("png", String::new(), ""),
        Format::Jpeg {
            quality,
            subsampling,
        } => ("jpeg", quality.to_string(), subsampling.name()),
    };
    let mut row = format!(
        "{},{},{},{},{},{},{},{},{},{},{},{},",
        spec.name,
        spec.file_name(),
        spec.source.kind(),
        spec.width,
        spec.height,
        seed,
        spec.mode.name(),
        format,
        quality,
        u8::from(spec.committed),
        variant,
        sub
    );
    if let Some(d) = sha256 {
        row.push_str(d);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::path::PathBuf;

    fn fixtures_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
    }

    #[test]
    fn names_are_unique_and_the_catalogue_covers_the_brief() {
        let all = specs();
        let names: HashSet<&str> = all.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names.len(), all.len());
        assert!(all.len() >= 120, "{}", all.len());
        let has = |p: &dyn Fn(&FixtureSpec) -> bool| all.iter().any(p);
        assert!(has(
            &|f| (f.width, f.height) == (4000, 3000) && f.format == PNG
        ));
        assert!(has(
            &|f| (f.width, f.height) == (4000, 3000) && f.format != PNG
        ));
        assert!(has(&|f| (f.width, f.height) == (64, 64)));
        assert!(has(&|f| f.width < 5 && f.height < 5));
        for m in [
            Mode::Gray,
            Mode::Rgba,
            Mode::Palette,
            Mode::Gray16,
            Mode::GrayAlpha,
        ] {
            assert!(has(&|f| f.mode == m), "{m:?}");
        }
    }

    #[test]
    fn every_committed_fixture_regenerates_bit_identically() {
        // The committed files were written by the gen_fixtures example; rendering them again must
        // give the same bytes, or the stored peer hashes no longer describe what tests generate.
        let dir = fixtures_dir().join("images");
        let mut checked = 0;
        for f in specs().iter().filter(|f| f.committed) {
            let path = dir.join(f.file_name());
            let stored = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(
                stored == render(f),
                "{} differs from its regeneration",
                f.name
            );
            checked += 1;
        }
        assert!(checked >= 100, "{checked}");
    }

    #[test]
    fn manifest_matches_the_catalogue() {
        let text = std::fs::read_to_string(fixtures_dir().join("manifest.csv"))
            .expect("fixtures/manifest.csv");
        let mut lines = text.lines();
        assert_eq!(
            lines.next().unwrap(),
            super::super::fixtures::MANIFEST_HEADER
        );
        let rows: Vec<&str> = lines.collect();
        let all = specs();
        assert_eq!(rows.len(), all.len());
        for (row, f) in rows.iter().zip(&all) {
            let expected = manifest_row(f, None);
            // The last column (SHA-256 of the file) is checked for one large file below.
            assert!(row.starts_with(&expected), "{row}\n{expected}");
        }
    }

    #[test]
    fn a_large_fixture_regenerates_to_its_manifest_digest() {
        use sha2::{Digest, Sha256};
        let text = std::fs::read_to_string(fixtures_dir().join("manifest.csv"))
            .expect("fixtures/manifest.csv");
        let f = specs()
            .into_iter()
            .find(|f| !f.committed && f.width == 1024)
            .unwrap();
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("{},", f.name)))
            .unwrap();
        let digest = hex::encode(Sha256::digest(render(&f)));
        assert!(row.ends_with(&digest), "{row} vs {digest}");
    }

    #[test]
    fn ramps_span_their_end_colours_exactly() {
        let f = FixtureSpec {
            name: "t".into(),
            source: Source::Ramp {
                from: [0, 10, 255],
                to: [255, 10, 0],
                vertical: false,
            },
            width: 7,
            height: 2,
            mode: Mode::Rgb,
            format: PNG,
            committed: false,
        };
        let img = f.rgb();
        assert_eq!(img.rgb_at(0, 1), [0, 10, 255]);
        assert_eq!(img.rgb_at(6, 0), [255, 10, 0]);
        assert_eq!(img.rgb_at(3, 0), [128, 10, 128]);
    }
}
