//! The per-file record: what the journal stores and every report format renders.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One label of a matched entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelRec {
    /// Label scheme (`caid`, `vics-US`, a CSV column name).
    pub scheme: String,
    /// Label value.
    pub value: String,
}

/// One hit of a file against a set entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchRec {
    /// The set file as given on the command line.
    pub set: String,
    /// SHA-256 of the set file.
    pub set_sha256: String,
    /// Entry id in its source list (may be empty).
    pub entry: String,
    /// Entry index in the set.
    pub entry_index: u64,
    /// Entry labels.
    pub labels: Vec<LabelRec>,
    /// Entry note (may be empty).
    pub note: String,
    /// The set's algorithm.
    pub algorithm: String,
    /// Hamming distance (0 for exact hashes).
    pub distance: u32,
    /// The PDQ orientation that hit (`orig`, `flipy`, …); absent for non-PDQ algorithms.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub orientation: Option<String>,
    /// The query probe that hit (`plain`, `trim`, `content-box`, `crop-l5`, `rotate+2`,
    /// `plain+flipy`, ...); `plain` for non-PDQ perceptual sets, absent for exact sets.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub probe: Option<String>,
}

/// One walked path and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Always `"file"`.
    pub record: String,
    /// Position in the deterministic walk order (0-based).
    pub index: u64,
    /// The path, readable; non-UTF-8 bytes as `\xNN`.
    pub path: String,
    /// Base64 of the raw path bytes when the path is not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub path_b64: Option<String>,
    /// `file`, `symlink`, `fifo`, `socket`, `char-device`, `block-device`, or `unknown`.
    pub kind: String,
    /// Size in bytes (from lstat).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub size: Option<u64>,
    /// Modification time, ISO-8601 UTC.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub mtime: Option<String>,
    /// Status-change time, ISO-8601 UTC.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ctime: Option<String>,
    /// Access time before the scan read the file, ISO-8601 UTC.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub atime: Option<String>,
    /// MD5 of the content.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub md5: Option<String>,
    /// SHA-1 of the content.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha1: Option<String>,
    /// SHA-256 of the content.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// Content type from magic bytes (`jpeg`, `png`, `pdf`, `text`, …).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub file_type: Option<String>,
    /// True when the file-name extension claims another type than the content.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub extension_mismatch: Option<bool>,
    /// Image width in pixels.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub width: Option<u32>,
    /// Image height in pixels.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub height: Option<u32>,
    /// Perceptual hashes by algorithm name (hex).
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub hashes: BTreeMap<String, String>,
    /// PDQ quality 0–100.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pdq_quality: Option<u8>,
    /// `exact` (full-resolution pixels, reference-identical) or `fast` (reduced decode) for the
    /// perceptual hashes of this file; in a `--fast` scan small images are still `exact`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hash_mode: Option<String>,
    /// `WIDTHxHEIGHT` of the reduced pixels the hashes came from (fast mode only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hashed_size: Option<String>,
    /// PDQ probe hashes computed for this file (the plain hash included), when probes were on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub probe_hashes: Option<u32>,
    /// Set when PDQ quality is below 50: the PDQ hash (and its matches) is unreliable.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub low_quality: Option<bool>,
    /// A symbolic link's target (readable form).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link_target: Option<String>,
    /// Base64 of a non-UTF-8 link target.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link_target_b64: Option<String>,
    /// Whether the link target lies inside the evidence root (it is never followed).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub link_target_inside_root: Option<bool>,
    /// `matched`, `unmatched`, `not-image`, `error:<reason>` or `skipped:<limit>`.
    pub disposition: String,
    /// Details of an error or skip.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Path of the first file (walk order) with the same SHA-256, when this file is a later copy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duplicate_of: Option<String>,
    /// Walk index of the first file with the same SHA-256, when this file is a later copy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duplicate_of_index: Option<u64>,
    /// Hits against the hash sets, by set order, then distance, then entry.
    pub matches: Vec<MatchRec>,
}

impl FileRecord {
    /// The disposition class: the part before `:`.
    pub fn class(&self) -> &str {
        self.disposition.split(':').next().unwrap_or("")
    }

    /// Whether this outcome means the file could not be fully processed (exit code 2).
    pub fn failed(&self) -> bool {
        self.class() == "error"
            || (self.class() == "skipped"
                && !matches!(
                    self.disposition.as_str(),
                    "skipped:symlink" | "skipped:special"
                ))
    }
}
