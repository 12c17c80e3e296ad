//! Distances per variant: positives (each transformed copy against its own original), nearest
//! non-matching originals (Thorn's nearest-neighbour negatives), and histograms of all
//! distinct-original pairs and of hard-negative pairs.
//!
//! These are stored in `results.json`; every metric is a function of them alone.

use nearmatch::search::{Queries, Searcher};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::corpus::Corpus;
use crate::variant::HashVariant;
use crate::Error;

/// Counts of pairs per distance, plus pairs whose query was rejected (no hash or below the
/// quality gate: they never match, so they are true negatives).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// `counts[d]`: pairs at distance `d`, for d = 0..=bits.
    pub counts: Vec<u64>,
    /// Pairs whose query produced no probe.
    pub rejected: u64,
}

impl Histogram {
    fn new(bits: u32) -> Histogram {
        Histogram {
            counts: vec![0; bits as usize + 1],
            rejected: 0,
        }
    }

    fn add(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.rejected += other.rejected;
    }

    /// All pairs, rejected ones included (the FPR denominator).
    pub fn pairs(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.rejected
    }

    /// Pairs at distance ≤ `t` (false positives at threshold `t`).
    pub fn at_most(&self, t: u32) -> u64 {
        self.counts.iter().take(t as usize + 1).sum()
    }
}

/// The stored distances of one variant.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantDistances {
    /// The variant's id.
    pub variant: String,
    /// `positive[t][i]`: transform t of original i against original i; `None` = no probe.
    pub positive: Vec<Vec<Option<u16>>>,
    /// `nn_negative[t][i]`: transform t of original i against the nearest other original.
    pub nn_negative: Vec<Vec<Option<u16>>>,
    /// Every pair of distinct originals (i < j; query j, reference i), untransformed.
    pub negatives: Histogram,
    /// Every pair within a hard-negative family (original and its variants; later member is
    /// the query, earlier the reference).
    pub hard_negatives: Histogram,
    /// Mean number of probe digests per transformed copy that had any (1 without probes).
    #[serde(default)]
    pub probes_per_query: f64,
    /// Mean number of probe digests per untransformed original (the cost on unedited files,
    /// most of any seized collection).
    #[serde(default)]
    pub probes_per_original: f64,
}

/// One knn pass: probe words, group offsets, the (transform, original) of each group, and the
/// offset added to its distances.
type SearchPass = (Vec<u64>, Vec<u32>, Vec<(usize, usize)>, u32);

/// Mean number of `wpd`-word digests per probe list (0 for no lists).
fn mean_digests<'a>(lists: impl Iterator<Item = &'a Vec<u64>>, wpd: usize) -> f64 {
    let (lists, digests) = lists.fold((0usize, 0usize), |(n, d), p| (n + 1, d + p.len() / wpd));
    if lists == 0 {
        0.0
    } else {
        digests as f64 / lists as f64
    }
}

/// Computes the stored distances of `variant` over the corpus.
pub fn compute(corpus: &Corpus, variant: &HashVariant) -> Result<VariantDistances, Error> {
    let bits = variant.bits();
    let wpd = bits as usize / 64;
    let n = corpus.originals.len();
    let refs: Vec<Option<&[u64]>> = corpus
        .originals
        .iter()
        .map(|h| variant.reference(h))
        .collect();
    let n_transforms = corpus.queries.first().map_or(0, Vec::len);

    // Positives.
    let mut positive = vec![vec![None; n]; n_transforms];
    let mut probes_of: Vec<Vec<Option<Vec<u64>>>> = vec![Vec::with_capacity(n); n_transforms];
    for (i, qs) in corpus.queries.iter().enumerate() {
        for (t, q) in qs.iter().enumerate() {
            let probes = variant.query(q);
            if let (Some(p), Some(r)) = (&probes, refs[i]) {
                positive[t][i] = Some(variant.distance(p, r) as u16);
            }
            probes_of[t].push(probes);
        }
    }

    let probes_per_query = mean_digests(probes_of.iter().flatten().flatten(), wpd);
    let originals: Vec<Vec<u64>> = corpus
        .originals
        .iter()
        .filter_map(|h| variant.query(h))
        .collect();
    let probes_per_original = mean_digests(originals.iter(), wpd);

    // Nearest non-matching original: the 2 nearest entries contain the nearest one that is not
    // the query's own original.
    let mut set_words = Vec::new();
    let mut set_owner = Vec::new();
    // The unrelated images of `--negatives` are in the list too, owned by no original.
    let distractor_refs: Vec<Option<&[u64]>> = corpus
        .distractors
        .iter()
        .map(|h| variant.reference(h))
        .collect();
    for (i, r) in refs.iter().chain(&distractor_refs).enumerate() {
        if let Some(r) = r {
            set_words.extend_from_slice(r);
            // One owner per digest: a reference may hold several (crop-resistant segments).
            set_owner.extend(std::iter::repeat_n(i, r.len() / wpd));
        }
    }
    // Enough neighbours that one of another original is always among them, however many
    // digests the query's own original has.
    let own_max = refs
        .iter()
        .flatten()
        .map(|r| r.len() / wpd)
        .max()
        .unwrap_or(1);
    let mut nn_negative = vec![vec![None; n]; n_transforms];
    if set_owner.iter().any(|&o| Some(&o) != set_owner.first()) {
        let searcher = Searcher::new(&set_words, wpd)?;
        let mut words = Vec::new();
        let mut offsets = vec![0u32];
        let mut owner = Vec::new();
        for (t, per_t) in probes_of.iter().enumerate() {
            for (i, p) in per_t.iter().enumerate() {
                if let Some(p) = p {
                    words.extend_from_slice(p);
                    offsets.push((words.len() / wpd) as u32);
                    owner.push((t, i));
                }
            }
        }
        if !owner.is_empty() {
            // With a probe offset the plain probes and the others are searched apart (the
            // nearest entry by raw distance is not the nearest by offset distance).
            let passes: Vec<SearchPass> = if variant.probe_delta == 0 {
                vec![(words, offsets, owner, 0)]
            } else {
                let (mut plain, mut rest) = (Vec::new(), Vec::new());
                let (mut po, mut ro) = (vec![0u32], vec![0u32]);
                let mut rest_owner = Vec::new();
                for (g, &who) in offsets.windows(2).zip(&owner) {
                    let probes = &words[g[0] as usize * wpd..g[1] as usize * wpd];
                    plain.extend_from_slice(&probes[..wpd]);
                    po.push((plain.len() / wpd) as u32);
                    if probes.len() > wpd {
                        rest.extend_from_slice(&probes[wpd..]);
                        ro.push((rest.len() / wpd) as u32);
                        rest_owner.push(who);
                    }
                }
                vec![
                    (plain, po, owner, 0),
                    (rest, ro, rest_owner, variant.probe_delta),
                ]
            };
            for (words, offsets, owner, delta) in passes {
                if owner.is_empty() {
                    continue;
                }
                let queries = Queries::grouped(&words, wpd, &offsets)?;
                for m in searcher.knn(&queries, own_max + 1)? {
                    let (t, i) = owner[m.query as usize];
                    if set_owner[m.entry as usize] == i {
                        continue;
                    }
                    let d = (u32::from(m.distance) + delta).min(bits) as u16;
                    let slot = &mut nn_negative[t][i];
                    *slot = Some(slot.map_or(d, |s: u16| s.min(d)));
                }
            }
        }
    }

    // All distinct-original pairs (the unrelated images of `--negatives` count as originals
    // here).
    let all_refs: Vec<Option<&[u64]>> = refs.iter().chain(&distractor_refs).copied().collect();
    let original_probes: Vec<Option<Vec<u64>>> = corpus
        .originals
        .iter()
        .chain(&corpus.distractors)
        .map(|h| variant.query(h))
        .collect();
    let negatives = (1..all_refs.len())
        .into_par_iter()
        .fold(
            || Histogram::new(bits),
            |mut hist, j| {
                for r in all_refs[..j].iter().flatten() {
                    match &original_probes[j] {
                        Some(p) => hist.counts[variant.distance(p, r) as usize] += 1,
                        None => hist.rejected += 1,
                    }
                }
                hist
            },
        )
        .reduce(
            || Histogram::new(bits),
            |mut a, b| {
                a.add(&b);
                a
            },
        );

    // Hard-negative families.
    let mut hard_negatives = Histogram::new(bits);
    for (i, hard) in corpus.hard.iter().enumerate() {
        let members: Vec<&crate::variant::ImageHashes> =
            std::iter::once(&corpus.originals[i]).chain(hard).collect();
        for b in 1..members.len() {
            let probes = variant.query(members[b]);
            for a in members.iter().take(b) {
                let Some(r) = variant.reference(a) else {
                    continue;
                };
                match &probes {
                    Some(p) => hard_negatives.counts[variant.distance(p, r) as usize] += 1,
                    None => hard_negatives.rejected += 1,
                }
            }
        }
    }

    Ok(VariantDistances {
        variant: variant.id.to_string(),
        positive,
        nn_negative,
        negatives,
        hard_negatives,
        probes_per_query,
        probes_per_original,
    })
}
