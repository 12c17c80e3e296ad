//! `imagehash.dhash`: resize to (n+1)×n, bit = right neighbour brighter than left.
//!
//! ```
//! use nearmatch::hash::dhash::dhash;
//! use nearmatch::hash::imagehash::HashSize;
//! use nearmatch::hash::resample::PillowVersion;
//! use nearmatch::pixels::{Image, Layout};
//! // Brightness rising left to right: every bit set.
//! let px: Vec<u8> = (0..90 * 80).map(|i| (i % 90 * 2) as u8).collect();
//! let img = Image::new(90, 80, Layout::Gray8(px)).unwrap();
//! let h = dhash(&img, HashSize::Eight, PillowVersion::Pillow13).unwrap();
//! assert_eq!(h.to_hex(), "ffffffffffffffff");
//! ```

use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{digest_from_bits, hash_luma, BitMatrix, HashSize, ImagehashKind};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::PillowVersion;
use crate::pixels::Image;

/// `imagehash.dhash(image, hash_size)` of a decoded image; errors on an empty image.
pub fn dhash(img: &Image, size: HashSize, pillow: PillowVersion) -> Result<AnyDigest, Error> {
    dhash_luma(&LumaPlane::from_image(img)?, size, pillow)
}

/// `dhash` of a plane already converted with PIL's `convert('L')`.
pub fn dhash_luma(
    luma: &LumaPlane,
    size: HashSize,
    pillow: PillowVersion,
) -> Result<AnyDigest, Error> {
    hash_luma(luma, ImagehashKind::Dhash, size, pillow)
}

/// The core on the (n+1)×n resized plane.
pub(crate) fn dhash_core(small: &[u8], size: HashSize) -> AnyDigest {
    let n = size.side();
    digest_from_bits(dhash_bits(small, n + 1, n).bits(), size)
}

/// `dhash` on an already resized `w`×`h` plane (`w = h + 1`): bit = right neighbour brighter.
pub fn dhash_bits(small: &[u8], w: usize, h: usize) -> BitMatrix {
    let cols = w.saturating_sub(1);
    BitMatrix::from_fn(h, cols, |i| {
        let (r, c) = (i / cols, i % cols);
        small[r * w + c + 1] > small[r * w + c]
    })
}

/// `dhash_vertical` on an already resized `w`×`h` plane (`h = w + 1`): bit = lower neighbour
/// brighter.
pub fn dhash_vertical_bits(small: &[u8], w: usize, h: usize) -> BitMatrix {
    BitMatrix::from_fn(h.saturating_sub(1), w, |i| small[i + w] > small[i])
}
