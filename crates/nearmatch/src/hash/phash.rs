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

use std::sync::OnceLock;

use crate::digest::AnyDigest;
use crate::error::Error;
use crate::hash::imagehash::{digest_from_bits, hash_luma, median, HashSize, ImagehashKind};
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
    let low = dct2_low(small, HIGHFREQ_FACTOR * n, n);
    let med = median(&low);
    let bits: Vec<bool> = low.iter().map(|&v| v > med).collect();
    digest_from_bits(&bits, size)
}

/// `dct(dct(P, axis=0), axis=1)[:n, :n]` of an N×N u8 plane, row-major, as scipy computes it.
pub(crate) fn dct2_low(plane: &[u8], big_n: usize, n: usize) -> Vec<f64> {
    // The plans for the two lengths phash uses (32, 64) are built once per process.
    static P32: OnceLock<DctPlan> = OnceLock::new();
    static P64: OnceLock<DctPlan> = OnceLock::new();
    let owned;
    let plan: &DctPlan = match big_n {
        32 => P32.get_or_init(|| DctPlan::new(32)),
        64 => P64.get_or_init(|| DctPlan::new(64)),
        _ => {
            owned = DctPlan::new(big_n);
            &owned
        }
    };
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
        // pocketfft computes 0.25L*pi/n in long double and rounds to double; for the power-of-two
        // n used here that is exactly the double pi scaled by a power of two.
        let ang = 0.25 * std::f64::consts::PI / n as f64;
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

/// A pocketfft `rfftp` plan restricted to power-of-two lengths (radix 4 and 2), backward only.
struct RealFftBackward {
    n: usize,
    /// (radix, twiddles) per factor, in pocketfft's order.
    factors: Vec<(usize, Vec<f64>)>,
}

impl RealFftBackward {
    fn new(n: usize) -> RealFftBackward {
        debug_assert!(n.is_power_of_two() && n >= 2);
        // pocketfft's factorize(): 4s first, then a single 2 moved to the front.
        let mut radices = Vec::new();
        let mut len = n;
        while len.is_multiple_of(4) {
            radices.push(4);
            len /= 4;
        }
        if len.is_multiple_of(2) {
            radices.push(2);
            let last = radices.len() - 1;
            radices.swap(0, last);
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
            factors.push((ip, tw));
            l1 *= ip;
        }
        RealFftBackward { n, factors }
    }

    /// In-place backward (half-complex to real) transform, unnormalised; `ch` is scratch.
    fn backward(&self, c: &mut [f64], ch: &mut [f64]) {
        let n = self.n;
        let mut l1 = 1;
        let mut in_c = true; // whether the current data lives in `c`
        for (ip, tw) in &self.factors {
            let ido = n / (ip * l1);
            let (src, dst): (&[f64], &mut [f64]) = if in_c {
                (&*c, &mut *ch)
            } else {
                (&*ch, &mut *c)
            };
            match ip {
                4 => radb4(ido, l1, src, dst, tw),
                _ => radb2(ido, l1, src, dst, tw),
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

/// pocketfft `T_dcst23` for type II, unnormalised (`norm=None`), power-of-two length.
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

    /// `y_k = 2 Σ x_j cos(πk(2j+1)/2N)` in place, with pocketfft's rounding.
    fn dct2(&self, c: &mut [f64], scratch: &mut [f64]) {
        let n = self.n;
        c[0] *= 2.0;
        c[n - 1] *= 2.0; // n is even
        for k in (1..n - 1).step_by(2) {
            // MPINPLACE(c[k+1], c[k])
            let t = c[k + 1];
            c[k + 1] = t - c[k];
            c[k] += t;
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
        c[ns2] *= tw[ns2 - 1];
    }
}

#[cfg(test)]
mod tests {
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
