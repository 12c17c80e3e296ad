//! Building a set file: records stream in, one file comes out, atomically.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{self, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::format::*;
use super::reader::HashSet;
use crate::error::{Error, Result};
use crate::hash::Algorithm;
use crate::import::{
    self, ImportOptions, ImportRecord, ImportReport, Label, Pushed, RecordSink, RejectExample,
    RejectReason,
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

/// Streams records into a new set file.
///
/// Memory is bounded by the index, not the input: digests and one offset per entry stay in
/// memory (8 × words + ~28 bytes per entry with the duplicate table); metadata goes to an
/// anonymous temporary file next to the output. The set is written to a temporary file in
/// the output's directory, fsynced and renamed over the target, so a reader never sees a
/// partial set (which matters: a set truncated under a live map kills the reader, see
/// [`HashSet::open`]).
pub struct SetWriter {
    path: PathBuf,
    algorithm: Algorithm,
    words: usize,
    digests: Vec<u64>,
    meta_pos: Vec<u64>,
    spill: File,
    spill_buf: Vec<u8>,
    spill_flushed: u64,
    dedup: HashMap<u64, u32>,
    schemes: Vec<String>,
    scheme_ix: HashMap<String, u64>,
    sources: Vec<ImportReport>,
    current: Option<usize>,
    extra: Vec<(SectionKind, Vec<u8>)>,
    merged_from: Vec<MergedSet>,
    build_time: SystemTime,
    scratch: Vec<u8>,
    readback: Vec<u8>,
}

fn io_err(path: &Path) -> impl Fn(io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(unix)]
fn write_at(f: &File, buf: &[u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(f, buf, off)
}
#[cfg(unix)]
fn read_at(f: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(f, buf, off)
}
#[cfg(not(unix))]
fn write_at(mut f: &File, buf: &[u8], off: u64) -> io::Result<()> {
    use std::io::Seek;
    f.seek(SeekFrom::Start(off))?;
    f.write_all(buf)
}
#[cfg(not(unix))]
fn read_at(mut f: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    use std::io::Read;
    f.seek(SeekFrom::Start(off))?;
    f.read_exact(buf)
}

const SPILL_CHUNK: usize = 1 << 20;

impl SetWriter {
    /// Starts a set of `algorithm` to be written at `path` (created or replaced by `finish`).
    pub fn create(path: impl AsRef<Path>, algorithm: Algorithm) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let dir = parent_dir(&path);
        let spill = tempfile::tempfile_in(&dir).map_err(io_err(&dir))?;
        Ok(SetWriter {
            words: algorithm.bits().div_ceil(64),
            path,
            algorithm,
            digests: Vec::new(),
            meta_pos: Vec::new(),
            spill,
            spill_buf: Vec::with_capacity(SPILL_CHUNK),
            spill_flushed: 0,
            dedup: HashMap::new(),
            schemes: Vec::new(),
            scheme_ix: HashMap::new(),
            sources: Vec::new(),
            current: None,
            extra: Vec::new(),
            merged_from: Vec::new(),
            build_time: SystemTime::now(),
            scratch: Vec::new(),
            readback: Vec::new(),
        })
    }

    /// Sets the recorded build time (for reproducible builds; default: now).
    pub fn set_build_time(&mut self, t: SystemTime) {
        self.build_time = t;
    }

    /// Number of entries so far.
    pub fn len(&self) -> usize {
        self.meta_pos.len()
    }

    /// True when no entry was added yet.
    pub fn is_empty(&self) -> bool {
        self.meta_pos.is_empty()
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
        let base = self.sources.len();
        self.merged_from.push(MergedSet {
            path: set.path().display().to_string(),
            tool: prov.tool.clone(),
            built_utc: prov.built_utc.clone(),
            entries: prov.entries,
        });
        self.merged_from.extend(prov.merged_from);
        self.sources.extend(prov.sources);
        self.current = None;
        for i in 0..set.len() {
            let meta = set.entry(i)?;
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
            if self.add(source, &digest, meta.id, &labels, meta.note)? == Pushed::Duplicate {
                let r = &mut self.sources[source];
                r.imported = r.imported.saturating_sub(1);
                *r.rejected.entry(RejectReason::Duplicate).or_insert(0) += 1;
                if r.examples
                    .iter()
                    .filter(|e| e.reason == RejectReason::Duplicate)
                    .count()
                    < 5
                {
                    r.examples.push(RejectExample {
                        reason: RejectReason::Duplicate,
                        line: 0,
                        detail: format!(
                            "merge: {} repeated in {}",
                            hex::encode(&digest),
                            set.path().display()
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn intern(&mut self, scheme: &str) -> u64 {
        if let Some(&i) = self.scheme_ix.get(scheme) {
            return i;
        }
        let i = self.schemes.len() as u64;
        self.schemes.push(scheme.to_string());
        self.scheme_ix.insert(scheme.to_string(), i);
        i
    }

    fn spill_write(&mut self, bytes: &[u8]) -> Result<()> {
        self.spill_buf.extend_from_slice(bytes);
        if self.spill_buf.len() >= SPILL_CHUNK {
            self.spill_flush()?;
        }
        Ok(())
    }

    fn spill_flush(&mut self) -> Result<()> {
        write_at(&self.spill, &self.spill_buf, self.spill_flushed).map_err(io_err(&self.path))?;
        self.spill_flushed += self.spill_buf.len() as u64;
        self.spill_buf.clear();
        Ok(())
    }

    fn spill_len(&self) -> u64 {
        self.spill_flushed + self.spill_buf.len() as u64
    }

    /// Reads back entry `seq`'s record (without the source varint) into `self.readback`.
    fn read_record(&mut self, seq: usize) -> Result<()> {
        let start = self.meta_pos[seq];
        let end = self
            .meta_pos
            .get(seq + 1)
            .copied()
            .unwrap_or(self.spill_len());
        let len = (end - start) as usize;
        self.readback.resize(len, 0);
        if start >= self.spill_flushed {
            let s = (start - self.spill_flushed) as usize;
            self.readback.copy_from_slice(&self.spill_buf[s..s + len]);
        } else {
            if end > self.spill_flushed {
                self.spill_flush()?;
            }
            read_at(&self.spill, &mut self.readback, start).map_err(io_err(&self.path))?;
        }
        let mut c = Cursor {
            buf: &self.readback,
            pos: 0,
        };
        c.varint();
        let skip = c.pos;
        self.readback.drain(..skip);
        Ok(())
    }

    /// The one path every entry takes in: dedup, then append digest and metadata.
    fn add(
        &mut self,
        source: usize,
        digest: &[u8],
        id: &str,
        labels: &[(&str, &str)],
        note: &str,
    ) -> Result<Pushed> {
        if digest.len() != self.algorithm.bits() / 8 {
            return Err(Error::InvalidArgument(format!(
                "a {} digest has {} bytes, not {}",
                self.algorithm,
                self.algorithm.bits() / 8,
                digest.len()
            )));
        }
        if self.meta_pos.len() >= u32::MAX as usize {
            return Err(Error::InvalidArgument(
                "a set holds at most 2^32 - 1 entries".into(),
            ));
        }
        // The record body (everything but the source) identifies a record.
        let mut body = std::mem::take(&mut self.scratch);
        body.clear();
        put_str(&mut body, id);
        put_str(&mut body, note);
        put_varint(&mut body, labels.len() as u64);
        for (scheme, value) in labels {
            let ix = self.intern(scheme);
            put_varint(&mut body, ix);
            put_str(&mut body, value);
        }
        let first = self.digests.len();
        bytes_to_words(digest, self.words, &mut self.digests);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.digests[first..].hash(&mut h);
        body.hash(&mut h);
        // Linear probing over fingerprints, each hit checked byte for byte: a fingerprint
        // collision can never make two different records look like duplicates.
        let mut key = h.finish();
        while let Some(&seq) = self.dedup.get(&key) {
            let seq = seq as usize;
            let w = self.words;
            if self.digests[seq * w..seq * w + w] == self.digests[first..] {
                self.read_record(seq)?;
                if self.readback == body {
                    self.digests.truncate(first);
                    self.scratch = body;
                    return Ok(Pushed::Duplicate);
                }
            }
            key = key.wrapping_add(1);
        }
        let seq = self.meta_pos.len();
        self.dedup.insert(key, seq as u32);
        self.meta_pos.push(self.spill_len());
        let mut head = Vec::with_capacity(10);
        put_varint(&mut head, source as u64);
        self.spill_write(&head)?;
        self.spill_write(&body)?;
        self.scratch = body;
        Ok(Pushed::Added)
    }

    /// Writes the set, with the sections added by [`Self::add_section`].
    ///
    /// Perceptual sets get their search index ([`super::build_index_sections`]) built here, so
    /// every set that leaves the writer opens ready to search.
    pub fn finish(self) -> Result<BuildSummary> {
        if self.algorithm.is_cryptographic() {
            self.finish_with(Box::new(|_, _| Ok(Vec::new())))
        } else {
            self.finish_with(Box::new(super::build_index_sections))
        }
    }

    /// Writes the set; `index` builds extra sections (the search index) from the final
    /// sorted digests, so entry numbers in those sections are the file's.
    pub fn finish_with(mut self, index: Box<IndexBuilder<'_>>) -> Result<BuildSummary> {
        let n = self.meta_pos.len();
        let w = self.words;
        self.spill_flush()?;
        let mut perm: Vec<u32> = (0..n as u32).collect();
        {
            let d = &self.digests;
            let key = |i: u32| &d[i as usize * w..i as usize * w + w];
            perm.sort_unstable_by(|&a, &b| key(a).cmp(key(b)).then(a.cmp(&b)));
        }
        let mut sorted = Vec::with_capacity(n * w);
        for &i in &perm {
            sorted.extend_from_slice(&self.digests[i as usize * w..i as usize * w + w]);
        }
        self.digests = Vec::new();
        self.dedup = HashMap::new();
        let offsets: Vec<u64> = perm.iter().map(|&i| self.meta_pos[i as usize]).collect();
        drop(perm);
        let mut extra = std::mem::take(&mut self.extra);
        for (kind, bytes) in index(&sorted, w)? {
            if kind.is_core() || extra.iter().any(|(k, _)| *k == kind) {
                return Err(Error::InvalidArgument(format!(
                    "index section {kind:?} is core or repeated"
                )));
            }
            extra.push((kind, bytes));
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
        let provenance = Provenance {
            format_version: FORMAT_VERSION,
            tool: concat!("nearmatch ", env!("CARGO_PKG_VERSION")).to_string(),
            built_utc: rfc3339_utc(self.build_time),
            algorithm: self.algorithm.name().to_string(),
            entries: n as u64,
            sources: std::mem::take(&mut self.sources),
            merged_from: std::mem::take(&mut self.merged_from),
        };
        let prov_json = serde_json::to_vec_pretty(&provenance).expect("provenance serialises");

        enum Body<'a> {
            Bytes(&'a [u8]),
            Words(&'a [u64]),
            Spill,
        }
        let mut sections: Vec<(SectionKind, u64, Body)> = vec![
            (
                SectionKind::Digests,
                (sorted.len() * 8) as u64,
                Body::Words(&sorted),
            ),
            (
                SectionKind::EntryOffsets,
                (offsets.len() * 8) as u64,
                Body::Words(&offsets),
            ),
            (SectionKind::EntryData, self.spill_flushed, Body::Spill),
            (
                SectionKind::Schemes,
                schemes.len() as u64,
                Body::Bytes(&schemes),
            ),
            (
                SectionKind::Provenance,
                prov_json.len() as u64,
                Body::Bytes(&prov_json),
            ),
        ];
        for (k, b) in &extra {
            sections.push((*k, b.len() as u64, Body::Bytes(b)));
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
        let mut out = io::BufWriter::with_capacity(1 << 20, tmp.as_file());
        out.write_all(&vec![0u8; starts[0] as usize])
            .map_err(&ioe)?;
        let mut pos = starts[0];
        for (si, (_, len, body)) in sections.iter().enumerate() {
            let pad = starts[si] - pos;
            out.write_all(&vec![0u8; pad as usize]).map_err(&ioe)?;
            let mut crc = crc32fast::Hasher::new();
            let mut put = |b: &[u8]| -> io::Result<()> {
                crc.update(b);
                out.write_all(b)
            };
            match body {
                Body::Bytes(b) => put(b).map_err(&ioe)?,
                Body::Words(ws) => {
                    for chunk in ws.chunks(8192) {
                        let le: Vec<u8> = chunk.iter().flat_map(|x| x.to_le_bytes()).collect();
                        put(&le).map_err(&ioe)?;
                    }
                }
                Body::Spill => {
                    let mut off = 0u64;
                    let mut buf = vec![0u8; SPILL_CHUNK];
                    while off < *len {
                        let m = SPILL_CHUNK.min((*len - off) as usize);
                        read_at(&self.spill, &mut buf[..m], off).map_err(&ioe)?;
                        put(&buf[..m]).map_err(&ioe)?;
                        off += m as u64;
                    }
                }
            }
            let c = crc.finalize();
            table[si * SECTION_ENTRY_LEN + 24..si * SECTION_ENTRY_LEN + 28]
                .copy_from_slice(&c.to_le_bytes());
            pos = starts[si] + len;
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
        if record.algorithm != self.algorithm {
            return Err(Error::InvalidArgument(format!(
                "a {} record cannot go into a {} set",
                record.algorithm, self.algorithm
            )));
        }
        let source = match self.current {
            Some(s) => s,
            None => self.begin_source("(records)"),
        };
        let labels: Vec<(&str, &str)> = record
            .labels
            .iter()
            .map(|Label { scheme, value }| (scheme.as_str(), value.as_str()))
            .collect();
        let r = self.add(source, &record.digest, &record.id, &labels, &record.note)?;
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
