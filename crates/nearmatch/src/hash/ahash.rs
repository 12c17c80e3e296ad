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
use crate::hash::imagehash::{digest_from_bits, hash_luma, HashSize, ImagehashKind};
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
///
/// imagehash compares each pixel with `numpy.mean` (a float64). The sum of ≤ 256 bytes is exact
/// and `sum / n²` can never round onto an integer it is not equal to, so `p·n² > sum` is the
/// same test in exact integers.
pub(crate) fn ahash_core(small: &[u8], size: HashSize) -> AnyDigest {
    let nn = size.bits() as u32;
    let sum: u32 = small.iter().map(|&p| p as u32).sum();
    let bits: Vec<bool> = small.iter().map(|&p| p as u32 * nn > sum).collect();
    digest_from_bits(&bits, size)
}
