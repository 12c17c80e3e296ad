//! JPEG decoding: libjpeg-turbo (feature `turbojpeg`) or the pure-Rust `jpeg-decoder`.
//!
//! Why libjpeg-turbo: it is what Pillow decodes with, and hashes are only reproducible on the
//! same pixels. Measured on 40 synthetic JPEGs (4:2:0, 4:2:2, 4:4:4, grey, progressive, quality
//! 50–95, 64–1024 px): libjpeg-turbo 40/40 images identical to Pillow 13; `jpeg-decoder` 0/40
//! (5.5% of samples differ, max 4 levels); `image`'s zune-jpeg 0/40 (11.4%, max 39 levels).
//!
//! CMYK: Pillow always assumes Adobe polarity (`CMYK;I`: stored values inverted) and then applies
//! its own CMYK → RGB formula; both backends are brought to that.

use super::cmyk_to_rgb;
use super::Limits;
use crate::error::{Error, Result};
use crate::pixels::{Image, Layout};

fn decode_error(reason: impl std::fmt::Display) -> Error {
    Error::Decode {
        format: "jpeg",
        reason: reason.to_string(),
    }
}

#[cfg(feature = "turbojpeg")]
pub(super) use turbo::dimensions;

#[cfg(not(feature = "turbojpeg"))]
pub(super) use pure::dimensions;

/// Decodes at 1/`scale_denom` size (the caller has checked the limits on the header). JPEGs of
/// more than 8 bits a sample are refused first ([`Error::Unsupported`] naming the precision):
/// Pillow refuses them at open ("cannot handle 12-bit layers"), so no reference hash exists,
/// and an 8-bit decode of them would be a garbled picture.
pub(super) fn decode(bytes: &[u8], scale_denom: u8, limits: &Limits) -> Result<Image> {
    if let Some(bits @ 9..) = frame_precision(bytes) {
        return Err(Error::Unsupported {
            format: "jpeg",
            feature: format!(
                "{bits}-bit JPEG ({bits} bits a sample; Pillow cannot open it either, and \
                 nearmatch hashes 8-bit pictures)"
            ),
        });
    }
    #[cfg(feature = "turbojpeg")]
    return turbo::decode(bytes, scale_denom, limits);
    #[cfg(not(feature = "turbojpeg"))]
    return pure::decode(bytes, scale_denom, limits);
}

/// The sample precision (bits) of a JPEG's frame header (SOF0-SOF15), found by walking the
/// marker segments from SOI; `None` when there is none before the data or the file is cut.
pub(super) fn frame_precision(bytes: &[u8]) -> Option<u8> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    loop {
        // Fill bytes (0xFF runs) may precede a marker.
        while *bytes.get(i)? == 0xFF && *bytes.get(i + 1)? == 0xFF {
            i += 1;
        }
        if *bytes.get(i)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(i + 1)?;
        match marker {
            // SOFn, except DHT (C4), JPG (C8) and DAC (CC), which share the range.
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) => {
                return bytes.get(i + 4).copied();
            }
            // Start of scan or end of image before any frame header.
            0xDA | 0xD9 => return None,
            // Standalone markers (TEM, RSTn) carry no length.
            0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let len = u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]) as usize;
                i = i.checked_add(2 + len)?;
            }
        }
    }
}

#[cfg(feature = "turbojpeg")]
mod turbo {
    use super::*;
    use turbojpeg::{Colorspace, Decompressor, PixelFormat, ScalingFactor};

    fn tj_error(e: turbojpeg::Error) -> Error {
        decode_error(e)
    }

    /// (width, height) from the JPEG header.
    pub(in crate::decode) fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
        let mut d = Decompressor::new().map_err(tj_error)?;
        let h = d.read_header(bytes).map_err(tj_error)?;
        Ok((to_u32(h.width)?, to_u32(h.height)?))
    }

    fn to_u32(v: usize) -> Result<u32> {
        u32::try_from(v).map_err(|_| decode_error(format!("dimension {v} out of range")))
    }

    /// Decodes at 1/`scale_denom` size (the caller has checked the limits on the header).
    pub(in crate::decode) fn decode(
        bytes: &[u8],
        scale_denom: u8,
        _limits: &Limits,
    ) -> Result<Image> {
        let mut d = Decompressor::new().map_err(tj_error)?;
        let header = d.read_header(bytes).map_err(tj_error)?;
        let header = if scale_denom > 1 {
            let f = ScalingFactor::new(1, scale_denom as usize);
            d.set_scaling_factor(f).map_err(tj_error)?;
            header.scaled(f)
        } else {
            header
        };
        let (format, channels) = match header.colorspace {
            Colorspace::Gray => (PixelFormat::GRAY, 1),
            Colorspace::CMYK | Colorspace::YCCK => (PixelFormat::CMYK, 4),
            Colorspace::RGB | Colorspace::YCbCr => (PixelFormat::RGB, 3),
        };
        let (w, h) = (header.width, header.height);
        let len = w
            .checked_mul(h)
            .and_then(|p| p.checked_mul(channels))
            .ok_or_else(|| decode_error("image too large"))?;
        let mut out = turbojpeg::Image {
            pixels: vec![0u8; len],
            width: w,
            pitch: w * channels,
            height: h,
            format,
        };
        if let Err(e) = d.decompress(bytes, out.as_deref_mut()) {
            // libjpeg-turbo reports warnings (e.g. "extraneous bytes before marker") as errors
            // after filling the whole buffer. Pillow ignores them and only fails on truncated
            // data, so do the same: the libjpeg messages for running out of data both say
            // "premature end". Any other failure before the first row is fatal anyway and is
            // reported by libjpeg-turbo with a different message, so this only relaxes warnings.
            let msg = e.to_string();
            if msg.to_ascii_lowercase().contains("premature end") || !is_warning(&msg) {
                return Err(decode_error(msg));
            }
        }
        let layout = match channels {
            1 => Layout::Gray8(out.pixels),
            3 => Layout::Rgb8(out.pixels),
            _ => {
                // libjpeg returns the stored CMYK; Pillow's "CMYK;I" raw mode inverts it.
                let mut px = out.pixels;
                px.iter_mut().for_each(|v| *v = 255 - *v);
                Layout::Rgb8(cmyk_to_rgb(&px))
            }
        };
        Image::new(to_u32(w)?, to_u32(h)?, layout)
    }

    /// libjpeg's warning messages (JWRN_* in jerror.h) that leave a fully decoded image.
    fn is_warning(msg: &str) -> bool {
        const WARNINGS: &[&str] = &[
            "Corrupt JPEG data",
            "Invalid SOS parameters for sequential JPEG",
            "Inconsistent progression sequence",
            "Application transferred too few scanlines",
            "Unknown Adobe color transform code",
            "Warning: unknown JFIF revision number",
            "Warning: thumbnail image size does not match data length",
            "JFIF extension marker",
        ];
        WARNINGS.iter().any(|w| msg.contains(w))
    }
}

#[cfg_attr(feature = "turbojpeg", allow(dead_code))]
mod pure {
    use super::*;
    use jpeg_decoder::{Decoder, PixelFormat};

    /// (width, height) from the JPEG header.
    pub(in crate::decode) fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
        let mut d = Decoder::new(bytes);
        d.read_info().map_err(decode_error)?;
        let info = d.info().ok_or_else(|| decode_error("no frame header"))?;
        Ok((info.width as u32, info.height as u32))
    }

    /// Decodes at 1/`scale_denom` size (the caller has checked the limits on the header).
    pub(in crate::decode) fn decode(
        bytes: &[u8],
        scale_denom: u8,
        limits: &Limits,
    ) -> Result<Image> {
        let mut d = Decoder::new(bytes);
        d.set_max_decoding_buffer_size(
            usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX),
        );
        d.read_info().map_err(decode_error)?;
        if scale_denom > 1 {
            let info = d.info().ok_or_else(|| decode_error("no frame header"))?;
            let s = scale_denom as u16;
            d.scale(info.width.div_ceil(s), info.height.div_ceil(s))
                .map_err(decode_error)?;
        }
        let px = d.decode().map_err(decode_error)?;
        let info = d.info().ok_or_else(|| decode_error("no frame header"))?;
        let layout = match info.pixel_format {
            PixelFormat::L8 => Layout::Gray8(px),
            PixelFormat::L16 => Layout::Gray16(
                px.chunks_exact(2)
                    .map(|b| u16::from_be_bytes([b[0], b[1]]))
                    .collect(),
            ),
            PixelFormat::RGB24 => Layout::Rgb8(px),
            // jpeg-decoder already inverts to Adobe polarity, like Pillow's "CMYK;I".
            PixelFormat::CMYK32 => Layout::Rgb8(cmyk_to_rgb(&px)),
        };
        Image::new(info.width as u32, info.height as u32, layout)
    }
}

/// The pure-Rust backend, reachable for comparisons when the C one is compiled in.
#[cfg(all(test, feature = "turbojpeg"))]
pub(super) use pure::decode as decode_pure;
