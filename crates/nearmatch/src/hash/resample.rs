//! PIL-compatible Lanczos resize of an 8-bit plane (`Image.resize(size, LANCZOS)` on mode `L`).
//!
//! This is the front end of every imagehash algorithm, so it reproduces Pillow's `Resample.c`
//! bit for bit: coefficients computed in `f64` exactly as Pillow orders the operations, rounded
//! to 22-bit fixed point, `i32` accumulation starting at `2^21`, an arithmetic shift, a clip to
//! 0..=255, and a `u8` intermediate image between the two separable passes. A pass whose axis
//! keeps its size is skipped (Pillow copies), and the order of the two passes follows the
//! Pillow version (see [`PillowVersion`]). Because the intermediate is rounded to `u8`, the pass
//! order changes results: hash lists made before Pillow 13 need [`PillowVersion::Pillow12`].
//!
//! ```
//! use nearmatch::hash::resample::{resize_lanczos, PillowVersion};
//! let plane = vec![10u8; 40 * 30];
//! let small = resize_lanczos(&plane, 40, 30, 8, 8, PillowVersion::Pillow13).unwrap();
//! assert_eq!(small, vec![10u8; 64]);
//! ```

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::str::FromStr;

use crate::error::Error;

/// Pillow's fixed-point precision for 8-bit resampling (`PRECISION_BITS`).
const PRECISION_BITS: u32 = 32 - 8 - 2;
/// Pillow's Lanczos support radius (`a = 3`).
const LANCZOS_SUPPORT: f64 = 3.0;

/// Which Pillow release's resize pass order to reproduce.
///
/// Pillow 12.x and earlier always resample horizontally first; Pillow 13.0 resamples vertically
/// first when the height shrinks by more than twice as much as the width. The `u8` rounding
/// between the passes makes the two orders differ by ±1 grey level, which flips hash bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PillowVersion {
    /// Pillow ≥ 13.0 (what a current `pip install imagehash` uses).
    #[default]
    Pillow13,
    /// Pillow ≤ 12.x (hash lists made before Pillow 13.0).
    Pillow12,
}

impl PillowVersion {
    /// Both versions, newest first.
    pub const ALL: [PillowVersion; 2] = [PillowVersion::Pillow13, PillowVersion::Pillow12];

    /// The CLI name: `pillow13` or `pillow12`.
    pub fn name(self) -> &'static str {
        match self {
            PillowVersion::Pillow13 => "pillow13",
            PillowVersion::Pillow12 => "pillow12",
        }
    }

    /// True when this version runs the vertical pass first for the given resize.
    ///
    /// Pillow 13 (`ImagingResampleInner`): vertical first iff `(H_in - h) > 0` and
    /// `(H_in - h) > 2 * (W_in - w)`, in signed arithmetic (a widening counts as negative).
    pub fn vertical_first(self, in_w: usize, in_h: usize, out_w: usize, out_h: usize) -> bool {
        match self {
            PillowVersion::Pillow12 => false,
            PillowVersion::Pillow13 => {
                let dh = in_h as i64 - out_h as i64;
                let dw = in_w as i64 - out_w as i64;
                dh > 0 && dh > 2 * dw
            }
        }
    }
}

impl PillowVersion {
    /// True when this version refuses to resize an image without pixels (a zero side) to
    /// `out_w`×`out_h` with `ValueError: height and width must be > 0`; otherwise it gives zeros.
    ///
    /// Measured on every empty input up to 39 px against outputs up to 39×39: Pillow 12.3
    /// refuses exactly when the width is zero and the height shrinks; Pillow 13 never refuses.
    pub fn refuses_empty_resize(
        self,
        in_w: usize,
        in_h: usize,
        _out_w: usize,
        out_h: usize,
    ) -> bool {
        match self {
            PillowVersion::Pillow12 => in_w == 0 && out_h < in_h,
            PillowVersion::Pillow13 => false,
        }
    }
}

impl fmt::Display for PillowVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Pillow version name that nearmatch does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Pillow version {0:?} (known: pillow13, pillow12)")]
pub struct UnknownPillowVersion(pub String);

impl FromStr for PillowVersion {
    type Err = UnknownPillowVersion;
    fn from_str(s: &str) -> Result<Self, UnknownPillowVersion> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pillow13" | "13" => Ok(PillowVersion::Pillow13),
            "pillow12" | "12" => Ok(PillowVersion::Pillow12),
            _ => Err(UnknownPillowVersion(s.to_string())),
        }
    }
}

/// Pillow's `sinc_filter`.
fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        return 1.0;
    }
    let x = x * std::f64::consts::PI;
    x.sin() / x
}

/// Pillow's `lanczos_filter`: truncated sinc, `sinc(x) * sinc(x/3)` on `[-3, 3)`.
fn lanczos(x: f64) -> f64 {
    if (-3.0..3.0).contains(&x) {
        sinc(x) * sinc(x / 3.0)
    } else {
        0.0
    }
}

/// Fixed-point filter weights for one axis: for each output index, the first input index and
/// `ksize` weights (only the first `len` of them used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coefficients {
    /// Maximum taps per output sample (row stride of `weights`).
    ksize: usize,
    /// Per output index: (first input index, number of taps).
    bounds: Vec<(usize, usize)>,
    /// `bounds.len() * ksize` weights in 22-bit fixed point.
    weights: Vec<i32>,
    /// For long filters (`ksize >= DOT_MIN_TAPS`), each weight split as `hi * 2^11 + lo` with
    /// both halves in `i16` (`lo` in `0..2048`), rows of `split_stride` (a multiple of 16,
    /// zero-padded): what 16-bit multiply-adds need (see `x86::dot_rows`). Empty otherwise.
    hi: Vec<i16>,
    lo: Vec<i16>,
    split_stride: usize,
}

/// Filters at least this long are applied as one dot product per output over contiguous bytes.
const DOT_MIN_TAPS: usize = 24;
/// Bits of a weight in [`Coefficients`]' `lo` half.
const SPLIT_BITS: u32 = 11;

impl Coefficients {
    /// Pillow's `precompute_coeffs` + `normalize_coeffs_8bpp` for a full-range resize of
    /// `in_size` samples to `out_size` (both > 0).
    pub fn lanczos(in_size: usize, out_size: usize) -> Coefficients {
        // Pillow computes the scale from the float crop box: (float)in1 - (float)in0.
        let scale = (in_size as f32 - 0.0f32) as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = LANCZOS_SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let mut bounds = Vec::with_capacity(out_size);
        let mut weights = vec![0i32; out_size * ksize];
        let mut k = vec![0f64; ksize];
        let ss = 1.0 / filterscale;
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // `(int)` casts truncate toward zero, as Rust's `as` does.
            let xmin = ((center - support + 0.5) as i64).max(0) as usize;
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) as usize;
            let n = xmax.saturating_sub(xmin).min(ksize);
            let mut ww = 0.0;
            for (x, kx) in k.iter_mut().enumerate().take(n) {
                let w = lanczos(((x + xmin) as f64 - center + 0.5) * ss);
                *kx = w;
                ww += w;
            }
            let row = &mut weights[xx * ksize..xx * ksize + n];
            for (dst, &w) in row.iter_mut().zip(&k[..n]) {
                let w = if ww != 0.0 { w / ww } else { w };
                let scaled = w * (1u32 << PRECISION_BITS) as f64;
                *dst = if w < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                };
            }
            bounds.push((xmin, n));
        }
        let (mut hi, mut lo, mut split_stride) = (Vec::new(), Vec::new(), 0);
        if ksize >= DOT_MIN_TAPS {
            split_stride = ksize.next_multiple_of(16);
            hi = vec![0i16; out_size * split_stride];
            lo = vec![0i16; out_size * split_stride];
            for (i, &(_, n)) in bounds.iter().enumerate() {
                for j in 0..n {
                    let k = weights[i * ksize + j];
                    // |k| <= 2^23 (a normalised weight is at most about 1.3 * 2^22), so the high
                    // part fits i16; the low part is 0..2^11.
                    hi[i * split_stride + j] =
                        i16::try_from(k >> SPLIT_BITS).expect("a weight is below 2^26");
                    lo[i * split_stride + j] = (k & ((1 << SPLIT_BITS) - 1)) as i16;
                }
            }
        }
        Coefficients {
            ksize,
            bounds,
            weights,
            hi,
            lo,
            split_stride,
        }
    }

    /// [`Coefficients::lanczos`], remembered per thread for the last few sizes: computing them
    /// takes tens of thousands of `sin` calls for a photo reduced to 32 pixels, about 7 % of a
    /// pHash, and a scan meets the same few camera sizes again and again.
    pub(crate) fn lanczos_cached(in_size: usize, out_size: usize) -> Rc<Coefficients> {
        /// Sizes remembered per thread (a pHash and a dHash of one image need four).
        const KEEP: usize = 8;
        /// (input size, output size) and their coefficients, least recently used first.
        type Cache = Vec<((usize, usize), Rc<Coefficients>)>;
        thread_local! {
            static CACHE: RefCell<Cache> = const { RefCell::new(Vec::new()) };
        }
        CACHE.with_borrow_mut(|cache| {
            if let Some(i) = cache.iter().position(|(k, _)| *k == (in_size, out_size)) {
                let hit = cache.remove(i);
                let c = Rc::clone(&hit.1);
                cache.push(hit);
                return c;
            }
            let c = Rc::new(Coefficients::lanczos(in_size, out_size));
            if cache.len() == KEEP {
                cache.remove(0);
            }
            cache.push(((in_size, out_size), Rc::clone(&c)));
            c
        })
    }

    /// The weights of output index `i` and the first input index they apply to.
    #[inline]
    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let (start, n) = self.bounds[i];
        (start, &self.weights[i * self.ksize..i * self.ksize + n])
    }

    /// The range of input indices any output uses (`start..end`).
    fn used_range(&self) -> (usize, usize) {
        let first = self.bounds.first().map_or(0, |b| b.0);
        let last = self.bounds.last().map_or(0, |b| b.0 + b.1);
        (first, last.max(first))
    }
}

/// Pillow's `clip8` after the fixed-point accumulation.
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

const ROUND_HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Buffers the horizontal pass reuses between calls.
#[derive(Debug, Default)]
struct HorizontalScratch {
    /// A block of rows transposed to lanes (short filters).
    cols: Vec<[i32; ROW_BLOCK]>,
    /// One row, zero-padded (long filters on AVX2).
    line: Vec<u8>,
}

/// Horizontal pass over rows `rows.0..rows.1` of a `w`-wide plane.
fn pass_horizontal(src: &[u8], w: usize, rows: (usize, usize), c: &Coefficients) -> Vec<u8> {
    let mut out = vec![0u8; c.bounds.len() * (rows.1 - rows.0)];
    pass_horizontal_into(src, w, rows, c, &mut out, &mut HorizontalScratch::default());
    out
}

/// [`pass_horizontal`] into `out` (`out_w` bytes per row).
///
/// The fixed-point sums are exact integers, so evaluating them in any order (SIMD lanes) gives
/// Pillow's values; the AVX2 build of the same loop is picked at run time when available.
fn pass_horizontal_into(
    src: &[u8],
    w: usize,
    rows: (usize, usize),
    c: &Coefficients,
    out: &mut [u8],
    scratch: &mut HorizontalScratch,
) {
    assert_eq!(out.len(), c.bounds.len() * (rows.1 - rows.0), "output size");
    #[cfg(target_arch = "x86_64")]
    if c.ksize >= DOT_MIN_TAPS && std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above); ksize >= DOT_MIN_TAPS.
        return unsafe { x86::pass_horizontal_dot(src, w, rows, c, out, &mut scratch.line) };
    }
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { pass_horizontal_avx2(src, w, rows, c, out, &mut scratch.cols) };
    }
    pass_horizontal_kernel(src, w, rows, c, out, &mut scratch.cols)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pass_horizontal_avx2(
    src: &[u8],
    w: usize,
    rows: (usize, usize),
    c: &Coefficients,
    out: &mut [u8],
    cols: &mut Vec<[i32; ROW_BLOCK]>,
) {
    pass_horizontal_kernel(src, w, rows, c, out, cols)
}

/// Rows resampled together: each block's pixels are transposed to lanes of eight rows, so
/// every tap is one multiply-add on eight rows at once, whatever the number of taps.
const ROW_BLOCK: usize = 8;

#[inline(always)]
fn pass_horizontal_kernel(
    src: &[u8],
    w: usize,
    rows: (usize, usize),
    c: &Coefficients,
    out: &mut [u8],
    cols: &mut Vec<[i32; ROW_BLOCK]>,
) {
    if c.ksize >= DOT_MIN_TAPS {
        // Long filters (strong reductions): one dot product per output over contiguous bytes
        // vectorises along the taps.
        return pass_horizontal_dot(src, w, rows, c, out);
    }
    let out_w = c.bounds.len();
    cols.resize(w, [0; ROW_BLOCK]);
    let mut y = rows.0;
    while y < rows.1 {
        let lanes = ROW_BLOCK.min(rows.1 - y);
        for l in 0..ROW_BLOCK {
            // Missing rows of the last block repeat its first row; their results are dropped.
            let line = &src[(y + if l < lanes { l } else { 0 }) * w..][..w];
            for (col, &p) in cols.iter_mut().zip(line) {
                col[l] = p as i32;
            }
        }
        for xx in 0..out_w {
            let (start, k) = c.taps(xx);
            let mut acc = [0i32; ROW_BLOCK];
            for (col, &kk) in cols[start..start + k.len()].iter().zip(k) {
                for (a, &p) in acc.iter_mut().zip(col) {
                    *a = a.wrapping_add(p.wrapping_mul(kk));
                }
            }
            for (l, &a) in acc.iter().enumerate().take(lanes) {
                out[(y - rows.0 + l) * out_w + xx] = clip8(a.wrapping_add(ROUND_HALF));
            }
        }
        y += lanes;
    }
}

#[inline(always)]
fn pass_horizontal_dot(
    src: &[u8],
    w: usize,
    rows: (usize, usize),
    c: &Coefficients,
    out: &mut [u8],
) {
    let out_w = c.bounds.len();
    for (y, dst) in (rows.0..rows.1).zip(out.chunks_exact_mut(out_w.max(1))) {
        let line = &src[y * w..(y + 1) * w];
        for (xx, d) in dst.iter_mut().enumerate() {
            let (start, k) = c.taps(xx);
            let mut acc = 0i32;
            for (&p, &kk) in line[start..start + k.len()].iter().zip(k) {
                acc = acc.wrapping_add((p as i32).wrapping_mul(kk));
            }
            *d = clip8(acc.wrapping_add(ROUND_HALF));
        }
    }
}

/// Vertical pass over a `w`-wide plane whose row 0 is input row `row0` of the coefficients
/// (AVX2 when available, as [`pass_horizontal`]).
fn pass_vertical(src: &[u8], w: usize, row0: usize, c: &Coefficients) -> Vec<u8> {
    let mut out = vec![0u8; w * c.bounds.len()];
    let mut acc = Vec::new();
    pass_vertical_into(src, w, row0, c, &mut out, &mut acc);
    out
}

/// [`pass_vertical`] into `out` (`w * out_h` bytes), with `acc` as its accumulator row.
fn pass_vertical_into(
    src: &[u8],
    w: usize,
    row0: usize,
    c: &Coefficients,
    out: &mut [u8],
    acc: &mut Vec<i32>,
) {
    assert_eq!(out.len(), w * c.bounds.len(), "output size");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { pass_vertical_avx2(src, w, row0, c, out, acc) };
    }
    pass_vertical_kernel(src, w, row0, c, out, acc)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pass_vertical_avx2(
    src: &[u8],
    w: usize,
    row0: usize,
    c: &Coefficients,
    out: &mut [u8],
    acc: &mut Vec<i32>,
) {
    pass_vertical_kernel(src, w, row0, c, out, acc)
}

#[inline(always)]
fn pass_vertical_kernel(
    src: &[u8],
    w: usize,
    row0: usize,
    c: &Coefficients,
    out: &mut [u8],
    acc: &mut Vec<i32>,
) {
    // One accumulator row, reused: the integer sums are exact, so summing row by row
    // gives Pillow's per-pixel result while reading memory sequentially.
    acc.resize(w, 0);
    for (yy, dst) in out.chunks_exact_mut(w.max(1)).enumerate() {
        let (start, k) = c.taps(yy);
        acc.fill(ROUND_HALF);
        for (j, &kk) in k.iter().enumerate() {
            let y = start + j - row0;
            accumulate_row(acc, &src[y * w..(y + 1) * w], kk);
        }
        for (d, &a) in dst.iter_mut().zip(acc.iter()) {
            *d = clip8(a);
        }
    }
}

/// `acc += k * line`, wrapping (exact: Pillow's sums fit an `i32`).
#[inline(always)]
fn accumulate_row(acc: &mut [i32], line: &[u8], k: i32) {
    for (a, &p) in acc.iter_mut().zip(line) {
        *a = a.wrapping_add((p as i32).wrapping_mul(k));
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn accumulate_row_avx2(acc: &mut [i32], line: &[u8], k: i32) {
    accumulate_row(acc, line, k)
}

/// How a [`RowResize`] turns rows into the output: Pillow's passes, in Pillow's order.
#[derive(Debug, Default)]
enum Plan {
    /// Same size: the rows themselves.
    #[default]
    Copy,
    /// Rows `rows.0..rows.1` resampled horizontally as they come (in blocks), then, with
    /// `vertical`, the vertical pass over those `out_w`-wide rows at the end.
    HorizontalFirst {
        horizontal: Rc<Coefficients>,
        vertical: Option<Rc<Coefficients>>,
        rows: (usize, usize),
    },
    /// Each row added into the accumulators of the output rows whose window holds it; at the
    /// end the clipped rows, then, with `horizontal`, the horizontal pass over them.
    VerticalFirst {
        vertical: Rc<Coefficients>,
        horizontal: Option<Rc<Coefficients>>,
    },
}

/// Rows buffered before a horizontal pass runs over them (its short-filter kernel takes 8 rows
/// at a time).
const STREAM_BLOCK: usize = 16;

/// A Lanczos resize fed one input row at a time, top to bottom: the same bytes as
/// [`resize_lanczos`], without the input plane ever being held whole. Reusable: buffers are kept
/// between images.
///
/// Bit-identical because every output is an exact integer sum of `weight * pixel` over its
/// window (Pillow's `i32` arithmetic), whatever order the terms arrive in, and the `u8`
/// intermediate between the passes is made exactly where Pillow makes it.
///
/// ```
/// use nearmatch::hash::resample::{resize_lanczos, PillowVersion, RowResize};
/// let plane: Vec<u8> = (0..40 * 30).map(|i| (i * 7 % 251) as u8).collect();
/// let mut r = RowResize::default();
/// r.start(40, 30, 8, 8, PillowVersion::Pillow13).unwrap();
/// for row in plane.chunks(40) {
///     r.push_row(row);
/// }
/// let whole = resize_lanczos(&plane, 40, 30, 8, 8, PillowVersion::Pillow13).unwrap();
/// assert_eq!(r.finish(), &whole[..]);
/// ```
#[derive(Debug, Default)]
pub struct RowResize {
    w: usize,
    h: usize,
    out_w: usize,
    out_h: usize,
    plan: Plan,
    /// Rows received so far.
    y: usize,
    /// Rows waiting for the horizontal pass (`STREAM_BLOCK * w`).
    block: Vec<u8>,
    /// The first pass's output (or the copied rows).
    mid: Vec<u8>,
    /// Vertical-first accumulators, `out_h * w`.
    acc: Vec<i32>,
    /// The result.
    out: Vec<u8>,
    /// The first output row whose window has not ended yet (vertical first).
    first_open: usize,
    scratch: HorizontalScratch,
    acc_row: Vec<i32>,
}

impl RowResize {
    /// Prepares to resize a `w`×`h` plane to `out_w`×`out_h` as `pillow` does; errors as
    /// [`resize_lanczos`] on a zero dimension.
    pub fn start(
        &mut self,
        w: usize,
        h: usize,
        out_w: usize,
        out_h: usize,
        pillow: PillowVersion,
    ) -> Result<(), Error> {
        if w == 0 || h == 0 || out_w == 0 || out_h == 0 {
            return Err(Error::InvalidArgument(format!(
                "cannot resize {w}x{h} to {out_w}x{out_h}: zero dimension"
            )));
        }
        (self.w, self.h, self.out_w, self.out_h) = (w, h, out_w, out_h);
        self.y = 0;
        self.first_open = 0;
        self.mid.clear();
        self.out.clear();
        let (need_h, need_v) = (out_w != w, out_h != h);
        self.plan = match (need_h, need_v) {
            (false, false) => Plan::Copy,
            (true, false) => Plan::HorizontalFirst {
                horizontal: Coefficients::lanczos_cached(w, out_w),
                vertical: None,
                rows: (0, h),
            },
            (false, true) => Plan::VerticalFirst {
                vertical: Coefficients::lanczos_cached(h, out_h),
                horizontal: None,
            },
            (true, true) => {
                let ch = Coefficients::lanczos_cached(w, out_w);
                let cv = Coefficients::lanczos_cached(h, out_h);
                if pillow.vertical_first(w, h, out_w, out_h) {
                    Plan::VerticalFirst {
                        vertical: cv,
                        horizontal: Some(ch),
                    }
                } else {
                    let rows = cv.used_range();
                    Plan::HorizontalFirst {
                        horizontal: ch,
                        vertical: Some(cv),
                        rows,
                    }
                }
            }
        };
        match &self.plan {
            Plan::Copy => self.mid.reserve(w * h),
            Plan::HorizontalFirst { rows, .. } => {
                self.block.resize(STREAM_BLOCK * w, 0);
                self.mid.resize(out_w * (rows.1 - rows.0), 0);
            }
            Plan::VerticalFirst { .. } => {
                self.acc.clear();
                self.acc.resize(out_h * w, ROUND_HALF);
            }
        }
        Ok(())
    }

    /// Takes the next input row (`w` bytes).
    ///
    /// # Panics
    /// If the row is not `w` bytes long or more than `h` rows are pushed.
    pub fn push_row(&mut self, row: &[u8]) {
        assert_eq!(row.len(), self.w, "row length");
        assert!(self.y < self.h, "more rows than the image has");
        let (y, w) = (self.y, self.w);
        self.y += 1;
        match &self.plan {
            Plan::Copy => self.mid.extend_from_slice(row),
            Plan::HorizontalFirst {
                horizontal, rows, ..
            } => {
                if y < rows.0 || y >= rows.1 {
                    return;
                }
                let slot = (y - rows.0) % STREAM_BLOCK;
                self.block[slot * w..(slot + 1) * w].copy_from_slice(row);
                if slot + 1 == STREAM_BLOCK || y + 1 == rows.1 {
                    let first = y + 1 - (slot + 1) - rows.0;
                    let n = slot + 1;
                    let ow = self.out_w;
                    pass_horizontal_into(
                        &self.block,
                        w,
                        (0, n),
                        horizontal,
                        &mut self.mid[first * ow..(first + n) * ow],
                        &mut self.scratch,
                    );
                }
            }
            Plan::VerticalFirst { vertical, .. } => {
                // Output rows' windows start (and end) in increasing order: those still open
                // that have started by row y are the ones it contributes to.
                let mut yy = self.first_open;
                while yy < self.out_h {
                    let (start, k) = vertical.taps(yy);
                    if start > y {
                        break;
                    }
                    if y < start + k.len() {
                        let acc = &mut self.acc[yy * w..(yy + 1) * w];
                        #[cfg(target_arch = "x86_64")]
                        if std::arch::is_x86_feature_detected!("avx2") {
                            // SAFETY: the CPU supports AVX2 (checked just above).
                            unsafe { accumulate_row_avx2(acc, row, k[y - start]) };
                            yy += 1;
                            continue;
                        }
                        accumulate_row(acc, row, k[y - start]);
                    } else if yy == self.first_open {
                        self.first_open += 1;
                    }
                    yy += 1;
                }
            }
        }
    }

    /// Drops the buffers if together they hold more than `bytes` (so that one giant image does
    /// not keep its buffers on a thread for good); the next [`RowResize::start`] grows them again.
    pub fn release_if_over(&mut self, bytes: usize) {
        let held = self.block.capacity()
            + self.mid.capacity()
            + self.out.capacity()
            + 4 * (self.acc.capacity() + self.acc_row.capacity());
        if held > bytes {
            *self = RowResize::default();
        }
    }

    /// The resized plane (`out_w * out_h` bytes), once all `h` rows have been pushed.
    ///
    /// # Panics
    /// If fewer than `h` rows were pushed.
    pub fn finish(&mut self) -> &[u8] {
        assert_eq!(self.y, self.h, "rows pushed");
        let (w, out_w, out_h) = (self.w, self.out_w, self.out_h);
        match &self.plan {
            Plan::Copy => return &self.mid,
            Plan::HorizontalFirst { vertical, rows, .. } => match vertical {
                None => return &self.mid,
                Some(cv) => {
                    self.out.resize(out_w * out_h, 0);
                    pass_vertical_into(
                        &self.mid,
                        out_w,
                        rows.0,
                        cv,
                        &mut self.out,
                        &mut self.acc_row,
                    );
                }
            },
            Plan::VerticalFirst { horizontal, .. } => {
                self.mid.clear();
                self.mid.extend(self.acc.iter().map(|&a| clip8(a)));
                match horizontal {
                    None => return &self.mid,
                    Some(ch) => {
                        self.out.resize(out_w * out_h, 0);
                        pass_horizontal_into(
                            &self.mid,
                            w,
                            (0, out_h),
                            ch,
                            &mut self.out,
                            &mut self.scratch,
                        );
                    }
                }
            }
        }
        &self.out
    }
}

/// Resizes a row-major 8-bit plane (`w * h` bytes) to `out_w * out_h` exactly as Pillow's
/// `Image.resize((out_w, out_h), Image.LANCZOS)` does on a mode `L` image.
///
/// Errors when a dimension is zero or the plane length is not `w * h`.
pub fn resize_lanczos(
    plane: &[u8],
    w: usize,
    h: usize,
    out_w: usize,
    out_h: usize,
    pillow: PillowVersion,
) -> Result<Vec<u8>, Error> {
    if w == 0 || h == 0 || out_w == 0 || out_h == 0 {
        return Err(Error::InvalidArgument(format!(
            "cannot resize {w}x{h} to {out_w}x{out_h}: zero dimension"
        )));
    }
    if w.checked_mul(h) != Some(plane.len()) {
        return Err(Error::InvalidPixels(format!(
            "{w}x{h} plane needs {} bytes, got {}",
            w as u128 * h as u128,
            plane.len()
        )));
    }
    let need_h = out_w != w;
    let need_v = out_h != h;
    Ok(match (need_h, need_v) {
        (false, false) => plane.to_vec(),
        (true, false) => pass_horizontal(plane, w, (0, h), &Coefficients::lanczos_cached(w, out_w)),
        (false, true) => pass_vertical(plane, w, 0, &Coefficients::lanczos_cached(h, out_h)),
        (true, true) => {
            let ch = Coefficients::lanczos_cached(w, out_w);
            let cv = Coefficients::lanczos_cached(h, out_h);
            if pillow.vertical_first(w, h, out_w, out_h) {
                // Columns are independent in the vertical pass, so running it over the full
                // width gives the same values Pillow computes on its trimmed column range.
                let tmp = pass_vertical(plane, w, 0, &cv);
                pass_horizontal(&tmp, w, (0, out_h), &ch)
            } else {
                // Pillow ≤ 12 runs the horizontal pass only over the rows the vertical pass uses.
                let rows = cv.used_range();
                let tmp = pass_horizontal(plane, w, rows, &ch);
                pass_vertical(&tmp, out_w, rows.0, &cv)
            }
        }
    })
}

/// AVX2 kernels of the long-filter horizontal pass.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{clip8, Coefficients, ROUND_HALF, SPLIT_BITS};
    use std::arch::x86_64::*;

    /// [`super::pass_horizontal_dot`] with 16-bit multiply-adds: each weight is split into
    /// `hi * 2^11 + lo` (both fit `i16`), `vpmaddwd` takes 16 taps per instruction for each
    /// half, and `2^11 * sum(p * hi) + sum(p * lo)` is the same integer as `sum(p * k)`: the
    /// `i32` sums wrap, but modulo 2^32 they agree, and Pillow's sum fits an `i32`, so the
    /// results are bit-identical (`vpmulld`, a 32-bit multiply per tap, cost 4 µops here).
    ///
    /// # Safety
    /// The CPU must support AVX2; `c` must have its split weights (`ksize >= DOT_MIN_TAPS`).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn pass_horizontal_dot(
        src: &[u8],
        w: usize,
        rows: (usize, usize),
        c: &Coefficients,
        out: &mut [u8],
        line: &mut Vec<u8>,
    ) {
        assert!(
            c.split_stride > 0 && c.split_stride.is_multiple_of(16),
            "split weights"
        );
        let out_w = c.bounds.len();
        // The row, zero-padded so that every 16-byte load of a tap block stays inside it (the
        // padding meets zero weights).
        line.clear();
        line.resize(w + 16, 0);
        for (y, dst) in (rows.0..rows.1).zip(out.chunks_exact_mut(out_w.max(1))) {
            line[..w].copy_from_slice(&src[y * w..(y + 1) * w]);
            for (xx, d) in dst.iter_mut().enumerate() {
                let (start, n) = c.bounds[xx];
                let blocks = n.div_ceil(16);
                let hi = &c.hi[xx * c.split_stride..][..blocks * 16];
                let lo = &c.lo[xx * c.split_stride..][..blocks * 16];
                let px = &line[start..start + blocks * 16];
                let (mut acc_hi, mut acc_lo) = (_mm256_setzero_si256(), _mm256_setzero_si256());
                for b in 0..blocks {
                    // SAFETY: each slice holds `blocks * 16` elements (checked by the slicing
                    // above: start + n <= w, so start + blocks * 16 <= w + 15 < line.len()).
                    unsafe {
                        let p =
                            _mm256_cvtepu8_epi16(_mm_loadu_si128(px.as_ptr().add(b * 16).cast()));
                        let h = _mm256_loadu_si256(hi.as_ptr().add(b * 16).cast());
                        let l = _mm256_loadu_si256(lo.as_ptr().add(b * 16).cast());
                        acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(p, h));
                        acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(p, l));
                    }
                }
                let sum = hsum(acc_hi)
                    .wrapping_shl(SPLIT_BITS)
                    .wrapping_add(hsum(acc_lo));
                *d = clip8(sum.wrapping_add(ROUND_HALF));
            }
        }
    }

    /// The wrapping sum of the eight `i32` lanes.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn hsum(v: __m256i) -> i32 {
        let s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
        let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
        _mm_cvtsi128_si32(s)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The LCG of `gen_imagehash_reference.py::lcg_plane`.
    pub(crate) fn lcg_plane(seed: u32, w: usize, h: usize) -> Vec<u8> {
        let mut x = seed & 0x7FFF_FFFF;
        (0..w * h)
            .map(|_| {
                x = (x.wrapping_mul(1103515245).wrapping_add(12345)) & 0x7FFF_FFFF;
                ((x >> 16) & 0xFF) as u8
            })
            .collect()
    }

    fn check_against(csv_text: &str, pillow: PillowVersion) -> usize {
        let mut n = 0;
        for line in csv_text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let p: Vec<usize> = f[..5].iter().map(|s| s.parse().unwrap()).collect();
            let (seed, iw, ih, ow, oh) = (p[0] as u32, p[1], p[2], p[3], p[4]);
            let got = resize_lanczos(&lcg_plane(seed, iw, ih), iw, ih, ow, oh, pillow).unwrap();
            assert_eq!(
                hex::encode(&got),
                f[5],
                "{pillow}: seed {seed} {iw}x{ih} -> {ow}x{oh}"
            );
            n += 1;
        }
        n
    }

    #[test]
    fn resize_matches_pillow13() {
        let n = check_against(
            include_str!("testdata/resize_reference_pillow13.csv"),
            PillowVersion::Pillow13,
        );
        assert_eq!(n, 10);
    }

    #[test]
    fn resize_matches_pillow12() {
        let n = check_against(
            include_str!("testdata/resize_reference_pillow12.csv"),
            PillowVersion::Pillow12,
        );
        assert_eq!(n, 10);
    }

    /// The 16-bit split dot product equals the `i32` one for long filters: random planes, and
    /// all-255 rows and 0/255 stripes (the largest partial sums, which wrap in the low half at
    /// the strongest reductions), at reductions from 1.4x to 1500x.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn split_dot_product_equals_the_i32_one() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            eprintln!("skipped: no AVX2 on this CPU");
            return;
        }
        let cases = [
            (34, 3, 24),
            (100, 5, 8),
            (1024, 7, 32),
            (1031, 4, 9),
            (4000, 3, 32),
            (12000, 2, 8),
            (3001, 3, 17),
        ];
        let mut checked = 0;
        for (seed, &(w, h, out_w)) in cases.iter().enumerate() {
            let c = Coefficients::lanczos(w, out_w);
            if c.ksize < DOT_MIN_TAPS {
                continue;
            }
            let planes = [
                lcg_plane(seed as u32 + 7, w, h),
                vec![255u8; w * h],
                (0..w * h)
                    .map(|i| if (i / 3) % 2 == 0 { 255 } else { 0 })
                    .collect(),
            ];
            for plane in &planes {
                // SAFETY: AVX2 is available (checked above); ksize >= DOT_MIN_TAPS.
                let mut got = vec![0u8; out_w * h];
                unsafe {
                    x86::pass_horizontal_dot(plane, w, (0, h), &c, &mut got, &mut Vec::new())
                };
                let mut want = vec![0u8; out_w * h];
                pass_horizontal_dot(plane, w, (0, h), &c, &mut want);
                assert_eq!(got, want, "{w}x{h} -> {out_w}");
                checked += 1;
            }
        }
        assert!(checked >= 15, "{checked} cases");
    }

    /// Rows pushed one at a time give exactly the whole-plane resize: every size pair up to
    /// 40 (shrinking, growing, one axis, none), both pass orders, and photo-like sizes; one
    /// `RowResize` reused throughout, as a thread reuses it between images.
    #[test]
    fn row_by_row_resize_equals_the_whole_plane() {
        let mut r = RowResize::default();
        let mut cases = Vec::new();
        for w in [1, 2, 3, 7, 9, 16, 17, 33, 40] {
            for h in [1, 2, 5, 8, 9, 24, 31, 40] {
                for (ow, oh) in [
                    (8, 8),
                    (9, 8),
                    (32, 32),
                    (w, h),
                    (w, 8),
                    (8, h),
                    (1, 1),
                    (40, 3),
                ] {
                    cases.push((w, h, ow, oh));
                }
            }
        }
        cases.extend([
            (1024, 768, 32, 32),
            (768, 1024, 32, 32),
            (1080, 2400, 9, 8),
            (300, 1000, 8, 8),
            (2000, 50, 8, 8),
            (1031, 97, 512, 64),
            (640, 480, 256, 256),
        ]);
        let mut seed = 1;
        for &(w, h, ow, oh) in &cases {
            seed += 1;
            let plane = lcg_plane(seed, w, h);
            for pillow in PillowVersion::ALL {
                let whole = resize_lanczos(&plane, w, h, ow, oh, pillow).unwrap();
                r.start(w, h, ow, oh, pillow).unwrap();
                for row in plane.chunks_exact(w) {
                    r.push_row(row);
                }
                assert_eq!(r.finish(), &whole[..], "{pillow}: {w}x{h} -> {ow}x{oh}");
                // Buffers dropped now and then (as a thread does after a giant image): the
                // next resize grows them again.
                r.release_if_over(16 << 10);
            }
        }
        assert!(r.start(0, 5, 8, 8, PillowVersion::Pillow13).is_err());
    }

    #[test]
    fn cached_coefficients_equal_fresh_ones() {
        for &(i, o) in &[(1024, 32), (768, 32), (1024, 32), (40, 9), (7, 3)] {
            assert_eq!(
                *Coefficients::lanczos_cached(i, o),
                Coefficients::lanczos(i, o)
            );
        }
        // More sizes than the cache keeps, then the first again.
        for o in 1..20 {
            assert_eq!(
                *Coefficients::lanczos_cached(300, o),
                Coefficients::lanczos(300, o)
            );
        }
        assert_eq!(
            *Coefficients::lanczos_cached(1024, 32),
            Coefficients::lanczos(1024, 32)
        );
    }

    #[test]
    fn coefficients_sum_to_one_and_match_known_values() {
        // Identity-sized downscale by 2: Lanczos-3 over 12 taps, symmetric, sum ≈ 2^22.
        let c = Coefficients::lanczos(16, 8);
        for i in 0..8 {
            let (_, k) = c.taps(i);
            let s: i64 = k.iter().map(|&v| v as i64).sum();
            assert!((s - (1 << 22)).abs() <= k.len() as i64, "sum {s}");
        }
        // Interior output 4 of a 2x downscale: taps at inputs 3..=14 with mirror symmetry.
        let (start, k) = c.taps(4);
        assert_eq!(start, 3);
        assert_eq!(k.len(), 12);
        for j in 0..6 {
            assert_eq!(k[j], k[11 - j]);
        }
        // lanczos(0.25) = sinc(0.25) sinc(1/12), the centre weight before normalisation.
        assert!((lanczos(0.25) - 0.890_067_051_710_494_6).abs() < 1e-15);
        assert_eq!(lanczos(3.0), 0.0);
        assert_eq!(lanczos(0.0), 1.0);
    }

    #[test]
    fn pass_order_rule() {
        let p = PillowVersion::Pillow13;
        assert!(p.vertical_first(1080, 2400, 32, 32)); // 2368 > 2*1048
        assert!(!p.vertical_first(2400, 1080, 32, 32));
        assert!(p.vertical_first(20, 300, 32, 32)); // widening counts as negative
        assert!(!p.vertical_first(40, 30, 40, 30));
        assert!(!PillowVersion::Pillow12.vertical_first(1080, 2400, 32, 32));
        assert!(PillowVersion::Pillow12.refuses_empty_resize(0, 16, 9, 8));
        assert!(!PillowVersion::Pillow12.refuses_empty_resize(0, 5, 8, 8));
        assert!(!PillowVersion::Pillow12.refuses_empty_resize(16, 0, 8, 8));
        assert!(!PillowVersion::Pillow13.refuses_empty_resize(0, 16, 9, 8));
    }

    #[test]
    fn names_and_errors() {
        for p in PillowVersion::ALL {
            assert_eq!(p.name().parse::<PillowVersion>(), Ok(p));
        }
        assert_eq!(PillowVersion::default(), PillowVersion::Pillow13);
        assert!("pillow11".parse::<PillowVersion>().is_err());
        assert!(resize_lanczos(&[], 0, 0, 8, 8, PillowVersion::Pillow13).is_err());
        assert!(resize_lanczos(&[1, 2, 3], 2, 2, 8, 8, PillowVersion::Pillow13).is_err());
    }
}
