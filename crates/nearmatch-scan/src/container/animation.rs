//! Animations: the frames of animated GIF, APNG and animated WebP files, each as a viewer shows
//! it (composited onto the canvas, disposal applied), so a known picture shown for one frame of a
//! GIF is found. Frame 0 is the file's own image and its own record; frames 1, 2, … become child
//! records (`anim.gif!/frame/1`).

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, Frames, ImageDecoder};
use nearmatch::decode::{Format, Limits};
use nearmatch::pixels::{Image, Layout};

use super::{ContainerError, Next};

/// Whether an image file of `format` holds more than one frame: a GIF with a second image
/// descriptor, a PNG with an `acTL` chunk before its image data, a WebP whose `VP8X` header sets
/// the animation flag. Reads headers only.
///
/// ```
/// use nearmatch::decode::Format;
/// // A PNG signature followed directly by IDAT: a still image.
/// let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
/// png.extend_from_slice(&[0, 0, 0, 0]);
/// png.extend_from_slice(b"IDAT");
/// assert!(!nearmatch_scan::container::is_animated(Format::Png, &png));
/// ```
pub fn is_animated(format: Format, bytes: &[u8]) -> bool {
    match format {
        Format::Gif => gif_images(bytes, 2) >= 2,
        Format::Png => png_has_actl(bytes),
        Format::WebP => bytes.len() > 20 && &bytes[12..16] == b"VP8X" && bytes[20] & 0x02 != 0,
        _ => false,
    }
}

/// Counts a GIF's image descriptors, stopping at `stop`.
fn gif_images(b: &[u8], stop: usize) -> usize {
    if b.len() < 13 || !b.starts_with(b"GIF8") {
        return 0;
    }
    let mut i = 13;
    if b[10] & 0x80 != 0 {
        i += 3 << ((b[10] & 7) + 1);
    }
    let skip_blocks = |mut i: usize| -> Option<usize> {
        loop {
            let n = *b.get(i)? as usize;
            i += 1 + n;
            if n == 0 {
                return Some(i);
            }
        }
    };
    let mut count = 0;
    while let Some(&tag) = b.get(i) {
        match tag {
            0x21 => match skip_blocks(i + 2) {
                Some(next) => i = next,
                None => break,
            },
            0x2c => {
                count += 1;
                if count >= stop {
                    break;
                }
                let Some(&packed) = b.get(i + 9) else { break };
                i += 10;
                if packed & 0x80 != 0 {
                    i += 3 << ((packed & 7) + 1);
                }
                // LZW minimum code size, then the data sub-blocks.
                match skip_blocks(i + 1) {
                    Some(next) => i = next,
                    None => break,
                }
            }
            _ => break,
        }
    }
    count
}

fn png_has_actl(b: &[u8]) -> bool {
    let mut i = 8;
    while i + 8 <= b.len() {
        let len = u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]) as usize;
        match &b[i + 4..i + 8] {
            b"acTL" => return true,
            b"IDAT" | b"IEND" => return false,
            _ => {}
        }
        i = match i.checked_add(12).and_then(|j| j.checked_add(len)) {
            Some(j) => j,
            None => return false,
        };
    }
    false
}

/// The decoder limits for the frames of an animation whose canvas is `(w, h)`: each frame's
/// buffers may take four times the canvas as RGBA (at least 64 MiB), within `limits`.
///
/// Why: a frame descriptor may claim any size up to 65,535 x 65,535 whatever the canvas; found
/// by the `image_frames` fuzzer, a 1.6 KB GIF with a 12 x 10 canvas made the decoder allocate
/// 3.6 GB for one frame. Real frames lie within their canvas (APNG and WebP require it; GIF
/// encoders keep to it), so the margin only refuses bombs.
fn frame_limits((w, h): (u32, u32), limits: &Limits) -> image::Limits {
    let canvas = u64::from(w) * u64::from(h) * 4;
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_width);
    l.max_image_height = Some(limits.max_height);
    l.max_alloc = Some(
        canvas
            .saturating_mul(4)
            .max(64 << 20)
            .min(limits.max_alloc_bytes),
    );
    l
}

/// Decodes the frames of an animated image in order, calling `visit` with each frame's number
/// (from 0) and pixels (alpha dropped, as for still images), until the frames end or `visit`
/// stops. A canvas beyond `limits` is refused before any frame is decoded; a damaged frame ends
/// the animation with an error (the frames before it were visited).
pub fn animation_frames(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
    visit: &mut dyn FnMut(u64, Image) -> Next,
) -> Result<(), ContainerError> {
    // A decoder's refusal to allocate is a limit, not damage: the file may be a bomb.
    let fail = |e: image::ImageError| match e {
        image::ImageError::Limits(_) => ContainerError::Limit(format!("animation frames: {e}")),
        _ => ContainerError::Corrupt(format!("animation frames: {e}")),
    };
    let check = |(w, h): (u32, u32)| {
        limits
            .check(w, h)
            .map_err(|e| ContainerError::Limit(format!("animation canvas: {e}")))
    };
    let frames: Frames<'_> = match format {
        Format::Gif => {
            let mut d = GifDecoder::new(Cursor::new(bytes)).map_err(fail)?;
            check(d.dimensions())?;
            d.set_limits(frame_limits(d.dimensions(), limits))
                .map_err(fail)?;
            d.into_frames()
        }
        Format::Png => {
            let mut d = PngDecoder::new(Cursor::new(bytes)).map_err(fail)?;
            check(d.dimensions())?;
            d.set_limits(frame_limits(d.dimensions(), limits))
                .map_err(fail)?;
            d.apng().map_err(fail)?.into_frames()
        }
        Format::WebP => {
            let mut d = WebPDecoder::new(Cursor::new(bytes)).map_err(fail)?;
            check(d.dimensions())?;
            d.set_limits(frame_limits(d.dimensions(), limits))
                .map_err(fail)?;
            d.into_frames()
        }
        other => {
            return Err(ContainerError::Unsupported(format!(
                "{} files have no animation frames",
                other.name()
            )))
        }
    };
    for (n, frame) in frames.enumerate() {
        let buffer = frame.map_err(fail)?.into_buffer();
        let (w, h) = buffer.dimensions();
        let rgb: Vec<u8> = buffer
            .into_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let image = Image::new(w, h, Layout::Rgb8(rgb))
            .map_err(|e| ContainerError::Corrupt(format!("animation frame {n}: {e}")))?;
        if let Next::Stop(_) = visit(n as u64, image) {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal GIF: header, 1x1 canvas without a colour table, `images` image descriptors.
    fn gif(images: usize) -> Vec<u8> {
        let mut b = b"GIF89a\x01\x00\x01\x00\x00\x00\x00".to_vec();
        for _ in 0..images {
            // Graphic control extension, then an image descriptor with one data block.
            b.extend_from_slice(&[0x21, 0xf9, 4, 0, 10, 0, 0, 0]);
            b.extend_from_slice(&[0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0, 2, 2, 0x4c, 0x01, 0]);
        }
        b.push(0x3b);
        b
    }

    #[test]
    fn a_frame_far_beyond_its_canvas_is_refused_as_a_limit() {
        // 12 x 10 canvas with a two-colour table; a 1 x 1 frame, then one claiming 65,535 x
        // 13,891 pixels (3.6 GB as RGBA) on a few bytes of data, as the fuzzer found.
        let mut b = b"GIF89a\x0c\x00\x0a\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff".to_vec();
        for (w, h) in [(1u16, 1u16), (65_535, 13_891)] {
            b.extend_from_slice(&[0x21, 0xf9, 4, 0, 10, 0, 0, 0, 0x2c, 0, 0, 0, 0]);
            b.extend_from_slice(&w.to_le_bytes());
            b.extend_from_slice(&h.to_le_bytes());
            b.extend_from_slice(&[0, 2, 2, 0x4c, 0x01, 0]);
        }
        b.push(0x3b);
        let mut seen = Vec::new();
        let err = animation_frames(Format::Gif, &b, &Limits::default(), &mut |n, _| {
            seen.push(n);
            Next::Continue
        })
        .unwrap_err();
        assert!(matches!(err, ContainerError::Limit(_)), "{err:?}");
        assert_eq!(seen, [0], "the frame before the bomb is still visited");
    }

    #[test]
    fn animation_is_told_from_headers() {
        assert!(!is_animated(Format::Gif, &gif(1)));
        assert!(is_animated(Format::Gif, &gif(2)));
        assert!(!is_animated(Format::Gif, &gif(2)[..20]));
        let mut webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\x02\0\0\0".to_vec();
        webp.extend_from_slice(&[0; 8]);
        assert!(is_animated(Format::WebP, &webp));
        webp[20] = 0;
        assert!(!is_animated(Format::WebP, &webp));
        assert!(!is_animated(Format::Jpeg, &gif(3)));
    }
}
