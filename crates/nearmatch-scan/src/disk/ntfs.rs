//! NTFS through the `ntfs` crate by Colin Finck (MIT OR Apache-2.0; pure Rust, read-only by
//! design, maintained alongside ReactOS work): it parses the boot sector, MFT records with their
//! fixups, attribute lists, data runs (sparse runs read as zeros) and directory indexes; this
//! module walks the directory tree from the root and turns every data stream into a member.
//!
//! - A file's unnamed `$DATA` stream is the member `dir/name`; each alternate data stream is a
//!   member of its own, `dir/name:stream` (directories' streams too, `dir:stream`), because
//!   hiding a picture in a stream is a known trick and each stream is a file's worth of bytes.
//! - Resident streams (small files kept inside the MFT record) read like any other.
//! - NTFS stores UTC: times are reported with `Z`, from `$STANDARD_INFORMATION` (created,
//!   modified, accessed, and the MFT-record change time as `changed`).
//! - The crate returns LZNT1-compressed and EFS-encrypted streams as the raw bytes on disk, and
//!   a file behind a reparse point (WOF/CompactOS compression, deduplication, cloud placeholders,
//!   links) keeps its content elsewhere: such streams are members with an error naming why they
//!   were not read, never silently skipped and never hashed as wrong bytes.
//! - Every member carries its MFT reference (`record-sequence`) as its file-system id.
//! - Deleted files: after the tree, every MFT record that is no longer in use but still names a
//!   file is read through its data runs and reported `deleted`, under its parent directory's
//!   path when that directory still exists, else under `$OrphanFiles/`. Its clusters may have
//!   been reused since (the allocation bitmap is not consulted), so its bytes are what those
//!   clusters hold now; the record says so.
//! - The metafiles (`$MFT`, `$LogFile`, …, MFT records below 24) are not members; short 8.3
//!   names (DOS namespace) are skipped as they repeat a long name of the same file.
//! - A stream's valid data length (`initialized size`) is not honoured by the crate: this module
//!   reads it from the attribute header and returns zeros past it, as Windows does. Where the
//!   field straddles a record's update-sequence (fixup) bytes on disk (1 attribute placement in
//!   64) it cannot be read without the record's fixup array, and the stream is read in full.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use ntfs::structured_values::NtfsFileNamespace;
use ntfs::{
    Ntfs, NtfsAttribute, NtfsAttributeFlags, NtfsAttributeType, NtfsFile, NtfsFileFlags, NtfsTime,
};

use super::Window;
use crate::container::{ContainerError, MemberHeader, MemberKind, MemberTimes, Next, Visit};

/// Directory levels followed, at most (a crafted loop of directories stops here, and the set of
/// visited directories stops it earlier).
const MAX_DEPTH: usize = 256;

/// MFT records below this are the file system's own metafiles (0–15) or reserved (16–23).
const FIRST_USER_RECORD: u64 = 24;

/// MFT records examined for deleted files, at most (a declared MFT size is not trusted).
const MAX_RECORDS: u64 = 16 << 20;

/// Attributes examined per file, at most (a crafted attribute list cannot make this endless).
const MAX_ATTRIBUTES: usize = 4096;

/// Reparse tags under which the unnamed stream's content lives elsewhere (named for the error).
fn reparse_name(tag: u32) -> &'static str {
    match tag {
        0x8000_0017 => "WOF (CompactOS) compression",
        0x8000_0013 => "deduplication",
        0xA000_000C => "symbolic link",
        0xA000_0003 => "junction",
        t if t & 0xFFFF_0FFF == 0x9000_001A => "cloud-files placeholder",
        _ => "reparse point",
    }
}

/// Seconds and nanoseconds since the Unix epoch of an NTFS time (100 ns ticks since 1601, UTC).
fn unix(t: NtfsTime) -> (i64, u32) {
    let ticks = t.nt_timestamp();
    let secs = (ticks / 10_000_000) as i64 - 11_644_473_600;
    (secs, (ticks % 10_000_000) as u32 * 100)
}

fn times(file: &NtfsFile<'_>) -> Option<MemberTimes> {
    let info = file.info().ok()?;
    let t = |t: NtfsTime| {
        let (s, n) = unix(t);
        super::utc(s, n)
    };
    Some(MemberTimes {
        modified: Some(t(info.modification_time())),
        accessed: Some(t(info.access_time())),
        changed: Some(t(info.mft_record_modification_time())),
        created: Some(t(info.creation_time())),
    })
}

/// A stream's bytes up to its valid data length, then zeros to its size.
struct ValidLength<R> {
    inner: R,
    valid: u64,
    size: u64,
    pos: u64,
}

impl<R: Read> Read for ValidLength<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = (buf.len() as u64).min(self.size.saturating_sub(self.pos)) as usize;
        if want == 0 {
            return Ok(0);
        }
        let n = if self.pos < self.valid {
            let n = want.min((self.valid - self.pos) as usize);
            let got = self.inner.read(&mut buf[..n])?;
            if got == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "NTFS stream ends before its valid data length",
                ));
            }
            got
        } else {
            buf[..want].fill(0);
            want
        };
        self.pos += n as u64;
        Ok(n)
    }
}

/// The walk's state: the parsed file system, the device, the directories already entered.
struct Walk<'n> {
    ntfs: &'n Ntfs,
    fs: Window,
    entered: HashSet<u64>,
    /// Each directory walked: its MFT record number -> (sequence number, member-name prefix).
    dirs: HashMap<u64, (u16, String)>,
}

/// Every file (each of its data streams) of the NTFS file system in `volume`, depth first in
/// index (name) order, with its path from the root (`Users/a/Pictures/x.jpg`).
pub fn expand(volume: Window, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    // The crate indexes and slices structures read from the image; a crafted image that gets
    // past its checks must end this volume with an error, not the scan.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(volume, visit))).unwrap_or_else(
        |_| {
            Err(ContainerError::Corrupt(
                "NTFS structures damaged: the reader gave up (internal check failed)".into(),
            ))
        },
    )
}

fn run(volume: Window, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    // The crate panics (an `unreachable!`) when the boot sector itself cannot be read whole;
    // the `disk_ntfs` fuzzer found it with an empty input.
    if volume.len() < 512 {
        return Err(ContainerError::Corrupt(format!(
            "not a readable NTFS file system: {} bytes, shorter than a boot sector",
            volume.len()
        )));
    }
    let mut fs = volume;
    let ntfs = Ntfs::new(&mut fs)
        .map_err(|e| ContainerError::Corrupt(format!("not a readable NTFS file system: {e}")))?;
    let root = ntfs
        .root_directory(&mut fs)
        .map_err(|e| ContainerError::Corrupt(format!("NTFS root directory unreadable: {e}")))?;
    let mut walk = Walk {
        ntfs: &ntfs,
        fs,
        entered: HashSet::from([root.file_record_number()]),
        dirs: HashMap::from([(
            root.file_record_number(),
            (root.sequence_number(), String::new()),
        )]),
    };
    if walk.dir(&root, "", 0, visit)? {
        walk.deleted(visit)?;
    }
    Ok(())
}

/// The unallocated space of the NTFS file system in `volume`: byte ranges (offset in the
/// volume, length) of the clusters `$Bitmap` (MFT record 6) marks free, adjacent clusters
/// merged; for carving.
pub fn free_ranges(volume: Window) -> Result<Vec<(u64, u64)>, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| bitmap_free(volume))).unwrap_or_else(
        |_| Err("NTFS structures damaged: the reader gave up (internal check failed)".into()),
    )
}

fn bitmap_free(volume: Window) -> Result<Vec<(u64, u64)>, String> {
    /// `$Bitmap`'s MFT record.
    const BITMAP_RECORD: u64 = 6;
    let mut fs = volume;
    let ntfs = Ntfs::new(&mut fs).map_err(|e| format!("not a readable NTFS file system: {e}"))?;
    let cluster = ntfs.cluster_size() as u64;
    let clusters = ntfs.size() / cluster;
    let file = ntfs
        .file(&mut fs, BITMAP_RECORD)
        .map_err(|e| format!("NTFS $Bitmap unreadable: {e}"))?;
    let item = file
        .data(&mut fs, "")
        .ok_or("NTFS $Bitmap has no data stream")?
        .map_err(|e| format!("NTFS $Bitmap unreadable: {e}"))?;
    let attribute = item
        .to_attribute()
        .map_err(|e| format!("NTFS $Bitmap unreadable: {e}"))?;
    let need = clusters.div_ceil(8);
    if attribute.value_length() < need || need > 64 << 20 {
        return Err(format!(
            "NTFS $Bitmap of {} bytes for {clusters} clusters: not read",
            attribute.value_length()
        ));
    }
    let value = attribute
        .value(&mut fs)
        .map_err(|e| format!("NTFS $Bitmap unreadable: {e}"))?;
    let mut bits = vec![0u8; need as usize];
    value
        .attach(&mut fs)
        .read_exact(&mut bits)
        .map_err(|e| format!("NTFS $Bitmap unreadable: {e}"))?;
    let mut out: Vec<(u64, u64)> = Vec::new();
    for n in 0..clusters {
        if bits[(n / 8) as usize] & (1 << (n % 8)) != 0 {
            continue;
        }
        let at = n * cluster;
        match out.last_mut() {
            Some((o, l)) if *o + *l == at => *l += cluster,
            _ => out.push((at, cluster)),
        }
    }
    Ok(out)
}

/// What the visitor said: go on, or stop the whole walk.
type Going = Result<bool, ContainerError>;

fn broken(name: String, why: String, visit: &mut Visit<'_>) -> bool {
    let header = MemberHeader {
        name: name.into_bytes(),
        kind: MemberKind::Broken(why),
        ..MemberHeader::default()
    };
    !matches!(visit(header, &mut std::io::empty()), Next::Stop(_))
}

impl<'n> Walk<'n> {
    /// Walks the directory `dir` whose members' names start with `prefix`; `Ok(false)` when the
    /// visitor stopped.
    fn dir(
        &mut self,
        dir: &NtfsFile<'n>,
        prefix: &str,
        depth: usize,
        visit: &mut Visit<'_>,
    ) -> Going {
        if depth > MAX_DEPTH {
            return Err(ContainerError::Corrupt(format!(
                "directories nested deeper than {MAX_DEPTH} levels at {prefix}: not followed"
            )));
        }
        let index = match dir.directory_index(&mut self.fs) {
            Ok(i) => i,
            Err(e) => {
                let why = format!("NTFS directory index unreadable: {e}");
                return Ok(broken(prefix.to_string(), why, visit));
            }
        };
        let mut entries = index.entries();
        // Entries are collected before descending: the index iterator borrows the device.
        let mut found = Vec::new();
        while let Some(entry) = entries.next(&mut self.fs) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    // The rest of this index cannot be trusted; what was read is kept.
                    let why = format!(
                        "NTFS directory index damaged after {} entries: {e}",
                        found.len()
                    );
                    if !broken(prefix.to_string(), why, visit) {
                        return Ok(false);
                    }
                    break;
                }
            };
            let reference = entry.file_reference();
            if reference.file_record_number() < FIRST_USER_RECORD {
                continue;
            }
            let Some(Ok(key)) = entry.key() else { continue };
            if key.namespace() == NtfsFileNamespace::Dos {
                continue;
            }
            found.push((key.name().to_string_lossy(), reference));
        }
        for (name, reference) in found {
            let path = format!("{prefix}{name}");
            let file = match reference.to_file(self.ntfs, &mut self.fs) {
                Ok(f) => f,
                Err(e) => {
                    let why = format!(
                        "MFT record {} unreadable: {e}",
                        reference.file_record_number()
                    );
                    if !broken(path, why, visit) {
                        return Ok(false);
                    }
                    continue;
                }
            };
            if file.sequence_number() != reference.sequence_number() {
                let why = format!(
                    "the directory names MFT record {} sequence {}, the record now holds sequence {} (reused for another file)",
                    reference.file_record_number(),
                    reference.sequence_number(),
                    file.sequence_number()
                );
                if !broken(path, why, visit) {
                    return Ok(false);
                }
                continue;
            }
            if !file.flags().contains(NtfsFileFlags::IN_USE) {
                // A stale entry of a deleted file: reported by the deleted-file pass.
                continue;
            }
            let is_dir = file.is_directory();
            if !self.streams(&file, &path, !is_dir, false, visit)? {
                return Ok(false);
            }
            if is_dir && self.entered.insert(file.file_record_number()) {
                let sub = format!("{path}/");
                self.dirs.insert(
                    file.file_record_number(),
                    (file.sequence_number(), sub.clone()),
                );
                if !self.dir(&file, &sub, depth + 1, visit)? {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Visits the data streams of `file` (the unnamed one only when `unnamed`: a directory has
    /// none, but may have named ones), marked `deleted` when its record is no longer in use;
    /// `Ok(false)` when the visitor stopped.
    fn streams(
        &mut self,
        file: &NtfsFile<'n>,
        path: &str,
        unnamed: bool,
        deleted: bool,
        visit: &mut Visit<'_>,
    ) -> Going {
        let fs_id = format!("{}-{}", file.file_record_number(), file.sequence_number());
        let times = times(file);
        let header = |name: String| {
            MemberHeader {
            name: name.into_bytes(),
            times: times.clone(),
            fs_id: Some(fs_id.clone()),
            deleted,
            recovery: deleted.then(|| {
                "ntfs: MFT record not in use, data runs read (clusters not checked against the bitmap)".to_string()
            }),
            ..MemberHeader::default()
        }
        };
        // Attributes come in type order, $DATA (0x80) before $REPARSE_POINT (0xC0): look first.
        let reparse = self.reparse_tag(file);
        let mut seen_unnamed = false;
        let mut attributes = file.attributes();
        let mut count = 0;
        while let Some(item) = attributes.next(&mut self.fs) {
            count += 1;
            if count > MAX_ATTRIBUTES {
                let why = format!("more than {MAX_ATTRIBUTES} attributes: the rest not read");
                return Ok(broken(path.to_string(), why, visit));
            }
            let item = match item {
                Ok(i) => i,
                Err(e) => {
                    let why = format!("NTFS attribute unreadable: {e}");
                    return Ok(broken(path.to_string(), why, visit));
                }
            };
            let attribute = match item.to_attribute() {
                Ok(a) => a,
                Err(e) => {
                    let why = format!("NTFS attribute unreadable: {e}");
                    return Ok(broken(path.to_string(), why, visit));
                }
            };
            let Ok(ty) = attribute.ty() else { continue };
            if ty != NtfsAttributeType::Data {
                continue;
            }
            let stream = match attribute.name() {
                Ok(n) => n.to_string_lossy(),
                Err(e) => {
                    let why = format!("NTFS stream name unreadable: {e}");
                    if !broken(path.to_string(), why, visit) {
                        return Ok(false);
                    }
                    continue;
                }
            };
            if stream.is_empty() {
                if !unnamed || seen_unnamed {
                    continue;
                }
                seen_unnamed = true;
            }
            let name = if stream.is_empty() {
                path.to_string()
            } else {
                format!("{path}:{stream}")
            };
            let mut h = header(name);
            let size = attribute.value_length();
            h.size = Some(size);
            let flags = attribute.flags();
            if flags.contains(NtfsAttributeFlags::ENCRYPTED) {
                h.kind = MemberKind::Encrypted;
            } else if flags.contains(NtfsAttributeFlags::COMPRESSED) {
                h.kind = MemberKind::Unsupported(
                    "NTFS-compressed stream (LZNT1): not readable by nearmatch".into(),
                );
            } else if let (true, Some(tag)) = (stream.is_empty(), reparse) {
                h.kind = MemberKind::Unsupported(format!(
                    "NTFS {} (reparse tag {tag:#010x}): the content is not in this stream, not read",
                    reparse_name(tag)
                ));
            } else if size > self.ntfs.size() && !flags.contains(NtfsAttributeFlags::SPARSE) {
                // Only a sparse stream can be larger than its volume.
                h.kind = MemberKind::Broken(format!(
                    "stream declares {size} bytes, more than the {}-byte volume: not read",
                    self.ntfs.size()
                ));
            }
            let next = if h.kind != MemberKind::File {
                visit(h, &mut std::io::empty())
            } else {
                let valid = self.initialized(&attribute).unwrap_or(size).min(size);
                match attribute.value(&mut self.fs) {
                    Ok(v) => {
                        let mut r = ValidLength {
                            inner: v.attach(&mut self.fs),
                            valid,
                            size,
                            pos: 0,
                        };
                        visit(h, &mut r)
                    }
                    Err(e) => {
                        h.kind = MemberKind::Broken(format!("NTFS data runs unreadable: {e}"));
                        visit(h, &mut std::io::empty())
                    }
                }
            };
            if let Next::Stop(_) = next {
                return Ok(false);
            }
        }
        if unnamed && !seen_unnamed {
            // A file without an unnamed stream still is a file: say what it is.
            let mut h = header(path.to_string());
            h.kind = match reparse {
                Some(tag) => MemberKind::Special(format!(
                    "NTFS {} (reparse tag {tag:#010x}): no data stream, not followed",
                    reparse_name(tag)
                )),
                None => MemberKind::Broken("NTFS file record without a data stream".into()),
            };
            if let Next::Stop(_) = visit(h, &mut std::io::empty()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Visits the files whose MFT records are no longer in use but still name them.
    fn deleted(&mut self, visit: &mut Visit<'_>) -> Going {
        let mft = match self.ntfs.file(&mut self.fs, 0) {
            Ok(f) => f,
            Err(e) => {
                let why = format!("$MFT unreadable, deleted files not searched: {e}");
                return Ok(broken("$OrphanFiles".into(), why, visit));
            }
        };
        let records = match mft.data(&mut self.fs, "") {
            Some(Ok(item)) => item.to_attribute().map(|a| a.value_length()).unwrap_or(0),
            _ => 0,
        } / self.ntfs.file_record_size().max(1) as u64;
        // The volume cannot hold more records than fit in it: a crafted $MFT length would
        // otherwise have a small image try millions of records (a timeout found by the
        // `disk_ntfs` fuzzer).
        let fit = self.fs.len() / self.ntfs.file_record_size().max(1) as u64;
        for number in FIRST_USER_RECORD..records.min(MAX_RECORDS).min(fit) {
            // Records never used, or overwritten, do not parse: nothing to report.
            let Ok(file) = self.ntfs.file(&mut self.fs, number) else {
                continue;
            };
            if file.flags().contains(NtfsFileFlags::IN_USE) || file.is_directory() {
                continue;
            }
            let name = [
                NtfsFileNamespace::Win32,
                NtfsFileNamespace::Win32AndDos,
                NtfsFileNamespace::Posix,
                NtfsFileNamespace::Dos,
            ]
            .into_iter()
            .find_map(|ns| file.name(&mut self.fs, Some(ns), None)?.ok());
            let Some(name) = name else { continue };
            let parent = name.parent_directory_reference();
            let prefix = match self.dirs.get(&parent.file_record_number()) {
                Some((seq, prefix)) if *seq == parent.sequence_number() => prefix.clone(),
                _ => "$OrphanFiles/".to_string(),
            };
            let path = format!("{prefix}{}", name.name().to_string_lossy());
            if !self.streams(&file, &path, true, true, visit)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The valid data length of a non-resident stream, from its attribute header on disk
    /// (offset 56); `None` for resident streams and where fixup bytes hide the field.
    fn initialized(&self, attribute: &NtfsAttribute<'_, '_>) -> Option<u64> {
        if attribute.is_resident() {
            return None;
        }
        let at = attribute.position().value()?.get() + 56;
        // The last two bytes of every 512-byte stride of a record hold its update sequence
        // number on disk; the real bytes are in the record's fixup array.
        if at % 512 > 502 {
            return None;
        }
        let mut b = [0u8; 8];
        self.fs.read_at(at, &mut b).ok()?;
        Some(u64::from_le_bytes(b))
    }

    /// The reparse tag of `file`, if it has a reparse point (0 when its value is unreadable).
    fn reparse_tag(&mut self, file: &NtfsFile<'n>) -> Option<u32> {
        let mut attributes = file.attributes();
        for _ in 0..MAX_ATTRIBUTES {
            let item = attributes.next(&mut self.fs)?.ok()?;
            let Ok(attribute) = item.to_attribute() else {
                continue;
            };
            if attribute.ty().ok() != Some(NtfsAttributeType::ReparsePoint) {
                continue;
            }
            let mut tag = [0u8; 4];
            return Some(match attribute.value(&mut self.fs) {
                Ok(v) => match v.attach(&mut self.fs).read_exact(&mut tag) {
                    Ok(()) => u32::from_le_bytes(tag),
                    Err(_) => 0,
                },
                Err(_) => 0,
            });
        }
        None
    }
}
