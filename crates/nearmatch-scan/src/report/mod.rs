//! Rendering records as reports: JSON Lines, CSV (+ a chain-of-custody sidecar), a hash-only
//! VICS 2.0 export, DFXML 2.0, CASE/UCO JSON-LD and a self-contained HTML case summary.
//!
//! Every format is a [`ReportWriter`]: it is given the scan's chain-of-custody header, then each
//! record in order, then the summary record, and writes as it goes, so memory does not grow with
//! the number of records (the HTML summary's aggregates grow with the number of distinct sets and
//! labels only). A scan renders all its outputs in one pass over its journal; [`convert_report`]
//! renders any format from the JSON Lines report of a finished scan with the same writers, so the
//! result is byte-for-byte what the scan would have written.

mod case;
mod convert;
mod csv;
mod dfxml;
mod html;
mod jsonl;
mod output;
mod text;
mod uuid;
mod vics;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::record::FileRecord;

pub use self::case::CaseWriter;
pub use self::convert::{convert_report, ConvertError};
pub use self::csv::CsvWriter;
pub use self::dfxml::{DfxmlWriter, DFXML_NAMESPACE, NEARMATCH_XML_NAMESPACE};
pub use self::html::HtmlWriter;
pub use self::jsonl::JsonlWriter;
pub(crate) use self::output::OutputSet;
pub use self::vics::VicsWriter;

/// One report format's writer. It is given the scan's chain-of-custody header, then every
/// record in order, then the summary record (the one a JSON Lines report ends with), and writes
/// its output as it goes; [`ReportWriter::finish`] flushes it.
pub trait ReportWriter {
    /// Starts the report with the chain-of-custody header (a JSON Lines report's first line).
    fn begin(&mut self, header: &Value) -> std::io::Result<()>;
    /// Adds one record (records come in index order, `duplicate_of` filled in).
    fn record(&mut self, r: &FileRecord) -> std::io::Result<()>;
    /// Ends the report with the summary record and flushes the output.
    fn finish(&mut self, summary: &Value) -> std::io::Result<()>;
}

/// The writer of `format` over `out`.
pub fn writer_for<'a, W: Write + 'a>(
    format: ReportFormat,
    out: W,
) -> std::io::Result<Box<dyn ReportWriter + 'a>> {
    Ok(match format {
        ReportFormat::Jsonl => Box::new(JsonlWriter::new(out)),
        ReportFormat::Csv => Box::new(CsvWriter::new(out)),
        ReportFormat::Vics => Box::new(VicsWriter::new(out)),
        ReportFormat::Dfxml => Box::new(DfxmlWriter::new(out)),
        ReportFormat::Case => Box::new(CaseWriter::new(out)),
        ReportFormat::Html => Box::new(HtmlWriter::new(out)?),
    })
}

/// One CSV line with RFC 4180 quoting (no line terminator).
///
/// ```
/// let line = nearmatch_scan::report::csv_line(&["a".into(), "b,c".into(), "d\"e".into()]);
/// assert_eq!(line, r#"a,"b,c","d""e""#);
/// ```
pub fn csv_line(fields: &[String]) -> String {
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(fields)
        .expect("writing to a Vec cannot fail");
    let mut s = String::from_utf8(w.into_inner().expect("flush to Vec")).expect("fields are UTF-8");
    s.pop();
    s
}

/// The probe family a probe name belongs to: `plain`, `trim`, `content-box`, `crop`, `rotate`,
/// or `dihedral` for any probe re-oriented by a flip or quarter turn (`plain+flipy`).
///
/// ```
/// use nearmatch_scan::report::probe_family;
/// assert_eq!(probe_family("crop-l2.5-r2.5"), "crop");
/// assert_eq!(probe_family("plain+rot90"), "dihedral");
/// assert_eq!(probe_family("rotate-4"), "rotate");
/// ```
pub fn probe_family(name: &str) -> &str {
    if name.contains('+') && !name.starts_with("rotate+") || name.matches('+').count() > 1 {
        return "dihedral";
    }
    if name.starts_with("crop") {
        "crop"
    } else if name.starts_with("rotate") {
        "rotate"
    } else {
        name
    }
}

/// Report formats of a scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// JSON Lines: a header record, one record per file, a summary record.
    Jsonl,
    /// One CSV row per file; the chain of custody goes to `REPORT.header.json`.
    Csv,
    /// Project VIC VICS 2.0 JSON, hash-only (MD5/SHA-1 of image files; no paths, no content).
    Vics,
    /// DFXML 2.0: a `fileobject` per record, matches and dispositions in nearmatch's namespace.
    Dfxml,
    /// CASE/UCO JSON-LD: the scan as an investigative action, a `File` per record, matches as
    /// relationships to the hash-list entries.
    Case,
    /// A self-contained HTML case summary for people: custody, counts, matches, errors.
    Html,
}

/// The extensions that name a report format ([`ReportFormat::from_path`]), for messages.
pub const FORMAT_EXTENSIONS: &str =
    ".jsonl, .csv, .vics.json, .dfxml or .xml, .jsonld (CASE/UCO), .html";

/// A format name or file extension that names no report format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report format {0:?} (use jsonl, csv, vics, dfxml, case or html)")]
pub struct UnknownFormat(pub String);

impl ReportFormat {
    /// Every format.
    pub const ALL: [ReportFormat; 6] = [
        ReportFormat::Jsonl,
        ReportFormat::Csv,
        ReportFormat::Vics,
        ReportFormat::Dfxml,
        ReportFormat::Case,
        ReportFormat::Html,
    ];

    /// The format's name (`jsonl`, `csv`, `vics`, `dfxml`, `case`, `html`).
    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Jsonl => "jsonl",
            ReportFormat::Csv => "csv",
            ReportFormat::Vics => "vics",
            ReportFormat::Dfxml => "dfxml",
            ReportFormat::Case => "case",
            ReportFormat::Html => "html",
        }
    }

    /// The format a report file's name asks for, by its extension (case-insensitive): `.jsonl`,
    /// `.csv`, `.vics.json`, `.dfxml` or `.xml`, `.jsonld`, `.html` or `.htm`; `None` for any other.
    ///
    /// ```
    /// use nearmatch_scan::ReportFormat;
    /// assert_eq!(ReportFormat::from_path("out/r.VICS.json".as_ref()), Some(ReportFormat::Vics));
    /// assert_eq!(ReportFormat::from_path("r.jsonld".as_ref()), Some(ReportFormat::Case));
    /// assert_eq!(ReportFormat::from_path("r.json".as_ref()), None);
    /// ```
    pub fn from_path(path: &Path) -> Option<ReportFormat> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        let ends = |e: &str| name.len() > e.len() && name.ends_with(e);
        Some(if ends(".jsonl") {
            ReportFormat::Jsonl
        } else if ends(".csv") {
            ReportFormat::Csv
        } else if ends(".vics.json") {
            ReportFormat::Vics
        } else if ends(".dfxml") || ends(".xml") {
            ReportFormat::Dfxml
        } else if ends(".jsonld") {
            ReportFormat::Case
        } else if ends(".html") || ends(".htm") {
            ReportFormat::Html
        } else {
            return None;
        })
    }
}

impl std::fmt::Display for ReportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ReportFormat {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReportFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A report file to write, and its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOutput {
    /// The report file.
    pub path: std::path::PathBuf,
    /// Its format.
    pub format: ReportFormat,
}

/// Totals over every file record; `files` must equal the walk's count.
#[derive(Default, Debug, Serialize)]
pub struct Summary {
    /// Records seen.
    pub files: u64,
    /// Records of container members (`files - members` = files walked).
    pub members: u64,
    /// Records per full disposition string.
    pub dispositions: BTreeMap<String, u64>,
    /// Records per disposition class (`matched`, `unmatched`, `not-image`, `error`, `skipped`).
    pub by_class: BTreeMap<String, u64>,
    /// Total hits.
    pub matches: u64,
    /// Hits per set (display path).
    pub matches_by_set: BTreeMap<String, u64>,
    /// Files with PDQ quality below 50.
    pub low_quality: u64,
    /// Files whose extension lies about their content.
    pub extension_mismatch: u64,
    /// Later copies of an earlier file (same SHA-256).
    pub duplicate_files: u64,
    /// Bytes read and hashed.
    pub bytes_hashed: u64,
    /// PDQ probe hashes computed (the plain hash included) over all files.
    pub probe_hashes: u64,
    /// Hits per probe name (`plain`, `trim`, ...; exact-set hits are not probes).
    pub matches_by_probe: BTreeMap<String, u64>,
    /// Records whose bytes an ignore set holds (`--ignore-set`), whatever their disposition:
    /// the `known-good` ones, plus matched files (a match wins) and expanded archives.
    pub known_good_hits: u64,
    /// Records per ignore set (display path) holding them.
    pub known_good_by_set: BTreeMap<String, u64>,
    /// Hits per probe family ([`probe_family`]); not part of the report's summary record.
    #[serde(skip)]
    pub matches_by_probe_family: BTreeMap<String, u64>,
    /// Whether some file could not be processed.
    #[serde(skip)]
    pub failed: bool,
    /// The first [`Summary::LISTED`] matched records, one line each (path, then each match as
    /// `entry@set(algorithm,d=N[,orientation][,probe=P]) [labels]`), for a summary on screen.
    #[serde(skip)]
    pub listed_matches: Vec<String>,
}

impl Summary {
    /// Matched records listed in [`Summary::listed_matches`].
    pub const LISTED: usize = 50;

    /// Adds one record.
    pub fn add(&mut self, r: &FileRecord) {
        if !r.matches.is_empty() && self.listed_matches.len() < Self::LISTED {
            self.listed_matches
                .push(format!("{}  {}", r.path, match_list(r)));
        }
        self.files += 1;
        self.members += u64::from(r.parent.is_some());
        *self
            .dispositions
            .entry(r.disposition.to_string())
            .or_default() += 1;
        *self.by_class.entry(r.class().to_string()).or_default() += 1;
        self.matches += r.matches.len() as u64;
        for m in &r.matches {
            *self.matches_by_set.entry(m.set.clone()).or_default() += 1;
            if let Some(p) = &m.probe {
                *self.matches_by_probe.entry(p.clone()).or_default() += 1;
                *self
                    .matches_by_probe_family
                    .entry(probe_family(p).to_string())
                    .or_default() += 1;
            }
        }
        self.known_good_hits += u64::from(!r.known_good.is_empty());
        let mut seen: Vec<&str> = Vec::new();
        for m in &r.known_good {
            if !seen.contains(&m.set.as_str()) {
                seen.push(&m.set);
                *self.known_good_by_set.entry(m.set.clone()).or_default() += 1;
            }
        }
        self.probe_hashes += u64::from(r.probe_hashes.unwrap_or(0));
        self.low_quality += u64::from(r.low_quality == Some(true));
        self.extension_mismatch += u64::from(r.extension_mismatch == Some(true));
        self.duplicate_files += u64::from(r.duplicate_of_index.is_some());
        if r.sha256.is_some() {
            self.bytes_hashed += r.size.unwrap_or(0);
        }
        self.failed |= r.failed();
    }

    /// Files that matched.
    pub fn matched(&self) -> u64 {
        self.by_class.get("matched").copied().unwrap_or(0)
    }
}

/// Each match as `entry@set(algorithm,d=N[,orientation][,probe=P])`.
pub(crate) fn match_strings(r: &FileRecord) -> Vec<String> {
    r.matches
        .iter()
        .map(|m| {
            let o = m
                .orientation
                .as_deref()
                .map(|o| format!(",{o}"))
                .unwrap_or_default();
            let p = m
                .probe
                .as_deref()
                .map(|p| format!(",probe={p}"))
                .unwrap_or_default();
            format!(
                "{}@{}({},d={}{o}{p})",
                m.entry, m.set, m.algorithm, m.distance
            )
        })
        .collect()
}

/// The distinct `scheme=value` labels of a record's matches, sorted.
pub(crate) fn label_strings(r: &FileRecord) -> Vec<String> {
    let mut labels: Vec<String> = r
        .matches
        .iter()
        .flat_map(|m| m.labels.iter().map(|l| format!("{}={}", l.scheme, l.value)))
        .collect();
    labels.sort();
    labels.dedup();
    labels
}

/// A record's ignore-set hits on one line: `entry@set(md5) [label=...]; ...` (empty when none).
pub fn known_good_list(r: &FileRecord) -> String {
    r.known_good
        .iter()
        .map(|m| {
            let mut s = format!("{}@{}({})", m.entry, m.set, m.algorithm);
            if !m.labels.is_empty() {
                let l: Vec<String> = m
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.scheme, l.value))
                    .collect();
                s.push_str(&format!(" [{}]", l.join("; ")));
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A record's matches and labels on one line: `K1@set(pdq,d=3,orig,probe=plain) [caid=A]`.
pub fn match_list(r: &FileRecord) -> String {
    let labels = label_strings(r);
    let mut s = match_strings(r).join("; ");
    if !labels.is_empty() {
        s.push_str(&format!("  [{}]", labels.join("; ")));
    }
    s
}
