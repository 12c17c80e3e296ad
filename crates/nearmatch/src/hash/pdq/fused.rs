//! The whole tent filter and the 64x64 decimation in one streaming sweep over the image, at SIMD
//! width, bit-exact to [`super::filter`] (and so to Meta's `downscaling.cpp`).
//!
//! [`super::filter`] materialises the luma and two full-size f32 planes: at 12 MP that is
//! 144 MB of buffers, each swept several times, so the filter ran at memory speed. Here every
//! stage consumes its input while it is still in cache:
//!
//! 1. `L` rows of luma at a time are made (by the caller's row source) and transposed into a tile,
//!    so that the L row sums of pass 1 run side by side, one SIMD lane per row.
//! 2. The tile's outputs are transposed back into a ring of rows, where pass 1's column sums
//!    (one lane per column) advance one row at a time: the ring holds just the rows the running
//!    sums still have to subtract.
//! 3. Each finished row of pass 1 is collected into another tile of L rows for pass 2's row
//!    sums, which store only the 64 decimated columns (a `height x 64` buffer).
//! 4. Pass 2's column sums run over those 64 columns and keep the 64 decimated rows.
//!
//! Every output sees exactly the reference's sequence of f32 operations on its own line (the
//! add-then-subtract order, the f32 division by the integer count); only independent lines are
//! interleaved, which IEEE arithmetic cannot tell apart. The one arithmetic substitution: a
//! division by a power of two is replaced by the multiplication by its exact reciprocal, which is
//! the same real number, correctly rounded the same way (subnormals included).
//!
//! The code is written once over fixed-size lane arrays and compiled several times with
//! different `target_feature`s (AVX-512, AVX2, the SSE2 baseline on x86-64, NEON on AArch64),
//! chosen at run time; the row/column transposes have explicit AVX and SSE kernels.

use super::filter::{decimation_indices, window, OUT};

/// The instruction set a sweep is compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Level {
    /// Portable code (SSE2 on x86-64, NEON on AArch64: their baselines), scalar transposes.
    // On x86-64 only the tests pick it (detect always finds at least SSE2).
    #[cfg_attr(target_arch = "x86_64", allow(dead_code))]
    Baseline,
    /// x86-64 SSE2 transposes (4x4), otherwise as the baseline.
    #[cfg(target_arch = "x86_64")]
    Sse2,
    /// x86-64 AVX2 and FMA code, 8x8 AVX transposes.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// x86-64 AVX-512F code (32 rows per tile), 8x8 AVX transposes; AVX2 and FMA are required
    /// too (every AVX-512 CPU has them), for the luma kernel.
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Level {
    /// The best level this CPU supports.
    pub(super) fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                return Level::Avx2;
            }
            Level::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        Level::Baseline
    }

    /// Every level this CPU supports (for the tests).
    #[cfg(test)]
    pub(super) fn supported() -> Vec<Level> {
        #[allow(unused_mut)]
        let mut v = vec![Level::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            v.push(Level::Sse2);
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Level::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                v.push(Level::Avx512);
            }
        }
        v
    }
}

/// Reusable buffers of the sweep (kept by the hasher: no allocation per image once grown).
#[derive(Default, Debug)]
pub(super) struct Scratch {
    /// The row buffers, tiles, pass-1 rows and ring, carved by [`carve`].
    arena: Vec<f32>,
    col_sums: Vec<f32>,
    narrow: Vec<f32>,
}

impl Scratch {
    /// f32 values held (to let the hasher drop buffers grown by a giant image).
    pub(super) fn capacity(&self) -> usize {
        self.arena.capacity() + self.col_sums.capacity() + self.narrow.capacity()
    }
}

/// Consecutive slices of the given lengths out of `arena` (grown if needed), each starting at a
/// different offset within a 4 KiB page: 704 bytes (11 cache lines) further for each slice.
///
/// Why: the sweep streams from one buffer into the next at the same index (rows into a tile,
/// a tile into the next, a tile into the ring). Were two buffers a multiple of 4 KiB apart, as
/// separately allocated buffers of 64 KiB are, each load would look like it depends on the
/// store just made to the other buffer (the CPU compares only the low 12 address bits) and
/// wait for it.
fn carve<const N: usize>(arena: &mut Vec<f32>, lens: [usize; N]) -> [&mut [f32]; N] {
    const PAGE: usize = 1024; // f32s in 4 KiB
    const SKEW: usize = 176; // f32s in 704 bytes
    let mut starts = [0usize; N];
    let mut end = 0usize;
    for (i, start) in starts.iter_mut().enumerate() {
        *start = end.div_ceil(PAGE) * PAGE + (i * SKEW) % PAGE;
        end = *start + lens[i];
    }
    let mut rest = take(arena, end);
    let mut at = 0;
    std::array::from_fn(|i| {
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(starts[i] - at);
        let (part, tail) = tail.split_at_mut(lens[i]);
        rest = tail;
        at = starts[i] + lens[i];
        part
    })
}

/// `v[..n]`, growing `v` if needed; contents unspecified (callers overwrite what they read).
fn take(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        v.resize(n, 0.0);
    }
    &mut v[..n]
}

/// Both tent passes and the decimation of a `width x height` image whose luma rows come from
/// `row(y, out)` (called once per row, in order, `out.len() == width`): the 64x64 buffer `A`;
/// `None` as soon as `row` returns `false` (its source failed or was abandoned: the rest of the
/// sweep would be wasted).
///
/// Bit-identical to `filter::box_rows`, `filter::box_cols` and `filter::pass2_decimate` in
/// sequence, for every size from 1x1 up.
pub(super) fn downsample(
    width: usize,
    height: usize,
    level: Level,
    scratch: &mut Scratch,
    row: impl FnMut(usize, &mut [f32]) -> bool,
) -> Option<[f32; OUT * OUT]> {
    assert!(width >= 1 && height >= 1, "empty image");
    match level {
        Level::Baseline => sweep::<16, _>(Portable, width, height, scratch, row, transpose_scalar),
        #[cfg(target_arch = "x86_64")]
        Level::Sse2 => sweep::<16, _>(Portable, width, height, scratch, row, x86::transpose_sse2),
        // SAFETY: Level::Avx2 and Level::Avx512 are only chosen (detect, supported) when the
        // CPU reports the features these functions are compiled for.
        #[cfg(target_arch = "x86_64")]
        Level::Avx2 => unsafe { x86::sweep_avx2(width, height, scratch, row) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Level::Avx512 => unsafe { x86::sweep_avx512(width, height, scratch, row) },
    }
}

/// A transpose kernel: `dst[c * dst_stride + r] = src[r * src_stride + c]` for `r < rows`,
/// `c < cols`.
type Transpose = fn(&[f32], usize, &mut [f32], usize, usize, usize);

/// Checks that a transpose stays inside both slices (every kernel calls this first).
fn check_transpose(
    src: &[f32],
    src_stride: usize,
    dst: &[f32],
    dst_stride: usize,
    rows: usize,
    cols: usize,
) {
    if rows > 0 && cols > 0 {
        assert!(
            cols <= src_stride && rows <= dst_stride,
            "overlapping strides"
        );
        assert!(
            (rows - 1) * src_stride + cols <= src.len(),
            "transpose source"
        );
        assert!(
            (cols - 1) * dst_stride + rows <= dst.len(),
            "transpose destination"
        );
    }
}

/// The portable transpose, in 8x8 blocks to keep both sides in cache lines.
fn transpose_scalar(
    src: &[f32],
    src_stride: usize,
    dst: &mut [f32],
    dst_stride: usize,
    rows: usize,
    cols: usize,
) {
    check_transpose(src, src_stride, dst, dst_stride, rows, cols);
    for r0 in (0..rows).step_by(8) {
        for c0 in (0..cols).step_by(8) {
            for r in r0..(r0 + 8).min(rows) {
                for c in c0..(c0 + 8).min(cols) {
                    dst[c * dst_stride + r] = src[r * src_stride + c];
                }
            }
        }
    }
}

/// The distance in f32s between consecutive rows of the sweep's row buffers: `width` rounded up
/// to a whole number of 64-byte lines, and to an odd number of them. At a width such as 1024 or
/// 2048 the rows would be a multiple of 4 KiB apart, so the rows a transpose reads together, and
/// the add/subtract rows of the column sums, would fall into the same L1 sets and alias in the
/// store-to-load check: measured, a 1024x768 hash cost 3.8 ns per pixel on top of the decode
/// against 2.9-3.0 at 1000 and 1040 wide.
fn row_stride(width: usize) -> usize {
    let lines = width.div_ceil(16);
    (lines | 1) * 16
}

/// The streaming sweep, `L` rows per tile (a multiple of 8). `#[inline(always)]` so that each
/// `target_feature` wrapper gets its own copy compiled for its instruction set.
#[inline(always)]
fn sweep<const L: usize, K: Slide<L>>(
    kern: K,
    width: usize,
    height: usize,
    s: &mut Scratch,
    mut row: impl FnMut(usize, &mut [f32]) -> bool,
    transpose: Transpose,
) -> Option<[f32; OUT * OUT]> {
    let (wr, wc) = (window(width), window(height));
    let cols_at = decimation_indices(width);
    let rows_at = decimation_indices(height);
    // Ring of pass-1 row outputs: the column sums subtract row `ri - wc` after adding row `ri`,
    // and a whole tile of L rows lands at once. A multiple of L, so a tile never wraps.
    let ring_rows = (wc + L).div_ceil(L) * L;
    // Rows of `rows`, `v1` and the ring are `ws` apart, not `width`: see `row_stride`.
    let ws = row_stride(width);
    let pass2 = Pass2 {
        kern,
        width,
        stride: ws,
        wr,
        cols_at: &cols_at,
        transpose,
    };

    // `v1`: pass 1's finished rows, waiting for pass 2 along rows (L at a time).
    let [rows, tile, tile_out, v1, ring] = carve(
        &mut s.arena,
        [L * ws, L * width, L * width, L * ws, ring_rows * ws],
    );
    let col_sums = take(&mut s.col_sums, width);
    let narrow = take(&mut s.narrow, height * OUT);
    col_sums.fill(0.0);
    // Lanes beyond the image's last row are computed and discarded; zero keeps them tame.
    tile.fill(0.0);

    // Pass 1 along columns: the state of `box1DFloat` for every column at once.
    let vp = Phases::new(height, wc);
    let mut v_count = 0u32;
    // Rows of pass 1's output waiting in `v1` for pass 2's row sums, and where they start.
    let mut pending = 0usize;
    let mut pending_start = 0usize;

    let mut r0 = 0;
    while r0 < height {
        let nl = L.min(height - r0);
        for l in 0..nl {
            if !row(r0 + l, &mut rows[l * ws..][..width]) {
                return None;
            }
        }
        // Pass 1 along rows: transpose, run the L row sums side by side, transpose back into
        // the ring.
        transpose(rows, ws, tile, L, nl, width);
        box_tile_dense::<L, K>(kern, tile, tile_out, width, wr);
        let slot = (r0 % ring_rows) * ws;
        transpose(tile_out, L, &mut ring[slot..slot + nl * ws], ws, width, nl);

        // Pass 1 along columns, one input row at a time (the phases of `box1DFloat`).
        for ri in r0..r0 + nl {
            let add = &ring[(ri % ring_rows) * ws..][..width];
            if ri < vp.warm {
                add_row(col_sums, add);
                v_count += 1;
                continue;
            }
            if ri < wc {
                add_row(col_sums, add);
                v_count += 1;
            } else {
                let sub = &ring[((ri - wc) % ring_rows) * ws..][..width];
                add_sub_row(col_sums, add, sub);
            }
            let oi = ri - vp.warm;
            emit_row(col_sums, v_count, &mut v1[pending * ws..][..width], K::FMA);
            pending += 1;
            if pending == L {
                pass2.run(
                    v1,
                    tile,
                    pending,
                    &mut narrow[pending_start * OUT..(pending_start + pending) * OUT],
                );
                pending_start = oi + 1;
                pending = 0;
            }
        }
        r0 += nl;
    }
    // The last `half - 1` outputs of pass 1 along columns: subtract only.
    for k in 0..vp.shrink {
        let li = height - wc + k;
        let sub = &ring[(li % ring_rows) * ws..][..width];
        sub_row(col_sums, sub);
        v_count -= 1;
        emit_row(col_sums, v_count, &mut v1[pending * ws..][..width], K::FMA);
        pending += 1;
        if pending == L {
            pass2.run(
                v1,
                tile,
                pending,
                &mut narrow[pending_start * OUT..(pending_start + pending) * OUT],
            );
            pending_start += pending;
            pending = 0;
        }
    }
    if pending > 0 {
        pass2.run(
            v1,
            tile,
            pending,
            &mut narrow[pending_start * OUT..(pending_start + pending) * OUT],
        );
        pending_start += pending;
    }
    debug_assert_eq!(pending_start, height);

    // Pass 2 along columns over the 64 kept columns, keeping the 64 decimated rows.
    let mut a = [0f32; OUT * OUT];
    box_narrow_sampled(&narrow[..height * OUT], height, wc, &rows_at, &mut a);
    Some(a)
}

/// What pass 2 along rows needs besides its rows: the kernel, the row geometry (`width` values
/// `stride` apart), the window and the 64 columns kept.
struct Pass2<'a, K> {
    kern: K,
    width: usize,
    stride: usize,
    wr: usize,
    cols_at: &'a [usize; OUT],
    transpose: Transpose,
}

impl<K: Copy> Pass2<'_, K> {
    /// Pass 2 along rows for `n` rows of pass-1 output in `rows`: only the 64 decimated
    /// columns are kept, into `out` (`n x 64`, row-major).
    #[inline(always)]
    fn run<const L: usize>(&self, rows: &[f32], tile: &mut [f32], n: usize, out: &mut [f32])
    where
        K: Slide<L>,
    {
        let Pass2 {
            kern,
            width,
            stride,
            wr,
            cols_at,
            transpose,
        } = *self;
        transpose(rows, stride, tile, L, n, width);
        let mut sampled = [0f32; OUT * 64];
        debug_assert!(L <= 64);
        let sampled = &mut sampled[..OUT * L];
        box_tile_sampled::<L, K>(kern, tile, width, wr, cols_at, sampled);
        for l in 0..n {
            for j in 0..OUT {
                out[l * OUT + j] = sampled[j * L + l];
            }
        }
    }
}

/// Repetition counts of the four phases of `box1DFloat` for a line of `n` samples, window `w`
/// (see `filter::Phases`).
#[derive(Clone, Copy, Debug)]
struct Phases {
    warm: usize,
    grow: usize,
    slide: usize,
    shrink: usize,
}

impl Phases {
    fn new(n: usize, w: usize) -> Self {
        debug_assert!(w >= 1 && w <= n);
        let half = (w + 2) / 2;
        Phases {
            warm: half - 1,
            grow: w - half + 1,
            slide: n - w,
            shrink: half - 1,
        }
    }
}

/// `s / count` as the reference computes it (`sum / current_window_size`, an f32 division).
/// Dividing by a power of two and multiplying by its reciprocal (exact in f32) round the same
/// real number, so both are bit-identical; the multiplication is several times cheaper.
#[inline(always)]
fn divisor(count: u32) -> (f32, bool) {
    if count.is_power_of_two() {
        (1.0 / count as f32, true)
    } else {
        (count as f32, false)
    }
}

#[inline(always)]
fn add_row(sums: &mut [f32], add: &[f32]) {
    for (s, a) in sums.iter_mut().zip(add) {
        *s += *a;
    }
}

#[inline(always)]
fn sub_row(sums: &mut [f32], sub: &[f32]) {
    for (s, b) in sums.iter_mut().zip(sub) {
        *s -= *b;
    }
}

/// Add the incoming sample, then subtract the outgoing one (the reference's order).
#[inline(always)]
fn add_sub_row(sums: &mut [f32], add: &[f32], sub: &[f32]) {
    for ((s, a), b) in sums.iter_mut().zip(add).zip(sub) {
        *s += *a;
        *s -= *b;
    }
}

/// `s / d` correctly rounded without a division (Markstein): `q = s * r` is within an ulp of
/// the quotient when `r` is `1 / d` rounded, the remainder `s - q * d` is then exact in one
/// fused multiply-add, and `q + rem * r` rounds to the correctly rounded quotient, i.e. to `s /
/// d` bit for bit (no overflow or underflow here: sums of 8-bit luma; and no -0.0, which would
/// come out +0.0: see the test). Division has a fraction
/// of the multiply-adds' throughput, and it ran for every sample of both passes. Only where the
/// CPU fuses multiply-adds (`fma` enabled on the caller): elsewhere `mul_add` is a libm call.
#[inline(always)]
fn div_by_fma(s: f32, d: f32, r: f32) -> f32 {
    let q = s * r;
    let rem = (-q).mul_add(d, s);
    rem.mul_add(r, q)
}

/// Pass 1's output row: `sums / count` per column (with `fma`, through [`div_by_fma`]).
#[inline(always)]
fn emit_row(sums: &[f32], count: u32, out: &mut [f32], fma: bool) {
    let (d, mul) = divisor(count);
    if mul {
        for (o, s) in out.iter_mut().zip(sums) {
            *o = *s * d;
        }
    } else if fma {
        let r = 1.0 / d;
        for (o, s) in out.iter_mut().zip(sums) {
            *o = div_by_fma(*s, d, r);
        }
    } else {
        for (o, s) in out.iter_mut().zip(sums) {
            *o = *s / d;
        }
    }
}

#[inline(always)]
fn emit_lanes<const L: usize>(sums: &[f32; L], count: u32) -> [f32; L] {
    let (d, mul) = divisor(count);
    scale(sums, d, mul)
}

/// `sums * d` or `sums / d` per lane (a plain loop: `array::map` is not always inlined).
#[inline(always)]
fn scale<const L: usize>(sums: &[f32; L], d: f32, mul: bool) -> [f32; L] {
    let mut out = [0f32; L];
    if mul {
        for (o, s) in out.iter_mut().zip(sums) {
            *o = *s * d;
        }
    } else {
        for (o, s) in out.iter_mut().zip(sums) {
            *o = *s / d;
        }
    }
    out
}

#[inline(always)]
fn lanes<const L: usize>(tile: &[f32], k: usize) -> &[f32; L] {
    tile[k * L..(k + 1) * L].try_into().expect("L lanes")
}

/// The slide phase of a row pass on a transposed tile (add the incoming sample, subtract the
/// outgoing one, per lane): the loop that runs for almost every sample, with a portable form and
/// explicit x86 forms (the compiler kept the portable form's sums on the stack).
trait Slide<const L: usize>: Copy {
    /// Whether the kernel's code is compiled with fused multiply-add (so divisions may be
    /// replaced by [`div_by_fma`]).
    const FMA: bool;

    /// `steps` slide steps from inputs `ri`/`li`, storing each output at `oi..` (`sums * d` if
    /// `mul`, else `sums / d`) into `dst[k * L..]`.
    #[allow(clippy::too_many_arguments)]
    fn dense(
        self,
        src: &[f32],
        dst: &mut [f32],
        pos: (usize, usize, usize),
        steps: usize,
        sums: &mut [f32; L],
        d: f32,
        mul: bool,
    );

    /// `steps` slide steps from inputs `ri`/`li` without storing anything.
    fn advance(self, src: &[f32], ri: usize, li: usize, steps: usize, sums: &mut [f32; L]);
}

/// Plain loops over the lane arrays (auto-vectorised for the target's baseline).
#[derive(Clone, Copy)]
struct Portable;

impl<const L: usize> Slide<L> for Portable {
    const FMA: bool = false;

    #[inline(always)]
    fn dense(
        self,
        src: &[f32],
        dst: &mut [f32],
        (ri, li, oi): (usize, usize, usize),
        steps: usize,
        sums: &mut [f32; L],
        d: f32,
        mul: bool,
    ) {
        for k in 0..steps {
            let (a, b) = (lanes::<L>(src, ri + k), lanes::<L>(src, li + k));
            for ((s, a), b) in sums.iter_mut().zip(a).zip(b) {
                *s += *a;
                *s -= *b;
            }
            dst[(oi + k) * L..(oi + k + 1) * L].copy_from_slice(&scale(sums, d, mul));
        }
    }

    #[inline(always)]
    fn advance(self, src: &[f32], ri: usize, li: usize, steps: usize, sums: &mut [f32; L]) {
        for k in 0..steps {
            let (a, b) = (lanes::<L>(src, ri + k), lanes::<L>(src, li + k));
            for ((s, a), b) in sums.iter_mut().zip(a).zip(b) {
                *s += *a;
                *s -= *b;
            }
        }
    }
}

/// Pass 1 along rows on a transposed tile (`src[k * L + l]`, `n` samples per lane), every
/// output stored: `dst[k * L + l]`.
#[inline(always)]
fn box_tile_dense<const L: usize, K: Slide<L>>(
    k: K,
    src: &[f32],
    dst: &mut [f32],
    n: usize,
    w: usize,
) {
    let ph = Phases::new(n, w);
    let mut sums = [0f32; L];
    let mut count = 0u32;
    let (mut ri, mut li, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..ph.warm {
        add_lanes(&mut sums, lanes::<L>(src, ri));
        count += 1;
        ri += 1;
    }
    for _ in 0..ph.grow {
        add_lanes(&mut sums, lanes::<L>(src, ri));
        count += 1;
        dst[oi * L..(oi + 1) * L].copy_from_slice(&emit_lanes(&sums, count));
        ri += 1;
        oi += 1;
    }
    let (d, mul) = divisor(count);
    k.dense(src, dst, (ri, li, oi), ph.slide, &mut sums, d, mul);
    (ri, li, oi) = (ri + ph.slide, li + ph.slide, oi + ph.slide);
    for _ in 0..ph.shrink {
        for (s, b) in sums.iter_mut().zip(lanes::<L>(src, li)) {
            *s -= *b;
        }
        count -= 1;
        dst[oi * L..(oi + 1) * L].copy_from_slice(&emit_lanes(&sums, count));
        li += 1;
        oi += 1;
    }
    debug_assert_eq!(oi, n);
    let _ = ri;
}

#[inline(always)]
fn add_lanes<const L: usize>(sums: &mut [f32; L], a: &[f32; L]) {
    for (s, a) in sums.iter_mut().zip(a) {
        *s += *a;
    }
}

/// Pass 2 along rows on a transposed tile: only the outputs at `at` are stored, into
/// `out[j * L + l]`.
#[inline(always)]
fn box_tile_sampled<const L: usize, K: Slide<L>>(
    kern: K,
    tile: &[f32],
    n: usize,
    w: usize,
    at: &[usize; OUT],
    out: &mut [f32],
) {
    let ph = Phases::new(n, w);
    let mut sums = [0f32; L];
    let mut count = 0u32;
    let mut next = 0usize;
    let (mut ri, mut li, mut oi) = (0usize, 0usize, 0usize);
    for _ in 0..ph.warm {
        add_lanes(&mut sums, lanes::<L>(tile, ri));
        count += 1;
        ri += 1;
    }
    for _ in 0..ph.grow {
        add_lanes(&mut sums, lanes::<L>(tile, ri));
        count += 1;
        store(out, at, &mut next, oi, &sums, count);
        ri += 1;
        oi += 1;
    }
    // Slide without storing up to the next kept output, then store it.
    let slide_end = oi + ph.slide;
    while oi < slide_end {
        let want = if next < OUT { at[next] } else { usize::MAX };
        let skip = want.max(oi).min(slide_end) - oi;
        kern.advance(tile, ri, li, skip, &mut sums);
        (ri, li, oi) = (ri + skip, li + skip, oi + skip);
        if oi == slide_end {
            break;
        }
        kern.advance(tile, ri, li, 1, &mut sums);
        store(out, at, &mut next, oi, &sums, count);
        (ri, li, oi) = (ri + 1, li + 1, oi + 1);
    }
    for _ in 0..ph.shrink {
        for (s, b) in sums.iter_mut().zip(lanes::<L>(tile, li)) {
            *s -= *b;
        }
        count -= 1;
        store(out, at, &mut next, oi, &sums, count);
        li += 1;
        oi += 1;
    }
}

/// Stores the outputs at every decimation slot that wants output `oi` (indices repeat when the
/// line is shorter than 64 samples).
#[inline(always)]
fn store<const L: usize>(
    out: &mut [f32],
    at: &[usize; OUT],
    next: &mut usize,
    oi: usize,
    sums: &[f32; L],
    count: u32,
) {
    while *next < OUT && at[*next] == oi {
        out[*next * L..(*next + 1) * L].copy_from_slice(&emit_lanes(sums, count));
        *next += 1;
    }
}

/// Pass 2 along columns over the `n x 64` buffer: the 64 decimated rows into `a`.
#[inline(always)]
fn box_narrow_sampled(
    narrow: &[f32],
    n: usize,
    w: usize,
    at: &[usize; OUT],
    a: &mut [f32; OUT * OUT],
) {
    box_tile_sampled::<OUT, _>(Portable, narrow, n, w, at, a);
}

/// x86-64 kernels: the sweep compiled for AVX2 and AVX-512F, and SIMD transposes.
#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// [`sweep`] compiled for AVX2 and FMA: 16 rows per tile (two 8-lane registers per step).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA (`is_x86_feature_detected!`).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn sweep_avx2(
        width: usize,
        height: usize,
        s: &mut Scratch,
        row: impl FnMut(usize, &mut [f32]) -> bool,
    ) -> Option<[f32; OUT * OUT]> {
        sweep::<16, _>(Avx2x16(()), width, height, s, row, transpose_avx)
    }

    /// [`sweep`] compiled for AVX-512F: 32 rows per tile (two 16-lane registers per step).
    ///
    /// # Safety
    /// The CPU must support AVX-512F and AVX2.
    #[target_feature(enable = "avx512f,avx2")]
    pub(super) unsafe fn sweep_avx512(
        width: usize,
        height: usize,
        s: &mut Scratch,
        row: impl FnMut(usize, &mut [f32]) -> bool,
    ) -> Option<[f32; OUT * OUT]> {
        sweep::<32, _>(Avx512x32(()), width, height, s, row, transpose_avx)
    }

    /// Checks the tile ranges a slide kernel touches (every x86 kernel calls this first).
    fn check_slide(len: usize, lanes: usize, ri: usize, li: usize, steps: usize) {
        assert!(li <= ri && (ri + steps) * lanes <= len, "slide source");
    }

    /// AVX2 slide kernels for 16 lanes (two registers). Only constructed by [`sweep_avx2`],
    /// i.e. on CPUs with AVX2.
    #[derive(Clone, Copy)]
    pub(super) struct Avx2x16(());

    impl Slide<16> for Avx2x16 {
        const FMA: bool = true;

        #[inline(always)]
        fn dense(
            self,
            src: &[f32],
            dst: &mut [f32],
            (ri, li, oi): (usize, usize, usize),
            steps: usize,
            sums: &mut [f32; 16],
            d: f32,
            mul: bool,
        ) {
            check_slide(src.len(), 16, ri, li, steps);
            assert!((oi + steps) * 16 <= dst.len(), "slide destination");
            // SAFETY: an Avx2x16 exists only inside sweep_avx2 (AVX2 present); every access is
            // within the ranges checked above.
            unsafe {
                slide_avx2(
                    src.as_ptr(),
                    Some(dst.as_mut_ptr()),
                    (ri, li, oi),
                    steps,
                    sums,
                    d,
                    mul,
                )
            }
        }

        #[inline(always)]
        fn advance(self, src: &[f32], ri: usize, li: usize, steps: usize, sums: &mut [f32; 16]) {
            check_slide(src.len(), 16, ri, li, steps);
            // SAFETY: as in `dense`; nothing is stored.
            unsafe { slide_avx2(src.as_ptr(), None, (ri, li, 0), steps, sums, 1.0, true) }
        }
    }

    /// [`div_by_fma`] on 8 lanes: `s / d` with `d` and `r = 1 / d` in every lane. A function
    /// compiled for the features, not a closure: a closure in a kernel is compiled without
    /// them and its intrinsics become calls.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(in crate::hash::pdq) fn div8(s: __m256, d: __m256, r: __m256) -> __m256 {
        let q = _mm256_mul_ps(s, r);
        _mm256_fmadd_ps(_mm256_fnmadd_ps(q, d, s), r, q)
    }

    /// [`div_by_fma`] on 16 lanes.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn div16(s: __m512, d: __m512, r: __m512) -> __m512 {
        let q = _mm512_mul_ps(s, r);
        _mm512_fmadd_ps(_mm512_fnmadd_ps(q, d, s), r, q)
    }

    /// The slide loop with AVX2, sums in registers.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `src` must be valid for reads of lanes
    /// `(ri + steps) * 16`, and `dst` (when given) for writes of `(oi + steps) * 16` f32 values.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn slide_avx2(
        src: *const f32,
        dst: Option<*mut f32>,
        (ri, li, oi): (usize, usize, usize),
        steps: usize,
        sums: &mut [f32; 16],
        d: f32,
        mul: bool,
    ) {
        // SAFETY: the caller guarantees the ranges; loads and stores are unaligned.
        unsafe {
            let mut s0 = _mm256_loadu_ps(sums.as_ptr());
            let mut s1 = _mm256_loadu_ps(sums.as_ptr().add(8));
            let dv = _mm256_set1_ps(d);
            let rv = _mm256_set1_ps(1.0 / d);
            for k in 0..steps {
                let a = src.add((ri + k) * 16);
                let b = src.add((li + k) * 16);
                s0 = _mm256_sub_ps(_mm256_add_ps(s0, _mm256_loadu_ps(a)), _mm256_loadu_ps(b));
                s1 = _mm256_sub_ps(
                    _mm256_add_ps(s1, _mm256_loadu_ps(a.add(8))),
                    _mm256_loadu_ps(b.add(8)),
                );
                if let Some(dst) = dst {
                    let o = dst.add((oi + k) * 16);
                    let (o0, o1) = if mul {
                        (_mm256_mul_ps(s0, dv), _mm256_mul_ps(s1, dv))
                    } else {
                        (div8(s0, dv, rv), div8(s1, dv, rv))
                    };
                    _mm256_storeu_ps(o, o0);
                    _mm256_storeu_ps(o.add(8), o1);
                }
            }
            _mm256_storeu_ps(sums.as_mut_ptr(), s0);
            _mm256_storeu_ps(sums.as_mut_ptr().add(8), s1);
        }
    }

    /// AVX-512F slide kernels for 32 lanes (two registers). Only constructed by
    /// [`sweep_avx512`], i.e. on CPUs with AVX-512F.
    #[derive(Clone, Copy)]
    pub(super) struct Avx512x32(());

    impl Slide<32> for Avx512x32 {
        const FMA: bool = true;

        #[inline(always)]
        fn dense(
            self,
            src: &[f32],
            dst: &mut [f32],
            (ri, li, oi): (usize, usize, usize),
            steps: usize,
            sums: &mut [f32; 32],
            d: f32,
            mul: bool,
        ) {
            check_slide(src.len(), 32, ri, li, steps);
            assert!((oi + steps) * 32 <= dst.len(), "slide destination");
            // SAFETY: an Avx512x32 exists only inside sweep_avx512 (AVX-512F present); every
            // access is within the ranges checked above.
            unsafe {
                slide_avx512(
                    src.as_ptr(),
                    Some(dst.as_mut_ptr()),
                    (ri, li, oi),
                    steps,
                    sums,
                    d,
                    mul,
                )
            }
        }

        #[inline(always)]
        fn advance(self, src: &[f32], ri: usize, li: usize, steps: usize, sums: &mut [f32; 32]) {
            check_slide(src.len(), 32, ri, li, steps);
            // SAFETY: as in `dense`; nothing is stored.
            unsafe { slide_avx512(src.as_ptr(), None, (ri, li, 0), steps, sums, 1.0, true) }
        }
    }

    /// The slide loop with AVX-512F, sums in registers.
    ///
    /// # Safety
    /// AVX-512F must be available; `src` must be valid for reads of `(ri + steps) * 32` f32
    /// values, and `dst` (when given) for writes of `(oi + steps) * 32`.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn slide_avx512(
        src: *const f32,
        dst: Option<*mut f32>,
        (ri, li, oi): (usize, usize, usize),
        steps: usize,
        sums: &mut [f32; 32],
        d: f32,
        mul: bool,
    ) {
        // SAFETY: the caller guarantees the ranges; loads and stores are unaligned.
        unsafe {
            let mut s0 = _mm512_loadu_ps(sums.as_ptr());
            let mut s1 = _mm512_loadu_ps(sums.as_ptr().add(16));
            let dv = _mm512_set1_ps(d);
            let rv = _mm512_set1_ps(1.0 / d);
            for k in 0..steps {
                let a = src.add((ri + k) * 32);
                let b = src.add((li + k) * 32);
                s0 = _mm512_sub_ps(_mm512_add_ps(s0, _mm512_loadu_ps(a)), _mm512_loadu_ps(b));
                s1 = _mm512_sub_ps(
                    _mm512_add_ps(s1, _mm512_loadu_ps(a.add(16))),
                    _mm512_loadu_ps(b.add(16)),
                );
                if let Some(dst) = dst {
                    let o = dst.add((oi + k) * 32);
                    let (o0, o1) = if mul {
                        (_mm512_mul_ps(s0, dv), _mm512_mul_ps(s1, dv))
                    } else {
                        (div16(s0, dv, rv), div16(s1, dv, rv))
                    };
                    _mm512_storeu_ps(o, o0);
                    _mm512_storeu_ps(o.add(16), o1);
                }
            }
            _mm512_storeu_ps(sums.as_mut_ptr(), s0);
            _mm512_storeu_ps(sums.as_mut_ptr().add(16), s1);
        }
    }

    /// 4x4 blocks with SSE2 shuffles (the x86-64 baseline), the rest as [`transpose_scalar`].
    pub(super) fn transpose_sse2(
        src: &[f32],
        ss: usize,
        dst: &mut [f32],
        ds: usize,
        rows: usize,
        cols: usize,
    ) {
        check_transpose(src, ss, dst, ds, rows, cols);
        let (rb, cb) = (rows / 4 * 4, cols / 4 * 4);
        for r0 in (0..rb).step_by(4) {
            for c0 in (0..cb).step_by(4) {
                // SAFETY: SSE2 is part of x86-64. The 4x4 block reads src rows r0..r0+4, columns
                // c0..c0+4 (r0 + 3 < rows, c0 + 3 < cols) and writes dst rows c0..c0+4, columns
                // r0..r0+4: in bounds by `check_transpose`.
                unsafe {
                    let p = src.as_ptr().add(r0 * ss + c0);
                    let a = _mm_loadu_ps(p);
                    let b = _mm_loadu_ps(p.add(ss));
                    let c = _mm_loadu_ps(p.add(2 * ss));
                    let d = _mm_loadu_ps(p.add(3 * ss));
                    let t0 = _mm_unpacklo_ps(a, b);
                    let t1 = _mm_unpacklo_ps(c, d);
                    let t2 = _mm_unpackhi_ps(a, b);
                    let t3 = _mm_unpackhi_ps(c, d);
                    let q = dst.as_mut_ptr().add(c0 * ds + r0);
                    _mm_storeu_ps(q, _mm_movelh_ps(t0, t1));
                    _mm_storeu_ps(q.add(ds), _mm_movehl_ps(t1, t0));
                    _mm_storeu_ps(q.add(2 * ds), _mm_movelh_ps(t2, t3));
                    _mm_storeu_ps(q.add(3 * ds), _mm_movehl_ps(t3, t2));
                }
            }
        }
        edges(src, ss, dst, ds, rows, cols, rb, cb);
    }

    /// The parts of a transpose outside the SIMD blocks: rows `rb..` and columns `cb..`.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn edges(
        src: &[f32],
        ss: usize,
        dst: &mut [f32],
        ds: usize,
        rows: usize,
        cols: usize,
        rb: usize,
        cb: usize,
    ) {
        for r in 0..rows {
            let from = if r < rb { cb } else { 0 };
            for c in from..cols {
                dst[c * ds + r] = src[r * ss + c];
            }
        }
    }

    /// 8x8 blocks with AVX shuffles, the rest as [`transpose_scalar`]. Only handed out by the
    /// AVX2/AVX-512 sweeps, so it runs only where AVX is available.
    fn transpose_avx(src: &[f32], ss: usize, dst: &mut [f32], ds: usize, rows: usize, cols: usize) {
        check_transpose(src, ss, dst, ds, rows, cols);
        // SAFETY: this function is only passed to `sweep` by `sweep_avx2` and `sweep_avx512`,
        // which run only on CPUs with AVX2 (hence AVX); the bounds were checked above.
        unsafe { transpose_avx_checked(src, ss, dst, ds, rows, cols) }
    }

    /// [`transpose_avx`] after its checks, compiled for AVX so that `block8` inlines.
    ///
    /// # Safety
    /// AVX must be available and `check_transpose` must have passed for these arguments.
    #[target_feature(enable = "avx")]
    unsafe fn transpose_avx_checked(
        src: &[f32],
        ss: usize,
        dst: &mut [f32],
        ds: usize,
        rows: usize,
        cols: usize,
    ) {
        let (rb, cb) = (rows / 8 * 8, cols / 8 * 8);
        for r0 in (0..rb).step_by(8) {
            for c0 in (0..cb).step_by(8) {
                // SAFETY: AVX is available (this function's contract). The block reads src rows
                // r0..r0+8, columns c0..c0+8 and writes dst rows c0..c0+8, columns r0..r0+8, all
                // in bounds by `check_transpose` (r0 + 7 < rows, c0 + 7 < cols).
                unsafe {
                    block8(
                        src.as_ptr().add(r0 * ss + c0),
                        ss,
                        dst.as_mut_ptr().add(c0 * ds + r0),
                        ds,
                    )
                }
            }
        }
        edges(src, ss, dst, ds, rows, cols, rb, cb);
    }

    /// Transposes one 8x8 block.
    ///
    /// # Safety
    /// AVX must be available; `src + i * ss` and `dst + i * ds` must be valid for 8 f32 reads
    /// (writes) for `i` in `0..8`, and the two blocks must not overlap.
    #[target_feature(enable = "avx")]
    unsafe fn block8(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
        // SAFETY: the caller guarantees the eight 8-float rows of both blocks are valid.
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * ss)));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let o = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (i, v) in o.into_iter().enumerate() {
                _mm256_storeu_ps(dst.add(i * ds), v);
            }
        }
    }

    #[cfg(test)]
    pub(super) fn transposes() -> Vec<Transpose> {
        let mut v: Vec<Transpose> = vec![transpose_sse2];
        if std::arch::is_x86_feature_detected!("avx2") {
            v.push(transpose_avx);
        }
        v
    }
}

/// Every transpose kernel this CPU can run (for the tests).
#[cfg(test)]
pub(super) fn transposes() -> Vec<Transpose> {
    #[allow(unused_mut)]
    let mut v: Vec<Transpose> = vec![transpose_scalar];
    #[cfg(target_arch = "x86_64")]
    v.extend(x86::transposes());
    v
}

#[cfg(test)]
mod tests {
    use super::super::filter;
    use super::*;

    /// The three-buffer reference path (`filter`), itself checked against `pdqhash` fixtures.
    fn reference(luma: &[f32], w: usize, h: usize) -> [f32; OUT * OUT] {
        let mut s = filter::Scratch::default();
        let (mut a, mut b) = (vec![0f32; w * h], vec![0f32; w * h]);
        filter::box_rows(luma, &mut a, w, h, window(w), &mut s);
        filter::box_cols(&a, &mut b, w, h, window(h), &mut s);
        filter::pass2_decimate(&b, w, h, &mut s)
    }

    /// Seeded xorshift noise in [0, 255], with a fractional part so sums round.
    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 40) as f32 / 65536.0
            })
            .collect()
    }

    fn check(w: usize, h: usize, seed: u64, scratch: &mut [(Level, Scratch)]) {
        let luma = noise(w * h, seed);
        let want = reference(&luma, w, h);
        for (level, s) in scratch.iter_mut() {
            let got = downsample(w, h, *level, s, |y, out| {
                out.copy_from_slice(&luma[y * w..(y + 1) * w]);
                true
            })
            .expect("every row given");
            for k in 0..OUT * OUT {
                assert_eq!(
                    got[k].to_bits(),
                    want[k].to_bits(),
                    "{w}x{h} {level:?} sample {k}"
                );
            }
        }
    }

    fn scratches() -> Vec<(Level, Scratch)> {
        Level::supported()
            .into_iter()
            .map(|l| (l, Scratch::default()))
            .collect()
    }

    #[test]
    fn every_level_is_bit_identical_on_all_small_sizes() {
        // Reused scratch across sizes, as a hasher would: stale buffer contents must not leak.
        let mut s = scratches();
        for h in 1..=70 {
            for w in 1..=70 {
                check(w, h, (w * 1000 + h) as u64, &mut s);
            }
        }
    }

    #[test]
    fn every_level_is_bit_identical_on_large_odd_sizes() {
        let mut s = scratches();
        for &(w, h) in &[
            (1031, 777),
            (777, 1031),
            (4001, 9),
            (9, 4001),
            (257, 3),
            (3, 257),
            (129, 129),
            (640, 480),
            (1024, 768),
            (1000, 1),
            (1, 1000),
            (2049, 1537),
        ] {
            check(w, h, (w ^ (h << 20)) as u64, &mut s);
        }
    }

    #[test]
    fn power_of_two_counts_divide_exactly_by_multiplying() {
        // The one substitution the sweep makes, over every exponent and awkward values.
        let mut vals = noise(4096, 5);
        vals.extend([
            0.0,
            -0.0,
            f32::MIN_POSITIVE,
            f32::MIN_POSITIVE * 0.75,
            1e-45,
            f32::MAX,
            -f32::MAX,
            f32::INFINITY,
            3.4e38,
            1.0000001,
        ]);
        for k in 0..31 {
            let c = 1u32 << k;
            let (d, mul) = divisor(c);
            assert!(mul);
            for &v in &vals {
                assert_eq!((v * d).to_bits(), (v / c as f32).to_bits(), "{v} / {c}");
            }
        }
        assert!(!divisor(6).1);
    }

    #[test]
    fn fused_multiply_add_quotients_equal_division_for_every_count() {
        // The other substitution: `div_by_fma` for every count a window can have (windows are
        // (side + 127) / 128, at most 512 for a 65,535-pixel side; counts run from half a
        // window to a whole one), on the values the sums take (integers up to 255 per sample,
        // fractions after subtractions), every exponent and random bit patterns.
        let mut vals = noise(2048, 11);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2048 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let v = f32::from_bits((x >> 33) as u32 & 0x7FFF_FFFF);
            if v.is_finite() && v.abs() < 1e30 && v.abs() > 1e-30 {
                vals.push(v);
                vals.push(-v);
            }
        }
        for k in -20..60 {
            vals.push(2f32.powi(k) * 1.000_000_1);
            vals.push(2f32.powi(k) * 0.999_999_9);
        }
        // Not -0.0 (the quotient would be +0.0): no sum is ever -0.0, as every sum starts at
        // +0.0 and adding or subtracting samples that are not -0.0 cannot make one (an exact
        // cancellation rounds to +0.0), so no sample of either pass is -0.0 either.
        vals.extend([0.0, 1.0, 255.0, 1.5]);
        vals.retain(|v| v.to_bits() != (-0.0f32).to_bits());
        for c in 1..=600u32 {
            let d = c as f32;
            let r = 1.0 / d;
            let integers = (0..=255 * c).step_by(1 + c as usize / 8).map(|i| i as f32);
            let quarters = (0..4096).map(|i| i as f32 * 0.25 + 0.125);
            for v in vals.iter().copied().chain(integers).chain(quarters) {
                assert_eq!(
                    div_by_fma(v, d, r).to_bits(),
                    (v / d).to_bits(),
                    "{v} / {c}"
                );
            }
        }
    }

    #[test]
    fn transposes_match_the_definition() {
        for t in transposes() {
            for &(rows, cols) in &[(1, 1), (3, 5), (8, 8), (16, 33), (37, 9), (64, 64)] {
                let (ss, ds) = (cols + 3, rows + 2);
                let src = noise(rows * ss, (rows * 7 + cols) as u64);
                let mut dst = vec![-1f32; cols * ds];
                t(&src, ss, &mut dst, ds, rows, cols);
                for r in 0..rows {
                    for c in 0..cols {
                        assert_eq!(dst[c * ds + r].to_bits(), src[r * ss + c].to_bits());
                    }
                    // Padding between strides is left alone.
                }
                for c in 0..cols {
                    for r in rows..ds {
                        assert_eq!(dst[c * ds + r], -1.0);
                    }
                }
            }
        }
    }
}
