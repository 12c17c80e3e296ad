//! Hash-list readers: plain hex, CSV/TSV, ThreatExchange PDQ text, Project VIC VICS JSON, and
//! NIST's NSRL RDS (the v3 SQLite database and the legacy 2.x `NSRLFile.txt`).
//!
//! Every reader streams its input ([`std::io::BufRead`]), turns each input record (a line, a CSV
//! row, a VICS `Media` item) into at most one [`ImportRecord`] for the target algorithm and
//! pushes it into a [`RecordSink`] (normally the set writer). A record that cannot be used is
//! *rejected* and counted by [`RejectReason`]; the first few rejects of each reason keep their
//! line number in [`ImportReport::examples`]. With [`ImportOptions::strict`] the first reject is
//! an [`Error::Import`] naming the file, line and reason instead.
//!
//! Rules shared by all formats:
//! - hex is accepted in either case; surrounding whitespace is ignored;
//! - a hash of the empty file (MD5 `d41d8cd9…`, SHA-1 `da39a3ee…`, SHA-256 `e3b0c442…`) is
//!   rejected: it would match every empty file on the evidence;
//! - a record identical to one already pushed (same digest, id, labels and note) is a
//!   `duplicate` reject: the sink decides, so duplicates across files are caught too;
//! - a record that carries no hash of the target algorithm (a VICS item with only PhotoDNA, a
//!   CSV row whose `algorithm` column names another hash) is a `wrong-algorithm` reject; a whole
//!   file that can hold only another algorithm (a PDQ list for an MD5 set) is an error;
//! - the NSRL formats are membership lists: one record per distinct digest, later rows with the
//!   same digest counted as `repeated-digest` (see [`nsrl`] for why and how);
//! - with [`ImportOptions::digests_only`] records carry no id, labels or note.
//!
//! ```
//! use nearmatch::hash::Algorithm;
//! use nearmatch::import::{import_reader, ImportOptions, MemorySink, RejectReason};
//! let list = "# known\nD41D8CD98F00B204E9800998ECF8427E\n0123456789abcdef0123456789abcdef\nzz\n";
//! let mut sink = MemorySink::default();
//! let opts = ImportOptions::new(Algorithm::Md5);
//! let report = import_reader(list.as_bytes(), "list.txt", &opts, &mut sink).unwrap();
//! assert_eq!(report.imported, 1);
//! assert_eq!(report.rejected[&RejectReason::EmptyFileHash], 1);
//! assert_eq!(report.rejected[&RejectReason::BadHex], 1);
//! ```

mod blocks;
mod csvlist;
pub mod nsrl;
mod text;
mod vics;

#[cfg(test)]
mod nsrl_tests;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashSet as StdHashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Result};
use crate::hash::Algorithm;

/// A list format nearmatch can import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// One hex hash per line (optionally followed by whitespace and a note, as `md5sum` prints);
    /// `#` comments and blank lines are skipped.
    Plain,
    /// Comma- or tab-separated values with a header row naming the hash column.
    Csv,
    /// Meta ThreatExchange / `pdq-photo-hasher` text: `[hash=]HEX[,quality][,filename]` or
    /// `key=value` fields.
    ThreatExchange,
    /// Project VIC VICS JSON (1.2, 1.3, 2.0).
    Vics,
    /// Meta's per-video vPDQ file (`frame,quality,hash,timestamp` lines): one video, read by
    /// [`crate::hashset::vpdq::VideoListWriter`] into a video list.
    Vpdq,
    /// NIST NSRL RDS v3: the SQLite database (`RDS_*.db`), read from a file only.
    NsrlRds,
    /// NIST NSRL RDS 2.x legacy text: `NSRLFile.txt`, quoted CSV with a `"SHA-1","MD5",…` header.
    NsrlLegacy,
}

impl Format {
    /// The CLI name of the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Plain => "plain",
            Format::Csv => "csv",
            Format::ThreatExchange => "threatexchange",
            Format::Vics => "vics",
            Format::Vpdq => "vpdq",
            Format::NsrlRds => "nsrl-rds",
            Format::NsrlLegacy => "nsrl-legacy",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "plain" | "txt" | "text" => Ok(Format::Plain),
            "csv" | "tsv" => Ok(Format::Csv),
            "threatexchange" | "te" | "pdq" => Ok(Format::ThreatExchange),
            "vics" | "json" => Ok(Format::Vics),
            "vpdq" => Ok(Format::Vpdq),
            "nsrl-rds" | "rds" | "rdsv3" | "nsrl" => Ok(Format::NsrlRds),
            "nsrl-legacy" | "nsrlfile" => Ok(Format::NsrlLegacy),
            other => Err(Error::InvalidArgument(format!(
                "unknown list format {other:?} (known: plain, csv, threatexchange, vics, \
                 nsrl-rds, nsrl-legacy)"
            ))),
        }
    }
}

/// Why an input record was not imported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectReason {
    /// The hash contains a character that is not a hex digit.
    BadHex,
    /// The hash has the wrong number of hex digits for the algorithm.
    WrongLength,
    /// The record is identical to one already imported.
    Duplicate,
    /// The hash is that of the empty file and would match every empty file.
    EmptyFileHash,
    /// The record carries no hash of the target algorithm.
    WrongAlgorithm,
    /// The record is structurally unusable (a CSV row without the hash column, a VICS item
    /// that is not an object).
    Malformed,
    /// A membership list (NSRL) already gave this digest in an earlier row: the set keeps one
    /// entry per digest. Counted, never an error, even with [`ImportOptions::strict`]: NSRL
    /// repeats a file's hash for every package that ships it, by design.
    RepeatedDigest,
}

impl RejectReason {
    /// The report name (`bad-hex`, `wrong-length`, …).
    pub fn name(self) -> &'static str {
        match self {
            RejectReason::BadHex => "bad-hex",
            RejectReason::WrongLength => "wrong-length",
            RejectReason::Duplicate => "duplicate",
            RejectReason::EmptyFileHash => "empty-file-hash",
            RejectReason::WrongAlgorithm => "wrong-algorithm",
            RejectReason::Malformed => "malformed",
            RejectReason::RepeatedDigest => "repeated-digest",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One (scheme, value) label of an entry, e.g. (`vics-US`, `1`) or (`caid`, `A`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Label {
    /// Who defines the value (`vics-US`, `caid`, a CSV column name).
    pub scheme: String,
    /// The value in that scheme.
    pub value: String,
}

impl Label {
    /// A label from its two parts.
    pub fn new(scheme: impl Into<String>, value: impl Into<String>) -> Self {
        Label {
            scheme: scheme.into(),
            value: value.into(),
        }
    }
}

/// One hash with its metadata, as a reader hands it to a [`RecordSink`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportRecord {
    /// The algorithm of `digest`.
    pub algorithm: Algorithm,
    /// The digest's big-endian bytes (`bits / 8` of them).
    pub digest: Vec<u8>,
    /// The entry's identifier in its source (VICS `MediaID`, a CSV `id` column), or empty.
    pub id: String,
    /// Labels, in source order.
    pub labels: Vec<Label>,
    /// Free text (a file name, a comment), or empty.
    pub note: String,
    /// 1-based line of the record in its source (the line where a VICS item ends).
    pub line: u64,
}

/// What a sink did with a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The record was kept.
    Added,
    /// An identical record (digest, id, labels, note) was already kept.
    Duplicate,
}

/// Where readers send their records.
pub trait RecordSink {
    /// Takes one record; reports whether it was a duplicate.
    fn push(&mut self, record: ImportRecord) -> Result<Pushed>;

    /// Takes one record given by its parts, as [`Self::push`] does; sinks that copy the parts
    /// anyway (the set writer) override it to spare the record's allocations.
    fn push_parts(
        &mut self,
        algorithm: Algorithm,
        digest: &[u8],
        line: u64,
        id: &str,
        labels: &[(&str, &str)],
        note: &str,
    ) -> Result<Pushed> {
        self.push(ImportRecord {
            algorithm,
            digest: digest.to_vec(),
            id: id.to_string(),
            labels: labels.iter().map(|&(k, v)| Label::new(k, v)).collect(),
            note: note.to_string(),
            line,
        })
    }
}

/// A sink that keeps records in memory (tests, small lists, the Python module).
#[derive(Debug, Default)]
pub struct MemorySink {
    /// The kept records, in push order.
    pub records: Vec<ImportRecord>,
    seen: StdHashSet<(Vec<u8>, String, Vec<Label>, String)>,
}

impl RecordSink for MemorySink {
    fn push(&mut self, record: ImportRecord) -> Result<Pushed> {
        let key = (
            record.digest.clone(),
            record.id.clone(),
            record.labels.clone(),
            record.note.clone(),
        );
        if !self.seen.insert(key) {
            return Ok(Pushed::Duplicate);
        }
        self.records.push(record);
        Ok(Pushed::Added)
    }
}

/// How to import a list.
#[derive(Clone, Debug)]
pub struct ImportOptions {
    /// The algorithm of the set being built: records of other algorithms are rejected.
    pub algorithm: Algorithm,
    /// Force a format instead of detecting it from the content.
    pub format: Option<Format>,
    /// Turn the first reject into an error.
    pub strict: bool,
    /// How many examples (with line numbers) to keep per reject reason.
    pub max_examples: usize,
    /// Keep the digests only (no id, labels or note): a membership set such as a known-good
    /// list needs nothing else, and identical digests then fold into one entry.
    pub digests_only: bool,
}

impl ImportOptions {
    /// Options for `algorithm`: auto-detected format, not strict, 5 examples per reason.
    pub fn new(algorithm: Algorithm) -> Self {
        ImportOptions {
            algorithm,
            format: None,
            strict: false,
            max_examples: 5,
            digests_only: false,
        }
    }
}

/// One rejected record kept as an example.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectExample {
    /// Why it was rejected.
    pub reason: RejectReason,
    /// 1-based line (0 when the record has no line, e.g. in a merge); for an NSRL RDS v3
    /// database, the `rowid` of the `FILE` row (or its 1-based position when it has none).
    pub line: u64,
    /// What was wrong, briefly.
    pub detail: String,
}

/// The outcome of importing one list: what it was and how many records went where.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The file name (last path component).
    pub name: String,
    /// The path as given.
    pub path: String,
    /// SHA-256 of the file bytes, lower-case hex.
    pub sha256: String,
    /// Size of the file in bytes.
    pub bytes: u64,
    /// The format read.
    pub format: Format,
    /// The target algorithm.
    pub algorithm: String,
    /// Records kept.
    pub imported: u64,
    /// Records rejected, by reason.
    pub rejected: BTreeMap<RejectReason, u64>,
    /// The first few rejects of each reason.
    pub examples: Vec<RejectExample>,
}

impl ImportReport {
    /// Total number of rejected records.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// Counts one reject of `reason` and keeps it as an example while fewer than
    /// `max_examples` of that reason are kept (`detail` is only built then).
    pub(crate) fn count_reject(
        &mut self,
        reason: RejectReason,
        line: u64,
        max_examples: usize,
        detail: impl FnOnce() -> String,
    ) {
        *self.rejected.entry(reason).or_insert(0) += 1;
        let shown = self.examples.iter().filter(|e| e.reason == reason).count();
        if shown < max_examples {
            self.examples.push(RejectExample {
                reason,
                line,
                detail: detail(),
            });
        }
    }
}

/// The per-file bookkeeping every reader uses: counts, examples, strictness, the sink.
pub(crate) struct Ctx<'a> {
    pub opts: &'a ImportOptions,
    pub path: String,
    pub report: ImportReport,
    pub sink: &'a mut dyn RecordSink,
}

impl Ctx<'_> {
    /// Records a reject (an error in strict mode).
    pub fn reject(
        &mut self,
        reason: RejectReason,
        line: u64,
        detail: impl Into<String>,
    ) -> Result<()> {
        let detail = detail.into();
        if self.opts.strict {
            return Err(Error::Import {
                path: self.path.clone().into(),
                reason: format!("line {line}: {reason}: {detail}"),
            });
        }
        self.report
            .count_reject(reason, line, self.opts.max_examples, || detail);
        Ok(())
    }

    /// Checks a hex field and, if usable, pushes the record (counting a duplicate as a reject).
    pub fn emit(
        &mut self,
        hex: &str,
        line: u64,
        id: String,
        labels: Vec<Label>,
        note: String,
    ) -> Result<()> {
        match parse_hex(hex, self.opts.algorithm) {
            Err((reason, detail)) => self.reject(reason, line, detail),
            Ok(digest) => self.push_digest(digest, line, id, labels, note, || hex.trim().into()),
        }
    }

    /// Pushes a checked digest with its metadata (dropped under
    /// [`ImportOptions::digests_only`]), counting a duplicate as a reject; `shown` gives the
    /// hash as the list wrote it, for the reject's message.
    pub fn push_digest(
        &mut self,
        digest: Vec<u8>,
        line: u64,
        id: String,
        labels: Vec<Label>,
        note: String,
        shown: impl FnOnce() -> String,
    ) -> Result<()> {
        let (id, labels, note) = if self.opts.digests_only {
            (String::new(), Vec::new(), String::new())
        } else {
            (id, labels, note)
        };
        let record = ImportRecord {
            algorithm: self.opts.algorithm,
            digest,
            id,
            labels,
            note,
            line,
        };
        let pushed = self.sink.push(record)?;
        self.tally(pushed, line, shown)
    }

    /// Counts what the sink did with the record of `line`: imported, or a duplicate reject.
    fn tally(&mut self, pushed: Pushed, line: u64, shown: impl FnOnce() -> String) -> Result<()> {
        match pushed {
            Pushed::Added => {
                self.report.imported += 1;
                Ok(())
            }
            Pushed::Duplicate => self.reject(
                RejectReason::Duplicate,
                line,
                format!("{} repeated", shown()),
            ),
        }
    }

    /// [`Self::push_digest`] for a digest in a borrowed buffer (the parallel readers' path).
    pub fn push_parts(
        &mut self,
        digest: &[u8],
        line: u64,
        id: &str,
        labels: &[(&str, &str)],
        note: &str,
        shown: impl FnOnce() -> String,
    ) -> Result<()> {
        let (id, labels, note) = if self.opts.digests_only {
            ("", &[][..], "")
        } else {
            (id, labels, note)
        };
        let pushed = self
            .sink
            .push_parts(self.opts.algorithm, digest, line, id, labels, note)?;
        self.tally(pushed, line, shown)
    }

    /// Counts a row whose digest a membership list already gave (never an error, even when
    /// strict); `detail` is only built while examples of the reason are still kept.
    pub fn repeated(&mut self, line: u64, detail: impl FnOnce() -> String) {
        self.report.count_reject(
            RejectReason::RepeatedDigest,
            line,
            self.opts.max_examples,
            detail,
        );
    }

    /// An error about the file as a whole.
    pub fn fail(&self, reason: impl Into<String>) -> Error {
        Error::Import {
            path: self.path.clone().into(),
            reason: reason.into(),
        }
    }
}

/// Hex of the empty input's digest, for the algorithms where that is meaningful.
pub fn empty_file_hash(algorithm: Algorithm) -> Option<&'static str> {
    match algorithm {
        Algorithm::Md5 => Some("d41d8cd98f00b204e9800998ecf8427e"),
        Algorithm::Sha1 => Some("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        Algorithm::Sha256 => {
            Some("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        }
        _ => None,
    }
}

/// Parses a hash field for `algorithm` into big-endian bytes, or says why not.
pub(crate) fn parse_hex(
    s: &str,
    algorithm: Algorithm,
) -> std::result::Result<Vec<u8>, (RejectReason, String)> {
    parse_hex_array(s, algorithm).map(|(bytes, n)| bytes[..n].to_vec())
}

/// [`parse_hex`] into a stack buffer: the digest is the first `n` bytes (no allocation, for
/// the list readers' hot loop).
pub(crate) fn parse_hex_array(
    s: &str,
    algorithm: Algorithm,
) -> std::result::Result<([u8; 32], usize), (RejectReason, String)> {
    let s = s.trim();
    let want = algorithm.bits() / 4;
    let mut out = [0u8; 32];
    // The common case in one pass over the bytes (list imports spend most of their time here):
    // the right length, every byte a hex digit. Anything else takes the careful path below,
    // which names the fault.
    if s.len() == want && want <= 64 {
        let mut ok = true;
        for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            let (hi, lo) = (HEX_VALUE[pair[0] as usize], HEX_VALUE[pair[1] as usize]);
            ok &= (hi | lo) < 16;
            *o = (hi << 4) | (lo & 15);
        }
        if ok {
            if let Some(empty) = empty_file_hash(algorithm) {
                if s.eq_ignore_ascii_case(empty) {
                    return Err((
                        RejectReason::EmptyFileHash,
                        format!("{empty} is the {algorithm} of the empty file"),
                    ));
                }
            }
            return Ok((out, want / 2));
        }
    }
    if let Some(c) = s.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err((
            RejectReason::BadHex,
            format!("{:?}: {c:?} is not a hex digit", short(s)),
        ));
    }
    if s.len() != want {
        return Err((
            RejectReason::WrongLength,
            format!("{} hex digits, {algorithm} needs {want}", s.len()),
        ));
    }
    // Not reached: every algorithm is at most 256 bits, so hex of the right length took the
    // fast path above. Kept as a reject rather than a panic.
    Err((
        RejectReason::WrongLength,
        format!("{} hex digits, more than 64", s.len()),
    ))
}

/// Each byte's value as a hex digit, or 255.
static HEX_VALUE: [u8; 256] = {
    let mut t = [255u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The first characters of a field, for messages.
fn short(s: &str) -> String {
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s.to_string()
    }
}

/// Normalises a column or field name: lower case, alphanumerics only (`SHA-1` -> `sha1`).
pub(crate) fn norm_name(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The algorithm a column or type name stands for (`pdq`, `pdqhash`, `SHA-1`, `md5hash`…).
pub(crate) fn algorithm_of_name(name: &str) -> Option<Algorithm> {
    let n = norm_name(name);
    let find = |n: &str| Algorithm::ALL.into_iter().find(|a| a.name() == n);
    // `phash` is a name of its own; `md5hash`, `pdqhash` are names with a suffix.
    find(&n).or_else(|| n.strip_suffix("hash").and_then(find))
}

/// A reader that hashes (SHA-256) and counts every byte that passes through it.
struct Tap<R> {
    inner: R,
    sha: Sha256,
    bytes: u64,
}

impl<R: Read> Read for Tap<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Guesses the format from the first bytes of the list (after any UTF-8 byte-order mark).
pub fn detect(head: &[u8]) -> Format {
    if head.starts_with(nsrl::SQLITE_MAGIC) {
        return Format::NsrlRds;
    }
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Format::Vics;
    }
    let first = trimmed
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if nsrl::is_legacy_header(first) {
        return Format::NsrlLegacy;
    }
    if first.to_ascii_lowercase().starts_with("hash=") {
        return Format::ThreatExchange;
    }
    let fields: Vec<&str> = first.split([',', '\t', ';']).map(str::trim).collect();
    if fields.len() > 1 {
        let hexish = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit());
        if hexish(fields[0]) && fields[0].len() == 64 && first.contains(',') {
            return Format::ThreatExchange;
        }
        if fields
            .iter()
            .any(|f| algorithm_of_name(f.trim_matches('"')).is_some() || norm_name(f) == "hash")
        {
            return Format::Csv;
        }
    }
    Format::Plain
}

/// Imports the list at `path` into `sink`.
///
/// An SQLite file (detected by its magic, or forced with [`Format::NsrlRds`]) is read as an
/// NSRL RDS v3 database by SQLite itself, read-only; everything else is streamed.
pub fn import(
    path: impl AsRef<Path>,
    opts: &ImportOptions,
    sink: &mut dyn RecordSink,
) -> Result<ImportReport> {
    let path = path.as_ref();
    let io_err = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    if opts.format == Some(Format::NsrlRds) {
        return nsrl::import_rds(path, opts, sink);
    }
    // Sniff through a buffer rather than by seeking (the list may be a pipe, `<(zcat list.gz)`).
    // The buffer is a full read, not just the 16 bytes of the magic, because `import_reader`
    // detects the text formats from its own first read, which this buffer then serves.
    let mut reader = BufReader::with_capacity(1 << 16, file);
    if opts.format.is_none()
        && reader
            .fill_buf()
            .map_err(io_err)?
            .starts_with(nsrl::SQLITE_MAGIC)
    {
        return nsrl::import_rds(path, opts, sink);
    }
    import_reader(reader, &path.display().to_string(), opts, sink)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Imports a list from any reader; `path` names it in the report and in errors.
pub fn import_reader(
    reader: impl Read,
    path: &str,
    opts: &ImportOptions,
    sink: &mut dyn RecordSink,
) -> Result<ImportReport> {
    let mut tap = BufReader::with_capacity(
        1 << 16,
        Tap {
            inner: reader,
            sha: Sha256::new(),
            bytes: 0,
        },
    );
    let io_err = |source| Error::Io {
        path: path.into(),
        source,
    };
    // Skip a UTF-8 byte-order mark (Windows exports of VICS and CSV often carry one).
    {
        let head = tap.fill_buf().map_err(io_err)?;
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            tap.consume(3);
        }
    }
    let format = match opts.format {
        Some(f) => f,
        None => detect(tap.fill_buf().map_err(io_err)?),
    };
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string());
    let mut ctx = Ctx {
        opts,
        path: path.to_string(),
        report: ImportReport {
            name,
            path: path.to_string(),
            sha256: String::new(),
            bytes: 0,
            format,
            algorithm: opts.algorithm.name().to_string(),
            imported: 0,
            rejected: BTreeMap::new(),
            examples: Vec::new(),
        },
        sink,
    };
    match format {
        Format::Plain => text::read_plain(&mut tap, &mut ctx)?,
        Format::ThreatExchange => text::read_threatexchange(&mut tap, &mut ctx)?,
        Format::Csv => csvlist::read_csv(&mut tap, &mut ctx)?,
        Format::Vics => vics::read_vics(&mut tap, &mut ctx)?,
        Format::NsrlLegacy => nsrl::read_legacy(&mut tap, &mut ctx)?,
        Format::NsrlRds => {
            return Err(Error::Import {
                path: path.into(),
                reason: "an NSRL RDS v3 database is SQLite: it is imported from a file path \
                         (SQLite needs random access), not from a stream"
                    .into(),
            })
        }
        Format::Vpdq => {
            return Err(Error::Import {
                path: path.into(),
                reason: "a vPDQ file is one video: build a video list with `set build --algo vpdq`"
                    .into(),
            })
        }
    }
    // Drain what the reader left (trailing whitespace after JSON) so the SHA-256 covers the file.
    io::copy(&mut tap, &mut io::sink()).map_err(io_err)?;
    let tap = tap.into_inner();
    let mut report = ctx.report;
    report.sha256 = hex::encode(tap.sha.finalize());
    report.bytes = tap.bytes;
    Ok(report)
}
