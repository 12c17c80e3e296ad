//! The one probe-aware match: which entries a query image's probes reach, and which probe won.
//!
//! A query image is a list of [`QueryProbe`]s: the file's own hash first, then whatever the
//! probe families derived from the same decode (flips and rotations by 90°, trims, crops, small
//! rotations, the content box). Every caller (the scan, `nearmatch match`, Python) matches such
//! lists with [`Searcher::match_probes`], so they all follow the same rule:
//!
//! - a probe marked [`ProbeRadius::Set`] is searched at `radii.set`, a [`ProbeRadius::Derived`]
//!   one at `min(radii.set, radii.derived)`: a derived probe never reaches further than the
//!   file's own hash;
//! - within one query, probes with identical digests count once: the first keeps its index and
//!   its radius, later copies are dropped whatever their radius;
//! - every (query, entry) that at least one probe reaches within that probe's radius gives
//!   exactly one [`ProbeMatch`], with the smallest distance over those probes, ties to the
//!   lowest index in the query's list (the plain hash comes first in every list, so it wins
//!   every tie it is part of);
//! - results are sorted by (query, entry); a query with no probes matches nothing.
//!
//! It runs on the batched engines: one [`Searcher::radius_search`] per radius class (a single
//! one when both radii are equal), each query's probes of that class forming one group, so the
//! multi-index and the blocked scan keep their speed.

use std::collections::HashSet;

use super::{Engine, QueryBatch, Searcher, MAX_PROBES};
use crate::digest::{AnyDigest, Digest256, Digest64};
use crate::error::{Error, Result};
use crate::probe::{Probe, ProbeKind};
use rayon::prelude::*;

/// Which radius a probe is searched at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeRadius {
    /// The set's radius: the file's own hash and its lossless re-orientations (flips, rotations by 90°).
    Set,
    /// The derived-probe radius, `min(set radius, derived radius)`: trim, crop, rotate, content-box, ...
    Derived,
}

/// One probe digest of a query image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryProbe {
    /// The probe's digest (its width must be the searched set's).
    pub digest: AnyDigest,
    /// The radius it is searched at.
    pub radius: ProbeRadius,
}

impl QueryProbe {
    /// The probe of a PDQ `probe::Probe`: `Set` for the plain kind in any orientation, `Derived` otherwise.
    pub fn of(p: &Probe) -> Self {
        QueryProbe {
            digest: AnyDigest::D256(p.digest),
            radius: if p.kind == ProbeKind::Plain {
                ProbeRadius::Set
            } else {
                ProbeRadius::Derived
            },
        }
    }

    /// A probe searched at the set's radius (the plain hash of any algorithm).
    pub fn plain(digest: AnyDigest) -> Self {
        QueryProbe {
            digest,
            radius: ProbeRadius::Set,
        }
    }
}

/// The radii of a probe-aware search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeRadii {
    /// Radius of `ProbeRadius::Set` probes.
    pub set: u32,
    /// Radius of `ProbeRadius::Derived` probes before capping at `set`.
    pub derived: u32,
}

/// One matched (query, entry) and the probe that reached it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProbeMatch {
    /// Index of the query in the list searched.
    pub query: usize,
    /// Entry index in the searched set.
    pub entry: usize,
    /// Hamming distance between the winning probe and the entry.
    pub distance: u32,
    /// Index of the winning probe in the query's own probe list (as given, before deduplication).
    pub probe: usize,
}

/// The probes of one radius class as one batch of query groups, and where each came from.
struct Class {
    batch: QueryBatch,
    /// Batch query -> caller's query.
    query: Vec<usize>,
    /// Batch query -> start of its probes in `index`.
    start: Vec<usize>,
    /// Per batch probe, in batch order: its index in the caller's probe list.
    index: Vec<usize>,
    /// The group being collected (only the one of the set's width is used).
    d64: Vec<Digest64>,
    d256: Vec<Digest256>,
}

impl Class {
    fn new(words_per_digest: usize) -> Self {
        Class {
            batch: QueryBatch::new(words_per_digest),
            query: Vec::new(),
            start: Vec::new(),
            index: Vec::new(),
            d64: Vec::new(),
            d256: Vec::new(),
        }
    }

    /// Adds probe `index` of the current query to the group being collected.
    fn add(&mut self, digest: AnyDigest, index: usize) {
        match digest {
            AnyDigest::D64(d) => self.d64.push(d),
            AnyDigest::D256(d) => self.d256.push(d),
        }
        self.index.push(index);
    }

    /// Closes the group of `query` (nothing when it has no probe of this class).
    fn close(&mut self, query: usize) {
        // The group's probes are the last ones added to `index`.
        let start = self.index.len() - self.d64.len() - self.d256.len();
        if !self.d64.is_empty() {
            self.batch.push_group(&self.d64);
        } else if !self.d256.is_empty() {
            self.batch.push_group(&self.d256);
        } else {
            return;
        }
        self.d64.clear();
        self.d256.clear();
        self.query.push(query);
        self.start.push(start);
    }
}

impl Searcher<'_> {
    /// Every (query, entry) that some probe of the query reaches within its radius, once, with the closest probe.
    ///
    /// The rule (the same for every caller): a probe marked [`ProbeRadius::Set`] is searched at
    /// `radii.set`, a [`ProbeRadius::Derived`] one at `min(radii.set, radii.derived)`; within a
    /// query, probes with identical digests count once (the first keeps its index and radius);
    /// for each (query, entry) reached by at least one probe within that probe's radius there
    /// is exactly one [`ProbeMatch`]: the smallest distance, ties to the lowest probe index in
    /// the query's list. Results are sorted by (query, entry); a query with no probes matches
    /// nothing.
    ///
    /// Errors ([`Error::InvalidArgument`]): a digest whose width differs from the set's, a
    /// query with more than [`MAX_PROBES`] probes, more than 2^32 probes in all, or
    /// [`Engine::Mih`] on a searcher without an index.
    pub fn match_probes(
        &self,
        queries: &[&[QueryProbe]],
        radii: ProbeRadii,
        engine: Engine,
    ) -> Result<Vec<ProbeMatch>> {
        if engine == Engine::Mih && self.mih.is_none() {
            return Err(Error::InvalidArgument(
                "multi-index search requested but the set has no index".into(),
            ));
        }
        let set_r = radii.set;
        let derived_r = radii.set.min(radii.derived);
        // With equal radii one search serves both classes: its groups keep the list order, so
        // the search's own tie rule (lowest probe in the group) is the list-order rule.
        let split = derived_r < set_r;
        let mut classes = [
            Class::new(self.words_per_digest),
            Class::new(self.words_per_digest),
        ];
        let mut seen: HashSet<AnyDigest> = HashSet::new();
        for (qi, probes) in queries.iter().enumerate() {
            if probes.len() > MAX_PROBES {
                return Err(Error::InvalidArgument(format!(
                    "query {qi} has {} probes, at most {MAX_PROBES} are supported",
                    probes.len()
                )));
            }
            seen.clear();
            for (pi, p) in probes.iter().enumerate() {
                if p.digest.bits() != self.bits() as usize {
                    return Err(Error::InvalidArgument(format!(
                        "query {qi}, probe {pi}: a {}-bit digest against a {}-bit set",
                        p.digest.bits(),
                        self.bits()
                    )));
                }
                if !seen.insert(p.digest) {
                    continue;
                }
                let c = usize::from(split && p.radius == ProbeRadius::Derived);
                classes[c].add(p.digest, pi);
            }
            for class in &mut classes {
                class.close(qi);
            }
        }
        if classes.iter().any(|c| c.index.len() > u32::MAX as usize) {
            return Err(Error::InvalidArgument(
                "more than 2^32 probes in one search".into(),
            ));
        }
        let searched = classes.iter().filter(|c| !c.query.is_empty()).count();
        let mut out = Vec::new();
        for (class, r) in classes.iter().zip([set_r, derived_r]) {
            if class.query.is_empty() {
                continue;
            }
            let found = self.radius_search(&class.batch.queries(), r, engine)?;
            out.extend(found.into_iter().map(|m| {
                let b = m.query as usize;
                ProbeMatch {
                    query: class.query[b],
                    entry: m.entry as usize,
                    distance: u32::from(m.distance),
                    probe: class.index[class.start[b] + usize::from(m.probe)],
                }
            }));
        }
        // One search is already one match per (query, entry) in order: batch queries follow
        // the caller's, groups keep list order. Two are merged: the field order of
        // `ProbeMatch` sorts by (query, entry, distance, probe), so the first of each pair wins.
        if searched > 1 {
            out.par_sort_unstable();
            out.dedup_by_key(|m| (m.query, m.entry));
        }
        Ok(out)
    }
}
