//! Photo-like scenes: pictures whose statistics make PDQ and the probes behave on them as on
//! photographs (issue #24), where the seven classic scenes are easier than real pictures.
//!
//! What photographs have that the classic scenes lack, and what each part below adds:
//! - **Most energy at low spatial frequencies** (power falling as 1/f², from occlusion at every
//!   scale): a smooth large-scale layout (sky and ground, or an out-of-focus background) under
//!   dead-leaves occlusion whose object sizes follow the scale-invariant density r⁻³.
//! - **Soft and hard edges**: objects are drawn with an edge width from one pixel (in focus)
//!   to several percent of the picture (out of focus).
//! - **Content that meets the frame**: bright, nearly white skies at the top edge, dark
//!   foregrounds and vignetted corners at the others, so a pad or letterbox of the same colour
//!   merges with the picture.
//! - **Low-detail regions beside textured ones**: a fine 1/f texture whose amplitude follows a
//!   coarse mask.
//! - **Camera noise**; the JPEG history is added by the caller (the eval's corpus), which can
//!   decode.
//!
//! Calibrated against Thorn's published plain-PDQ recall on photographs (see the README's
//! accuracy section): the knobs are the object count and size range, the edge widths and the
//! texture amplitude.

use super::canvas::{hsv, mix, scale, smoothstep, Canvas, Rgb};
use super::noise::{Fbm1, Fbm2};
use super::rng::Rng;
use super::scenes::{direction, Ctx};

/// The layout under the objects.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Sky above a horizon, textured ground below.
    Outdoor,
    /// An out-of-focus background of large soft colour fields.
    CloseUp,
    /// A dim interior or night scene with a few bright sources.
    Dim,
}

/// An earthy or foliage colour for ground and objects.
fn earthy(rng: &mut Rng) -> Rgb {
    match rng.below(4) {
        0 => hsv(
            rng.range(0.2, 0.4),
            rng.range(0.25, 0.7),
            rng.range(0.2, 0.7),
        ),
        1 => hsv(
            rng.range(0.03, 0.12),
            rng.range(0.2, 0.6),
            rng.range(0.25, 0.75),
        ),
        2 => {
            let v = rng.range(0.2, 0.8);
            let t = rng.range(-0.04, 0.04);
            [v + t, v, v - t]
        }
        _ => hsv(rng.f32(), rng.range(0.1, 0.8), rng.range(0.15, 0.95)),
    }
}

/// A radius from the scale-invariant density r⁻³ on [lo, hi] (inverse CDF, no `pow`).
fn scale_free_radius(rng: &mut Rng, lo: f32, hi: f32) -> f32 {
    let (a, b) = (1.0 / (lo * lo), 1.0 / (hi * hi));
    1.0 / (a - rng.f32() * (a - b)).sqrt()
}

/// One occluding object: a rotated ellipse or rounded box, shaded by a light direction, with
/// an edge `soft` pixels wide.
struct Leaf {
    cx: f32,
    cy: f32,
    /// Semi-axes.
    rx: f32,
    ry: f32,
    /// Unit vector of the x semi-axis.
    dir: (f32, f32),
    /// A rounded box (the L4 ball) instead of an ellipse.
    box_like: bool,
    colour: Rgb,
    /// Brightness change across the object along `light` (shading).
    shade: f32,
    light: (f32, f32),
    soft: f32,
}

impl Leaf {
    fn random(rng: &mut Rng, cx: f32, cy: f32, r: f32, colour: Rgb, soft: f32) -> Leaf {
        let aspect = rng.range(0.35, 1.0);
        Leaf {
            cx,
            cy,
            rx: r,
            ry: r * aspect,
            dir: direction(rng),
            box_like: rng.chance(0.35),
            colour,
            shade: rng.range(0.1, 0.5),
            light: direction(rng),
            soft,
        }
    }

    fn draw(&self, cv: &mut Canvas) {
        let reach = self.rx.max(self.ry) + self.soft + 1.0;
        let (a, b) = self.dir;
        let (irx, iry) = (1.0 / self.rx.max(0.5), 1.0 / self.ry.max(0.5));
        let rmin = self.rx.min(self.ry).max(0.5);
        let inv_soft = 1.0 / self.soft.max(0.5);
        cv.paint(
            self.cx - reach,
            self.cy - reach,
            self.cx + reach,
            self.cy + reach,
            |x, y| {
                let (dx, dy) = (x - self.cx, y - self.cy);
                let (u, v) = ((a * dx + b * dy) * irx, (-b * dx + a * dy) * iry);
                // Normalised radius: 1 on the outline. The box-like outline is the L4 ball
                // (a rounded rectangle), which needs only multiplications and a square root.
                let n = if self.box_like {
                    let (u2, v2) = (u * u, v * v);
                    (u2 * u2 + v2 * v2).sqrt().sqrt()
                } else {
                    (u * u + v * v).sqrt()
                };
                // Signed distance in pixels, approximated by the shorter semi-axis.
                let d = (1.0 - n) * rmin;
                let cov = (d * inv_soft + 0.5).clamp(0.0, 1.0);
                (cov > 0.0).then(|| {
                    let lit = 1.0 + self.shade * (self.light.0 * u + self.light.1 * v) * 0.5;
                    (scale(self.colour, lit), cov)
                })
            },
        );
    }
}

/// A photo-like picture: layout, dead-leaves occlusion, texture, light fall-off, noise.
pub(crate) fn photo(cv: &mut Canvas, cx: &mut Ctx) {
    let (w, h) = (cv.w as f32, cv.h as f32);
    let s = w.min(h).max(1.0);
    let bg = &mut cx.bg;
    let layout = match bg.below(10) {
        0..=4 => Layout::Outdoor,
        5..=8 => Layout::CloseUp,
        _ => Layout::Dim,
    };
    let palette: Vec<Rgb> = (0..3 + bg.below(4)).map(|_| earthy(bg)).collect();

    // 1. The large-scale layout.
    match layout {
        Layout::Outdoor => {
            let horizon = h * bg.range(0.2, 0.6);
            let hills = Fbm1::new(cv.w, s * bg.range(0.3, 0.8), 5, 0.5, bg.next_u64());
            let hill_amp = h * bg.range(0.02, 0.15);
            // A third of the skies are overexposed to nearly white at the top edge.
            let blown = bg.chance(0.35);
            let top = if blown {
                let v = bg.range(0.93, 1.0);
                [v, v, v * bg.range(0.97, 1.0)]
            } else {
                hsv(
                    bg.range(0.53, 0.66),
                    bg.range(0.2, 0.7),
                    bg.range(0.55, 0.95),
                )
            };
            let near = hsv(
                bg.range(0.5, 0.65),
                bg.range(0.02, 0.25),
                bg.range(0.8, 1.0),
            );
            let ground_far = mix(palette[0], near, 0.5);
            let ground = palette[1 % palette.len()];
            let ground2 = palette[2 % palette.len()];
            let clouds = Fbm2::new(cv.w, cv.h, s * bg.range(0.2, 0.6), 5, 0.5, bg.next_u64());
            let cloud_amt = if bg.chance(0.5) {
                bg.range(0.2, 0.8)
            } else {
                0.0
            };
            let field = Fbm2::new(cv.w, cv.h, s * bg.range(0.25, 0.7), 6, 0.55, bg.next_u64());
            // Dark foreground at the bottom edge in a third of the pictures.
            let dark_bottom = if bg.chance(0.25) {
                bg.range(0.3, 0.8)
            } else {
                0.0
            };
            let hill_y: Vec<f32> = (0..cv.w)
                .map(|x| horizon - hills.at(x as f32 + 0.5) * hill_amp)
                .collect();
            cv.fill_rows(
                |y| {
                    let (mut c, mut f) = (Vec::new(), Vec::new());
                    clouds.row(y, &mut c);
                    field.row(y, &mut f);
                    (c, f)
                },
                |(c, f), x, _, y| {
                    let hy = hill_y[x];
                    if y < hy {
                        let t = smoothstep(0.0, hy.max(1.0), y);
                        let sky = mix(top, near, t);
                        let k = cloud_amt * smoothstep(0.5, 0.8, c[x]);
                        mix(sky, [0.97, 0.97, 0.97], k)
                    } else {
                        // Haze fades with distance below the horizon; the ground darkens
                        // toward the bottom edge when the foreground is in shadow.
                        let depth = ((y - hy) / (h - hy).max(1.0)).clamp(0.0, 1.0);
                        let g = mix(ground, ground2, smoothstep(0.3, 0.7, f[x]));
                        let g = mix(ground_far, g, smoothstep(0.0, 0.35, depth));
                        scale(g, 1.0 - dark_bottom * depth * depth)
                    }
                },
            );
        }
        Layout::CloseUp => {
            let a = palette[0];
            let b = palette[1 % palette.len()];
            let c = mix(
                palette[2 % palette.len()],
                [1.0, 1.0, 1.0],
                bg.range(0.0, 0.5),
            );
            let f1 = Fbm2::new(cv.w, cv.h, s * bg.range(0.4, 1.0), 3, 0.5, bg.next_u64());
            let f2 = Fbm2::new(cv.w, cv.h, s * bg.range(0.3, 0.8), 3, 0.5, bg.next_u64());
            cv.fill_rows(
                |y| {
                    let (mut p, mut q) = (Vec::new(), Vec::new());
                    f1.row(y, &mut p);
                    f2.row(y, &mut q);
                    (p, q)
                },
                |(p, q), x, _, _| {
                    let m = mix(a, b, smoothstep(0.3, 0.7, p[x]));
                    mix(m, c, smoothstep(0.55, 0.8, q[x]))
                },
            );
        }
        Layout::Dim => {
            let base = scale(earthy(bg), bg.range(0.08, 0.35));
            let f = Fbm2::new(cv.w, cv.h, s * bg.range(0.3, 0.8), 4, 0.5, bg.next_u64());
            let lift = bg.range(0.3, 1.2);
            cv.fill_rows(
                |y| {
                    let mut r = Vec::new();
                    f.row(y, &mut r);
                    r
                },
                |r, x, _, _| scale(base, 1.0 + lift * (r[x] - 0.5)),
            );
            for _ in 0..1 + bg.below(3) {
                let (x, y) = (bg.range(0.0, w), bg.range(0.0, h));
                let r = s * bg.range(0.08, 0.3);
                let glow = hsv(bg.range(0.05, 0.15), bg.range(0.1, 0.6), 1.0);
                cv.soft_ellipse(x, y, r, r * bg.range(0.6, 1.4), glow, bg.range(0.4, 0.9));
            }
        }
    }

    // 2. Dead-leaves occlusion: scale-invariant sizes, each object in or out of focus.
    let (count, rlo, rhi) = match layout {
        Layout::Outdoor => (16 + bg.below(56), 0.01, 0.175),
        Layout::CloseUp => (24 + bg.below(80), 0.015, 0.28),
        Layout::Dim => (12 + bg.below(40), 0.015, 0.21),
    };
    let focus_blur = s * bg.range(0.005, 0.04);
    let min_y = if layout == Layout::Outdoor {
        0.35
    } else {
        -0.05
    };
    for _ in 0..count {
        let r = scale_free_radius(bg, s * rlo, s * rhi);
        let (x, y) = (bg.range(-0.05, 1.05) * w, bg.range(min_y, 1.05) * h);
        let col = scale(
            palette[bg.below(palette.len() as u32) as usize],
            bg.range(0.7, 1.2),
        );
        let col = if layout == Layout::Dim {
            scale(col, 0.5)
        } else {
            col
        };
        let soft = if bg.chance(0.5) {
            bg.range(0.6, 1.5)
        } else {
            focus_blur * bg.range(0.5, 1.5)
        };
        Leaf::random(bg, x, y, r, col, soft).draw(cv);
    }

    // The subjects: slots placed by the background stream, filled by the foreground one, so
    // variants are "same place, other object" hard negatives.
    let slots: Vec<(f32, f32, f32)> = (0..4)
        .map(|_| {
            (
                bg.range(0.15, 0.85) * w,
                bg.range(0.3, 0.9) * h,
                s * bg.range(0.08, 0.22),
            )
        })
        .collect();

    // 3. Texture, light fall-off and noise parameters (drawn before the foreground stream is
    // used, so they do not depend on the variant).
    let detail = Fbm2::new(cv.w, cv.h, s * bg.range(0.06, 0.2), 5, 0.6, bg.next_u64());
    let mask = Fbm2::new(cv.w, cv.h, s * bg.range(0.3, 0.7), 3, 0.5, bg.next_u64());
    let texture = bg.range(0.08, 0.5);
    let vignette = if bg.chance(0.6) {
        bg.range(0.03, 0.17)
    } else {
        0.0
    };
    let grain = bg.range(0.3, 2.5) / 255.0;
    let grain_salt = bg.next_u64();

    let must = cx.fg.below(slots.len() as u32);
    for (i, &(x, y, r)) in slots.iter().enumerate() {
        if !cx.present(must, i as u32, 0.6) {
            continue;
        }
        let col = earthy(&mut cx.fg);
        let soft = cx.fg.range(0.6, 2.0);
        Leaf::random(&mut cx.fg, x, y, r, col, soft).draw(cv);
    }

    let (mut d, mut m) = (Vec::new(), Vec::new());
    let (hw, hh) = (w * 0.5, h * 0.5);
    let inv_r2 = 1.0 / (hw * hw + hh * hh).max(1.0);
    let width = cv.w;
    for (yi, row) in cv.px.chunks_exact_mut(width * 3).enumerate() {
        let y = yi as f32 + 0.5;
        detail.row(y, &mut d);
        mask.row(y, &mut m);
        let dy = y - hh;
        for (xi, p) in row.chunks_exact_mut(3).enumerate() {
            let dx = xi as f32 + 0.5 - hw;
            let r2 = (dx * dx + dy * dy) * inv_r2;
            let amp = texture * smoothstep(0.35, 0.65, m[xi]);
            let k = (1.0 + amp * (d[xi] - 0.5) * 2.0) * (1.0 - vignette * r2 * r2);
            for s in p.iter_mut() {
                *s = (f32::from(*s) * k).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    cv.grain(grain, grain_salt);
}
