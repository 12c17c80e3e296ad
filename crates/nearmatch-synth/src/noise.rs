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
    /// Lattice column and faded fraction of every pixel centre x = i + 0.5 of a row.
    xs: Vec<(u32, f32)>,
}

impl Octave {
    /// Lattice cell and faded fraction of coordinate `v` along an axis of `n` lattice points.
    #[inline]
    fn cell(&self, v: f32, n: usize) -> (usize, f32) {
        let f = (v * self.inv_spacing).max(0.0);
        let i = (f as usize).min(n - 2);
        (i, fade((f - i as f32).min(1.0)))
    }
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
            let mut o = Octave {
                inv_spacing,
                cols,
                rows,
                values,
                amplitude,
                xs: Vec::new(),
            };
            o.xs = (0..width)
                .map(|x| {
                    let (i, t) = o.cell(x as f32 + 0.5, cols);
                    (i as u32, t)
                })
                .collect();
            octaves.push(o);
            norm += amplitude;
            amplitude *= persistence;
            spacing *= 0.5;
        }
        Fbm2 {
            octaves,
            norm: 1.0 / norm,
        }
    }

    /// The noise at pixel coordinates (x, y), in [0, 1]: the reference for `row`.
    #[cfg(test)]
    pub(crate) fn at(&self, x: f32, y: f32) -> f32 {
        let mut sum = 0.0f32;
        for o in &self.octaves {
            let (ix, tx) = o.cell(x, o.cols);
            let (iy, ty) = o.cell(y, o.rows);
            let i = iy * o.cols + ix;
            let v = &o.values;
            // Interpolate along y first, then x: the same operations as `row`.
            let a = v[i] + (v[i + o.cols] - v[i]) * ty;
            let b = v[i + 1] + (v[i + o.cols + 1] - v[i + 1]) * ty;
            sum += (a + (b - a) * tx) * o.amplitude;
        }
        sum * self.norm
    }

    /// The noise at the pixel centres (i + 0.5, y) of a row, written to `out` (resized to the
    /// width given at construction). Equal to `at` at each point, several times faster.
    pub(crate) fn row(&self, y: f32, out: &mut Vec<f32>) {
        let width = self.octaves.first().map_or(0, |o| o.xs.len());
        out.clear();
        out.resize(width, 0.0);
        let mut lattice = Vec::new();
        for o in &self.octaves {
            let (iy, ty) = o.cell(y, o.rows);
            let (r0, r1) = (
                &o.values[iy * o.cols..][..o.cols],
                &o.values[(iy + 1) * o.cols..][..o.cols],
            );
            lattice.clear();
            lattice.extend(r0.iter().zip(r1).map(|(&a, &b)| a + (b - a) * ty));
            for (acc, &(ix, tx)) in out.iter_mut().zip(&o.xs) {
                let (a, b) = (lattice[ix as usize], lattice[ix as usize + 1]);
                *acc += (a + (b - a) * tx) * o.amplitude;
            }
        }
        for v in out.iter_mut() {
            *v *= self.norm;
        }
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
        // The row path computes exactly the point path.
        let mut row = Vec::new();
        for y in [0.5f32, 7.5, 22.5, 40.0] {
            n.row(y, &mut row);
            assert_eq!(row.len(), 37);
            for (x, v) in row.iter().enumerate() {
                assert_eq!(v.to_bits(), n.at(x as f32 + 0.5, y).to_bits());
            }
        }
        // Out-of-range coordinates clamp rather than index out of bounds.
        assert!((0.0..=1.0).contains(&n.at(-5.0, 1e9)));
        assert!((0.0..=1.0).contains(&m.at(f32::NAN)));
    }
}
