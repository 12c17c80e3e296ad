//! Rendering the journal of file records as JSON Lines, CSV (+ a chain-of-custody sidecar) or a
//! hash-only VICS 2.0 export, with the reconciling summary.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use serde::Serialize;
use serde_json::{json, Value};

use super::record::FileRecord;
use crate::hashing::csv_line;

/// Report formats of `scan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanFormat {
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
    /// Whether some file could not be processed.
    #[serde(skip)]
    pub failed: bool,
}

impl Summary {
    /// Adds one record.
    pub fn add(&mut self, r: &FileRecord) {
        self.files += 1;
        *self.dispositions.entry(r.disposition.clone()).or_default() += 1;
        *self.by_class.entry(r.class().to_string()).or_default() += 1;
        self.matches += r.matches.len() as u64;
        for m in &r.matches {
            *self.matches_by_set.entry(m.set.clone()).or_default() += 1;
            if let Some(p) = &m.probe {
                *self.matches_by_probe.entry(p.clone()).or_default() += 1;
            }
        }
        self.probe_hashes += u64::from(r.probe_hashes.unwrap_or(0));
        self.low_quality += u64::from(r.low_quality == Some(true));
        self.extension_mismatch += u64::from(r.extension_mismatch == Some(true));
        self.duplicate_files += u64::from(r.duplicate_of.is_some());
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

/// Streams the journal's file records (each line after the first) into `f`.
pub fn for_each_record(
    journal: &mut dyn BufRead,
    mut f: impl FnMut(FileRecord) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut line = String::new();
    let mut first = true;
    loop {
        line.clear();
        if journal.read_line(&mut line)? == 0 {
            return Ok(());
        }
        if std::mem::take(&mut first) {
            continue; // the journal's fingerprint line
        }
        f(serde_json::from_str(line.trim_end())?)?;
    }
}

/// Writes a JSON Lines report: header, records, summary.
pub fn write_jsonl(
    out: &mut dyn Write,
    header: &Value,
    journal: &mut dyn BufRead,
    summary_of: impl FnOnce(&Summary) -> Value,
) -> anyhow::Result<Summary> {
    writeln!(out, "{header}")?;
    let mut s = Summary::default();
    for_each_record(journal, |r| {
        s.add(&r);
        serde_json::to_writer(&mut *out, &r)?;
        out.write_all(b"\n")?;
        Ok(())
    })?;
    writeln!(out, "{}", summary_of(&s))?;
    Ok(s)
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

/// Writes one CSV row per file (the header and summary go to the sidecar).
pub fn write_csv(out: &mut dyn Write, journal: &mut dyn BufRead) -> anyhow::Result<Summary> {
    let cols: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
    writeln!(out, "{}", csv_line(&cols))?;
    let mut s = Summary::default();
    for_each_record(journal, |r| {
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
        let matches: Vec<String> = r
            .matches
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
            .collect();
        let mut labels: Vec<String> = r
            .matches
            .iter()
            .flat_map(|m| m.labels.iter().map(|l| format!("{}={}", l.scheme, l.value)))
            .collect();
        labels.sort();
        labels.dedup();
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
            r.disposition.clone(),
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
        writeln!(out, "{}", csv_line(&row))?;
        Ok(())
    })?;
    Ok(s)
}

/// Writes a VICS 2.0 hash-only export: one `Media` item per distinct image (or matched) file,
/// its `MediaFiles` holding MD5 and SHA-1 only. No paths and never any content.
pub fn write_vics(
    out: &mut dyn Write,
    journal: &mut dyn BufRead,
    version: &str,
) -> anyhow::Result<Summary> {
    let case = json!({
        "SourceApplicationName": "nearmatch",
        "SourceApplicationVersion": version,
    });
    let case = serde_json::to_string(&case)?;
    // Open the case object, add the Media array by hand so items stream.
    write!(
        out,
        "{{\"@odata.context\":\"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/$metadata#Cases\",\"value\":[{},\"Media\":[",
        &case[..case.len() - 1]
    )?;
    let mut s = Summary::default();
    let mut id = 0u64;
    for_each_record(journal, |r| {
        s.add(&r);
        let is_image = r.width.is_some()
            || matches!(
                r.file_type.as_deref(),
                Some("jpeg" | "png" | "gif" | "bmp" | "tiff" | "webp")
            );
        if r.duplicate_of.is_some() || r.md5.is_none() || !(is_image || !r.matches.is_empty()) {
            return Ok(());
        }
        id += 1;
        let item = json!({
            "MediaID": id,
            "MediaSize": r.size,
            "MediaFiles": [{"MD5": r.md5.as_deref().map(str::to_uppercase), "SHA1": r.sha1.as_deref().map(str::to_uppercase)}],
        });
        if id > 1 {
            out.write_all(b",")?;
        }
        out.write_all(b"\n")?;
        serde_json::to_writer(&mut *out, &item)?;
        Ok(())
    })?;
    writeln!(out, "\n]}}]}}")?;
    Ok(s)
}
