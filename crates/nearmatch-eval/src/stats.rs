//! The statistics the metrics need: Clopper–Pearson intervals (via the regularised incomplete
//! beta function), the binomial distribution of independent bits, and summaries of distance
//! histograms.

use serde::Serialize;

/// A proportion `k / n` with its exact (Clopper–Pearson) 95% confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Proportion {
    /// Successes.
    pub k: u64,
    /// Trials.
    pub n: u64,
    /// `k / n` (0 when `n` is 0).
    pub rate: f64,
    /// Lower end of the 95% interval.
    pub lo: f64,
    /// Upper end of the 95% interval.
    pub hi: f64,
}

impl Proportion {
    /// `k` of `n`, with the Clopper–Pearson 95% interval.
    pub fn new(k: u64, n: u64) -> Proportion {
        let (lo, hi) = clopper_pearson(k, n, 0.05);
        Proportion {
            k,
            n,
            rate: if n == 0 { 0.0 } else { k as f64 / n as f64 },
            lo,
            hi,
        }
    }
}

/// The exact two-sided `1 - alpha` interval for a binomial proportion: the `alpha/2` and
/// `1 - alpha/2` quantiles of Beta(k, n-k+1) and Beta(k+1, n-k). `n = 0` gives (0, 1).
pub fn clopper_pearson(k: u64, n: u64, alpha: f64) -> (f64, f64) {
    assert!(k <= n, "k = {k} > n = {n}");
    if n == 0 {
        return (0.0, 1.0);
    }
    let (kf, nf) = (k as f64, n as f64);
    let lo = if k == 0 {
        0.0
    } else if k == n {
        (alpha / 2.0).powf(1.0 / nf)
    } else {
        beta_quantile(alpha / 2.0, kf, nf - kf + 1.0)
    };
    let hi = if k == n {
        1.0
    } else if k == 0 {
        1.0 - (alpha / 2.0).powf(1.0 / nf)
    } else {
        beta_quantile(1.0 - alpha / 2.0, kf + 1.0, nf - kf)
    };
    (lo, hi)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1-x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The regularised incomplete beta function I_x(a, b), by Lentz's continued fraction.
pub fn inc_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    // The fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_cf(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_cf(1.0 - x, b, a) / b
    }
}

/// The continued fraction of the incomplete beta function, by the modified Lentz method.
fn beta_cf(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    // Keeps a denominator away from zero (Lentz's guard).
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - qab * x / qap);
    let mut h = d;
    // One Lentz step with coefficient `aa`: updates c and d, returns the factor for h.
    let mut step = |aa: f64| {
        d = 1.0 / guard(1.0 + aa * d);
        c = guard(1.0 + aa / c);
        d * c
    };
    for m in 1..=10_000 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        // Each iteration takes the even then the odd coefficient of the fraction.
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)));
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)));
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// The `p` quantile of Beta(a, b), by bisection on [`inc_beta`] (monotone in x).
pub fn beta_quantile(p: f64, a: f64, b: f64) -> f64 {
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    // 200 halvings reach the f64 resolution even for quantiles near 1e-12.
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if inc_beta(mid, a, b) < p {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The distribution of the distance between two digests of `bits` independent fair bits:
/// Binomial(bits, 1/2).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BinomialRef {
    /// `bits / 2`.
    pub mean: f64,
    /// `sqrt(bits) / 2`.
    pub sd: f64,
    /// The 0.1th percentile (smallest d with P(D ≤ d) ≥ 0.001).
    pub p0_1: u32,
    /// P(D ≤ 31/256 of the bits), the chance that two unrelated independent-bit digests match.
    pub p_match_fixed: f64,
}

/// Binomial(bits, 1/2) summary.
pub fn binomial_ref(bits: u32) -> BinomialRef {
    let cdf = binomial_half_cdf(bits);
    let p0_1 = cdf.iter().position(|&c| c >= 0.001).unwrap_or(0) as u32;
    let t = (f64::from(bits) * 31.0 / 256.0).round() as usize;
    BinomialRef {
        mean: f64::from(bits) / 2.0,
        sd: f64::from(bits).sqrt() / 2.0,
        p0_1,
        p_match_fixed: cdf[t],
    }
}

/// P(D ≤ d) for d = 0..=bits, D ~ Binomial(bits, 1/2).
pub fn binomial_half_cdf(bits: u32) -> Vec<f64> {
    let n = f64::from(bits);
    let mut pmf = 0.5f64.powi(bits as i32);
    let mut acc = 0.0;
    let mut out = Vec::with_capacity(bits as usize + 1);
    for k in 0..=bits {
        acc += pmf;
        out.push(acc.min(1.0));
        pmf *= (n - f64::from(k)) / (f64::from(k) + 1.0);
    }
    out
}

/// Summary of a distance histogram (`counts[d]` pairs at distance d).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct HistSummary {
    /// Pairs counted.
    pub n: u64,
    /// Mean distance.
    pub mean: f64,
    /// Standard deviation (population).
    pub sd: f64,
    /// Smallest distance seen.
    pub min: Option<u32>,
    /// The 0.1th percentile: smallest d with at least 0.1% of pairs at or below it.
    pub p0_1: Option<u32>,
}

/// Mean, SD, minimum and 0.1th percentile of a histogram.
pub fn summarize(counts: &[u64]) -> HistSummary {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return HistSummary {
            n,
            mean: f64::NAN,
            sd: f64::NAN,
            min: None,
            p0_1: None,
        };
    }
    let nf = n as f64;
    let mean = counts
        .iter()
        .enumerate()
        .map(|(d, &c)| d as f64 * c as f64)
        .sum::<f64>()
        / nf;
    let var = counts
        .iter()
        .enumerate()
        .map(|(d, &c)| (d as f64 - mean).powi(2) * c as f64)
        .sum::<f64>()
        / nf;
    let min = counts.iter().position(|&c| c > 0).map(|d| d as u32);
    let need = (0.001 * nf).ceil().max(1.0) as u64;
    let mut acc = 0;
    let mut p0_1 = None;
    for (d, &c) in counts.iter().enumerate() {
        acc += c;
        if acc >= need {
            p0_1 = Some(d as u32);
            break;
        }
    }
    HistSummary {
        n,
        mean,
        sd: var.sqrt(),
        min,
        p0_1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for n in 1..30u32 {
            // Γ(n + 1) = n!
            f *= f64::from(n);
            assert!(close(ln_gamma(f64::from(n) + 1.0), f.ln(), 1e-13), "{n}");
        }
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-13
        ));
    }

    #[test]
    fn inc_beta_matches_closed_forms() {
        // I_x(1, b) = 1 - (1 - x)^b; I_x(a, 1) = x^a; I_x(a, b) + I_{1-x}(b, a) = 1.
        for &x in &[1e-9f64, 0.01, 0.3, 0.5, 0.77, 0.999] {
            for &b in &[1.0, 2.5, 40.0, 3000.0] {
                // -expm1(b ln(1 - x)) = 1 - (1 - x)^b without cancellation at tiny x.
                let want = -(b * (-x).ln_1p()).exp_m1();
                assert!(close(inc_beta(x, 1.0, b), want, 1e-9), "{x} {b}");
                assert!(close(inc_beta(x, b, 1.0), x.powf(b), 1e-10));
                let s = inc_beta(x, 3.0, b) + inc_beta(1.0 - x, b, 3.0);
                assert!(close(s, 1.0, 1e-12));
            }
        }
    }

    #[test]
    fn clopper_pearson_matches_independent_values() {
        // Values from the binomial tail definition: at the interval's ends, P(X >= k | lo) and
        // P(X <= k | hi) equal alpha/2. Checked directly by summing the binomial pmf.
        let tail_ge = |k: u64, n: u64, p: f64| -> f64 {
            (k..=n)
                .map(|i| {
                    (ln_gamma(n as f64 + 1.0)
                        - ln_gamma(i as f64 + 1.0)
                        - ln_gamma((n - i) as f64 + 1.0)
                        + i as f64 * p.ln()
                        + (n - i) as f64 * (1.0 - p).ln())
                    .exp()
                })
                .sum()
        };
        for &(k, n) in &[(1u64, 10u64), (5, 10), (50, 100), (97, 100), (3, 2000)] {
            let (lo, hi) = clopper_pearson(k, n, 0.05);
            let p = k as f64 / n as f64;
            assert!(lo < p && p < hi);
            assert!(close(tail_ge(k, n, lo), 0.025, 1e-6), "{k}/{n} lo {lo}");
            assert!(
                close(1.0 - tail_ge(k + 1, n, hi), 0.025, 1e-6),
                "{k}/{n} hi {hi}"
            );
        }
        // Well-known values: 5/10 -> (0.187086, 0.812914); 0/n upper = 1 - 0.025^(1/n).
        let (lo, hi) = clopper_pearson(5, 10, 0.05);
        assert!((lo - 0.187086).abs() < 1e-6 && (hi - 0.812914).abs() < 1e-6);
        let (lo, hi) = clopper_pearson(0, 1_000_000, 0.05);
        assert_eq!(lo, 0.0);
        assert!(close(hi, 3.688e-6, 1e-3), "{hi}");
        assert_eq!(clopper_pearson(0, 0, 0.05), (0.0, 1.0));
    }

    #[test]
    fn binomial_reference_and_summaries() {
        let cdf = binomial_half_cdf(64);
        assert!(close(cdf[64], 1.0, 1e-12));
        assert!(close(
            cdf[32] - cdf[31],
            1.832_624_140_942_590_5e18 / 2f64.powi(64),
            1e-6
        ));
        let r = binomial_ref(256);
        assert_eq!((r.mean, r.sd), (128.0, 8.0));
        // Normal approximation: 128 - 3.09 * 8 ≈ 103.3; the exact 0.1% point is close to it.
        assert!((102..=104).contains(&r.p0_1), "{}", r.p0_1);
        let s = summarize(&[0, 2, 0, 2]);
        assert_eq!(
            (s.n, s.mean, s.sd, s.min, s.p0_1),
            (4, 2.0, 1.0, Some(1), Some(1))
        );
        assert_eq!(summarize(&[0, 0]).min, None);
    }
}
