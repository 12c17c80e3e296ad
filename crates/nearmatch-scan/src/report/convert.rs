//! `nearmatch report convert`: any format from the JSON Lines report of a finished scan, so a
//! long scan is never run twice. The report is streamed (one line in memory at a time) through
//! the same writers the scan uses, so the output is byte-for-byte what the scan would have
//! written, and the records are counted again and checked against the report's summary.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{OutputSet, ReportFormat, Summary};
use crate::error::ScanError;
use crate::record::FileRecord;
use crate::scan::OutputPaths;

/// Why a report could not be converted.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The JSON Lines report cannot be opened or read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The report.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a report record.
    #[error("{}:{line}: {reason}", .path.display())]
    Malformed {
        /// The report.
        path: PathBuf,
        /// The line number (1-based).
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The report has no summary record: the scan did not finish.
    #[error("{}: no summary record, so not the report of a finished scan (an interrupted scan's records are in REPORT.partial: finish it with --resume)", .path.display())]
    Incomplete {
        /// The report.
        path: PathBuf,
    },
    /// The records do not add up to the report's summary (a truncated or edited report).
    #[error("{}: the records do not add up to the summary record: {reason}", .path.display())]
    Mismatch {
        /// The report.
        path: PathBuf,
        /// Which totals differ.
        reason: String,
    },
    /// The output is refused (it would overwrite the report).
    #[error("{0}")]
    Settings(String),
    /// The output cannot be written.
    #[error(transparent)]
    Write(#[from] ScanError),
}

/// The prefix of a file record as the scan serializes it (`record` is its first field).
const FILE_PREFIX: &str = "{\"record\":\"file\",";

/// Renders the JSON Lines report `src` as `to` into `dst`, with what a scan writes beside it
/// (the CSV custody sidecar `DST.header.json`, and `DST.sha256`); streams, so memory does not
/// grow with the report. Returns the totals of the records, which must equal the report's
/// summary record.
pub fn convert_report(src: &Path, dst: &Path, to: ReportFormat) -> Result<Summary, ConvertError> {
    let read = |e| ConvertError::Read {
        path: src.to_path_buf(),
        source: e,
    };
    let bad = |line: u64, reason: String| ConvertError::Malformed {
        path: src.to_path_buf(),
        line,
        reason,
    };
    let file = File::open(src).map_err(read)?;
    let canonical_src = std::fs::canonicalize(src).map_err(read)?;
    let out = OutputPaths::new(dst)?;
    for p in [&out.report, &out.sidecar, &out.checksums] {
        if *p == canonical_src {
            return Err(ConvertError::Settings(format!(
                "{} would overwrite the report being converted",
                p.display()
            )));
        }
    }
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = String::new();
    let mut n = 0u64;
    let mut next = |line: &mut String, n: &mut u64| -> Result<bool, ConvertError> {
        loop {
            line.clear();
            if reader.read_line(line).map_err(read)? == 0 {
                return Ok(false);
            }
            *n += 1;
            if !line.trim().is_empty() {
                return Ok(true);
            }
        }
    };
    if !next(&mut line, &mut n)? {
        return Err(bad(
            1,
            "empty file: not a nearmatch JSON Lines report".into(),
        ));
    }
    let header: Value =
        serde_json::from_str(line.trim_end()).map_err(|e| bad(n, format!("not JSON: {e}")))?;
    if header["record"] != "header" {
        return Err(bad(
            n,
            "the first record is not a scan header: not a nearmatch JSON Lines report".into(),
        ));
    }
    let mut set = OutputSet::create(&[(out, to)], &header)?;
    let mut summary: Option<(Value, u64)> = None;
    while next(&mut line, &mut n)? {
        let text = line.trim_end();
        let record: FileRecord = if text.starts_with(FILE_PREFIX) {
            serde_json::from_str(text).map_err(|e| bad(n, format!("not a file record: {e}")))?
        } else {
            let v: Value =
                serde_json::from_str(text).map_err(|e| bad(n, format!("not JSON: {e}")))?;
            match v["record"].as_str() {
                Some("file") => serde_json::from_value(v)
                    .map_err(|e| bad(n, format!("not a file record: {e}")))?,
                Some("summary") => {
                    if summary.is_some() {
                        return Err(bad(n, "a second summary record".into()));
                    }
                    summary = Some((v, n));
                    continue;
                }
                Some("header") => return Err(bad(n, "a second header record".into())),
                // Kinds of records from later versions: not this converter's business.
                Some(_) => continue,
                None => return Err(bad(n, "not a report record (no \"record\" key)".into())),
            }
        };
        if let Some((_, at)) = &summary {
            return Err(bad(
                n,
                format!("a file record after the summary (line {at})"),
            ));
        }
        set.record(&record)?;
    }
    let Some((summary, _)) = summary else {
        return Err(ConvertError::Incomplete {
            path: src.to_path_buf(),
        });
    };
    check(set.summary(), &summary).map_err(|reason| ConvertError::Mismatch {
        path: src.to_path_buf(),
        reason,
    })?;
    Ok(set.finish(&header, &summary)?)
}

/// The totals recounted from the records against the summary record's.
fn check(s: &Summary, summary: &Value) -> Result<(), String> {
    let mut wrong = Vec::new();
    let mut cmp = |key: &str, counted: Value| {
        if summary[key] != counted {
            wrong.push(format!(
                "{key} {} in the summary, {counted} counted",
                summary[key]
            ));
        }
    };
    cmp("files_reported", s.files.into());
    cmp("matched_files", s.matched().into());
    cmp("matches", s.matches.into());
    cmp(
        "dispositions",
        serde_json::to_value(&s.dispositions).expect("a map serializes"),
    );
    cmp(
        "matches_by_set",
        serde_json::to_value(&s.matches_by_set).expect("a map serializes"),
    );
    if !summary["known_good_hits"].is_null() {
        cmp("known_good_hits", s.known_good_hits.into());
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(wrong.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::ReportPath;

    /// A two-record report; `summary` replaces the summary record (`None`: none).
    fn report(dir: &Path, summary: Option<Value>) -> PathBuf {
        let mut text = String::from("{\"record\":\"header\",\"version\":\"0\",\"sets\":[]}\n");
        for i in 0..2 {
            let r = FileRecord::new(i, ReportPath::new(Path::new(&format!("e/{i}.jpg"))));
            text.push_str(&serde_json::to_string(&r).unwrap());
            text.push('\n');
        }
        if let Some(s) = summary {
            text.push_str(&format!("{s}\n"));
        }
        let p = dir.join("r.jsonl");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn good_summary() -> Value {
        serde_json::json!({"record": "summary", "files_reported": 2, "matched_files": 0,
            "matches": 0, "dispositions": {"unmatched": 2}, "matches_by_set": {}})
    }

    #[test]
    fn converts_and_checks_the_totals() {
        let d = tempfile::tempdir().unwrap();
        let src = report(d.path(), Some(good_summary()));
        let s = convert_report(&src, &d.path().join("r.dfxml"), ReportFormat::Dfxml).unwrap();
        assert_eq!(s.files, 2);
        let xml = std::fs::read_to_string(d.path().join("r.dfxml")).unwrap();
        assert_eq!(xml.matches("<fileobject>").count(), 2);
        assert!(d.path().join("r.dfxml.sha256").exists());
    }

    #[test]
    fn refuses_unfinished_edited_and_malformed_reports_and_leaves_no_output() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("r.html");
        let src = report(d.path(), None);
        let e = convert_report(&src, &out, ReportFormat::Html).unwrap_err();
        assert!(matches!(e, ConvertError::Incomplete { .. }), "{e}");

        let mut edited = good_summary();
        edited["dispositions"] = serde_json::json!({"unmatched": 1, "matched": 1});
        let src = report(d.path(), Some(edited));
        let e = convert_report(&src, &out, ReportFormat::Html).unwrap_err();
        assert!(matches!(e, ConvertError::Mismatch { .. }), "{e}");
        assert!(e.to_string().contains("dispositions"), "{e}");

        let mut text = std::fs::read_to_string(&src).unwrap();
        text.insert_str(text.find('\n').unwrap() + 1, "{not json\n");
        std::fs::write(&src, text).unwrap();
        let e = convert_report(&src, &out, ReportFormat::Html).unwrap_err();
        assert!(matches!(e, ConvertError::Malformed { line: 2, .. }), "{e}");

        let e = convert_report(&src, &src, ReportFormat::Html).unwrap_err();
        assert!(matches!(e, ConvertError::Settings(_)), "{e}");
        let left: Vec<_> = std::fs::read_dir(d.path()).unwrap().collect();
        assert_eq!(
            left.len(),
            1,
            "only the report itself: no output, no temporary file"
        );
    }
}
