//! The 64x64 -> 16x16 DCT, quality metric, median threshold and dihedral transforms.

use super::dct_table::DCT_BITS;
use super::filter::OUT;
use crate::digest::Digest256;
use std::sync::OnceLock;

/// The 16x64 DCT matrix as f32, row `i` = frequency `i + 1` (the DC row is skipped).
///
/// Hard-coded as bit patterns rather than computed: the reference rounds an f64 cosine to f32,
/// and a platform `cos` that is off by one ulp in f64 could flip an f32 rounding.
fn dct_matrix() -> &'static [f32; 16 * OUT] {
    static D: OnceLock<[f32; 16 * OUT]> = OnceLock::new();
    D.get_or_init(|| std::array::from_fn(|i| f32::from_bits(DCT_BITS[i])))
}

/// The same matrix transposed (`Dt[k][j] = D[j][k]`), so the second product runs along rows.
fn dct_matrix_t() -> &'static [f32; OUT * 16] {
    static DT: OnceLock<[f32; OUT * 16]> = OnceLock::new();
    DT.get_or_init(|| {
        let d = dct_matrix();
        std::array::from_fn(|x| d[(x % 16) * OUT + x / 16])
    })
}

/// `B = D · A · Dᵀ` (16x16 from 64x64), as `dct64To16`.
///
/// Each entry is one f32 accumulator starting at 0, `k` ascending, multiply then add (never
/// fused). The loops are ordered so the innermost runs across independent entries and vectorises
/// without changing any entry's sequence of operations.
pub(super) fn dct64_to_16(a: &[f32; OUT * OUT]) -> [f32; 256] {
    let d = dct_matrix();
    let dt = dct_matrix_t();
    // T = D·A, T[i][j] = Σ_k D[i][k] · A[k][j]
    let mut t = [0f32; 16 * OUT];
    for i in 0..16 {
        let trow = &mut t[i * OUT..(i + 1) * OUT];
        for k in 0..OUT {
            let dik = d[i * OUT + k];
            for (tj, akj) in trow.iter_mut().zip(&a[k * OUT..(k + 1) * OUT]) {
                *tj += dik * *akj;
            }
        }
    }
    // B = T·Dᵀ, B[i][j] = Σ_k T[i][k] · D[j][k]
    let mut b = [0f32; 256];
    for i in 0..16 {
        let brow = &mut b[i * 16..(i + 1) * 16];
        for k in 0..OUT {
            let tik = t[i * OUT + k];
            for (bj, dkj) in brow.iter_mut().zip(&dt[k * 16..(k + 1) * 16]) {
                *bj += tik * *dkj;
            }
        }
    }
    b
}

/// PDQ's quality, 0..=100, from the 64x64 buffer (`pdqImageDomainQualityMetric`).
///
/// Each neighbour difference is scaled to whole percent of full scale in f32 and *truncated*
/// before summing, so sub-2.55-level steps (smooth gradients) count for nothing.
pub(super) fn quality(a: &[f32; OUT * OUT]) -> u8 {
    #[inline]
    fn step(u: f32, v: f32) -> i32 {
        // `int d = ((u - v) * 100) / 255;` : f32 arithmetic, truncation toward zero.
        (((u - v) * 100.0) / 255.0) as i32
    }
    // u64 and unsigned_abs: luma from the 8-bit paths keeps every step within ±100, but a caller's
    // own f32 plane may hold huge or infinite values; saturate instead of overflowing.
    let mut sum: u64 = 0;
    for i in 0..OUT - 1 {
        for j in 0..OUT {
            sum += u64::from(step(a[i * OUT + j], a[(i + 1) * OUT + j]).unsigned_abs());
        }
    }
    for i in 0..OUT {
        for j in 0..OUT - 1 {
            sum += u64::from(step(a[i * OUT + j], a[i * OUT + j + 1]).unsigned_abs());
        }
    }
    (sum / 90).min(100) as u8
}

/// Thresholds 256 coefficients at their median: bit `16i + j` is set iff `B[i][j] > median`.
///
/// The reference's Torben selection returns the lower median, the 128th smallest value
/// (`sorted[127]`); any exact selection gives the same value. The comparison is strict, so ties
/// with the median are 0 and at most 128 bits are set.
pub(super) fn bits(b: &[f32; 256]) -> Digest256 {
    let mut sorted = *b;
    // total_cmp never panics (even on NaN from hostile f32 input). For finite values it differs
    // from `<` only in ordering -0 before +0, which `>` below cannot tell apart.
    let (_, median, _) = sorted.select_nth_unstable_by(127, f32::total_cmp);
    let median = *median;
    let mut words = [0u64; 4];
    for (k, v) in b.iter().enumerate() {
        if *v > median {
            // Bit k of the big-endian 256-bit integer: word 0 holds bits 255..192.
            words[3 - k / 64] |= 1u64 << (k % 64);
        }
    }
    Digest256::from_words(words)
}

/// The coefficient matrix of a dihedral variant, derived from the original's (`dct16OriginalTo*`).
///
/// A vertical flip multiplies frequency `u` by `(-1)^u`; rows and columns here are frequencies
/// 1..16, so index `i` even means an odd frequency, which is the one that changes sign.
pub(super) fn dihedral(b: &[f32; 256], o: super::Orientation) -> [f32; 256] {
    use super::Orientation::*;
    let mut out = [0f32; 256];
    for i in 0..16 {
        for j in 0..16 {
            let v = b[i * 16 + j];
            let (odd_i, odd_j, odd_sum) = (i & 1 == 1, j & 1 == 1, (i + j) & 1 == 1);
            let (value, transpose) = match o {
                Orig => (v, false),
                Rot90 => (if odd_j { v } else { -v }, true),
                Rot180 => (if odd_sum { -v } else { v }, false),
                Rot270 => (if odd_i { v } else { -v }, true),
                FlipX => (if odd_i { v } else { -v }, false),
                FlipY => (if odd_j { v } else { -v }, false),
                FlipPlus1 => (v, true),
                FlipMinus1 => (if odd_sum { -v } else { v }, true),
            };
            if transpose {
                out[j * 16 + i] = value;
            } else {
                out[i * 16 + j] = value;
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::needless_range_loop)] // index loops mirror the C++ text
mod tests {
    use super::*;

    #[test]
    fn table_equals_the_reference_formula() {
        // D[i][j] = f32( f64(f32(sqrt(2/64))) * cos(((pi/2/64) * (i+1)) * (2j+1)) )
        let scale = (2.0f64 / 64.0).sqrt() as f32;
        assert_eq!(scale.to_bits(), 0x3e35_04f3);
        let mut mismatches = 0;
        for i in 0..16 {
            for j in 0..64 {
                let arg = (std::f64::consts::PI / 2.0 / 64.0) * (i + 1) as f64 * (2 * j + 1) as f64;
                let want = (scale as f64 * arg.cos()) as f32;
                if want.to_bits() != DCT_BITS[i * 64 + j] {
                    mismatches += 1;
                }
            }
        }
        assert_eq!(mismatches, 0);
    }

    #[test]
    fn dct_equals_a_literal_triple_loop() {
        let mut a = [0f32; 4096];
        let mut x = 12345u32;
        for v in a.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *v = (x % 25500) as f32 / 100.0;
        }
        let d = dct_matrix();
        let got = dct64_to_16(&a);
        for i in 0..16 {
            for j in 0..16 {
                // The C++ loop order: T[i][·] then B[i][j] = Σ_k T[i][k] * D[j][k].
                let mut bij = 0f32;
                for k in 0..64 {
                    let mut tik = 0f32;
                    for m in 0..64 {
                        tik += d[i * 64 + m] * a[m * 64 + k];
                    }
                    bij += tik * d[j * 64 + k];
                }
                assert_eq!(got[i * 16 + j].to_bits(), bij.to_bits());
            }
        }
    }

    #[test]
    fn median_is_the_128th_smallest_and_strict() {
        // Values 0..255 shuffled: median 127, bits set for 128..=255 → exactly 128 bits.
        let mut b = [0f32; 256];
        for (k, v) in b.iter_mut().enumerate() {
            *v = ((k * 97) % 256) as f32;
        }
        let d = bits(&b);
        assert_eq!(d.count_ones(), 128);
        for k in 0..256 {
            assert_eq!(d.bit(k), b[k] > 127.0);
        }
        // All equal: nothing is strictly above the median.
        assert_eq!(bits(&[3.5; 256]), Digest256::ZERO);
    }

    #[test]
    fn quality_truncates_each_step() {
        // A 2-level step everywhere horizontally: (2*100)/255 = 0.78 → 0 per pair.
        let a: [f32; 4096] = std::array::from_fn(|x| ((x % 64) * 2) as f32);
        assert_eq!(quality(&a), 0);
        // A 255-level checkerboard: 100 per pair, 8064 pairs → 896000 / 90 → capped at 100.
        let a: [f32; 4096] = std::array::from_fn(|x| (((x % 64) + x / 64) % 2) as f32 * 255.0);
        assert_eq!(quality(&a), 100);
        // Vertical 3-level steps only: 1 per vertical pair = 63*64 = 4032 → 44.
        let a: [f32; 4096] = std::array::from_fn(|x| ((x / 64) * 3) as f32);
        assert_eq!(quality(&a), 44);
    }
}
