//! Metrics, computed from the stored distances only ([`VariantDistances`]), so anyone can
//! recompute them from `results.json`.
//!
//! Definitions (also stated in `results.json` under `protocol`):
//! - A copy matches at threshold `t` when some probe is within `t` of its original's digest; a
//!   copy with no probe (unhashable, or below the quality gate) is a miss. TPR = matches / N.
//! - FPR over distinct-original pairs: pairs within `t` / all pairs (rejected queries are true
//!   negatives). The threshold for a target α is the largest `t` whose FPR is ≤ α; it is
//!   *supported* when there are at least 3/α pairs (then zero false positives would already
//!   bound the FPR below α at 95%).
//! - Recall at precision ≥ p with nearest-neighbour negatives (Thorn's protocol): each copy
//!   contributes its positive distance and its distance to the nearest other original;
//!   TP(t) = positives ≤ t, FP(t) = nearest negatives ≤ t; `t` rises from 0 and stops before
//!   the first `t` with TP/(TP+FP) < p; recall = TP(t)/N.

use serde::{Deserialize, Serialize};

use crate::distances::{Histogram, VariantDistances};
use crate::stats::{binomial_ref, summarize, BinomialRef, HistSummary, Proportion};
use crate::variant::HashVariant;

/// FPR targets for the threshold table.
pub const FPR_TARGETS: [f64; 3] = [1e-3, 1e-4, 1e-6];

/// The precision Thorn's benchmark reports recall at.
pub const PRECISION_TARGET: f64 = 0.9999;

/// A negative distance distribution beside the binomial of independent bits.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NegativeSummary {
    /// All pairs, rejected included.
    pub pairs: u64,
    /// Pairs whose query had no probe.
    pub rejected: u64,
    /// Distances of the non-rejected pairs.
    pub distances: HistSummary,
    /// Binomial(bits, 1/2).
    pub binomial: BinomialRef,
    /// False positives at the fixed thresholds.
    pub fpr_fixed: Vec<Proportion>,
}

/// The threshold that reaches an FPR target, and what it gives.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FprThreshold {
    /// The target α.
    pub target: f64,
    /// At least 3/α pairs.
    pub supported: bool,
    /// Largest `t` with FPR ≤ α; `None` if even distance 0 exceeds it.
    pub threshold: Option<u32>,
    /// Realised FPR on distinct-original pairs.
    pub fpr: Proportion,
    /// Realised FPR on hard-negative pairs.
    pub hard_fpr: Proportion,
}

/// Recall at a precision target, with the threshold and the precision reached.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecallAtPrecision {
    /// The operating threshold (`None`: no threshold reaches the precision).
    pub threshold: Option<u32>,
    /// Recall at that threshold.
    pub recall: f64,
    /// Precision at that threshold (`None` if nothing matched).
    pub precision: Option<f64>,
    /// Copies counted (the recall denominator).
    pub n: u64,
}

/// One transform's numbers for one variant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TransformMetrics {
    /// Transform id.
    pub transform: String,
    /// TPR at each fixed threshold.
    pub tpr_fixed: Vec<Proportion>,
    /// TPR at each FPR target's threshold (same order as [`FPR_TARGETS`]).
    pub tpr_at_fpr: Vec<Proportion>,
    /// Recall at precision ≥ 99.99% with nearest-neighbour negatives.
    pub recall_at_precision: RecallAtPrecision,
    /// Median positive distance (`None` if no copy had a probe).
    pub median_distance: Option<u32>,
}

/// Every metric of one variant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VariantMetrics {
    /// Variant id.
    pub variant: String,
    /// Digest width.
    pub bits: u32,
    /// The fixed thresholds (31 and 20 of 256 bits, scaled).
    pub fixed_thresholds: Vec<u32>,
    /// Distinct-original pairs.
    pub negatives: NegativeSummary,
    /// Hard-negative pairs.
    pub hard_negatives: NegativeSummary,
    /// Thresholds for the FPR targets.
    pub fpr_thresholds: Vec<FprThreshold>,
    /// Per transform, in suite order.
    pub transforms: Vec<TransformMetrics>,
    /// Mean over transforms of the TPR at each fixed threshold.
    pub mean_tpr_fixed: Vec<f64>,
    /// Recall at precision ≥ 99.99% over all transforms pooled (Thorn's headline figure).
    pub pooled_recall_at_precision: RecallAtPrecision,
}

/// Copies within `t`: `None` distances never count.
pub fn matches(distances: &[Option<u16>], t: u32) -> u64 {
    distances
        .iter()
        .filter(|d| d.is_some_and(|d| u32::from(d) <= t))
        .count() as u64
}

/// Largest threshold whose FPR on `hist` is ≤ `alpha`.
pub fn threshold_for_fpr(hist: &Histogram, alpha: f64) -> Option<u32> {
    let pairs = hist.pairs() as f64;
    let mut best = None;
    let mut fp = 0u64;
    for (d, &c) in hist.counts.iter().enumerate() {
        fp += c;
        if fp as f64 > alpha * pairs {
            break;
        }
        best = Some(d as u32);
    }
    best
}

/// Thorn's recall at precision ≥ `target` from positive and nearest-negative distances.
pub fn recall_at_precision(
    pos: &[Option<u16>],
    neg: &[Option<u16>],
    bits: u32,
    target: f64,
) -> RecallAtPrecision {
    let mut pos_hist = vec![0u64; bits as usize + 1];
    let mut neg_hist = vec![0u64; bits as usize + 1];
    for d in pos.iter().flatten() {
        pos_hist[*d as usize] += 1;
    }
    for d in neg.iter().flatten() {
        neg_hist[*d as usize] += 1;
    }
    let n = pos.len() as u64;
    let (mut tp, mut fp) = (0u64, 0u64);
    let mut best = RecallAtPrecision {
        threshold: None,
        recall: 0.0,
        precision: None,
        n,
    };
    for t in 0..=bits as usize {
        tp += pos_hist[t];
        fp += neg_hist[t];
        if tp + fp == 0 {
            continue;
        }
        let precision = tp as f64 / (tp + fp) as f64;
        if precision < target {
            break;
        }
        best = RecallAtPrecision {
            threshold: Some(t as u32),
            recall: if n == 0 { 0.0 } else { tp as f64 / n as f64 },
            precision: Some(precision),
            n,
        };
    }
    best
}

fn negative_summary(hist: &Histogram, bits: u32, fixed: &[u32]) -> NegativeSummary {
    NegativeSummary {
        pairs: hist.pairs(),
        rejected: hist.rejected,
        distances: summarize(&hist.counts),
        binomial: binomial_ref(bits),
        fpr_fixed: fixed
            .iter()
            .map(|&t| Proportion::new(hist.at_most(t), hist.pairs()))
            .collect(),
    }
}

fn median(distances: &[Option<u16>]) -> Option<u32> {
    let mut v: Vec<u16> = distances.iter().flatten().copied().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(u32::from(v[(v.len() - 1) / 2]))
}

/// Every metric of a variant from its stored distances; `transform_ids` name the rows.
pub fn compute(
    variant: &HashVariant,
    d: &VariantDistances,
    transform_ids: &[String],
) -> VariantMetrics {
    let bits = variant.bits();
    let fixed = variant.fixed_thresholds().to_vec();
    let fpr_thresholds: Vec<FprThreshold> = FPR_TARGETS
        .iter()
        .map(|&alpha| {
            let threshold = threshold_for_fpr(&d.negatives, alpha);
            let fp = |h: &Histogram| threshold.map_or(0, |t| h.at_most(t));
            FprThreshold {
                target: alpha,
                supported: d.negatives.pairs() as f64 >= 3.0 / alpha,
                threshold,
                fpr: Proportion::new(fp(&d.negatives), d.negatives.pairs()),
                hard_fpr: Proportion::new(fp(&d.hard_negatives), d.hard_negatives.pairs()),
            }
        })
        .collect();
    let transforms: Vec<TransformMetrics> = transform_ids
        .iter()
        .enumerate()
        .map(|(t, id)| {
            let pos = &d.positive[t];
            let n = pos.len() as u64;
            TransformMetrics {
                transform: id.clone(),
                tpr_fixed: fixed
                    .iter()
                    .map(|&th| Proportion::new(matches(pos, th), n))
                    .collect(),
                tpr_at_fpr: fpr_thresholds
                    .iter()
                    .map(|f| Proportion::new(f.threshold.map_or(0, |th| matches(pos, th)), n))
                    .collect(),
                recall_at_precision: recall_at_precision(
                    pos,
                    &d.nn_negative[t],
                    bits,
                    PRECISION_TARGET,
                ),
                median_distance: median(pos),
            }
        })
        .collect();
    let mean_tpr_fixed = (0..fixed.len())
        .map(|k| {
            transforms.iter().map(|m| m.tpr_fixed[k].rate).sum::<f64>()
                / transforms.len().max(1) as f64
        })
        .collect();
    let all_pos: Vec<Option<u16>> = d.positive.iter().flatten().copied().collect();
    let all_neg: Vec<Option<u16>> = d.nn_negative.iter().flatten().copied().collect();
    VariantMetrics {
        variant: variant.id.to_string(),
        bits,
        fixed_thresholds: fixed.clone(),
        negatives: negative_summary(&d.negatives, bits, &fixed),
        hard_negatives: negative_summary(&d.hard_negatives, bits, &fixed),
        fpr_thresholds,
        transforms,
        mean_tpr_fixed,
        pooled_recall_at_precision: recall_at_precision(&all_pos, &all_neg, bits, PRECISION_TARGET),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_for_fpr_is_the_largest_allowed() {
        // 1000 pairs: 1 at distance 2, 1 at 3, the rest at 10.
        let mut counts = vec![0u64; 11];
        counts[2] = 1;
        counts[3] = 1;
        counts[10] = 998;
        let h = Histogram {
            counts,
            rejected: 0,
        };
        assert_eq!(threshold_for_fpr(&h, 1e-3), Some(2));
        assert_eq!(threshold_for_fpr(&h, 2e-3), Some(9));
        assert_eq!(threshold_for_fpr(&h, 1e-4), Some(1));
        let mut at0 = h.clone();
        at0.counts[0] = 5;
        assert_eq!(threshold_for_fpr(&at0, 1e-3), None);
    }

    #[test]
    fn recall_at_precision_stops_at_the_first_violation() {
        // Positives 0,1,2,5; nearest negatives 4,9,9,9; threshold 3 keeps precision 1.
        let pos = [Some(0), Some(1), Some(2), Some(5), None];
        let neg = [Some(4), Some(9), Some(9), Some(9), None];
        let r = recall_at_precision(&pos, &neg, 16, 0.9999);
        assert_eq!(r.threshold, Some(3));
        assert_eq!(r.recall, 3.0 / 5.0);
        assert_eq!(r.precision, Some(1.0));
        // A negative at 0 stops everything.
        let r = recall_at_precision(&pos, &[Some(0), None, None, None, None], 16, 0.9999);
        assert_eq!((r.threshold, r.recall), (None, 0.0));
    }
}
