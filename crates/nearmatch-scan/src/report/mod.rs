//! Rendering the journal of records as JSON Lines, CSV (+ a chain-of-custody sidecar) or a
//! hash-only VICS 2.0 export, with the reconciling summary. Every writer streams: one record in
//! memory at a time.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;
use serde_json::{json, Value};

use crate::error::ScanError;
use crate::journal::{with_duplicate_paths, Journal};
use crate::record::FileRecord;

/// One CSV line with RFC 4180 quoting (no line terminator).
///
/// ```
/// let line = nearmatch_scan::report::csv_line(&["a".into(), "b,c".into(), "d\"e".into()]);
/// assert_eq!(line, r#"a,"b,c","d""e""#);
/// ```
pub fn csv_line(fields: &[String]) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// JSON Lines: a header record, one record per file, a summary record.
    Jsonl,
    /// One CSV row per file; the chain of custody goes to `REPORT.header.json`.
    Csv,
    /// Project VIC VICS 2.0 JSON, hash-only (MD5/SHA-1 of image files; no paths, no content).
    Vics,
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

/// Writes a JSON Lines report: header, records, summary.
pub(crate) fn write_jsonl(
    out: &mut dyn Write,
    header: &Value,
    journal: &Journal,
    summary_of: impl FnOnce(&Summary) -> Value,
) -> Result<Summary, Failure> {
    writeln!(out, "{header}")?;
    let mut s = Summary::default();
    with_duplicate_paths(journal, |r| {
        s.add(&r);
        let write = |out: &mut dyn Write| -> std::io::Result<()> {
            serde_json::to_writer(&mut *out, &r)?;
            out.write_all(b"\n")
        };
        write(out).map_err(Failure::Io)
    })?;
    writeln!(out, "{}", summary_of(&s))?;
    Ok(s)
}

/// Why writing a report failed: the output, or reading the journal.
pub(crate) enum Failure {
    /// Writing the report failed.
    Io(std::io::Error),
    /// The journal could not be read back.
    Scan(ScanError),
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<ScanError> for Failure {
    fn from(e: ScanError) -> Self {
        Failure::Scan(e)
    }
}

const CSV_COLUMNS: &[&str] = &[
    "index",
    "path",
    "path_b64",
    "kind",
    "size",
    "mtime",
    "ctime",
    "atime",
    "md5",
    "sha1",
    "sha256",
    "type",
    "extension_mismatch",
    "width",
    "height",
    "pdq",
    "pdq_quality",
    "low_quality",
    "other_hashes",
    "disposition",
    "error",
    "duplicate_of",
    "match_count",
    "matches",
    "match_labels",
    "link_target",
    "hash_mode",
    "match_probes",
];

/// Each match as `entry@set(algorithm,d=N[,orientation][,probe=P])`.
fn match_strings(r: &FileRecord) -> Vec<String> {
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
fn label_strings(r: &FileRecord) -> Vec<String> {
    let mut labels: Vec<String> = r
        .matches
        .iter()
        .flat_map(|m| m.labels.iter().map(|l| format!("{}={}", l.scheme, l.value)))
        .collect();
    labels.sort();
    labels.dedup();
    labels
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

/// Writes one CSV row per file (the header and summary go to the sidecar).
pub(crate) fn write_csv(out: &mut dyn Write, journal: &Journal) -> Result<Summary, Failure> {
    let cols: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
    writeln!(out, "{}", csv_line(&cols))?;
    let mut s = Summary::default();
    with_duplicate_paths(journal, |r| {
        s.add(&r);
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let n = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        let b = |v: Option<bool>| v.map(|x| x.to_string()).unwrap_or_default();
        let others: Vec<String> = r
            .hashes
            .iter()
            .filter(|(k, _)| k.as_str() != "pdq")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let matches = match_strings(&r);
        let labels = label_strings(&r);
        let row = vec![
            r.index.to_string(),
            r.path.clone(),
            o(&r.path_b64),
            r.kind.clone(),
            n(r.size),
            o(&r.mtime),
            o(&r.ctime),
            o(&r.atime),
            o(&r.md5),
            o(&r.sha1),
            o(&r.sha256),
            o(&r.file_type),
            b(r.extension_mismatch),
            n(r.width.map(u64::from)),
            n(r.height.map(u64::from)),
            r.hashes.get("pdq").cloned().unwrap_or_default(),
            n(r.pdq_quality.map(u64::from)),
            b(r.low_quality),
            others.join(";"),
            r.disposition.to_string(),
            o(&r.error),
            o(&r.duplicate_of),
            r.matches.len().to_string(),
            matches.join("; "),
            labels.join("; "),
            o(&r.link_target),
            o(&r.hash_mode),
            r.matches
                .iter()
                .map(|m| m.probe.as_deref().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("; "),
        ];
        writeln!(out, "{}", csv_line(&row)).map_err(Failure::Io)
    })?;
    Ok(s)
}

/// Writes a VICS 2.0 hash-only export: one `Media` item per distinct image (or matched) file,
/// its `MediaFiles` holding MD5 and SHA-1 only. No paths and never any content.
pub(crate) fn write_vics(
    out: &mut dyn Write,
    journal: &Journal,
    version: &str,
) -> Result<Summary, Failure> {
    let case = json!({
        "SourceApplicationName": "nearmatch",
        "SourceApplicationVersion": version,
    });
    let case = serde_json::to_string(&case).expect("a JSON value serializes");
    // Open the case object, add the Media array by hand so items stream.
    write!(
        out,
        "{{\"@odata.context\":\"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/$metadata#Cases\",\"value\":[{},\"Media\":[",
        &case[..case.len() - 1]
    )?;
    let mut s = Summary::default();
    let mut id = 0u64;
    with_duplicate_paths(journal, |r| {
        s.add(&r);
        let is_image = r.width.is_some()
            || matches!(
                r.file_type.as_deref(),
                Some("jpeg" | "png" | "gif" | "bmp" | "tiff" | "webp")
            );
        if r.duplicate_of_index.is_some() || r.md5.is_none() || (!is_image && r.matches.is_empty())
        {
            return Ok(());
        }
        id += 1;
        let item = json!({
            "MediaID": id,
            "MediaSize": r.size,
            "MediaFiles": [{"MD5": r.md5.as_deref().map(str::to_uppercase), "SHA1": r.sha1.as_deref().map(str::to_uppercase)}],
        });
        let write = |out: &mut dyn Write| -> std::io::Result<()> {
            if id > 1 {
                out.write_all(b",")?;
            }
            out.write_all(b"\n")?;
            serde_json::to_writer(&mut *out, &item)?;
            Ok(())
        };
        write(out).map_err(Failure::Io)
    })?;
    writeln!(out, "\n]}}]}}")?;
    Ok(s)
}
