//! Early size reduction for hashes that shrink the image anyway (the fast hashing mode).
//!
//! PDQ blurs and samples down to 64x64 and the imagehash family resizes to at most 32x32, so a
//! 12 MP photo carries about 40 times more pixels than either needs. JPEG is decoded at 1/2, 1/4
//! or 1/8 scale by the decoder's scaled IDCT (libjpeg-turbo or `jpeg-decoder`), which skips most
//! of the decoding work; other formats are decoded in full and then box-averaged by an integer
//! factor, which saves the hash stages (luma, tent filter, Lanczos) though not the decode.
//!
//! The result is *not* the pixels any reference hashes, so hashes made from it differ from the
//! reference by a few bits (measured in the notes on issue #8); the exact mode never comes here.
//!
//! ```
//! use nearmatch::decode::{decode_reduced, Limits};
//! use nearmatch_synth::{encode_jpeg, generate, Scene};
//! let jpg = encode_jpeg(&generate(Scene::Landscape, 1200, 900, 3), 90);
//! let r = decode_reduced(&jpg, 256, &Limits::default()).unwrap();
//! // 1/2 keeps both sides >= 256 (600x450); 1/4 would not (300x225).
//! assert_eq!(r.scale, 2);
//! assert_eq!((r.decoded.image.width(), r.decoded.image.height()), (600, 450));
//! assert_eq!(r.full_dimensions, (1200, 900));
//! ```

use super::{dimensions, guarded, jpeg, not_an_image, sniff, Decoded, Format, Limits};
use crate::error::Result;
use crate::pixels::{Image, Layout};

/// A decode reduced for hashing: the pixels, the original size and the reduction applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reduced {
    /// The reduced pixels (and the sniffed format).
    pub decoded: Decoded,
    /// Width and height in the file's header (before any reduction).
    pub full_dimensions: (u32, u32),
    /// The reduction factor: each side is `ceil(side / scale)`; 1 means full size.
    pub scale: u32,
}

/// JPEG's scaled-IDCT denominators, largest first.
const JPEG_SCALES: [u32; 3] = [8, 4, 2];

/// The largest JPEG IDCT scale (8, 4, 2, or 1 for none) that keeps both sides at least
/// `min_side`.
pub fn jpeg_scale_for(width: u32, height: u32, min_side: u32) -> u32 {
    JPEG_SCALES
        .into_iter()
        .find(|&d| width.div_ceil(d) >= min_side && height.div_ceil(d) >= min_side)
        .unwrap_or(1)
}

/// The largest integer box factor (1 for none) that keeps both sides at least `min_side`.
pub fn box_factor_for(width: u32, height: u32, min_side: u32) -> u32 {
    let short = width.min(height);
    if min_side == 0 {
        return 1;
    }
    // ceil(short / k) >= min_side  <=>  k <= (short - 1) / (min_side - 1) for min_side > 1.
    let k = if min_side == 1 {
        short
    } else {
        short.saturating_sub(1) / (min_side - 1)
    };
    let mut k = k.max(1);
    while k > 1 && short.div_ceil(k) < min_side {
        k -= 1;
    }
    k
}

/// Decodes `bytes` reduced so that both sides stay at least `min_side` pixels (images already
/// smaller are decoded at full size, `scale` 1).
///
/// Errors as [`super::decode`]. The limits are checked on the header's dimensions for non-JPEG
/// formats (they are decoded in full) and on the scaled size for JPEG.
pub fn decode_reduced(bytes: &[u8], min_side: u32, limits: &Limits) -> Result<Reduced> {
    let format = sniff(bytes).ok_or_else(|| not_an_image(bytes))?;
    let (full, scale, image) = guarded(format, || {
        let (w, h) = dimensions(bytes, format)?;
        if format == Format::Jpeg {
            let d = jpeg_scale_for(w, h, min_side);
            // The limits protect memory: what matters is the scaled output.
            limits.check(w.div_ceil(d), h.div_ceil(d))?;
            let img = jpeg::decode(bytes, d as u8, limits)?;
            Ok(((w, h), d, img))
        } else {
            limits.check(w, h)?;
            let img = super::decode_with_image(bytes, format, limits)?;
            let k = box_factor_for(img.width(), img.height(), min_side);
            Ok(((w, h), k, box_reduce(img, k)))
        }
    })?;
    Ok(Reduced {
        decoded: Decoded { image, format },
        full_dimensions: full,
        scale,
    })
}

/// Averages `k x k` blocks (partial blocks at the right and bottom edges average what they
/// cover), rounding half up. 16-bit grey is left at full size (rare, and the hashes reduce it
/// differently anyway).
pub fn box_reduce(img: Image, k: u32) -> Image {
    if k <= 1 {
        return img;
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let k = k as usize;
    let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
    let (layout, ch) = match img.layout() {
        Layout::Rgb8(_) => (true, 3),
        Layout::Gray8(_) => (false, 1),
        Layout::Gray16(_) => return img,
    };
    let src: &[u8] = match img.layout() {
        Layout::Rgb8(v) | Layout::Gray8(v) => v,
        Layout::Gray16(_) => unreachable!("returned above"),
    };
    let mut out = Vec::with_capacity(ow * oh * ch);
    // Column sums of one band of up to k rows, then horizontal sums of k columns.
    let mut band = vec![0u32; w * ch];
    for by in 0..oh {
        let y0 = by * k;
        let rows = k.min(h - y0);
        band.fill(0);
        for y in y0..y0 + rows {
            let line = &src[y * w * ch..(y + 1) * w * ch];
            for (b, &v) in band.iter_mut().zip(line) {
                *b += u32::from(v);
            }
        }
        for bx in 0..ow {
            let x0 = bx * k;
            let cols = k.min(w - x0);
            let n = (rows * cols) as u32;
            for c in 0..ch {
                let mut s = 0u32;
                for x in x0..x0 + cols {
                    s += band[x * ch + c];
                }
                out.push(((s + n / 2) / n) as u8);
            }
        }
    }
    let layout = if layout {
        Layout::Rgb8(out)
    } else {
        Layout::Gray8(out)
    };
    Image::new(ow as u32, oh as u32, layout).expect("sizes computed above")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_scale_is_the_largest_that_keeps_min_side() {
        assert_eq!(jpeg_scale_for(4000, 3000, 256), 8); // 500x375
        assert_eq!(jpeg_scale_for(1024, 768, 256), 2); // 512x384; 1/4 = 256x192
        assert_eq!(jpeg_scale_for(640, 480, 256), 1); // 1/2 = 320x240
        assert_eq!(jpeg_scale_for(2048, 2048, 256), 8); // exactly 256
        assert_eq!(jpeg_scale_for(2047, 2047, 256), 8); // ceil(2047/8) = 256
        assert_eq!(jpeg_scale_for(2040, 2040, 256), 4); // 255 at 1/8
        assert_eq!(jpeg_scale_for(5000, 200, 256), 1); // the short side decides
    }

    #[test]
    fn box_factor_keeps_min_side() {
        for short in [1u32, 5, 255, 256, 511, 512, 513, 767, 768, 1000, 3000] {
            for min in [1u32, 64, 256] {
                let k = box_factor_for(short * 2, short, min);
                assert!(k >= 1);
                if short >= min {
                    assert!(short.div_ceil(k) >= min, "short {short} min {min} k {k}");
                    if min > 1 {
                        assert!(short.div_ceil(k + 1) < min, "short {short} min {min} k {k}");
                    }
                } else {
                    assert_eq!(k, 1);
                }
            }
        }
    }

    #[test]
    fn box_reduce_averages_blocks_and_partial_edges() {
        // 5x3 grey, k = 2: blocks {2x2, 2x2, 1x2} over rows 0-1 and {2x1, 2x1, 1x1} in row 2.
        let px: Vec<u8> = (0..15).map(|i| (i * 10) as u8).collect();
        let img = Image::new(5, 3, Layout::Gray8(px.clone())).unwrap();
        let r = box_reduce(img, 2);
        assert_eq!((r.width(), r.height()), (3, 2));
        let at = |x: usize, y: usize| px[y * 5 + x] as u32;
        let mean =
            |v: &[u32]| ((v.iter().sum::<u32>() + v.len() as u32 / 2) / v.len() as u32) as u8;
        let want = vec![
            mean(&[at(0, 0), at(1, 0), at(0, 1), at(1, 1)]),
            mean(&[at(2, 0), at(3, 0), at(2, 1), at(3, 1)]),
            mean(&[at(4, 0), at(4, 1)]),
            mean(&[at(0, 2), at(1, 2)]),
            mean(&[at(2, 2), at(3, 2)]),
            mean(&[at(4, 2)]),
        ];
        assert_eq!(r.layout(), &Layout::Gray8(want));
    }
}
