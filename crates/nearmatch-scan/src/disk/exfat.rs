//! exFAT, read by a small parser of its own: no maintained crate read exFAT well read-only when
//! this was written (`exfat-fs` 0.1 is mainly a formatter), and the format is small. Layout as
//! in Microsoft's exFAT specification (2019):
//!
//! - Boot sector: `EXFAT   ` at 3; FAT offset and length (sectors) at 80/84, cluster-heap
//!   offset at 88, cluster count at 92, root-directory cluster at 96, volume flags at 106 (bit 0:
//!   the second FAT is the active one), bytes-per-sector shift at 108, sectors-per-cluster
//!   shift at 109, number of FATs at 110. Cluster `n` (from 2) starts at the heap offset plus
//!   `(n - 2)` clusters.
//! - FAT: one little-endian u32 per cluster, the next cluster of a chain (`0xFFFFFFFF` ends it).
//!   A stream whose NoFatChain flag is set is contiguous and the FAT is not consulted.
//! - Directories are 32-byte entries. A file is an entry set: a File entry (`0x85`: secondary
//!   count, set checksum, attributes, the three timestamps with their 10 ms increments and UTC
//!   offsets), a Stream Extension (`0xC0`: flags, name length, valid data length, first
//!   cluster, data length) and File Name entries (`0xC1`: 15 UTF-16 units each); type `0x00`
//!   ends the directory. The allocation bitmap's entry (`0x81`) in the root directory names
//!   its first cluster and length.
//! - Deleting a file clears the in-use bit (0x80) of every entry of its set (`0x05`, `0x40`,
//!   `0x41`) and its clusters' bits in the allocation bitmap. Such a set is reported `deleted`
//!   when its checksum (taken with the in-use bits set) still matches; its data is read
//!   contiguously when the NoFatChain flag is set, else by the FAT chain if it is still there
//!   (Windows leaves it; Linux clears it), else as contiguous, and only when every cluster is
//!   still free in the bitmap; otherwise it is reported with an error saying the clusters were
//!   reused. A deleted directory is walked under the same condition; everything in it is
//!   deleted. Every file carries `dirent:OFFSET`, the byte offset in the volume of its File
//!   entry, as its `fs_id`.
//!
//! Every offset and length read from the image is checked against the volume before use;
//! cluster chains are followed at most as far as the stream's length needs and stop at a
//! cluster seen twice, out of range or marked bad. Bytes past a stream's valid data length read
//! as zeros, as Windows returns them. Times carry the UTC offset the entry records: reported in
//! UTC (`Z`) when the offset is valid, as local time without a zone when it is not.

use std::cell::{Cell, OnceCell};
use std::collections::HashSet;
use std::io::Read;

use super::Window;
use crate::container::{ContainerError, MemberHeader, MemberKind, MemberTimes, Next, Visit};

/// Directory levels followed, at most.
const MAX_DEPTH: usize = 64;

/// The largest directory the specification allows (256 MiB).
const MAX_DIR_BYTES: u64 = 256 << 20;

const ENTRY: usize = 32;
const FILE: u8 = 0x85;
const STREAM: u8 = 0xC0;
const NAME: u8 = 0xC1;
const ATTR_DIRECTORY: u16 = 0x10;
const NO_FAT_CHAIN: u8 = 0x02;
const BITMAP: u8 = 0x81;
/// The in-use bit of an entry type: deleting a file clears it in every entry of its set.
const IN_USE: u8 = 0x80;

/// The largest allocation bitmap loaded to check deleted files' clusters (2^29 clusters).
const MAX_BITMAP_BYTES: u64 = 64 << 20;

/// The volume's geometry, from its boot sector.
struct Volume {
    dev: Window,
    cluster: u64,
    heap: u64,
    count: u32,
    fat: u64,
    root: u32,
    /// First cluster and length of the allocation bitmap, once the root directory is read.
    bitmap_at: Cell<Option<(u32, u64)>>,
    /// The allocation bitmap, loaded when a deleted file needs it.
    bitmap: OnceCell<Result<Vec<u8>, String>>,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn corrupt(why: impl Into<String>) -> ContainerError {
    ContainerError::Corrupt(why.into())
}

impl Volume {
    /// Reads and checks the boot sector of `dev`.
    fn open(dev: Window) -> Result<Volume, ContainerError> {
        let mut b = [0u8; 512];
        dev.read_at(0, &mut b)
            .map_err(|e| corrupt(format!("exFAT boot sector unreadable: {e}")))?;
        if &b[3..11] != b"EXFAT   " || b[510..512] != [0x55, 0xAA] {
            return Err(corrupt("not an exFAT boot sector (signature)"));
        }
        let (bps_shift, spc_shift) = (b[108] as u32, b[109] as u32);
        if !(9..=12).contains(&bps_shift) || spc_shift > 25 - bps_shift {
            return Err(corrupt(format!(
                "exFAT boot sector damaged: sector shift {bps_shift}, cluster shift {spc_shift}"
            )));
        }
        let sector = 1u64 << bps_shift;
        let cluster = sector << spc_shift;
        let fats = b[110] as u64;
        let (fat_off, fat_len) = (u32_at(&b, 80) as u64, u32_at(&b, 84) as u64);
        let heap = u32_at(&b, 88) as u64;
        let count = u32_at(&b, 92);
        let root = u32_at(&b, 96);
        let volume_sectors = u64_at(&b, 72);
        let active = (u16_at(&b, 106) & 1) as u64;
        let sane = matches!(fats, 1 | 2)
            && active < fats
            && fat_off >= 24
            && fat_len as u128 * sector as u128 >= (count as u128 + 2) * 4
            && heap >= fat_off + fat_len * fats
            && count <= 0xFFFF_FFF5
            && (heap as u128 + ((count as u128) << spc_shift)) <= volume_sectors as u128
            && (2..=count as u64 + 1).contains(&(root as u64));
        if !sane {
            return Err(corrupt(
                "exFAT boot sector damaged: its FAT, cluster heap or root directory lie outside the volume",
            ));
        }
        Ok(Volume {
            dev,
            cluster,
            heap: heap * sector,
            count,
            fat: (fat_off + active * fat_len) * sector,
            root,
            bitmap_at: Cell::new(None),
            bitmap: OnceCell::new(),
        })
    }

    /// Byte offset of cluster `n` (already checked to be in the heap).
    fn offset(&self, n: u32) -> u64 {
        self.heap + (n as u64 - 2) * self.cluster
    }

    fn valid(&self, n: u32) -> bool {
        n >= 2 && n <= self.count + 1
    }

    /// The byte runs (offset, length) holding the first `len` bytes of the stream starting at
    /// cluster `first`, contiguous or by the FAT.
    fn runs(&self, first: u32, len: u64, contiguous: bool) -> Result<Vec<(u64, u64)>, String> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let needed = len.div_ceil(self.cluster);
        if needed > self.count as u64 {
            return Err(format!(
                "declares {len} bytes, more than the volume's cluster heap holds"
            ));
        }
        if !self.valid(first) {
            return Err(format!("first cluster {first} outside the cluster heap"));
        }
        if contiguous {
            let last = first as u64 + needed - 1;
            if last > self.count as u64 + 1 {
                return Err(format!(
                    "contiguous clusters {first}..={last} run past the cluster heap"
                ));
            }
            return Ok(vec![(self.offset(first), len)]);
        }
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut seen = HashSet::new();
        let mut n = first;
        let mut left = len;
        loop {
            if !seen.insert(n) {
                return Err(format!("cluster chain loops back to cluster {n}"));
            }
            let take = left.min(self.cluster);
            let at = self.offset(n);
            match runs.last_mut() {
                Some((o, l)) if *o + *l == at => *l += take,
                _ => runs.push((at, take)),
            }
            left -= take;
            if left == 0 {
                return Ok(runs);
            }
            let mut e = [0u8; 4];
            self.dev
                .read_at(self.fat + n as u64 * 4, &mut e)
                .map_err(|e| format!("FAT entry of cluster {n} unreadable: {e}"))?;
            let next = u32::from_le_bytes(e);
            if !self.valid(next) {
                return Err(match next {
                    0xFFFF_FFFF => format!("cluster chain ends {left} bytes early"),
                    0xFFFF_FFF7 => format!("cluster chain runs into a bad cluster after {n}"),
                    _ => format!("cluster chain leaves the heap after cluster {n} ({next:#x})"),
                });
            }
            n = next;
        }
    }
}

/// A stream's bytes: its runs, then zeros from the valid data length to the size (FAT reads
/// its files through it too).
pub(super) struct Stream<'v> {
    dev: &'v Window,
    runs: Vec<(u64, u64)>,
    valid: u64,
    size: u64,
    pos: u64,
    run: usize,
    run_start: u64,
}

impl<'v> Stream<'v> {
    /// The `size` bytes of a stream in `runs` of `dev`, zeros from `valid` on.
    pub(super) fn new(dev: &'v Window, runs: Vec<(u64, u64)>, valid: u64, size: u64) -> Self {
        Stream {
            dev,
            runs,
            valid,
            size,
            pos: 0,
            run: 0,
            run_start: 0,
        }
    }
}

impl Read for Stream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.size || buf.is_empty() {
            return Ok(0);
        }
        if self.pos >= self.valid {
            let n = (buf.len() as u64).min(self.size - self.pos) as usize;
            buf[..n].fill(0);
            self.pos += n as u64;
            return Ok(n);
        }
        // Runs cover the valid length; advance to the one holding `pos`.
        while self
            .runs
            .get(self.run)
            .is_some_and(|r| self.pos >= self.run_start + r.1)
        {
            self.run_start += self.runs[self.run].1;
            self.run += 1;
        }
        let Some(&(at, len)) = self.runs.get(self.run) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stream ends before its valid data length",
            ));
        };
        let inside = self.pos - self.run_start;
        let n = (buf.len() as u64)
            .min(len - inside)
            .min(self.valid - self.pos) as usize;
        self.dev.read_at(at + inside, &mut buf[..n])?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// An exFAT timestamp with its 10 ms increment and UTC-offset byte, formatted.
fn time(stamp: u32, centis: u8, offset: u8) -> Option<String> {
    let (year, month, day) = (
        1980 + (stamp >> 25) as i64,
        (stamp >> 21) & 15,
        (stamp >> 16) & 31,
    );
    let (hour, min, dsec) = ((stamp >> 11) & 31, (stamp >> 5) & 63, stamp & 31);
    if !(1..=12).contains(&month) || day == 0 || hour > 23 || min > 59 || dsec > 29 || centis > 199
    {
        return None;
    }
    let sec = dsec * 2 + centis as u32 / 100;
    if offset & 0x80 == 0 {
        return Some(format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{min:02}:{sec:02}"
        ));
    }
    // Bits 0-6: a signed count of 15-minute steps east of UTC.
    let steps = ((offset << 1) as i8 >> 1) as i64;
    let local = days_from_civil(year, month, day) * 86_400
        + hour as i64 * 3600
        + min as i64 * 60
        + sec as i64;
    let nanos = (centis as u32 % 100) * 10_000_000;
    Some(super::utc(local - steps * 900, nanos))
}

/// The in-use entry-set checksum (specification 6.3.3): every byte of the set but the checksum
/// field itself.
fn set_checksum(set: &[u8]) -> u16 {
    let mut sum: u16 = 0;
    for (i, &b) in set.iter().enumerate() {
        if i == 2 || i == 3 {
            continue;
        }
        sum = sum.rotate_right(1).wrapping_add(b as u16);
    }
    sum
}

/// One file or directory from a directory's entry sets.
struct Entry {
    name: String,
    dir: bool,
    first: u32,
    contiguous: bool,
    valid: u64,
    size: u64,
    times: MemberTimes,
    /// Its entry set is no longer in use (or lies in a deleted directory).
    deleted: bool,
    /// Index of its File entry in the directory.
    index: usize,
}

/// The entry sets in a directory's bytes, deleted ones included (all of them are deleted when
/// `all_deleted`: the directory itself is): the files, and a description of each damaged set
/// in use (a deleted set that no longer checks out was overwritten: it names nothing).
fn entries(data: &[u8], all_deleted: bool) -> (Vec<Entry>, Vec<String>) {
    let mut found = Vec::new();
    let mut damaged = Vec::new();
    let n = data.len() / ENTRY;
    let at = |i: usize| &data[i * ENTRY..(i + 1) * ENTRY];
    let mut i = 0;
    while i < n {
        let e = at(i);
        let in_use = match e[0] {
            0x00 => break,
            FILE => true,
            t if t == FILE & !IN_USE => false,
            _ => {
                i += 1;
                continue;
            }
        };
        // Deleting clears the in-use bit of every entry of the set, and nothing else.
        let (stream, name_type) = if in_use {
            (STREAM, NAME)
        } else {
            (STREAM & !IN_USE, NAME & !IN_USE)
        };
        let mut report = |why: String| {
            if in_use {
                damaged.push(why);
            }
        };
        let secondaries = e[1] as usize;
        if !(2..=18).contains(&secondaries) || i + secondaries >= n {
            report(format!(
                "entry {i}: file entry with {secondaries} secondary entries"
            ));
            i += 1;
            continue;
        }
        let set = &data[i * ENTRY..(i + 1 + secondaries) * ENTRY];
        let s = at(i + 1);
        let name_len = s[3] as usize;
        let names = name_len.div_ceil(15);
        if s[0] != stream || names == 0 || names > secondaries - 1 {
            report(format!(
                "entry {i}: file entry without a valid stream extension"
            ));
            i += 1;
            continue;
        }
        if (0..names).any(|k| at(i + 2 + k)[0] != name_type) {
            report(format!("entry {i}: file entry without its name entries"));
            i += 1;
            continue;
        }
        let units: Vec<u16> = (0..names)
            .flat_map(|k| {
                let ne = at(i + 2 + k);
                (0..15).map(move |c| u16_at(ne, 2 + 2 * c))
            })
            .take(name_len)
            .collect();
        let name = String::from_utf16_lossy(&units);
        // The checksum was taken while the set was in use: with the in-use bits set.
        let sum = if in_use {
            set_checksum(set)
        } else {
            let mut live = set.to_vec();
            for k in 0..=secondaries {
                live[k * ENTRY] |= IN_USE;
            }
            set_checksum(&live)
        };
        if sum != u16_at(e, 2) {
            report(format!("{name:?}: entry-set checksum mismatch"));
            i += if in_use { 1 + secondaries } else { 1 };
            continue;
        }
        let size = u64_at(s, 24);
        found.push(Entry {
            name,
            dir: u16_at(e, 4) & ATTR_DIRECTORY != 0,
            first: u32_at(s, 20),
            contiguous: s[1] & NO_FAT_CHAIN != 0,
            valid: u64_at(s, 8).min(size),
            size,
            times: MemberTimes {
                created: time(u32_at(e, 8), e[20], e[22]),
                modified: time(u32_at(e, 12), e[21], e[23]),
                accessed: time(u32_at(e, 16), 0, e[24]),
                changed: None,
            },
            deleted: !in_use || all_deleted,
            index: i,
        });
        i += 1 + secondaries;
    }
    (found, damaged)
}

/// Every file of the exFAT file system in `volume`, deleted ones included, depth first in
/// directory order, with its path from the root (`DCIM/100MEDIA/x.jpg`).
pub fn expand(volume: Window, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    let vol = Volume::open(volume)?;
    // The root directory has no stream extension: its length is that of its FAT chain.
    let root = root_len(&vol)?;
    let mut entered = HashSet::from([vol.root]);
    walk(
        &vol,
        vol.root,
        root,
        false,
        false,
        "",
        0,
        &mut entered,
        visit,
    )
    .map(|_| ())
}

/// The unallocated space of the exFAT file system in `volume`: byte ranges (offset in the
/// volume, length) of the clusters the allocation bitmap (named in the root directory) marks
/// free, adjacent clusters merged; for carving.
pub fn free_ranges(volume: Window) -> Result<Vec<(u64, u64)>, String> {
    let vol = Volume::open(volume).map_err(|e| e.to_string())?;
    let len = root_len(&vol).map_err(|e| e.to_string())?;
    let runs = vol.runs(vol.root, len, false)?;
    let mut data = Vec::new();
    Stream::new(&vol.dev, runs, len, len)
        .read_to_end(&mut data)
        .map_err(|e| format!("exFAT root directory unreadable: {e}"))?;
    let Some(b) = data.chunks_exact(ENTRY).find(|e| e[0] == BITMAP) else {
        return Err("no allocation bitmap entry in the exFAT root directory".into());
    };
    vol.bitmap_at.set(Some((u32_at(b, 20), u64_at(b, 24))));
    let bitmap = vol.load_bitmap()?;
    let mut out: Vec<(u64, u64)> = Vec::new();
    for i in 0..vol.count as u64 {
        if bitmap[(i / 8) as usize] & (1 << (i % 8)) != 0 {
            continue;
        }
        let at = vol.offset(i as u32 + 2);
        match out.last_mut() {
            Some((o, l)) if *o + *l == at => *l += vol.cluster,
            _ => out.push((at, vol.cluster)),
        }
    }
    Ok(out)
}

/// The root directory's length in bytes, by its FAT chain.
fn root_len(vol: &Volume) -> Result<u64, ContainerError> {
    let mut n = vol.root;
    let mut clusters = 1u64;
    loop {
        if clusters * vol.cluster > MAX_DIR_BYTES {
            return Err(corrupt(
                "exFAT root directory chain longer than 256 MiB (or a loop)",
            ));
        }
        let mut e = [0u8; 4];
        vol.dev
            .read_at(vol.fat + n as u64 * 4, &mut e)
            .map_err(|e| corrupt(format!("exFAT FAT unreadable: {e}")))?;
        let next = u32::from_le_bytes(e);
        if next == 0xFFFF_FFFF {
            return Ok(clusters * vol.cluster);
        }
        if !vol.valid(next) {
            return Err(corrupt(format!(
                "exFAT root directory chain leaves the heap after cluster {n} ({next:#x})"
            )));
        }
        n = next;
        clusters += 1;
    }
}

/// Visits a member that could not be read, `why`; whether to go on.
fn broken(name: &str, why: String, visit: &mut Visit<'_>) -> bool {
    let h = MemberHeader {
        name: name.as_bytes().to_vec(),
        kind: MemberKind::Broken(why),
        ..MemberHeader::default()
    };
    !matches!(visit(h, &mut std::io::empty()), Next::Stop(_))
}

/// Byte offset in the volume of byte `off` of a stream stored in `runs`.
fn place(runs: &[(u64, u64)], mut off: u64) -> Option<u64> {
    for &(at, len) in runs {
        if off < len {
            return Some(at + off);
        }
        off -= len;
    }
    None
}

impl Volume {
    /// Whether cluster `n` (valid) is allocated in the allocation bitmap.
    fn used(&self, n: u32) -> Result<bool, String> {
        let bitmap = self.bitmap.get_or_init(|| self.load_bitmap());
        let bitmap = bitmap.as_ref().map_err(Clone::clone)?;
        let i = (n - 2) as usize;
        bitmap
            .get(i / 8)
            .map(|b| b & (1 << (i % 8)) != 0)
            .ok_or_else(|| format!("cluster {n} past the allocation bitmap"))
    }

    /// The allocation bitmap's bytes, from the entry the root directory holds for it.
    fn load_bitmap(&self) -> Result<Vec<u8>, String> {
        let Some((first, len)) = self.bitmap_at.get() else {
            return Err("no allocation bitmap entry in the root directory".into());
        };
        let needed = (self.count as u64).div_ceil(8);
        if len < needed || needed > MAX_BITMAP_BYTES {
            return Err(format!(
                "allocation bitmap of {len} bytes for {} clusters: not read",
                self.count
            ));
        }
        let runs = self
            .runs(first, needed, false)
            .or_else(|_| self.runs(first, needed, true))?;
        let mut data = Vec::new();
        Stream::new(&self.dev, runs, needed, needed)
            .read_to_end(&mut data)
            .map_err(|e| format!("allocation bitmap unreadable: {e}"))?;
        Ok(data)
    }

    /// Where a deleted stream's bytes lie, checked to be free in the allocation bitmap: the
    /// runs and how they were found, or why they cannot be read as the stream's data.
    fn deleted_runs(&self, e: &Entry) -> Result<(Vec<(u64, u64)>, String), String> {
        if e.size == 0 {
            return Ok((Vec::new(), "exfat: entry set not in use, empty".into()));
        }
        // The NoFatChain flag says the clusters were contiguous; otherwise the FAT chain is
        // used while it still holds (Windows leaves it, Linux clears it), else contiguity is
        // assumed, as for FAT.
        let (runs, how) = if e.contiguous {
            (self.runs(e.first, e.size, true)?, "contiguous (NoFatChain)")
        } else {
            match self.runs(e.first, e.size, false) {
                Ok(r) => (r, "by the FAT chain left in place"),
                Err(_) => (
                    self.runs(e.first, e.size, true)?,
                    "as contiguous (the FAT chain is gone)",
                ),
            }
        };
        for &(at, len) in &runs {
            let first = ((at - self.heap) / self.cluster) as u32 + 2;
            for n in first..first + len.div_ceil(self.cluster) as u32 {
                if self.used(n)? {
                    return Err(format!(
                        "cluster {n} is allocated again (reused by another file): its bytes are not this file's"
                    ));
                }
            }
        }
        let how = format!(
            "exfat: entry set not in use; clusters free in the allocation bitmap, read {how}"
        );
        Ok((runs, how))
    }
}

/// Walks a directory (a deleted one when `deleted`); `Ok(false)` when the visitor stopped.
#[allow(clippy::too_many_arguments)]
fn walk(
    vol: &Volume,
    first: u32,
    len: u64,
    contiguous: bool,
    deleted: bool,
    prefix: &str,
    depth: usize,
    entered: &mut HashSet<u32>,
    visit: &mut Visit<'_>,
) -> Result<bool, ContainerError> {
    if depth > MAX_DEPTH {
        return Err(corrupt(format!(
            "directories nested deeper than {MAX_DEPTH} levels at {prefix}: not followed"
        )));
    }
    if len > MAX_DIR_BYTES {
        let why = format!("exFAT directory declares {len} bytes, more than 256 MiB: not read");
        return Ok(broken(prefix, why, visit));
    }
    let runs = match vol.runs(first, len, contiguous) {
        Ok(r) => r,
        Err(why) => {
            let why = format!("exFAT directory unreadable: {why}");
            return Ok(broken(prefix, why, visit));
        }
    };
    let mut data = Vec::new();
    if let Err(e) = Stream::new(&vol.dev, runs.clone(), len, len).read_to_end(&mut data) {
        let why = format!("exFAT directory unreadable: {e}");
        return Ok(broken(prefix, why, visit));
    }
    if depth == 0 {
        // The allocation bitmap (type 0x81) is named in the root directory.
        if let Some(b) = data.chunks_exact(ENTRY).find(|e| e[0] == BITMAP) {
            vol.bitmap_at.set(Some((u32_at(b, 20), u64_at(b, 24))));
        }
    }
    let (found, damaged) = entries(&data, deleted);
    for why in damaged {
        if !broken(
            prefix,
            format!("exFAT directory entry damaged: {why}"),
            visit,
        ) {
            return Ok(false);
        }
    }
    for e in found {
        let path = format!("{prefix}{}", e.name);
        let fs_id = place(&runs, (e.index * ENTRY) as u64).map(|at| format!("dirent:{at}"));
        let mut h = MemberHeader {
            name: path.clone().into_bytes(),
            size: Some(e.size),
            times: Some(e.times.clone()),
            fs_id,
            deleted: e.deleted,
            ..MemberHeader::default()
        };
        if e.dir {
            let sub = format!("{path}/");
            h.size = None;
            if e.deleted {
                // Walked only while its clusters are free (nothing else wrote over it).
                if let Err(why) = vol.deleted_runs(&e) {
                    h.recovery = Some(format!("exfat: deleted directory not walked: {why}"));
                    h.kind =
                        MemberKind::Broken(format!("deleted exFAT directory not recovered: {why}"));
                    if let Next::Stop(_) = visit(h, &mut std::io::empty()) {
                        return Ok(false);
                    }
                    continue;
                }
            }
            // Entered only now: a live directory reusing a deleted one's cluster is walked.
            if !entered.insert(e.first) {
                h.kind = MemberKind::Broken(format!(
                    "directory shares cluster {} with another: not followed again",
                    e.first
                ));
                if let Next::Stop(_) = visit(h, &mut std::io::empty()) {
                    return Ok(false);
                }
                continue;
            }
            if !walk(
                vol,
                e.first,
                e.size,
                e.contiguous,
                e.deleted,
                &sub,
                depth + 1,
                entered,
                visit,
            )? {
                return Ok(false);
            }
            continue;
        }
        let runs = if e.deleted {
            vol.deleted_runs(&e).map(|(runs, how)| {
                h.recovery = Some(how);
                runs
            })
        } else {
            vol.runs(e.first, e.size, e.contiguous)
        };
        let next = match runs {
            Ok(runs) => visit(h, &mut Stream::new(&vol.dev, runs, e.valid, e.size)),
            Err(why) if e.deleted => {
                h.recovery = Some(format!(
                    "exfat: entry set not in use; data not recovered: {why}"
                ));
                h.kind = MemberKind::Broken(format!("deleted file not recovered: {why}"));
                visit(h, &mut std::io::empty())
            }
            Err(why) => {
                h.kind = MemberKind::Broken(format!("exFAT file data unreachable: {why}"));
                visit(h, &mut std::io::empty())
            }
        };
        if let Next::Stop(_) = next {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_honour_the_utc_offset() {
        // 2024-03-05 14:30:22 local, +1.5 s of increment, recorded at UTC+02:00 (8 steps).
        let stamp = ((2024 - 1980) << 25) | (3 << 21) | (5 << 16) | (14 << 11) | (30 << 5) | 11;
        assert_eq!(
            time(stamp, 150, 0x80 | 8).as_deref(),
            Some("2024-03-05T12:30:23.500000000Z")
        );
        // UTC-05:00 is -20 steps, a 7-bit two's complement 0x6C.
        assert_eq!(
            time(stamp, 0, 0x80 | 0x6C).as_deref(),
            Some("2024-03-05T19:30:22Z")
        );
        assert_eq!(time(stamp, 0, 0).as_deref(), Some("2024-03-05T14:30:22"));
        assert_eq!(time(0, 0, 0), None, "month 0");
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 2, 29), 951_782_400 / 86_400);
    }
}
