//! The image layer: the bytes of one acquired medium, whatever files hold them. A raw image is
//! one file; a split raw image is `disk.001`, `disk.002`, … end to end; an EWF image (EnCase
//! `.E01`, `.E02`, …) stores the medium in compressed chunks with the acquisition's metadata and
//! the hashes taken at acquisition. Every kind is read with positioned reads and never written.
//!
//! EWF is read by the `ewf` crate (Apache-2.0, pure Rust, EWF v1 and v2, multi-segment, thread
//! safe positioned reads, stored hashes and header metadata); libewf is LGPL C and would need
//! bindings.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// The magic of an EWF v1 segment file (`EVF` 09 0D 0A FF 00).
const EVF: &[u8; 8] = b"EVF\x09\x0d\x0a\xff\x00";
/// The magic of an EWF v2 segment file (`EVF2` 0D 0A 81 00).
const EVF2: &[u8; 8] = b"EVF2\x0d\x0a\x81\x00";
/// The most segments a split raw image may have (`.001` … `.999`).
const MAX_SPLIT: usize = 999;

/// One medium as a byte view.
#[derive(Debug)]
pub enum Media {
    /// A raw image: the file itself.
    Raw {
        /// The image file.
        file: File,
        /// Its length.
        len: u64,
    },
    /// A split raw image: its segments end to end.
    Split {
        /// The segments in order, each with its start in the medium.
        segments: Vec<(File, u64)>,
        /// The medium's length (the segments' sum).
        len: u64,
        /// The segments' paths, for the report.
        paths: Vec<PathBuf>,
    },
    /// An EWF (E01) image.
    Ewf(Box<ewf::EwfReader>),
}

/// What a file is to the image layer, from its first bytes and its name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// The first (or only) segment of an EWF image.
    EwfFirst,
    /// A later segment of an EWF image (its number): read through the first.
    EwfLater(u16),
    /// The first segment of a split raw image (`.001` with a `.002` beside it).
    SplitFirst,
    /// A later segment of a split raw image (its number), whose `.001` starts a disk image.
    SplitLater(u32),
    /// Anything else (possibly a raw image).
    Other,
}

/// The segment number a split raw image's segment carries in its name (`disk.dd.002` is 2).
fn split_number(path: &Path) -> Option<u32> {
    let ext = path.extension()?.to_str()?;
    (ext.len() == 3 && ext.bytes().all(|b| b.is_ascii_digit()))
        .then(|| ext.parse().ok())
        .flatten()
}

/// `path` with its three-digit extension replaced by `n`.
fn split_sibling(path: &Path, n: usize) -> PathBuf {
    path.with_extension(format!("{n:03}"))
}

impl Segment {
    /// What the file at `path` (whose first bytes are `head`) is to the image layer.
    ///
    /// ```
    /// use nearmatch_scan::disk::media::Segment;
    /// use std::path::Path;
    /// let e01 = b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00\x00\x00";
    /// assert_eq!(Segment::of(Path::new("case.E01"), e01), Segment::EwfFirst);
    /// let e02 = b"EVF\x09\x0d\x0a\xff\x00\x01\x02\x00\x00\x00";
    /// assert_eq!(Segment::of(Path::new("case.E02"), e02), Segment::EwfLater(2));
    /// assert_eq!(Segment::of(Path::new("photo.jpg"), b"\xff\xd8\xff"), Segment::Other);
    /// ```
    pub fn of(path: &Path, head: &[u8]) -> Segment {
        if head.len() >= 11 && &head[..8] == EVF {
            // EWF v1: fields start (1), segment number (u16 LE), fields end.
            return match u16::from_le_bytes([head[9], head[10]]) {
                0 | 1 => Segment::EwfFirst,
                n => Segment::EwfLater(n),
            };
        }
        if head.len() >= 8 && &head[..8] == EVF2 {
            // EWF v2: major, minor, compression (u16), segment number (u32 LE).
            if head.len() >= 16 {
                let n = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
                if n > 1 {
                    return Segment::EwfLater(n.min(u16::MAX as u32) as u16);
                }
            }
            return Segment::EwfFirst;
        }
        match split_number(path) {
            Some(1) if split_sibling(path, 2).is_file() => Segment::SplitFirst,
            Some(n) if n > 1 && split_sibling(path, 1).is_file() => Segment::SplitLater(n),
            _ => Segment::Other,
        }
    }
}

impl Media {
    /// The raw image in `file`.
    pub fn raw(file: File) -> io::Result<Media> {
        let len = file.metadata()?.len();
        Ok(Media::Raw { file, len })
    }

    /// The split raw image whose first segment is `first` (`disk.001`): it and every
    /// consecutive sibling (`disk.002`, …) that exists, opened read-only.
    pub fn split(first: &Path) -> io::Result<Media> {
        let mut segments = Vec::new();
        let mut paths = Vec::new();
        let mut len = 0u64;
        for n in 1..=MAX_SPLIT {
            let p = split_sibling(first, n);
            let file = match crate::read::open_evidence(&p) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound && n > 1 => break,
                Err(e) => {
                    return Err(io::Error::new(
                        e.kind(),
                        format!("split image segment {}: {e}", p.display()),
                    ))
                }
            };
            let size = file.metadata()?.len();
            segments.push((file, len));
            paths.push(p);
            len += size;
        }
        Ok(Media::Split {
            segments,
            len,
            paths,
        })
    }

    /// The EWF image whose first segment is `first` (`case.E01`; its other segments are found
    /// beside it by name).
    pub fn ewf(first: &Path) -> Result<Media, String> {
        let paths = ewf_segments(first)?;
        // Opened here, read-only and without touching access times, rather than by the `ewf`
        // crate, which would open them with plain `File::open`.
        let sources = paths
            .iter()
            .map(|p| {
                crate::read::open_evidence(p)
                    .map(ewf::SegmentSource::File)
                    .map_err(|e| format!("EWF segment {}: {e}", p.display()))
            })
            .collect::<Result<Vec<_>, String>>()?;
        ewf::EwfReader::open_from_sources(sources)
            .map(|r| Media::Ewf(Box::new(r)))
            .map_err(|e| format!("EWF image unreadable: {e}"))
    }

    /// The medium's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Media::Raw { len, .. } | Media::Split { len, .. } => *len,
            Media::Ewf(r) => r.total_size(),
        }
    }

    /// Whether the medium is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The kind named in records (`raw`, `split-raw`, `ewf`).
    pub fn kind(&self) -> &'static str {
        match self {
            Media::Raw { .. } => "raw",
            Media::Split { .. } => "split-raw",
            Media::Ewf(_) => "ewf",
        }
    }

    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end of the medium.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            Media::Raw { file, len } => {
                let n = (buf.len() as u64).min(len.saturating_sub(offset)) as usize;
                file.read_at(&mut buf[..n], offset)
            }
            Media::Split { segments, len, .. } => {
                let mut done = 0;
                while done < buf.len() {
                    let at = offset + done as u64;
                    if at >= *len {
                        break;
                    }
                    // The last segment starting at or before `at`.
                    let i = segments.partition_point(|(_, start)| *start <= at) - 1;
                    let (file, start) = &segments[i];
                    let end = segments.get(i + 1).map_or(*len, |s| s.1);
                    let want = (buf.len() - done).min((end - at) as usize);
                    let got = file.read_at(&mut buf[done..done + want], at - start)?;
                    if got == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("split image segment {} is shorter than when opened", i + 1),
                        ));
                    }
                    done += got;
                }
                Ok(done)
            }
            Media::Ewf(r) => r
                .read_at(buf, offset)
                .map_err(|e| io::Error::other(format!("EWF image: {e}"))),
        }
    }

    /// Reads exactly `buf.len()` bytes at `offset`.
    pub fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "read of {} bytes at {offset} past the end of the {}-byte medium",
                            buf.len(),
                            self.len()
                        ),
                    ))
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// What the report says about the medium: its kind, size, segments, and for EWF the
    /// acquisition metadata and the hashes stored at acquisition.
    pub fn describe(&self) -> Value {
        match self {
            Media::Raw { len, .. } => json!({"format": "raw", "media_size": len}),
            Media::Split { len, paths, .. } => json!({
                "format": "split-raw",
                "media_size": len,
                "segments": paths.iter().map(|p| p.to_string_lossy().into_owned()).collect::<Vec<_>>(),
            }),
            Media::Ewf(r) => {
                let m = r.metadata();
                let stored = r.stored_hashes();
                json!({
                    "format": "ewf",
                    "media_size": r.total_size(),
                    "chunk_size": r.chunk_size(),
                    "case_number": m.case_number,
                    "evidence_number": m.evidence_number,
                    "description": m.description,
                    "examiner": m.examiner,
                    "notes": m.notes,
                    "acquisition_software": m.acquiry_software,
                    "acquisition_os": m.os_version,
                    "acquisition_date": m.acquiry_date.as_deref().map(ewf_date),
                    "system_date": m.system_date.as_deref().map(ewf_date),
                    "stored_md5": stored.md5.map(hex::encode),
                    "stored_sha1": stored.sha1.map(hex::encode),
                    "acquisition_errors": r.acquisition_errors().iter().map(|e| json!({
                        "first_sector": e.first_sector, "sectors": e.sector_count,
                    })).collect::<Vec<_>>(),
                })
            }
        }
    }

    /// Re-hashes the whole medium (MD5, SHA-1 and SHA-256 of its bytes, as acquisition tools hash it)
    /// and compares with the hashes stored at acquisition where the format stores them.
    pub fn verify(&self) -> io::Result<Value> {
        let mut hasher = nearmatch::hash::crypto::CryptoHasher::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut at = 0u64;
        while at < self.len() {
            let n = self.read_at(&mut buf, at)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            at += n as u64;
        }
        let computed = hasher.finish();
        let (computed_md5, computed_sha1) = (computed.md5_hex(), computed.sha1_hex());
        let (stored_md5, stored_sha1) = match self {
            Media::Ewf(r) => {
                let s = r.stored_hashes();
                (s.md5.map(hex::encode), s.sha1.map(hex::encode))
            }
            _ => (None, None),
        };
        let agree = |stored: &Option<String>, computed: &str| {
            stored.as_ref().map(|s| s.eq_ignore_ascii_case(computed))
        };
        Ok(json!({
            "computed_md5": computed_md5,
            "computed_sha1": computed_sha1,
            "computed_sha256": computed.sha256_hex(),
            "stored_md5": stored_md5,
            "stored_sha1": stored_sha1,
            "md5_match": agree(&stored_md5, &computed_md5),
            "sha1_match": agree(&stored_sha1, &computed_sha1),
        }))
    }
}

/// The file name extension of EWF segment `n` (1-based) in the series of `first_ext` (`E01`,
/// `e01`, `L01`, `S01`): `E01`…`E99`, then `EAA`…`EZZ`, `FAA`…, as EnCase names them.
fn ewf_extension(first_ext: &str, n: u32) -> Option<String> {
    let mut chars = first_ext.chars();
    let lead = chars.next()?;
    let lower = lead.is_ascii_lowercase();
    let case = |c: char| if lower { c.to_ascii_lowercase() } else { c };
    if n <= 99 {
        return Some(format!("{lead}{n:02}"));
    }
    let m = n - 100;
    let first = (lead.to_ascii_uppercase() as u32) + m / (26 * 26);
    let first = char::from_u32(first).filter(|c| c.is_ascii_uppercase())?;
    let second = char::from(b'A' + ((m / 26) % 26) as u8);
    let third = char::from(b'A' + (m % 26) as u8);
    Some(format!("{}{}{}", case(first), case(second), case(third)))
}

/// The segment files of the EWF image whose first segment is `first`, in order: every
/// consecutive one that exists. A gap (`case.E03` missing while `case.E04` exists) is an error
/// naming the missing file, not a shorter image.
fn ewf_segments(first: &Path) -> Result<Vec<PathBuf>, String> {
    let ext = first
        .extension()
        .and_then(|e| e.to_str())
        .filter(|e| e.len() == 3)
        .ok_or_else(|| format!("{}: not an EWF segment name (.E01)", first.display()))?;
    let mut paths = vec![first.to_path_buf()];
    // EWF v1 numbering ends at ZZZ: 99 + 26 letters × 26 × 26, bounded well below that.
    for n in 2..=14_000 {
        let Some(e) = ewf_extension(ext, n) else {
            break;
        };
        let p = first.with_extension(&e);
        if p.is_file() {
            paths.push(p);
            continue;
        }
        let next = ewf_extension(ext, n + 1).map(|e| first.with_extension(e));
        if let Some(next) = next.filter(|p| p.is_file()) {
            return Err(format!(
                "EWF segment {n} ({}) is missing while {} exists",
                p.display(),
                next.display()
            ));
        }
        break;
    }
    Ok(paths)
}

/// An EWF header date (`2026 12 5 8 29 15`: the acquiring machine's local time, no zone) as
/// ISO 8601 without a zone (`2026-12-05T08:29:15`); any other form is kept as stored.
fn ewf_date(stored: &str) -> String {
    let parts: Vec<u32> = stored
        .split_whitespace()
        .map_while(|p| p.parse().ok())
        .collect();
    match parts[..] {
        [y, mo, d, h, mi, s]
            if (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && s < 61 =>
        {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
        }
        _ => stored.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ewf_segment_names_follow_encase_numbering() {
        let ext = |e: &str, n| super::ewf_extension(e, n).unwrap();
        assert_eq!(ext("E01", 2), "E02");
        assert_eq!(ext("E01", 99), "E99");
        assert_eq!(ext("E01", 100), "EAA");
        assert_eq!(ext("E01", 101), "EAB");
        assert_eq!(ext("E01", 126), "EBA");
        assert_eq!(ext("E01", 100 + 26 * 26), "FAA");
        assert_eq!(ext("e01", 100), "eaa");
        assert_eq!(ext("L01", 3), "L03");
    }

    #[test]
    fn ewf_header_dates_become_iso_and_odd_ones_stay_as_stored() {
        assert_eq!(super::ewf_date("2026 12 5 8 29 15"), "2026-12-05T08:29:15");
        assert_eq!(super::ewf_date("2026 13 5 8 29 15"), "2026 13 5 8 29 15");
        assert_eq!(super::ewf_date("Thu Dec  5 2026"), "Thu Dec  5 2026");
    }

    use super::*;
    use std::io::Write;

    #[test]
    fn split_segments_read_as_one_medium() {
        let dir = tempfile::tempdir().unwrap();
        let whole: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        for (n, part) in whole.chunks(3_000).enumerate() {
            let mut f = File::create(dir.path().join(format!("d.{:03}", n + 1))).unwrap();
            f.write_all(part).unwrap();
        }
        let first = dir.path().join("d.001");
        assert_eq!(Segment::of(&first, b"anything"), Segment::SplitFirst);
        assert_eq!(
            Segment::of(&dir.path().join("d.003"), b""),
            Segment::SplitLater(3)
        );
        let m = Media::split(&first).unwrap();
        assert_eq!(m.len(), 10_000);
        for (at, n) in [
            (0u64, 10_000usize),
            (2_990, 20),
            (5_999, 3_002),
            (9_000, 1_000),
        ] {
            let mut buf = vec![0u8; n];
            m.read_exact_at(&mut buf, at).unwrap();
            assert_eq!(buf, whole[at as usize..at as usize + n]);
        }
        let mut past = [0u8; 2];
        assert!(m.read_exact_at(&mut past, 9_999).is_err());
    }
}
