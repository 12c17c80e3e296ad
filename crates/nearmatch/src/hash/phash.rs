//! `imagehash.phash`: resize to 4n×4n, 2-D DCT-II, bit = coefficient above the median of the
//! top-left n×n block (DC included).
//!
//! imagehash computes `scipy.fftpack.dct(scipy.fftpack.dct(P, axis=0), axis=1)`, which is
//! pocketfft's FFTPACK-style DCT-II (a backward real FFT with radix-4/radix-2 butterflies and
//! pocketfft's own twiddle tables). On flat or symmetric images many coefficients tie in exact
//! arithmetic, and which side of the median they land on is decided by rounding noise. A dense
//! cosine-matrix DCT (or another FFT) rounds differently and flips those bits, so this module
//! reproduces pocketfft's sequence of floating-point operations exactly; the tests compare the
//! coefficients bit for bit with scipy's.
//!
//! ```
//! use nearmatch::hash::phash::phash;
//! use nearmatch::hash::imagehash::HashSize;
//! use nearmatch::hash::resample::PillowVersion;
//! use nearmatch::pixels::{Image, Layout};
//! let img = Image::new(32, 32, Layout::Gray8(vec![128; 1024])).unwrap();
//! // Flat: every AC coefficient is exactly 0, the median is 0, only DC is above it.
//! let h = phash(&img, HashSize::Eight, PillowVersion::Pillow13).unwrap();
//! assert_eq!(h.to_hex(), "8000000000000000");
//! ```

use std::sync::{Arc, Mutex, OnceLock};

use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{
    digest_from_bits, hash_luma, median, BitMatrix, HashSize, ImagehashKind,
};
use crate::hash::luma::LumaPlane;
use crate::hash::resample::PillowVersion;
use crate::pixels::Image;

/// imagehash's default `highfreq_factor`: the DCT runs on a (4n)×(4n) image.
pub const HIGHFREQ_FACTOR: usize = 4;

/// `imagehash.phash(image, hash_size)` of a decoded image; errors on an empty image.
pub fn phash(img: &Image, size: HashSize, pillow: PillowVersion) -> Result<AnyDigest, Error> {
    phash_luma(&LumaPlane::from_image(img)?, size, pillow)
}

/// `phash` of a plane already converted with PIL's `convert('L')`.
pub fn phash_luma(
    luma: &LumaPlane,
    size: HashSize,
    pillow: PillowVersion,
) -> Result<AnyDigest, Error> {
    hash_luma(luma, ImagehashKind::Phash, size, pillow)
}

/// The core on the N×N resized plane (N = 4n).
pub(crate) fn phash_core(small: &[u8], size: HashSize) -> AnyDigest {
    let n = size.side();
    let bits = phash_bits(small, HIGHFREQ_FACTOR * n, n);
    digest_from_bits(bits.bits(), size)
}

/// `imagehash.phash` on an already resized `big_n`×`big_n` plane (`big_n = n·highfreq_factor`):
/// the top-left `n`×`n` block of the 2-D DCT-II (DC included) against its `numpy.median`.
///
/// When `n > big_n` (a `highfreq_factor` of 0 is refused earlier) numpy's slicing keeps what
/// exists, so the block is `min(n, big_n)` square.
pub fn phash_bits(small: &[u8], big_n: usize, n: usize) -> BitMatrix {
    let k = n.min(big_n);
    let low = dct2_low(small, big_n, k);
    let med = median(&low);
    BitMatrix::from_fn(k, k, |i| low[i] > med)
}

/// `imagehash.phash_simple` on an already resized `big_n`×`big_n` plane: the DCT-II of every
/// row (`scipy.fftpack.dct(pixels)`), block `[:n, 1:n+1]` (the DC column skipped), against its
/// `numpy` mean.
pub fn phash_simple_bits(small: &[u8], big_n: usize, n: usize) -> BitMatrix {
    let rows = n.min(big_n);
    let cols = (n + 1).min(big_n).saturating_sub(1);
    let plan = DctPlan::cached(big_n);
    let mut scratch = vec![0.0; big_n];
    let mut line = vec![0.0; big_n];
    let mut block = Vec::with_capacity(rows * cols);
    for y in 0..rows {
        for (d, &p) in line.iter_mut().zip(&small[y * big_n..(y + 1) * big_n]) {
            *d = p as f64;
        }
        plan.dct2(&mut line, &mut scratch);
        block.extend_from_slice(&line[1..1 + cols]);
    }
    let avg = numpy_mean_2d(&block, cols);
    BitMatrix::from_fn(rows, cols, |i| block[i] > avg)
}

/// numpy's pairwise summation of contiguous float64 (`pairwise_sum` in `loops_utils.h`): eight
/// interleaved accumulators per block of at most 128, halves above that.
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let whole = n - n % 8;
        let mut i = 8;
        while i < whole {
            for (k, rk) in r.iter_mut().enumerate() {
                *rk += a[i + k];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[whole..] {
            res += x;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `ndarray.mean()` of a non-contiguous float64 block with `cols` columns, as numpy 2 computes
/// it: the reduction copies whole rows into its 8192-element buffer and adds the pairwise sum of
/// each buffer to the running total, then divides by the count.
pub(crate) fn numpy_mean_2d(block: &[f64], cols: usize) -> f64 {
    if block.is_empty() {
        return f64::NAN;
    }
    const BUFSIZE: usize = 8192;
    let chunk = (BUFSIZE / cols.max(1)).max(1) * cols.max(1);
    let mut total = 0.0;
    for c in block.chunks(chunk) {
        total += pairwise_sum(c);
    }
    total / block.len() as f64
}

/// `dct(dct(P, axis=0), axis=1)[:n, :n]` of an N×N u8 plane, row-major, as scipy computes it.
pub(crate) fn dct2_low(plane: &[u8], big_n: usize, n: usize) -> Vec<f64> {
    let plan = DctPlan::cached(big_n);
    let mut scratch = vec![0.0; big_n];
    let mut col = vec![0.0; big_n];
    // Column transforms; only their first n outputs feed the kept rows.
    let mut cols_low = vec![0.0; n * big_n]; // [u][x]
    for x in 0..big_n {
        for (y, c) in col.iter_mut().enumerate() {
            *c = plane[y * big_n + x] as f64;
        }
        plan.dct2(&mut col, &mut scratch);
        for u in 0..n {
            cols_low[u * big_n + x] = col[u];
        }
    }
    // Row transforms of the kept rows (each 1-D transform is independent of the others).
    let mut out = Vec::with_capacity(n * n);
    for u in 0..n {
        col.copy_from_slice(&cols_low[u * big_n..(u + 1) * big_n]);
        plan.dct2(&mut col, &mut scratch);
        out.extend_from_slice(&col[..n]);
    }
    out
}

/// `double(0.25L * pi / n)`: pocketfft computes the twiddle angle step in x87 extended
/// precision (64-bit mantissa, round to nearest even) and rounds it to double afterwards. For
/// most `n` that double rounding gives the same value as `0.25 * PI / n` in f64, but not for
/// all (n = 3, 6, 12, 52, 240, …), and one ulp of angle is enough to move a tie bit.
pub(crate) fn quarter_pi_over(n: usize) -> f64 {
    // pi rounded to a 64-bit mantissa: 0xC90FDAA22168C235 * 2^-62; 0.25·pi = M·2^-64.
    const M: u128 = 0xC90F_DAA2_2168_C235;
    let n = n.max(1) as u128;
    let num = M << 64; // v · 2^128 = num / n, with v = 0.25·pi / n
    let (q, r) = (num / n, num % n);
    let len = 128 - q.leading_zeros();
    let s = len - 64;
    let mut mant = q >> s;
    let rem = q & ((1u128 << s) - 1);
    let half = 1u128 << (s - 1);
    let mut exp = s as i32 - 128;
    if rem > half || (rem == half && (r != 0 || mant & 1 == 1)) {
        mant += 1;
        if mant >> 64 != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    // Extended -> double: drop 11 bits, ties to even (the extended value is all that is left).
    let mut m53 = mant >> 11;
    let r11 = mant & 0x7FF;
    exp += 11;
    if r11 > 0x400 || (r11 == 0x400 && m53 & 1 == 1) {
        m53 += 1;
        if m53 >> 53 != 0 {
            m53 >>= 1;
            exp += 1;
        }
    }
    m53 as f64 * 2f64.powi(exp)
}

/// pocketfft's `sincos_2pibyn`: `exp(2πi·k/n)` from two small tables combined by one complex
/// product, with every angle reduced to the first octant before `sin`/`cos`.
struct UnityRoots {
    n: usize,
    mask: usize,
    shift: u32,
    v1: Vec<(f64, f64)>,
    v2: Vec<(f64, f64)>,
}

impl UnityRoots {
    fn new(n: usize) -> UnityRoots {
        let ang = quarter_pi_over(n);
        let nval = (n + 2) / 2;
        let mut shift = 1u32;
        while (1usize << shift) * (1usize << shift) < nval {
            shift += 1;
        }
        let mask = (1usize << shift) - 1;
        let mut v1 = vec![(1.0, 0.0)];
        v1.extend((1..=mask).map(|i| Self::calc(i, n, ang)));
        let mut v2 = vec![(1.0, 0.0)];
        let n2 = nval.div_ceil(mask + 1);
        v2.extend((1..n2).map(|i| Self::calc(i * (mask + 1), n, ang)));
        UnityRoots {
            n,
            mask,
            shift,
            v1,
            v2,
        }
    }

    fn calc(x: usize, n: usize, ang: f64) -> (f64, f64) {
        let f = |v: usize| v as f64 * ang;
        let mut x = x << 3;
        if x < 4 * n {
            if x < 2 * n {
                if x < n {
                    return (f(x).cos(), f(x).sin());
                }
                return (f(2 * n - x).sin(), f(2 * n - x).cos());
            }
            x -= 2 * n;
            if x < n {
                return (-f(x).sin(), f(x).cos());
            }
            return (-f(2 * n - x).cos(), f(2 * n - x).sin());
        }
        x = 8 * n - x;
        if x < 2 * n {
            if x < n {
                return (f(x).cos(), -f(x).sin());
            }
            return (f(2 * n - x).sin(), -f(2 * n - x).cos());
        }
        x -= 2 * n;
        if x < n {
            return (-f(x).sin(), -f(x).cos());
        }
        (-f(2 * n - x).cos(), -f(2 * n - x).sin())
    }

    fn get(&self, idx: usize) -> (f64, f64) {
        let (idx, conj) = if 2 * idx <= self.n {
            (idx, false)
        } else {
            (self.n - idx, true)
        };
        let x1 = self.v1[idx & self.mask];
        let x2 = self.v2[idx >> self.shift];
        let re = x1.0 * x2.0 - x1.1 * x2.1;
        let im = x1.0 * x2.1 + x1.1 * x2.0;
        (re, if conj { -im } else { im })
    }
}

/// One radix of a real FFT plan: the radix, its twiddles, and (radix > 5) the `csarr` table of
/// the generic pass.
struct Factor {
    ip: usize,
    tw: Vec<f64>,
    tws: Vec<f64>,
}

/// A pocketfft `rfftp` plan (radix 4, 2, 3, 5 and generic odd radices), backward only.
///
/// pocketfft switches to Bluestein's algorithm for lengths with a large prime factor where it
/// estimates that to be cheaper; for the real transforms that first happens at prime lengths
/// ≥ 191 (a `hash_size · highfreq_factor` no imagehash caller uses). This plan always uses the
/// FFTPACK passes: the coefficients are the same DCT, only their last-bit rounding (and so the
/// bits of exact ties) could differ at those lengths.
struct RealFftBackward {
    n: usize,
    factors: Vec<Factor>,
}

impl RealFftBackward {
    fn new(n: usize) -> RealFftBackward {
        // pocketfft's factorize(): 4s first, then one 2 moved to the front, then odd factors.
        let mut radices = Vec::new();
        let mut len = n;
        while len.is_multiple_of(4) {
            radices.push(4);
            len /= 4;
        }
        if len.is_multiple_of(2) {
            len /= 2;
            radices.push(2);
            let last = radices.len() - 1;
            radices.swap(0, last);
        }
        let mut d = 3;
        while d * d <= len {
            while len.is_multiple_of(d) {
                radices.push(d);
                len /= d;
            }
            d += 2;
        }
        if len > 1 {
            radices.push(len);
        }
        if n == 1 {
            radices.clear();
        }
        let roots = UnityRoots::new(n);
        let mut l1 = 1;
        let nf = radices.len();
        let mut factors = Vec::with_capacity(nf);
        for (k, &ip) in radices.iter().enumerate() {
            let ido = n / (l1 * ip);
            let mut tw = Vec::new();
            if k < nf - 1 {
                // The last factor has ido == 1 and needs no twiddles.
                tw = vec![0.0; (ip - 1) * (ido - 1)];
                for j in 1..ip {
                    for i in 1..=(ido - 1) / 2 {
                        let (re, im) = roots.get(j * l1 * i);
                        tw[(j - 1) * (ido - 1) + 2 * i - 2] = re;
                        tw[(j - 1) * (ido - 1) + 2 * i - 1] = im;
                    }
                }
            }
            let mut tws = Vec::new();
            if ip > 5 {
                tws = vec![0.0; 2 * ip];
                tws[0] = 1.0;
                let (mut i, mut ic) = (2, 2 * ip - 2);
                while i <= ic {
                    let (re, im) = roots.get(i / 2 * (n / ip));
                    tws[i] = re;
                    tws[i + 1] = im;
                    tws[ic] = re;
                    tws[ic + 1] = -im;
                    i += 2;
                    ic -= 2;
                }
            }
            factors.push(Factor { ip, tw, tws });
            l1 *= ip;
        }
        RealFftBackward { n, factors }
    }

    /// In-place backward (half-complex to real) transform, unnormalised; `ch` is scratch.
    fn backward(&self, c: &mut [f64], ch: &mut [f64]) {
        let n = self.n;
        let mut l1 = 1;
        let mut in_c = true; // whether the current data lives in `c`
        for f in &self.factors {
            let ip = f.ip;
            let ido = n / (ip * l1);
            let (src, dst): (&mut [f64], &mut [f64]) = if in_c {
                (&mut *c, &mut *ch)
            } else {
                (&mut *ch, &mut *c)
            };
            match ip {
                4 => radb4(ido, l1, src, dst, &f.tw),
                2 => radb2(ido, l1, src, dst, &f.tw),
                3 => radb3(ido, l1, src, dst, &f.tw),
                5 => radb5(ido, l1, src, dst, &f.tw),
                _ => radbg(ido, ip, l1, src, dst, &f.tw, &f.tws),
            }
            in_c = !in_c;
            l1 *= ip;
        }
        if !in_c {
            c.copy_from_slice(ch);
        }
    }
}

/// pocketfft `radb2`.
fn radb2(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    let cc_ = |a: usize, b: usize, c: usize| cc[a + ido * (b + 2 * c)];
    let chi = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_ = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        ch[chi(0, k, 0)] = cc_(0, 0, k) + cc_(ido - 1, 1, k);
        ch[chi(0, k, 1)] = cc_(0, 0, k) - cc_(ido - 1, 1, k);
    }
    if ido.is_multiple_of(2) {
        for k in 0..l1 {
            ch[chi(ido - 1, k, 0)] = 2.0 * cc_(ido - 1, 0, k);
            ch[chi(ido - 1, k, 1)] = -2.0 * cc_(0, 1, k);
        }
    }
    if ido <= 2 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            ch[chi(i - 1, k, 0)] = cc_(i - 1, 0, k) + cc_(ic - 1, 1, k);
            let tr2 = cc_(i - 1, 0, k) - cc_(ic - 1, 1, k);
            let ti2 = cc_(i, 0, k) + cc_(ic, 1, k);
            ch[chi(i, k, 0)] = cc_(i, 0, k) - cc_(ic, 1, k);
            // MULPM(a, b, c, d, e, f): a = c*e + d*f; b = c*f - d*e.
            let (wr, wi) = (wa_(0, i - 2), wa_(0, i - 1));
            ch[chi(i, k, 1)] = wr * ti2 + wi * tr2;
            ch[chi(i - 1, k, 1)] = wr * tr2 - wi * ti2;
        }
    }
}

/// pocketfft `radb3`.
fn radb3(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    const TAUR: f64 = -0.5;
    const TAUI: f64 = 0.866_025_403_784_438_6;
    let cc_ = |a: usize, b: usize, c: usize| cc[a + ido * (b + 3 * c)];
    let chi = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_ = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let tr2 = 2.0 * cc_(ido - 1, 1, k);
        let cr2 = cc_(0, 0, k) + TAUR * tr2;
        ch[chi(0, k, 0)] = cc_(0, 0, k) + tr2;
        let ci3 = (2.0 * TAUI) * cc_(0, 2, k);
        ch[chi(0, k, 2)] = cr2 + ci3;
        ch[chi(0, k, 1)] = cr2 - ci3;
    }
    if ido == 1 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let tr2 = cc_(i - 1, 2, k) + cc_(ic - 1, 1, k);
            let ti2 = cc_(i, 2, k) - cc_(ic, 1, k);
            let cr2 = cc_(i - 1, 0, k) + TAUR * tr2;
            let ci2 = cc_(i, 0, k) + TAUR * ti2;
            ch[chi(i - 1, k, 0)] = cc_(i - 1, 0, k) + tr2;
            ch[chi(i, k, 0)] = cc_(i, 0, k) + ti2;
            let cr3 = TAUI * (cc_(i - 1, 2, k) - cc_(ic - 1, 1, k));
            let ci3 = TAUI * (cc_(i, 2, k) + cc_(ic, 1, k));
            let (dr3, dr2) = (cr2 + ci3, cr2 - ci3);
            let (di2, di3) = (ci2 + cr3, ci2 - cr3);
            for (x, di, dr) in [(0, di2, dr2), (1, di3, dr3)] {
                let (wr, wi) = (wa_(x, i - 2), wa_(x, i - 1));
                ch[chi(i, k, x + 1)] = wr * di + wi * dr;
                ch[chi(i - 1, k, x + 1)] = wr * dr - wi * di;
            }
        }
    }
}

/// pocketfft `radb4`.
fn radb4(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    let cc_ = |a: usize, b: usize, c: usize| cc[a + ido * (b + 4 * c)];
    let chi = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_ = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let tr2 = cc_(0, 0, k) + cc_(ido - 1, 3, k);
        let tr1 = cc_(0, 0, k) - cc_(ido - 1, 3, k);
        let tr3 = 2.0 * cc_(ido - 1, 1, k);
        let tr4 = 2.0 * cc_(0, 2, k);
        ch[chi(0, k, 0)] = tr2 + tr3;
        ch[chi(0, k, 2)] = tr2 - tr3;
        ch[chi(0, k, 3)] = tr1 + tr4;
        ch[chi(0, k, 1)] = tr1 - tr4;
    }
    if ido.is_multiple_of(2) {
        for k in 0..l1 {
            let ti1 = cc_(0, 3, k) + cc_(0, 1, k);
            let ti2 = cc_(0, 3, k) - cc_(0, 1, k);
            let tr2 = cc_(ido - 1, 0, k) + cc_(ido - 1, 2, k);
            let tr1 = cc_(ido - 1, 0, k) - cc_(ido - 1, 2, k);
            ch[chi(ido - 1, k, 0)] = tr2 + tr2;
            ch[chi(ido - 1, k, 1)] = SQRT2 * (tr1 - ti1);
            ch[chi(ido - 1, k, 2)] = ti2 + ti2;
            ch[chi(ido - 1, k, 3)] = -SQRT2 * (tr1 + ti1);
        }
    }
    if ido <= 2 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let tr2 = cc_(i - 1, 0, k) + cc_(ic - 1, 3, k);
            let tr1 = cc_(i - 1, 0, k) - cc_(ic - 1, 3, k);
            let ti1 = cc_(i, 0, k) + cc_(ic, 3, k);
            let ti2 = cc_(i, 0, k) - cc_(ic, 3, k);
            let tr4 = cc_(i, 2, k) + cc_(ic, 1, k);
            let ti3 = cc_(i, 2, k) - cc_(ic, 1, k);
            let tr3 = cc_(i - 1, 2, k) + cc_(ic - 1, 1, k);
            let ti4 = cc_(i - 1, 2, k) - cc_(ic - 1, 1, k);
            ch[chi(i - 1, k, 0)] = tr2 + tr3;
            let cr3 = tr2 - tr3;
            ch[chi(i, k, 0)] = ti2 + ti3;
            let ci3 = ti2 - ti3;
            let cr4 = tr1 + tr4;
            let cr2 = tr1 - tr4;
            let ci2 = ti1 + ti4;
            let ci4 = ti1 - ti4;
            for (x, ci, cr) in [(0, ci2, cr2), (1, ci3, cr3), (2, ci4, cr4)] {
                let (wr, wi) = (wa_(x, i - 2), wa_(x, i - 1));
                ch[chi(i, k, x + 1)] = wr * ci + wi * cr;
                ch[chi(i - 1, k, x + 1)] = wr * cr - wi * ci;
            }
        }
    }
}

/// pocketfft `radb5`.
fn radb5(ido: usize, l1: usize, cc: &[f64], ch: &mut [f64], wa: &[f64]) {
    const TR11: f64 = 0.309_016_994_374_947_45;
    const TI11: f64 = 0.951_056_516_295_153_5;
    const TR12: f64 = -0.809_016_994_374_947_5;
    const TI12: f64 = 0.587_785_252_292_473_1;
    let cc_ = |a: usize, b: usize, c: usize| cc[a + ido * (b + 5 * c)];
    let chi = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let wa_ = |x: usize, i: usize| wa[i + x * (ido - 1)];
    for k in 0..l1 {
        let ti5 = cc_(0, 2, k) + cc_(0, 2, k);
        let ti4 = cc_(0, 4, k) + cc_(0, 4, k);
        let tr2 = cc_(ido - 1, 1, k) + cc_(ido - 1, 1, k);
        let tr3 = cc_(ido - 1, 3, k) + cc_(ido - 1, 3, k);
        ch[chi(0, k, 0)] = cc_(0, 0, k) + tr2 + tr3;
        let cr2 = cc_(0, 0, k) + TR11 * tr2 + TR12 * tr3;
        let cr3 = cc_(0, 0, k) + TR12 * tr2 + TR11 * tr3;
        // MULPM(ci5, ci4, ti5, ti4, ti11, ti12)
        let ci5 = ti5 * TI11 + ti4 * TI12;
        let ci4 = ti5 * TI12 - ti4 * TI11;
        ch[chi(0, k, 4)] = cr2 + ci5;
        ch[chi(0, k, 1)] = cr2 - ci5;
        ch[chi(0, k, 3)] = cr3 + ci4;
        ch[chi(0, k, 2)] = cr3 - ci4;
    }
    if ido == 1 {
        return;
    }
    for k in 0..l1 {
        for i in (2..ido).step_by(2) {
            let ic = ido - i;
            let (tr2, tr5) = (
                cc_(i - 1, 2, k) + cc_(ic - 1, 1, k),
                cc_(i - 1, 2, k) - cc_(ic - 1, 1, k),
            );
            let (ti5, ti2) = (cc_(i, 2, k) + cc_(ic, 1, k), cc_(i, 2, k) - cc_(ic, 1, k));
            let (tr3, tr4) = (
                cc_(i - 1, 4, k) + cc_(ic - 1, 3, k),
                cc_(i - 1, 4, k) - cc_(ic - 1, 3, k),
            );
            let (ti4, ti3) = (cc_(i, 4, k) + cc_(ic, 3, k), cc_(i, 4, k) - cc_(ic, 3, k));
            ch[chi(i - 1, k, 0)] = cc_(i - 1, 0, k) + tr2 + tr3;
            ch[chi(i, k, 0)] = cc_(i, 0, k) + ti2 + ti3;
            let cr2 = cc_(i - 1, 0, k) + TR11 * tr2 + TR12 * tr3;
            let ci2 = cc_(i, 0, k) + TR11 * ti2 + TR12 * ti3;
            let cr3 = cc_(i - 1, 0, k) + TR12 * tr2 + TR11 * tr3;
            let ci3 = cc_(i, 0, k) + TR12 * ti2 + TR11 * ti3;
            // MULPM(cr5, cr4, tr5, tr4, ti11, ti12); MULPM(ci5, ci4, ti5, ti4, ti11, ti12)
            let cr5 = tr5 * TI11 + tr4 * TI12;
            let cr4 = tr5 * TI12 - tr4 * TI11;
            let ci5 = ti5 * TI11 + ti4 * TI12;
            let ci4 = ti5 * TI12 - ti4 * TI11;
            let (dr4, dr3) = (cr3 + ci4, cr3 - ci4);
            let (di3, di4) = (ci3 + cr4, ci3 - cr4);
            let (dr5, dr2) = (cr2 + ci5, cr2 - ci5);
            let (di2, di5) = (ci2 + cr5, ci2 - cr5);
            for (x, di, dr) in [(0, di2, dr2), (1, di3, dr3), (2, di4, dr4), (3, di5, dr5)] {
                let (wr, wi) = (wa_(x, i - 2), wa_(x, i - 1));
                ch[chi(i, k, x + 1)] = wr * di + wi * dr;
                ch[chi(i - 1, k, x + 1)] = wr * dr - wi * di;
            }
        }
    }
}

/// pocketfft `radbg`, the generic odd radix. It uses `cc` as scratch; the result is in `ch`.
fn radbg(
    ido: usize,
    ip: usize,
    l1: usize,
    cc: &mut [f64],
    ch: &mut [f64],
    wa: &[f64],
    csarr: &[f64],
) {
    let cdim = ip;
    let ipph = ip.div_ceil(2);
    let idl1 = ido * l1;
    let cc_ = |a: usize, b: usize, c: usize| a + ido * (b + cdim * c);
    let chi = |a: usize, b: usize, c: usize| a + ido * (b + l1 * c);
    let c1 = chi; // C1 and CH share the (a, b, c) layout, in `cc` and `ch` respectively
    let c2 = |a: usize, b: usize| a + idl1 * b;

    for k in 0..l1 {
        for i in 0..ido {
            ch[chi(i, k, 0)] = cc[cc_(i, 0, k)];
        }
    }
    for j in 1..ipph {
        let jc = ip - j;
        let j2 = 2 * j - 1;
        for k in 0..l1 {
            ch[chi(0, k, j)] = 2.0 * cc[cc_(ido - 1, j2, k)];
            ch[chi(0, k, jc)] = 2.0 * cc[cc_(0, j2 + 1, k)];
        }
    }
    if ido != 1 {
        for j in 1..ipph {
            let jc = ip - j;
            let j2 = 2 * j - 1;
            for k in 0..l1 {
                let mut i = 1;
                while i + 2 <= ido {
                    let ic = ido - i - 2;
                    ch[chi(i, k, j)] = cc[cc_(i, j2 + 1, k)] + cc[cc_(ic, j2, k)];
                    ch[chi(i, k, jc)] = cc[cc_(i, j2 + 1, k)] - cc[cc_(ic, j2, k)];
                    ch[chi(i + 1, k, j)] = cc[cc_(i + 1, j2 + 1, k)] - cc[cc_(ic + 1, j2, k)];
                    ch[chi(i + 1, k, jc)] = cc[cc_(i + 1, j2 + 1, k)] + cc[cc_(ic + 1, j2, k)];
                    i += 2;
                }
            }
        }
    }
    for l in 1..ipph {
        let lc = ip - l;
        for ik in 0..idl1 {
            cc[c2(ik, l)] =
                ch[c2(ik, 0)] + csarr[2 * l] * ch[c2(ik, 1)] + csarr[4 * l] * ch[c2(ik, 2)];
            cc[c2(ik, lc)] =
                csarr[2 * l + 1] * ch[c2(ik, ip - 1)] + csarr[4 * l + 1] * ch[c2(ik, ip - 2)];
        }
        let mut iang = 2 * l;
        let (mut j, mut jc) = (3, ip - 3);
        let next = |iang: &mut usize| {
            *iang += l;
            if *iang > ip {
                *iang -= ip;
            }
            (csarr[2 * *iang], csarr[2 * *iang + 1])
        };
        while j + 3 < ipph {
            let (ar1, ai1) = next(&mut iang);
            let (ar2, ai2) = next(&mut iang);
            let (ar3, ai3) = next(&mut iang);
            let (ar4, ai4) = next(&mut iang);
            for ik in 0..idl1 {
                cc[c2(ik, l)] += ar1 * ch[c2(ik, j)]
                    + ar2 * ch[c2(ik, j + 1)]
                    + ar3 * ch[c2(ik, j + 2)]
                    + ar4 * ch[c2(ik, j + 3)];
                cc[c2(ik, lc)] += ai1 * ch[c2(ik, jc)]
                    + ai2 * ch[c2(ik, jc - 1)]
                    + ai3 * ch[c2(ik, jc - 2)]
                    + ai4 * ch[c2(ik, jc - 3)];
            }
            j += 4;
            jc -= 4;
        }
        while j + 1 < ipph {
            let (ar1, ai1) = next(&mut iang);
            let (ar2, ai2) = next(&mut iang);
            for ik in 0..idl1 {
                cc[c2(ik, l)] += ar1 * ch[c2(ik, j)] + ar2 * ch[c2(ik, j + 1)];
                cc[c2(ik, lc)] += ai1 * ch[c2(ik, jc)] + ai2 * ch[c2(ik, jc - 1)];
            }
            j += 2;
            jc -= 2;
        }
        while j < ipph {
            let (war, wai) = next(&mut iang);
            for ik in 0..idl1 {
                cc[c2(ik, l)] += war * ch[c2(ik, j)];
                cc[c2(ik, lc)] += wai * ch[c2(ik, jc)];
            }
            j += 1;
            jc -= 1;
        }
    }
    for j in 1..ipph {
        for ik in 0..idl1 {
            ch[c2(ik, 0)] += ch[c2(ik, j)];
        }
    }
    for j in 1..ipph {
        let jc = ip - j;
        for k in 0..l1 {
            let (a, b) = (cc[c1(0, k, j)], cc[c1(0, k, jc)]);
            ch[chi(0, k, j)] = a - b;
            ch[chi(0, k, jc)] = a + b;
        }
    }
    if ido == 1 {
        return;
    }
    for j in 1..ipph {
        let jc = ip - j;
        for k in 0..l1 {
            let mut i = 1;
            while i + 2 <= ido {
                let (a, b) = (cc[c1(i, k, j)], cc[c1(i + 1, k, jc)]);
                let (c, d) = (cc[c1(i + 1, k, j)], cc[c1(i, k, jc)]);
                ch[chi(i, k, j)] = a - b;
                ch[chi(i, k, jc)] = a + b;
                ch[chi(i + 1, k, j)] = c + d;
                ch[chi(i + 1, k, jc)] = c - d;
                i += 2;
            }
        }
    }
    for j in 1..ip {
        let is = (j - 1) * (ido - 1);
        for k in 0..l1 {
            let mut idij = is;
            let mut i = 1;
            while i + 2 <= ido {
                let (t1, t2) = (ch[chi(i, k, j)], ch[chi(i + 1, k, j)]);
                ch[chi(i, k, j)] = wa[idij] * t1 - wa[idij + 1] * t2;
                ch[chi(i + 1, k, j)] = wa[idij] * t2 + wa[idij + 1] * t1;
                idij += 2;
                i += 2;
            }
        }
    }
}

/// pocketfft `T_dcst23` for type II, unnormalised (`norm=None`), any length ≥ 1.
struct DctPlan {
    n: usize,
    fft: RealFftBackward,
    twiddle: Vec<f64>,
}

impl DctPlan {
    fn new(n: usize) -> DctPlan {
        let roots = UnityRoots::new(4 * n);
        DctPlan {
            n,
            fft: RealFftBackward::new(n),
            twiddle: (0..n).map(|i| roots.get(i + 1).0).collect(),
        }
    }

    /// The plan for length `n`, built once per process for the lengths in use (as pocketfft
    /// caches its plans).
    fn cached(n: usize) -> Arc<DctPlan> {
        static PLANS: OnceLock<Mutex<Vec<Arc<DctPlan>>>> = OnceLock::new();
        let plans = PLANS.get_or_init(|| Mutex::new(Vec::new()));
        let mut plans = plans.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = plans.iter().find(|p| p.n == n) {
            return Arc::clone(p);
        }
        let p = Arc::new(DctPlan::new(n));
        if plans.len() >= 32 {
            plans.remove(0);
        }
        plans.push(Arc::clone(&p));
        p
    }

    /// `y_k = 2 Σ x_j cos(πk(2j+1)/2N)` in place, with pocketfft's rounding.
    fn dct2(&self, c: &mut [f64], scratch: &mut [f64]) {
        let n = self.n;
        c[0] *= 2.0;
        if n.is_multiple_of(2) {
            c[n - 1] *= 2.0;
        }
        let mut k = 1;
        while k + 1 < n {
            // MPINPLACE(c[k+1], c[k])
            let t = c[k + 1];
            c[k + 1] = t - c[k];
            c[k] += t;
            k += 2;
        }
        self.fft.backward(c, scratch);
        let ns2 = n.div_ceil(2);
        let tw = &self.twiddle;
        for k in 1..ns2 {
            let kc = n - k;
            let t1 = tw[k - 1] * c[kc] + tw[kc - 1] * c[k];
            let t2 = tw[k - 1] * c[k] - tw[kc - 1] * c[kc];
            c[k] = 0.5 * (t1 + t2);
            c[kc] = 0.5 * (t1 - t2);
        }
        if n.is_multiple_of(2) {
            c[ns2] *= tw[ns2 - 1];
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::hash::resample::tests::lcg_plane;

    /// Direct O(N²) DCT-II, for a tolerance check independent of pocketfft's structure.
    fn naive_dct(x: &[f64]) -> Vec<f64> {
        let n = x.len();
        (0..n)
            .map(|k| {
                2.0 * x
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| {
                        v * (std::f64::consts::PI * k as f64 * (2 * j + 1) as f64 / (2 * n) as f64)
                            .cos()
                    })
                    .sum::<f64>()
            })
            .collect()
    }

    #[test]
    fn dct_is_a_dct() {
        for n in [4, 8, 16, 32, 64, 128] {
            let plan = DctPlan::new(n);
            let x: Vec<f64> = lcg_plane(n as u32, n, 1)
                .iter()
                .map(|&v| v as f64)
                .collect();
            let mut y = x.clone();
            plan.dct2(&mut y, &mut vec![0.0; n]);
            for (a, b) in y.iter().zip(naive_dct(&x)) {
                assert!((a - b).abs() < 1e-9 * n as f64 * 255.0, "n={n}: {a} vs {b}");
            }
        }
    }

    /// The LCG vector of `gen_transform_reference.py`, seed 0 being its symmetric 0/255 vector.
    pub(crate) fn reference_vector(seed: u32, n: usize) -> Vec<u8> {
        if seed == 0 {
            let half: Vec<u8> = lcg_plane(7, n.div_ceil(2), 1)
                .iter()
                .map(|&v| v / 128 * 255)
                .collect();
            let mut v = half.clone();
            v.extend(half[..n / 2].iter().rev());
            v
        } else {
            lcg_plane(seed, n, 1)
        }
    }

    /// SHA-256 of big-endian f64 bytes, as the reference file stores them.
    pub(crate) fn f64_digest(values: &[f64]) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for v in values {
            h.update(v.to_be_bytes());
        }
        hex::encode(h.finalize())
    }

    /// scipy's 1-D DCT-II at every length 1..=72 and a spread of larger ones (radices 2, 3, 4,
    /// 5, generic odd primes, and their mixtures), on random and on symmetric 0/255 vectors.
    #[test]
    fn dct_of_any_length_matches_scipy_bit_for_bit() {
        let text = include_str!("testdata/transform_reference.csv");
        let mut cases = 0;
        let mut bad = Vec::new();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            if f[0] != "dct" {
                continue;
            }
            let (n, seed): (usize, u32) = (f[1].parse().unwrap(), f[2].parse().unwrap());
            let mut x: Vec<f64> = reference_vector(seed, n)
                .iter()
                .map(|&v| v as f64)
                .collect();
            DctPlan::new(n).dct2(&mut x, &mut vec![0.0; n]);
            if f64_digest(&x) != f[3] {
                bad.push(format!("n={n} seed={seed}"));
            }
            cases += 1;
        }
        assert_eq!(cases, 208);
        assert!(bad.is_empty(), "differ from scipy: {}", bad.join(", "));
    }

    #[test]
    fn twiddle_angle_is_rounded_through_extended_precision() {
        // numpy.longdouble(0.25) * pi_ld / n, then float64 (x87 extended on x86-64 Linux).
        for (n, want) in [
            (1usize, 0x3fe921fb54442d18u64),
            (3, 0x3fd0c152382d7366),
            (6, 0x3fc0c152382d7366),
            (12, 0x3fb0c152382d7366),
            (52, 0x3f8eeebf2ca2ada8),
            (240, 0x3f6acee9f37bebd6),
            (256, 0x3f6921fb54442d18),
            (7, 0x3fbcb91f3bbba140),
        ] {
            assert_eq!(quarter_pi_over(n).to_bits(), want, "n={n}");
        }
        // Powers of two are exact in any precision.
        for k in 0..20 {
            let n = 1usize << k;
            assert_eq!(quarter_pi_over(n), 0.25 * std::f64::consts::PI / n as f64);
        }
    }

    #[test]
    fn numpy_mean_sums_whole_rows_per_buffer() {
        // 150 columns: 54 rows fit the 8192-element buffer; the total is the sum of the
        // buffers' pairwise sums. A plain left-to-right sum differs in the last bits.
        let block: Vec<f64> = (0..150 * 150)
            .map(|i| ((i * 7919 % 1000) as f64 - 500.0) * 1.1e-3 + 1e6)
            .collect();
        let m = numpy_mean_2d(&block, 150);
        let naive = block.iter().sum::<f64>() / block.len() as f64;
        assert!((m - naive).abs() < 1e-6);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
    }

    #[test]
    fn dct_matches_scipy_bit_for_bit() {
        let text = include_str!("testdata/dct_reference.csv");
        let mut cases = 0;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (seed, n, big_n): (u32, usize, usize) = (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            );
            let plane = if seed == 0 {
                let a = lcg_plane(99, big_n, big_n);
                let mut p = vec![0u8; big_n * big_n];
                for y in 0..big_n {
                    for x in 0..big_n {
                        // numpy: (a + a.T) // 2 in int32
                        p[y * big_n + x] =
                            ((a[y * big_n + x] as u32 + a[x * big_n + y] as u32) / 2) as u8;
                    }
                }
                p
            } else {
                lcg_plane(seed, big_n, big_n)
            };
            let got = dct2_low(&plane, big_n, n);
            let want: Vec<f64> = hex::decode(f[3])
                .unwrap()
                .chunks_exact(8)
                .map(|c| f64::from_be_bytes(c.try_into().unwrap()))
                .collect();
            assert_eq!(got.len(), want.len());
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(
                    g.to_bits(),
                    w.to_bits(),
                    "seed {seed} N={big_n} index {i}: {g} vs {w}"
                );
            }
            cases += 1;
        }
        assert_eq!(cases, 6);
    }
}
