//! CSV: one row per record; the chain of custody and the summary go to the `REPORT.header.json`
//! sidecar, which the caller writes (a stream has no place for it).

use std::io::Write;

use serde_json::Value;

use super::{csv_line, label_strings, match_strings, ReportWriter};
use crate::record::FileRecord;

/// The CSV report's columns, in order.
pub(crate) const CSV_COLUMNS: &[&str] = &[
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
    // Containers (issue #17): the parent record's index, nesting depth, the container format of
    // a container record, its member count, and the CRC-32 its container stores for a member.
    "parent",
    "depth",
    "container",
    "members",
    "crc32",
    // Disk images (issue #18): birth time, file-system id, deleted-file flag and how it was
    // recovered, a partition's offset and type.
    "created",
    "fs_id",
    "deleted",
    "recovery",
    "offset",
    "partition_type",
    // Carving (`--carve`): a carved picture's flag, and what carving met below a volume.
    "carved",
    "carve",
    // EXIF orientation (`--orientation exif`): the tag applied before hashing.
    "exif_orientation",
    // Known-good exclusion (`--ignore-set`): the ignore-set entries holding the file's bytes, as
    // `entry@set(algorithm)` with labels, and how many.
    "known_good_count",
    "known_good",
];

/// Writes one CSV row per record (RFC 4180 quoting).
pub struct CsvWriter<W: Write> {
    out: W,
}

impl<W: Write> CsvWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        CsvWriter { out }
    }
}

impl<W: Write> ReportWriter for CsvWriter<W> {
    fn begin(&mut self, _header: &Value) -> std::io::Result<()> {
        let cols: Vec<String> = CSV_COLUMNS.iter().map(|s| s.to_string()).collect();
        writeln!(self.out, "{}", csv_line(&cols))
    }

    fn record(&mut self, r: &FileRecord) -> std::io::Result<()> {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        let n = |v: Option<u64>| v.map(|x| x.to_string()).unwrap_or_default();
        let b = |v: Option<bool>| v.map(|x| x.to_string()).unwrap_or_default();
        let others: Vec<String> = r
            .hashes
            .iter()
            .filter(|(k, _)| k.as_str() != "pdq")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let matches = match_strings(r);
        let labels = label_strings(r);
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
            n(r.parent),
            n(r.depth.map(u64::from)),
            o(&r.container),
            n(r.members),
            o(&r.crc32),
            o(&r.created),
            o(&r.fs_id),
            b(r.deleted),
            o(&r.recovery),
            n(r.offset),
            o(&r.partition_type),
            b(r.carved),
            o(&r.carve.as_ref().map(|c| c.to_string())),
            n(r.exif_orientation.map(u64::from)),
            if r.known_good.is_empty() {
                String::new()
            } else {
                r.known_good.len().to_string()
            },
            super::known_good_list(r),
        ];
        writeln!(self.out, "{}", csv_line(&row))
    }

    fn finish(&mut self, _summary: &Value) -> std::io::Result<()> {
        self.out.flush()
    }
}
