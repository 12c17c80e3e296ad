//! `imagehash.average_hash`: resize to n×n, bit = pixel brighter than the mean.
//!
//! ```
//! use nearmatch::hash::ahash::average_hash;
//! use nearmatch::hash::imagehash::HashSize;
//! use nearmatch::hash::resample::PillowVersion;
//! use nearmatch::pixels::{Image, Layout};
//! // Left half black, right half white.
//! let px: Vec<u8> = (0..64 * 64).map(|i| if i % 64 < 32 { 0 } else { 255 }).collect();
//! let img = Image::new(64, 64, Layout::Gray8(px)).unwrap();
//! let h = average_hash(&img, HashSize::Eight, PillowVersion::Pillow13).unwrap();
//! assert_eq!(h.to_hex(), "0f0f0f0f0f0f0f0f");
//! ```

use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{
    digest_from_bits, hash_luma, BitMatrix, HashSize, ImagehashKind, Threshold,
};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::PillowVersion;
use crate::pixels::Image;

/// `imagehash.average_hash(image, hash_size)` of a decoded image; errors on an empty image.
pub fn average_hash(
    img: &Image,
    size: HashSize,
    pillow: PillowVersion,
) -> Result<AnyDigest, Error> {
    average_hash_luma(&LumaPlane::from_image(img)?, size, pillow)
}

/// `average_hash` of a plane already converted with PIL's `convert('L')`.
pub fn average_hash_luma(
    luma: &LumaPlane,
    size: HashSize,
    pillow: PillowVersion,
) -> Result<AnyDigest, Error> {
    hash_luma(luma, ImagehashKind::Ahash, size, pillow)
}

/// The core on the n×n resized plane.
pub(crate) fn ahash_core(small: &[u8], size: HashSize) -> AnyDigest {
    let n = size.side();
    let bits = ahash_bits(small, n, n, Threshold::Mean);
    digest_from_bits(bits.bits(), size)
}

/// `average_hash` on an already resized `rows`×`cols` plane: bit = pixel above the threshold.
///
/// imagehash compares each pixel with `numpy.mean(pixels)`, a float64. The sum of the bytes is
/// exact and `sum / count` can never round onto an integer it is not equal to (it is at least
/// `1 / count` away from every integer it is not), so `p·count > sum` is the same test in
/// exact integers. `numpy.median` is the middle value, or the float64 mean of the two middle
/// values (exact: half-integers are representable), so `2p > a + b` for an even count.
pub fn ahash_bits(small: &[u8], rows: usize, cols: usize, threshold: Threshold) -> BitMatrix {
    match threshold {
        Threshold::Mean => {
            let count = small.len() as u64;
            let sum: u64 = small.iter().map(|&p| u64::from(p)).sum();
            BitMatrix::from_fn(rows, cols, |i| u64::from(small[i]) * count > sum)
        }
        Threshold::Median => {
            let mut hist = [0usize; 256];
            for &p in small {
                hist[p as usize] += 1;
            }
            // The k-th smallest value (0-based) from the histogram.
            let kth = |k: usize| {
                let mut seen = 0;
                for (v, &c) in hist.iter().enumerate() {
                    seen += c;
                    if seen > k {
                        return v as u32;
                    }
                }
                255
            };
            let n = small.len();
            let twice_median = if n % 2 == 1 {
                2 * kth(n / 2)
            } else {
                kth(n / 2 - 1) + kth(n / 2)
            };
            BitMatrix::from_fn(rows, cols, |i| 2 * u32::from(small[i]) > twice_median)
        }
    }
}
