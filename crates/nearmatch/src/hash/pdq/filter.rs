//! The Jarosz tent filter (two passes of a running-sum box filter) and the decimation to 64x64,
//! bit-exact to Meta's `downscaling.cpp`.
//!
//! The reference blurs the whole image twice (rows then columns, twice) and then point-samples
//! 64x64 values. Every output value is the result of one long chain of f32 additions and
//! subtractions along its line, so the chain itself cannot be shortened or reassociated. What can
//! change is *which* values are materialised and *in which order independent lines run*:
//!
//! * Pass 1 (rows, then columns) is needed in full: the second pass's running sums read every
//!   sample.
//! * Pass 2 along rows still has to run every row's sum over all columns, but only the 64
//!   decimated columns are ever read afterwards, so only those are divided and stored (into a
//!   `height x 64` buffer).
//! * Pass 2 along columns then only runs over those 64 columns and stores the 64 decimated rows.
//!
//! Lines are independent, so several run side by side ("lanes"): element `k` of lane `l` sits at
//! `k * lanes + l`. Columns of a row-major buffer are already laid out that way; rows are
//! transposed into small tiles of [`ROW_LANES`] rows first. Every lane sees exactly the reference's
//! sequence of f32 operations, and the inner loops over lanes vectorise.

/// Rows processed side by side in a row pass (one transposed tile).
const ROW_LANES: usize = 16;

/// Number of 64x64 output samples per dimension.
pub(super) const OUT: usize = 64;

/// Box window for a dimension of `n` samples: `ceil(n / 128)` (`computeJaroszFilterWindowSize(n,
/// 64)`). Two passes of this box make a tent about `n / 64` wide, one output block.
pub(super) fn window(n: usize) -> usize {
    n.div_ceil(2 * OUT)
}

/// The input index sampled for each of the 64 outputs: `floor((i + 0.5) * n / 64)`.
///
/// The reference computes it in f64; `(i + 0.5) * n` and the division by 64 are exact in f64 for
/// any realistic `n`, so the integer form `((2i + 1) * n) / 128` is the same number.
pub(crate) fn decimation_indices(n: usize) -> [usize; OUT] {
    std::array::from_fn(|i| ((2 * i + 1) * n) / (2 * OUT))
}

/// Repetition counts of the four phases of `box1DFloat` for a line of `n` samples, window `w`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Phases {
    /// Add only (warm-up, no output).
    warm: usize,
    /// Add, grow the count, output.
    grow: usize,
    /// Add the incoming sample, then subtract the outgoing one, output.
    slide: usize,
    /// Subtract, shrink the count, output.
    shrink: usize,
}

impl Phases {
    /// The reference's phase lengths. `half = (w + 2) / 2` puts the extra sample of an even
    /// window on the right. Requires `1 <= w <= n` (always true for `w = window(n)`, `n >= 1`).
    fn new(n: usize, w: usize) -> Self {
        debug_assert!(w >= 1 && w <= n, "window {w} for a line of {n}");
        let half = (w + 2) / 2;
        Phases {
            warm: half - 1,
            grow: w - half + 1,
            slide: n - w,
            shrink: half - 1,
        }
    }
}

/// Where a box pass stores its outputs.
trait Emit {
    /// Called after the running sums for output index `oi` are final; `count` is the window count.
    fn emit(&mut self, oi: usize, sums: &[f32], count: u32);
}

/// Stores every output (dense pass): `dst[oi * lanes + l] = sums[l] / count`.
struct Dense<'a>(&'a mut [f32]);

impl Emit for Dense<'_> {
    #[inline]
    fn emit(&mut self, oi: usize, sums: &[f32], count: u32) {
        let lanes = sums.len();
        // The count is converted to f32 and divided: `sum / current_window_size` in C++.
        let c = count as f32;
        let out = &mut self.0[oi * lanes..(oi + 1) * lanes];
        for (o, s) in out.iter_mut().zip(sums) {
            *o = *s / c;
        }
    }
}

/// Stores only the outputs at the 64 decimation indices: `dst[i * lanes + l]`.
#[cfg(test)]
struct Sampled<'a> {
    dst: &'a mut [f32],
    at: &'a [usize; OUT],
    next: usize,
}

#[cfg(test)]
impl Emit for Sampled<'_> {
    #[inline]
    fn emit(&mut self, oi: usize, sums: &[f32], count: u32) {
        // Indices repeat when the line is shorter than 64 samples: fill every slot that wants `oi`.
        while self.next < OUT && self.at[self.next] == oi {
            let lanes = sums.len();
            let c = count as f32;
            let i = self.next;
            for (o, s) in self.dst[i * lanes..(i + 1) * lanes].iter_mut().zip(sums) {
                *o = *s / c;
            }
            self.next += 1;
        }
    }
}

/// One box pass over `lanes` independent lines of `n` samples each (`src[k * lanes + l]`),
/// following `box1DFloat` step for step in every lane.
fn box_lanes<E: Emit>(
    src: &[f32],
    n: usize,
    lanes: usize,
    w: usize,
    sums: &mut [f32],
    out: &mut E,
) {
    let sums = &mut sums[..lanes];
    sums.fill(0.0);
    let line = |k: usize| &src[k * lanes..(k + 1) * lanes];
    let ph = Phases::new(n, w);
    let (mut ri, mut li, mut oi) = (0usize, 0usize, 0usize);
    let mut count = 0u32;

    for _ in 0..ph.warm {
        for (s, a) in sums.iter_mut().zip(line(ri)) {
            *s += *a;
        }
        count += 1;
        ri += 1;
    }
    for _ in 0..ph.grow {
        for (s, a) in sums.iter_mut().zip(line(ri)) {
            *s += *a;
        }
        count += 1;
        out.emit(oi, sums, count);
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.slide {
        // Add the incoming sample first, then subtract the outgoing one: the reference's order,
        // which decides the rounding of every later output.
        for ((s, a), b) in sums.iter_mut().zip(line(ri)).zip(line(li)) {
            *s += *a;
            *s -= *b;
        }
        out.emit(oi, sums, count);
        li += 1;
        ri += 1;
        oi += 1;
    }
    for _ in 0..ph.shrink {
        for (s, b) in sums.iter_mut().zip(line(li)) {
            *s -= *b;
        }
        count -= 1;
        out.emit(oi, sums, count);
        li += 1;
        oi += 1;
    }
}

/// Reusable buffers of the filter (everything but the full-size image buffers).
#[derive(Default, Debug)]
pub(super) struct Scratch {
    tile_in: Vec<f32>,
    tile_out: Vec<f32>,
    sums: Vec<f32>,
    #[cfg(test)]
    narrow: Vec<f32>,
}

/// `v[..n]`, growing `v` if needed (contents are unspecified: every caller overwrites them).
pub(super) fn take(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// Copies rows `r0..r0 + lanes` of a row-major `width`-wide image into a tile, transposed.
fn load_tile(src: &[f32], width: usize, r0: usize, lanes: usize, tile: &mut [f32]) {
    for l in 0..lanes {
        let row = &src[(r0 + l) * width..(r0 + l + 1) * width];
        for (t, v) in tile[l..].iter_mut().step_by(lanes).zip(row) {
            *t = *v;
        }
    }
}

/// Pass along rows, every output stored: `src` -> `dst`, both `height x width` row-major.
pub(super) fn box_rows(
    src: &[f32],
    dst: &mut [f32],
    width: usize,
    height: usize,
    w: usize,
    s: &mut Scratch,
) {
    let tile_in = take(&mut s.tile_in, width * ROW_LANES);
    let tile_out = take(&mut s.tile_out, width * ROW_LANES);
    let sums = take(&mut s.sums, width.max(ROW_LANES).max(OUT));
    let mut r0 = 0;
    while r0 < height {
        let lanes = ROW_LANES.min(height - r0);
        load_tile(src, width, r0, lanes, tile_in);
        box_lanes(
            tile_in,
            width,
            lanes,
            w,
            sums,
            &mut Dense(&mut tile_out[..width * lanes]),
        );
        for l in 0..lanes {
            let row = &mut dst[(r0 + l) * width..(r0 + l + 1) * width];
            for (v, t) in row.iter_mut().zip(tile_out[l..].iter().step_by(lanes)) {
                *v = *t;
            }
        }
        r0 += lanes;
    }
}

/// Pass along columns, every output stored: `src` -> `dst`, both `height x width` row-major.
pub(super) fn box_cols(
    src: &[f32],
    dst: &mut [f32],
    width: usize,
    height: usize,
    w: usize,
    s: &mut Scratch,
) {
    let sums = take(&mut s.sums, width.max(ROW_LANES).max(OUT));
    box_lanes(src, height, width, w, sums, &mut Dense(dst));
}

/// Second pass (rows then columns) plus decimation: `src` (`height x width`, already through
/// pass 1) -> the 64x64 buffer `A`, row-major. The reference for the fused sweep's tests.
#[cfg(test)]
pub(super) fn pass2_decimate(
    src: &[f32],
    width: usize,
    height: usize,
    s: &mut Scratch,
) -> [f32; OUT * OUT] {
    let cols = decimation_indices(width);
    let rows = decimation_indices(height);
    let (wr, wc) = (window(width), window(height));

    let tile_in = take(&mut s.tile_in, width * ROW_LANES);
    let tile_out = take(&mut s.tile_out, OUT * ROW_LANES);
    let sums = take(&mut s.sums, width.max(ROW_LANES).max(OUT));
    let narrow = take(&mut s.narrow, height * OUT);
    let mut r0 = 0;
    while r0 < height {
        let lanes = ROW_LANES.min(height - r0);
        load_tile(src, width, r0, lanes, tile_in);
        let mut sink = Sampled {
            dst: &mut tile_out[..OUT * lanes],
            at: &cols,
            next: 0,
        };
        box_lanes(tile_in, width, lanes, wr, sums, &mut sink);
        debug_assert_eq!(sink.next, OUT);
        for l in 0..lanes {
            for j in 0..OUT {
                narrow[(r0 + l) * OUT + j] = tile_out[j * lanes + l];
            }
        }
        r0 += lanes;
    }

    let mut a = [0f32; OUT * OUT];
    let mut sink = Sampled {
        dst: &mut a,
        at: &rows,
        next: 0,
    };
    box_lanes(narrow, height, OUT, wc, sums, &mut sink);
    debug_assert_eq!(sink.next, OUT);
    a
}

#[cfg(test)]
#[allow(clippy::needless_range_loop, clippy::manual_div_ceil)] // mirror the C++ text
mod tests {
    use super::*;

    /// `box1DFloat` transcribed literally (one line, stride 1): the oracle for the lane kernel.
    fn box1d_reference(input: &[f32], w: usize) -> Vec<f32> {
        let n = input.len();
        let half = (w + 2) / 2;
        let mut out = vec![0f32; n];
        let (mut li, mut ri, mut oi) = (0, 0, 0);
        let mut sum = 0f32;
        let mut c = 0i32;
        for _ in 0..half - 1 {
            sum += input[ri];
            c += 1;
            ri += 1;
        }
        for _ in 0..w - half + 1 {
            sum += input[ri];
            c += 1;
            out[oi] = sum / c as f32;
            ri += 1;
            oi += 1;
        }
        for _ in 0..n - w {
            sum += input[ri];
            sum -= input[li];
            out[oi] = sum / c as f32;
            li += 1;
            ri += 1;
            oi += 1;
        }
        for _ in 0..half - 1 {
            sum -= input[li];
            c -= 1;
            out[oi] = sum / c as f32;
            li += 1;
            oi += 1;
        }
        out
    }

    fn noise(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.max(1);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x >> 8) as f32 / 65536.0 * 0.7
            })
            .collect()
    }

    #[test]
    fn window_and_indices_follow_the_reference_formulas() {
        for n in 1..2000usize {
            // computeJaroszFilterWindowSize(n, 64) = (n + 2*64 - 1) / (2*64)
            assert_eq!(window(n), (n + 127) / 128);
            let idx = decimation_indices(n);
            for (i, &k) in idx.iter().enumerate() {
                assert_eq!(k, (((i as f64 + 0.5) * n as f64) / 64.0) as usize);
                assert!(k < n);
            }
        }
    }

    #[test]
    fn box_window_covers_the_documented_span() {
        // Output k is the mean of [k - (w - half), k + half - 1] clipped: check with integers,
        // where f32 sums are exact.
        for w in 1..9usize {
            for n in w.max(5)..40 {
                let input: Vec<f32> = (0..n).map(|i| (i * i % 17) as f32).collect();
                let half = (w + 2) / 2;
                let got = box1d_reference(&input, w);
                for k in 0..n {
                    let lo = k.saturating_sub(w - half);
                    let hi = (k + half - 1).min(n - 1);
                    let s: f32 = input[lo..=hi].iter().sum();
                    assert_eq!(got[k], s / (hi - lo + 1) as f32, "w={w} n={n} k={k}");
                }
            }
        }
    }

    #[test]
    fn lanes_match_the_literal_transcription_bit_for_bit() {
        for &(n, w, lanes) in &[
            (5, 1, 3),
            (37, 1, 7),
            (300, 3, 16),
            (1000, 8, 5),
            (129, 2, 64),
        ] {
            let lines: Vec<Vec<f32>> = (0..lanes).map(|l| noise(n, 7 + l as u32)).collect();
            let mut src = vec![0f32; n * lanes];
            for (l, line) in lines.iter().enumerate() {
                for k in 0..n {
                    src[k * lanes + l] = line[k];
                }
            }
            let mut dst = vec![0f32; n * lanes];
            let mut sums = vec![0f32; lanes];
            box_lanes(&src, n, lanes, w, &mut sums, &mut Dense(&mut dst));
            for (l, line) in lines.iter().enumerate() {
                let want = box1d_reference(line, w);
                for k in 0..n {
                    assert_eq!(
                        dst[k * lanes + l].to_bits(),
                        want[k].to_bits(),
                        "n={n} w={w}"
                    );
                }
            }
        }
    }

    #[test]
    fn window_one_is_not_the_identity() {
        // The running sum keeps rounding error: the reason the 64x64 special case matters.
        let line = noise(64, 99);
        let out = box1d_reference(&line, 1);
        assert_ne!(out, line);
    }
}
