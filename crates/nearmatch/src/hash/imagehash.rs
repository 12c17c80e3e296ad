//! Shared parts of the Python `imagehash` 4.3.2 family: hash sizes, bit packing, the median,
//! and [`hashes_from_luma`], which computes several algorithms from one greyscale plane.
//!
//! Every algorithm is `convert('L')` ([`crate::hash::luma`]) → Lanczos resize
//! ([`crate::hash::resample`]) → a per-algorithm core. Computing several hashes of one image
//! shares the luma plane and any resize whose target size repeats (whash at 32×32 and phash).
//!
//! ```
//! use nearmatch::hash::imagehash::{hashes_from_luma, HashSize, ImagehashKind};
//! use nearmatch::hash::luma::LumaPlane;
//! use nearmatch::hash::resample::PillowVersion;
//! let plane = LumaPlane::new(40, 30, (0..1200).map(|i| (i % 40 * 6) as u8).collect()).unwrap();
//! let wanted = [(ImagehashKind::Ahash, HashSize::Eight), (ImagehashKind::Dhash, HashSize::Sixteen)];
//! let hashes = hashes_from_luma(&plane, &wanted, PillowVersion::Pillow13).unwrap();
//! assert_eq!(hashes[0].bits(), 64);
//! assert_eq!(hashes[1].bits(), 256);
//! ```

use std::fmt;
use std::str::FromStr;

use crate::digest::{AnyDigest, Digest256, Digest64};
use crate::error::Error;
use crate::hash::luma::LumaPlane;
use crate::hash::resample::{resize_lanczos, PillowVersion};
use crate::hash::{ahash, dhash, phash, whash, Algorithm};

/// The imagehash `hash_size`: 8 (64-bit digests) or 16 (256-bit digests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashSize {
    /// `hash_size=8`: 64 bits, the imagehash default.
    #[default]
    Eight,
    /// `hash_size=16`: 256 bits.
    Sixteen,
}

impl HashSize {
    /// The side of the bit matrix (8 or 16).
    pub fn side(self) -> usize {
        match self {
            HashSize::Eight => 8,
            HashSize::Sixteen => 16,
        }
    }

    /// Digest width in bits (64 or 256).
    pub fn bits(self) -> usize {
        self.side() * self.side()
    }

    /// The size for a `hash_size` value, if supported.
    pub fn from_side(side: usize) -> Option<HashSize> {
        match side {
            8 => Some(HashSize::Eight),
            16 => Some(HashSize::Sixteen),
            _ => None,
        }
    }
}

/// The four imagehash algorithms nearmatch reproduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImagehashKind {
    /// `imagehash.average_hash`.
    Ahash,
    /// `imagehash.dhash` (horizontal differences).
    Dhash,
    /// `imagehash.phash` (`highfreq_factor=4`).
    Phash,
    /// `imagehash.whash` (`mode='haar'`, `remove_max_haar_ll=True`).
    Whash,
}

impl ImagehashKind {
    /// All four, in report order.
    pub const ALL: [ImagehashKind; 4] = [
        ImagehashKind::Ahash,
        ImagehashKind::Dhash,
        ImagehashKind::Phash,
        ImagehashKind::Whash,
    ];

    /// The short name (`ahash`, `dhash`, `phash`, `whash`).
    pub fn name(self) -> &'static str {
        match self {
            ImagehashKind::Ahash => "ahash",
            ImagehashKind::Dhash => "dhash",
            ImagehashKind::Phash => "phash",
            ImagehashKind::Whash => "whash",
        }
    }

    /// The kind and size of a nearmatch [`Algorithm`], `None` for non-imagehash algorithms.
    pub fn from_algorithm(a: Algorithm) -> Option<(ImagehashKind, HashSize)> {
        use HashSize::*;
        use ImagehashKind::*;
        Some(match a {
            Algorithm::Ahash => (Ahash, Eight),
            Algorithm::Dhash => (Dhash, Eight),
            Algorithm::Phash => (Phash, Eight),
            Algorithm::Whash => (Whash, Eight),
            Algorithm::Ahash16 => (Ahash, Sixteen),
            Algorithm::Dhash16 => (Dhash, Sixteen),
            Algorithm::Phash16 => (Phash, Sixteen),
            Algorithm::Whash16 => (Whash, Sixteen),
            _ => return None,
        })
    }

    /// The nearmatch [`Algorithm`] for this kind at `size`.
    pub fn algorithm(self, size: HashSize) -> Algorithm {
        use HashSize::*;
        match (self, size) {
            (ImagehashKind::Ahash, Eight) => Algorithm::Ahash,
            (ImagehashKind::Dhash, Eight) => Algorithm::Dhash,
            (ImagehashKind::Phash, Eight) => Algorithm::Phash,
            (ImagehashKind::Whash, Eight) => Algorithm::Whash,
            (ImagehashKind::Ahash, Sixteen) => Algorithm::Ahash16,
            (ImagehashKind::Dhash, Sixteen) => Algorithm::Dhash16,
            (ImagehashKind::Phash, Sixteen) => Algorithm::Phash16,
            (ImagehashKind::Whash, Sixteen) => Algorithm::Whash16,
        }
    }

    /// The resize target (width, height) this kind uses for an image of `w`×`h`.
    pub fn resize_target(self, size: HashSize, w: usize, h: usize) -> (usize, usize) {
        let n = size.side();
        match self {
            ImagehashKind::Ahash => (n, n),
            ImagehashKind::Dhash => (n + 1, n),
            ImagehashKind::Phash => (phash::HIGHFREQ_FACTOR * n, phash::HIGHFREQ_FACTOR * n),
            ImagehashKind::Whash => {
                let s = whash::image_scale(w, h, size);
                (s, s)
            }
        }
    }

    /// The hash of an already resized plane (`resize_target` size, row-major).
    fn core(self, size: HashSize, small: &[u8], sw: usize) -> AnyDigest {
        match self {
            ImagehashKind::Ahash => ahash::ahash_core(small, size),
            ImagehashKind::Dhash => dhash::dhash_core(small, size),
            ImagehashKind::Phash => phash::phash_core(small, size),
            ImagehashKind::Whash => whash::whash_core(small, sw, size),
        }
    }
}

impl fmt::Display for ImagehashKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ImagehashKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        ImagehashKind::ALL
            .into_iter()
            .find(|k| k.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::InvalidArgument(format!("unknown imagehash algorithm {s:?}")))
    }
}

/// Packs bits in imagehash order (row-major, element `[0,0]` most significant).
pub(crate) fn digest_from_bits(bits: &[bool], size: HashSize) -> AnyDigest {
    match size {
        HashSize::Eight => AnyDigest::D64(Digest64::from_msb_bits(bits)),
        HashSize::Sixteen => AnyDigest::D256(Digest256::from_msb_bits(bits)),
    }
}

/// `numpy.median` of an even number of finite values: the mean of the two middle ones.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    }
}

/// Computes several imagehash digests of one greyscale plane, in the order requested.
///
/// The plane is converted and validated once; resizes with equal targets are shared.
pub fn hashes_from_luma(
    luma: &LumaPlane,
    requests: &[(ImagehashKind, HashSize)],
    pillow: PillowVersion,
) -> Result<Vec<AnyDigest>, Error> {
    let (w, h) = (luma.width(), luma.height());
    let mut resized: Vec<((usize, usize), Vec<u8>)> = Vec::new();
    let mut out = Vec::with_capacity(requests.len());
    for &(kind, size) in requests {
        let target = kind.resize_target(size, w, h);
        let idx = match resized.iter().position(|(t, _)| *t == target) {
            Some(i) => i,
            None => {
                let plane = resize_lanczos(luma.pixels(), w, h, target.0, target.1, pillow)?;
                resized.push((target, plane));
                resized.len() - 1
            }
        };
        out.push(kind.core(size, &resized[idx].1, target.0));
    }
    Ok(out)
}

/// One imagehash digest of a greyscale plane (front end + core).
pub(crate) fn hash_luma(
    luma: &LumaPlane,
    kind: ImagehashKind,
    size: HashSize,
    pillow: PillowVersion,
) -> Result<AnyDigest, Error> {
    let (w, h) = (luma.width(), luma.height());
    let (tw, th) = kind.resize_target(size, w, h);
    let small = resize_lanczos(luma.pixels(), w, h, tw, th, pillow)?;
    Ok(kind.core(size, &small, tw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_mapping_roundtrips() {
        for k in ImagehashKind::ALL {
            for s in [HashSize::Eight, HashSize::Sixteen] {
                let a = k.algorithm(s);
                assert_eq!(ImagehashKind::from_algorithm(a), Some((k, s)));
                assert_eq!(a.bits(), s.bits());
                assert_eq!(k.name().parse::<ImagehashKind>().unwrap(), k);
            }
        }
        assert_eq!(ImagehashKind::from_algorithm(Algorithm::Pdq), None);
    }

    #[test]
    fn median_is_numpy_median() {
        assert_eq!(median(&[3.0, 1.0, 4.0, 1.5]), 2.25);
        assert_eq!(median(&[0.0; 64]), 0.0);
    }

    /// Decodes a fixture PNG the way nearmatch's decoder will: alpha dropped, palette expanded,
    /// LA reduced to L, 16-bit grey kept.
    fn load_png(name: &str) -> crate::pixels::Image {
        use crate::pixels::{Image, Layout};
        use image::DynamicImage;
        let path = format!(
            "{}/src/hash/testdata/imagehash/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        let img = image::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (w, h) = (img.width(), img.height());
        let layout = match img {
            DynamicImage::ImageLuma8(b) => Layout::Gray8(b.into_raw()),
            DynamicImage::ImageLumaA8(b) => {
                Layout::Gray8(b.into_raw().chunks_exact(2).map(|p| p[0]).collect())
            }
            DynamicImage::ImageRgb8(b) => Layout::Rgb8(b.into_raw()),
            DynamicImage::ImageRgba8(b) => Layout::Rgb8(
                b.into_raw()
                    .chunks_exact(4)
                    .flat_map(|p| [p[0], p[1], p[2]])
                    .collect(),
            ),
            DynamicImage::ImageLuma16(b) => Layout::Gray16(b.into_raw()),
            other => panic!("{name}: unexpected decoded layout {:?}", other.color()),
        };
        Image::new(w, h, layout).unwrap()
    }

    /// Every fixture hash under one Pillow version: (checked, mismatches).
    fn check_fixtures(csv_text: &str, pillow: PillowVersion) -> (usize, Vec<String>) {
        use std::collections::BTreeMap;
        let mut by_file: BTreeMap<&str, Vec<(ImagehashKind, HashSize, &str)>> = BTreeMap::new();
        for line in csv_text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let kind: ImagehashKind = f[4].parse().unwrap();
            let size = HashSize::from_side(f[5].parse().unwrap()).unwrap();
            by_file.entry(f[0]).or_default().push((kind, size, f[6]));
        }
        let mut checked = 0;
        let mut bad = Vec::new();
        for (file, wanted) in by_file {
            let img = load_png(file);
            let luma = LumaPlane::from_image(&img).unwrap();
            let requests: Vec<_> = wanted.iter().map(|&(k, s, _)| (k, s)).collect();
            let batch = hashes_from_luma(&luma, &requests, pillow).unwrap();
            for (&(kind, size, hex), got) in wanted.iter().zip(&batch) {
                // The single-hash entry points must agree with the batch.
                let single = match kind {
                    ImagehashKind::Ahash => ahash::average_hash(&img, size, pillow),
                    ImagehashKind::Dhash => dhash::dhash(&img, size, pillow),
                    ImagehashKind::Phash => phash::phash(&img, size, pillow),
                    ImagehashKind::Whash => whash::whash(&img, size, pillow),
                }
                .unwrap();
                assert_eq!(&single, got, "{file} {kind}{}", size.side());
                checked += 1;
                if got.to_hex() != hex {
                    bad.push(format!(
                        "{file} {kind} {}: got {} want {hex} ({} bits differ)",
                        size.side(),
                        got.to_hex(),
                        got.distance(&hex_digest(hex)).unwrap()
                    ));
                }
            }
        }
        (checked, bad)
    }

    fn hex_digest(hex: &str) -> AnyDigest {
        if hex.len() == 16 {
            AnyDigest::D64(hex.parse().unwrap())
        } else {
            AnyDigest::D256(hex.parse().unwrap())
        }
    }

    #[test]
    fn fixtures_match_imagehash_under_pillow13() {
        let (n, bad) = check_fixtures(
            include_str!("testdata/imagehash_reference_pillow13.csv"),
            PillowVersion::Pillow13,
        );
        assert_eq!(n, 192);
        assert!(
            bad.is_empty(),
            "{} of {n} differ:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }

    #[test]
    fn fixtures_match_imagehash_under_pillow12() {
        let (n, bad) = check_fixtures(
            include_str!("testdata/imagehash_reference_pillow12.csv"),
            PillowVersion::Pillow12,
        );
        assert_eq!(n, 192);
        assert!(
            bad.is_empty(),
            "{} of {n} differ:\n{}",
            bad.len(),
            bad.join("\n")
        );
    }

    /// The fixtures are sensitive to the pass order: hashing with the other Pillow version's
    /// order reproduces exactly the hashes that differ between the two reference CSVs.
    #[test]
    fn wrong_pillow_version_is_detected() {
        let p13 = include_str!("testdata/imagehash_reference_pillow13.csv");
        let p12 = include_str!("testdata/imagehash_reference_pillow12.csv");
        let differing = p13.lines().zip(p12.lines()).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 12);
        let (_, bad) = check_fixtures(p13, PillowVersion::Pillow12);
        assert_eq!(bad.len(), differing, "{}", bad.join("\n"));
        let (_, bad) = check_fixtures(p12, PillowVersion::Pillow13);
        assert_eq!(bad.len(), differing, "{}", bad.join("\n"));
    }
}
