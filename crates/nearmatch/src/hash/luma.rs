//! PIL's `convert('L')`: the greyscale plane every imagehash algorithm starts from.
//!
//! Pillow converts to 8-bit grey before resizing, with ITU-R 601-2 weights in 16-bit fixed point
//! rounded half up (`Convert.c`, macro `L24`): `L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16`.
//! Alpha is dropped without compositing and palettes are expanded before this point (see
//! [`crate::pixels`]). 16-bit grey (`I;16`) is clipped to 255, not rescaled, as Pillow does.
//!
//! ```
//! use nearmatch::hash::luma::pil_luma;
//! use nearmatch::pixels::{Image, Layout};
//! let img = Image::new(2, 1, Layout::Rgb8(vec![255, 0, 0, 0, 0, 255])).unwrap();
//! assert_eq!(pil_luma(&img), vec![76, 29]);
//! ```

use crate::error::Error;
use crate::pixels::{Image, Layout};

/// One RGB pixel to PIL `L`.
#[inline]
pub fn rgb_to_l(r: u8, g: u8, b: u8) -> u8 {
    ((19595 * r as u32 + 38470 * g as u32 + 7471 * b as u32 + 0x8000) >> 16) as u8
}

/// The image as PIL's `convert('L')` would give it, row-major, `width * height` bytes: the
/// plane attached by [`Image::with_pil_l`] if there is one, else computed from the layout.
pub fn pil_luma(img: &Image) -> Vec<u8> {
    if let Some(l) = img.pil_l() {
        return l.to_vec();
    }
    match img.layout() {
        Layout::Gray8(v) => v.clone(),
        Layout::Rgb8(v) => rgb_strided_to_l(v, 3),
        Layout::Gray16(v) => v.iter().map(|&g| g.min(255) as u8).collect(),
    }
}

/// PIL's `convert('L')` of interleaved pixels of `stride` bytes (3 for RGB, 4 for Pillow's
/// RGBX/RGBA storage) whose first three bytes are R, G, B; any extra bytes are ignored, as
/// Pillow ignores alpha here.
///
/// ```
/// use nearmatch::hash::luma::rgb_strided_to_l;
/// assert_eq!(rgb_strided_to_l(&[255, 0, 0, 7, 0, 0, 255, 9], 4), vec![76, 29]);
/// ```
pub fn rgb_strided_to_l(data: &[u8], stride: usize) -> Vec<u8> {
    let mut out = vec![0u8; data.len() / stride.max(1)];
    rgb_strided_to_l_into(data, stride, &mut out);
    out
}

/// [`rgb_strided_to_l`] into `out` (`data.len() / stride` bytes), without allocating: one row
/// at a time for the streamed decode.
///
/// ```
/// use nearmatch::hash::luma::rgb_strided_to_l_into;
/// let mut out = [0u8; 2];
/// rgb_strided_to_l_into(&[255, 0, 0, 0, 0, 255], 3, &mut out);
/// assert_eq!(out, [76, 29]);
/// ```
pub fn rgb_strided_to_l_into(data: &[u8], stride: usize, out: &mut [u8]) {
    assert!(stride >= 3, "RGB pixels need at least 3 bytes");
    assert_eq!(out.len(), data.len() / stride, "output length");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { rgb_strided_to_l_avx2(data, stride, out) };
    }
    rgb_strided_to_l_kernel(data, stride, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn rgb_strided_to_l_avx2(data: &[u8], stride: usize, out: &mut [u8]) {
    if stride == 3 {
        let done = x86::rgb3_to_l_madd(data, out);
        return rgb_strided_to_l_kernel(&data[3 * done..], 3, &mut out[done..]);
    }
    rgb_strided_to_l_kernel(data, stride, out)
}

/// Pillow's `L24` with 16-bit multiply-adds.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// [`super::rgb_to_l`] of as many whole groups of 16 pixels of `data` (RGB, 3 bytes each)
    /// as fit, into `out`; returns how many pixels it converted.
    ///
    /// `vpmaddwd` multiplies pairs of `i16`: (R, G) by (19595, 38470 − 65536) and (B, 2) by
    /// (7471, 16384), and the dword holding (R, G) is `R + 65536·G`, whose high half adds the
    /// missing `65536·G`. So `19595 R + 38470 G + 7471 B + 32768` is computed exactly in `i32`
    /// (it is below 2^24), then shifted: the same integer as Pillow's, for every pixel (the test
    /// tries all 2^24 colours). The compiler's own vectorisation of the formula used 32-bit
    /// multiplies (4 µops each on the CPUs measured).
    #[target_feature(enable = "avx2")]
    pub(super) fn rgb3_to_l_madd(data: &[u8], out: &mut [u8]) -> usize {
        let n = out.len().min(data.len() / 3);
        // A group reads 24 + 32 bytes from its start (two 8-pixel loads of 32 bytes): stop
        // while the second load stays inside `data`.
        let groups = if data.len() >= 56 {
            ((data.len() - 56) / 48 + 1).min(n / 16)
        } else {
            0
        };
        // Dwords 0..2 (pixels 0..3) into the low 128-bit lane, 3..5 (pixels 4..7) into the
        // high one.
        let spread = _mm256_setr_epi32(0, 1, 2, 3, 3, 4, 5, 6);
        let z = -1i8; // pshufb writes zero
                      // Per lane, pixel i's R and G to the low bytes of its two words, and its B to the low
                      // byte of its first word.
        #[rustfmt::skip]
        let rg = _mm256_setr_epi8(
            0, z, 1, z, 3, z, 4, z, 6, z, 7, z, 9, z, 10, z,
            0, z, 1, z, 3, z, 4, z, 6, z, 7, z, 9, z, 10, z,
        );
        #[rustfmt::skip]
        let b = _mm256_setr_epi8(
            2, z, z, z, 5, z, z, z, 8, z, z, z, 11, z, z, z,
            2, z, z, z, 5, z, z, z, 8, z, z, z, 11, z, z, z,
        );
        let two = _mm256_set1_epi32(2 << 16);
        let w_rg = _mm256_set1_epi32((19595 & 0xFFFF) | ((38470 - 65536) << 16));
        let w_b = _mm256_set1_epi32(7471 | (16384 << 16));
        let g_high = _mm256_set1_epi32(0xFFFF_0000u32 as i32);
        let eight = |p: *const u8| {
            // SAFETY: the caller keeps `p..p + 32` inside `data`.
            let v = unsafe { _mm256_loadu_si256(p.cast()) };
            let v = _mm256_permutevar8x32_epi32(v, spread);
            let pair_rg = _mm256_shuffle_epi8(v, rg);
            let pair_b = _mm256_or_si256(_mm256_shuffle_epi8(v, b), two);
            let sum = _mm256_add_epi32(
                _mm256_add_epi32(
                    _mm256_madd_epi16(pair_rg, w_rg),
                    _mm256_madd_epi16(pair_b, w_b),
                ),
                _mm256_and_si256(pair_rg, g_high),
            );
            _mm256_srli_epi32::<16>(sum)
        };
        for g in 0..groups {
            let p = data[48 * g..].as_ptr();
            // SAFETY: 48 g + 24 + 32 <= data.len() by the choice of `groups`.
            let (lo, hi) = (eight(p), eight(unsafe { p.add(24) }));
            // Two dword vectors to 16 ordered bytes: pack to words (per lane), put the 64-bit
            // chunks back in pixel order, pack to bytes, take each lane's low 8 bytes.
            let words = _mm256_permute4x64_epi64::<0b11_01_10_00>(_mm256_packus_epi32(lo, hi));
            let bytes = _mm256_packus_epi16(words, words);
            let bytes = _mm256_permute4x64_epi64::<0b00_00_10_00>(bytes);
            // SAFETY: 16 g + 16 <= n <= out.len().
            unsafe {
                _mm_storeu_si128(
                    out[16 * g..].as_mut_ptr().cast(),
                    _mm256_castsi256_si128(bytes),
                )
            };
        }
        groups * 16
    }
}

#[inline(always)]
fn rgb_strided_to_l_kernel(data: &[u8], stride: usize, out: &mut [u8]) {
    match stride {
        3 => rgb3_to_l(data, out),
        4 => rgb4_to_l(data, out),
        _ => {
            for (d, p) in out.iter_mut().zip(data.chunks_exact(stride)) {
                *d = rgb_to_l(p[0], p[1], p[2]);
            }
        }
    }
}

/// [`rgb_strided_to_l`] for a stride known at compile time: blocks of 16 pixels read as a
/// fixed-size array, which the compiler turns into vector arithmetic.
macro_rules! rgb_to_l_fixed {
    ($name:ident, $s:expr) => {
        #[inline(always)]
        fn $name(data: &[u8], out: &mut [u8]) {
            const B: usize = 16;
            let blocks = out.len() / B;
            for (o, p) in out[..blocks * B]
                .chunks_exact_mut(B)
                .zip(data.chunks_exact(B * $s))
            {
                let p: &[u8; B * $s] = p.try_into().expect("a block");
                for (i, d) in o.iter_mut().enumerate() {
                    let (r, g, b) = (p[i * $s] as u32, p[i * $s + 1] as u32, p[i * $s + 2] as u32);
                    *d = ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8;
                }
            }
            for (d, p) in out[blocks * B..]
                .iter_mut()
                .zip(data[blocks * B * $s..].chunks_exact($s))
            {
                *d = rgb_to_l(p[0], p[1], p[2]);
            }
        }
    };
}
rgb_to_l_fixed!(rgb3_to_l, 3);

/// Four-byte pixels as little-endian words: masks and shifts on whole lanes.
#[inline(always)]
fn rgb4_to_l(data: &[u8], out: &mut [u8]) {
    for (d, p) in out.iter_mut().zip(data.chunks_exact(4)) {
        let v = u32::from_le_bytes(p.try_into().expect("4 bytes"));
        let (r, g, b) = (v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF);
        *d = ((19595 * r + 38470 * g + 7471 * b + 0x8000) >> 16) as u8;
    }
}

/// An 8-bit greyscale plane with its dimensions: the shared input of the imagehash family.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LumaPlane {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
}

impl LumaPlane {
    /// Wraps a row-major plane; errors if a dimension is zero or the length is not `width * height`.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, Error> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidArgument(format!(
                "imagehash needs a non-empty image, got {width}x{height}"
            )));
        }
        if width.checked_mul(height) != Some(pixels.len()) {
            return Err(Error::InvalidPixels(format!(
                "{width}x{height} plane needs {} bytes, got {}",
                width as u128 * height as u128,
                pixels.len()
            )));
        }
        Ok(LumaPlane {
            width,
            height,
            pixels,
        })
    }

    /// PIL's `convert('L')` of a decoded image; errors on an empty image.
    pub fn from_image(img: &Image) -> Result<Self, Error> {
        LumaPlane::new(img.width() as usize, img.height() as usize, pil_luma(img))
    }

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The grey samples, row-major.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pillow_l24_values() {
        // Values from Pillow 13: Image.new('RGB', (1,1), c).convert('L').getpixel((0,0)).
        assert_eq!(rgb_to_l(255, 255, 255), 255);
        assert_eq!(rgb_to_l(0, 0, 0), 0);
        assert_eq!(rgb_to_l(255, 0, 0), 76);
        assert_eq!(rgb_to_l(0, 255, 0), 150);
        assert_eq!(rgb_to_l(0, 0, 255), 29);
        assert_eq!(rgb_to_l(200, 30, 90), 88);
        assert_eq!(rgb_to_l(1, 2, 3), 2);
    }

    /// The AVX2 kernel equals the formula for every RGB colour (all 2^24, 65,536 per call, so
    /// each call also ends in a scalar tail) and on every length up to 70 bytes.
    #[test]
    fn every_colour_converts_like_the_formula() {
        let mut row = Vec::with_capacity(3 * 65_536 + 1);
        let mut got = vec![0u8; 65_536];
        for r in 0..=255u8 {
            row.clear();
            for g in 0..=255u8 {
                for b in 0..=255u8 {
                    row.extend_from_slice(&[r, g, b]);
                }
            }
            // One odd pixel short, so that the last group and the tail both run.
            let n = 65_535 - usize::from(r % 2);
            rgb_strided_to_l_into(&row[..3 * n], 3, &mut got[..n]);
            for (i, (&l, p)) in got[..n].iter().zip(row.chunks_exact(3)).enumerate() {
                assert_eq!(l, rgb_to_l(p[0], p[1], p[2]), "pixel {i} of red {r}: {p:?}");
            }
        }
        for len in 0..70 {
            let data: Vec<u8> = (0..3 * len).map(|i| (i * 97 % 256) as u8).collect();
            let mut out = vec![0u8; len];
            rgb_strided_to_l_into(&data, 3, &mut out);
            let want: Vec<u8> = data
                .chunks_exact(3)
                .map(|p| rgb_to_l(p[0], p[1], p[2]))
                .collect();
            assert_eq!(out, want, "{len} pixels");
        }
    }

    #[test]
    fn gray16_clips_like_i16_to_l() {
        let img = Image::new(4, 1, Layout::Gray16(vec![0, 254, 300, 65535])).unwrap();
        assert_eq!(pil_luma(&img), vec![0, 254, 255, 255]);
    }

    #[test]
    fn plane_validation() {
        assert!(LumaPlane::new(0, 5, vec![]).is_err());
        assert!(LumaPlane::new(2, 2, vec![0; 3]).is_err());
        let empty = Image::new(0, 0, Layout::Gray8(vec![])).unwrap();
        assert!(LumaPlane::from_image(&empty).is_err());
    }
}
