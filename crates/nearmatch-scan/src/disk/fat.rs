//! FAT12/16/32, read by a small parser of its own: the `fatfs` crate does not show deleted
//! directory entries, and a forensic reader needs them and the place of every entry. Layout as
//! in Microsoft's FAT specification (FAT: General Overview of On-Disk Format, 2000):
//!
//! - Boot sector (BPB): bytes per sector at 11, sectors per cluster at 13, reserved sectors at
//!   14, number of FATs at 16, root entries at 17 (FAT12/16), total sectors at 19 or 32, FAT
//!   size at 22 or 36, FAT32's flags at 40 (bit 7: only the FAT numbered in bits 0-3 is active)
//!   and root cluster at 44. The FAT type follows from the cluster count alone (< 4085: FAT12,
//!   < 65525: FAT16, else FAT32), as the specification says.
//! - Directories are 32-byte entries: a short (8.3) entry, preceded by its long-name (LFN)
//!   entries, last part first, each carrying the checksum of the short name. A short name's
//!   case comes from the NT flags at byte 12 (0x08: lower-case base, 0x10: lower-case
//!   extension). FAT stores local times without a zone; they are reported as such.
//!
//! Every file carries as `fs_id` the place of its short directory entry: `dirent:OFFSET`, the
//! byte offset in the volume. The Sleuth Kit's FAT inode number of the same file is
//! `(OFFSET - D) / 32 + 3`, where `D` is the byte offset of the first sector after the FATs
//! (the root directory region on FAT12/16, cluster 2 on FAT32).
//!
//! Deleted files (first name byte 0xE5) are reported `deleted` where their entry still lies in
//! a directory: under their long name when the long-name entries before them survive and their
//! checksum matches the short entry with its lost first character taken from the long name;
//! else under the short name with `_` for the lost first character (as The Sleuth Kit shows
//! it). Deleting frees the file's FAT chain, so its data is recovered the standard way: `size`
//! bytes from its first cluster on, in contiguous clusters, and only when all those clusters
//! are free in the FAT now; otherwise the file is reported with an error saying the clusters
//! were reused. A file that was fragmented before deletion cannot be recovered correctly this
//! way (its later clusters are guesses); FAT32 implementations that clear the high half of a
//! deleted entry's first cluster make its data unreachable. Deleted directories are walked
//! (their first cluster only: the chain that gave the rest is gone) when that cluster is free
//! and starts with the directory's own `.` entry; every entry inside is deleted too.
//!
//! Every offset and length read from the image is checked before use; chains stop at a cluster
//! seen twice, out of range or marked bad; directories are read up to the 65,536 entries the
//! specification allows, 64 levels deep, each first cluster entered once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::Read;

use super::exfat::Stream;
use super::Window;
use crate::container::{ContainerError, MemberHeader, MemberKind, MemberTimes, Next, Visit};

/// Directory levels followed, at most (a crafted loop of directories stops here).
const MAX_DEPTH: usize = 64;

/// The largest directory the specification allows: 65,536 entries of 32 bytes.
const MAX_DIR_BYTES: u64 = 65_536 * 32;

const ENTRY: usize = 32;
const DELETED: u8 = 0xE5;
const ATTR_VOLUME: u8 = 0x08;
const ATTR_DIR: u8 = 0x10;
const ATTR_LFN: u8 = 0x0F;

/// Bytes of the FAT read at once (chains are mostly walked in order).
const FAT_CHUNK: u64 = 64 << 10;

fn corrupt(why: impl Into<String>) -> ContainerError {
    ContainerError::Corrupt(why.into())
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Where the root directory lies.
enum Root {
    /// FAT12/16: a fixed region (byte offset, length).
    Region(u64, u64),
    /// FAT32: a cluster chain.
    Cluster(u32),
}

/// The volume's geometry, from its boot sector, and a cache of the FAT chunk read last.
struct Volume {
    dev: Window,
    /// 12, 16 or 32.
    bits: u32,
    cluster: u64,
    /// Byte offset and length of the active FAT.
    fat: u64,
    fat_len: u64,
    /// Byte offset of cluster 2.
    data: u64,
    count: u32,
    root: Root,
    cache: RefCell<(u64, Vec<u8>)>,
}

/// A FAT entry's meaning.
#[derive(Debug, PartialEq, Eq)]
enum Link {
    Free,
    Next(u32),
    End,
    Bad,
    /// A value no cluster of this volume has (reserved, or past the heap).
    Invalid(u32),
}

impl Volume {
    /// Reads and checks the boot sector of `dev`.
    fn open(dev: Window) -> Result<Volume, ContainerError> {
        let mut b = [0u8; 512];
        dev.read_at(0, &mut b)
            .map_err(|e| corrupt(format!("FAT boot sector unreadable: {e}")))?;
        let sector = u16_at(&b, 11) as u64;
        let per_cluster = b[13] as u64;
        let reserved = u16_at(&b, 14) as u64;
        let fats = b[16] as u64;
        let root_entries = u16_at(&b, 17) as u64;
        let total = match u16_at(&b, 19) {
            0 => u32_at(&b, 32) as u64,
            n => n as u64,
        };
        let fat_sectors = match u16_at(&b, 22) {
            0 => u32_at(&b, 36) as u64,
            n => n as u64,
        };
        if b[510..512] != [0x55, 0xAA]
            || !matches!(sector, 512 | 1024 | 2048 | 4096)
            || !per_cluster.is_power_of_two()
            || reserved == 0
            || !matches!(fats, 1 | 2)
            || fat_sectors == 0
        {
            return Err(corrupt("not a FAT boot sector (BPB out of range)"));
        }
        let root_sectors = (root_entries * 32).div_ceil(sector);
        let after_fats = reserved + fats * fat_sectors;
        let data = after_fats + root_sectors;
        if data >= total {
            return Err(corrupt(format!(
                "FAT boot sector damaged: the data area starts at sector {data} of {total}"
            )));
        }
        let clusters = (total - data) / per_cluster;
        let bits = match clusters {
            0..4085 => 12,
            4085..65525 => 16,
            _ => 32,
        };
        if clusters > 0x0FFF_FFF5 || fat_sectors * sector * 8 < (clusters + 2) * bits as u64 {
            return Err(corrupt(format!(
                "FAT boot sector damaged: {clusters} clusters, a FAT of {fat_sectors} sectors"
            )));
        }
        // FAT32 may mirror only one FAT, named in its flags.
        let mut active = 0;
        if bits == 32 && b[40] & 0x80 != 0 {
            active = (b[40] & 0x0F) as u64;
            if active >= fats {
                return Err(corrupt(format!("FAT32 active FAT {active} of {fats}")));
            }
        }
        let root = if bits == 32 {
            Root::Cluster(u32_at(&b, 44))
        } else {
            if root_entries == 0 {
                return Err(corrupt(
                    "FAT12/16 boot sector without root directory entries",
                ));
            }
            Root::Region(after_fats * sector, root_entries * 32)
        };
        Ok(Volume {
            dev,
            bits,
            cluster: per_cluster * sector,
            fat: (reserved + active * fat_sectors) * sector,
            fat_len: fat_sectors * sector,
            data: data * sector,
            count: clusters as u32,
            root,
            cache: RefCell::new((u64::MAX, Vec::new())),
        })
    }

    fn valid(&self, n: u32) -> bool {
        n >= 2 && n <= self.count + 1
    }

    /// Byte offset of cluster `n` (already checked to be valid).
    fn offset(&self, n: u32) -> u64 {
        self.data + (n as u64 - 2) * self.cluster
    }

    /// The FAT entry of cluster `n` (already checked to be valid).
    fn link(&self, n: u32) -> Result<Link, String> {
        let at = match self.bits {
            12 => n as u64 + n as u64 / 2,
            16 => n as u64 * 2,
            _ => n as u64 * 4,
        };
        let chunk = at / FAT_CHUNK * FAT_CHUNK;
        let mut cache = self.cache.borrow_mut();
        if cache.0 != chunk {
            // 4 bytes more than a chunk: a FAT12 entry may straddle the boundary.
            let len = (FAT_CHUNK + 4).min(self.fat_len - chunk) as usize;
            let mut buf = vec![0u8; len];
            self.dev
                .read_at(self.fat + chunk, &mut buf)
                .map_err(|e| format!("FAT unreadable near cluster {n}: {e}"))?;
            *cache = (chunk, buf);
        }
        let b = &cache.1;
        let i = (at - chunk) as usize;
        let need = if self.bits == 32 { 4 } else { 2 };
        if i + need > b.len() {
            return Err(format!("FAT entry of cluster {n} lies past the FAT"));
        }
        let (v, end, bad) = match self.bits {
            12 => {
                let w = u16_at(b, i) as u32;
                let v = if n % 2 == 1 { w >> 4 } else { w & 0xFFF };
                (v, 0xFF8, 0xFF7)
            }
            16 => (u16_at(b, i) as u32, 0xFFF8, 0xFFF7),
            _ => (u32_at(b, i) & 0x0FFF_FFFF, 0x0FFF_FFF8, 0x0FFF_FFF7),
        };
        Ok(match v {
            0 => Link::Free,
            v if v >= end => Link::End,
            v if v == bad => Link::Bad,
            v if self.valid(v) => Link::Next(v),
            v => Link::Invalid(v),
        })
    }

    /// The byte runs of the chain from `first`: `len` bytes of it for a file, the whole chain
    /// (at most [`MAX_DIR_BYTES`]) for a directory (`len` `None`).
    fn chain(&self, first: u32, len: Option<u64>) -> Result<Vec<(u64, u64)>, String> {
        if len == Some(0) {
            return Ok(Vec::new());
        }
        if !self.valid(first) {
            return Err(format!("first cluster {first} outside the data area"));
        }
        let want = len.unwrap_or(MAX_DIR_BYTES);
        let mut runs: Vec<(u64, u64)> = Vec::new();
        let mut seen = HashSet::new();
        let mut n = first;
        let mut got = 0u64;
        loop {
            if !seen.insert(n) {
                return Err(format!("cluster chain loops back to cluster {n}"));
            }
            let take = (want - got).min(self.cluster);
            let at = self.offset(n);
            match runs.last_mut() {
                Some((o, l)) if *o + *l == at => *l += take,
                _ => runs.push((at, take)),
            }
            got += take;
            if got == want {
                return match len {
                    Some(_) => Ok(runs),
                    None => Err(format!("directory chain longer than {MAX_DIR_BYTES} bytes")),
                };
            }
            n = match self.link(n)? {
                Link::Next(next) => next,
                Link::End if len.is_none() => return Ok(runs),
                Link::End => return Err(format!("cluster chain ends {} bytes early", want - got)),
                Link::Bad => {
                    return Err(format!("cluster chain runs into a bad cluster after {n}"))
                }
                Link::Free => {
                    return Err(format!("cluster chain runs into free cluster after {n}"))
                }
                Link::Invalid(v) => {
                    return Err(format!(
                        "cluster chain leaves the data area after {n} ({v:#x})"
                    ))
                }
            };
        }
    }

    /// The contiguous clusters that held a deleted stream of `len` bytes from `first`, checked
    /// to be free now: `Ok((runs, last cluster))`, or why they cannot be read as its data.
    fn free_run(&self, first: u32, len: u64) -> Result<(Vec<(u64, u64)>, u32), String> {
        if len == 0 {
            return Ok((Vec::new(), first));
        }
        if !self.valid(first) {
            return Err(format!("first cluster {first} outside the data area"));
        }
        let needed = len.div_ceil(self.cluster);
        let last = first as u64 + needed - 1;
        if last > self.count as u64 + 1 {
            return Err(format!(
                "{len} bytes from cluster {first} run past the data area (cluster {last})"
            ));
        }
        for n in first..=last as u32 {
            if self.link(n)? != Link::Free {
                return Err(format!(
                    "cluster {n} is allocated again (reused by another file): its bytes are not this file's"
                ));
            }
        }
        Ok((vec![(self.offset(first), len)], last as u32))
    }

    /// The bytes of `runs` (a directory's, at most [`MAX_DIR_BYTES`]).
    fn read_runs(&self, runs: &[(u64, u64)]) -> Result<Vec<u8>, String> {
        let size = runs.iter().map(|r| r.1).sum();
        let mut data = Vec::new();
        Stream::new(&self.dev, runs.to_vec(), size, size)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        Ok(data)
    }
}

/// One file or directory named by a directory.
struct Dirent {
    name: String,
    deleted: bool,
    dir: bool,
    first: u32,
    size: u32,
    times: MemberTimes,
    /// Byte offset of the short entry in the volume.
    at: u64,
}

/// The short-name checksum long-name entries carry (specification, section 7).
fn checksum(short: &[u8]) -> u8 {
    short[..11]
        .iter()
        .fold(0u8, |s, &b| s.rotate_right(1).wrapping_add(b))
}

/// The 13 UTF-16 units of a long-name entry.
fn lfn_units(e: &[u8]) -> impl Iterator<Item = u16> + '_ {
    [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30]
        .into_iter()
        .map(move |at| u16_at(e, at))
}

/// The name in long-name entries `parts` (in directory order: last part first).
fn long_name(parts: &[&[u8]]) -> String {
    let units: Vec<u16> = parts
        .iter()
        .rev()
        .flat_map(|e| lfn_units(e))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// An 8.3 name as shown: trailing spaces cut, the NT lower-case flags applied, bytes outside
/// ASCII replaced (their OEM code page is not recorded), `first` in place of the first byte.
fn short_name(e: &[u8], first: Option<char>) -> String {
    let part = |b: &[u8], lower: bool| -> String {
        let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
        b[..end]
            .iter()
            .map(|&c| match c {
                0x20..=0x7E if lower => (c as char).to_ascii_lowercase(),
                0x20..=0x7E => c as char,
                _ => char::REPLACEMENT_CHARACTER,
            })
            .collect()
    };
    let mut base = e[..8].to_vec();
    if base[0] == 0x05 {
        // 0x05 stands for a first byte 0xE5, which would mark the entry deleted.
        base[0] = 0xE5;
    }
    let mut name = part(&base, e[12] & 0x08 != 0);
    if let Some(c) = first {
        name = name.chars().skip(1).fold(c.to_string(), |mut s, c| {
            s.push(c);
            s
        });
    }
    let ext = part(&e[8..11], e[12] & 0x10 != 0);
    if !ext.is_empty() {
        name.push('.');
        name.push_str(&ext);
    }
    name
}

/// A FAT date and time (and 10 ms units) as local time; `None` for an unset date.
fn local(date: u16, time: u16, centis: u8) -> Option<String> {
    if date == 0 {
        return None;
    }
    let sec = (time & 31) as u32 * 2 + centis as u32 / 100;
    Some(format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        1980 + (date >> 9),
        (date >> 5) & 15,
        date & 31,
        time >> 11,
        (time >> 5) & 63,
        sec
    ))
}

/// The long name for a deleted short entry `e` from the deleted long-name entries `parts`
/// before it: accepted when one of the long name's first characters, taken as the lost first
/// byte of the short name, makes the short name's checksum match every part's.
fn deleted_long_name(e: &[u8], parts: &[&[u8]]) -> Option<String> {
    let sum = parts.first()?[13];
    if parts.iter().any(|p| p[13] != sum) {
        return None;
    }
    let name = long_name(parts);
    let mut short = [0u8; 11];
    short.copy_from_slice(&e[..11]);
    // Windows and mtools build the short name from the long one, skipping spaces and dots.
    let guesses = name
        .chars()
        .filter(|c| c.is_ascii() && *c != ' ' && *c != '.')
        .take(3);
    for g in guesses {
        short[0] = g.to_ascii_uppercase() as u8;
        if checksum(&short) == sum {
            return Some(name);
        }
    }
    None
}

/// The entries of a directory's bytes `data`, read from the volume runs `runs` (to place each
/// entry), deleted ones included (all of them when `all_deleted`: the directory itself is).
fn dirents(data: &[u8], runs: &[(u64, u64)], all_deleted: bool) -> Vec<Dirent> {
    let place = |i: usize| -> u64 {
        let mut off = (i * ENTRY) as u64;
        for &(at, len) in runs {
            if off < len {
                return at + off;
            }
            off -= len;
        }
        0
    };
    let mut found = Vec::new();
    // Long-name entries since the last short entry, in directory order.
    let mut parts: Vec<&[u8]> = Vec::new();
    for (i, e) in data.chunks_exact(ENTRY).enumerate() {
        if e[0] == 0 {
            break;
        }
        let attr = e[11];
        if attr & 0x3F == ATTR_LFN {
            parts.push(e);
            continue;
        }
        let lfn = std::mem::take(&mut parts);
        if attr & ATTR_VOLUME != 0 || e[..11] == *b".          " || e[..11] == *b"..         " {
            continue;
        }
        let deleted = e[0] == DELETED;
        // A deleted entry overwritten with anything but a name is not a file.
        if deleted && e[1..11].iter().any(|&c| c < 0x20) {
            continue;
        }
        let name = if deleted {
            let live_parts = lfn.iter().any(|p| p[0] != DELETED);
            match (live_parts, deleted_long_name(e, &lfn)) {
                (false, Some(n)) => n,
                _ => short_name(e, Some('_')),
            }
        } else {
            let sum = checksum(e);
            let n = lfn.len();
            let chained = n > 0
                && n <= 20
                && lfn.iter().enumerate().all(|(k, p)| {
                    let order = if k == 0 {
                        0x40 | n as u8
                    } else {
                        (n - k) as u8
                    };
                    p[0] == order && p[13] == sum
                });
            if chained {
                long_name(&lfn)
            } else {
                short_name(e, None)
            }
        };
        let first = ((u16_at(e, 20) as u32) << 16) | u16_at(e, 26) as u32;
        found.push(Dirent {
            name,
            deleted: deleted || all_deleted,
            dir: attr & ATTR_DIR != 0,
            first,
            size: u32_at(e, 28),
            times: MemberTimes {
                modified: local(u16_at(e, 24), u16_at(e, 22), 0),
                created: local(u16_at(e, 16), u16_at(e, 14), e[13]),
                accessed: local(u16_at(e, 18), 0, 0).map(|t| t[..10].to_string()),
                changed: None,
            },
            at: place(i),
        });
    }
    found
}

/// Every file of the FAT file system in `volume`, deleted ones included, depth first in
/// directory order, with its path from the root (`DCIM/100CANON/IMG_0001.JPG`).
pub fn expand(volume: Window, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    let vol = Volume::open(volume)?;
    let (runs, first) = match vol.root {
        Root::Region(at, len) => (vec![(at, len)], 0),
        Root::Cluster(n) => (
            vol.chain(n, None)
                .map_err(|e| corrupt(format!("FAT32 root directory unreadable: {e}")))?,
            n,
        ),
    };
    let mut walk = Walk {
        vol: &vol,
        entered: HashSet::from([first]),
    };
    walk.dir(&runs, "", 0, false, visit).map(|_| ())
}

/// The unallocated space of the FAT file system in `volume`: byte ranges (offset in the volume,
/// length) of the clusters whose FAT entry is 0 (free), adjacent clusters merged; for carving.
pub fn free_ranges(volume: Window) -> Result<Vec<(u64, u64)>, String> {
    let vol = Volume::open(volume).map_err(|e| e.to_string())?;
    let mut out: Vec<(u64, u64)> = Vec::new();
    for n in 2..=vol.count + 1 {
        if vol.link(n)? != Link::Free {
            continue;
        }
        let at = vol.offset(n);
        match out.last_mut() {
            Some((o, l)) if *o + *l == at => *l += vol.cluster,
            _ => out.push((at, vol.cluster)),
        }
    }
    Ok(out)
}

struct Walk<'v> {
    vol: &'v Volume,
    /// First clusters of the directories entered (each is entered once).
    entered: HashSet<u32>,
}

/// Visits a member that names something not read, `why`; whether to go on.
fn broken(mut h: MemberHeader, why: String, visit: &mut Visit<'_>) -> bool {
    h.kind = MemberKind::Broken(why);
    !matches!(visit(h, &mut std::io::empty()), Next::Stop(_))
}

impl Walk<'_> {
    /// Walks the directory in `runs`; `Ok(false)` when the visitor stopped.
    fn dir(
        &mut self,
        runs: &[(u64, u64)],
        prefix: &str,
        depth: usize,
        deleted: bool,
        visit: &mut Visit<'_>,
    ) -> Result<bool, ContainerError> {
        if depth > MAX_DEPTH {
            return Err(corrupt(format!(
                "directories nested deeper than {MAX_DEPTH} levels at {prefix}: not followed"
            )));
        }
        let data = match self.vol.read_runs(runs) {
            Ok(d) => d,
            Err(why) => {
                let h = MemberHeader {
                    name: prefix.as_bytes().to_vec(),
                    ..MemberHeader::default()
                };
                return Ok(broken(h, format!("FAT directory unreadable: {why}"), visit));
            }
        };
        for e in dirents(&data, runs, deleted) {
            let path = format!("{prefix}{}", e.name);
            let mut h = MemberHeader {
                name: path.clone().into_bytes(),
                times: Some(e.times.clone()),
                fs_id: Some(format!("dirent:{}", e.at)),
                deleted: e.deleted,
                ..MemberHeader::default()
            };
            let going = if e.dir {
                self.subdir(&e, h, &path, depth, visit)?
            } else if e.deleted {
                h.size = Some(e.size as u64);
                self.deleted_file(&e, h, visit)
            } else {
                h.size = Some(e.size as u64);
                match self.vol.chain(e.first, Some(e.size as u64)) {
                    Ok(runs) => {
                        let size = e.size as u64;
                        let mut s = Stream::new(&self.vol.dev, runs, size, size);
                        !matches!(visit(h, &mut s), Next::Stop(_))
                    }
                    Err(why) => broken(h, format!("FAT file data unreachable: {why}"), visit),
                }
            };
            if !going {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Enters the directory `e` (a deleted one when its first cluster still holds it), or
    /// reports why not, in the member `h`; whether to go on.
    fn subdir(
        &mut self,
        e: &Dirent,
        mut h: MemberHeader,
        path: &str,
        depth: usize,
        visit: &mut Visit<'_>,
    ) -> Result<bool, ContainerError> {
        if !self.vol.valid(e.first) {
            let why = format!(
                "directory's first cluster {} outside the data area",
                e.first
            );
            return Ok(broken(h, why, visit));
        }
        let shared = format!(
            "directory shares cluster {} with another: not followed again",
            e.first
        );
        let sub = format!("{path}/");
        if !e.deleted {
            if !self.entered.insert(e.first) {
                return Ok(broken(h, shared, visit));
            }
            return match self.vol.chain(e.first, None) {
                Ok(runs) => self.dir(&runs, &sub, depth + 1, false, visit),
                Err(why) => Ok(broken(h, format!("FAT directory unreadable: {why}"), visit)),
            };
        }
        // A deleted directory's chain is gone: its first cluster is all that can be trusted,
        // and only while it is free and still starts with the directory's own `.` entry.
        let runs = vec![(self.vol.offset(e.first), self.vol.cluster)];
        let why = match self.vol.link(e.first) {
            Ok(Link::Free) => match self.vol.read_runs(&runs) {
                Ok(d) if d[..11] == *b".          " && d[11] & ATTR_DIR != 0 => {
                    let dot = ((u16_at(&d, 20) as u32) << 16) | u16_at(&d, 26) as u32;
                    // Entered only now: a live directory reusing the cluster is walked.
                    if dot == e.first && !self.entered.insert(e.first) {
                        return Ok(broken(h, shared, visit));
                    }
                    if dot == e.first {
                        return self.dir(&runs, &sub, depth + 1, true, visit);
                    }
                    format!("cluster {} holds another directory now", e.first)
                }
                Ok(_) => format!("cluster {} no longer holds a directory", e.first),
                Err(why) => why,
            },
            Ok(_) => format!("cluster {} is allocated again (reused)", e.first),
            Err(why) => why,
        };
        h.recovery = Some(format!("fat: deleted directory not walked: {why}"));
        Ok(broken(
            h,
            format!("deleted FAT directory not recovered: {why}"),
            visit,
        ))
    }

    /// Visits a deleted file: its contiguous clusters when they are all free, else an error.
    fn deleted_file(&self, e: &Dirent, mut h: MemberHeader, visit: &mut Visit<'_>) -> bool {
        let size = e.size as u64;
        match self.vol.free_run(e.first, size) {
            Ok((runs, last)) => {
                h.recovery = Some(if size == 0 {
                    "fat: directory entry deleted, empty file".to_string()
                } else {
                    format!(
                        "fat: directory entry deleted; clusters {}..={last} free, read as contiguous",
                        e.first
                    )
                });
                let mut s = Stream::new(&self.vol.dev, runs, size, size);
                !matches!(visit(h, &mut s), Next::Stop(_))
            }
            Err(why) => {
                h.recovery = Some(format!(
                    "fat: directory entry deleted; data not recovered: {why}"
                ));
                broken(h, format!("deleted file not recovered: {why}"), visit)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_take_case_flags_and_the_lost_first_byte() {
        let mut e = [0u8; 32];
        e[..11].copy_from_slice(b"NOTES   TXT");
        assert_eq!(short_name(&e, None), "NOTES.TXT");
        e[12] = 0x18;
        assert_eq!(short_name(&e, None), "notes.txt");
        e[12] = 0;
        e[0] = DELETED;
        assert_eq!(short_name(&e, Some('_')), "_OTES.TXT");
        e[..11].copy_from_slice(b"README     ");
        assert_eq!(short_name(&e, None), "README");
    }

    #[test]
    fn a_deleted_long_name_needs_a_matching_checksum() {
        // The short entry ALONGN~1.BIN with its first byte lost, one long-name part.
        let mut short = [0u8; 32];
        short[..11].copy_from_slice(b"ALONGN~1BIN");
        let sum = checksum(&short);
        short[0] = DELETED;
        let mut part = [0xFFu8; 32];
        part[0] = DELETED;
        part[11] = ATTR_LFN;
        part[13] = sum;
        for (k, u) in "a long.bin".encode_utf16().chain([0]).enumerate() {
            let at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30][k];
            part[at..at + 2].copy_from_slice(&u.to_le_bytes());
        }
        assert_eq!(
            deleted_long_name(&short, &[&part]).as_deref(),
            Some("a long.bin")
        );
        part[13] = sum.wrapping_add(1);
        assert_eq!(deleted_long_name(&short, &[&part]), None);
    }

    #[test]
    fn dates_are_local_and_unset_dates_absent() {
        // 2024-03-05 14:30:22 and 1.5 s of 10 ms units.
        let date = (44 << 9) | (3 << 5) | 5;
        let time = (14 << 11) | (30 << 5) | 11;
        assert_eq!(
            local(date, time, 150).as_deref(),
            Some("2024-03-05T14:30:23")
        );
        assert_eq!(local(0, time, 0), None);
    }
}
