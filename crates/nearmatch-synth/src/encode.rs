//! Encoders for generated images: PNG (lossless, for exact-hash fixtures) and JPEG (baseline, with
//! the chroma subsampling cameras and Pillow use by default).
//!
//! Both are pure Rust with pinned versions, so the same image always encodes to the same bytes.

use nearmatch::pixels::{Image, Layout};

/// JPEG chroma subsampling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subsampling {
    /// 4:4:4, full-resolution chroma.
    S444,
    /// 4:2:2, chroma halved horizontally.
    S422,
    /// 4:2:0, chroma halved both ways (libjpeg's, Pillow's and most cameras' default).
    S420,
}

impl Subsampling {
    /// The conventional name (`4:4:4`, `4:2:2`, `4:2:0`).
    pub fn name(self) -> &'static str {
        match self {
            Subsampling::S444 => "4:4:4",
            Subsampling::S422 => "4:2:2",
            Subsampling::S420 => "4:2:0",
        }
    }
}

/// Encodes an image as PNG: 8-bit RGB or grey, or 16-bit grey, as its layout is.
///
/// Infallible for every image `generate` makes; an image the PNG format cannot hold (a zero side)
/// yields an empty vector.
pub fn encode_png(img: &Image) -> Vec<u8> {
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    use image::{ExtendedColorType, ImageEncoder};
    let mut out = Vec::new();
    let enc =
        PngEncoder::new_with_quality(&mut out, CompressionType::Default, FilterType::Adaptive);
    let (w, h) = (img.width(), img.height());
    let res = match img.layout() {
        Layout::Rgb8(v) => enc.write_image(v, w, h, ExtendedColorType::Rgb8),
        Layout::Gray8(v) => enc.write_image(v, w, h, ExtendedColorType::L8),
        Layout::Gray16(v) => {
            // PNG stores 16-bit samples big-endian; the encoder expects native-endian u16 bytes.
            let bytes: Vec<u8> = v.iter().flat_map(|s| s.to_ne_bytes()).collect();
            enc.write_image(&bytes, w, h, ExtendedColorType::L16)
        }
    };
    if res.is_err() {
        out.clear();
    }
    out
}

/// Encodes an image as baseline JPEG at `quality` (1–100) with 4:2:0 chroma subsampling.
pub fn encode_jpeg(img: &Image, quality: u8) -> Vec<u8> {
    encode_jpeg_with(img, quality, Subsampling::S420)
}

/// Encodes an image as baseline JPEG at `quality` (1–100) with the given chroma subsampling;
/// grey images become single-channel JPEGs (subsampling then does not apply).
///
/// Empty for images JPEG cannot hold (a zero side or a side over 65,535).
pub fn encode_jpeg_with(img: &Image, quality: u8, subsampling: Subsampling) -> Vec<u8> {
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};
    let (Ok(w), Ok(h)) = (u16::try_from(img.width()), u16::try_from(img.height())) else {
        return Vec::new();
    };
    if w == 0 || h == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, quality.clamp(1, 100));
    enc.set_sampling_factor(match subsampling {
        Subsampling::S444 => SamplingFactor::F_1_1,
        Subsampling::S422 => SamplingFactor::F_2_1,
        Subsampling::S420 => SamplingFactor::F_2_2,
    });
    let res = match img.layout() {
        Layout::Rgb8(v) => enc.encode(v, w, h, ColorType::Rgb),
        Layout::Gray8(v) => enc.encode(v, w, h, ColorType::Luma),
        Layout::Gray16(v) => {
            let hi: Vec<u8> = v.iter().map(|s| (s >> 8) as u8).collect();
            enc.encode(&hi, w, h, ColorType::Luma)
        }
    };
    if res.is_err() {
        out.clear();
    }
    out
}
