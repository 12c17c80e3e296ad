//! Shared parts of the Python `imagehash` 4.3.2 family: hash sizes, bit packing, the median,
//! and [`hashes_from_luma`], which computes several algorithms from one greyscale plane.
//!
//! Two views of the same computations. [`HashSize`] and [`ImagehashKind`] name the fixed-width
//! digests hash sets store (64 and 256 bits, default options). [`ImagehashSpec`] is any
//! imagehash function with any of its options (every `hash_size` imagehash accepts,
//! `highfreq_factor`, `numpy.median` as ahash's mean, wavelet hashes with `image_scale`, db4
//! and `remove_max_haar_ll`), and [`BitMatrix`] its result, shaped as imagehash's
//! `ImageHash.hash`; [`bits_from_luma`] computes several of them from one plane.
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
use crate::hash::whash::WhashOptions;
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

    /// The same computation as an [`ImagehashSpec`] (imagehash's default options).
    pub fn spec(self, size: HashSize) -> ImagehashSpec {
        let hash_size = size.side();
        match self {
            ImagehashKind::Ahash => ImagehashSpec::AverageHash {
                hash_size,
                threshold: Threshold::Mean,
            },
            ImagehashKind::Dhash => ImagehashSpec::Dhash { hash_size },
            ImagehashKind::Phash => ImagehashSpec::Phash {
                hash_size,
                highfreq_factor: phash::HIGHFREQ_FACTOR,
            },
            ImagehashKind::Whash => ImagehashSpec::Whash(WhashOptions::haar(hash_size)),
        }
    }

    /// The hash of an already resized plane (`resize_target` size, row-major).
    pub(crate) fn core(self, size: HashSize, small: &[u8], sw: usize) -> AnyDigest {
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

/// A hash as imagehash holds it: a `rows × cols` matrix of bits (`ImageHash.hash`), read
/// row-major with element `[0, 0]` the most significant bit.
///
/// ```
/// use nearmatch::hash::imagehash::BitMatrix;
/// // colorhash's 14 × 3 = 42 bits: the hex pads on the left (two leading zero bits).
/// let m = BitMatrix::new(14, 3, (0..42).map(|i| i == 41).collect()).unwrap();
/// assert_eq!(m.to_hex(), "00000000001");
/// assert_eq!(m.len(), 42);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BitMatrix {
    rows: usize,
    cols: usize,
    bits: Vec<bool>,
}

impl BitMatrix {
    /// Wraps `rows * cols` bits in row-major order.
    pub fn new(rows: usize, cols: usize, bits: Vec<bool>) -> Result<BitMatrix, Error> {
        if rows.checked_mul(cols) != Some(bits.len()) {
            return Err(Error::InvalidArgument(format!(
                "a {rows}x{cols} hash needs {} bits, got {}",
                rows as u128 * cols as u128,
                bits.len()
            )));
        }
        Ok(BitMatrix { rows, cols, bits })
    }

    /// Builds the matrix from bit `i` of the row-major order.
    pub(crate) fn from_fn(rows: usize, cols: usize, f: impl FnMut(usize) -> bool) -> BitMatrix {
        BitMatrix {
            rows,
            cols,
            bits: (0..rows * cols).map(f).collect(),
        }
    }

    /// Number of rows (the first axis of `ImageHash.hash`).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Number of bits (imagehash's `len(h)`).
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// True for a matrix without bits.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// The bits, row-major.
    pub fn bits(&self) -> &[bool] {
        &self.bits
    }

    /// imagehash's `str(h)`: the bits as one big-endian integer in lower-case hex,
    /// `ceil(len / 4)` digits, zero-padded on the left.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let n = self.bits.len();
        let pad = (4 - n % 4) % 4;
        let mut out = String::with_capacity(n.div_ceil(4));
        let mut v = 0usize;
        for (i, &b) in std::iter::repeat_n(&false, pad)
            .chain(&self.bits)
            .enumerate()
        {
            v = (v << 1) | b as usize;
            if i % 4 == 3 {
                out.push(DIGITS[v] as char);
                v = 0;
            }
        }
        out
    }

    /// Hamming distance (imagehash's `h1 - h2`), `None` when the bit counts differ.
    pub fn distance(&self, other: &BitMatrix) -> Option<u32> {
        (self.len() == other.len()).then(|| {
            self.bits
                .iter()
                .zip(&other.bits)
                .filter(|(a, b)| a != b)
                .count() as u32
        })
    }

    /// The bits as a fixed-width digest when there are exactly 64 or 256 of them.
    pub fn to_digest(&self) -> Option<AnyDigest> {
        match self.bits.len() {
            64 => Some(AnyDigest::D64(Digest64::from_msb_bits(&self.bits))),
            256 => Some(AnyDigest::D256(Digest256::from_msb_bits(&self.bits))),
            _ => None,
        }
    }

    /// The bits packed into 64-bit words, most significant first, the last word zero-padded
    /// on the right.
    pub fn to_words(&self) -> Vec<u64> {
        self.bits
            .chunks(64)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u64, |w, (i, &b)| w | (u64::from(b) << (63 - i)))
            })
            .collect()
    }
}

impl fmt::Display for BitMatrix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// What `average_hash` compares each pixel with (its `mean` argument).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Threshold {
    /// `numpy.mean` (the default).
    #[default]
    Mean,
    /// `numpy.median`, which imagehash's docstring suggests.
    Median,
}

/// One imagehash function with its options: what `imagehash.<function>(image, ...)` computes
/// from the image's `convert('L')` plane.
///
/// ```
/// use nearmatch::hash::imagehash::ImagehashSpec;
/// use nearmatch::hash::luma::LumaPlane;
/// use nearmatch::hash::resample::PillowVersion;
/// let plane = LumaPlane::new(40, 30, (0..1200).map(|i| (i % 40 * 6) as u8).collect()).unwrap();
/// let spec = ImagehashSpec::Dhash { hash_size: 5 };
/// let h = spec.hash_luma(&plane, PillowVersion::Pillow13).unwrap();
/// assert_eq!((h.rows(), h.cols()), (5, 5));
/// assert_eq!(h.to_hex(), "1ffffff"); // brightness rises left to right: every bit set
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum ImagehashSpec {
    /// `average_hash(image, hash_size, mean)`.
    AverageHash {
        /// `hash_size` (≥ 2): an n×n hash.
        hash_size: usize,
        /// `numpy.mean` or `numpy.median`.
        threshold: Threshold,
    },
    /// `phash(image, hash_size, highfreq_factor)`.
    Phash {
        /// `hash_size` (≥ 2).
        hash_size: usize,
        /// The DCT runs on a `hash_size · highfreq_factor` square.
        highfreq_factor: usize,
    },
    /// `phash_simple(image, hash_size, highfreq_factor)`.
    PhashSimple {
        /// `hash_size` (≥ 1; imagehash does not check it).
        hash_size: usize,
        /// The DCT runs on a `hash_size · highfreq_factor` square.
        highfreq_factor: usize,
    },
    /// `dhash(image, hash_size)`: horizontal differences.
    Dhash {
        /// `hash_size` (≥ 2).
        hash_size: usize,
    },
    /// `dhash_vertical(image, hash_size)`: vertical differences.
    DhashVertical {
        /// `hash_size` (≥ 1; imagehash does not check it).
        hash_size: usize,
    },
    /// `whash(image, hash_size, image_scale, mode, remove_max_haar_ll)`.
    Whash(WhashOptions),
}

impl ImagehashSpec {
    /// The imagehash function's name (`average_hash`, `phash`, …).
    pub fn function_name(&self) -> &'static str {
        match self {
            ImagehashSpec::AverageHash { .. } => "average_hash",
            ImagehashSpec::Phash { .. } => "phash",
            ImagehashSpec::PhashSimple { .. } => "phash_simple",
            ImagehashSpec::Dhash { .. } => "dhash",
            ImagehashSpec::DhashVertical { .. } => "dhash_vertical",
            ImagehashSpec::Whash(_) => "whash",
        }
    }

    /// Checks the options as imagehash does (its `ValueError`s and assertions), before any
    /// pixel is touched.
    pub fn validate(&self) -> Result<(), Error> {
        let small = |n: usize| {
            if n < 2 {
                Err(Error::InvalidArgument(
                    "Hash size must be greater than or equal to 2".into(),
                ))
            } else {
                Ok(())
            }
        };
        let positive = |what: &str, v: usize| {
            if v == 0 {
                Err(Error::InvalidArgument(format!(
                    "{what} must be at least 1 (the resize target would be empty)"
                )))
            } else {
                Ok(())
            }
        };
        match self {
            ImagehashSpec::AverageHash { hash_size, .. } | ImagehashSpec::Dhash { hash_size } => {
                small(*hash_size)
            }
            ImagehashSpec::Phash {
                hash_size,
                highfreq_factor,
            } => {
                small(*hash_size)?;
                positive("highfreq_factor", *highfreq_factor)
            }
            ImagehashSpec::PhashSimple {
                hash_size,
                highfreq_factor,
            } => {
                positive("hash_size", *hash_size)?;
                positive("highfreq_factor", *highfreq_factor)
            }
            ImagehashSpec::DhashVertical { hash_size } => positive("hash_size", *hash_size),
            ImagehashSpec::Whash(o) => o.validate(),
        }
    }

    /// The Lanczos resize target (width, height) for an image of `w`×`h`.
    pub fn resize_target(&self, w: usize, h: usize) -> Result<(usize, usize), Error> {
        self.validate()?;
        let sq = |a: usize, b: usize| {
            a.checked_mul(b)
                .map(|v| (v, v))
                .ok_or_else(|| Error::InvalidArgument("resize target overflows".into()))
        };
        match self {
            ImagehashSpec::AverageHash { hash_size, .. } => Ok((*hash_size, *hash_size)),
            ImagehashSpec::Phash {
                hash_size,
                highfreq_factor,
            }
            | ImagehashSpec::PhashSimple {
                hash_size,
                highfreq_factor,
            } => sq(*hash_size, *highfreq_factor),
            ImagehashSpec::Dhash { hash_size } => Ok((hash_size + 1, *hash_size)),
            ImagehashSpec::DhashVertical { hash_size } => Ok((*hash_size, hash_size + 1)),
            ImagehashSpec::Whash(o) => {
                let s = o.scale(w, h)?;
                Ok((s, s))
            }
        }
    }

    /// The hash of a plane already resized to [`Self::resize_target`] (`tw`×`th`, row-major).
    pub fn hash_resized(&self, small: &[u8], tw: usize, th: usize) -> Result<BitMatrix, Error> {
        if tw.checked_mul(th) != Some(small.len()) {
            return Err(Error::InvalidPixels(format!(
                "{tw}x{th} plane needs {} bytes, got {}",
                tw as u128 * th as u128,
                small.len()
            )));
        }
        Ok(match self {
            ImagehashSpec::AverageHash { threshold, .. } => {
                ahash::ahash_bits(small, th, tw, *threshold)
            }
            ImagehashSpec::Phash { hash_size, .. } => phash::phash_bits(small, tw, *hash_size),
            ImagehashSpec::PhashSimple { hash_size, .. } => {
                phash::phash_simple_bits(small, tw, *hash_size)
            }
            ImagehashSpec::Dhash { .. } => dhash::dhash_bits(small, tw, th),
            ImagehashSpec::DhashVertical { .. } => dhash::dhash_vertical_bits(small, tw, th),
            ImagehashSpec::Whash(o) => whash::whash_bits(small, tw, o)?,
        })
    }

    /// Front end (Lanczos resize of the `convert('L')` plane) and core.
    pub fn hash_luma(&self, luma: &LumaPlane, pillow: PillowVersion) -> Result<BitMatrix, Error> {
        let (w, h) = (luma.width(), luma.height());
        let (tw, th) = self.resize_target(w, h)?;
        let small = resize_lanczos(luma.pixels(), w, h, tw, th, pillow)?;
        self.hash_resized(&small, tw, th)
    }
}

/// Computes several imagehash functions of one greyscale plane, in the order requested; each
/// result is that function's hash or the reason it has none (invalid options). Resizes with
/// equal targets are computed once.
pub fn bits_from_luma(
    luma: &LumaPlane,
    specs: &[ImagehashSpec],
    pillow: PillowVersion,
) -> Vec<Result<BitMatrix, Error>> {
    let (w, h) = (luma.width(), luma.height());
    let mut resized: Vec<((usize, usize), Vec<u8>)> = Vec::new();
    specs
        .iter()
        .map(|spec| {
            let target = spec.resize_target(w, h)?;
            let idx = match resized.iter().position(|(t, _)| *t == target) {
                Some(i) => i,
                None => {
                    let plane = resize_lanczos(luma.pixels(), w, h, target.0, target.1, pillow)?;
                    resized.push((target, plane));
                    resized.len() - 1
                }
            };
            spec.hash_resized(&resized[idx].1, target.0, target.1)
        })
        .collect()
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
    fn bit_matrix_hex_is_the_left_padded_integer() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for len in 1..=128usize {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = (u128::from(x) << 64 | u128::from(x.rotate_left(17))) >> (128 - len);
            let bits: Vec<bool> = (0..len).map(|i| (v >> (len - 1 - i)) & 1 == 1).collect();
            let m = BitMatrix::new(1, len, bits).unwrap();
            assert_eq!(
                m.to_hex(),
                format!("{v:0w$x}", w = len.div_ceil(4)),
                "{len}"
            );
        }
        let m = BitMatrix::new(8, 8, vec![true; 64]).unwrap();
        assert_eq!(m.to_digest().unwrap().to_hex(), "f".repeat(16));
        assert_eq!(m.to_words(), vec![u64::MAX]);
        assert!(BitMatrix::new(3, 3, vec![true; 8]).is_err());
        let a = BitMatrix::new(1, 3, vec![true, false, true]).unwrap();
        let b = BitMatrix::new(3, 1, vec![false, false, true]).unwrap();
        assert_eq!(a.distance(&b), Some(1)); // shapes may differ, lengths may not
        assert_eq!(a.distance(&m), None);
    }

    #[test]
    fn specs_validate_like_imagehash() {
        use ImagehashSpec::*;
        assert!(AverageHash {
            hash_size: 1,
            threshold: Threshold::Mean
        }
        .validate()
        .is_err());
        assert!(Dhash { hash_size: 1 }.validate().is_err());
        assert!(DhashVertical { hash_size: 1 }.validate().is_ok());
        assert!(PhashSimple {
            hash_size: 1,
            highfreq_factor: 4
        }
        .validate()
        .is_ok());
        assert!(Phash {
            hash_size: 8,
            highfreq_factor: 0
        }
        .validate()
        .is_err());
        assert_eq!(
            Phash {
                hash_size: 5,
                highfreq_factor: 3
            }
            .resize_target(9, 9)
            .unwrap(),
            (15, 15)
        );
        assert_eq!(
            DhashVertical { hash_size: 4 }.resize_target(9, 9).unwrap(),
            (4, 5)
        );
        let plane = LumaPlane::new(6, 4, (0..24).map(|i| (i * 10) as u8).collect()).unwrap();
        // phash_simple with highfreq_factor 1 keeps n - 1 columns (numpy slicing).
        let h = PhashSimple {
            hash_size: 4,
            highfreq_factor: 1,
        }
        .hash_luma(&plane, PillowVersion::Pillow13)
        .unwrap();
        assert_eq!((h.rows(), h.cols()), (4, 3));
        let several = bits_from_luma(
            &plane,
            &[
                Dhash { hash_size: 2 },
                Dhash { hash_size: 1 },
                AverageHash {
                    hash_size: 3,
                    threshold: Threshold::Median,
                },
            ],
            PillowVersion::Pillow13,
        );
        assert!(several[0].is_ok() && several[1].is_err() && several[2].is_ok());
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
                // ... and so must the general computation with imagehash's default options.
                let general = kind.spec(size).hash_luma(&luma, pillow).unwrap();
                assert_eq!(general.to_digest().as_ref(), Some(got), "{file} {kind}");
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
