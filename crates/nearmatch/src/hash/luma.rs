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

/// The image as PIL's `convert('L')` would give it, row-major, `width * height` bytes.
pub fn pil_luma(img: &Image) -> Vec<u8> {
    match img.layout() {
        Layout::Gray8(v) => v.clone(),
        Layout::Rgb8(v) => v
            .chunks_exact(3)
            .map(|p| rgb_to_l(p[0], p[1], p[2]))
            .collect(),
        Layout::Gray16(v) => v.iter().map(|&g| g.min(255) as u8).collect(),
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
