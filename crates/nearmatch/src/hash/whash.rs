//! `imagehash.whash` with its defaults (`mode='haar'`, `remove_max_haar_ll=True`).
//!
//! The image is resized to S×S with `S = max(2^floor(log2(min(W, H))), n)`, scaled to `[0, 1]`,
//! fully Haar-decomposed, the coarsest approximation zeroed and the image reconstructed; the
//! approximation after `log2(S/n)` further levels is compared with its median.
//!
//! In exact arithmetic that approximation is just the block means minus the global mean, but
//! rounding decides ties on flat and symmetric regions, so every step follows PyWavelets'
//! float64 operation order: `dwt2` filters axis 0 then axis 1 with `a = h·x₀ + h·x₁`,
//! `d = h·x₀ − h·x₁`; `idwt2` runs axis 1 then axis 0 with `x₀ = h·a + h·d`, `x₁ = h·a − h·d`;
//! `waverec2` goes coarsest level first.
//!
//! ```
//! use nearmatch::hash::whash::whash;
//! use nearmatch::hash::imagehash::HashSize;
//! use nearmatch::hash::resample::PillowVersion;
//! use nearmatch::pixels::{Image, Layout};
//! // Top half dark, bottom half bright.
//! let px: Vec<u8> = (0..64 * 64).map(|i| if i < 32 * 64 { 20 } else { 230 }).collect();
//! let img = Image::new(64, 64, Layout::Gray8(px)).unwrap();
//! let h = whash(&img, HashSize::Eight, PillowVersion::Pillow13).unwrap();
//! assert_eq!(h.to_hex(), "00000000ffffffff");
//! ```

use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{digest_from_bits, hash_luma, median, HashSize, ImagehashKind};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::PillowVersion;
use crate::pixels::Image;

/// PyWavelets' Haar filter tap, `1/√2` as a float64.
const H: f64 = std::f64::consts::FRAC_1_SQRT_2;

/// `imagehash.whash(image, hash_size)` of a decoded image; errors on an empty image.
pub fn whash(img: &Image, size: HashSize, pillow: PillowVersion) -> Result<AnyDigest, Error> {
    whash_luma(&LumaPlane::from_image(img)?, size, pillow)
}

/// `whash` of a plane already converted with PIL's `convert('L')`.
pub fn whash_luma(
    luma: &LumaPlane,
    size: HashSize,
    pillow: PillowVersion,
) -> Result<AnyDigest, Error> {
    hash_luma(luma, ImagehashKind::Whash, size, pillow)
}

/// imagehash's default `image_scale`: `max(2**int(log2(min(W, H))), hash_size)`.
///
/// `w` and `h` must be non-zero.
pub fn image_scale(w: usize, h: usize, size: HashSize) -> usize {
    let m = w.min(h).max(1);
    (1usize << m.ilog2()).max(size.side())
}

/// The four sub-bands of one `dwt2` level, each `side/2` square, row-major.
struct Level {
    /// `cH` (pywt key `da`).
    ch: Vec<f64>,
    /// `cV` (pywt key `ad`).
    cv: Vec<f64>,
    /// `cD` (pywt key `dd`).
    cd: Vec<f64>,
}

/// One-level `pywt.dwt2(x, 'haar')` of a `side`×`side` array: returns `cA` and the details.
fn dwt2(x: &[f64], side: usize, want_details: bool) -> (Vec<f64>, Option<Level>) {
    let half = side / 2;
    // Axis 0 (down the columns): low and high bands, `half` rows × `side` columns.
    let mut lo = vec![0.0; half * side];
    let mut hi = vec![0.0; if want_details { half * side } else { 0 }];
    for i in 0..half {
        let (r0, r1) = (&x[2 * i * side..][..side], &x[(2 * i + 1) * side..][..side]);
        for j in 0..side {
            lo[i * side + j] = H * r0[j] + H * r1[j];
        }
        if want_details {
            for j in 0..side {
                hi[i * side + j] = H * r0[j] - H * r1[j];
            }
        }
    }
    // Axis 1 (along the rows).
    let split = |band: &[f64]| {
        let mut a = vec![0.0; half * half];
        let mut d = vec![0.0; half * half];
        for i in 0..half {
            let row = &band[i * side..][..side];
            for j in 0..half {
                a[i * half + j] = H * row[2 * j] + H * row[2 * j + 1];
                d[i * half + j] = H * row[2 * j] - H * row[2 * j + 1];
            }
        }
        (a, d)
    };
    let (ca, cv) = split(&lo);
    if !want_details {
        return (ca, None);
    }
    let (ch, cd) = split(&hi);
    (ca, Some(Level { ch, cv, cd }))
}

/// One-level `pywt.idwt2((cA, (cH, cV, cD)), 'haar')` to a `2*half` square.
fn idwt2(ca: &[f64], lvl: &Level, half: usize) -> Vec<f64> {
    let side = 2 * half;
    // Axis 1 first: merge (cA, cV) -> A and (cH, cD) -> D, each `half` rows × `side` columns.
    let merge = |a: &[f64], d: &[f64]| {
        let mut out = vec![0.0; half * side];
        for i in 0..half {
            for j in 0..half {
                let (av, dv) = (a[i * half + j], d[i * half + j]);
                out[i * side + 2 * j] = H * av + H * dv;
                out[i * side + 2 * j + 1] = H * av - H * dv;
            }
        }
        out
    };
    let a = merge(ca, &lvl.cv);
    let d = merge(&lvl.ch, &lvl.cd);
    // Then axis 0.
    let mut x = vec![0.0; side * side];
    for i in 0..half {
        for j in 0..side {
            let (av, dv) = (a[i * side + j], d[i * side + j]);
            x[2 * i * side + j] = H * av + H * dv;
            x[(2 * i + 1) * side + j] = H * av - H * dv;
        }
    }
    x
}

/// The core on the S×S resized plane.
pub(crate) fn whash_core(small: &[u8], s: usize, size: HashSize) -> AnyDigest {
    let n = size.side();
    let ll_max_level = s.ilog2();
    let dwt_level = ll_max_level - n.ilog2();
    let mut pixels: Vec<f64> = small.iter().map(|&p| p as f64 / 255.0).collect();

    // remove_max_haar_ll: wavedec2 to the last level, zero cA, waverec2.
    let mut levels = Vec::with_capacity(ll_max_level as usize);
    let mut a = pixels;
    let mut side = s;
    for _ in 0..ll_max_level {
        let (ca, lvl) = dwt2(&a, side, true);
        levels.push(lvl.expect("details requested"));
        a = ca;
        side /= 2;
    }
    // `coeffs[0] *= 0`: cA is non-negative, so this is +0.0 everywhere.
    a.iter_mut().for_each(|v| *v *= 0.0);
    for lvl in levels.iter().rev() {
        a = idwt2(&a, lvl, side);
        side *= 2;
    }
    pixels = a;

    // LL(K): the approximation after `dwt_level` more levels.
    let mut side = s;
    for _ in 0..dwt_level {
        pixels = dwt2(&pixels, side, false).0;
        side /= 2;
    }
    let med = median(&pixels);
    let bits: Vec<bool> = pixels.iter().map(|&v| v > med).collect();
    digest_from_bits(&bits, size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_rule() {
        assert_eq!(image_scale(7, 5, HashSize::Eight), 8);
        assert_eq!(image_scale(346, 768, HashSize::Eight), 256);
        assert_eq!(image_scale(1000, 200, HashSize::Sixteen), 128);
        assert_eq!(image_scale(64, 64, HashSize::Sixteen), 64);
        assert_eq!(image_scale(63, 640, HashSize::Eight), 32);
        assert_eq!(image_scale(9, 8, HashSize::Sixteen), 16);
    }

    #[test]
    fn haar_roundtrip_is_near_identity() {
        let x: Vec<f64> = (0..64).map(|i| ((i * 37) % 11) as f64 / 10.0).collect();
        let (ca, lvl) = dwt2(&x, 8, true);
        let y = idwt2(&ca, &lvl.unwrap(), 4);
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
