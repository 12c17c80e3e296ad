//! The reduced luma plane probes are cut, padded, rotated and mirrored from.

use std::cell::RefCell;

use crate::hash::pdq::{stages, Orientation, Profile};
use crate::pixels::Image;

use super::CropSide;

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
        let swap = matches!(
            o,
            Orientation::Rot90
                | Orientation::Rot270
                | Orientation::FlipPlus1
                | Orientation::FlipMinus1
        );
        let (ow, oh) = if swap { (h, w) } else { (w, h) };
        let mut px = Vec::with_capacity(w * h);
        for y in 0..oh {
            for x in 0..ow {
                // (sx, sy): the source pixel that lands on (x, y).
                let (sx, sy) = match o {
                    Orientation::Orig => (x, y),
                    Orientation::Rot90 => (w - 1 - y, x),
                    Orientation::Rot180 => (w - 1 - x, h - 1 - y),
                    Orientation::Rot270 => (y, h - 1 - x),
                    Orientation::FlipX => (x, h - 1 - y),
                    Orientation::FlipY => (w - 1 - x, y),
                    Orientation::FlipPlus1 => (y, x),
                    Orientation::FlipMinus1 => (w - 1 - y, h - 1 - x),
                };
                px.push(self.px[sy * w + sx]);
            }
        }
        Plane { w: ow, h: oh, px }
    }

    /// The plane placed inside a larger canvas, as the part of an original of which `margin`
    /// (a share of the original's side) was cut away on `side`; the missing margin is filled by
    /// repeating the edge pixels. `All` re-extends both axes by half the margin on each side.
    pub fn extended(&self, side: CropSide, margin: f32) -> Plane {
        let grow = |s: usize| -> usize {
            // The original's side was s / (1 - margin); the cut part is the difference.
            ((s as f32 / (1.0 - margin)) - s as f32).round().max(1.0) as usize
        };
        let (gx, gy) = (grow(self.w), grow(self.h));
        let (left, right, top, bottom) = match side {
            CropSide::All => (gx / 2, gx - gx / 2, gy / 2, gy - gy / 2),
            CropSide::Left => (gx, 0, 0, 0),
            CropSide::Right => (0, gx, 0, 0),
            CropSide::Top => (0, 0, gy, 0),
            CropSide::Bottom => (0, 0, 0, gy),
            CropSide::TopLeft => (gx, 0, gy, 0),
            CropSide::TopRight => (0, gx, gy, 0),
            CropSide::BottomLeft => (gx, 0, 0, gy),
            CropSide::BottomRight => (0, gx, 0, gy),
        };
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
