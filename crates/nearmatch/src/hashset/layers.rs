//! Layered updates: a new list version as a small delta set on top of the set it updates.
//!
//! Hash lists are republished often (a few hundred hashes added, a few removed or
//! re-categorised) while the set they update may hold tens of millions of entries. Rebuilding
//! and redistributing the whole set for every version is slow and makes custody records
//! compare multi-GB files; a **delta layer** is the change alone.
//!
//! # What a delta is
//!
//! A delta is an ordinary set file (format version 1, written by [`SetWriter`], so it has its
//! own sorted digests, metadata, provenance and multi-index for its **additions**) with:
//!
//! - header flag bit 0 ([`FLAG_LAYER`]) set. Builds that predate layers require the flags to
//!   be 0 and refuse the file ("unknown header flags"), and [`HashSet::open`] of this build
//!   refuses it too, naming the parent: a delta searched alone would silently miss the base's
//!   entries and ignore its removals, which for a known-image list means wrong answers.
//!   [`HashSet::open_layer`] opens one layer for inspection; [`LayeredSet`] opens the stack.
//! - a `Layer` section (kind 6, JSON [`LayerInfo`]): the parent's file name and its identity
//!   (algorithm, entry count, build time, file size and header CRC-32), the layer's depth and
//!   its bookkeeping (removals requested, not present, the removal lists' import reports).
//! - a `Removals` section (kind 7): the removed digests, sorted and strictly increasing, packed
//!   like `Digests`.
//!
//! # Semantics
//!
//! An entry of layer *k* (0 is the base) is **visible** unless some layer *j > k*
//! - removes its digest (a removal names a digest: every entry with that digest below is
//!   hidden, whatever its metadata), or
//! - holds an identical record (same digest, id, labels and note): the upper copy stands for
//!   it, as a set built from one list keeps one copy of identical records.
//!
//! A delta's own removals never hide its own additions, so re-categorising a hash is
//! "remove + add" in one delta. With these two rules the visible entries of a stack are exactly
//! the records of one set rebuilt from the final list (same digests, ids, labels and notes), and
//! every search over the stack returns the same records as a search of that rebuilt set (a
//! property test checks it). Entry numbers differ: a stack numbers entries layer by layer from
//! the base up ([`LayeredSet::locate`]), and hidden numbers are never returned.
//!
//! A removal of a digest with no visible entry below is a no-op; it is counted in the layer's
//! [`LayerInfo::removals_not_present`] (with examples) and not stored, so `Removals` holds only
//! removals that hide something. It is not an error: vendors' removal lists routinely name
//! hashes a lab never imported.
//!
//! # Finding and checking the parent
//!
//! A delta names its parent by **file name**, looked up in the delta's own directory (stacks
//! move between machines as a directory; absolute paths would not survive that). Opening
//! checks the parent against the recorded identity in O(1): file size, entry count, algorithm,
//! build time and the header CRC-32, which covers the section table and so every section's own
//! CRC-32. A rebuilt or replaced parent therefore fails to open with an error naming both
//! files, and a parent whose bytes were altered without fixing its checksums fails
//! [`LayeredSet::verify`] (which the scan runs on every layer). Hashing a multi-GB base at
//! every open, as a SHA-256 identity would need, is what layers exist to avoid; custody records
//! still list each layer's SHA-256.
//!
//! Depth is recorded (the base is 0, a delta on it 1, ...) and must decrease by one at every
//! step, so following parents always ends, whatever the files say.
//!
//! # Searching
//!
//! Each layer is searched with its own index ([`LayeredSearcher`]); a hit is kept if its entry
//! is visible, which costs a binary search in each higher layer's removals and digests (deltas
//! are small, and only hits pay). [`LayeredSet::compact`] folds a stack into one ordinary set
//! when the deltas grow, recording the layers it came from in a `Compacted` section (kind 8).
//!
//! Why not a "tombstone" per entry, or delta entries referring to base entry numbers: entry
//! numbers are an artefact of one file's sort order, while digests are what lists publish and
//! what a removal list names, and a digest-keyed removal is checkable against any rebuild.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::format::{
    bytes_to_words, header_crc, le32, FLAG_LAYER, HEADER_LEN, MAX_SECTIONS, SECTION_ENTRY_LEN,
};
use super::reader::{EntryMeta, HashSet};
use super::writer::{BuildSummary, Provenance, SetWriter, TEMP_PREFIX};
use super::SectionKind;
use crate::error::{Error, Result};
use crate::hash::Algorithm;
use crate::import::{self, ImportOptions, ImportRecord, ImportReport, Label, Pushed, RecordSink};
use crate::search::{Engine, Match, ProbeMatch, ProbeRadii, Queries, QueryProbe, Searcher};

/// Most layers a stack may have (a bound on following parents; compact long before).
pub const MAX_LAYERS: usize = 64;

/// The set a delta was built on, as the delta records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentRef {
    /// Its file name (no directory: looked up next to the delta).
    pub file: String,
    /// Its algorithm name.
    pub algorithm: String,
    /// Its entry count.
    pub entries: u64,
    /// Its build time (from its provenance).
    pub built_utc: String,
    /// Its file size in bytes.
    pub bytes: u64,
    /// Its header CRC-32 (covers every section's CRC-32).
    pub header_crc: u32,
}

impl ParentRef {
    fn of(set: &HashSet) -> Result<Self> {
        let file = set
            .path()
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                set.invalid("a parent set needs a UTF-8 file name to be recorded".into())
            })?
            .to_string();
        Ok(ParentRef {
            file,
            algorithm: set.algorithm().name().to_string(),
            entries: set.len() as u64,
            built_utc: set.provenance()?.built_utc,
            bytes: set.file_len(),
            header_crc: set.header_crc(),
        })
    }
}

/// The `Layer` section of a delta: its parent and what went into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// The layer below.
    pub parent: ParentRef,
    /// Layers below this one (1 for a delta directly on a base set).
    pub depth: u32,
    /// Entries this layer adds (its own entry count).
    pub additions: u64,
    /// Digests stored in `Removals` (each hid at least one visible entry when built).
    pub removals: u64,
    /// Distinct digests the removal lists named.
    pub removals_requested: u64,
    /// Requested removals with no visible entry below (not stored).
    pub removals_not_present: u64,
    /// Up to five of those, hex.
    #[serde(default)]
    pub not_present_examples: Vec<String>,
    /// The removal lists, with their import counts and SHA-256.
    #[serde(default)]
    pub removal_sources: Vec<ImportReport>,
    /// For a delta computed from a full new list version: that version's lists (SHA-256,
    /// counts); the additions' sources in the provenance name the same files.
    #[serde(default)]
    pub from_full: Vec<ImportReport>,
}

/// One layer a compacted set was folded from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactedLayer {
    /// Its path when compacted.
    pub path: String,
    /// Its file size.
    pub bytes: u64,
    /// Its header CRC-32.
    pub header_crc: u32,
    /// Its entries hidden by layers above (not carried into the compacted set).
    pub hidden: u64,
    /// Its `Layer` section (`None` for the base).
    pub layer: Option<LayerInfo>,
    /// Its provenance (sources with their SHA-256 and counts).
    pub provenance: Provenance,
}

/// The `Compacted` section of a set folded from a stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactedFrom {
    /// The layers, base first.
    pub layers: Vec<CompactedLayer>,
}

impl HashSet {
    /// The `Layer` section of a delta layer (`None` for an ordinary set).
    pub fn layer_info(&self) -> Result<Option<LayerInfo>> {
        match self.section(SectionKind::Layer) {
            None => Ok(None),
            Some(b) => serde_json::from_slice(b)
                .map(Some)
                .map_err(|e| self.invalid(format!("layer section: {e}"))),
        }
    }

    /// The `Compacted` section of a set folded from a stack (`None` otherwise).
    pub fn compacted_from(&self) -> Result<Option<CompactedFrom>> {
        match self.section(SectionKind::Compacted) {
            None => Ok(None),
            Some(b) => serde_json::from_slice(b)
                .map(Some)
                .map_err(|e| self.invalid(format!("compacted section: {e}"))),
        }
    }
}

/// Two records are the same when digest (checked by the caller), id, labels and note agree;
/// the source list does not count (as in the writer's duplicate rule).
fn same_record(a: &EntryMeta<'_>, b: &EntryMeta<'_>) -> bool {
    a.id == b.id && a.note == b.note && a.labels == b.labels
}

/// A base set and the delta layers on top of it, searched as one list.
///
/// An ordinary set opens as a stack of one layer, so callers need only this type.
pub struct LayeredSet {
    /// Base first, top last.
    layers: Vec<HashSet>,
    infos: Vec<Option<LayerInfo>>,
    /// Global number of each layer's entry 0, and the total at the end.
    starts: Vec<usize>,
}

impl std::fmt::Debug for LayeredSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayeredSet")
            .field("layers", &self.layers)
            .finish()
    }
}

impl LayeredSet {
    /// Opens the set at `path` and, if it is a delta, every layer below it (memory-mapped; see
    /// [`HashSet::open`] for the mapping contract).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), |p| HashSet::open_layer(p))
    }

    /// Like [`LayeredSet::open`], reading every layer into memory ([`HashSet::read`]).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with(path.as_ref(), |p| HashSet::read_layer(p))
    }

    fn open_with(path: &Path, opener: impl Fn(&Path) -> Result<HashSet>) -> Result<Self> {
        let top = opener(path)?;
        let mut chain = vec![top];
        let mut infos = Vec::new();
        loop {
            let child = chain.last().expect("not empty");
            let Some(info) = child.layer_info()? else {
                infos.push(None);
                break;
            };
            if chain.len() >= MAX_LAYERS {
                return Err(
                    child.invalid(format!("more than {MAX_LAYERS} layers; compact the stack"))
                );
            }
            let name = Path::new(&info.parent.file);
            // Only a bare file name: a recorded path must not lead out of the directory.
            if name.file_name() != Some(name.as_os_str()) || info.depth == 0 {
                return Err(child.invalid(format!(
                    "layer section names parent {:?} at depth {}",
                    info.parent.file, info.depth
                )));
            }
            // Next to the child; a child named without a directory has its parent named so too.
            let parent_path = match child.path().parent() {
                Some(d) if !d.as_os_str().is_empty() => d.join(name),
                _ => name.to_path_buf(),
            };
            let parent_err = |reason: String| Error::LayerParent {
                child: child.path().to_path_buf(),
                parent: parent_path.clone(),
                reason,
            };
            let parent = match opener(&parent_path) {
                Ok(p) => p,
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    return Err(parent_err(
                        "missing (a delta names its parent by file name: keep the layers of a \
                         stack in one directory)"
                            .into(),
                    ))
                }
                Err(e) => return Err(parent_err(format!("cannot be opened: {e}"))),
            };
            let found = ParentRef::of(&parent).map_err(|e| parent_err(e.to_string()))?;
            let mut diffs = Vec::new();
            let p = &info.parent;
            if found.algorithm != p.algorithm {
                diffs.push(format!(
                    "algorithm {} (recorded {})",
                    found.algorithm, p.algorithm
                ));
            }
            if found.entries != p.entries {
                diffs.push(format!(
                    "{} entries (recorded {})",
                    found.entries, p.entries
                ));
            }
            if found.bytes != p.bytes {
                diffs.push(format!("{} bytes (recorded {})", found.bytes, p.bytes));
            }
            if found.built_utc != p.built_utc {
                diffs.push(format!(
                    "built {} (recorded {})",
                    found.built_utc, p.built_utc
                ));
            }
            if found.header_crc != p.header_crc {
                diffs.push(format!(
                    "header CRC {:08x} (recorded {:08x})",
                    found.header_crc, p.header_crc
                ));
            }
            if !diffs.is_empty() {
                return Err(parent_err(format!(
                    "not the set this delta was built on: {}",
                    diffs.join(", ")
                )));
            }
            let parent_depth = parent.layer_info()?.map_or(0, |l| l.depth);
            if parent_depth + 1 != info.depth {
                return Err(parent_err(format!(
                    "depth {parent_depth}, the delta expects {}",
                    info.depth - 1
                )));
            }
            infos.push(Some(info));
            chain.push(parent);
        }
        chain.reverse();
        infos.reverse();
        Self::assemble(chain, infos)
    }

    /// A stack of one ordinary set (already open); a delta layer is refused, naming its parent,
    /// since alone it would miss the base's entries and ignore its removals.
    pub fn from_set(set: HashSet) -> Result<Self> {
        if let Some(info) = set.layer_info()? {
            return Err(set.invalid(format!(
                "a delta layer on {}: open the stack (LayeredSet::open) instead",
                info.parent.file
            )));
        }
        Self::assemble(vec![set], vec![None])
    }

    fn assemble(layers: Vec<HashSet>, infos: Vec<Option<LayerInfo>>) -> Result<Self> {
        let mut starts = Vec::with_capacity(layers.len() + 1);
        let mut at = 0usize;
        for l in &layers {
            starts.push(at);
            at += l.len();
        }
        starts.push(at);
        Ok(LayeredSet {
            layers,
            infos,
            starts,
        })
    }

    /// The layers, base first.
    pub fn layers(&self) -> &[HashSet] {
        &self.layers
    }

    /// The `Layer` section of layer `k` (`None` for the base).
    pub fn info(&self, k: usize) -> Option<&LayerInfo> {
        self.infos.get(k).and_then(Option::as_ref)
    }

    /// The top layer (the file that was opened).
    pub fn top(&self) -> &HashSet {
        self.layers.last().expect("a stack has a layer")
    }

    /// The base set.
    pub fn base(&self) -> &HashSet {
        &self.layers[0]
    }

    /// True when there is at least one delta.
    pub fn is_layered(&self) -> bool {
        self.layers.len() > 1
    }

    /// The path that was opened (the top layer's).
    pub fn path(&self) -> &Path {
        self.top().path()
    }

    /// The algorithm of every layer.
    pub fn algorithm(&self) -> Algorithm {
        self.top().algorithm()
    }

    /// Digest width in bits.
    pub fn bits(&self) -> usize {
        self.top().bits()
    }

    /// `u64` words per digest.
    pub fn words_per_digest(&self) -> usize {
        self.top().words_per_digest()
    }

    /// The top layer's provenance (each layer has its own: [`LayeredSet::layers`]).
    pub fn provenance(&self) -> Result<Provenance> {
        self.top().provenance()
    }

    /// Size of the entry numbering: every layer's entries, hidden ones included. Use
    /// [`LayeredSet::effective_len`] for the number of visible entries.
    pub fn len(&self) -> usize {
        *self.starts.last().expect("starts has layers + 1 items")
    }

    /// True when no layer has an entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stack-wide number of entry `i` of layer `k`.
    pub fn global(&self, k: usize, i: usize) -> usize {
        self.starts[k] + i
    }

    /// The (layer, entry in layer) of stack entry `g`, `None` past the end.
    pub fn locate(&self, g: usize) -> Option<(usize, usize)> {
        if g >= self.len() {
            return None;
        }
        // The last layer whose start is <= g (empty layers share their start with the next).
        let k = self.starts[..self.layers.len()].partition_point(|&s| s <= g) - 1;
        Some((k, g - self.starts[k]))
    }

    /// Whether some layer above `k` removes the digest `key` (packed words).
    pub fn is_removed(&self, k: usize, key: &[u64]) -> bool {
        self.layers[k + 1..].iter().any(|l| l.removes_words(key))
    }

    /// Whether entry `i` of layer `k` is visible: no layer above removes its digest or holds an
    /// identical record. An entry whose metadata cannot be read (a damaged file; the scan
    /// verifies every layer first) is never taken for identical, so it stays visible: a damaged
    /// layer can show an entry it should hide, never hide one it should show.
    pub fn is_visible(&self, k: usize, i: usize) -> bool {
        let Some(key) = self.layers.get(k).and_then(|l| l.digest_words(i)) else {
            return false;
        };
        if self.is_removed(k, key) {
            return false;
        }
        let mut own: Option<Option<EntryMeta<'_>>> = None;
        for upper in &self.layers[k + 1..] {
            let range = upper.lookup_words(key);
            if range.is_empty() {
                continue;
            }
            let Some(me) = own
                .get_or_insert_with(|| self.layers[k].entry(i).ok())
                .as_ref()
            else {
                return true;
            };
            for e in range {
                if upper.entry(e).is_ok_and(|u| same_record(me, &u)) {
                    return false;
                }
            }
        }
        true
    }

    /// Whether stack entry `g` is visible (false past the end).
    pub fn is_visible_global(&self, g: usize) -> bool {
        self.locate(g).is_some_and(|(k, i)| self.is_visible(k, i))
    }

    /// The visible entries with digest `key` (packed words), stack numbers in increasing order.
    pub fn lookup_words(&self, key: &[u64]) -> Vec<usize> {
        let mut out = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            for i in l.lookup_words(key) {
                if self.is_visible(k, i) {
                    out.push(self.global(k, i));
                }
            }
        }
        out
    }

    /// The visible entries whose digest equals `digest` (big-endian bytes), stack numbers in
    /// increasing order; empty for a digest of the wrong length.
    pub fn lookup_exact(&self, digest: &[u8]) -> Vec<usize> {
        if digest.len() != self.bits() / 8 {
            return Vec::new();
        }
        let mut key = Vec::with_capacity(self.words_per_digest());
        bytes_to_words(digest, self.words_per_digest(), &mut key);
        self.lookup_words(&key)
    }

    /// The metadata of stack entry `g` (its `source` indexes its own layer's provenance).
    pub fn entry(&self, g: usize) -> Result<EntryMeta<'_>> {
        let (k, i) = self.locate(g).ok_or_else(|| {
            Error::InvalidArgument(format!("entry {g} of a stack of {}", self.len()))
        })?;
        self.layers[k].entry(i)
    }

    /// The packed words of stack entry `g`.
    pub fn digest_words(&self, g: usize) -> Option<&[u64]> {
        let (k, i) = self.locate(g)?;
        self.layers[k].digest_words(i)
    }

    /// The big-endian bytes of stack entry `g`.
    pub fn digest_bytes(&self, g: usize) -> Option<Vec<u8>> {
        let (k, i) = self.locate(g)?;
        self.layers[k].digest_bytes(i)
    }

    /// Stack entry `g` as lower-case hex.
    pub fn digest_hex(&self, g: usize) -> Option<String> {
        self.digest_bytes(g).map(hex::encode)
    }

    /// Number of visible entries: what a set rebuilt from the final list would hold.
    ///
    /// Cheap on a big base: only entries whose digest a delta removes or adds can be hidden, so
    /// only those digests are looked up.
    pub fn effective_len(&self) -> usize {
        self.len() - self.hidden_per_layer().iter().sum::<usize>()
    }

    /// Hidden entries per layer (what [`LayeredSet::effective_len`] subtracts), base first.
    pub fn hidden_per_layer(&self) -> Vec<usize> {
        let w = self.words_per_digest();
        let mut candidates: BTreeSet<&[u64]> = BTreeSet::new();
        for l in &self.layers[1..] {
            candidates.extend(l.removal_words().chunks_exact(w));
            candidates.extend(l.words().chunks_exact(w));
        }
        let mut hidden = vec![0; self.layers.len()];
        for key in candidates {
            for (k, l) in self.layers.iter().enumerate() {
                hidden[k] += l
                    .lookup_words(key)
                    .filter(|&i| !self.is_visible(k, i))
                    .count();
            }
        }
        hidden
    }

    /// Full check of every layer ([`HashSet::verify`]); parents were checked at open.
    pub fn verify(&self) -> Result<()> {
        for l in &self.layers {
            l.verify()?;
        }
        Ok(())
    }

    /// A searcher over the whole stack, each layer with its stored index.
    pub fn searcher(&self) -> Result<LayeredSearcher<'_>> {
        if self.algorithm().is_cryptographic() {
            return Err(Error::InvalidArgument(format!(
                "{} sets are matched exactly (lookup_exact), not by distance",
                self.algorithm()
            )));
        }
        let mut parts = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            // A delta that only removes has no digests to search.
            if !l.is_empty() {
                parts.push((k, l.searcher()?));
            }
        }
        Ok(LayeredSearcher { stack: self, parts })
    }

    /// A searcher over the whole stack that scans every layer (no index): for k-NN, and for
    /// distance searches of exact (crypto) sets, which [`LayeredSet::searcher`] refuses.
    pub fn scan_searcher(&self) -> Result<LayeredSearcher<'_>> {
        let mut parts = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            if !l.is_empty() {
                parts.push((k, Searcher::new(l.words(), l.words_per_digest())?));
            }
        }
        Ok(LayeredSearcher { stack: self, parts })
    }

    /// The visible entries' stack numbers in digest order (ties: lower layer first, then entry
    /// order): the order a set rebuilt from the final list would store them in.
    pub fn visible_in_digest_order(&self) -> Vec<usize> {
        let mut lists: Vec<std::iter::Peekable<std::vec::IntoIter<usize>>> = self
            .layers
            .iter()
            .enumerate()
            .map(|(k, l)| {
                (0..l.len())
                    .filter(|&i| !self.is_layered() || self.is_visible(k, i))
                    .collect::<Vec<_>>()
                    .into_iter()
                    .peekable()
            })
            .collect();
        let mut out = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
        loop {
            // Few layers: a linear pick of the smallest head beats a heap.
            let mut best: Option<(usize, &[u64])> = None;
            for (k, list) in lists.iter_mut().enumerate() {
                if let Some(&i) = list.peek() {
                    let d = self.layers[k].digest_words(i).expect("i < len");
                    if best.is_none_or(|(_, b)| d < b) {
                        best = Some((k, d));
                    }
                }
            }
            let Some((k, _)) = best else { break };
            let i = lists[k].next().expect("peeked");
            out.push(self.global(k, i));
        }
        out
    }

    /// Folds the stack into one ordinary set at `out`: the visible entries with their metadata,
    /// each layer's sources (in the provenance, under their original paths) and a `Compacted`
    /// section recording every layer (path, identity, provenance, hidden count).
    ///
    /// The sources of the compacted provenance count the entries carried over; the original
    /// lists' SHA-256 and import counts are in the `Compacted` section.
    pub fn compact(&self, out: impl AsRef<Path>) -> Result<BuildSummary> {
        let out = out.as_ref();
        self.refuse_layer_path(out)?;
        let mut w = SetWriter::create(out, self.algorithm())?;
        let mut layers = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            let prov = l.provenance()?;
            let mut by_source: Vec<Vec<usize>> = vec![Vec::new(); prov.sources.len()];
            let mut hidden = 0u64;
            for i in 0..l.len() {
                if !self.is_visible(k, i) {
                    hidden += 1;
                    continue;
                }
                let s = l.entry(i)?.source as usize;
                by_source
                    .get_mut(s)
                    .ok_or_else(|| l.invalid(format!("entry {i} names source {s}")))?
                    .push(i);
            }
            for (s, entries) in by_source.iter().enumerate() {
                w.begin_source(&prov.sources[s].path);
                for &i in entries {
                    push_entry(&mut w, l, i)?;
                }
            }
            layers.push(CompactedLayer {
                path: l.path().display().to_string(),
                bytes: l.file_len(),
                header_crc: l.header_crc(),
                hidden,
                layer: self.infos[k].clone(),
                provenance: prov,
            });
        }
        let json = serde_json::to_vec_pretty(&CompactedFrom { layers }).expect("serialises");
        w.add_section(SectionKind::Compacted, json)?;
        w.finish()
    }

    /// Refuses `out` when it is one of the stack's files (writing it would replace a layer
    /// that later layers name).
    fn refuse_layer_path(&self, out: &Path) -> Result<()> {
        let Ok(out_c) = std::fs::canonicalize(out) else {
            return Ok(());
        };
        for l in &self.layers {
            if std::fs::canonicalize(l.path()).ok().as_deref() == Some(out_c.as_path()) {
                return Err(Error::InvalidArgument(format!(
                    "{} is a layer of the stack being read",
                    out.display()
                )));
            }
        }
        Ok(())
    }
}

/// Pushes entry `i` of `set` (digest and metadata) into `w`'s current source.
fn push_entry(w: &mut SetWriter, set: &HashSet, i: usize) -> Result<Pushed> {
    let meta = set.entry(i)?;
    w.push(ImportRecord {
        algorithm: set.algorithm(),
        digest: set.digest_bytes(i).expect("i < len"),
        id: meta.id.to_string(),
        labels: meta
            .labels
            .iter()
            .map(|l| Label::new(l.scheme, l.value))
            .collect(),
        note: meta.note.to_string(),
        line: 0,
    })
}

/// Exact search over every layer of a stack: each layer's hits, hidden entries dropped, entry
/// numbers stack-wide ([`LayeredSet::locate`]).
pub struct LayeredSearcher<'a> {
    stack: &'a LayeredSet,
    /// (layer, its searcher); empty deltas are skipped.
    parts: Vec<(usize, Searcher<'a>)>,
}

impl LayeredSearcher<'_> {
    /// [`Searcher::match_probes`] over the stack: the same rule per (query, entry), entries
    /// numbered stack-wide, hidden entries never returned; sorted by (query, entry).
    pub fn match_probes(
        &self,
        queries: &[&[QueryProbe]],
        radii: ProbeRadii,
        engine: Engine,
    ) -> Result<Vec<ProbeMatch>> {
        let mut out = Vec::new();
        for (k, s) in &self.parts {
            for m in s.match_probes(queries, radii, engine)? {
                if self.stack.is_visible(*k, m.entry) {
                    out.push(ProbeMatch {
                        entry: self.stack.global(*k, m.entry),
                        ..m
                    });
                }
            }
        }
        if self.parts.len() > 1 {
            out.sort_unstable();
        }
        Ok(out)
    }

    /// [`Searcher::radius_search`] over the stack (entry numbers stack-wide; an error if the
    /// stack has 2^32 entries or more).
    pub fn radius_search(
        &self,
        queries: &Queries<'_>,
        r: u32,
        engine: Engine,
    ) -> Result<Vec<Match>> {
        if self.stack.len() > u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "a stack of 2^32 entries or more: search it with match_probes".into(),
            ));
        }
        let mut out = Vec::new();
        for (k, s) in &self.parts {
            for m in s.radius_search(queries, r, engine)? {
                if self.stack.is_visible(*k, m.entry as usize) {
                    out.push(Match {
                        entry: self.stack.global(*k, m.entry as usize) as u32,
                        ..m
                    });
                }
            }
        }
        if self.parts.len() > 1 {
            out.sort_unstable();
        }
        Ok(out)
    }

    /// [`Searcher::knn`] over the stack: the `k` nearest visible entries of every query, ties
    /// broken by stack entry number, sorted by (query, distance, entry).
    pub fn knn(&self, queries: &Queries<'_>, k: usize) -> Result<Vec<Match>> {
        if self.stack.len() > u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "a stack of 2^32 entries or more cannot be searched by k-NN".into(),
            ));
        }
        // A layer with h hidden entries has its k nearest visible ones among its k + h
        // nearest, whatever the hidden ones' distances.
        // (A delta that only removes is not searched but still hides: ask the stack, not parts.)
        let hidden = if self.stack.is_layered() {
            self.stack.hidden_per_layer()
        } else {
            vec![0; self.stack.layers.len()]
        };
        let mut all = Vec::new();
        for (l, s) in &self.parts {
            for m in s.knn(queries, k.saturating_add(hidden[*l]))? {
                if self.stack.is_visible(*l, m.entry as usize) {
                    all.push(Match {
                        entry: self.stack.global(*l, m.entry as usize) as u32,
                        ..m
                    });
                }
            }
        }
        all.sort_unstable_by_key(|m| (m.query, m.distance, m.entry));
        let mut out = Vec::with_capacity(all.len());
        let mut i = 0;
        while i < all.len() {
            let q = all[i].query;
            let j = i + all[i..].iter().take_while(|m| m.query == q).count();
            out.extend_from_slice(&all[i..(i + k).min(j)]);
            i = j;
        }
        Ok(out)
    }

    /// Number of searched entries, hidden ones included.
    pub fn len(&self) -> usize {
        self.stack.len()
    }

    /// True when nothing is searched.
    pub fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }
}

/// Collects removal digests (as packed words) from a list import.
struct RemovalSink<'a> {
    words: usize,
    set: &'a mut BTreeSet<Vec<u64>>,
}

impl RecordSink for RemovalSink<'_> {
    fn push(&mut self, record: ImportRecord) -> Result<Pushed> {
        let mut key = Vec::with_capacity(self.words);
        bytes_to_words(&record.digest, self.words, &mut key);
        Ok(if self.set.insert(key) {
            Pushed::Added
        } else {
            Pushed::Duplicate
        })
    }
}

/// What [`DeltaWriter::finish`] produced.
#[derive(Clone, Debug)]
pub struct DeltaSummary {
    /// The set written (its path is the delta's).
    pub build: BuildSummary,
    /// The delta's `Layer` section.
    pub layer: LayerInfo,
}

/// A temporary file removed when dropped (unless disarmed).
struct TempPath(Option<PathBuf>);

impl Drop for TempPath {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// A temporary name next to `out`, in the writer's stale-temp pattern (so a build killed
/// midway leaves nothing a later build does not clean up).
fn temp_next_to(out: &Path, what: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = match out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    dir.join(format!(
        "{TEMP_PREFIX}{}-{what}-{nanos:x}",
        std::process::id()
    ))
}

/// Builds a delta layer on top of a stack: additions (lists or records), removals (lists or
/// digests), or both computed from a full new list version ([`DeltaWriter::diff_full`]).
pub struct DeltaWriter<'s> {
    stack: &'s LayeredSet,
    out: PathBuf,
    tmp: TempPath,
    writer: SetWriter,
    removals: BTreeSet<Vec<u64>>,
    removal_sources: Vec<ImportReport>,
    from_full: Vec<ImportReport>,
}

impl<'s> DeltaWriter<'s> {
    /// Starts a delta on top of `stack`, to be written at `out`.
    ///
    /// `out` must be in the top layer's directory (a delta finds its parent by file name
    /// there) and must not be one of the stack's files.
    pub fn create(stack: &'s LayeredSet, out: impl AsRef<Path>) -> Result<Self> {
        let out = out.as_ref().to_path_buf();
        stack.refuse_layer_path(&out)?;
        let dir_of = |p: &Path| {
            let d = match p.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            std::fs::canonicalize(&d).map_err(|source| Error::Io { path: d, source })
        };
        let (top_dir, out_dir) = (dir_of(stack.path())?, dir_of(&out)?);
        if top_dir != out_dir {
            return Err(Error::InvalidArgument(format!(
                "a delta must be written next to its parent (it names the parent by file name): \
                 write it into {}, not {}",
                top_dir.display(),
                out_dir.display()
            )));
        }
        if out.file_name().and_then(|n| n.to_str()).is_none() {
            return Err(Error::InvalidArgument(format!(
                "{}: a delta needs a UTF-8 file name",
                out.display()
            )));
        }
        if stack
            .layers()
            .iter()
            .any(super::vpdq::VideoList::is_video_list)
        {
            return Err(Error::InvalidArgument(
                "video lists (vPDQ) are not layered: rebuild the list instead".into(),
            ));
        }
        let tmp = temp_next_to(&out, "delta");
        let writer = SetWriter::create(&tmp, stack.algorithm())?;
        Ok(DeltaWriter {
            stack,
            out,
            tmp: TempPath(Some(tmp)),
            writer,
            removals: BTreeSet::new(),
            removal_sources: Vec::new(),
            from_full: Vec::new(),
        })
    }

    /// Sets the recorded build time (default: now).
    pub fn set_build_time(&mut self, t: SystemTime) {
        self.writer.set_build_time(t);
    }

    /// Imports a list of additions as a new source ([`SetWriter::import_file`]).
    pub fn add_list(
        &mut self,
        path: impl AsRef<Path>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        self.writer.import_file(path, opts)
    }

    /// Starts a new source for records pushed with [`DeltaWriter::push`].
    pub fn begin_source(&mut self, name: &str) -> usize {
        self.writer.begin_source(name)
    }

    /// Reads a removal list (any format `set build` reads; a plain list of hex digests is the
    /// usual one): every digest in it is removed from the layers below.
    pub fn remove_list(
        &mut self,
        path: impl AsRef<Path>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        if opts.algorithm != self.stack.algorithm() {
            return Err(Error::InvalidArgument(format!(
                "removing {} digests from a {} set",
                opts.algorithm,
                self.stack.algorithm()
            )));
        }
        let mut sink = RemovalSink {
            words: self.stack.words_per_digest(),
            set: &mut self.removals,
        };
        let report = import::import(path, opts, &mut sink)?;
        self.removal_sources.push(report.clone());
        Ok(report)
    }

    /// Removes one digest (big-endian bytes) from the layers below.
    pub fn remove(&mut self, digest: &[u8]) -> Result<()> {
        if digest.len() != self.stack.bits() / 8 {
            return Err(Error::InvalidArgument(format!(
                "a {} digest has {} bytes, not {}",
                self.stack.algorithm(),
                self.stack.bits() / 8,
                digest.len()
            )));
        }
        let mut key = Vec::new();
        bytes_to_words(digest, self.stack.words_per_digest(), &mut key);
        self.removals.insert(key);
        Ok(())
    }

    /// Computes additions and removals that turn the stack into the full new list version
    /// `lists` (imported with `opts`), so a lab that receives whole lists never diffs by hand.
    ///
    /// Per digest: records of the new version not visible in the stack are added; when the
    /// stack shows records of that digest that the new version no longer has (removed or
    /// re-categorised), the digest is removed and all of the new version's records for it
    /// are added. Digests absent from the new version are removed. The lists are first built
    /// into a temporary set next to the output (bounded memory, like `set build`).
    pub fn diff_full(
        &mut self,
        lists: &[PathBuf],
        opts: &ImportOptions,
    ) -> Result<Vec<ImportReport>> {
        let scratch_path = temp_next_to(&self.out, "full");
        let _guard = TempPath(Some(scratch_path.clone()));
        let mut sw = SetWriter::create(&scratch_path, self.stack.algorithm())?;
        let mut reports = Vec::new();
        for l in lists {
            reports.push(sw.import_file(l, opts)?);
        }
        sw.finish()?;
        // Mapped: a private temporary file nobody else writes (see `HashSet::open`).
        let full = HashSet::open(&scratch_path)?;
        let w = self.stack.words_per_digest();
        type Rec = (String, Vec<(String, String)>, String);
        let rec = |m: &EntryMeta<'_>| -> Rec {
            (
                m.id.to_string(),
                m.labels
                    .iter()
                    .map(|l| (l.scheme.to_string(), l.value.to_string()))
                    .collect(),
                m.note.to_string(),
            )
        };
        // Additions as (source in the new version, entry in `full`).
        let mut additions: Vec<(u32, usize)> = Vec::new();
        let mut i = 0;
        while i < full.len() {
            let key = full.digest_words(i).expect("i < len");
            let range = full.lookup_words(key);
            debug_assert_eq!(range.start, i);
            let mut new_recs: BTreeMap<Rec, Vec<(u32, usize)>> = BTreeMap::new();
            for e in range.clone() {
                let m = full.entry(e)?;
                new_recs.entry(rec(&m)).or_default().push((m.source, e));
            }
            let mut old_recs: BTreeSet<Rec> = BTreeSet::new();
            for g in self.stack.lookup_words(key) {
                old_recs.insert(rec(&self.stack.entry(g)?));
            }
            let gone = old_recs.iter().any(|r| !new_recs.contains_key(r));
            if gone {
                self.removals.insert(key.to_vec());
            }
            for (r, at) in &new_recs {
                if gone || !old_recs.contains(r) {
                    // One record may be in several new lists: the first carries it.
                    additions.push(at[0]);
                }
            }
            i = range.end;
        }
        for (k, l) in self.stack.layers().iter().enumerate() {
            let mut prev: Option<&[u64]> = None;
            for (i, key) in l.words().chunks_exact(w).enumerate() {
                if prev == Some(key) {
                    continue;
                }
                prev = Some(key);
                if full.lookup_words(key).is_empty() && self.stack.is_visible(k, i) {
                    self.removals.insert(key.to_vec());
                }
            }
        }
        additions.sort_unstable();
        let mut next = 0;
        for (s, report) in reports.iter().enumerate() {
            self.writer.begin_source(&report.path);
            while next < additions.len() && additions[next].0 as usize == s {
                push_entry(&mut self.writer, &full, additions[next].1)?;
                next += 1;
            }
        }
        self.from_full.extend(reports.iter().cloned());
        Ok(reports)
    }

    /// Writes the delta: only removals that hide a visible entry are stored (the others are
    /// counted in [`LayerInfo::removals_not_present`]); the file gets the layer flag and is
    /// renamed into place atomically.
    pub fn finish(mut self) -> Result<DeltaSummary> {
        let w = self.stack.words_per_digest();
        let mut kept: Vec<u8> = Vec::new();
        let (mut stored, mut not_present) = (0u64, 0u64);
        let mut examples = Vec::new();
        for key in &self.removals {
            if self.stack.lookup_words(key).is_empty() {
                not_present += 1;
                if examples.len() < 5 {
                    let mut b: Vec<u8> = key.iter().flat_map(|x| x.to_be_bytes()).collect();
                    b.truncate(self.stack.bits() / 8);
                    examples.push(hex::encode(b));
                }
            } else {
                stored += 1;
                kept.extend(key.iter().flat_map(|x| x.to_le_bytes()));
            }
        }
        debug_assert_eq!(kept.len() % (w * 8), 0);
        let info = LayerInfo {
            parent: ParentRef::of(self.stack.top())?,
            depth: self.stack.layers().len() as u32,
            additions: self.writer.len() as u64,
            removals: stored,
            removals_requested: self.removals.len() as u64,
            removals_not_present: not_present,
            not_present_examples: examples,
            removal_sources: std::mem::take(&mut self.removal_sources),
            from_full: std::mem::take(&mut self.from_full),
        };
        let json = serde_json::to_vec_pretty(&info).expect("layer info serialises");
        self.writer.add_section(SectionKind::Layer, json)?;
        self.writer.add_section(SectionKind::Removals, kept)?;
        let mut build = self.writer.finish()?;
        let tmp = self.tmp.0.clone().expect("armed until renamed");
        set_layer_flag(&tmp)?;
        std::fs::rename(&tmp, &self.out).map_err(|source| Error::Io {
            path: self.out.clone(),
            source,
        })?;
        self.tmp.0 = None;
        #[cfg(unix)]
        if let Some(d) = self.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(d) {
                let _ = d.sync_all();
            }
        }
        build.path = self.out.clone();
        Ok(DeltaSummary { build, layer: info })
    }
}

impl RecordSink for DeltaWriter<'_> {
    fn push(&mut self, record: ImportRecord) -> Result<Pushed> {
        self.writer.push(record)
    }
}

/// Sets the layer flag in a finished (not yet published) set file and fixes the header CRC.
///
/// The writer has no flag option (its internals are being rewritten separately); patching the
/// 4 flag bytes and the CRC of a private temporary file before the rename keeps the published
/// file atomic. When the writer grows a flags setter this can go.
fn set_layer_flag(path: &Path) -> Result<()> {
    let ioe = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(ioe)?;
    let mut head = [0u8; HEADER_LEN];
    f.read_exact(&mut head).map_err(ioe)?;
    let n = le32(&head, 48) as usize;
    if n == 0 || n > MAX_SECTIONS || le32(&head, 52) != 0 {
        return Err(Error::InvalidSet {
            path: path.to_path_buf(),
            reason: "unexpected header in a freshly written set".into(),
        });
    }
    let mut table = vec![0u8; SECTION_ENTRY_LEN * n];
    f.read_exact(&mut table).map_err(ioe)?;
    head[52..56].copy_from_slice(&FLAG_LAYER.to_le_bytes());
    let crc = header_crc(&head, &table);
    head[60..64].copy_from_slice(&crc.to_le_bytes());
    f.seek(SeekFrom::Start(0)).map_err(ioe)?;
    f.write_all(&head).map_err(ioe)?;
    f.sync_all().map_err(ioe)
}
