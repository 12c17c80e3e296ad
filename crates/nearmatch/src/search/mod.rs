//! Exact Hamming-radius and k-nearest search: a blocked linear scan and multi-index hashing.
//!
//! The searched set is a flat slice of packed digest words (`words_per_digest` = 1 for 64-bit,
//! 4 for 256-bit digests, word order as in [`Digest`]), typically borrowed from a memory-mapped
//! hash-set file. A query is a *group* of probe digests (e.g. the 8 dihedral PDQ hashes of one
//! image): an entry matches the query if it matches any probe, and each [`Match`] reports the
//! smallest distance over the probes and the (lowest) probe index that achieved it.
//!
//! Both engines are exact: [`Engine::Scan`] compares every entry, [`Engine::Mih`] uses a
//! [`MihIndex`] and verifies every candidate with the full distance. [`Engine::Auto`] picks by
//! estimated cost, and the multi-index falls back to the scan for any probe whose buckets would
//! yield too many candidates (clustered lists).
//!
//! Query images with probes of two radii (the plain hash and its re-orientations at the set's
//! radius, derived probes such as trims and crops at a tighter one) go through
//! [`Searcher::match_probes`], the one probe-aware match every caller uses (its documentation
//! states the rule: distinct digests, closest probe, ties to the earliest in the query's list).
//!
//! ```
//! use nearmatch::digest::Digest256;
//! use nearmatch::search::{pack, Engine, MihIndex, QueryBatch, Searcher};
//!
//! let set: Vec<Digest256> = (0..100u64).map(|i| Digest256::from_words([i, !i, i * 7, 0])).collect();
//! let words = pack(&set);
//! let index = MihIndex::build_auto(&words, 4).unwrap();
//! let searcher = Searcher::new(&words, 4).unwrap().with_index(index.view()).unwrap();
//!
//! let mut queries = QueryBatch::new(4);
//! queries.push_group(&[set[5], Digest256::ZERO]); // one query, two probes
//! let hits = searcher.radius_search(&queries.queries(), 0, Engine::Auto).unwrap();
//! assert_eq!(hits.len(), 1);
//! assert_eq!((hits[0].query, hits[0].entry, hits[0].probe, hits[0].distance), (0, 5, 0, 0));
//! ```

pub(crate) mod mih;
#[cfg(test)]
mod probe_tests;
mod probes;
mod scan;
#[cfg(test)]
mod tests;

use mih::{prefetch, BucketSlot, Corrupt, PREFETCH_AHEAD};
pub use mih::{MihIndex, MihParams, MihRef};
pub use probes::{ProbeMatch, ProbeRadii, ProbeRadius, QueryProbe};
pub use scan::Level;

use crate::digest::Digest;
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::path::Path;

/// One result: entry `entry` is within the radius of query `query`, at `distance`, reached by
/// probe `probe` of the query's group (the lowest such probe when several tie).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Match {
    /// Query (group) index.
    pub query: u32,
    /// Entry index in the searched set.
    pub entry: u32,
    /// Index of the probe within the query's group.
    pub probe: u16,
    /// Hamming distance between that probe and the entry.
    pub distance: u16,
}

/// Which search engine to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// Choose by estimated cost (the multi-index when present and cheaper).
    #[default]
    Auto,
    /// Compare every entry.
    Scan,
    /// Multi-index hashing (an error if the searcher has no index).
    Mih,
}

/// A hit before grouping: global probe index, entry, distance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawHit {
    pub probe: u32,
    pub entry: u32,
    pub distance: u16,
}

/// Copies digests into the flat word layout the searcher reads.
pub fn pack<const W: usize>(digests: &[Digest<W>]) -> Vec<u64> {
    digests.iter().flat_map(|d| d.0).collect()
}

/// Largest number of probes in one query group (probe indices are `u16`).
pub const MAX_PROBES: usize = 1 << 16;

/// A borrowed batch of queries: probe words plus, optionally, group boundaries.
#[derive(Clone, Copy, Debug)]
pub struct Queries<'a> {
    words: &'a [u64],
    words_per_digest: usize,
    /// `groups + 1` probe offsets; `None` means one probe per query.
    offsets: Option<&'a [u32]>,
}

impl<'a> Queries<'a> {
    /// One probe per query: `words` holds the digests back to back.
    pub fn single(words: &'a [u64], words_per_digest: usize) -> Result<Self> {
        check_words(words, words_per_digest, "queries")?;
        if words.len() / words_per_digest > u32::MAX as usize {
            return Err(Error::InvalidArgument("more than 2^32 queries".into()));
        }
        Ok(Queries {
            words,
            words_per_digest,
            offsets: None,
        })
    }

    /// Grouped probes: query `g` owns probes `offsets[g]..offsets[g + 1]`. `offsets` starts at
    /// 0, never decreases, ends at the probe count, and no group exceeds [`MAX_PROBES`].
    pub fn grouped(words: &'a [u64], words_per_digest: usize, offsets: &'a [u32]) -> Result<Self> {
        check_words(words, words_per_digest, "queries")?;
        let probes = words.len() / words_per_digest;
        let bad = |why: &str| Err(Error::InvalidArgument(format!("query groups: {why}")));
        if offsets.first() != Some(&0) || offsets.last().map(|&l| l as usize) != Some(probes) {
            return bad("offsets must start at 0 and end at the probe count");
        }
        for p in offsets.windows(2) {
            if p[0] > p[1] {
                return bad("offsets decrease");
            }
            if (p[1] - p[0]) as usize > MAX_PROBES {
                return bad("a group has more than 65536 probes");
            }
        }
        Ok(Queries {
            words,
            words_per_digest,
            offsets: Some(offsets),
        })
    }

    /// Number of queries (groups).
    pub fn len(&self) -> usize {
        match self.offsets {
            Some(o) => o.len() - 1,
            None => self.probes(),
        }
    }

    /// Whether there are no queries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total number of probe digests.
    pub fn probes(&self) -> usize {
        self.words.len() / self.words_per_digest
    }

    /// (query, probe-within-query) of every probe, in probe order.
    fn owners(&self) -> Vec<(u32, u16)> {
        match self.offsets {
            None => (0..self.probes() as u32).map(|q| (q, 0)).collect(),
            Some(o) => o
                .windows(2)
                .enumerate()
                .flat_map(|(g, p)| (0..p[1] - p[0]).map(move |i| (g as u32, i as u16)))
                .collect(),
        }
    }
}

/// An owned batch of query groups, built one group at a time.
#[derive(Clone, Debug)]
pub struct QueryBatch {
    words: Vec<u64>,
    offsets: Vec<u32>,
    words_per_digest: usize,
}

impl QueryBatch {
    /// An empty batch for digests of `words_per_digest` words.
    pub fn new(words_per_digest: usize) -> Self {
        QueryBatch {
            words: Vec::new(),
            offsets: vec![0],
            words_per_digest,
        }
    }

    /// Appends one query made of `probes` (at most [`MAX_PROBES`]); returns its index.
    ///
    /// # Panics
    /// If the digest width differs from the batch's or the group is too large: both are
    /// programming errors, not input errors.
    pub fn push_group<const W: usize>(&mut self, probes: &[Digest<W>]) -> u32 {
        assert_eq!(
            W, self.words_per_digest,
            "digest width differs from the batch"
        );
        assert!(probes.len() <= MAX_PROBES, "more than 65536 probes");
        for p in probes {
            self.words.extend_from_slice(&p.0);
        }
        self.offsets.push((self.words.len() / W) as u32);
        (self.offsets.len() - 2) as u32
    }

    /// The batch as borrowed queries.
    pub fn queries(&self) -> Queries<'_> {
        Queries {
            words: &self.words,
            words_per_digest: self.words_per_digest,
            offsets: Some(&self.offsets),
        }
    }
}

fn check_words(words: &[u64], wpd: usize, what: &str) -> Result<()> {
    if !(1..=4).contains(&wpd) {
        return Err(Error::InvalidArgument(format!(
            "{what}: {wpd} words per digest (1..=4 supported)"
        )));
    }
    if !words.len().is_multiple_of(wpd) {
        return Err(Error::InvalidArgument(format!(
            "{what}: {} words is not a whole number of {wpd}-word digests",
            words.len()
        )));
    }
    Ok(())
}

// Cost model for Engine::Auto and the per-probe fallback, in nanoseconds on one core (measured
// with benches/search_peers.py and examples/mih_ab on AVX-512 hardware; only the ratios
// matter). The scan runs at ~23 G comparisons/s. The multi-index, with its reads prefetched,
// fits t = 30 ns per bucket + 9 ns per candidate on a random 10M x 256 set: r = 31 (2,032
// buckets, 7,267 candidates) 126 µs measured / 126 model; r = 23 (268, 1,058) 18.4 / 17.6;
// r = 15 (100, 257) 6.6 / 5.3. At 1M and r = 31 the model gives 49 µs against the scan's 44
// (measured 39 and 41: a tie either way).
/// Scan cost per entry and probe, per word, with vector popcount.
const SCAN_NS_PER_WORD: f64 = 0.011;
/// Extra factor for the scan without a vector popcount.
const SCAN_SCALAR_FACTOR: f64 = 3.0;
/// One bucket lookup (its offsets and the start of its ids: two cache misses on large sets,
/// overlapped by prefetching).
const MIH_NS_PER_BUCKET: f64 = 30.0;
/// Verifying one candidate (a prefetched random read of its digest plus the distance).
const MIH_NS_PER_CANDIDATE: f64 = 9.0;

/// Estimated multi-index cost of one probe at radius `r` over `n` random entries, in ns.
fn mih_cost(p: &MihParams, n: usize, r: u32) -> f64 {
    p.probes_per_query(r) * MIH_NS_PER_BUCKET + p.expected_candidates(n, r) * MIH_NS_PER_CANDIDATE
}

/// Exact search over a packed digest set, optionally with a multi-index.
#[derive(Clone, Copy, Debug)]
pub struct Searcher<'a> {
    digests: &'a [u64],
    words_per_digest: usize,
    n: usize,
    mih: Option<MihRef<'a>>,
    level: Level,
    /// The set file searched, named in errors about its stored index.
    origin: Option<&'a Path>,
    /// Digest bytes from which multi-index candidates are verified grouped by entry.
    group_from: usize,
}

impl<'a> Searcher<'a> {
    /// A scan-only searcher over `digests` (`words_per_digest` words each, 1..=4).
    pub fn new(digests: &'a [u64], words_per_digest: usize) -> Result<Self> {
        check_words(digests, words_per_digest, "set")?;
        let n = digests.len() / words_per_digest;
        if n > u32::MAX as usize {
            return Err(Error::InvalidArgument("more than 2^32 entries".into()));
        }
        Ok(Searcher {
            digests,
            words_per_digest,
            n,
            mih: None,
            level: Level::detect(),
            origin: None,
            group_from: GROUP_FROM_BYTES,
        })
    }

    /// Names the file the digests and index come from, for errors about corrupted tables.
    pub fn with_origin(mut self, path: &'a Path) -> Self {
        self.origin = Some(path);
        self
    }

    /// Adds a multi-index built over the same digests.
    pub fn with_index(mut self, mih: MihRef<'a>) -> Result<Self> {
        if mih.len() != self.n || mih.params().words_per_digest() != self.words_per_digest {
            return Err(Error::InvalidArgument(format!(
                "multi-index of {} x {}-bit entries does not fit a set of {} x {}-bit entries",
                mih.len(),
                mih.params().bits,
                self.n,
                self.bits()
            )));
        }
        self.mih = Some(mih);
        Ok(self)
    }

    /// Runs the scan kernels compiled for `level` instead of the best detected one (for
    /// benchmarks and tests); an error if this CPU lacks it.
    pub fn with_level(mut self, level: Level) -> Result<Self> {
        if !level.is_supported() {
            return Err(Error::InvalidArgument(format!(
                "CPU does not support {}",
                level.name()
            )));
        }
        self.level = level;
        Ok(self)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Digest width in bits.
    pub fn bits(&self) -> u32 {
        64 * self.words_per_digest as u32
    }

    /// The multi-index this searcher uses, if it has one.
    pub fn index(&self) -> Option<MihRef<'a>> {
        self.mih
    }

    /// The scan kernel level in use.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Estimated scan cost of one probe, in nanoseconds.
    fn scan_cost(&self) -> f64 {
        let f = if self.level == Level::Avx512 {
            1.0
        } else {
            SCAN_SCALAR_FACTOR
        };
        self.n as f64 * self.words_per_digest as f64 * SCAN_NS_PER_WORD * f
    }

    /// Candidates above which a multi-index probe is cheaper to scan.
    fn fallback_limit(&self) -> usize {
        let by_cost = (self.scan_cost() / MIH_NS_PER_CANDIDATE) as usize;
        by_cost.clamp(self.n / 256, self.n / 64).max(64)
    }

    /// The engine [`Engine::Auto`] would run for radius `r`.
    pub fn choose(&self, r: u32) -> Engine {
        let Some(mih) = &self.mih else {
            return Engine::Scan;
        };
        if mih_cost(&mih.params(), self.n, r) < self.scan_cost() {
            Engine::Mih
        } else {
            Engine::Scan
        }
    }

    fn check_queries(&self, q: &Queries<'_>) -> Result<()> {
        if q.words_per_digest != self.words_per_digest {
            return Err(Error::InvalidArgument(format!(
                "{}-bit queries against a {}-bit set",
                64 * q.words_per_digest,
                self.bits()
            )));
        }
        Ok(())
    }

    /// Every (query, entry) with distance `<= r` for some probe of the query, and nothing
    /// else, sorted by (query, entry) whatever the thread count.
    pub fn radius_search(
        &self,
        queries: &Queries<'_>,
        r: u32,
        engine: Engine,
    ) -> Result<Vec<Match>> {
        self.check_queries(queries)?;
        let engine = match engine {
            Engine::Auto => self.choose(r),
            Engine::Mih if self.mih.is_none() => {
                return Err(Error::InvalidArgument(
                    "multi-index search requested but the set has no index".into(),
                ))
            }
            e => e,
        };
        let r = r.min(self.bits());
        let hits = match engine {
            Engine::Mih => self
                .mih_hits(queries.words, r, self.fallback_limit())
                .map_err(|Corrupt(why)| {
                    let reason = format!("multi-index tables are corrupted: {why}");
                    match self.origin {
                        Some(path) => Error::InvalidSet {
                            path: path.to_path_buf(),
                            reason,
                        },
                        None => Error::InvalidArgument(reason),
                    }
                })?,
            _ => self.scan_hits(queries.words, r),
        };
        Ok(group_hits(hits, &queries.owners()))
    }

    /// This searcher with candidates grouped by entry from `bytes` of digests on (tests use it
    /// to take the large-set path on small sets).
    #[cfg(test)]
    pub(crate) fn with_group_from(mut self, bytes: usize) -> Self {
        self.group_from = bytes;
        self
    }

    /// Like [`Searcher::radius_search`] with the multi-index and an explicit fallback limit
    /// (tests use it to force both paths).
    #[cfg(test)]
    pub(crate) fn mih_search_with_limit(
        &self,
        queries: &Queries<'_>,
        r: u32,
        limit: usize,
    ) -> Vec<Match> {
        let hits = self
            .mih_hits(queries.words, r.min(self.bits()), limit)
            .expect("tables built in the test are valid");
        group_hits(hits, &queries.owners())
    }

    /// Radius scan of all probes in `words`.
    fn scan_hits(&self, words: &[u64], r: u32) -> Vec<RawHit> {
        match self.words_per_digest {
            1 => self.scan_hits_w::<1>(words, r),
            2 => self.scan_hits_w::<2>(words, r),
            3 => self.scan_hits_w::<3>(words, r),
            _ => self.scan_hits_w::<4>(words, r),
        }
    }

    fn scan_hits_w<const W: usize>(&self, words: &[u64], r: u32) -> Vec<RawHit> {
        let probes = words.len() / W;
        if probes == 0 || self.n == 0 {
            return Vec::new();
        }
        // Tasks are (query block x entry range) so that a handful of queries still spreads
        // over all threads; each entry range is at least a few tiles.
        let qb = scan::QUERY_BLOCK;
        let q_blocks = probes.div_ceil(qb);
        let want = rayon::current_num_threads() * 4;
        let min_range = scan::TILE_ENTRIES * 16;
        let e_ranges = want
            .div_ceil(q_blocks)
            .min(self.n.div_ceil(min_range))
            .max(1);
        let range_len = self.n.div_ceil(e_ranges);
        let radii = vec![r; qb.min(probes)];
        let level = self.level;
        let digests = self.digests;
        let n = self.n;
        let parts: Vec<Vec<RawHit>> = (0..q_blocks * e_ranges)
            .into_par_iter()
            .map(|t| {
                let (qbi, ei) = (t / e_ranges, t % e_ranges);
                let p0 = qbi * qb;
                let p1 = (p0 + qb).min(probes);
                let (s, e) = (ei * range_len, ((ei + 1) * range_len).min(n));
                let mut out = Vec::new();
                scan::scan_range::<W>(
                    level,
                    digests,
                    s,
                    e,
                    &words[p0 * W..p1 * W],
                    &radii[..p1 - p0],
                    p0 as u32,
                    &mut out,
                );
                out
            })
            .collect();
        parts.concat()
    }

    /// Multi-index search of all probes in `words`; probes with more than `limit` candidates
    /// go to the scan.
    fn mih_hits(&self, words: &[u64], r: u32, limit: usize) -> Result<Vec<RawHit>, Corrupt> {
        match self.words_per_digest {
            1 => self.mih_hits_w::<1>(words, r, limit),
            2 => self.mih_hits_w::<2>(words, r, limit),
            3 => self.mih_hits_w::<3>(words, r, limit),
            _ => self.mih_hits_w::<4>(words, r, limit),
        }
    }

    fn mih_hits_w<const W: usize>(
        &self,
        words: &[u64],
        r: u32,
        limit: usize,
    ) -> Result<Vec<RawHit>, Corrupt> {
        let Some(mih) = self.mih else {
            return Ok(self.scan_hits_w::<W>(words, r));
        };
        let probes = words.len() / W;
        if probes == 0 || self.n == 0 {
            return Ok(Vec::new());
        }
        // Probes per task: enough that a batch's candidates crowd the digests (see
        // `MihScratch`), few enough that both threads get work.
        let chunk = probes
            .div_ceil(4 * rayon::current_num_threads())
            .clamp(16, 256);
        let level = self.level;
        let digests = self.digests;
        let grouped = std::mem::size_of_val(digests) >= self.group_from;
        // Per chunk of probes: its hits and the probes left to the scan.
        type Part = Result<(Vec<RawHit>, Vec<u32>), Corrupt>;
        let parts: Vec<Part> = (0..probes.div_ceil(chunk))
            .into_par_iter()
            .map_init(MihScratch::new, |scratch, ci| {
                let p0 = ci * chunk;
                let p1 = (p0 + chunk).min(probes);
                let mut hits = Vec::new();
                let mut fallback = Vec::new();
                for p in p0..p1 {
                    let q = &words[p * W..(p + 1) * W];
                    if !gather_probe(&mih, q, p as u32, r, limit, scratch)? {
                        fallback.push(p as u32);
                    }
                    if !grouped || scratch.batch.len() >= BATCH_CANDIDATES {
                        verify_batch::<W>(level, digests, words, r, grouped, scratch, &mut hits)?;
                    }
                }
                verify_batch::<W>(level, digests, words, r, grouped, scratch, &mut hits)?;
                Ok((hits, fallback))
            })
            .collect();
        let mut hits = Vec::new();
        let mut fallback = Vec::new();
        for part in parts {
            let (h, f) = part?;
            hits.extend(h);
            fallback.extend(f);
        }
        if !fallback.is_empty() {
            // Scan the crowded probes together, so they share the blocked kernel.
            let fw: Vec<u64> = fallback
                .iter()
                .flat_map(|&p| words[p as usize * W..(p as usize + 1) * W].iter().copied())
                .collect();
            for mut h in self.scan_hits_w::<W>(&fw, r) {
                h.probe = fallback[h.probe as usize];
                hits.push(h);
            }
        }
        Ok(hits)
    }

    /// The `k` nearest entries of every query (distance = minimum over its probes), ties
    /// broken by entry index, sorted by (query, distance, entry).
    pub fn knn(&self, queries: &Queries<'_>, k: usize) -> Result<Vec<Match>> {
        self.check_queries(queries)?;
        if k == 0 || self.n == 0 {
            return Ok(Vec::new());
        }
        let per_probe = match self.words_per_digest {
            1 => self.knn_probes::<1>(queries.words, k),
            2 => self.knn_probes::<2>(queries.words, k),
            3 => self.knn_probes::<3>(queries.words, k),
            _ => self.knn_probes::<4>(queries.words, k),
        };
        // A group's k best are among the union of its probes' k best: an entry outside probe
        // p's k best has k entries at least as good for p, hence for the group.
        let owners = queries.owners();
        let mut flat: Vec<Match> = Vec::new();
        for (p, list) in per_probe.into_iter().enumerate() {
            let (query, probe) = owners[p];
            flat.extend(list.into_iter().map(|(d, e)| Match {
                query,
                entry: e,
                probe,
                distance: d,
            }));
        }
        let mut grouped = dedup_min(flat);
        grouped.sort_unstable_by_key(|m| (m.query, m.distance, m.entry));
        let mut out = Vec::with_capacity(grouped.len());
        let mut i = 0;
        while i < grouped.len() {
            let q = grouped[i].query;
            let j = i + grouped[i..].iter().take_while(|m| m.query == q).count();
            out.extend_from_slice(&grouped[i..j.min(i + k)]);
            i = j;
        }
        Ok(out)
    }

    fn knn_probes<const W: usize>(&self, words: &[u64], k: usize) -> Vec<Vec<(u16, u32)>> {
        let level = self.level;
        let (digests, n, bits) = (self.digests, self.n, self.bits());
        words
            .par_chunks(scan::QUERY_BLOCK * W)
            .flat_map_iter(|block| scan::knn_block::<W>(level, digests, n, block, k, bits))
            .collect()
    }
}

/// Candidates gathered before they are sorted and verified together: 32 MB of keys, about the
/// candidates of 140 queries at 100M entries (r = 31).
const BATCH_CANDIDATES: usize = 1 << 22;

/// Digest bytes from which candidates are verified in batches grouped by entry rather than
/// probe by probe. Measured at r = 31, one core, median q/s: 10M entries (320 MB) 5,300
/// probe by probe against 4,500 grouped; 100M (3.2 GB) 830 against 1,110.
const GROUP_FROM_BYTES: usize = 1 << 30;

/// Per-thread scratch for the multi-index: the buckets to read, their id ranges, the entry
/// ranges of an implied first chunk, and the batch of candidates (entry id in the high half,
/// global probe index in the low) with the buffer that sorts it.
///
/// Why a batch: verifying a candidate reads its digest, a random line of the set. Past a few
/// hundred MB of set, a random line also costs a TLB miss (file pages are mapped 4 KB at a
/// time; measured on this machine's EPYC, one core, prefetched 32 ahead: 305M random lines/s
/// over 16 MB, 84M over 512 MB, 76M over 2 GB, 102M over 2 GB in address order). Grouping a
/// batch of many probes' candidates by entry makes those reads local.
struct MihScratch {
    slots: Vec<BucketSlot>,
    ranges: Vec<(usize, usize)>,
    direct: Vec<(u32, u32)>,
    batch: Vec<u64>,
    sort_buffer: Vec<u64>,
}

impl MihScratch {
    fn new() -> Self {
        MihScratch {
            slots: Vec::new(),
            ranges: Vec::new(),
            direct: Vec::new(),
            batch: Vec::new(),
            sort_buffer: Vec::new(),
        }
    }
}

/// Adds probe `probe`'s candidates to the batch: `false` (and none added) if they exceed
/// `limit`, so the caller scans it instead; an error if the tables read are corrupted.
fn gather_probe(
    mih: &MihRef<'_>,
    q: &[u64],
    probe: u32,
    r: u32,
    limit: usize,
    scratch: &mut MihScratch,
) -> Result<bool, Corrupt> {
    let MihScratch {
        slots,
        ranges,
        direct,
        batch,
        ..
    } = scratch;
    if mih
        .collect_buckets(q, r, limit, slots, ranges, direct)?
        .is_none()
    {
        return Ok(false);
    }
    let tag = u64::from(probe);
    // An implied first chunk's buckets are runs of entries.
    for &(lo, hi) in direct.iter() {
        batch.extend((lo..hi).map(|id| (u64::from(id) << 32) | tag));
    }
    for (i, &(s, e)) in ranges.iter().enumerate() {
        if let Some(&(ahead, _)) = ranges.get(i + PREFETCH_AHEAD) {
            prefetch(mih.ids_ptr().wrapping_add(ahead));
        }
        batch.extend(mih.ids(s, e).iter().map(|&id| (u64::from(id) << 32) | tag));
    }
    Ok(true)
}

/// Groups `keys` by the top 11 bits of their high half (entry ids below 2^`id_bits`): one
/// counting-sort pass through `buffer`, which stays allocated between batches. Entries of a
/// group then lie within 1/2048 of the digests (1.5 MB at 100M), inside what the TLB covers,
/// so the reads hit mapped pages; a full sort costs more passes than it saves.
fn group_by_entry(keys: &mut Vec<u64>, buffer: &mut Vec<u64>, id_bits: u32) {
    const DIGIT: u32 = 11;
    const MASK: usize = (1 << DIGIT) - 1;
    buffer.clear();
    buffer.resize(keys.len(), 0);
    let shift = 32 + id_bits.saturating_sub(DIGIT);
    let mut next = [0usize; 1 << DIGIT];
    for &k in keys.iter() {
        next[(k >> shift) as usize & MASK] += 1;
    }
    let mut sum = 0;
    for c in next.iter_mut() {
        (*c, sum) = (sum, sum + *c);
    }
    for &k in keys.iter() {
        let slot = &mut next[(k >> shift) as usize & MASK];
        buffer[*slot] = k;
        *slot += 1;
    }
    std::mem::swap(keys, buffer);
}

/// Verifies the batch's candidates with the full distance (grouped by entry first when
/// `grouped`), appending every
/// one within `r` (an entry found through several chunks appears once per chunk: the grouping
/// keeps one), then empties the batch; an error on an id that is not an entry (corrupted
/// tables).
fn verify_batch<const W: usize>(
    level: Level,
    digests: &[u64],
    words: &[u64],
    r: u32,
    grouped: bool,
    scratch: &mut MihScratch,
    out: &mut Vec<RawHit>,
) -> Result<(), Corrupt> {
    if scratch.batch.is_empty() {
        return Ok(());
    }
    if grouped {
        let n = digests.len() / W;
        let id_bits = u32::BITS - (n.max(2) as u32 - 1).leading_zeros();
        group_by_entry(&mut scratch.batch, &mut scratch.sort_buffer, id_bits);
    }
    let batch = &scratch.batch;
    #[cfg(target_arch = "x86_64")]
    let result = if level >= Level::Popcnt {
        // SAFETY: `level` comes from `Level::detect` or a checked `with_level`, so POPCNT is
        // present.
        unsafe { verify_sorted_popcnt::<W>(digests, words, r, batch, out) }
    } else {
        verify_sorted::<W>(digests, words, r, batch, out)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let result = {
        let _ = level;
        verify_sorted::<W>(digests, words, r, batch, out)
    };
    scratch.batch.clear();
    result
}

/// # Safety
/// The CPU must support POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn verify_sorted_popcnt<const W: usize>(
    digests: &[u64],
    words: &[u64],
    r: u32,
    batch: &[u64],
    out: &mut Vec<RawHit>,
) -> Result<(), Corrupt> {
    verify_sorted::<W>(digests, words, r, batch, out)
}

/// The loop of [`verify_batch`].
#[inline(always)]
fn verify_sorted<const W: usize>(
    digests: &[u64],
    words: &[u64],
    r: u32,
    batch: &[u64],
    out: &mut Vec<RawHit>,
) -> Result<(), Corrupt> {
    for (i, &key) in batch.iter().enumerate() {
        if let Some(&ahead) = batch.get(i + PREFETCH_AHEAD) {
            prefetch(digests.as_ptr().wrapping_add((ahead >> 32) as usize * W));
        }
        let (id, probe) = ((key >> 32) as usize, key as u32);
        let Some(d) = digests.get(id * W..id * W + W) else {
            return Err(Corrupt(format!(
                "entry id {id} is not below the entry count {}",
                digests.len() / W
            )));
        };
        let q = &words[probe as usize * W..probe as usize * W + W];
        let mut dist = 0;
        for w in 0..W {
            dist += (d[w] ^ q[w]).count_ones();
        }
        if dist <= r {
            out.push(RawHit {
                probe,
                entry: id as u32,
                distance: dist as u16,
            });
        }
    }
    Ok(())
}

/// Turns raw hits into matches: one per (query, entry) with the minimum distance and the lowest
/// probe reaching it, sorted by (query, entry).
fn group_hits(hits: Vec<RawHit>, owners: &[(u32, u16)]) -> Vec<Match> {
    let flat: Vec<Match> = hits
        .into_iter()
        .map(|h| {
            let (query, probe) = owners[h.probe as usize];
            Match {
                query,
                entry: h.entry,
                probe,
                distance: h.distance,
            }
        })
        .collect();
    dedup_min(flat)
}

/// Sorts by (query, entry, distance, probe) and keeps the first of each (query, entry).
fn dedup_min(mut v: Vec<Match>) -> Vec<Match> {
    v.par_sort_unstable_by_key(|m| (m.query, m.entry, m.distance, m.probe));
    v.dedup_by_key(|m| (m.query, m.entry));
    v
}
