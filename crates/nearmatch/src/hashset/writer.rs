//! Building a set file: records stream in, one file comes out, atomically.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::dedup::DedupTable;
use super::dict::{canonical_number, DictBuilder};
use super::format::*;
use super::index::IndexSection;
use super::reader::HashSet;
use super::runs::{self, Pending, Run, BYTES_PER_PENDING};
use crate::error::{Error, Result};
use crate::hash::Algorithm;
use crate::import::{
    self, ImportOptions, ImportRecord, ImportReport, Label, Pushed, RecordSink, RejectReason,
};

/// Build provenance, stored as JSON in the `Provenance` section.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// The set format version.
    pub format_version: u32,
    /// The tool that built the set (`nearmatch 0.1.0`).
    pub tool: String,
    /// When the set was built, UTC, RFC 3339 (`2024-05-01T12:00:00Z`).
    pub built_utc: String,
    /// The algorithm name.
    pub algorithm: String,
    /// Number of entries.
    pub entries: u64,
    /// Every source list, in source-index order, with its import counts.
    pub sources: Vec<ImportReport>,
    /// Sets this one was merged from (empty for a set built from lists).
    #[serde(default)]
    pub merged_from: Vec<MergedSet>,
    /// For a shard ([`super::shard`]): the set it was cut from and which part it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<super::shard::ShardOf>,
}

/// A set that went into a merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedSet {
    /// Its path when merged.
    pub path: String,
    /// The tool that built it.
    pub tool: String,
    /// When it was built.
    pub built_utc: String,
    /// Its entry count.
    pub entries: u64,
}

/// What [`SetWriter::finish`] produced.
#[derive(Clone, Debug)]
pub struct BuildSummary {
    /// The set file.
    pub path: PathBuf,
    /// Entries written.
    pub entries: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// The provenance written into the file.
    pub provenance: Provenance,
}

/// Extra sections produced from the final sorted digests (e.g. the multi-index tables):
/// called with the packed words and the words per digest.
pub type IndexBuilder<'f> = dyn FnOnce(&[u64], usize) -> Result<Vec<(SectionKind, Vec<u8>)>> + 'f;

/// The memory a [`SetWriter`] may use for entries waiting to be sorted and for building the
/// search index, unless told otherwise ([`SetWriter::set_memory_budget`]): 1 GiB, so a build
/// fits beside other work on an 8 GB machine whatever the list's size.
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

/// Streams records into a new set file, in memory bounded by a budget, whatever the input size.
///
/// Each record's digest and a few numbers (about 96 bytes) wait in a buffer, its metadata
/// record in an arena beside it. When they reach the memory budget they are sorted and written
/// out as a run (an external sort: each entry followed by its record), and [`Self::finish`]
/// merges the runs in digest order, writing the records in entry order. The search index is built on the heap
/// when it fits the budget, else in mapped temporary files. So the memory a build needs does
/// not grow with the list; the disk it needs does (about 65 bytes per entry and its record in runs, plus the
/// output).
///
/// Duplicates (a record identical in digest, id, labels and note to one pushed before) are
/// found as they are pushed while the first copy is still in the buffer, and otherwise when the
/// runs are merged; either way the first copy is kept and the later one is counted as a
/// `duplicate` reject of its source (in strict mode, an error), so the result does not depend
/// on the budget.
///
/// The set is written to a temporary file in the output's directory, fsynced and renamed over
/// the target, so a reader never sees a partial set (which matters: a set truncated under a
/// live map kills the reader, see [`HashSet::open`]).
pub struct SetWriter {
    path: PathBuf,
    algorithm: Algorithm,
    words: usize,
    pending: Vec<Pending>,
    /// Fingerprint → index in `pending` (one 8-byte slot each: see [`DedupTable`]).
    dedup: DedupTable,
    runs: Vec<Run>,
    pushed: u64,
    budget: usize,
    /// Per-build random seed of the fingerprints (a list crafted to collide costs nothing
    /// but comparisons, and cannot aim at a seed it does not know).
    fp_seed: u64,
    /// The buffered entries' records (source varint, then body), `Pending::meta` indexing it.
    arena: Vec<u8>,
    /// Whether every record pushed so far is empty (no id, note or label) and from the source
    /// in `uniform_source`: then the set stores no record at all.
    uniform: bool,
    /// The source of the first record pushed.
    uniform_source: Option<u32>,
    schemes: Vec<String>,
    scheme_ix: HashMap<String, u64>,
    /// Label values (with their scheme) stored once, records holding their index.
    label_dict: DictBuilder,
    /// Notes stored once, records holding their index.
    note_dict: DictBuilder,
    /// The scheme interned last and its index.
    last_scheme: Option<(String, u64)>,
    sources: Vec<ImportReport>,
    rules: Vec<SourceRules>,
    current: Option<usize>,
    extra: Vec<(SectionKind, Vec<u8>)>,
    merged_from: Vec<MergedSet>,
    shard: Option<super::shard::ShardOf>,
    build_time: SystemTime,
    scratch: Vec<u8>,
}

/// How duplicates found at merge time are reported for one source.
#[derive(Clone, Debug)]
struct SourceRules {
    strict: bool,
    max_examples: usize,
    /// The set it came from, for sources carried over by [`SetWriter::add_set`].
    merged_from: Option<String>,
}

impl Default for SourceRules {
    /// Records pushed one by one ([`RecordSink::push`]): duplicates counted, no examples kept
    /// (as when they are found at push time).
    fn default() -> Self {
        SourceRules {
            strict: false,
            max_examples: 0,
            merged_from: None,
        }
    }
}

/// Largest run: its push-time duplicate table (8-byte slots) then stays within a few MB of
/// cache instead of missing on every record; duplicates across runs are caught at the merge.
/// Measured, 10M random PDQ in a plain list, 2 cores: one 10M-entry run (the 1G default)
/// 11.0 s, runs of 700k entries (a 64M budget) 9.9 s.
const MAX_RUN_ENTRIES: usize = 1 << 20;

/// Which search index [`SetWriter`] builds at the end.
enum Index<'f> {
    /// None (exact sets: binary search on the sorted digests).
    None,
    /// The multi-index, in bounded memory.
    Mih,
    /// The caller's.
    Custom(Box<IndexBuilder<'f>>),
}

/// A 64-bit fingerprint of a digest and a record body: equal inputs, equal fingerprints.
///
/// Folded 128-bit multiplies (as in wyhash): a fraction of the cost of SipHash, which showed at
/// a tenth of a list import's time. Only used to find candidate duplicates, each confirmed byte
/// for byte, so its quality costs speed, never correctness.
fn fingerprint(seed: u64, words: &[u64], body: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let fold = |a: u64, b: u64| {
        let m = u128::from(a ^ K) * u128::from(b ^ seed);
        (m as u64) ^ ((m >> 64) as u64)
    };
    let mut h = seed ^ body.len() as u64;
    for &w in words {
        h = fold(h, w);
    }
    for chunk in body.chunks(8) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        h = fold(h, u64::from_le_bytes(b));
    }
    fold(h, K)
}

/// Where the bytes of one output section come from.
enum Body<'a> {
    Bytes(&'a [u8]),
    /// A temporary file, read back to checksum it.
    File(&'a File),
    /// A temporary file whose CRC-32 was computed as it was written: copied in the kernel.
    Checked(&'a File, u32),
}

/// A writer that keeps the CRC-32 of what passes through it.
struct CrcWriter<W> {
    inner: W,
    crc: crc32fast::Hasher,
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.crc.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Copies `len` bytes of `src` from offset 0 to `dst` at its current position, in the kernel
/// where it can (`copy_file_range`: no read into and write out of user memory, which was a
/// tenth of a 10M-entry build's CPU), else through `buf`.
fn copy_section(src: &File, len: u64, dst: &File, buf: &mut [u8]) -> io::Result<()> {
    let mut off = 0u64;
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        while off < len {
            let mut off_in = off as libc::loff_t;
            let want = (len - off).min(1 << 30) as usize;
            // SAFETY: plain file descriptors this function borrows for the call, a valid offset
            // pointer, and a null output offset (the destination's position is used and moved).
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    &mut off_in,
                    dst.as_raw_fd(),
                    std::ptr::null_mut(),
                    want,
                    0,
                )
            };
            if n > 0 {
                off += n as u64;
                continue;
            }
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "temporary file shorter than written",
                ));
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                // Not supported here (old kernel, other filesystems): copy through memory.
                Some(libc::ENOSYS | libc::EXDEV | libc::EINVAL | libc::EOPNOTSUPP) => break,
                Some(libc::EINTR) => continue,
                _ => return Err(e),
            }
        }
    }
    let mut dst = dst;
    while off < len {
        let m = buf.len().min((len - off) as usize);
        read_at(src, &mut buf[..m], off)?;
        dst.write_all(&buf[..m])?;
        off += m as u64;
    }
    Ok(())
}

/// Starts writeback of `len` bytes of `f` at `off` without waiting for it, so the disk writes
/// the set while the rest is assembled instead of all at the final fsync (which took 2 s of a
/// 10M-entry build). Advisory: errors are left to the fsync.
fn start_writeback(f: &File, off: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        // SAFETY: a borrowed descriptor and plain integers; the call only schedules I/O.
        unsafe {
            libc::sync_file_range(
                f.as_raw_fd(),
                off as libc::off64_t,
                len as libc::off64_t,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (f, off, len);
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
}
#[cfg(not(unix))]
fn read_at(mut f: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    use std::io::Read;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(buf)
}

const SPILL_CHUNK: usize = 1 << 20;

/// The body of a record with no id, note or label (what every line of a plain list gives):
/// no note, no label, an empty id.
const EMPTY_BODY: &[u8] = &[0, 0];

/// Appends an even tag (twice the length) and the UTF-8 bytes.
fn put_tagged_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, 2 * s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

impl SetWriter {
    /// Starts a set of `algorithm` to be written at `path` (created or replaced by `finish`).
    pub fn create(path: impl AsRef<Path>, algorithm: Algorithm) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let fp_seed = {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x006e_6d73_6574_u64)
        };
        Ok(SetWriter {
            words: algorithm.bits().div_ceil(64),
            path,
            algorithm,
            pending: Vec::new(),
            dedup: DedupTable::default(),
            runs: Vec::new(),
            pushed: 0,
            budget: DEFAULT_MEMORY_BUDGET,
            fp_seed,
            arena: Vec::new(),
            uniform: true,
            uniform_source: None,
            schemes: Vec::new(),
            scheme_ix: HashMap::new(),
            label_dict: DictBuilder::new(fp_seed ^ 1),
            note_dict: DictBuilder::new(fp_seed ^ 2),
            last_scheme: None,
            sources: Vec::new(),
            rules: Vec::new(),
            current: None,
            extra: Vec::new(),
            merged_from: Vec::new(),
            shard: None,
            build_time: SystemTime::now(),
            scratch: Vec::new(),
        })
    }

    /// Sets how much memory the build may use for waiting entries and the search index
    /// (default [`DEFAULT_MEMORY_BUDGET`]). A smaller budget means more, smaller sorted runs
    /// on disk; the set written is the same byte for byte. Call it before pushing records.
    pub fn set_memory_budget(&mut self, bytes: usize) {
        self.budget = bytes;
    }

    /// The memory budget in bytes.
    pub fn memory_budget(&self) -> usize {
        self.budget
    }

    /// The budget's share for the entries being buffered: half of it, the rest holding
    /// finished runs in memory while they fit (see [`Self::flush_run`]).
    fn buffer_budget(&self) -> usize {
        self.budget / 2
    }

    /// Entries buffered before they are sorted into a run: what the buffer's budget allows,
    /// but at most [`MAX_RUN_ENTRIES`], and at least 16 so tiny budgets still work.
    fn run_capacity(&self) -> usize {
        (self.buffer_budget() / BYTES_PER_PENDING).clamp(16, MAX_RUN_ENTRIES)
    }

    /// Number of sorted runs written to disk so far (0 while everything fits in the budget).
    pub fn runs_on_disk(&self) -> usize {
        self.runs.iter().filter(|r| r.on_disk()).count()
    }

    /// Number of sorted runs kept in memory so far.
    pub fn runs_in_memory(&self) -> usize {
        self.runs.iter().filter(|r| !r.on_disk()).count()
    }

    /// Number of sorted runs made so far, in memory or on disk (0 while the entries fit one).
    pub fn sorted_runs(&self) -> usize {
        self.runs.len()
    }

    /// Records that this set is a shard of another ([`super::shard`]), in its provenance.
    pub(crate) fn set_shard_of(&mut self, shard: super::shard::ShardOf) {
        self.shard = Some(shard);
    }

    /// Sets the recorded build time (for reproducible builds; default: now).
    pub fn set_build_time(&mut self, t: SystemTime) {
        self.build_time = t;
    }

    /// Number of entries so far (before duplicates that only the final merge can see).
    pub fn len(&self) -> usize {
        self.pushed as usize
    }

    /// True when no entry was added yet.
    pub fn is_empty(&self) -> bool {
        self.pushed == 0
    }

    /// Starts a new source list named `name`; records pushed from now on belong to it.
    /// Returns its source index.
    pub fn begin_source(&mut self, name: &str) -> usize {
        self.sources.push(ImportReport {
            name: Path::new(name)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| name.to_string()),
            path: name.to_string(),
            sha256: String::new(),
            bytes: 0,
            format: import::Format::Plain,
            algorithm: self.algorithm.name().to_string(),
            imported: 0,
            rejected: Default::default(),
            examples: Vec::new(),
        });
        self.rules.push(SourceRules::default());
        self.current = Some(self.sources.len() - 1);
        self.sources.len() - 1
    }

    /// Sets the format the current source's provenance names.
    pub(crate) fn set_source_format(&mut self, format: import::Format) {
        if let Some(s) = self.current {
            self.sources[s].format = format;
        }
    }

    /// Imports one list file as a new source; its report goes into the provenance.
    pub fn import_file(
        &mut self,
        path: impl AsRef<Path>,
        opts: &ImportOptions,
    ) -> Result<ImportReport> {
        let path = path.as_ref();
        if opts.algorithm != self.algorithm {
            return Err(Error::InvalidArgument(format!(
                "importing {} records into a {} set",
                opts.algorithm, self.algorithm
            )));
        }
        let idx = self.begin_source(&path.display().to_string());
        self.rules[idx] = SourceRules {
            strict: opts.strict,
            max_examples: opts.max_examples,
            merged_from: None,
        };
        let report = import::import(path, opts, self)?;
        self.sources[idx] = report.clone();
        Ok(report)
    }

    /// Adds a section the set module does not build itself (e.g. a search index), written
    /// verbatim and checksummed. Core kinds and repeated kinds are refused.
    pub fn add_section(&mut self, kind: SectionKind, bytes: Vec<u8>) -> Result<()> {
        if kind.is_core() || self.extra.iter().any(|(k, _)| *k == kind) {
            return Err(Error::InvalidArgument(format!(
                "section {kind:?} cannot be added (core or already present)"
            )));
        }
        self.extra.push((kind, bytes));
        Ok(())
    }

    /// Adds every entry of `set` (same algorithm), carrying its metadata and its sources'
    /// provenance. Entries identical to ones already present are counted as duplicate rejects
    /// of their original source.
    pub fn add_set(&mut self, set: &HashSet) -> Result<()> {
        if set.algorithm() != self.algorithm {
            return Err(Error::InvalidArgument(format!(
                "cannot merge a {} set into a {} set",
                set.algorithm(),
                self.algorithm
            )));
        }
        let prov = set.provenance()?;
        self.merged_from.push(MergedSet {
            path: set.path().display().to_string(),
            tool: prov.tool.clone(),
            built_utc: prov.built_utc.clone(),
            entries: prov.entries,
        });
        self.add_entries(set, prov, 0..set.len())
    }

    /// Adds the entries `range` of `set` (whose provenance is `prov`), carrying their metadata
    /// and the set's sources and merge history: the common part of merging and sharding.
    pub(crate) fn add_entries(
        &mut self,
        set: &HashSet,
        prov: Provenance,
        range: std::ops::Range<usize>,
    ) -> Result<()> {
        if set.algorithm() != self.algorithm {
            return Err(Error::InvalidArgument(format!(
                "cannot add {} entries to a {} set",
                set.algorithm(),
                self.algorithm
            )));
        }
        let base = self.sources.len();
        self.merged_from.extend(prov.merged_from);
        self.rules.extend(prov.sources.iter().map(|_| SourceRules {
            strict: false,
            max_examples: 5,
            merged_from: Some(set.path().display().to_string()),
        }));
        self.sources.extend(prov.sources);
        self.current = None;
        // Sequentially: a version-2 set reads each record right after the one before.
        set.for_each_entry(range, |i, meta| {
            let source = base + meta.source as usize;
            if source >= self.sources.len() {
                return Err(set.invalid(format!(
                    "entry {i} names source {} of {}",
                    meta.source,
                    self.sources.len() - base
                )));
            }
            let digest = set.digest_bytes(i).expect("i < len");
            let labels: Vec<(&str, &str)> =
                meta.labels.iter().map(|l| (l.scheme, l.value)).collect();
            if self.add(source, &digest, &meta.id, &labels, meta.note, 0)? == Pushed::Duplicate {
                let r = &mut self.sources[source];
                r.imported = r.imported.saturating_sub(1);
                r.count_reject(RejectReason::Duplicate, 0, 5, || {
                    format!(
                        "merge: {} repeated in {}",
                        hex::encode(&digest),
                        set.path().display()
                    )
                });
            }
            Ok(())
        })
    }

    fn intern(&mut self, scheme: &str) -> u64 {
        // Lists repeat one or two schemes on every record: the last one found answers most
        // lookups without hashing the name.
        if let Some((last, i)) = &self.last_scheme {
            if last == scheme {
                return *i;
            }
        }
        let i = self.intern_slow(scheme);
        match &mut self.last_scheme {
            Some((last, ix)) => {
                last.clear();
                last.push_str(scheme);
                *ix = i;
            }
            None => self.last_scheme = Some((scheme.to_string(), i)),
        }
        i
    }

    fn intern_slow(&mut self, scheme: &str) -> u64 {
        if let Some(&i) = self.scheme_ix.get(scheme) {
            return i;
        }
        let i = self.schemes.len() as u64;
        self.schemes.push(scheme.to_string());
        self.scheme_ix.insert(scheme.to_string(), i);
        i
    }

    /// Writes the buffered entries out as a sorted run: kept in memory while the runs held
    /// there, this one and a full buffer stay within the budget, else on disk.
    fn flush_run(&mut self) -> Result<()> {
        let dir = parent_dir(&self.path);
        let held: usize = self.runs.iter().map(Run::memory_bytes).sum();
        let buffer = self.run_capacity() * BYTES_PER_PENDING + self.arena.len();
        let in_memory = held + runs::run_bytes(&self.pending) + buffer <= self.budget;
        let run = runs::write_run(&dir, &mut self.pending, &self.arena, in_memory)?;
        self.runs.push(run);
        self.pending.clear();
        self.arena.clear();
        self.dedup.clear();
        Ok(())
    }

    /// The one path every entry takes in: dedup, then append digest and metadata.
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        source: usize,
        digest: &[u8],
        id: &str,
        labels: &[(&str, &str)],
        note: &str,
        line: u64,
    ) -> Result<Pushed> {
        if digest.len() != self.algorithm.bits() / 8 {
            return Err(Error::InvalidArgument(format!(
                "a {} digest has {} bytes, not {}",
                self.algorithm,
                self.algorithm.bits() / 8,
                digest.len()
            )));
        }
        if self.pushed >= u64::from(u32::MAX) {
            return Err(Error::InvalidArgument(
                "a set holds at most 2^32 - 1 entries".into(),
            ));
        }
        // Records count against the budget too (long ids or notes), but a run holds at least
        // 16 entries so tiny budgets still progress.
        if self.pending.len() >= self.run_capacity()
            || (self.pending.len() >= 16
                && self.arena.len() + self.pending.len() * BYTES_PER_PENDING
                    >= self.buffer_budget())
        {
            self.flush_run()?;
        }
        // The record: the source, then the body (everything but the source), which
        // identifies a record. Built in one reused buffer: a per-record allocation showed at
        // 7% of a list import's CPU.
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        put_varint(&mut body, source as u64);
        let skip = body.len();
        let nl = labels.len() as u64;
        put_varint(&mut body, u64::from(!note.is_empty()) << 2 | nl.min(3));
        if nl >= 3 {
            put_varint(&mut body, nl - 3);
        }
        // Tags: odd for a number or a dictionary index (tag >> 1), even for the length of the
        // UTF-8 that follows.
        match canonical_number(id) {
            Some(n) => put_varint(&mut body, 2 * n + 1),
            None => put_tagged_str(&mut body, id),
        }
        if !note.is_empty() {
            match self.note_dict.intern(0, note) {
                Some(i) => put_varint(&mut body, 2 * u64::from(i) + 1),
                None => put_tagged_str(&mut body, note),
            }
        }
        for (scheme, value) in labels {
            let s = self.intern(scheme);
            match self.label_dict.intern(s as u32, value) {
                Some(i) => put_varint(&mut body, 2 * u64::from(i) + 1),
                None => {
                    put_varint(&mut body, 2 * value.len() as u64);
                    put_varint(&mut body, s);
                    body.extend_from_slice(value.as_bytes());
                }
            }
        }
        let key_words = digest_key(digest);
        let fp = fingerprint(self.fp_seed, &key_words[..self.words], &body[skip..]);
        let candidate = Pending {
            digest: key_words,
            meta: self.arena.len() as u64,
            fp,
            seq: self.pushed as u32,
            source: source as u32,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            body_len: u32::try_from(body.len() - skip)
                .map_err(|_| Error::InvalidArgument(format!("a record of {} bytes", body.len())))?,
            body_skip: skip as u8,
        };
        // Every candidate the table offers is checked byte for byte: a fingerprint collision
        // can never make two different records look like duplicates.
        let (pending, arena) = (&self.pending, &self.arena);
        let found = self.dedup.find(fp, |ix| {
            let other = pending[ix as usize];
            Ok::<_, Error>(
                other.digest == key_words && other.fp == fp && other.body(arena) == &body[skip..],
            )
        });
        if found?.is_some() {
            self.scratch = body;
            return Ok(Pushed::Duplicate);
        }
        let ix = self.pending.len() as u32;
        let reserved =
            self.pending.try_reserve(1).is_ok() && self.arena.try_reserve(body.len()).is_ok() && {
                let pending = &self.pending;
                self.dedup
                    .insert(fp, ix, |i| pending[i as usize].fp)
                    .is_ok()
            };
        if !reserved {
            return Err(Error::OutOfMemory {
                what: "the set build's sort buffer".into(),
                bytes: self.pending.capacity() * std::mem::size_of::<Pending>()
                    + self.dedup.allocated() * 2
                    + self.arena.capacity(),
                hint: Some("lower the memory budget".into()),
            });
        }
        self.pending.push(candidate);
        self.pushed += 1;
        if body[skip..] != *EMPTY_BODY {
            self.uniform = false;
        }
        match self.uniform_source {
            None => self.uniform_source = Some(source as u32),
            Some(s) if s != source as u32 => self.uniform = false,
            Some(_) => {}
        }
        self.arena.extend_from_slice(&body);
        self.scratch = body;
        Ok(Pushed::Added)
    }

    /// Counts a duplicate that only the merge could see (its first copy was in an earlier run)
    /// against its source, as the importers count the ones seen at push time.
    fn late_duplicate(&mut self, p: &Pending) -> Result<()> {
        let s = p.source as usize;
        let mut bytes = Vec::with_capacity(32);
        for w in &p.digest[..self.words] {
            bytes.extend_from_slice(&w.to_be_bytes());
        }
        bytes.truncate(self.algorithm.bits() / 8);
        let rules = self.rules.get(s).cloned().unwrap_or_default();
        let detail = match &rules.merged_from {
            Some(set) => format!("merge: {} repeated in {set}", hex::encode(&bytes)),
            None => format!("{} repeated", hex::encode(&bytes)),
        };
        let line = if rules.merged_from.is_some() {
            0
        } else {
            u64::from(p.line)
        };
        let r = &mut self.sources[s];
        if rules.strict {
            return Err(Error::Import {
                path: r.path.clone().into(),
                reason: format!("line {line}: {}: {detail}", RejectReason::Duplicate),
            });
        }
        r.imported = r.imported.saturating_sub(1);
        let before = r.examples.len();
        r.count_reject(RejectReason::Duplicate, line, rules.max_examples, || detail);
        if r.examples.len() > before {
            // Examples read in line order, as the importers record them.
            r.examples.sort_by_key(|e| e.line);
        }
        Ok(())
    }

    /// Writes the set, with the sections added by [`Self::add_section`].
    ///
    /// Perceptual sets get their search index ([`super::build_index_sections`]) built here, so
    /// every set that leaves the writer opens ready to search.
    pub fn finish(self) -> Result<BuildSummary> {
        let index = if self.algorithm.is_cryptographic() {
            Index::None
        } else {
            Index::Mih
        };
        self.write(index)
    }

    /// Writes the set; `index` builds extra sections (the search index) from the final
    /// sorted digests, so entry numbers in those sections are the file's.
    pub fn finish_with(self, index: Box<IndexBuilder<'_>>) -> Result<BuildSummary> {
        self.write(Index::Custom(index))
    }

    /// Merges the runs into the final digest order, then writes the file.
    fn write(mut self, index: Index<'_>) -> Result<BuildSummary> {
        let w = self.words;
        let dir = parent_dir(&self.path);
        let ioe = io_err(&dir);
        // A set whose records are all empty and from one source stores none of them: its
        // `RecordIndex` names the source (a plain list then costs nothing beyond its digests).
        let uniform = (self.uniform && self.pushed > 0).then(|| self.uniform_source.unwrap_or(0));
        // The merged digests, records and record index go to temporary files: the section table
        // (and so where the first section starts) is known only once the index is built.
        let digests_file = tempfile::tempfile_in(&dir).map_err(&ioe)?;
        let records_file = tempfile::tempfile_in(&dir).map_err(&ioe)?;
        let rindex_file = tempfile::tempfile_in(&dir).map_err(&ioe)?;
        let mut n = 0u64;
        let mut records_len = 0u64;
        let mut rindex_len = 0u64;
        let (digests_crc, records_crc, rindex_crc);
        {
            let crc_out = |f| {
                io::BufWriter::with_capacity(
                    1 << 20,
                    CrcWriter {
                        inner: f,
                        crc: crc32fast::Hasher::new(),
                    },
                )
            };
            let mut digests_out = crc_out(&digests_file);
            let mut records_out = crc_out(&records_file);
            let mut rindex_out = crc_out(&rindex_file);
            let head = match uniform {
                Some(source) => [RECORD_INDEX_UNIFORM, source],
                None => [RECORD_INDEX_SAMPLED, RECORD_STRIDE],
            };
            for x in head {
                rindex_out.write_all(&x.to_le_bytes()).map_err(&ioe)?;
                rindex_len += 4;
            }
            let mut kept: Vec<Pending> = Vec::new();
            let mut pending = std::mem::take(&mut self.pending);
            let arena = std::mem::take(&mut self.arena);
            self.dedup.release();
            runs::sort(&mut pending);
            let finished = std::mem::take(&mut self.runs);
            let mut group = |g: &[Pending], records: &[u8]| -> Result<()> {
                kept.clear();
                for p in g {
                    let duplicate = kept
                        .iter()
                        .any(|k| k.fp == p.fp && k.body(records) == p.body(records));
                    if duplicate {
                        self.late_duplicate(p)?;
                    } else {
                        kept.push(*p);
                    }
                }
                for k in &kept {
                    for word in &k.digest[..w] {
                        digests_out.write_all(&word.to_le_bytes()).map_err(&ioe)?;
                    }
                    if uniform.is_none() {
                        if n.is_multiple_of(u64::from(RECORD_STRIDE)) {
                            rindex_out
                                .write_all(&records_len.to_le_bytes())
                                .map_err(&ioe)?;
                            rindex_len += 8;
                        }
                        let r = k.record(records);
                        records_out.write_all(r).map_err(&ioe)?;
                        records_len += r.len() as u64;
                    }
                    n += 1;
                }
                Ok(())
            };
            if finished.is_empty() {
                runs::groups(&pending, &arena, &mut group)?;
            } else {
                runs::merge(&dir, finished, &pending, &arena, &mut group)?;
            }
            let crc_of = |w: io::BufWriter<CrcWriter<&File>>| {
                w.into_inner()
                    .map(|c| c.crc.finalize())
                    .map_err(|e| e.into_error())
            };
            digests_crc = crc_of(digests_out).map_err(&ioe)?;
            records_crc = crc_of(records_out).map_err(&ioe)?;
            rindex_crc = crc_of(rindex_out).map_err(&ioe)?;
        }
        let n = n as usize;
        // The digests, mapped for the index builder (the file was just written by this process
        // and nothing else can reach it: it is unlinked).
        let digest_map = if n == 0 {
            None
        } else {
            // SAFETY: an unlinked temporary file only this process holds, complete (flushed
            // above) and never written again while mapped; the map is dropped before the file.
            let map = unsafe { memmap2::Mmap::map(&digests_file) }.map_err(&ioe)?;
            // The index build reads it front to back, once per chunk.
            let _ = map.advise(memmap2::Advice::Sequential);
            Some(map)
        };
        let sorted: &[u64] = match &digest_map {
            Some(m) => bytemuck::try_cast_slice(&m[..]).map_err(|e| {
                Error::InvalidArgument(format!("mapped digests are not u64-aligned: {e}"))
            })?,
            None => &[],
        };
        let mut extra: Vec<(SectionKind, Vec<u8>)> = std::mem::take(&mut self.extra);
        let mut built: Vec<(SectionKind, IndexSection)> = Vec::new();
        match index {
            Index::None => {}
            Index::Mih => {
                built = super::index::build_index_scratch(sorted, w, &dir, self.budget)?;
            }
            Index::Custom(builder) => extra.extend(builder(sorted, w)?),
        }
        let mut seen: Vec<SectionKind> = Vec::new();
        for kind in extra
            .iter()
            .map(|(k, _)| *k)
            .chain(built.iter().map(|(k, _)| *k))
        {
            if kind.is_core() || seen.contains(&kind) {
                return Err(Error::InvalidArgument(format!(
                    "index section {kind:?} is core or repeated"
                )));
            }
            seen.push(kind);
        }

        let mut schemes = Vec::new();
        schemes.extend_from_slice(&(self.schemes.len() as u32).to_le_bytes());
        let mut end = 0u32;
        for s in &self.schemes {
            end += s.len() as u32;
            schemes.extend_from_slice(&end.to_le_bytes());
        }
        for s in &self.schemes {
            schemes.extend_from_slice(s.as_bytes());
        }
        let label_values = self.label_dict.label_section();
        let notes = self.note_dict.note_section();
        let provenance = Provenance {
            format_version: FORMAT_VERSION,
            tool: concat!("nearmatch ", env!("CARGO_PKG_VERSION")).to_string(),
            built_utc: rfc3339_utc(self.build_time),
            algorithm: self.algorithm.name().to_string(),
            entries: n as u64,
            sources: std::mem::take(&mut self.sources),
            merged_from: std::mem::take(&mut self.merged_from),
            shard: self.shard.take(),
        };
        let prov_json = serde_json::to_vec_pretty(&provenance).expect("provenance serialises");

        let mut sections: Vec<(SectionKind, u64, Body)> = vec![
            (
                SectionKind::Digests,
                (n * w * 8) as u64,
                Body::Checked(&digests_file, digests_crc),
            ),
            (
                SectionKind::RecordIndex,
                rindex_len,
                Body::Checked(&rindex_file, rindex_crc),
            ),
            (
                SectionKind::EntryData,
                records_len,
                Body::Checked(&records_file, records_crc),
            ),
            (
                SectionKind::Schemes,
                schemes.len() as u64,
                Body::Bytes(&schemes),
            ),
            (
                SectionKind::LabelValues,
                label_values.len() as u64,
                Body::Bytes(&label_values),
            ),
            (SectionKind::Notes, notes.len() as u64, Body::Bytes(&notes)),
            (
                SectionKind::Provenance,
                prov_json.len() as u64,
                Body::Bytes(&prov_json),
            ),
        ];
        for (k, b) in &extra {
            sections.push((*k, b.len() as u64, Body::Bytes(b)));
        }
        for (k, b) in &built {
            match b {
                IndexSection::Memory(m) => {
                    sections.push((*k, m.bytes().len() as u64, Body::Bytes(m.bytes())))
                }
                IndexSection::File(f, len) => sections.push((*k, *len, Body::File(f))),
            }
        }
        let header_len = HEADER_LEN + SECTION_ENTRY_LEN * sections.len();
        let mut table = Vec::with_capacity(header_len - HEADER_LEN);
        let mut at = align_up(header_len as u64);
        let mut starts = Vec::new();
        for (kind, len, _) in &sections {
            starts.push(at);
            table.extend_from_slice(&kind.code().to_le_bytes());
            table.extend_from_slice(&0u32.to_le_bytes());
            table.extend_from_slice(&at.to_le_bytes());
            table.extend_from_slice(&len.to_le_bytes());
            table.extend_from_slice(&[0u8; 8]); // CRC filled in below
            at = align_up(at + len);
        }

        let dir = parent_dir(&self.path);
        remove_stale_temps(&dir);
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{TEMP_PREFIX}{}-", std::process::id()))
            .tempfile_in(&dir)
            .map_err(io_err(&dir))?;
        // Held until this process exits: tells `remove_stale_temps` in another build that the
        // file is still being written.
        let _ = tmp.as_file().try_lock();
        let ioe = io_err(&self.path);
        let file = tmp.as_file();
        let mut out = io::BufWriter::with_capacity(1 << 20, file);
        out.write_all(&vec![0u8; starts[0] as usize])
            .map_err(&ioe)?;
        let mut pos = starts[0];
        let mut buf = vec![0u8; SPILL_CHUNK];
        // Bytes handed to the kernel but not yet to writeback.
        let mut kicked = 0u64;
        const KICK: u64 = 32 << 20;
        for (si, (_, len, body)) in sections.iter().enumerate() {
            let pad = starts[si] - pos;
            out.write_all(&vec![0u8; pad as usize]).map_err(&ioe)?;
            let mut crc = crc32fast::Hasher::new();
            let mut put = |b: &[u8], out: &mut io::BufWriter<&File>| -> io::Result<()> {
                crc.update(b);
                out.write_all(b)
            };
            let mut at = starts[si];
            match body {
                Body::Bytes(b) => {
                    for chunk in b.chunks(SPILL_CHUNK) {
                        put(chunk, &mut out).map_err(&ioe)?;
                        at += chunk.len() as u64;
                        if at - kicked >= KICK {
                            out.flush().map_err(&ioe)?;
                            start_writeback(file, kicked, at - kicked);
                            kicked = at;
                        }
                    }
                }
                Body::File(f) => {
                    let mut off = 0u64;
                    while off < *len {
                        let m = SPILL_CHUNK.min((*len - off) as usize);
                        read_at(f, &mut buf[..m], off).map_err(&ioe)?;
                        put(&buf[..m], &mut out).map_err(&ioe)?;
                        off += m as u64;
                    }
                }
                Body::Checked(f, _) => {
                    out.flush().map_err(&ioe)?;
                    copy_section(f, *len, file, &mut buf).map_err(&ioe)?;
                }
            }
            let c = match body {
                Body::Checked(_, c) => *c,
                _ => crc.finalize(),
            };
            table[si * SECTION_ENTRY_LEN + 24..si * SECTION_ENTRY_LEN + 28]
                .copy_from_slice(&c.to_le_bytes());
            pos = starts[si] + len;
            if pos - kicked >= KICK {
                out.flush().map_err(&ioe)?;
                start_writeback(file, kicked, pos - kicked);
                kicked = pos;
            }
        }
        let mut header = [0u8; HEADER_LEN];
        header[0..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        header[12..16].copy_from_slice(&(header_len as u32).to_le_bytes());
        let name = self.algorithm.name().as_bytes();
        header[16..16 + name.len()].copy_from_slice(name);
        header[32..36].copy_from_slice(&(self.algorithm.bits() as u32).to_le_bytes());
        header[36..40].copy_from_slice(&(w as u32).to_le_bytes());
        header[40..48].copy_from_slice(&(n as u64).to_le_bytes());
        header[48..52].copy_from_slice(&(sections.len() as u32).to_le_bytes());
        let crc = header_crc(&header, &table);
        header[60..64].copy_from_slice(&crc.to_le_bytes());
        out.flush().map_err(&ioe)?;
        drop(out);
        let mut f = tmp.as_file();
        f.seek(SeekFrom::Start(0)).map_err(&ioe)?;
        f.write_all(&header).map_err(&ioe)?;
        f.write_all(&table).map_err(&ioe)?;
        f.sync_all().map_err(&ioe)?;
        tmp.persist(&self.path).map_err(|e| Error::Io {
            path: self.path.clone(),
            source: e.error,
        })?;
        // Make the rename itself durable.
        #[cfg(unix)]
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(BuildSummary {
            path: self.path.clone(),
            entries: n as u64,
            bytes: pos,
            provenance,
        })
    }
}

impl RecordSink for SetWriter {
    fn push(&mut self, record: ImportRecord) -> Result<Pushed> {
        let labels: Vec<(&str, &str)> = record
            .labels
            .iter()
            .map(|Label { scheme, value }| (scheme.as_str(), value.as_str()))
            .collect();
        self.push_parts(
            record.algorithm,
            &record.digest,
            record.line,
            &record.id,
            &labels,
            &record.note,
        )
    }

    fn push_parts(
        &mut self,
        algorithm: Algorithm,
        digest: &[u8],
        line: u64,
        id: &str,
        labels: &[(&str, &str)],
        note: &str,
    ) -> Result<Pushed> {
        if algorithm != self.algorithm {
            return Err(Error::InvalidArgument(format!(
                "a {} record cannot go into a {} set",
                algorithm, self.algorithm
            )));
        }
        let source = match self.current {
            Some(s) => s,
            None => self.begin_source("(records)"),
        };
        let r = self.add(source, digest, id, labels, note, line)?;
        let rep = &mut self.sources[source];
        match r {
            Pushed::Added => rep.imported += 1,
            Pushed::Duplicate => *rep.rejected.entry(RejectReason::Duplicate).or_insert(0) += 1,
        }
        Ok(r)
    }
}

/// Builds `out` from several sets of one algorithm, carrying metadata and provenance.
pub fn merge(sets: &[&HashSet], out: impl AsRef<Path>) -> Result<BuildSummary> {
    let first = sets
        .first()
        .ok_or_else(|| Error::InvalidArgument("merge needs at least one set".into()))?;
    let mut w = SetWriter::create(out, first.algorithm())?;
    for s in sets {
        w.add_set(s)?;
    }
    w.finish()
}

/// Name prefix of the temporary file a set is written to: `.nmset-<pid>-<random>`.
pub const TEMP_PREFIX: &str = ".nmset-";

/// Removes temporary set files left in `dir` by builds that were killed (a `SIGKILL`ed build
/// cannot delete its own): those whose writer process no longer exists (no `/proc/<pid>`) and
/// whose lock can be taken (a live writer on another host of a shared filesystem holds it).
/// Such a file is never a valid set (the header is written last), but it wastes space and looks
/// like one. Best effort: errors leave the file in place.
fn remove_stale_temps(dir: &Path) {
    if !cfg!(target_os = "linux") {
        return;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let Ok(f) = File::open(e.path()) else {
            continue;
        };
        if f.try_lock().is_ok() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time (times before 1970 print as the epoch).
pub(crate) fn rfc3339_utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil-from-days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}
