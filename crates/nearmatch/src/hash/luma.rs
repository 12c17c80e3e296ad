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
    rgb_strided_to_l_kernel(data, stride, out)
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
