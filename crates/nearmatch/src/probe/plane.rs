//! The reduced luma plane probes are cut, padded, rotated and mirrored from.

use std::cell::RefCell;

use crate::hash::pdq::{decimation_indices, stages, Orientation, PdqHasher, Profile};
use crate::pixels::Image;

use super::CropMargins;

/// A rectangle of a plane: columns `x0..x1`, rows `y0..y1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rect {
    /// First column.
    pub x0: usize,
    /// First row.
    pub y0: usize,
    /// One past the last column.
    pub x1: usize,
    /// One past the last row.
    pub y1: usize,
}

impl Rect {
    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.x1 - self.x0
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.y1 - self.y0
    }
}

/// The margins `m` in pixels (left, right, top, bottom) for a `w`x`h` part of an original.
fn margin_pixels(w: usize, h: usize, m: CropMargins) -> (usize, usize, usize, usize) {
    // The original's side was s / (1 - cut); each margin is its share of that.
    let grow = |s: usize, a: u16, b: u16| -> (usize, usize) {
        let side = s as f32 / (1.0 - f32::from(a + b) / 1000.0);
        (
            (side * f32::from(a) / 1000.0).round() as usize,
            (side * f32::from(b) / 1000.0).round() as usize,
        )
    };
    let (left, right) = grow(w, m.left, m.right);
    let (top, bottom) = grow(h, m.top, m.bottom);
    (left, right, top, bottom)
}

/// A plane padded by replicated edges and put through PDQ's tent filter, every sample kept.
///
/// PDQ point-samples its blurred image at 64x64 grid positions, so a probe that only moves that
/// grid (a crop re-extended with replicated edges, a small rotation) is 4,096 lookups here
/// instead of a new canvas filtered in full: the crop grid's ~160 probes cost about as much as
/// one filtered plane. The padding (the largest crop margin) makes the blur near the plane's
/// edges what it is on a re-extended canvas, not PDQ's truncated window at an image edge.
#[derive(Clone, Debug)]
pub struct Blurred {
    /// The plane's width and height.
    w: usize,
    h: usize,
    /// Replicated columns on each side, rows above and below.
    pad_x: usize,
    pad_y: usize,
    /// The padded, blurred plane, `(w + 2 pad_x) x (h + 2 pad_y)`.
    px: Vec<f32>,
}

impl Blurred {
    /// The plane, padded by `max_margin` (per mille of a side of the original, as a crop
    /// probe's largest one-sided margin), through PDQ's tent filter with its windows for the
    /// plane's own size (those of nearly every probe canvas: a crop of under 10 % rarely moves
    /// `ceil(side / 128)` a step).
    pub fn of(plane: &Plane, max_margin: u16, hasher: &mut PdqHasher) -> Blurred {
        let (pad_x, _, pad_y, _) = margin_pixels(
            plane.w,
            plane.h,
            CropMargins {
                left: max_margin,
                right: 0,
                top: max_margin,
                bottom: 0,
            },
        );
        let padded = plane.extended_px(pad_x, pad_x, pad_y, pad_y);
        Blurred {
            w: plane.w,
            h: plane.h,
            pad_x,
            pad_y,
            px: hasher.tent_blurred(&padded.px, padded.w, padded.h, (plane.w, plane.h)),
        }
    }

    fn padded_width(&self) -> usize {
        self.w + 2 * self.pad_x
    }

    /// PDQ's 64x64 samples of the canvas from which margins `m` were cut to leave this plane,
    /// the cut margins replaced by replicated edges (as [`Plane::extended`]).
    pub fn extended_samples(&self, m: CropMargins) -> [f32; 4096] {
        let (left, right, top, bottom) = margin_pixels(self.w, self.h, m);
        let map = |idx: [usize; 64], before: usize, pad: usize, n: usize| -> [usize; 64] {
            idx.map(|i| (i + pad).saturating_sub(before).min(n + 2 * pad - 1))
        };
        let cols = map(
            decimation_indices(self.w + left + right),
            left,
            self.pad_x,
            self.w,
        );
        let rows = map(
            decimation_indices(self.h + top + bottom),
            top,
            self.pad_y,
            self.h,
        );
        let pw = self.padded_width();
        std::array::from_fn(|k| self.px[rows[k / 64] * pw + cols[k % 64]])
    }

    /// PDQ's 64x64 samples of this plane rotated by `degrees` (counter-clockwise) about its
    /// centre on the same canvas, bilinear, corners from replicated edges (as
    /// [`Plane::rotated`]).
    pub fn rotated_samples(&self, degrees: f32) -> [f32; 4096] {
        let (w, h) = (self.w, self.h);
        let (pw, ph) = (self.padded_width(), h + 2 * self.pad_y);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let (cols, rows) = (decimation_indices(w), decimation_indices(h));
        let (ox, oy) = (self.pad_x as f32, self.pad_y as f32);
        let clamp = |v: f32, n: usize| v.clamp(0.0, (n - 1) as f32);
        let at = |x: usize, y: usize| self.px[y * pw + x];
        std::array::from_fn(|k| {
            let dx = cols[k % 64] as f32 + 0.5 - cx;
            let dy = rows[k / 64] as f32 + 0.5 - cy;
            let sx = clamp(cos * dx - sin * dy + cx - 0.5 + ox, pw);
            let sy = clamp(sin * dx + cos * dy + cy - 0.5 + oy, ph);
            let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(pw - 1), (y0 + 1).min(ph - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
            let bot = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
            top * (1.0 - fy) + bot * fy
        })
    }
}

/// A row-major f32 luma plane (PDQ's luma, box-reduced).
#[derive(Clone, Debug, PartialEq)]
pub struct Plane {
    w: usize,
    h: usize,
    px: Vec<f32>,
}

thread_local! {
    /// Full-resolution luma scratch, reused between images.
    static LUMA: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

impl Plane {
    /// A plane from row-major values; `None` unless `px.len() == w * h`.
    pub fn new(w: usize, h: usize, px: Vec<f32>) -> Option<Plane> {
        (px.len() == w * h).then_some(Plane { w, h, px })
    }

    /// PDQ's luma of `image` under `profile`, box-reduced so the long side is at most `max_side`.
    pub fn of_image(image: &Image, profile: Profile, max_side: usize) -> Plane {
        LUMA.with_borrow_mut(|buf| {
            let (w, h) = stages::luma(image, profile, buf);
            let p = Plane::reduced(&buf[..w * h], w, h, max_side);
            if buf.capacity() > 16 << 20 {
                *buf = Vec::new();
            }
            p
        })
    }

    /// Box-averages `luma` by the smallest integer factor that brings the long side to at most
    /// `max_side` (the last partial block averages what it has).
    pub fn reduced(luma: &[f32], w: usize, h: usize, max_side: usize) -> Plane {
        let k = w.max(h).div_ceil(max_side.max(1)).max(1);
        if k == 1 {
            return Plane {
                w,
                h,
                px: luma.to_vec(),
            };
        }
        let (ow, oh) = (w.div_ceil(k), h.div_ceil(k));
        let mut px = vec![0f32; ow * oh];
        for (oy, out) in px.chunks_exact_mut(ow).enumerate() {
            let rows = &luma[oy * k * w..((oy + 1) * k).min(h) * w];
            for row in rows.chunks_exact(w) {
                for (acc, block) in out.iter_mut().zip(row.chunks(k)) {
                    *acc += block.iter().sum::<f32>();
                }
            }
            let n_rows = rows.len() / w;
            // Every block holds k columns but the last, which holds what is left.
            let full = (k * n_rows) as f32;
            let last = ((w - (ow - 1) * k) * n_rows) as f32;
            for v in out[..ow - 1].iter_mut() {
                *v /= full;
            }
            out[ow - 1] /= last;
        }
        Plane { w: ow, h: oh, px }
    }

    /// Width.
    pub fn width(&self) -> usize {
        self.w
    }

    /// Height.
    pub fn height(&self) -> usize {
        self.h
    }

    /// The values, row-major.
    pub fn pixels(&self) -> &[f32] {
        &self.px
    }

    /// The value at column `x`, row `y`.
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> f32 {
        self.px[y * self.w + x]
    }

    /// The whole plane as a rectangle.
    pub fn full(&self) -> Rect {
        Rect {
            x0: 0,
            y0: 0,
            x1: self.w,
            y1: self.h,
        }
    }

    /// Fills the corners beyond quarter circles of `radius` (a rounded card's corners, cut in the
    /// layout's colour) with the nearest picture value of the same row, so that a picture shown
    /// with rounded corners hashes near its square original.
    pub fn fill_rounded_corners(&mut self, radius: usize) {
        let (w, h) = (self.w, self.h);
        if radius == 0 || 2 * radius > w || 2 * radius > h {
            return;
        }
        for dy in 0..radius {
            // Pixels of this row beyond the arc (and its anti-aliased half pixel): a prefix.
            let c = (0..radius)
                .take_while(|&dx| super::layout::beyond_arc(radius, dx, dy, -1))
                .count();
            if c == 0 {
                continue;
            }
            for y in [dy, h - 1 - dy] {
                let row = &mut self.px[y * w..(y + 1) * w];
                let (left, right) = (row[c], row[w - 1 - c]);
                row[..c].fill(left);
                row[w - c..].fill(right);
            }
        }
    }

    /// A copy of one rectangle.
    pub fn crop(&self, r: Rect) -> Plane {
        let mut px = Vec::with_capacity(r.width() * r.height());
        for y in r.y0..r.y1 {
            px.extend_from_slice(&self.px[y * self.w + r.x0..y * self.w + r.x1]);
        }
        Plane {
            w: r.width(),
            h: r.height(),
            px,
        }
    }

    /// The plane under one of the 8 dihedral transforms, moving pixels (as the orientation's
    /// name says: `Rot90` is a quarter turn counter-clockwise, `FlipY` a mirror image).
    pub fn oriented(&self, o: Orientation) -> Plane {
        let (w, h) = (self.w, self.h);
        let (ow, oh) = if o.swaps_sides() { (h, w) } else { (w, h) };
        let mut px = Vec::with_capacity(w * h);
        for y in 0..oh {
            for x in 0..ow {
                let (sx, sy) = o.source(x, y, w, h);
                px.push(self.px[sy * w + sx]);
            }
        }
        Plane { w: ow, h: oh, px }
    }

    /// The plane placed inside a larger canvas, as the part of an original from which these
    /// margins were cut away; the missing margins are filled by repeating the edge pixels.
    pub fn extended(&self, m: CropMargins) -> Plane {
        let (left, right, top, bottom) = margin_pixels(self.w, self.h, m);
        self.extended_px(left, right, top, bottom)
    }

    /// The plane with this many replicated-edge pixels added on each side.
    fn extended_px(&self, left: usize, right: usize, top: usize, bottom: usize) -> Plane {
        let (ow, oh) = (self.w + left + right, self.h + top + bottom);
        let mut px = Vec::with_capacity(ow * oh);
        for y in 0..oh {
            let sy = y.saturating_sub(top).min(self.h - 1);
            let row = &self.px[sy * self.w..(sy + 1) * self.w];
            px.extend(std::iter::repeat_n(row[0], left));
            px.extend_from_slice(row);
            px.extend(std::iter::repeat_n(row[self.w - 1], right));
        }
        Plane { w: ow, h: oh, px }
    }

    /// The plane rotated by `degrees` (counter-clockwise) about its centre on the same canvas,
    /// bilinear, with the corners filled by the nearest edge pixels.
    pub fn rotated(&self, degrees: f32) -> Plane {
        let (w, h) = (self.w, self.h);
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let clamp = |v: f32, n: usize| v.clamp(0.0, (n - 1) as f32);
        let mut px = Vec::with_capacity(w * h);
        for y in 0..h {
            let dy = y as f32 + 0.5 - cy;
            for x in 0..w {
                let dx = x as f32 + 0.5 - cx;
                // Inverse map: the source point that rotates onto (x, y). Image rows grow
                // downwards, so a counter-clockwise turn on screen uses the mirrored sine.
                let sx = clamp(cos * dx - sin * dy + cx - 0.5, w);
                let sy = clamp(sin * dx + cos * dy + cy - 0.5, h);
                let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
                let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
                let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
                let bot = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
                px.push(top * (1.0 - fy) + bot * fy);
            }
        }
        Plane { w, h, px }
    }
}
