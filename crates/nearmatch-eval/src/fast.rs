//! Fast mode against exact mode (issue #8's rule): how far the fast hash of an image is from
//! its exact hash, and how much each transform's TPR drops when copies are hashed the fast way.
//!
//! The rule for making `--fast` the scan default is "PDQ p99 ≤ 4 bits and no eval TPR drops
//! by more than 0.5 points"; [`FastAgreement::verdict`] applies it to one run.

use serde::Serialize;

use crate::corpus::Corpus;
use crate::metrics::VariantMetrics;
use crate::variant::{distance, ImageHashes, Reduction, FAST_ALGORITHMS};
use nearmatch::hash::Algorithm;

/// The bound on the exact-vs-fast PDQ distance (99th percentile, bits).
pub const MAX_PDQ_P99: u32 = 4;
/// The bound on any TPR drop, in percentage points.
pub const MAX_TPR_DROP_POINTS: f64 = 0.5;

/// Summary of exact-vs-fast distances of one algorithm over a group of images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DistanceSummary {
    /// Images counted (those a fast scan reduces).
    pub images: u64,
    /// Mean distance.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: u32,
    /// 99th percentile (nearest rank).
    pub p99: u32,
    /// Largest distance.
    pub max: u32,
}

impl DistanceSummary {
    /// Summarises `d` (sorted in place); `None` when empty.
    pub fn of(d: &mut [u32]) -> Option<DistanceSummary> {
        if d.is_empty() {
            return None;
        }
        d.sort_unstable();
        let rank = |q: f64| d[((q * d.len() as f64).ceil() as usize).clamp(1, d.len()) - 1];
        Some(DistanceSummary {
            images: d.len() as u64,
            mean: d.iter().map(|&x| f64::from(x)).sum::<f64>() / d.len() as f64,
            p50: rank(0.5),
            p99: rank(0.99),
            max: d[d.len() - 1],
        })
    }
}

/// (algorithm name, summary over the reduced images; `None` when none was reduced).
pub type PerAlgorithm = Vec<(String, Option<DistanceSummary>)>;

/// Exact-vs-fast distances of one group of images.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FastGroup {
    /// What the group holds.
    pub name: String,
    /// Images in the group, reduced or not.
    pub images: u64,
    /// Images a fast scan reduces (the others it hashes exactly: distance 0, not counted).
    pub reduced: u64,
    /// Per algorithm of [`FAST_ALGORITHMS`] (name, summary over the reduced images).
    pub distances: PerAlgorithm,
}

/// One transform's TPR at the first fixed threshold, exact and fast, for one algorithm.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TprDrop {
    /// Transform id.
    pub transform: String,
    /// The exact variant's TPR (0–1).
    pub exact: f64,
    /// The fast variant's TPR (0–1).
    pub fast: f64,
}

impl TprDrop {
    /// Drop in percentage points (negative: fast found more).
    pub fn points(&self) -> f64 {
        100.0 * (self.exact - self.fast)
    }
}

/// TPR per transform, exact against fast, for one pair of variants.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TprComparison {
    /// The exact variant's id (`pdq`, `phash`).
    pub exact_variant: String,
    /// The fast variant's id (`pdq-fast`, `phash-fast`).
    pub fast_variant: String,
    /// The threshold compared (the first fixed threshold: 31 of 256 bits, 8 of 64).
    pub threshold: u32,
    /// Per transform.
    pub transforms: Vec<TprDrop>,
}

impl TprComparison {
    /// The transform with the largest drop.
    pub fn largest_drop(&self) -> Option<&TprDrop> {
        self.transforms
            .iter()
            .max_by(|a, b| a.points().total_cmp(&b.points()))
    }
}

/// Fast against exact over a whole run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FastAgreement {
    /// Groups: originals and hard negatives (box), pixel copies (box), JPEG copies (scaled
    /// IDCT), everything.
    pub groups: Vec<FastGroup>,
    /// Per transform, exact-vs-fast distances of the copies (name, per algorithm).
    pub per_transform: Vec<(String, PerAlgorithm)>,
    /// TPR exact vs fast, for each (exact, fast) variant pair present in the run.
    pub tpr: Vec<TprComparison>,
}

/// Exact-vs-fast distances of `algo` for the images among `hs` that a fast scan reduces.
fn fast_distances<'a>(hs: impl Iterator<Item = &'a ImageHashes>, algo: Algorithm) -> Vec<u32> {
    hs.filter(|h| h.fast.is_some())
        .filter_map(|h| {
            let (e, f) = (h.digest(algo)?, h.fast_digest(algo)?);
            Some(distance(e.words(), f.words()))
        })
        .collect()
}

fn group(name: &str, hs: Vec<&ImageHashes>) -> FastGroup {
    let distances = FAST_ALGORITHMS
        .iter()
        .map(|&a| {
            let mut d = fast_distances(hs.iter().copied(), a);
            (a.name().to_string(), DistanceSummary::of(&mut d))
        })
        .collect();
    FastGroup {
        name: name.to_string(),
        images: hs.len() as u64,
        reduced: hs.iter().filter(|h| h.fast.is_some()).count() as u64,
        distances,
    }
}

/// The exact/fast variant pairs compared: (exact id, fast id).
pub const PAIRS: [(&str, &str); 2] = [("pdq", "pdq-fast"), ("phash", "phash-fast")];

/// Computes the agreement over the corpus and the runs' metrics.
pub fn compute(
    corpus: &Corpus,
    transform_ids: &[String],
    metrics: &[VariantMetrics],
) -> FastAgreement {
    let originals: Vec<&ImageHashes> = corpus
        .originals
        .iter()
        .chain(corpus.hard.iter().flatten())
        .collect();
    let copies: Vec<&ImageHashes> = corpus.queries.iter().flatten().collect();
    let by = |r: Reduction| -> Vec<&ImageHashes> {
        copies
            .iter()
            .copied()
            .filter(|h| h.fast.as_ref().is_some_and(|f| f.reduction == r))
            .collect()
    };
    let all: Vec<&ImageHashes> = originals.iter().chain(&copies).copied().collect();
    let groups = vec![
        group("originals and hard negatives (box)", originals.clone()),
        group("pixel-transformed copies (box)", {
            let mut v = by(Reduction::Box);
            // Copies too small to reduce count as images of their group, not as reduced.
            v.extend(copies.iter().copied().filter(|h| h.fast.is_none()));
            v
        }),
        group("JPEG copies (scaled IDCT)", by(Reduction::JpegIdct)),
        group("all images", all),
    ];
    let per_transform = transform_ids
        .iter()
        .enumerate()
        .map(|(t, id)| {
            let hs: Vec<&ImageHashes> = corpus.queries.iter().map(|q| &q[t]).collect();
            (id.clone(), group(id, hs).distances)
        })
        .collect();
    let find = |id: &str| metrics.iter().find(|m| m.variant == id);
    let tpr = PAIRS
        .iter()
        .filter_map(|&(e, f)| {
            let (me, mf) = (find(e)?, find(f)?);
            Some(TprComparison {
                exact_variant: e.to_string(),
                fast_variant: f.to_string(),
                threshold: me.fixed_thresholds[0],
                transforms: me
                    .transforms
                    .iter()
                    .zip(&mf.transforms)
                    .map(|(a, b)| TprDrop {
                        transform: a.transform.clone(),
                        exact: a.tpr_fixed[0].rate,
                        fast: b.tpr_fixed[0].rate,
                    })
                    .collect(),
            })
        })
        .collect();
    FastAgreement {
        groups,
        per_transform,
        tpr,
    }
}

impl FastAgreement {
    /// PDQ's exact-vs-fast summary over every reduced image, if any image was reduced.
    pub fn pdq_all(&self) -> Option<&DistanceSummary> {
        self.groups
            .last()?
            .distances
            .iter()
            .find(|(a, _)| a == "pdq")?
            .1
            .as_ref()
    }

    /// Issue #8's rule on this run: `Some(true)` if fast mode may be the scan default,
    /// `Some(false)` if not, `None` when no image was reduced (nothing measured).
    pub fn verdict(&self) -> Option<bool> {
        let p99 = self.pdq_all()?.p99;
        let worst = self
            .tpr
            .iter()
            .filter_map(|c| c.largest_drop().map(TprDrop::points))
            .fold(f64::NEG_INFINITY, f64::max);
        Some(p99 <= MAX_PDQ_P99 && worst <= MAX_TPR_DROP_POINTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_uses_nearest_rank_percentiles() {
        // 100 values 0..=99: p50 is the 50th smallest (49), p99 the 99th (98).
        let mut d: Vec<u32> = (0..100).rev().collect();
        let s = DistanceSummary::of(&mut d).unwrap();
        assert_eq!((s.images, s.p50, s.p99, s.max), (100, 49, 98, 99));
        assert!((s.mean - 49.5).abs() < 1e-12);
        assert_eq!(DistanceSummary::of(&mut []), None);
    }

    #[test]
    fn verdict_applies_both_bounds() {
        let summary = |p99| DistanceSummary {
            images: 10,
            mean: 1.0,
            p50: 0,
            p99,
            max: p99,
        };
        let run = |p99, exact: f64, fast: f64| FastAgreement {
            groups: vec![FastGroup {
                name: "all images".into(),
                images: 10,
                reduced: 10,
                distances: vec![("pdq".into(), Some(summary(p99)))],
            }],
            per_transform: Vec::new(),
            tpr: vec![TprComparison {
                exact_variant: "pdq".into(),
                fast_variant: "pdq-fast".into(),
                threshold: 31,
                transforms: vec![TprDrop {
                    transform: "jpeg-90".into(),
                    exact,
                    fast,
                }],
            }],
        };
        assert_eq!(run(4, 0.900, 0.896).verdict(), Some(true));
        assert_eq!(run(5, 0.900, 0.900).verdict(), Some(false));
        assert_eq!(run(4, 0.900, 0.890).verdict(), Some(false));
        let mut none = run(4, 0.9, 0.9);
        none.groups[0].distances[0].1 = None;
        assert_eq!(none.verdict(), None);
    }
}
