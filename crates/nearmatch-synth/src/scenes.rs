//! The scene painters. Each takes two random streams: `bg` decides the background and the layout
//! (including where foreground objects stand), `fg` decides what those objects are. A variant
//! re-seeds only `fg`, which gives "same place, different object" hard negatives.
//!
//! Invariant: the sequence of draws from `bg` never depends on `fg`, so every variant of a seed
//! shares the background bit for bit wherever no foreground object covers it.

use super::canvas::{hsv, mix, scale, smoothstep, Canvas, Rgb};
use super::font::{self, draw_text};
use super::noise::{Fbm1, Fbm2};
use super::rng::{hash2, unit, Rng};

/// Random streams and sizes shared by the painters.
pub(crate) struct Ctx {
    pub(crate) bg: Rng,
    pub(crate) fg: Rng,
    /// True for variants other than 0: at least one foreground object must be drawn.
    pub(crate) forced: bool,
}

impl Ctx {
    /// Whether slot `i` of `n` holds an object: with probability `p`, and always for one slot
    /// chosen up front when the variant must differ from its background.
    pub(crate) fn present(&mut self, must: u32, i: u32, p: f32) -> bool {
        let hit = self.fg.chance(p);
        hit || (self.forced && i == must)
    }
}

const BLACK: Rgb = [0.0, 0.0, 0.0];
const WHITE: Rgb = [1.0, 1.0, 1.0];

/// Triangle wave with period 1, in [0, 1].
fn tri(u: f32) -> f32 {
    ((u - u.floor()) - 0.5).abs() * 2.0
}

/// A multi-stop colour ramp, stops sorted by position.
struct Ramp(Vec<(f32, Rgb)>);

impl Ramp {
    fn random(
        rng: &mut Rng,
        n: usize,
        hue: f32,
        hue_spread: f32,
        sat: (f32, f32),
        val: (f32, f32),
    ) -> Ramp {
        let n = n.max(2);
        let mut stops: Vec<(f32, Rgb)> = (0..n)
            .map(|i| {
                let t = if i == 0 {
                    0.0
                } else if i == n - 1 {
                    1.0
                } else {
                    rng.f32()
                };
                let c = hsv(
                    hue + rng.range(-hue_spread, hue_spread),
                    rng.range(sat.0, sat.1),
                    rng.range(val.0, val.1),
                );
                (t, c)
            })
            .collect();
        stops.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ramp(stops)
    }

    fn at(&self, t: f32) -> Rgb {
        let t = t.clamp(0.0, 1.0);
        let s = &self.0;
        for k in 1..s.len() {
            if t <= s[k].0 {
                let span = s[k].0 - s[k - 1].0;
                let f = if span > 0.0 {
                    (t - s[k - 1].0) / span
                } else {
                    1.0
                };
                return mix(s[k - 1].1, s[k].1, f);
            }
        }
        s[s.len() - 1].1
    }
}

/// A random "natural" colour: moderate saturation and value.
fn natural(rng: &mut Rng) -> Rgb {
    hsv(rng.f32(), rng.range(0.15, 0.75), rng.range(0.25, 0.95))
}

/// A random saturated colour, for manufactured objects.
fn vivid(rng: &mut Rng) -> Rgb {
    if rng.chance(0.2) {
        let v = rng.range(0.1, 0.95);
        [v, v, v]
    } else {
        hsv(rng.f32(), rng.range(0.5, 0.95), rng.range(0.45, 0.95))
    }
}

/// A unit direction from a random point in the square (no trigonometry).
pub(crate) fn direction(rng: &mut Rng) -> (f32, f32) {
    let (a, b) = (rng.range(-1.0, 1.0), rng.range(-1.0, 1.0));
    let n = (a * a + b * b).sqrt();
    if n < 1e-3 {
        (1.0, 0.0)
    } else {
        (a / n, b / n)
    }
}

/// A flat shape (circle, rotated rectangle or triangle) of about radius `r` at (cx, cy).
fn flat_shape(cv: &mut Canvas, rng: &mut Rng, cx: f32, cy: f32, r: f32, col: Rgb, alpha: f32) {
    match rng.below(3) {
        0 => cv.circle(cx, cy, r, col, alpha),
        1 => {
            let (a, b) = direction(rng);
            let (hx, hy) = (r * rng.range(0.4, 1.0), r * rng.range(0.3, 1.0));
            let pts = [
                (cx + a * hx - b * hy, cy + b * hx + a * hy),
                (cx - a * hx - b * hy, cy - b * hx + a * hy),
                (cx - a * hx + b * hy, cy - b * hx - a * hy),
                (cx + a * hx + b * hy, cy + b * hx - a * hy),
            ];
            cv.convex(&pts, col, alpha)
        }
        _ => {
            let pts: Vec<(f32, f32)> = (0..3)
                .map(|_| {
                    let (a, b) = direction(rng);
                    let k = r * rng.range(0.6, 1.3);
                    (cx + a * k, cy + b * k)
                })
                .collect();
            cv.convex(&pts, col, alpha)
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Linear, radial or four-corner gradients with 2–5 stops, a few soft discs, optional grain.
pub(crate) fn gradient(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h);
    let bg = &mut cx.bg;
    let stops = 2 + bg.below(4) as usize;
    let hue = bg.f32();
    let spread = bg.range(0.02, 0.4);
    let ramp = Ramp::random(bg, stops, hue, spread, (0.05, 0.85), (0.15, 1.0));
    let kind = bg.below(3);
    let (dx, dy) = direction(bg);
    let (ox, oy) = (bg.range(0.0, w), bg.range(0.0, h));
    let radius = bg.range(0.4, 1.3) * (w * w + h * h).sqrt();
    let corners = [natural(bg), natural(bg), natural(bg), natural(bg)];
    let norm = 1.0 / ((dx.abs() + dy.abs()) * 0.5).max(1e-3);
    cv.fill(|x, y| match kind {
        0 => {
            let p = ((x / w - 0.5) * dx + (y / h - 0.5) * dy) * norm;
            ramp.at(p * 0.5 + 0.5)
        }
        1 => {
            let (ex, ey) = (x - ox, y - oy);
            ramp.at((ex * ex + ey * ey).sqrt() / radius)
        }
        _ => {
            let (u, v) = (x / w, y / h);
            mix(
                mix(corners[0], corners[1], u),
                mix(corners[2], corners[3], u),
                v,
            )
        }
    });
    let slots: Vec<(f32, f32, f32)> = (0..3)
        .map(|_| (bg.range(0.0, w), bg.range(0.0, h), s * bg.range(0.05, 0.3)))
        .collect();
    let grain = if bg.chance(0.5) {
        0.0
    } else {
        bg.range(0.5, 2.5) / 255.0
    };
    let grain_salt = bg.next_u64();
    let must = cx.fg.below(3);
    for (i, &(x, y, r)) in slots.iter().enumerate() {
        if !cx.present(must, i as u32, 0.3) {
            continue;
        }
        let col = natural(&mut cx.fg);
        match cx.fg.below(3) {
            0 => cv.soft_ellipse(x, y, r, r, col, cx.fg.range(0.3, 0.8)),
            1 => cv.circle(x, y, r * 0.6, col, cx.fg.range(0.4, 1.0)),
            _ => {
                let rim = cx.fg.range(0.1, 0.3);
                cv.shaded_circle(x, y, r * 0.6, 1.0, |u, v| {
                    let d2 = u * u + v * v;
                    mix(col, WHITE, (d2 - (1.0 - rim)).max(0.0) * 2.0)
                })
            }
        }
    }
    cv.grain(grain, grain_salt);
}

/// 1/f value-noise textures: clouds, marble, wood rings or granite, with a few pebbles on top.
pub(crate) fn noise(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h).max(1.0);
    let bg = &mut cx.bg;
    let style = bg.below(4);
    let spacing = if style == 3 {
        s * bg.range(0.04, 0.12)
    } else {
        s * bg.range(0.15, 0.6)
    };
    let persistence = bg.range(0.45, 0.65);
    let fbm = Fbm2::new(cv.w, cv.h, spacing, 7, persistence, bg.next_u64());
    let tint = Fbm2::new(cv.w, cv.h, s * 0.5, 3, 0.5, bg.next_u64());
    let hue = bg.f32();
    let stops = 3 + bg.below(2) as usize;
    let ramp = Ramp::random(bg, stops, hue, 0.12, (0.1, 0.7), (0.15, 0.95));
    let alt = hsv(hue + 0.5, bg.range(0.1, 0.5), bg.range(0.3, 0.9));
    let tint_amount = bg.range(0.0, 0.35);
    let (fx, fy) = direction(bg);
    let bands = bg.range(2.0, 8.0);
    let turb = bg.range(2.0, 7.0);
    let (ox, oy) = (bg.range(-0.5, 1.5) * w, bg.range(-0.5, 1.5) * h);
    let salt = bg.next_u64();
    let rows = |y: f32| {
        let (mut n, mut t) = (Vec::new(), Vec::new());
        fbm.row(y, &mut n);
        tint.row(y, &mut t);
        (n, t)
    };
    cv.fill_rows(rows, |(nrow, trow), xi, x, y| {
        let n = nrow[xi];
        let t = match style {
            0 => smoothstep(0.25, 0.75, n),
            1 => tri((x * fx + y * fy) / s * bands + turb * n).sqrt(),
            2 => {
                let (ex, ey) = ((x - ox) / s, (y - oy) / s);
                tri((ex * ex + ey * ey).sqrt() * bands * 3.0 + turb * 0.5 * n)
            }
            _ => {
                let speck = unit(hash2(x as i64, y as i64, salt));
                if speck < 0.03 {
                    0.0
                } else if speck > 0.985 {
                    1.0
                } else {
                    n
                }
            }
        };
        mix(
            ramp.at(t),
            alt,
            (trow[xi] - 0.5).max(0.0) * 2.0 * tint_amount,
        )
    });
    pebbles(cv, cx, s, w, h);
}

fn pebbles(cv: &mut Canvas, cx: &mut Ctx, s: f32, w: f32, h: f32) {
    let slots: Vec<(f32, f32, f32)> = (0..3)
        .map(|_| {
            (
                cx.bg.range(0.0, w),
                cx.bg.range(0.0, h),
                s * cx.bg.range(0.04, 0.15),
            )
        })
        .collect();
    let must = cx.fg.below(3);
    for (i, &(x, y, r)) in slots.iter().enumerate() {
        if !cx.present(must, i as u32, 0.35) {
            continue;
        }
        let col = natural(&mut cx.fg);
        cv.soft_ellipse(x + r * 0.3, y + r * 0.3, r * 1.2, r * 1.2, BLACK, 0.35);
        if cx.fg.chance(0.6) {
            cv.shaded_circle(x, y, r, 1.0, |u, v| {
                scale(col, 1.1 - 0.45 * (u + v + 1.0) * 0.5)
            });
        } else {
            flat_shape(cv, &mut cx.fg, x, y, r, col, 1.0);
        }
    }
}

/// Dead-leaves clutter: overlapping circles, rectangles and triangles from a small palette.
pub(crate) fn dead_leaves(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h).max(1.0);
    let bg = &mut cx.bg;
    let palette: Vec<Rgb> = (0..3 + bg.below(6)).map(|_| natural(bg)).collect();
    let base = palette[0];
    cv.fill(|_, _| base);
    let rmax = s * bg.range(0.1, 0.3);
    let rmin = (s * 0.01).max(0.7);
    // Radii r = rmin + (rmax - rmin) u³: many small shapes, a few large ones. Mean area is
    // about π (rmax² / 7); draw enough for ~4 layers of coverage, capped for huge images.
    // A rounded π on purpose: the generator's output is pinned by the fixtures, and
    // `consts::PI` would change the shape count of every dead-leaves image.
    #[allow(clippy::approx_constant)]
    let mean_area = 3.14159 * (rmax * rmax / 7.0 + rmin * rmin);
    let count = ((4.0 * w * h / mean_area) as usize).clamp(8, 4000);
    for _ in 0..count {
        let u = bg.f32();
        let r = rmin + (rmax - rmin) * u * u * u;
        let (x, y) = (bg.range(-0.05, 1.05) * w, bg.range(-0.05, 1.05) * h);
        let pc = palette[bg.below(palette.len() as u32) as usize];
        let col = scale(pc, bg.range(0.8, 1.15));
        flat_shape(cv, bg, x, y, r, col, 1.0);
    }
    let slots: Vec<(f32, f32, f32)> = (0..6)
        .map(|_| {
            (
                bg.range(0.0, w),
                bg.range(0.0, h),
                rmin + (rmax - rmin) * bg.range(0.2, 0.7),
            )
        })
        .collect();
    let grain = if bg.chance(0.5) {
        0.0
    } else {
        bg.range(0.5, 3.0) / 255.0
    };
    let grain_salt = bg.next_u64();
    let must = cx.fg.below(6);
    for (i, &(x, y, r)) in slots.iter().enumerate() {
        if !cx.present(must, i as u32, 0.5) {
            continue;
        }
        let col = if cx.fg.chance(0.5) {
            natural(&mut cx.fg)
        } else {
            palette[cx.fg.below(palette.len() as u32) as usize]
        };
        flat_shape(cv, &mut cx.fg, x, y, r, col, 1.0);
    }
    cv.grain(grain, grain_salt);
}

/// Landscapes: sky gradient, optional sun and clouds, layered hazy ridges, trees/houses/rocks.
pub(crate) fn landscape(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h).max(1.0);
    let bg = &mut cx.bg;
    let horizon = h * bg.range(0.3, 0.6);
    let (top, hor) = match bg.below(3) {
        0 => (
            hsv(bg.range(0.55, 0.65), bg.range(0.5, 0.8), bg.range(0.6, 0.9)),
            hsv(bg.range(0.5, 0.6), bg.range(0.1, 0.3), bg.range(0.85, 1.0)),
        ),
        1 => (
            hsv(bg.range(0.6, 0.75), bg.range(0.4, 0.7), bg.range(0.3, 0.6)),
            hsv(
                bg.range(0.02, 0.12),
                bg.range(0.5, 0.9),
                bg.range(0.85, 1.0),
            ),
        ),
        _ => (
            hsv(bg.range(0.6, 0.7), bg.range(0.5, 0.8), bg.range(0.1, 0.3)),
            hsv(bg.range(0.7, 0.95), bg.range(0.2, 0.5), bg.range(0.4, 0.7)),
        ),
    };
    let cloudy = bg.chance(0.5);
    let clouds = Fbm2::new(cv.w, cv.h, s * bg.range(0.2, 0.5), 6, 0.55, bg.next_u64());
    let cover = bg.range(0.45, 0.7);
    let cloud_rows = |y: f32| {
        let mut r = Vec::new();
        // Clouds are flattened vertically; below the horizon they are hidden by the land.
        if cloudy && y < horizon {
            clouds.row(y * 1.8, &mut r);
        }
        r
    };
    cv.fill_rows(cloud_rows, |row, xi, _, y| {
        let sky = mix(top, hor, smoothstep(0.0, horizon.max(1.0), y));
        match row.get(xi) {
            Some(&n) => mix(
                sky,
                mix(WHITE, hor, 0.3),
                smoothstep(cover, cover + 0.2, n) * 0.8,
            ),
            None => sky,
        }
    });
    let has_sun = bg.chance(0.7);
    let (sx, sy, sr) = (
        bg.range(0.1, 0.9) * w,
        bg.range(0.15, 0.9) * horizon,
        s * bg.range(0.03, 0.08),
    );
    let sun = hsv(bg.range(0.05, 0.16), bg.range(0.1, 0.6), 1.0);
    if has_sun {
        cv.soft_ellipse(sx, sy, sr * 5.0, sr * 5.0, sun, 0.35);
        cv.circle(sx, sy, sr, sun, 1.0);
    }
    let layers = 3 + bg.below(3);
    let land_hue = bg.range(0.05, 0.4);
    let mut front_top = vec![h; cv.w];
    let mut front_col = BLACK;
    for i in 0..layers {
        let f = (i + 1) as f32 / layers as f32;
        let base = horizon + (h - horizon) * (f * 0.75 - 0.1);
        let amp = h * 0.3 * (1.0 - f * 0.6) * bg.range(0.4, 1.0);
        let ridge = Fbm1::new(
            cv.w,
            s * bg.range(0.15, 0.5),
            7,
            bg.range(0.4, 0.6),
            bg.next_u64(),
        );
        let ridged = bg.chance(0.5);
        let col = hsv(
            land_hue + bg.range(-0.08, 0.08),
            bg.range(0.2, 0.6),
            bg.range(0.2, 0.6) * (1.2 - f * 0.5),
        );
        let col = mix(col, hor, (1.0 - f) * 0.75);
        let texture_salt = bg.next_u64();
        let last = i + 1 == layers;
        // Only the two nearest layers are close enough to show texture.
        let texture =
            (i + 2 >= layers).then(|| Fbm2::new(cv.w, cv.h, s * 0.08, 4, 0.5, texture_salt));
        let tops: Vec<f32> = (0..cv.w)
            .map(|x| {
                let n = ridge.at(x as f32 + 0.5);
                let n = if ridged {
                    1.0 - (2.0 * n - 1.0).abs()
                } else {
                    n
                };
                base - amp * n
            })
            .collect();
        let first_row = tops.iter().fold(h, |m, &t| m.min(t)).floor().max(0.0) as usize;
        let mut trow = Vec::new();
        for y in first_row..cv.h {
            let fy = y as f32 + 0.5;
            if let Some(t) = &texture {
                t.row(fy, &mut trow);
            }
            for (x, &top_y) in tops.iter().enumerate() {
                let cov = (fy + 0.5 - top_y).clamp(0.0, 1.0);
                if cov <= 0.0 {
                    continue;
                }
                let shade = 1.0 - 0.25 * ((fy - top_y) / (h - top_y).max(1.0));
                let t = trow.get(x).map_or(1.0, |n| 0.85 + 0.3 * n);
                cv.blend(x, y, scale(col, shade * t), cov);
            }
        }
        if last {
            front_top = tops;
            front_col = col;
        }
    }
    let slots: Vec<(f32, f32)> = (0..5)
        .map(|_| (bg.range(0.05, 0.95) * w, s * bg.range(0.05, 0.16)))
        .collect();
    let grain = if bg.chance(0.6) {
        0.0
    } else {
        bg.range(0.5, 2.5) / 255.0
    };
    let grain_salt = bg.next_u64();
    let must = cx.fg.below(5);
    for (i, &(x, size)) in slots.iter().enumerate() {
        if !cx.present(must, i as u32, 0.6) {
            continue;
        }
        let xi = (x.max(0.0) as usize).min(cv.w.saturating_sub(1));
        let ground = front_top.get(xi).copied().unwrap_or(h) + size * 0.15;
        landscape_object(cv, &mut cx.fg, x, ground, size, front_col);
    }
    cv.grain(grain, grain_salt);
}

fn landscape_object(cv: &mut Canvas, fg: &mut Rng, x: f32, ground: f32, size: f32, land: Rgb) {
    let trunk = hsv(fg.range(0.05, 0.1), fg.range(0.4, 0.7), fg.range(0.2, 0.4));
    match fg.below(4) {
        0 => {
            // Pine: stacked triangles on a short trunk.
            let green = hsv(
                fg.range(0.25, 0.42),
                fg.range(0.4, 0.8),
                fg.range(0.15, 0.45),
            );
            cv.rect(
                x - size * 0.06,
                ground - size * 0.3,
                x + size * 0.06,
                ground,
                trunk,
                1.0,
            );
            let tiers = 2 + fg.below(3);
            for k in 0..tiers {
                let yb = ground - size * (0.2 + 0.8 * k as f32 / tiers as f32);
                let half = size * 0.35 * (1.0 - 0.5 * k as f32 / tiers as f32);
                let pts = [(x - half, yb), (x + half, yb), (x, yb - size * 0.6)];
                cv.convex(&pts, scale(green, 1.0 + 0.1 * k as f32), 1.0);
            }
        }
        1 => {
            // Broadleaf tree: trunk and a shaded crown.
            let green = hsv(
                fg.range(0.18, 0.38),
                fg.range(0.4, 0.8),
                fg.range(0.25, 0.6),
            );
            cv.rect(
                x - size * 0.07,
                ground - size * 0.6,
                x + size * 0.07,
                ground,
                trunk,
                1.0,
            );
            let r = size * fg.range(0.3, 0.45);
            cv.shaded_circle(x, ground - size * 0.6 - r * 0.6, r, 1.0, |u, v| {
                scale(green, 1.05 - 0.3 * (u + v + 2.0) * 0.25)
            });
        }
        2 => {
            // House: walls, roof, door, window.
            let wall = hsv(fg.f32(), fg.range(0.1, 0.4), fg.range(0.6, 0.95));
            let roof = hsv(fg.range(0.0, 0.1), fg.range(0.4, 0.8), fg.range(0.3, 0.6));
            let hw = size * fg.range(0.35, 0.55);
            let wh = size * fg.range(0.4, 0.6);
            cv.rect(x - hw, ground - wh, x + hw, ground, wall, 1.0);
            let pts = [
                (x - hw * 1.15, ground - wh),
                (x + hw * 1.15, ground - wh),
                (x, ground - wh - size * 0.4),
            ];
            cv.convex(&pts, roof, 1.0);
            cv.rect(
                x - hw * 0.2,
                ground - wh * 0.55,
                x + hw * 0.1,
                ground,
                scale(roof, 0.6),
                1.0,
            );
            cv.rect(
                x + hw * 0.35,
                ground - wh * 0.7,
                x + hw * 0.75,
                ground - wh * 0.4,
                [0.9, 0.85, 0.5],
                1.0,
            );
        }
        _ => {
            // Rock: a shaded, half-buried boulder.
            let grey = mix(land, [0.5, 0.5, 0.5], fg.range(0.4, 0.9));
            let r = size * fg.range(0.25, 0.45);
            cv.shaded_circle(x, ground, r, 1.0, |u, v| {
                scale(grey, 1.1 - 0.4 * (u + v + 2.0) * 0.25)
            });
        }
    }
}

/// Indoor rooms in one-point perspective: floor (planks, tiles or carpet), walls, ceiling,
/// a window or picture, and furniture boxes with soft shadows.
pub(crate) fn indoor(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let bg = &mut cx.bg;
    let (vx, vy) = (w * bg.range(0.35, 0.65), h * bg.range(0.35, 0.6));
    let (hw, hh) = (
        (w * bg.range(0.2, 0.35)).max(0.5),
        (h * bg.range(0.2, 0.35)).max(0.5),
    );
    let wall = hsv(bg.f32(), bg.range(0.05, 0.4), bg.range(0.55, 0.95));
    let side_wall = scale(wall, bg.range(0.75, 0.9));
    let ceiling = hsv(bg.f32(), bg.range(0.0, 0.1), bg.range(0.8, 1.0));
    let floor_style = bg.below(3);
    let floor = match floor_style {
        0 => hsv(bg.range(0.05, 0.11), bg.range(0.4, 0.7), bg.range(0.3, 0.7)),
        1 => hsv(bg.f32(), bg.range(0.0, 0.3), bg.range(0.5, 0.95)),
        _ => hsv(bg.f32(), bg.range(0.2, 0.6), bg.range(0.2, 0.6)),
    };
    let tiles = bg.range(3.0, 8.0);
    let carpet = Fbm2::new(cv.w, cv.h, 6.0, 3, 0.5, bg.next_u64());
    let light = bg.range(0.2, 0.5);
    let plank_salt = bg.next_u64();
    let carpet_rows = |y: f32| {
        let mut r = Vec::new();
        if floor_style == 2 && y > vy {
            carpet.row(y, &mut r);
        }
        r
    };
    cv.fill_rows(carpet_rows, |crow, xi, x, y| {
        let (u, v) = ((x - vx) / hw, (y - vy) / hh);
        let m = u.abs().max(v.abs());
        // Distance falls as 1/m; surfaces darken slightly with depth.
        let depth_shade = 1.0 - light * (1.0 / m.max(1.0));
        if m <= 1.0 {
            return scale(wall, 1.0 - light);
        }
        if v.abs() >= u.abs() {
            if v < 0.0 {
                return scale(ceiling, depth_shade);
            }
            let (z, xx) = (1.0 / v, u / v);
            let c = match floor_style {
                0 => {
                    let p = xx * tiles;
                    let plank = p.floor() as i64;
                    let offset = unit(hash2(plank, 0, plank_salt));
                    let seam = (p - p.floor() < 0.04) || ((z * 3.0 + offset).fract() < 0.015);
                    let grain = 0.9 + 0.15 * unit(hash2(plank, 1, plank_salt));
                    scale(floor, if seam { 0.6 } else { grain })
                }
                1 => {
                    let (p, q) = (xx * tiles * 0.5, z * tiles);
                    let grout = (p - p.floor() < 0.04) || (q - q.floor() < 0.06);
                    if grout {
                        scale(floor, 0.7)
                    } else {
                        floor
                    }
                }
                _ => scale(floor, 0.85 + 0.3 * crow.get(xi).copied().unwrap_or(0.5)),
            };
            scale(c, depth_shade)
        } else {
            scale(side_wall, depth_shade * if u < 0.0 { 0.95 } else { 1.05 })
        }
    });
    let proj = |px: f32, py: f32, pz: f32| (vx + hw * px / pz, vy + hh * py / pz);
    // Wall decor on the back wall (x, y in [-1, 1] back-wall units).
    let decor = bg.below(3);
    let (dx0, dy0) = (bg.range(-0.8, 0.1), bg.range(-0.8, -0.2));
    let (dw, dh) = (bg.range(0.3, 0.7), bg.range(0.3, 0.6));
    let art = [natural(bg), natural(bg), natural(bg)];
    let (ax0, ay0) = proj(dx0, dy0, 1.0);
    let (ax1, ay1) = proj(dx0 + dw, dy0 + dh, 1.0);
    match decor {
        0 => {
            // Window: frame, sky, mullions.
            cv.rect(
                ax0 - 3.0,
                ay0 - 3.0,
                ax1 + 3.0,
                ay1 + 3.0,
                scale(wall, 1.1),
                1.0,
            );
            let sky_top = hsv(0.58, 0.5, 0.9);
            cv.paint(ax0, ay0, ax1, ay1, |_, y| {
                Some((mix(sky_top, WHITE, (y - ay0) / (ay1 - ay0).max(1.0)), 1.0))
            });
            let mx = (ax0 + ax1) * 0.5;
            let my = (ay0 + ay1) * 0.5;
            cv.rect(mx - 1.5, ay0, mx + 1.5, ay1, WHITE, 1.0);
            cv.rect(ax0, my - 1.5, ax1, my + 1.5, WHITE, 1.0);
        }
        1 => {
            // Framed picture: blocks of colour.
            cv.rect(
                ax0 - 4.0,
                ay0 - 4.0,
                ax1 + 4.0,
                ay1 + 4.0,
                [0.15, 0.12, 0.1],
                1.0,
            );
            cv.rect(ax0, ay0, ax1, ay1, art[0], 1.0);
            cv.circle(
                (ax0 + ax1) * 0.5,
                (ay0 + ay1) * 0.5,
                (ax1 - ax0).min(ay1 - ay0) * 0.3,
                art[1],
                1.0,
            );
            cv.rect(ax0, (ay0 + ay1) * 0.5, ax1, ay1, art[2], 0.7);
        }
        _ => {}
    }
    // Furniture slots, sorted far to near so nearer pieces overlap farther ones.
    let mut slots: Vec<(f32, f32, f32, f32)> = (0..3)
        .map(|_| {
            let wx = bg.range(0.25, 0.6);
            let cxp = bg.range(-0.95 + wx * 0.5, 0.95 - wx * 0.5);
            let wz = bg.range(0.1, 0.25);
            let cz = bg.range(0.45, 0.98 - wz * 0.5);
            (cxp, cz, wx, wz)
        })
        .collect();
    slots.sort_by(|a, b| b.1.total_cmp(&a.1));
    let grain = bg.range(0.0, 2.0) / 255.0;
    let grain_salt = bg.next_u64();
    let must = cx.fg.below(3);
    for (i, &(fx, fz, wx, wz)) in slots.iter().enumerate() {
        if !cx.present(must, i as u32, 0.6) {
            continue;
        }
        let (sx, sy) = proj(fx, 1.0, fz);
        cv.soft_ellipse(sx, sy, hw * wx / fz * 0.7, hh * wz / fz * 0.9, BLACK, 0.45);
        let col = natural(&mut cx.fg);
        let (x0, x1, z0, z1) = (fx - wx * 0.5, fx + wx * 0.5, fz - wz * 0.5, fz + wz * 0.5);
        let fg = &mut cx.fg;
        match fg.below(4) {
            0 => {
                let top = 1.0 - fg.range(0.6, 1.3);
                draw_box(cv, &proj, [x0, x1, top, 1.0, z0, z1], col);
                // Drawer lines on the front face.
                let n = 2 + fg.below(3);
                for k in 1..n {
                    let yy = top + (1.0 - top) * k as f32 / n as f32;
                    let (a, b) = (proj(x0, yy, z0), proj(x1, yy, z0));
                    cv.rect(a.0, a.1 - 0.75, b.0, a.1 + 0.75, scale(col, 0.5), 1.0);
                }
            }
            1 => {
                let top = 1.0 - fg.range(0.4, 0.6);
                let leg = wx * 0.06;
                for &(lx, lz) in &[(x0, z1), (x1 - leg, z1), (x0, z0), (x1 - leg, z0 + 0.0)] {
                    draw_box(
                        cv,
                        &proj,
                        [
                            lx,
                            lx + leg,
                            top,
                            1.0,
                            lz.min(z1 - 0.02),
                            lz.min(z1 - 0.02) + 0.02,
                        ],
                        scale(col, 0.8),
                    );
                }
                draw_box(cv, &proj, [x0, x1, top - 0.06, top, z0, z1], col);
            }
            2 => {
                let seat = 1.0 - fg.range(0.25, 0.45);
                draw_box(
                    cv,
                    &proj,
                    [x0, x1, seat - fg.range(0.3, 0.5), 1.0, z1 - wz * 0.3, z1],
                    scale(col, 0.9),
                );
                draw_box(cv, &proj, [x0, x1, seat, 1.0, z0, z1], col);
            }
            _ => {
                let pole = 0.03;
                let top = 1.0 - fg.range(0.9, 1.4);
                draw_box(
                    cv,
                    &proj,
                    [fx - pole, fx + pole, top, 1.0, fz - pole, fz + pole],
                    [0.2, 0.2, 0.2],
                );
                let shade = hsv(fg.range(0.08, 0.16), fg.range(0.1, 0.5), 0.95);
                let (a, b) = (proj(fx - 0.1, top, fz), proj(fx + 0.1, top, fz));
                let (c, d) = (
                    proj(fx + 0.18, top + 0.2, fz),
                    proj(fx - 0.18, top + 0.2, fz),
                );
                cv.soft_ellipse(
                    (a.0 + b.0) * 0.5,
                    (a.1 + c.1) * 0.5,
                    (c.0 - d.0) * 1.5,
                    (c.0 - d.0) * 1.5,
                    shade,
                    0.3,
                );
                cv.convex(&[a, b, c, d], shade, 1.0);
            }
        }
    }
    cv.grain(grain, grain_salt);
}

/// A box in room coordinates `[x0, x1, y_top, y_bottom, z_near, z_far]`, y pointing down
/// (eye at y = 0), lit from the front-top.
fn draw_box(cv: &mut Canvas, proj: &impl Fn(f32, f32, f32) -> (f32, f32), b: [f32; 6], col: Rgb) {
    let [x0, x1, y0, y1, z0, z1] = b;
    if x1 < 0.0 {
        let q = [
            proj(x1, y0, z0),
            proj(x1, y0, z1),
            proj(x1, y1, z1),
            proj(x1, y1, z0),
        ];
        cv.convex(&q, scale(col, 0.7), 1.0);
    } else if x0 > 0.0 {
        let q = [
            proj(x0, y0, z0),
            proj(x0, y0, z1),
            proj(x0, y1, z1),
            proj(x0, y1, z0),
        ];
        cv.convex(&q, scale(col, 0.7), 1.0);
    }
    if y0 > 0.0 {
        let q = [
            proj(x0, y0, z0),
            proj(x1, y0, z0),
            proj(x1, y0, z1),
            proj(x0, y0, z1),
        ];
        cv.convex(&q, scale(col, 1.15), 1.0);
    }
    let (a, b) = (proj(x0, y0, z0), proj(x1, y1, z0));
    cv.rect(a.0, a.1, b.0, b.1, col, 1.0);
}

/// Product shots: one to three objects (boxes, cylinders, spheres, bottles, cones, mugs) on a
/// plain, gradient or sweep backdrop, lit from one side, with soft contact shadows.
pub(crate) fn product(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h).max(1.0);
    let bg = &mut cx.bg;
    let style = bg.below(3);
    let hue = bg.f32();
    let c0 = hsv(hue, bg.range(0.0, 0.3), bg.range(0.6, 1.0));
    let c1 = hsv(
        hue + bg.range(-0.1, 0.1),
        bg.range(0.0, 0.4),
        bg.range(0.3, 0.9),
    );
    let sweep = h * bg.range(0.55, 0.75);
    let vignette = bg.range(0.0, 0.35);
    cv.fill(|x, y| {
        let base = match style {
            0 => c0,
            1 => mix(c0, c1, y / h),
            _ => mix(c1, c0, smoothstep(sweep - h * 0.15, sweep + h * 0.05, y)),
        };
        let (u, v) = (x / w - 0.5, y / h - 0.5);
        scale(base, 1.0 - vignette * (u * u + v * v) * 2.0)
    });
    let light = if bg.chance(0.5) { 1.0f32 } else { -1.0 };
    let n = 1 + bg.below(3);
    let slots: Vec<(f32, f32, f32)> = (0..n)
        .map(|i| {
            let size = s * bg.range(0.3, 0.5) / (n as f32).sqrt();
            let xc = w * (i as f32 + 0.5) / n as f32 + bg.range(-0.1, 0.1) * w / n as f32;
            (xc, h * bg.range(0.65, 0.88), size)
        })
        .collect();
    let grain = bg.range(0.0, 1.5) / 255.0;
    let grain_salt = bg.next_u64();
    let must = cx.fg.below(n);
    for (i, &(x, base, size)) in slots.iter().enumerate() {
        // A product shot always shows at least one product.
        if !(cx.present(must, i as u32, 0.85) || i as u32 == must) {
            continue;
        }
        // The contact shadow belongs to the slot (same place for every variant).
        cv.soft_ellipse(
            x - light * size * 0.25,
            base,
            size * 0.75,
            size * 0.14,
            BLACK,
            0.55,
        );
        product_object(cv, &mut cx.fg, x, base, size, light);
    }
    cv.grain(grain, grain_salt);
}

/// Diffuse shading across a cylinder at normalised offset `u` in [-1, 1], light from `light`.
fn cyl_shade(u: f32, light: f32) -> f32 {
    let nz = (1.0 - u * u).max(0.0).sqrt();
    let lambert = (-u * light * 0.6 + nz * 0.8).max(0.0);
    let spec = ((-u * light * 0.35 + nz * 0.94) - 0.97).max(0.0) * 12.0;
    0.3 + 0.7 * lambert + spec
}

fn product_object(cv: &mut Canvas, fg: &mut Rng, x: f32, base: f32, size: f32, light: f32) {
    let col = vivid(fg);
    let cylinder = |cv: &mut Canvas, x0: f32, x1: f32, y0: f32, y1: f32, col: Rgb| {
        let (r, xc) = ((x1 - x0) * 0.5, (x0 + x1) * 0.5);
        let e = r * 0.25;
        // Bottom cap, body, lighter top cap.
        cv.paint(x0, y1 - e, x1, y1 + e, |px, py| {
            let (u, v) = ((px - xc) / r.max(0.5), (py - y1) / e.max(0.5));
            (u * u + v * v <= 1.0).then(|| (scale(col, cyl_shade(u, light)), 1.0))
        });
        cv.paint(x0 - 1.0, y0, x1 + 1.0, y1, |px, _| {
            let u = (px - xc) / r.max(0.5);
            let cov = (r - (px - xc).abs() + 0.5).clamp(0.0, 1.0);
            (cov > 0.0).then(|| (scale(col, cyl_shade(u.clamp(-1.0, 1.0), light)), cov))
        });
        cv.paint(x0, y0 - e, x1, y0 + e, |px, py| {
            let (u, v) = ((px - xc) / r.max(0.5), (py - y0) / e.max(0.5));
            (u * u + v * v <= 1.0).then(|| (scale(col, 1.1 - 0.1 * v), 1.0))
        });
    };
    match fg.below(6) {
        0 => {
            // Box with front, top and side faces.
            let (bw, bh, d) = (
                size * fg.range(0.4, 0.8),
                size * fg.range(0.4, 1.0),
                size * fg.range(0.15, 0.3),
            );
            let (x0, x1, y0) = (x - bw * 0.5, x + bw * 0.5, base - bh);
            let side = if light > 0.0 { x1 } else { x0 };
            let off = if light > 0.0 { d } else { -d };
            cv.convex(
                &[
                    (side, y0),
                    (side + off, y0 - d * 0.6),
                    (side + off, base - d * 0.6),
                    (side, base),
                ],
                scale(col, 0.6),
                1.0,
            );
            cv.convex(
                &[
                    (x0, y0),
                    (x1, y0),
                    (x1 + off, y0 - d * 0.6),
                    (x0 + off, y0 - d * 0.6),
                ],
                scale(col, 1.2),
                1.0,
            );
            cv.rect(x0, y0, x1, base, col, 1.0);
            if fg.chance(0.5) {
                let label = vivid(fg);
                cv.rect(
                    x0 + bw * 0.15,
                    y0 + bh * 0.3,
                    x1 - bw * 0.15,
                    y0 + bh * 0.55,
                    label,
                    1.0,
                );
            }
        }
        1 => {
            let r = size * fg.range(0.3, 0.5);
            cv.shaded_circle(x, base - r, r, 1.0, |u, v| {
                let nz = (1.0 - u * u - v * v).max(0.0).sqrt();
                let lambert = (-u * light * 0.5 - v * 0.5 + nz * 0.7).max(0.0);
                let hl = ((-u * light * 0.4 - v * 0.4 + nz * 0.82) - 0.96).max(0.0) * 20.0;
                mix(scale(col, 0.25 + 0.75 * lambert), WHITE, hl.min(1.0))
            });
        }
        2 => {
            let (r, hgt) = (size * fg.range(0.2, 0.4), size * fg.range(0.5, 1.1));
            cylinder(cv, x - r, x + r, base - hgt, base, col);
        }
        3 => {
            // Bottle: body, shoulder, neck, cap, label.
            let (r, hgt) = (size * fg.range(0.15, 0.25), size * fg.range(0.8, 1.3));
            let neck = r * fg.range(0.3, 0.45);
            let body_top = base - hgt * 0.65;
            cylinder(cv, x - r, x + r, body_top, base, col);
            cv.convex(
                &[
                    (x - r, body_top),
                    (x + r, body_top),
                    (x + neck, body_top - hgt * 0.12),
                    (x - neck, body_top - hgt * 0.12),
                ],
                scale(col, 0.9),
                1.0,
            );
            cylinder(
                cv,
                x - neck,
                x + neck,
                base - hgt,
                body_top - hgt * 0.1,
                col,
            );
            cv.rect(
                x - neck * 1.1,
                base - hgt - r * 0.3,
                x + neck * 1.1,
                base - hgt + r * 0.1,
                vivid(fg),
                1.0,
            );
            let label = vivid(fg);
            cylinder(
                cv,
                x - r,
                x + r,
                body_top + hgt * 0.15,
                body_top + hgt * 0.4,
                label,
            );
        }
        4 => {
            let (r, hgt) = (size * fg.range(0.25, 0.45), size * fg.range(0.5, 1.0));
            cv.convex_shaded(
                &[(x - r, base), (x + r, base), (x, base - hgt)],
                1.0,
                |px, _| scale(col, cyl_shade(((px - x) / r).clamp(-1.0, 1.0), light)),
            );
        }
        _ => {
            // Mug: cylinder plus a ring handle on the side away from the light.
            let (r, hgt) = (size * fg.range(0.22, 0.32), size * fg.range(0.4, 0.6));
            let hx = x - light * r * 1.05;
            let (ro, ri) = (hgt * 0.3, hgt * 0.18);
            cv.paint(
                hx - ro - 1.0,
                base - hgt * 0.5 - ro - 1.0,
                hx + ro + 1.0,
                base - hgt * 0.5 + ro + 1.0,
                |px, py| {
                    let (dx, dy) = (px - hx, py - (base - hgt * 0.5));
                    let d = (dx * dx + dy * dy).sqrt();
                    let cov = (ro - d + 0.5)
                        .clamp(0.0, 1.0)
                        .min((d - ri + 0.5).clamp(0.0, 1.0));
                    (cov > 0.0).then(|| (scale(col, 0.8), cov))
                },
            );
            cylinder(cv, x - r, x + r, base - hgt, base, col);
        }
    }
}

/// Documents and screenshots: pages of block-glyph text, headings, tables and figures, or
/// application windows with title bars, sidebars, buttons and scroll bars.
pub(crate) fn document(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h).max(1.0);
    let t = ((s / 320.0) as usize).clamp(1, 6);
    if cx.bg.chance(0.5) {
        paper(cv, cx, w, h, t);
    } else {
        screenshot(cv, cx, w, h, t);
    }
}

fn paper(cv: &mut Canvas, cx: &mut Ctx, w: f32, h: f32, t: usize) {
    let bg = &mut cx.bg;
    let on_desk = bg.chance(0.4);
    let desk = hsv(bg.range(0.05, 0.12), bg.range(0.2, 0.6), bg.range(0.2, 0.6));
    let page = hsv(
        bg.range(0.08, 0.15),
        bg.range(0.0, 0.08),
        bg.range(0.9, 1.0),
    );
    let (px0, py0, px1, py1) = if on_desk {
        (
            w * bg.range(0.05, 0.2),
            h * bg.range(0.03, 0.1),
            w * bg.range(0.8, 0.95),
            h * bg.range(0.9, 1.1),
        )
    } else {
        (0.0, 0.0, w, h)
    };
    cv.fill(|_, _| if on_desk { desk } else { page });
    if on_desk {
        cv.soft_ellipse(
            (px0 + px1) * 0.5 + 4.0,
            (py0 + py1) * 0.5 + 6.0,
            (px1 - px0) * 0.62,
            (py1 - py0) * 0.62,
            BLACK,
            0.4,
        );
        cv.rect(px0, py0, px1, py1, page, 1.0);
    }
    let ink = hsv(bg.f32(), bg.range(0.0, 0.3), bg.range(0.0, 0.25));
    let accent = hsv(bg.f32(), bg.range(0.4, 0.8), bg.range(0.3, 0.7));
    let margin = ((px1 - px0) * 0.08).max(1.0);
    let (x0, x1) = (px0 + margin, px1 - margin);
    let cell = |sc: usize| (font::ADVANCE * sc) as f32;
    let cols = |sc: usize| ((x1 - x0) / cell(sc)).max(0.0) as usize;
    let mut y = py0 + margin;
    // Title.
    let title_len = (cols(2 * t) as f32 * bg.range(0.4, 0.9)) as usize;
    let text = font::random_words(&mut cx.fg, title_len);
    draw_text(cv, x0, y, 2 * t, &text, ink);
    y += (font::HEIGHT * 2 * t + 6 * t) as f32;
    cv.rect(x0, y, x1, y + t as f32, accent, 1.0);
    y += (5 * t) as f32;
    let line_h = ((font::HEIGHT + 3) * t) as f32;
    let mut guard = 0;
    while y + line_h < py1 - margin && guard < 200 {
        guard += 1;
        let bg = &mut cx.bg;
        match bg.below(6) {
            0 => {
                // Heading.
                let len = (cols(t) as f32 * bg.range(0.2, 0.5)) as usize;
                let text = font::random_words(&mut cx.fg, len);
                draw_text(cv, x0, y + line_h * 0.5, t, &text, accent);
                y += line_h * 2.0;
            }
            1 => {
                // Table: grid of short cells.
                let (rows, ncols) = (2 + bg.below(5) as usize, 2 + bg.below(4) as usize);
                let cw = (x1 - x0) / ncols as f32;
                let head = scale(accent, 1.3);
                for r in 0..rows {
                    let ry = y + r as f32 * line_h * 1.3;
                    if ry + line_h > py1 - margin {
                        break;
                    }
                    if r == 0 {
                        cv.rect(x0, ry, x1, ry + line_h * 1.3, head, 0.3);
                    }
                    cv.rect(x0, ry, x1, ry + 1.0, ink, 0.6);
                    for c in 0..ncols {
                        let len = (((cw / cell(t)) as usize).saturating_sub(1) as f32
                            * bg.range(0.5, 1.0)) as usize;
                        let text = font::random_words(&mut cx.fg, len);
                        draw_text(
                            cv,
                            x0 + c as f32 * cw + 2.0,
                            ry + (2 * t) as f32,
                            t,
                            &text,
                            ink,
                        );
                    }
                }
                y += rows as f32 * line_h * 1.3 + line_h;
            }
            2 => {
                // Figure: a framed box with shapes, and a caption.
                let fh = (h * bg.range(0.12, 0.25)).min(py1 - margin - y - line_h);
                let fw = (x1 - x0) * bg.range(0.4, 1.0);
                if fh > 4.0 {
                    let fill = natural(bg);
                    cv.rect(x0, y, x0 + fw, y + fh, fill, 1.0);
                    for _ in 0..3 {
                        let (fx, fy) = (
                            x0 + fw * cx.fg.range(0.1, 0.9),
                            y + fh * cx.fg.range(0.1, 0.9),
                        );
                        let c = natural(&mut cx.fg);
                        flat_shape(cv, &mut cx.fg, fx, fy, fh * 0.25, c, 1.0);
                    }
                    y += fh + line_h * 0.5;
                    let len = (cols(t) as f32 * 0.5) as usize;
                    let text = font::random_words(&mut cx.fg, len);
                    draw_text(cv, x0, y, t, &text, scale(ink, 1.5));
                }
                y += line_h * 1.5;
            }
            3 => {
                // Bullet list.
                let items = 2 + bg.below(4);
                for _ in 0..items {
                    if y + line_h > py1 - margin {
                        break;
                    }
                    let len = (cols(t).saturating_sub(3) as f32 * bg.range(0.3, 1.0)) as usize;
                    cv.circle(
                        x0 + (2 * t) as f32,
                        y + (3 * t) as f32 + 0.5,
                        t as f32 * 1.5,
                        ink,
                        1.0,
                    );
                    let text = font::random_words(&mut cx.fg, len);
                    draw_text(cv, x0 + cell(t) * 2.0, y, t, &text, ink);
                    y += line_h;
                }
                y += line_h * 0.5;
            }
            _ => {
                // Paragraph: full lines and a shorter last line.
                let lines = 2 + bg.below(6);
                for k in 0..lines {
                    if y + line_h > py1 - margin {
                        break;
                    }
                    let full = cols(t);
                    let len = if k + 1 == lines {
                        (full as f32 * bg.range(0.2, 0.9)) as usize
                    } else {
                        full
                    };
                    let text = font::random_words(&mut cx.fg, len);
                    draw_text(cv, x0, y, t, &text, ink);
                    y += line_h;
                }
                y += line_h * 0.6;
            }
        }
    }
    if cx.bg.chance(0.5) {
        let grain = cx.bg.range(0.5, 2.0) / 255.0;
        let salt = cx.bg.next_u64();
        cv.grain(grain, salt);
    }
}

fn screenshot(cv: &mut Canvas, cx: &mut Ctx, w: f32, h: f32, t: usize) {
    let bg = &mut cx.bg;
    let dark = bg.chance(0.4);
    let hue = bg.f32();
    let (base, panel, text_col) = if dark {
        (
            hsv(hue, 0.15, 0.13),
            hsv(hue, 0.15, 0.18),
            hsv(hue, 0.05, 0.85),
        )
    } else {
        (
            hsv(hue, 0.03, 0.98),
            hsv(hue, 0.06, 0.92),
            hsv(hue, 0.2, 0.15),
        )
    };
    let accent = hsv(bg.f32(), bg.range(0.5, 0.9), bg.range(0.55, 0.9));
    cv.fill(|_, _| base);
    let cell = (font::ADVANCE * t) as f32;
    let line_h = ((font::HEIGHT + 5) * t) as f32;
    // Title bar with window buttons and a centred title.
    let bar = ((font::HEIGHT + 6) * t) as f32;
    cv.rect(0.0, 0.0, w, bar, scale(panel, 0.9), 1.0);
    for (k, c) in [[0.95, 0.35, 0.3], [0.95, 0.75, 0.2], [0.3, 0.8, 0.35]]
        .iter()
        .enumerate()
    {
        cv.circle(
            bar * 0.6 + k as f32 * bar * 0.8,
            bar * 0.5,
            bar * 0.22,
            *c,
            1.0,
        );
    }
    let title_len = ((w * 0.4) / cell) as usize;
    let title = font::random_words(&mut cx.fg, title_len);
    let tx = (w - title.len() as f32 * cell) * 0.5;
    draw_text(cv, tx, bar * 0.5 - (3 * t) as f32, t, &title, text_col);
    // Sidebar with list items and one selected row.
    let bg = &mut cx.bg;
    let side = w * bg.range(0.18, 0.32);
    cv.rect(0.0, bar, side, h, panel, 1.0);
    let selected = bg.below(8) as usize;
    let mut y = bar + line_h * 0.5;
    let mut k = 0;
    while y + line_h < h && k < 60 {
        let len = (((side / cell) - 4.0).max(0.0) * cx.bg.range(0.4, 1.0)) as usize;
        if k == selected {
            cv.rect(
                0.0,
                y - 2.0 * t as f32,
                side,
                y + line_h - 2.0 * t as f32,
                accent,
                0.35,
            );
        }
        let icon = hsv(cx.fg.f32(), 0.6, 0.8);
        cv.rect(
            cell,
            y,
            cell + (5 * t) as f32,
            y + (7 * t) as f32,
            icon,
            1.0,
        );
        let text = font::random_words(&mut cx.fg, len);
        draw_text(cv, cell * 2.5, y, t, &text, text_col);
        y += line_h;
        k += 1;
    }
    // Scroll bar.
    let bg = &mut cx.bg;
    let (sb0, sb1) = (
        bar + (h - bar) * bg.range(0.0, 0.5),
        bar + (h - bar) * bg.range(0.55, 1.0),
    );
    cv.rect(
        w - (4 * t) as f32,
        sb0,
        w - t as f32,
        sb1,
        scale(text_col, 0.5),
        0.5,
    );
    // Content: cards with headings, text, a button and a progress bar.
    let (cx0, cx1) = (side + cell * 2.0, w - cell * 2.0);
    let mut y = bar + line_h;
    let mut guard = 0;
    while y + line_h * 3.0 < h && guard < 40 {
        guard += 1;
        let bg = &mut cx.bg;
        let lines = 1 + bg.below(4) as usize;
        let card_h = line_h * (lines as f32 + 2.5);
        let card_bottom = (y + card_h).min(h - line_h * 0.5);
        cv.rect(
            cx0 + 3.0,
            y + 3.0,
            cx1 + 3.0,
            card_bottom + 3.0,
            BLACK,
            0.15,
        );
        cv.rect(cx0, y, cx1, card_bottom, panel, 1.0);
        let cols = ((cx1 - cx0) / cell - 2.0).max(0.0) as usize;
        let heading_len = (cols as f32 * bg.range(0.3, 0.7)) as usize;
        let button = bg.chance(0.5);
        let progress = bg.range(0.0, 1.0);
        let has_progress = bg.chance(0.3);
        let text = font::random_words(&mut cx.fg, heading_len);
        draw_text(cv, cx0 + cell, y + line_h * 0.4, t, &text, accent);
        let mut ly = y + line_h * 1.4;
        for _ in 0..lines {
            if ly + line_h > card_bottom {
                break;
            }
            let len = (cols as f32 * cx.bg.range(0.5, 1.0)) as usize;
            let text = font::random_words(&mut cx.fg, len);
            draw_text(cv, cx0 + cell, ly, t, &text, text_col);
            ly += line_h;
        }
        if button && ly + line_h <= card_bottom {
            let bw = cell * 8.0;
            cv.rect(
                cx1 - bw - cell,
                ly,
                cx1 - cell,
                ly + line_h * 0.9,
                accent,
                1.0,
            );
            let label = font::random_words(&mut cx.fg, 6);
            draw_text(cv, cx1 - bw, ly + (2 * t) as f32, t, &label, WHITE);
        } else if has_progress && ly + line_h <= card_bottom {
            let (p0, p1) = (cx0 + cell, cx1 - cell);
            cv.rect(
                p0,
                ly + line_h * 0.3,
                p1,
                ly + line_h * 0.6,
                scale(text_col, 0.3),
                0.5,
            );
            cv.rect(
                p0,
                ly + line_h * 0.3,
                p0 + (p1 - p0) * progress,
                ly + line_h * 0.6,
                accent,
                1.0,
            );
        }
        y = card_bottom + line_h;
    }
}
