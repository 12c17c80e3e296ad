//! Value noise on integer lattices and its fractal (1/f) sums.
//!
//! Only integer hashing, multiplications and additions: no libm, so the output is identical on
//! every IEEE-754 platform.

use super::rng::{hash2, unit};

/// Cubic fade `3t² - 2t³`: C1-continuous interpolation between lattice values.
#[inline]
fn fade(t: f32) -> f32 {
    t * t * (3.0 - 2.0 * t)
}

/// One octave of 2-D value noise: random values on a lattice of the given spacing, interpolated.
struct Octave {
    inv_spacing: f32,
    cols: usize,
    rows: usize,
    values: Vec<f32>,
    amplitude: f32,
}

/// A sum of octaves of 2-D value noise, each twice the frequency of the previous one, in [0, 1].
pub(crate) struct Fbm2 {
    octaves: Vec<Octave>,
    norm: f32,
}

impl Fbm2 {
    /// Noise over a `width` x `height` area whose coarsest lattice has `spacing` pixels, with
    /// octaves down to a 2-pixel lattice (at most `max_octaves`), each `persistence` times the
    /// amplitude of the previous one (0.5 gives a 1/f spectrum).
    pub(crate) fn new(
        width: usize,
        height: usize,
        spacing: f32,
        max_octaves: u32,
        persistence: f32,
        salt: u64,
    ) -> Self {
        let mut octaves = Vec::new();
        let mut spacing = spacing.max(2.0);
        let mut amplitude = 1.0f32;
        let mut norm = 0.0f32;
        for k in 0..max_octaves.max(1) {
            if k > 0 && spacing < 2.0 {
                break;
            }
            let inv_spacing = 1.0 / spacing;
            let cols = (width as f32 * inv_spacing) as usize + 2;
            let rows = (height as f32 * inv_spacing) as usize + 2;
            let osalt = salt ^ (u64::from(k) << 56);
            let mut values = Vec::with_capacity(cols * rows);
            for y in 0..rows {
                for x in 0..cols {
                    values.push(unit(hash2(x as i64, y as i64, osalt)));
                }
            }
            octaves.push(Octave {
                inv_spacing,
                cols,
                rows,
                values,
                amplitude,
            });
            norm += amplitude;
            amplitude *= persistence;
            spacing *= 0.5;
        }
        Fbm2 {
            octaves,
            norm: 1.0 / norm,
        }
    }

    /// The noise at pixel coordinates (x, y), in [0, 1].
    pub(crate) fn at(&self, x: f32, y: f32) -> f32 {
        let mut sum = 0.0f32;
        for o in &self.octaves {
            let fx = (x * o.inv_spacing).max(0.0);
            let fy = (y * o.inv_spacing).max(0.0);
            let ix = (fx as usize).min(o.cols - 2);
            let iy = (fy as usize).min(o.rows - 2);
            let tx = fade((fx - ix as f32).min(1.0));
            let ty = fade((fy - iy as f32).min(1.0));
            let i = iy * o.cols + ix;
            let a = o.values[i] + (o.values[i + 1] - o.values[i]) * tx;
            let b = o.values[i + o.cols] + (o.values[i + o.cols + 1] - o.values[i + o.cols]) * tx;
            sum += (a + (b - a) * ty) * o.amplitude;
        }
        sum * self.norm
    }
}

/// Fractal 1-D value noise in [0, 1], for ridge lines.
pub(crate) struct Fbm1 {
    octaves: Vec<(f32, f32, Vec<f32>)>,
    norm: f32,
}

impl Fbm1 {
    /// Noise along `length` pixels with a coarsest lattice of `spacing` pixels.
    pub(crate) fn new(
        length: usize,
        spacing: f32,
        max_octaves: u32,
        persistence: f32,
        salt: u64,
    ) -> Self {
        let mut octaves = Vec::new();
        let mut spacing = spacing.max(1.0);
        let mut amplitude = 1.0f32;
        let mut norm = 0.0f32;
        for k in 0..max_octaves.max(1) {
            if k > 0 && spacing < 1.0 {
                break;
            }
            let n = (length as f32 / spacing) as usize + 2;
            let values = (0..n)
                .map(|i| unit(hash2(i as i64, i64::from(k), salt)))
                .collect();
            octaves.push((1.0 / spacing, amplitude, values));
            norm += amplitude;
            amplitude *= persistence;
            spacing *= 0.5;
        }
        Fbm1 {
            octaves,
            norm: 1.0 / norm,
        }
    }

    /// The noise at x, in [0, 1].
    pub(crate) fn at(&self, x: f32) -> f32 {
        let mut sum = 0.0f32;
        for (inv, amp, v) in &self.octaves {
            let f = (x * inv).max(0.0);
            let i = (f as usize).min(v.len() - 2);
            let t = fade((f - i as f32).min(1.0));
            sum += (v[i] + (v[i + 1] - v[i]) * t) * amp;
        }
        sum * self.norm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_stays_in_unit_range() {
        let n = Fbm2::new(37, 23, 9.0, 6, 0.5, 42);
        let m = Fbm1::new(37, 5.0, 6, 0.6, 42);
        for y in 0..23 {
            for x in 0..37 {
                let v = n.at(x as f32 + 0.5, y as f32 + 0.5);
                assert!((0.0..=1.0).contains(&v), "{v}");
            }
            let v = m.at(y as f32 * 1.7);
            assert!((0.0..=1.0).contains(&v), "{v}");
        }
        // Out-of-range coordinates clamp rather than index out of bounds.
        assert!((0.0..=1.0).contains(&n.at(-5.0, 1e9)));
        assert!((0.0..=1.0).contains(&m.at(f32::NAN)));
    }
}
