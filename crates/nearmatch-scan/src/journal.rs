//! The append-only record journal (`REPORT.partial`): what makes a scan resumable after a crash
//! without holding the walk in memory.
//!
//! The first line is the scan's fingerprint (evidence, sets, options); then one JSON record per
//! line in record order. A resume re-walks the evidence (the walk order is deterministic) and
//! streams the journal beside it: every record that still lines up with the walk is kept, and the
//! journal is cut after the last one, so the resumed scan appends exactly where the first stopped.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::error::ScanError;
use crate::path::ReportPath;
use crate::record::FileRecord;
use crate::walk::Item;

/// How often appended records are forced to disk. A killed process loses nothing the kernel
/// already holds; the sync bounds what a power cut loses, and syncing every chunk of tiny files
/// would cost more than hashing them.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The binary SHA-256 of a record's hex digest.
fn sha256_key(hex_digest: &str) -> Option<[u8; 32]> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut k).ok()?;
    Some(k)
}

/// The journal, and the duplicate index over the records in it.
pub(crate) struct Journal {
    file: File,
    path: Option<PathBuf>,
    /// Records complete (a prefix of the record order).
    pub records: u64,
    /// Whether this run continues an earlier one.
    pub resumed: bool,
    /// When the scan (the first run, if resumed) started.
    pub started_utc: String,
    /// SHA-256 -> index of the first record with that content. The one structure that grows
    /// with the evidence: about 50 bytes per distinct content.
    first_of: HashMap<[u8; 32], u64>,
    last_sync: Instant,
}

/// A resume in progress: the kept journal's records, read one at a time as the walk advances.
pub(crate) struct ResumeCursor {
    reader: BufReader<File>,
    /// Byte offset after the last record group that lined up with the walk.
    keep: u64,
    line: String,
    exhausted: bool,
}

impl ResumeCursor {
    /// The next complete, parseable record and its line length; `None` at a torn last line, a
    /// line that does not parse, or the end (all of which end the reusable prefix).
    fn next_record(&mut self, path: Option<&Path>) -> Result<Option<(FileRecord, u64)>, ScanError> {
        if self.exhausted {
            return Ok(None);
        }
        self.line.clear();
        let n = self
            .reader
            .read_line(&mut self.line)
            .map_err(|e| ScanError::output(path.unwrap_or(Path::new("(journal)")), e))?;
        match serde_json::from_str::<FileRecord>(self.line.trim_end()) {
            Ok(rec) if n > 0 && self.line.ends_with('\n') => Ok(Some((rec, n as u64))),
            _ => {
                self.exhausted = true;
                Ok(None)
            }
        }
    }
}

impl Journal {
    /// Opens the journal: at `path` (truncated, or continued when `resume` and its fingerprint
    /// matches), or an anonymous temporary file. The cursor is present when records may be
    /// reused.
    pub fn open(
        path: Option<&Path>,
        resume: bool,
        fingerprint: &Value,
        started_utc: &str,
    ) -> Result<(Self, Option<ResumeCursor>), ScanError> {
        let first_line =
            json!({"record": "journal", "fingerprint": fingerprint, "started_utc": started_utc});
        let fresh = |file: File, path: Option<PathBuf>| Journal {
            file,
            path,
            records: 0,
            resumed: false,
            started_utc: started_utc.into(),
            first_of: HashMap::new(),
            last_sync: Instant::now(),
        };
        let Some(p) = path else {
            let anon = || PathBuf::from("(temporary file)");
            let mut file = tempfile::tempfile().map_err(|e| ScanError::output(anon(), e))?;
            writeln!(file, "{first_line}").map_err(|e| ScanError::output(anon(), e))?;
            return Ok((fresh(file, None), None));
        };
        if resume && p.exists() {
            if let Some(r) = Self::reopen(p, fingerprint)? {
                return Ok(r);
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
            .map_err(|e| ScanError::output(p, e))?;
        writeln!(file, "{first_line}").map_err(|e| ScanError::output(p, e))?;
        Ok((fresh(file, Some(p.to_path_buf())), None))
    }

    /// Opens an earlier scan's journal for reuse; `None` when not even its first line was
    /// completed (a crash right after it was created), so the scan starts afresh.
    fn reopen(
        p: &Path,
        fingerprint: &Value,
    ) -> Result<Option<(Self, Option<ResumeCursor>)>, ScanError> {
        let io = |e| ScanError::output(p, e);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .map_err(io)?;
        let mut reader = BufReader::new(file.try_clone().map_err(io)?);
        let mut line = String::new();
        reader.read_line(&mut line).map_err(io)?;
        if !line.ends_with('\n') {
            return Ok(None);
        }
        let head: Value = serde_json::from_str(line.trim_end()).unwrap_or(Value::Null);
        if head.get("fingerprint") != Some(fingerprint) {
            return Err(ScanError::ForeignJournal(p.to_path_buf()));
        }
        let started_utc = head["started_utc"].as_str().unwrap_or("").to_string();
        let journal = Journal {
            file,
            path: Some(p.to_path_buf()),
            records: 0,
            resumed: true,
            started_utc,
            first_of: HashMap::new(),
            last_sync: Instant::now(),
        };
        let cursor = ResumeCursor {
            reader,
            keep: line.len() as u64,
            line,
            exhausted: false,
        };
        Ok(Some((journal, Some(cursor))))
    }

    /// Whether the cursor's next records are the ones `item` would produce at this journal's
    /// next index: its record and, for a container, all its descendants (a group cut short by
    /// a crash is not reused). If so they are kept and their number returned.
    pub fn reuse(
        &mut self,
        cursor: &mut ResumeCursor,
        item: &Item,
    ) -> Result<Option<u64>, ScanError> {
        let rp = ReportPath::new(&item.path);
        let top = self.records;
        let lines_up = |rec: &FileRecord| {
            rec.index == top
                && rec.parent.is_none()
                && rec.path == rp.display
                && rec.path_b64 == rp.raw_b64
        };
        let Some((rec, n)) = cursor.next_record(self.path.as_deref())? else {
            return Ok(None);
        };
        if !lines_up(&rec) {
            cursor.exhausted = true;
            return Ok(None);
        }
        let want = rec.descendants.unwrap_or(0);
        let mut group = vec![(rec, n)];
        for k in 0..want {
            match cursor.next_record(self.path.as_deref())? {
                Some((r, n)) if r.index == top + 1 + k && r.parent.is_some() => group.push((r, n)),
                _ => {
                    cursor.exhausted = true;
                    return Ok(None);
                }
            }
        }
        let count = group.len() as u64;
        for (rec, n) in group {
            cursor.keep += n;
            if let Some(h) = rec.sha256.as_deref().and_then(sha256_key) {
                self.first_of.entry(h).or_insert(rec.index);
            }
        }
        self.records += count;
        Ok(Some(count))
    }

    /// Ends the resume: the journal is cut after the last reused record, and appends go there.
    pub fn end_resume(&mut self, cursor: ResumeCursor) -> Result<(), ScanError> {
        let io = |e| ScanError::output(self.path.clone().unwrap_or_default(), e);
        drop(cursor.reader);
        self.file.set_len(cursor.keep).map_err(io)?;
        self.file.seek(SeekFrom::End(0)).map_err(io)?;
        Ok(())
    }

    /// The next record's index.
    pub fn next_index(&self) -> u64 {
        self.records
    }

    /// Marks `rec` as a copy of the first record with the same SHA-256 (by index; the report
    /// renders its path), or records it as first.
    pub fn note_duplicate(&mut self, rec: &mut FileRecord) {
        let Some(h) = rec.sha256.as_deref().and_then(sha256_key) else {
            return;
        };
        match self.first_of.get(&h) {
            Some(&i) => rec.duplicate_of_index = Some(i),
            None => {
                self.first_of.insert(h, rec.index);
            }
        }
    }

    /// Appends complete record lines; syncs at most every [`SYNC_EVERY`].
    pub fn append(&mut self, bytes: &[u8], records: u64) -> Result<(), ScanError> {
        let io = |e| ScanError::output(self.path.clone().unwrap_or_default(), e);
        self.file.write_all(bytes).map_err(io)?;
        self.records += records;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    /// Forces the journal to disk.
    pub fn sync(&mut self) -> Result<(), ScanError> {
        if let Some(p) = &self.path {
            self.file
                .sync_data()
                .map_err(|e| ScanError::output(p.clone(), e))?;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    /// A reader over the records (the fingerprint line skipped by [`for_each_record`]).
    pub fn reader(&self) -> Result<BufReader<File>, ScanError> {
        let io = |e| ScanError::output(self.path.clone().unwrap_or_default(), e);
        let mut f = self.file.try_clone().map_err(io)?;
        f.seek(SeekFrom::Start(0)).map_err(io)?;
        Ok(BufReader::new(f))
    }

    /// Removes the journal's name but keeps it open, so its records stay readable until it is
    /// dropped (Unix semantics) while no `REPORT.partial` suggests an interrupted scan.
    pub fn unlink(&mut self) {
        if let Some(p) = self.path.take() {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Deletes the journal once the report is complete.
    pub fn remove(self) {
        if let Some(p) = self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Streams a journal's records (each line after the first) into `f`, in order.
pub(crate) fn for_each_record<E: From<ScanError>>(
    journal: &mut dyn BufRead,
    mut f: impl FnMut(FileRecord) -> Result<(), E>,
) -> Result<(), E> {
    let corrupt = |e: String| ScanError::Internal(format!("journal unreadable: {e}"));
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        if journal
            .read_line(&mut line)
            .map_err(|e| corrupt(e.to_string()))?
            == 0
        {
            return Ok(());
        }
        if std::mem::take(&mut first) {
            continue; // the journal's fingerprint line
        }
        f(serde_json::from_str(line.trim_end()).map_err(|e| corrupt(e.to_string()))?)?;
    }
}

/// The records of a journal with `duplicate_of` (the path of the first copy) filled in: two
/// passes, so memory holds only the paths of records that later records duplicate.
pub(crate) fn with_duplicate_paths<E: From<ScanError>>(
    journal: &Journal,
    mut f: impl FnMut(FileRecord) -> Result<(), E>,
) -> Result<(), E> {
    for r in Records::new(journal)? {
        f(r?)?;
    }
    Ok(())
}

/// An iterator over a journal's records in order, `duplicate_of` filled in: a first pass notes
/// which records later ones duplicate, so memory holds only their paths; then one line at a time.
pub struct Records {
    reader: BufReader<File>,
    wanted: std::collections::HashSet<u64>,
    paths: HashMap<u64, String>,
    line: String,
}

impl Records {
    pub(crate) fn new(journal: &Journal) -> Result<Self, ScanError> {
        let mut wanted = std::collections::HashSet::new();
        for_each_record(&mut journal.reader()?, |r| {
            if let Some(i) = r.duplicate_of_index {
                wanted.insert(i);
            }
            Ok::<(), ScanError>(())
        })?;
        let mut reader = journal.reader()?;
        let mut line = String::new();
        // The fingerprint line.
        reader
            .read_line(&mut line)
            .map_err(|e| ScanError::Internal(format!("journal unreadable: {e}")))?;
        Ok(Records {
            reader,
            wanted,
            paths: HashMap::new(),
            line,
        })
    }
}

impl Iterator for Records {
    type Item = Result<FileRecord, ScanError>;

    fn next(&mut self) -> Option<Self::Item> {
        let corrupt = |e: String| ScanError::Internal(format!("journal unreadable: {e}"));
        self.line.clear();
        match self.reader.read_line(&mut self.line) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(corrupt(e.to_string()))),
        }
        let mut r: FileRecord = match serde_json::from_str(self.line.trim_end()) {
            Ok(r) => r,
            Err(e) => return Some(Err(corrupt(e.to_string()))),
        };
        if self.wanted.contains(&r.index) {
            self.paths.insert(r.index, r.path.clone());
        }
        if let Some(i) = r.duplicate_of_index {
            r.duplicate_of = self.paths.get(&i).cloned();
        }
        Some(Ok(r))
    }
}
