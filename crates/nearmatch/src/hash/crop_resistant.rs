//! `imagehash.crop_resistant_hash`: segment the image into bright and dark regions, hash the
//! bounding box of each large region, and compare images by their best-matching segments
//! (Efficient Cropping-Resistant Robust Image Hashing, ARES 2014).
//!
//! The segmentation reproduces imagehash 4.3.2 step by step:
//!
//! 1. `convert('L')`, Lanczos resize to `segmentation_image_size` square (Pillow's resampler,
//!    [`crate::hash::resample`]), `ImageFilter.GaussianBlur()` (radius 2: three passes of
//!    Pillow's extended box blur in each direction, 8-bit fixed point) and
//!    `ImageFilter.MedianFilter()` (3×3, edges replicated);
//! 2. "hills" are the 4-connected components of pixels above `segment_threshold`, found in
//!    row-major order of their first pixel; then the "valleys" (the other pixels), likewise,
//!    until imagehash's loop condition stops: it counts the pixels it marked as segmented plus
//!    the `2·(w + h)` border sentinels, and a region of a single pixel never marks its pixel, so
//!    the last valleys may be skipped (and when no valley is left before the count is reached,
//!    imagehash fails with an `IndexError`: [`SegmentationError::Stalled`]);
//! 3. regions larger than `min_segment_size` pixels are kept; none kept means one segment
//!    spanning the whole image; `limit_segments` keeps the largest (a stable sort);
//! 4. each segment's bounding box is scaled to the original image and rounded half to even
//!    (Python's `round` in `Image.crop`), and that crop of the original is hashed.
//!
//! Matching (`ImageMultiHash`): a segment of one image matches when its nearest segment of the
//! other is within `hamming_cutoff` (default a quarter of the bits); images match when at least
//! `region_cutoff` segments do ([`matching_segments`]).
//!
//! ```
//! use nearmatch::hash::crop_resistant::{crop_resistant_hash, CropResistantOptions};
//! use nearmatch::hash::imagehash::ImagehashSpec;
//! use nearmatch::hash::luma::LumaPlane;
//! use nearmatch::hash::resample::PillowVersion;
//! // A bright disc on a dark background: one hill, one valley around it.
//! let (w, h) = (120usize, 90usize);
//! let px: Vec<u8> = (0..w * h)
//!     .map(|i| {
//!         let (x, y) = ((i % w) as i64 - 60, (i / w) as i64 - 45);
//!         if x * x + y * y < 30 * 30 { 220 } else { 20 }
//!     })
//!     .collect();
//! let plane = LumaPlane::new(w, h, px).unwrap();
//! let spec = ImagehashSpec::Dhash { hash_size: 8 };
//! let opts = CropResistantOptions::default();
//! let hashes = crop_resistant_hash(&plane, &opts, &spec, PillowVersion::Pillow13).unwrap();
//! assert_eq!(hashes.len(), 2);
//! ```

use crate::error::Error;
use crate::hash::imagehash::{BitMatrix, ImagehashSpec};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::{resize_lanczos, PillowVersion};

/// Why a crop-resistant hash could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum SegmentationError {
    /// imagehash's valley loop ran out of pixels before its counter reached the image size
    /// (more single-pixel regions than border sentinels); imagehash raises `IndexError`.
    #[error("index 0 is out of bounds for axis 0 with size 0 (segmentation ran out of regions: {unmarked} pixels were never marked segmented)")]
    Stalled {
        /// Pixels of single-pixel regions, which imagehash never marks as segmented.
        unmarked: usize,
    },
    /// A segment's crop is empty and the hash function cannot hash an empty image.
    #[error("segment {index} crops to an empty image ({width}x{height})")]
    EmptyCrop {
        /// The segment's position in the output.
        index: usize,
        /// Crop width.
        width: usize,
        /// Crop height.
        height: usize,
    },
    /// Invalid options or pixels.
    #[error(transparent)]
    Core(#[from] Error),
}

/// `crop_resistant_hash`'s options (the hash function is passed separately).
#[derive(Clone, Debug, PartialEq)]
pub struct CropResistantOptions {
    /// `limit_segments`: keep only the largest segments; Python slice semantics (a negative
    /// value drops that many of the smallest); `None` (or 0) keeps all.
    pub limit_segments: Option<i64>,
    /// `segment_threshold`: pixels above it are "hills". The value numpy compares the
    /// float32 pixels with (a Python number is first rounded to float32).
    pub segment_threshold: f64,
    /// `min_segment_size`: regions of more pixels than this are hashed.
    pub min_segment_size: usize,
    /// `segmentation_image_size`: the side of the square the segmentation runs on.
    pub segmentation_image_size: usize,
}

impl Default for CropResistantOptions {
    fn default() -> Self {
        CropResistantOptions {
            limit_segments: None,
            segment_threshold: 128.0,
            min_segment_size: 500,
            segmentation_image_size: 300,
        }
    }
}

/// One segment: its pixel count and bounding box in segmentation-image coordinates
/// (inclusive rows and columns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Number of pixels (imagehash's `len(segment)`; 2 for the whole-image fallback).
    pub pixels: usize,
    /// First row.
    pub min_row: usize,
    /// Last row.
    pub max_row: usize,
    /// First column.
    pub min_col: usize,
    /// Last column.
    pub max_col: usize,
}

impl Segment {
    /// The crop box `(left, upper, right, lower)` in an original image of `w`×`h`, as imagehash
    /// computes it and `Image.crop` rounds it (half to even).
    pub fn crop_box(&self, w: usize, h: usize, seg_size: usize) -> (i64, i64, i64, i64) {
        let scale_w = w as f64 / seg_size as f64;
        let scale_h = h as f64 / seg_size as f64;
        let r = |v: f64| v.round_ties_even() as i64;
        (
            r(self.min_col as f64 * scale_w),
            r(self.min_row as f64 * scale_h),
            r((self.max_col + 1) as f64 * scale_w),
            r((self.max_row + 1) as f64 * scale_h),
        )
    }
}

/// Pillow's `_gaussian_blur_radius`: the extended-box radius for one of `passes` passes.
fn gaussian_box_radius(radius: f32, passes: i32) -> f32 {
    let sigma2: f32 = radius * radius / passes as f32;
    let big_l = (12.0 * sigma2 as f64 + 1.0).sqrt() as f32;
    let l = ((big_l as f64 - 1.0) / 2.0).floor() as f32;
    let mut a: f32 = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    a /= 6.0 * (sigma2 - (l + 1.0) * (l + 1.0));
    l + a
}

/// Pillow's `ImagingLineBoxBlur8` over one line.
fn box_blur_line(out: &mut [u8], line: &[u8], radius: usize, ww: u32, fw: u32) {
    let n = line.len();
    let lastx = n - 1;
    let edge_a = (radius + 1).min(n);
    let edge_b = n.saturating_sub(radius + 1);
    let px = |i: usize| u32::from(line[i]);
    let mut acc: u32 = px(0) * (radius as u32 + 1);
    for x in 0..edge_a.saturating_sub(1) {
        acc = acc.wrapping_add(px(x));
    }
    acc = acc.wrapping_add(px(lastx) * (radius + 1 - edge_a) as u32);
    let mv = |acc: &mut u32, sub: usize, add: usize| {
        *acc = acc.wrapping_add((i32::from(line[add]) - i32::from(line[sub])) as u32);
    };
    let save = |out: &mut [u8], x: usize, acc: u32, left: usize, right: usize| {
        let bulk = acc
            .wrapping_mul(ww)
            .wrapping_add((px(left) + px(right)).wrapping_mul(fw));
        out[x] = (bulk.wrapping_add(1 << 23) >> 24) as u8;
    };
    if edge_a <= edge_b {
        for x in 0..edge_a {
            mv(&mut acc, 0, x + radius);
            save(out, x, acc, 0, x + radius + 1);
        }
        for x in edge_a..edge_b {
            mv(&mut acc, x - radius - 1, x + radius);
            save(out, x, acc, x - radius - 1, x + radius + 1);
        }
        for x in edge_b..=lastx {
            mv(&mut acc, x - radius - 1, lastx);
            save(out, x, acc, x - radius - 1, lastx);
        }
    } else {
        for x in 0..edge_b {
            mv(&mut acc, 0, x + radius);
            save(out, x, acc, 0, x + radius + 1);
        }
        for x in edge_b..edge_a {
            mv(&mut acc, 0, lastx);
            save(out, x, acc, 0, lastx);
        }
        for x in edge_a..=lastx {
            mv(&mut acc, x - radius - 1, lastx);
            save(out, x, acc, x - radius - 1, lastx);
        }
    }
}

/// Pillow's `ImagingHorizontalBoxBlur` with a float radius, in place on `w`-wide rows.
fn box_blur_rows(plane: &mut [u8], w: usize, radius: f32) {
    let r = radius as usize; // (int) truncation, radius >= 0
    let ww = ((1u32 << 24) as f32 / (radius * 2.0 + 1.0)) as u32;
    let fw = ((1u32 << 24).wrapping_sub((r as u32 * 2 + 1).wrapping_mul(ww))) / 2;
    let mut out = vec![0u8; w];
    for row in plane.chunks_exact_mut(w) {
        box_blur_line(&mut out, row, r, ww, fw);
        row.copy_from_slice(&out);
    }
}

fn transpose(plane: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut t = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            t[x * h + y] = plane[y * w + x];
        }
    }
    t
}

/// `Image.filter(ImageFilter.GaussianBlur(radius))` on a mode `L` plane (Pillow's
/// `ImagingGaussianBlur` with 3 passes: horizontal passes, then vertical ones).
pub fn gaussian_blur(plane: &[u8], w: usize, h: usize, radius: f32) -> Vec<u8> {
    if radius == 0.0 || w == 0 || h == 0 {
        return plane.to_vec();
    }
    let passes = 3;
    let r = gaussian_box_radius(radius, passes);
    let mut out = plane.to_vec();
    if r != 0.0 {
        for _ in 0..passes {
            box_blur_rows(&mut out, w, r);
        }
        let mut t = transpose(&out, w, h);
        for _ in 0..passes {
            box_blur_rows(&mut t, h, r);
        }
        out = transpose(&t, h, w);
    }
    out
}

/// `Image.filter(ImageFilter.MedianFilter(3))` on a mode `L` plane: the median of each 3×3
/// window, the image's edge pixels replicated outwards.
///
/// The median of nine values is unique, so any exact method gives Pillow's result: here a
/// 19-exchange median network (Paeth's) applied to whole rows at once.
pub fn median3(plane: &[u8], w: usize, h: usize) -> Vec<u8> {
    if w == 0 || h == 0 {
        return Vec::new();
    }
    // Edge-replicated copy, one pixel wider on every side.
    let pw = w + 2;
    let mut pad = vec![0u8; pw * (h + 2)];
    for y in 0..h + 2 {
        let sy = y.saturating_sub(1).min(h - 1);
        let src = &plane[sy * w..(sy + 1) * w];
        let dst = &mut pad[y * pw..(y + 1) * pw];
        dst[0] = src[0];
        dst[1..=w].copy_from_slice(src);
        dst[w + 1] = src[w - 1];
    }
    let mut out = vec![0u8; w * h];
    let mut p: [Vec<u8>; 9] = std::array::from_fn(|_| vec![0u8; w]);
    for y in 0..h {
        for (k, pk) in p.iter_mut().enumerate() {
            let (dy, dx) = (k / 3, k % 3);
            pk.copy_from_slice(&pad[(y + dy) * pw + dx..][..w]);
        }
        // Each exchange puts the smaller value in the first slot, elementwise.
        let mut sort = |a: usize, b: usize| {
            let (lo, hi) = if a < b {
                let (l, r) = p.split_at_mut(b);
                (&mut l[a], &mut r[0])
            } else {
                let (l, r) = p.split_at_mut(a);
                (&mut r[0], &mut l[b])
            };
            for (x, y) in lo.iter_mut().zip(hi.iter_mut()) {
                let (mn, mx) = ((*x).min(*y), (*x).max(*y));
                *x = mn;
                *y = mx;
            }
        };
        for (a, b) in [
            (1, 2),
            (4, 5),
            (7, 8),
            (0, 1),
            (3, 4),
            (6, 7),
            (1, 2),
            (4, 5),
            (7, 8),
            (0, 3),
            (5, 8),
            (4, 7),
            (3, 6),
            (1, 4),
            (2, 5),
            (4, 7),
            (4, 2),
            (6, 4),
            (4, 2),
        ] {
            sort(a, b);
        }
        out[y * w..(y + 1) * w].copy_from_slice(&p[4]);
    }
    out
}

/// The filtered segmentation image: `convert('L')` resized to `size` square, Gaussian blur,
/// median filter.
pub fn segmentation_plane(
    luma: &LumaPlane,
    size: usize,
    pillow: PillowVersion,
) -> Result<Vec<u8>, Error> {
    let small = resize_lanczos(
        luma.pixels(),
        luma.width(),
        luma.height(),
        size,
        size,
        pillow,
    )?;
    let blurred = gaussian_blur(&small, size, size, 2.0);
    Ok(median3(&blurred, size, size))
}

/// imagehash's `_find_all_segments` on a filtered `w`×`h` plane: the kept regions in the order
/// imagehash finds them.
pub fn find_segments(
    plane: &[u8],
    w: usize,
    h: usize,
    threshold: f64,
    min_segment_size: usize,
) -> Result<Vec<Segment>, SegmentationError> {
    let n = w * h;
    let hill: Vec<bool> = plane.iter().map(|&p| f64::from(p) > threshold).collect();
    let mut assigned = vec![false; n];
    let mut stack = Vec::new();
    let mut segments = Vec::new();
    // imagehash's `len(already_segmented)`: the border sentinels, then every pixel of every
    // region of two or more pixels.
    let mut marked = 2 * (w + h);
    let mut unmarked = 0;
    let mut flood = |start: usize, class: bool, assigned: &mut Vec<bool>| {
        let mut seg = Segment {
            pixels: 0,
            min_row: start / w,
            max_row: start / w,
            min_col: start % w,
            max_col: start % w,
        };
        assigned[start] = true;
        stack.push(start);
        while let Some(i) = stack.pop() {
            seg.pixels += 1;
            let (r, c) = (i / w, i % w);
            seg.min_row = seg.min_row.min(r);
            seg.max_row = seg.max_row.max(r);
            seg.min_col = seg.min_col.min(c);
            seg.max_col = seg.max_col.max(c);
            let mut visit = |j: usize| {
                if !assigned[j] && hill[j] == class {
                    assigned[j] = true;
                    stack.push(j);
                }
            };
            if r > 0 {
                visit(i - w);
            }
            if r + 1 < h {
                visit(i + w);
            }
            if c > 0 {
                visit(i - 1);
            }
            if c + 1 < w {
                visit(i + 1);
            }
        }
        seg
    };
    // Hills: every component, whatever the count.
    for start in 0..n {
        if hill[start] && !assigned[start] {
            let seg = flood(start, true, &mut assigned);
            if seg.pixels >= 2 {
                marked += seg.pixels;
            } else {
                unmarked += 1;
            }
            if seg.pixels > min_segment_size {
                segments.push(seg);
            }
        }
    }
    // Valleys, while imagehash's counter is below the pixel count.
    let mut next = 0;
    while marked < n {
        while next < n && (hill[next] || assigned[next]) {
            next += 1;
        }
        if next == n {
            return Err(SegmentationError::Stalled { unmarked });
        }
        let seg = flood(next, false, &mut assigned);
        if seg.pixels >= 2 {
            marked += seg.pixels;
        } else {
            unmarked += 1;
        }
        if seg.pixels > min_segment_size {
            segments.push(seg);
        }
    }
    Ok(segments)
}

/// The segments imagehash hashes, in its order: found regions (or the whole-image fallback),
/// limited to the largest ones if asked.
pub fn segments(
    luma: &LumaPlane,
    opts: &CropResistantOptions,
    pillow: PillowVersion,
) -> Result<Vec<Segment>, SegmentationError> {
    let size = opts.segmentation_image_size;
    if size == 0 {
        return Err(Error::InvalidArgument("height and width must be > 0".into()).into());
    }
    let plane = segmentation_plane(luma, size, pillow)?;
    let mut segs = find_segments(
        &plane,
        size,
        size,
        opts.segment_threshold,
        opts.min_segment_size,
    )?;
    if segs.is_empty() {
        // imagehash's `{(0, 0), (size - 1, size - 1)}`: two "pixels", the whole image.
        segs.push(Segment {
            pixels: 2,
            min_row: 0,
            max_row: size - 1,
            min_col: 0,
            max_col: size - 1,
        });
    }
    if let Some(limit) = opts.limit_segments.filter(|&l| l != 0) {
        segs.sort_by_key(|s| std::cmp::Reverse(s.pixels)); // stable, as Python's sorted
        let keep = if limit > 0 {
            (limit as usize).min(segs.len())
        } else {
            segs.len().saturating_sub(limit.unsigned_abs() as usize)
        };
        segs.truncate(keep);
    }
    Ok(segs)
}

/// `Image.crop(box)` of a plane: the box may extend past the image (zeros there) and is empty
/// when right ≤ left or lower ≤ upper.
pub fn crop_plane(
    plane: &[u8],
    w: usize,
    h: usize,
    (x0, y0, x1, y1): (i64, i64, i64, i64),
) -> (Vec<u8>, usize, usize) {
    let cw = (x1 - x0).max(0) as usize;
    let ch = (y1 - y0).max(0) as usize;
    let mut out = vec![0u8; cw * ch];
    for y in 0..ch {
        let sy = y0 + y as i64;
        if sy < 0 || sy >= h as i64 {
            continue;
        }
        for x in 0..cw {
            let sx = x0 + x as i64;
            if sx >= 0 && sx < w as i64 {
                out[y * cw + x] = plane[sy as usize * w + sx as usize];
            }
        }
    }
    (out, cw, ch)
}

/// The hash of one `convert('L')` plane of any size, an empty one included: Pillow resizes an
/// empty image to zeros, so an empty crop hashes as the all-zero resized plane (except for
/// `whash`, whose scale is undefined there: [`SegmentationError::EmptyCrop`]).
fn hash_any_plane(
    spec: &ImagehashSpec,
    plane: &[u8],
    w: usize,
    h: usize,
    pillow: PillowVersion,
    index: usize,
) -> Result<BitMatrix, SegmentationError> {
    if w == 0 || h == 0 {
        if matches!(spec, ImagehashSpec::Whash(o) if o.image_scale.is_none()) {
            return Err(SegmentationError::EmptyCrop {
                index,
                width: w,
                height: h,
            });
        }
        let (tw, th) = spec.resize_target(w.max(1), h.max(1))?;
        return Ok(spec.hash_resized(&vec![0u8; tw * th], tw, th)?);
    }
    let luma = LumaPlane::new(w, h, plane.to_vec())?;
    Ok(spec.hash_luma(&luma, pillow)?)
}

/// `crop_resistant_hash(image, hash_func)` for a hash function nearmatch computes: the hash of
/// each segment's crop of the original image, in segment order.
pub fn crop_resistant_hash(
    luma: &LumaPlane,
    opts: &CropResistantOptions,
    spec: &ImagehashSpec,
    pillow: PillowVersion,
) -> Result<Vec<BitMatrix>, SegmentationError> {
    spec.validate()?;
    let (w, h) = (luma.width(), luma.height());
    segments(luma, opts, pillow)?
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let b = s.crop_box(w, h, opts.segmentation_image_size);
            let (crop, cw, ch) = crop_plane(luma.pixels(), w, h, b);
            hash_any_plane(spec, &crop, cw, ch, pillow, i)
        })
        .collect()
}

/// imagehash's `ImageMultiHash.hash_diff`: the segments of `a` whose nearest segment of `b`
/// is within `hamming_cutoff`, as (count, sum of those distances). `None` when some segments
/// differ in length (imagehash raises `TypeError`) or `b` has no segments.
pub fn matching_segments(
    a: &[BitMatrix],
    b: &[BitMatrix],
    hamming_cutoff: f64,
) -> Option<(usize, u64)> {
    let mut count = 0;
    let mut sum = 0u64;
    for s in a {
        let mut best: Option<u32> = None;
        for t in b {
            let d = s.distance(t)?;
            best = Some(best.map_or(d, |x| x.min(d)));
        }
        let d = best?;
        if f64::from(d) <= hamming_cutoff {
            count += 1;
            sum += u64::from(d);
        }
    }
    Some((count, sum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_radius_two_is_pillows() {
        // Pillow: _gaussian_blur_radius(2.0, 3) in float32.
        let r = gaussian_box_radius(2.0, 3);
        assert!((r - 1.375).abs() < 1e-3, "{r}");
        assert_eq!(r as usize, 1);
    }

    /// Pillow's GaussianBlur() and MedianFilter() on LCG planes, tiny ones included.
    #[test]
    fn filters_match_pillow_bit_for_bit() {
        use sha2::{Digest, Sha256};
        let text = include_str!("testdata/transform_reference.csv");
        let (mut cases, mut bad) = (0, Vec::new());
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f[0] != "blur" && f[0] != "median" {
                continue;
            }
            let (w, h) = f[1].split_once('x').unwrap();
            let (w, h): (usize, usize) = (w.parse().unwrap(), h.parse().unwrap());
            let plane = crate::hash::resample::tests::lcg_plane(f[2].parse().unwrap(), w * h, 1);
            let out = if f[0] == "blur" {
                gaussian_blur(&plane, w, h, 2.0)
            } else {
                median3(&plane, w, h)
            };
            if hex::encode(Sha256::digest(&out)) != f[3] {
                bad.push(format!("{} {w}x{h}", f[0]));
            }
            cases += 1;
        }
        assert_eq!(cases, 20);
        assert!(bad.is_empty(), "differ from Pillow: {}", bad.join(", "));
    }

    #[test]
    fn blur_and_median_keep_flat_images_flat() {
        let p = vec![77u8; 30 * 20];
        assert_eq!(gaussian_blur(&p, 30, 20, 2.0), p);
        assert_eq!(median3(&p, 30, 20), p);
        // A single bright pixel disappears under the median.
        let mut q = vec![0u8; 25];
        q[12] = 255;
        assert_eq!(median3(&q, 5, 5), vec![0u8; 25]);
    }

    #[test]
    fn segments_follow_imagehash_order_and_count() {
        // Two bright squares (hills) on a dark background (one valley).
        let (w, h) = (10, 8);
        let mut p = vec![10u8; w * h];
        for (y, x) in [
            (1, 1),
            (1, 2),
            (2, 1),
            (2, 2),
            (5, 6),
            (5, 7),
            (6, 6),
            (6, 7),
            (6, 8),
        ] {
            p[y * w + x] = 200;
        }
        let segs = find_segments(&p, w, h, 128.0, 0).unwrap();
        assert_eq!(segs.len(), 3);
        assert_eq!(
            (segs[0].pixels, segs[0].min_row, segs[0].min_col),
            (4, 1, 1)
        );
        assert_eq!(
            (segs[1].pixels, segs[1].max_row, segs[1].max_col),
            (5, 6, 8)
        );
        assert_eq!(segs[2].pixels, w * h - 9);
        // min_segment_size filters with `>`.
        assert_eq!(find_segments(&p, w, h, 128.0, 4).unwrap().len(), 2);
    }

    #[test]
    fn isolated_pixels_stall_the_valley_loop_like_imagehash() {
        // A checkerboard: every region is one pixel, none is ever marked segmented.
        let (w, h) = (12, 12);
        let p: Vec<u8> = (0..w * h)
            .map(|i| if (i % w + i / w) % 2 == 0 { 200 } else { 0 })
            .collect();
        assert!(matches!(
            find_segments(&p, w, h, 128.0, 0),
            Err(SegmentationError::Stalled { .. })
        ));
    }

    #[test]
    fn crop_boxes_round_half_to_even() {
        let s = Segment {
            pixels: 9,
            min_row: 1,
            max_row: 2,
            min_col: 1,
            max_col: 2,
        };
        // scale 2.5: 2.5 -> 2, 7.5 -> 8.
        assert_eq!(s.crop_box(10, 10, 4), (2, 2, 8, 8));
        let (c, cw, ch) = crop_plane(&[1, 2, 3, 4], 2, 2, (1, 0, 3, 1));
        assert_eq!((c, cw, ch), (vec![2, 0], 2, 1));
    }

    #[test]
    fn matching_counts_segments_within_the_cutoff() {
        let m = |bits: [bool; 4]| BitMatrix::new(2, 2, bits.to_vec()).unwrap();
        let a = vec![m([true, true, false, false]), m([true, true, true, true])];
        let b = vec![m([true, false, false, false])];
        assert_eq!(matching_segments(&a, &b, 1.0), Some((1, 1)));
        assert_eq!(matching_segments(&a, &b, 3.0), Some((2, 4)));
        assert_eq!(matching_segments(&a, &[], 1.0), None);
    }
}
