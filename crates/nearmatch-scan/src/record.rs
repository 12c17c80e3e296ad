//! The per-file record: what the journal stores and every report format renders.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an item could not be processed (`error:<reason>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorReason {
    /// The walk could not read the entry or its directory.
    Walk,
    /// The file could not be opened.
    Open,
    /// The opened file could not be stat'ed.
    Stat,
    /// Reading failed.
    Read,
    /// The file changed between the walk and the read, or while it was read.
    Changed,
    /// Decoding ran past the per-file budget and was abandoned.
    Timeout,
    /// Decoding or hashing panicked (caught; the scan goes on).
    Panic,
    /// A decode thread could not be started.
    Resources,
    /// A supported image format that could not be decoded.
    Decode,
    /// A container, or a member of one, whose structure or compressed data is damaged.
    Corrupt,
    /// A container member whose bytes do not match the CRC the container stores.
    Crc,
}

/// Why an item was deliberately not processed (`skipped:<reason>`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// A symbolic link: recorded, never followed.
    Symlink,
    /// A FIFO, socket or device: recorded, never opened.
    Special,
    /// Larger than the file-size limit; not read.
    MaxFileSize,
    /// An image whose dimensions exceed the decode limits.
    Dimensions,
    /// A container limit (depth, members, expanded bytes, ratio, member size) was reached; the
    /// record's `error` names it.
    Limit,
    /// An encrypted container member: name, size and CRC reported, content not read.
    Encrypted,
    /// A format or method nearmatch does not read (e.g. RAR); the record's `error` says which.
    Unsupported,
    /// A later segment of a split or EWF disk image (`disk.002`, `case.E02`): read through its
    /// first segment, whose record says what the image holds; its own hashes are kept.
    Segment,
    /// A deleted file that a disk image's file system still names but whose data is gone: its
    /// clusters or blocks hold another file now, or the block map was cleared on deletion (the
    /// record's `error` says which). Reported, not a failure: nothing readable was missed.
    Unrecoverable,
}

/// The one outcome of every record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Disposition {
    /// At least one hash-set entry matched.
    Matched,
    /// Hashed (an image, or crypto hashes only in an inventory) and matched nothing.
    Unmatched,
    /// Not an image: crypto hashes only.
    NotImage,
    /// Its crypto hash is in an ignore set (`--ignore-set`, e.g. NSRL): recorded with its
    /// crypto hashes and the ignore-set entries it hit (`known_good`), not decoded.
    KnownGood,
    /// A container (archive, compressed stream) whose members follow it as child records; a
    /// container with an `error` could not be read to its end (its readable members are kept).
    Container,
    /// Could not be processed.
    Error(ErrorReason),
    /// Deliberately not processed.
    Skipped(SkipReason),
}

impl ErrorReason {
    /// Every reason, for parsing.
    pub const ALL: [ErrorReason; 11] = [
        ErrorReason::Walk,
        ErrorReason::Open,
        ErrorReason::Stat,
        ErrorReason::Read,
        ErrorReason::Changed,
        ErrorReason::Timeout,
        ErrorReason::Panic,
        ErrorReason::Resources,
        ErrorReason::Decode,
        ErrorReason::Corrupt,
        ErrorReason::Crc,
    ];

    /// The name after `error:`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorReason::Walk => "walk",
            ErrorReason::Open => "open",
            ErrorReason::Stat => "stat",
            ErrorReason::Read => "read",
            ErrorReason::Changed => "changed",
            ErrorReason::Timeout => "timeout",
            ErrorReason::Panic => "panic",
            ErrorReason::Resources => "resources",
            ErrorReason::Decode => "decode",
            ErrorReason::Corrupt => "corrupt",
            ErrorReason::Crc => "crc",
        }
    }
}

impl SkipReason {
    /// Every reason, for parsing.
    pub const ALL: [SkipReason; 9] = [
        SkipReason::Symlink,
        SkipReason::Special,
        SkipReason::MaxFileSize,
        SkipReason::Dimensions,
        SkipReason::Limit,
        SkipReason::Encrypted,
        SkipReason::Unsupported,
        SkipReason::Segment,
        SkipReason::Unrecoverable,
    ];

    /// The name after `skipped:`.
    pub fn name(self) -> &'static str {
        match self {
            SkipReason::Symlink => "symlink",
            SkipReason::Special => "special",
            SkipReason::MaxFileSize => "max-file-size",
            SkipReason::Dimensions => "dimensions",
            SkipReason::Limit => "limit",
            SkipReason::Encrypted => "encrypted",
            SkipReason::Unsupported => "unsupported",
            SkipReason::Segment => "segment",
            SkipReason::Unrecoverable => "unrecoverable",
        }
    }
}

impl Disposition {
    /// The class: `matched`, `unmatched`, `not-image`, `known-good`, `container`, `error` or
    /// `skipped`.
    pub fn class(self) -> &'static str {
        match self {
            Disposition::Matched => "matched",
            Disposition::Unmatched => "unmatched",
            Disposition::NotImage => "not-image",
            Disposition::KnownGood => "known-good",
            Disposition::Container => "container",
            Disposition::Error(_) => "error",
            Disposition::Skipped(_) => "skipped",
        }
    }

    /// Whether this outcome means the item could not be fully processed (exit code 2):
    /// errors, and skips other than links and special files (never read by design), later
    /// segments of disk images (read through their first segment) and deleted files whose data
    /// is gone (nothing readable was missed).
    pub fn failed(self) -> bool {
        match self {
            Disposition::Error(_) => true,
            // A later segment of a disk image is read through its first one: nothing is missed.
            Disposition::Skipped(r) => !matches!(
                r,
                SkipReason::Symlink
                    | SkipReason::Special
                    | SkipReason::Segment
                    | SkipReason::Unrecoverable
            ),
            _ => false,
        }
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Disposition::Error(r) => write!(f, "error:{}", r.name()),
            Disposition::Skipped(r) => write!(f, "skipped:{}", r.name()),
            d => f.write_str(d.class()),
        }
    }
}

/// A disposition string that names no known outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown disposition {0:?}")]
pub struct UnknownDisposition(pub String);

impl FromStr for Disposition {
    type Err = UnknownDisposition;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownDisposition(s.to_string());
        Ok(match s.split_once(':') {
            None => match s {
                "matched" => Disposition::Matched,
                "unmatched" => Disposition::Unmatched,
                "not-image" => Disposition::NotImage,
                "known-good" => Disposition::KnownGood,
                "container" => Disposition::Container,
                _ => return Err(unknown()),
            },
            Some(("error", r)) => Disposition::Error(
                *ErrorReason::ALL
                    .iter()
                    .find(|e| e.name() == r)
                    .ok_or_else(unknown)?,
            ),
            Some(("skipped", r)) => Disposition::Skipped(
                *SkipReason::ALL
                    .iter()
                    .find(|e| e.name() == r)
                    .ok_or_else(unknown)?,
            ),
            _ => return Err(unknown()),
        })
    }
}

impl Serialize for Disposition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Disposition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

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
    /// A video-list match: the shares of matching frames on both sides (vPDQ).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub video: Option<crate::video::scan::VideoMatchRec>,
}

/// What carving (`--carve`) met in the free space below one record: a volume (its
/// unallocated clusters or blocks), a partition no file system nearmatch reads starts, or a
/// disk image (the gaps between its partitions, or all of it when nothing in it is readable).
/// Candidates that do not hold together or do not decode are counted here, not reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CarveSummary {
    /// Bytes scanned for signatures.
    pub scanned_bytes: u64,
    /// Signatures found (each a candidate picture).
    pub candidates: u64,
    /// Candidates reported as carved members (`$Carved/OFFSET.EXT`).
    pub carved: u64,
    /// Candidates dropped: their structure did not hold together, or their bytes did not
    /// decode as the picture their signature announced.
    pub rejected: u64,
    /// Why carving stopped early or could not look at some space, if it did.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub note: Option<String>,
}

impl fmt::Display for CarveSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes scanned: {} candidates, {} carved, {} rejected",
            self.scanned_bytes, self.candidates, self.carved, self.rejected
        )?;
        if let Some(n) = &self.note {
            write!(f, " ({n})")?;
        }
        Ok(())
    }
}

/// One walked path (or, later, a member of a container) and its outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Always `"file"`.
    pub record: String,
    /// Position in the deterministic record order (0-based; a container's members follow it).
    pub index: u64,
    /// The (virtual) path, readable; non-UTF-8 bytes as `\xNN`. A member of a container is
    /// `container!/member` (`a.zip!/dir/b.jpg`).
    pub path: String,
    /// Index of the record this one was found inside (a container's), absent for walked paths.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent: Option<u64>,
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
    /// The EXIF Orientation tag (1-8) applied before hashing (`--orientation exif` and a valid
    /// tag only; 1 leaves the pixels as stored). `width`/`height` stay the stored ones.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exif_orientation: Option<u8>,
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
    /// Nesting depth of a container member (1 for a member of a walked file), absent for
    /// walked paths.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub depth: Option<u32>,
    /// The container format of a container record (`zip`, `tar`, `gzip`, `7z`, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub container: Option<String>,
    /// Direct members recorded for a container.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub members: Option<u64>,
    /// All records below a container (members, their members, ...): they follow it directly.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub descendants: Option<u64>,
    /// The CRC-32 a container stores for this member (hex), as the archive declares it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crc32: Option<String>,
    /// Creation (birth) time a file system stores for a file in a disk image: ISO-8601, UTC
    /// (`Z`) where the file system stores UTC (ext4), local time without a zone where it stores
    /// the writing machine's local time (FAT).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub created: Option<String>,
    /// A disk-image file's id in its file system, by which tools such as The Sleuth Kit find
    /// the same file again: NTFS `record-sequence` (the MFT reference: `istat vol 64-2`); ext
    /// `inode:N` (`istat vol N`); FAT and exFAT `dirent:OFFSET`, the byte offset in the volume
    /// (partition) of the 32-byte directory entry that names the file (the short-name entry on
    /// FAT, the File entry of the entry set on exFAT; `dd skip=OFFSET bs=1 count=32` shows it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fs_id: Option<String>,
    /// `true` for a deleted file recovered from a disk image's file-system metadata: its name,
    /// times and data runs come from a record no longer in use, and its clusters may since hold
    /// other data.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub deleted: Option<bool>,
    /// For a deleted file: how its bytes were recovered (`ntfs: MFT record not in use, data runs
    /// read`, `fat: directory entry deleted, contiguous free clusters read`, …) or why they were
    /// not (then the disposition is an error naming it).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub recovery: Option<String>,
    /// `true` for a picture carved from a disk image (`--carve`): found by its signature in
    /// unallocated space, a gap between partitions or an image with no readable layout, named
    /// `$Carved/OFFSET.EXT`; its `offset` says where it starts in the image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub carved: Option<bool>,
    /// What carving found below a volume, partition or image record (`--carve`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub carve: Option<CarveSummary>,
    /// Byte offset of a partition, or of a carved picture, in its disk image.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub offset: Option<u64>,
    /// A partition's type as its table states it (`mbr:0x0c (FAT32)`, `gpt:<GUID> (name)`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub partition_type: Option<String>,
    /// A video's vPDQ summary, or a video frame's frame number and timestamp.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub video: Option<crate::video::scan::VideoRec>,
    /// A disk image's format, size and segments, the acquisition metadata and hashes an EWF
    /// image stores, and under `--verify-image` the medium's hashes recomputed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub disk_image: Option<serde_json::Value>,
    /// `matched`, `unmatched`, `not-image`, `known-good`, `container`, `error:<reason>` or
    /// `skipped:<limit>`.
    pub disposition: Disposition,
    /// Details of an error or skip.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// Path of the first file (walk order) with the same SHA-256, when this file is a later copy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duplicate_of: Option<String>,
    /// Walk index of the first file with the same SHA-256, when this file is a later copy.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duplicate_of_index: Option<u64>,
    /// Entries of the ignore sets (`--ignore-set`) holding this file's crypto hash, by set
    /// order, then entry. Present whatever the disposition: `known-good` when the file was
    /// therefore not decoded; `matched` when a match set holds it too (a match always wins);
    /// `container` for an archive, whose members are still examined.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub known_good: Vec<MatchRec>,
    /// Hits against the hash sets, by set order, then distance, then entry.
    pub matches: Vec<MatchRec>,
}

impl FileRecord {
    /// A record of `path` at `index` with nothing known yet (disposition `unmatched` until
    /// processing decides).
    pub fn new(index: u64, path: crate::path::ReportPath) -> Self {
        FileRecord {
            record: "file".into(),
            index,
            path: path.display,
            parent: None,
            path_b64: path.raw_b64,
            kind: "file".into(),
            size: None,
            mtime: None,
            ctime: None,
            atime: None,
            md5: None,
            sha1: None,
            sha256: None,
            file_type: None,
            extension_mismatch: None,
            width: None,
            height: None,
            hashes: BTreeMap::new(),
            pdq_quality: None,
            hash_mode: None,
            hashed_size: None,
            exif_orientation: None,
            probe_hashes: None,
            low_quality: None,
            link_target: None,
            link_target_b64: None,
            link_target_inside_root: None,
            depth: None,
            container: None,
            members: None,
            descendants: None,
            crc32: None,
            created: None,
            offset: None,
            carved: None,
            carve: None,
            partition_type: None,
            fs_id: None,
            deleted: None,
            recovery: None,
            video: None,
            disk_image: None,
            disposition: Disposition::Unmatched,
            error: None,
            duplicate_of: None,
            duplicate_of_index: None,
            known_good: Vec::new(),
            matches: Vec::new(),
        }
    }

    /// The disposition class: `matched`, `unmatched`, `not-image`, `error` or `skipped`.
    pub fn class(&self) -> &'static str {
        self.disposition.class()
    }

    /// Whether this outcome means the file could not be fully processed (exit code 2): a
    /// failed disposition, or a container that could not be read to its end.
    pub fn failed(&self) -> bool {
        self.disposition.failed()
            || (self.disposition == Disposition::Container && self.error.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_disposition_round_trips_through_its_report_string() {
        let mut all = vec![
            Disposition::Matched,
            Disposition::Unmatched,
            Disposition::NotImage,
            Disposition::KnownGood,
            Disposition::Container,
        ];
        all.extend(ErrorReason::ALL.map(Disposition::Error));
        all.extend(SkipReason::ALL.map(Disposition::Skipped));
        for d in all {
            let s = d.to_string();
            assert_eq!(s.parse::<Disposition>(), Ok(d), "{s}");
            let json = serde_json::to_string(&d).unwrap();
            assert_eq!(json, format!("\"{s}\""));
        }
        // The strings earlier reports carry.
        assert_eq!(
            "error:changed".parse(),
            Ok(Disposition::Error(ErrorReason::Changed))
        );
        assert_eq!(
            "skipped:max-file-size".parse(),
            Ok(Disposition::Skipped(SkipReason::MaxFileSize))
        );
        assert!("error:nope".parse::<Disposition>().is_err());
        assert!("skipped".parse::<Disposition>().is_err());
        assert!(Disposition::Skipped(SkipReason::Dimensions).failed());
        assert!(!Disposition::Skipped(SkipReason::Symlink).failed());
        assert!(!Disposition::KnownGood.failed());
        assert_eq!(Disposition::KnownGood.to_string(), "known-good");
    }
}
