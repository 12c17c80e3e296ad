//! The external sort behind [`super::SetWriter`]: entries wait in a memory-bounded buffer,
//! become sorted runs when the buffer is full (kept in memory while the budget has room, on
//! disk after that), and come back merged in digest order.
//!
//! Why an external sort: a set must be sorted by digest (exact lookup is a binary search and the
//! search index numbers entries in that order), and national lists (hundreds of millions of
//! records) do not fit in the memory of the machine that builds them. Each entry costs
//! [`PENDING_BYTES`] on disk while waiting and about [`BYTES_PER_PENDING`] in memory, plus its
//! metadata record, which travels with it (after it in a run file, in the writer's arena while
//! buffered): the set stores records in entry order, and carrying them through the sort writes
//! them in that order with sequential I/O only (reading them back from a push-order file in
//! entry order would be one random read per entry, and thrash once that file outgrows the page
//! cache).

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// One entry waiting to be sorted: its digest and where its metadata record lies in the buffer
/// that holds it (the writer's arena, or a merged group's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Pending {
    /// The digest's words, zero beyond the set's words per digest.
    pub digest: [u64; 4],
    /// Start of the entry's record in the buffer that holds it.
    pub meta: u64,
    /// Fingerprint of the digest and the record body (everything but the source): equal
    /// records have equal fingerprints.
    pub fp: u64,
    /// Push order: ties between equal digests keep it, so the file does not depend on how the
    /// buffer happened to be cut into runs.
    pub seq: u32,
    /// The source list index.
    pub source: u32,
    /// The 1-based line in the source (saturated at `u32::MAX`), for duplicate examples.
    pub line: u32,
    /// Length of the record body (after the source varint).
    pub body_len: u32,
    /// Offset of the body from `meta` (the source varint's length).
    pub body_skip: u8,
}

/// Bytes of one [`Pending`] in a run file.
pub(super) const PENDING_BYTES: usize = 65;

/// Memory charged per buffered entry against the budget: the entry itself, its slots in the
/// duplicate table (8 bytes each, a quarter to a half full: 16–32 bytes) and the sort's headroom.
pub(super) const BYTES_PER_PENDING: usize = 96;

impl Pending {
    /// Bytes of the whole record (source varint and body).
    pub fn record_len(&self) -> usize {
        self.body_skip as usize + self.body_len as usize
    }

    /// The whole record in `buf` (the buffer `meta` points into).
    pub fn record<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        let at = self.meta as usize;
        &buf[at..at + self.record_len()]
    }

    /// The record body (everything but the source) in `buf`: what identifies a record.
    pub fn body<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &self.record(buf)[self.body_skip as usize..]
    }

    /// The sort key: digest, then push order.
    pub fn key(&self) -> ([u64; 4], u32) {
        (self.digest, self.seq)
    }

    fn to_bytes(self) -> [u8; PENDING_BYTES] {
        let mut b = [0u8; PENDING_BYTES];
        for (i, w) in self.digest.iter().enumerate() {
            b[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        b[32..40].copy_from_slice(&self.meta.to_le_bytes());
        b[40..48].copy_from_slice(&self.fp.to_le_bytes());
        b[48..52].copy_from_slice(&self.seq.to_le_bytes());
        b[52..56].copy_from_slice(&self.source.to_le_bytes());
        b[56..60].copy_from_slice(&self.line.to_le_bytes());
        b[60..64].copy_from_slice(&self.body_len.to_le_bytes());
        b[64] = self.body_skip;
        b
    }
}

/// A sorted run: in memory while the budget has room for it, else on disk (an anonymous
/// temporary file, gone when dropped or on a crash).
pub(super) struct Run {
    store: Store,
    count: u64,
}

/// Where a run's bytes wait for the merge.
enum Store {
    File(File),
    Memory(Vec<u8>),
}

impl Run {
    /// Whether the run went to disk.
    pub fn on_disk(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// Bytes of memory the run holds (0 on disk).
    pub fn memory_bytes(&self) -> usize {
        match &self.store {
            Store::File(_) => 0,
            Store::Memory(v) => v.len(),
        }
    }
}

/// Bytes a run of `pending` takes, in memory or on disk: each entry and its record.
pub(super) fn run_bytes(pending: &[Pending]) -> usize {
    pending.iter().map(|p| PENDING_BYTES + p.record_len()).sum()
}

/// Sorts `pending` by digest then push order and writes it as a run, each entry followed by
/// its record from `arena`: into memory when `in_memory` (a run that fits the budget need not
/// go through the page cache and back: measured, a 10M-entry CSV build spent a fifth of its CPU
/// in the kernel copying runs and temporary files), else into a temporary file in `dir`.
pub(super) fn write_run(
    dir: &Path,
    pending: &mut [Pending],
    arena: &[u8],
    in_memory: bool,
) -> Result<Run> {
    sort(pending);
    let ioe = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let put = |out: &mut dyn Write| -> io::Result<()> {
        for p in pending.iter() {
            out.write_all(&p.to_bytes())?;
            out.write_all(p.record(arena))?;
        }
        out.flush()
    };
    let mut bytes = Vec::new();
    // Memory is an optimisation here: if the allocation fails, the run goes to disk.
    let store = if in_memory && bytes.try_reserve_exact(run_bytes(pending)).is_ok() {
        put(&mut bytes).map_err(ioe)?;
        Store::Memory(bytes)
    } else {
        let file = tempfile::tempfile_in(dir).map_err(ioe)?;
        put(&mut BufWriter::with_capacity(1 << 20, &file)).map_err(ioe)?;
        Store::File(file)
    };
    Ok(Run {
        store,
        count: pending.len() as u64,
    })
}

/// Sorts by digest, then push order (in parallel: this is most of a large build's CPU time).
pub(super) fn sort(pending: &mut [Pending]) {
    use rayon::slice::ParallelSliceMut;
    pending.par_sort_unstable_by_key(Pending::key);
}

/// Reads one run back in order.
struct RunReader {
    r: Source,
    left: u64,
    /// The record of the entry `next` returned last.
    record: Vec<u8>,
}

/// A run's bytes being read back.
enum Source {
    File(BufReader<File>),
    Memory(io::Cursor<Vec<u8>>),
}

impl Source {
    fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        match self {
            Source::File(r) => r.read_exact(buf),
            Source::Memory(r) => r.read_exact(buf),
        }
    }
}

impl RunReader {
    fn new(run: Run) -> io::Result<Self> {
        use std::io::Seek;
        let r = match run.store {
            Store::File(mut file) => {
                file.seek(io::SeekFrom::Start(0))?;
                Source::File(BufReader::with_capacity(1 << 20, file))
            }
            Store::Memory(bytes) => Source::Memory(io::Cursor::new(bytes)),
        };
        Ok(RunReader {
            r,
            left: run.count,
            record: Vec::new(),
        })
    }

    fn next(&mut self) -> io::Result<Option<Pending>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let mut b = [0u8; PENDING_BYTES];
        self.r.read_exact(&mut b)?;
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let p = Pending {
            digest: [u64_at(0), u64_at(8), u64_at(16), u64_at(24)],
            meta: u64_at(32),
            fp: u64_at(40),
            seq: u32_at(48),
            source: u32_at(52),
            line: u32_at(56),
            body_len: u32_at(60),
            body_skip: b[64],
        };
        self.record.resize(p.record_len(), 0);
        self.r.read_exact(&mut self.record)?;
        Ok(Some(p))
    }
}

/// A heap entry: the next pending entry of run `run` (a min-heap on the key via `Reverse`).
#[derive(PartialEq, Eq)]
struct Head {
    key: ([u64; 4], u32),
    run: usize,
    pending: PendingOrd,
}

/// [`Pending`] with the ordering the heap needs (only the key is compared).
#[derive(PartialEq, Eq)]
struct PendingOrd(Pending);

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Reversed: BinaryHeap is a max-heap.
        other.key.cmp(&self.key).then(other.run.cmp(&self.run))
    }
}

/// Calls `group` once per distinct digest, in digest order, with that digest's entries in push
/// order and a buffer holding their records (each entry's `meta` is its record's offset there),
/// merging the runs (in memory or on disk) with the sorted in-memory `tail` (the last, unwritten
/// run, whose records are in `tail_arena`).
pub(super) fn merge(
    dir: &Path,
    runs: Vec<Run>,
    tail: &[Pending],
    tail_arena: &[u8],
    mut group: impl FnMut(&[Pending], &[u8]) -> Result<()>,
) -> Result<()> {
    let ioe = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut readers = Vec::with_capacity(runs.len());
    for run in runs {
        readers.push(RunReader::new(run).map_err(ioe)?);
    }
    let mut tail = tail.iter().copied();
    let tail_run = readers.len();
    let mut heap = BinaryHeap::with_capacity(readers.len() + 1);
    let push = |heap: &mut BinaryHeap<Head>, run: usize, p: Option<Pending>| {
        if let Some(p) = p {
            heap.push(Head {
                key: p.key(),
                run,
                pending: PendingOrd(p),
            });
        }
    };
    for (i, r) in readers.iter_mut().enumerate() {
        push(&mut heap, i, r.next().map_err(ioe)?);
    }
    push(&mut heap, tail_run, tail.next());
    let mut current: Vec<Pending> = Vec::new();
    let mut records: Vec<u8> = Vec::new();
    while let Some(Head { run, pending, .. }) = heap.pop() {
        let mut p = pending.0;
        if current.first().is_some_and(|c| c.digest != p.digest) {
            group(&current, &records)?;
            current.clear();
            records.clear();
        }
        // The reader's buffer is overwritten by its next entry: copy the record out first.
        let record = if run == tail_run {
            p.record(tail_arena)
        } else {
            &readers[run].record[..]
        };
        p.meta = records.len() as u64;
        records.extend_from_slice(record);
        current.push(p);
        let next = if run == tail_run {
            tail.next()
        } else {
            readers[run].next().map_err(ioe)?
        };
        push(&mut heap, run, next);
    }
    if !current.is_empty() {
        group(&current, &records)?;
    }
    Ok(())
}

/// Calls `group` per distinct digest of an already sorted slice (the one-run case: no disk),
/// with `arena`, which holds their records.
pub(super) fn groups(
    sorted: &[Pending],
    arena: &[u8],
    mut group: impl FnMut(&[Pending], &[u8]) -> Result<()>,
) -> Result<()> {
    for g in sorted.chunk_by(|a, b| a.digest == b.digest) {
        group(g, arena)?;
    }
    Ok(())
}
