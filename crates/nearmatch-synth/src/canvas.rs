//! An 8-bit RGB canvas with antialiased, alpha-blended primitives.
//!
//! Colours are `[f32; 3]` in [0, 1]; every primitive evaluates coverage at pixel centres and
//! rounds the blend once into the 8-bit buffer. All arithmetic is basic IEEE-754 (+ - * / sqrt),
//! which is correctly rounded everywhere, so images are identical across platforms.

use super::rng::{mix64, Rng};

/// A colour, linear blend space, components in [0, 1].
pub(crate) type Rgb = [f32; 3];

/// Linear interpolation of colours.
pub(crate) fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// A colour times a brightness factor.
pub(crate) fn scale(c: Rgb, k: f32) -> Rgb {
    [c[0] * k, c[1] * k, c[2] * k]
}

/// HSV to RGB with hue in turns ([0, 1) wraps), piecewise linear (no trigonometry).
pub(crate) fn hsv(h: f32, s: f32, v: f32) -> Rgb {
    let h = (h - h.floor()) * 6.0;
    let i = (h as u32).min(5);
    let f = h - i as f32;
    let (p, q, t) = (v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f)));
    match i {
        0 => [v, t, p],
        1 => [q, v, p],
        2 => [p, v, t],
        3 => [p, q, v],
        4 => [t, p, v],
        _ => [v, p, q],
    }
}

/// Hermite smoothstep of `x` between `e0` and `e1`, clamped to [0, 1].
pub(crate) fn smoothstep(e0: f32, e1: f32, x: f32) -> f32 {
    let t = ((x - e0) / (e1 - e0)).clamp(0.0, 1.0);
    if t.is_nan() {
        return if x >= e1 { 1.0 } else { 0.0 };
    }
    t * t * (3.0 - 2.0 * t)
}

#[inline]
fn to_u8(v: f32) -> u8 {
    // `as` saturates (and maps NaN to 0), so no input can panic here.
    (v * 255.0 + 0.5) as u8
}

/// The drawing surface: row-major interleaved RGB8.
pub(crate) struct Canvas {
    pub(crate) w: usize,
    pub(crate) h: usize,
    pub(crate) px: Vec<u8>,
}

impl Canvas {
    /// A black canvas.
    pub(crate) fn new(w: usize, h: usize) -> Self {
        Canvas {
            w,
            h,
            px: vec![0; w * h * 3],
        }
    }

    /// Sets every pixel from `f(x_centre, y_centre)`.
    pub(crate) fn fill(&mut self, mut f: impl FnMut(f32, f32) -> Rgb) {
        let w = self.w;
        if w == 0 {
            return;
        }
        for (y, row) in self.px.chunks_exact_mut(w * 3).enumerate() {
            let fy = y as f32 + 0.5;
            for (x, p) in row.chunks_exact_mut(3).enumerate() {
                let c = f(x as f32 + 0.5, fy);
                p[0] = to_u8(c[0]);
                p[1] = to_u8(c[1]);
                p[2] = to_u8(c[2]);
            }
        }
    }

    /// Sets every pixel from `f(&state, x_index, x_centre, y_centre)`, where `state = prep(y_centre)`
    /// is computed once per row (e.g. a row of noise).
    pub(crate) fn fill_rows<S>(
        &mut self,
        mut prep: impl FnMut(f32) -> S,
        mut f: impl FnMut(&S, usize, f32, f32) -> Rgb,
    ) {
        let w = self.w;
        if w == 0 {
            return;
        }
        for (y, row) in self.px.chunks_exact_mut(w * 3).enumerate() {
            let fy = y as f32 + 0.5;
            let state = prep(fy);
            for (x, p) in row.chunks_exact_mut(3).enumerate() {
                let c = f(&state, x, x as f32 + 0.5, fy);
                p[0] = to_u8(c[0]);
                p[1] = to_u8(c[1]);
                p[2] = to_u8(c[2]);
            }
        }
    }

    /// Blends colour `c` with opacity `a` (clamped to [0, 1]) into pixel (x, y).
    #[inline]
    pub(crate) fn blend(&mut self, x: usize, y: usize, c: Rgb, a: f32) {
        let a = a.clamp(0.0, 1.0);
        // Written so that NaN (which clamp keeps) returns too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if !(a > 0.0) {
            return;
        }
        let i = (y * self.w + x) * 3;
        for (px, ck) in self.px[i..i + 3].iter_mut().zip(c) {
            let old = f32::from(*px) * (1.0 / 255.0);
            *px = to_u8(old + (ck.clamp(0.0, 1.0) - old) * a);
        }
    }

    /// Pixel index range covering [lo, hi) clipped to [0, n).
    fn span(lo: f32, hi: f32, n: usize) -> (usize, usize) {
        let a = lo.floor().max(0.0) as usize;
        let b = (hi.ceil().max(0.0) as usize).min(n);
        (a.min(n), b)
    }

    /// Calls `f(x_centre, y_centre)` for each pixel whose centre lies in the box and blends the
    /// colour and opacity it returns.
    pub(crate) fn paint(
        &mut self,
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        mut f: impl FnMut(f32, f32) -> Option<(Rgb, f32)>,
    ) {
        let (xa, xb) = Self::span(x0, x1, self.w);
        let (ya, yb) = Self::span(y0, y1, self.h);
        for y in ya..yb {
            for x in xa..xb {
                if let Some((c, a)) = f(x as f32 + 0.5, y as f32 + 0.5) {
                    self.blend(x, y, c, a);
                }
            }
        }
    }

    /// An antialiased axis-aligned rectangle.
    pub(crate) fn rect(&mut self, x0: f32, y0: f32, x1: f32, y1: f32, c: Rgb, alpha: f32) {
        let integral = |v: f32| v == v.floor() && v.abs() < 1e9;
        if alpha >= 1.0 && integral(x0) && integral(y0) && integral(x1) && integral(y1) {
            // Pixel-aligned and opaque (glyph blocks, UI bars): a plain fill.
            let (xa, xb) = Self::span(x0, x1, self.w);
            let (ya, yb) = Self::span(y0, y1, self.h);
            let px = [
                to_u8(c[0].clamp(0.0, 1.0)),
                to_u8(c[1].clamp(0.0, 1.0)),
                to_u8(c[2].clamp(0.0, 1.0)),
            ];
            for y in ya..yb {
                for p in self.px[(y * self.w + xa) * 3..(y * self.w + xb.max(xa)) * 3]
                    .chunks_exact_mut(3)
                {
                    p.copy_from_slice(&px);
                }
            }
            return;
        }
        self.paint(x0 - 1.0, y0 - 1.0, x1 + 1.0, y1 + 1.0, |x, y| {
            // Coverage of the pixel square by the rectangle, per axis.
            let cx = ((x + 0.5).min(x1) - (x - 0.5).max(x0)).clamp(0.0, 1.0);
            let cy = ((y + 0.5).min(y1) - (y - 0.5).max(y0)).clamp(0.0, 1.0);
            Some((c, alpha * cx * cy))
        });
    }

    /// An antialiased disc.
    pub(crate) fn circle(&mut self, cx: f32, cy: f32, r: f32, c: Rgb, alpha: f32) {
        self.shaded_circle(cx, cy, r, alpha, |_, _| c);
    }

    /// An antialiased disc whose colour is `shade(dx/r, dy/r)` (offsets from the centre).
    pub(crate) fn shaded_circle(
        &mut self,
        cx: f32,
        cy: f32,
        r: f32,
        alpha: f32,
        mut shade: impl FnMut(f32, f32) -> Rgb,
    ) {
        let r = r.max(0.0);
        let inv = 1.0 / r.max(1e-3);
        self.paint(
            cx - r - 1.0,
            cy - r - 1.0,
            cx + r + 1.0,
            cy + r + 1.0,
            |x, y| {
                let (dx, dy) = (x - cx, y - cy);
                let d = (dx * dx + dy * dy).sqrt();
                let cov = (r - d + 0.5).clamp(0.0, 1.0);
                (cov > 0.0).then(|| (shade(dx * inv, dy * inv), alpha * cov))
            },
        );
    }

    /// A soft elliptical blob: opacity `alpha * (1 - d²)²` fading to 0 at the rim (shadows, glows).
    pub(crate) fn soft_ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, c: Rgb, alpha: f32) {
        let (ix, iy) = (1.0 / rx.max(0.5), 1.0 / ry.max(0.5));
        self.paint(cx - rx, cy - ry, cx + rx, cy + ry, |x, y| {
            let (u, v) = ((x - cx) * ix, (y - cy) * iy);
            let d2 = u * u + v * v;
            (d2 < 1.0).then(|| {
                let k = 1.0 - d2;
                (c, alpha * k * k)
            })
        });
    }

    /// An antialiased convex polygon (either winding), coloured by `shade(x, y)`.
    pub(crate) fn convex_shaded(
        &mut self,
        pts: &[(f32, f32)],
        alpha: f32,
        mut shade: impl FnMut(f32, f32) -> Rgb,
    ) {
        if pts.len() < 3 {
            return;
        }
        let area: f32 = (0..pts.len())
            .map(|i| {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                a.0 * b.1 - b.0 * a.1
            })
            .sum();
        let sign = if area < 0.0 { -1.0 } else { 1.0 };
        // Edge lines as (nx, ny, c): signed distance n·p + c, positive inside.
        let mut edges = Vec::with_capacity(pts.len());
        for i in 0..pts.len() {
            let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
            let (ex, ey) = (b.0 - a.0, b.1 - a.1);
            let len = (ex * ex + ey * ey).sqrt();
            if len > 1e-6 {
                let (nx, ny) = (-ey * sign / len, ex * sign / len);
                edges.push((nx, ny, -(nx * a.0 + ny * a.1)));
            }
        }
        if edges.len() < 3 {
            return;
        }
        let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
        for p in pts {
            x0 = x0.min(p.0);
            y0 = y0.min(p.1);
            x1 = x1.max(p.0);
            y1 = y1.max(p.1);
        }
        self.paint(x0 - 1.0, y0 - 1.0, x1 + 1.0, y1 + 1.0, |x, y| {
            let mut d = f32::MAX;
            for &(nx, ny, c) in &edges {
                d = d.min(nx * x + ny * y + c);
            }
            let cov = (d + 0.5).clamp(0.0, 1.0);
            (cov > 0.0).then(|| (shade(x, y), alpha * cov))
        });
    }

    /// An antialiased convex polygon of one colour.
    pub(crate) fn convex(&mut self, pts: &[(f32, f32)], c: Rgb, alpha: f32) {
        self.convex_shaded(pts, alpha, |_, _| c);
    }

    /// Adds zero-mean sensor-like noise of amplitude `amp` (in [0, 1] units) to every sample.
    pub(crate) fn grain(&mut self, amp: f32, salt: u64) {
        if amp <= 0.0 || self.w == 0 {
            return;
        }
        let w = self.w;
        // Amplitude in 1/256 of a level.
        let a = (amp.min(1.0) * 255.0 * 256.0) as i64;
        for (y, row) in self.px.chunks_exact_mut(w * 3).enumerate() {
            // One SplitMix64 stream per row: one mix per pixel, independent of the width.
            let mut rng = Rng::new(mix64(salt ^ mix64(y as u64)));
            for p in row.chunks_exact_mut(3) {
                let h = rng.next_u64();
                // Integer maths in 1/256 units (fast, exact): one luminance-like offset in
                // [-amp, amp] plus a quarter of that as per-channel chroma noise.
                let l = (((h >> 48) as i64 - 32768) * a) >> 15;
                for (k, s) in p.iter_mut().enumerate() {
                    let c = ((((h >> (8 * k)) & 0xff) as i64 - 128) * a) >> 9;
                    *s = ((i64::from(*s) * 256 + l + c + 128) >> 8).clamp(0, 255) as u8;
                }
            }
        }
    }
}
