//! ext2/3/4 through the `ext4-view` crate (read-only by design, pure Rust), on a [`Window`].
//! Times are UTC with nanoseconds; the creation time where the inode stores one (ext4).
//!
//! A small raw reader of its own (superblock, group descriptors, inodes, extent trees and block
//! pointers, directory blocks) adds what `ext4-view` does not expose: every file's inode
//! number as its `fs_id` (`inode:12`; The Sleuth Kit's `istat vol 12` shows the same inode),
//! and deleted files. Deleting a file removes its directory entry by merging it into the
//! previous entry's record length (or, first in a block, by clearing its inode number), so its
//! name and inode number stay in the slack of that entry until overwritten; the inode keeps
//! `links_count` 0 and a deletion time. A name found in the slack is reported `deleted` when
//! its inode is deleted that way (an inode in use again, or a rename's leftover entry, is
//! another file: skipped); its data is read from the inode's extent tree or block pointers
//! when they are still there and every block is still free in the block bitmap, else the
//! file is reported with an error saying why. Linux's ext4 empties the extent tree (and ext2/3
//! clear the block pointers) on deletion: then nothing is recovered and nothing invented.
//! `debugfs -w -R "rm f"` leaves the extent tree and size in place and frees the blocks, so
//! such files are recovered. A first-in-block entry without its inode number is reported by
//! name only. Inline-data files and deleted directories are reported, not read.

use std::collections::HashMap;
use std::io::Read;

use ext4_view::{Ext4, Ext4Read, Metadata, PathBuf};

use super::Window;
use crate::container::{ContainerError, MemberHeader, MemberKind, MemberTimes, Next, Visit};

/// Directory levels followed, at most.
const MAX_DEPTH: usize = 256;

struct Device(Window);

impl Ext4Read for Device {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.0.read_at(start_byte, dst).map_err(Box::new)?;
        Ok(())
    }
}

fn times(m: &Metadata) -> MemberTimes {
    let t = |ts: ext4_view::Timestamp| super::utc(ts.seconds(), ts.nanoseconds());
    MemberTimes {
        modified: Some(t(m.modified())),
        accessed: Some(t(m.accessed())),
        changed: None,
        created: m.created().map(t),
    }
}

/// Every regular file (and symbolic link, recorded, never followed) of the ext file system in
/// `volume`, depth first in directory order, with its path from the root.
pub fn expand(volume: Window, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    // Without the raw reader files lose only their inode numbers and deleted siblings.
    let raw = Raw::open(volume.clone()).ok();
    plausible_groups(&volume).map_err(ContainerError::Corrupt)?;
    let fs = Ext4::load(Box::new(Device(volume)))
        .map_err(|e| ContainerError::Corrupt(format!("not a readable ext file system: {e}")))?;
    let root = PathBuf::new("/");
    walk(&fs, raw.as_ref(), &root, Some(ROOT_INODE), 0, visit).map(|_| ())
}

/// The root directory's inode number.
const ROOT_INODE: u32 = 2;

/// Refuses a superblock whose block-group count could not be real: `ext4-view` allocates one
/// descriptor per group before reading any, so a crafted count (a 2 KB input declared 5 GB of
/// descriptors; found by the `disk_ext` fuzzer) must fail here. Every group has a 32-byte (or
/// larger) descriptor on the volume, so more groups than the volume has room for is damage.
fn plausible_groups(volume: &Window) -> Result<(), String> {
    let mut s = [0u8; 1024];
    if volume.read_at(1024, &mut s).is_err() {
        return Ok(()); // ext4-view says why
    }
    // The high half counts even without the 64-bit feature: `ext4-view` reads it regardless
    // (a 2 KB input with only `s_blocks_count_hi` set made it ask for 38 GB; `disk_ext`
    // fuzzer), and mkfs writes zero there on 32-bit volumes.
    let blocks = u32_at(&s, 4) as u64 | (u32_at(&s, 0x150) as u64) << 32;
    let (first, per_group) = (u32_at(&s, 20) as u64, u32_at(&s, 32) as u64);
    let (inodes, inodes_per_group) = (u32_at(&s, 0) as u64, u32_at(&s, 40) as u64);
    let groups = |n: u64, per: u64| if per == 0 { 0 } else { n.div_ceil(per) };
    let count =
        groups(blocks.saturating_sub(first), per_group).max(groups(inodes, inodes_per_group));
    if count.saturating_mul(32) > volume.len() {
        return Err(format!(
            "ext superblock declares {count} block groups: their descriptors alone would not fit in the {}-byte volume",
            volume.len()
        ));
    }
    Ok(())
}

/// Walks `dir` (inode `ino`, when known); `Ok(false)` when the visitor stopped.
fn walk(
    fs: &Ext4,
    raw: Option<&Raw>,
    dir: &PathBuf,
    ino: Option<u32>,
    depth: usize,
    visit: &mut Visit<'_>,
) -> Result<bool, ContainerError> {
    if depth > MAX_DEPTH {
        return Err(ContainerError::Corrupt(format!(
            "directories nested deeper than {MAX_DEPTH} levels: not followed"
        )));
    }
    let shown = |p: &PathBuf| String::from_utf8_lossy(p.as_ref()).into_owned();
    // Inode numbers of the live entries, and the deleted entries, by the raw reader.
    let (inodes, gone) = match (raw, ino) {
        (Some(r), Some(i)) => r.dir(i).unwrap_or_default(),
        _ => Default::default(),
    };
    let fs_id = |name: &[u8]| inodes.get(name).map(|i| format!("inode:{i}"));
    let entries = fs.read_dir(dir).map_err(|e| {
        ContainerError::Corrupt(format!("ext directory {} damaged: {e}", shown(dir)))
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| {
            ContainerError::Corrupt(format!("ext directory {} damaged: {e}", shown(dir)))
        })?;
        let name = entry.file_name();
        if name.as_ref() == b"." || name.as_ref() == b".." {
            continue;
        }
        let path = entry.path();
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                let header = MemberHeader {
                    name: path.as_ref()[1..].to_vec(),
                    fs_id: fs_id(name.as_ref()),
                    kind: MemberKind::Broken(format!("inode unreadable: {e}")),
                    ..MemberHeader::default()
                };
                if let Next::Stop(_) = visit(header, &mut std::io::empty()) {
                    return Ok(false);
                }
                continue;
            }
        };
        if meta.is_dir() {
            let sub = inodes.get(name.as_ref()).copied();
            if !walk(fs, raw, &path, sub, depth + 1, visit)? {
                return Ok(false);
            }
            continue;
        }
        // Paths are absolute in the file system; members are named from its root.
        let mut header = MemberHeader {
            name: path.as_ref()[1..].to_vec(),
            size: Some(meta.len()),
            times: Some(times(&meta)),
            fs_id: fs_id(name.as_ref()),
            ..MemberHeader::default()
        };
        let next = if meta.is_symlink() {
            header.kind = MemberKind::Symlink(
                fs.read_link(&path)
                    .map(|t| t.as_ref().to_vec())
                    .unwrap_or_default(),
            );
            visit(header, &mut std::io::empty())
        } else if meta.file_type().is_regular_file() {
            match fs.open(&path) {
                Ok(mut f) => visit(header, &mut f),
                Err(e) => {
                    header.kind = MemberKind::Broken(format!("cannot open: {e}"));
                    visit(header, &mut std::io::empty())
                }
            }
        } else {
            header.kind = MemberKind::Special(format!("{:?}: no data", meta.file_type()));
            visit(header, &mut std::io::empty())
        };
        if let Next::Stop(_) = next {
            return Ok(false);
        }
    }
    if let Some(raw) = raw {
        let prefix = &dir.as_ref()[1..];
        for (name, ino) in gone {
            let path = if prefix.is_empty() {
                name
            } else {
                [prefix, b"/", &name].concat()
            };
            if !deleted(raw, path, ino, visit) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Visits the deleted file `path` whose directory entry named inode `ino` (0: cleared),
/// unless that inode is in use again; whether to go on.
fn deleted(raw: &Raw, path: Vec<u8>, ino: u32, visit: &mut Visit<'_>) -> bool {
    let mut h = MemberHeader {
        name: path,
        deleted: true,
        ..MemberHeader::default()
    };
    fn fail(mut h: MemberHeader, why: String, visit: &mut Visit<'_>) -> bool {
        h.recovery = Some(format!(
            "ext: directory entry deleted; data not recovered: {why}"
        ));
        h.kind = MemberKind::Broken(format!("deleted file not recovered: {why}"));
        !matches!(visit(h, &mut std::io::empty()), Next::Stop(_))
    }
    if ino == 0 {
        return fail(h, "the entry's inode number was cleared".into(), visit);
    }
    h.fs_id = Some(format!("inode:{ino}"));
    let inode = match raw.inode(ino) {
        Ok(i) => i,
        Err(why) => return fail(h, why, visit),
    };
    if inode.links != 0 || inode.dtime == 0 {
        // The inode belongs to a live file (renamed, or reused since): not this name's data.
        return true;
    }
    let t = |s: u32| Some(super::utc(s as i64, 0));
    h.times = Some(MemberTimes {
        modified: t(inode.mtime),
        accessed: t(inode.atime),
        changed: t(inode.ctime),
        created: None,
    });
    h.size = Some(inode.size);
    match inode.mode & 0xF000 {
        0x8000 => {}
        0x4000 => return fail(h, "a deleted directory: not walked".into(), visit),
        m => {
            h.recovery = Some(format!("ext: inode {ino} deleted"));
            h.kind = MemberKind::Special(format!("deleted inode of type {m:#06x}: no data"));
            return !matches!(visit(h, &mut std::io::empty()), Next::Stop(_));
        }
    }
    let pieces = raw.map(&inode).and_then(|map| {
        // Linux empties the block map on deletion (and sets the size to 0): an empty
        // recovered file would say more than the inode knows.
        if map.is_empty() {
            return Err(format!(
                "its block map is empty (size {}): cleared on deletion, nothing to recover",
                inode.size
            ));
        }
        let pieces = raw.pieces(&map, inode.size)?;
        for &(at, len) in &pieces {
            let Some(at) = at else { continue };
            let first = at / raw.block;
            for n in first..first + len.div_ceil(raw.block) {
                if raw.used(n)? {
                    return Err(format!(
                        "block {n} is allocated again (reused by another file): its bytes are not this file's"
                    ));
                }
            }
        }
        Ok(pieces)
    });
    match pieces {
        Ok(pieces) => {
            h.recovery = Some(format!(
                "ext: inode {ino} deleted (links 0, dtime {}); block map intact, blocks free, read",
                super::utc(inode.dtime as i64, 0)
            ));
            let mut r = Pieces {
                dev: &raw.dev,
                pieces,
                k: 0,
                inside: 0,
            };
            !matches!(visit(h, &mut r), Next::Stop(_))
        }
        Err(why) => fail(h, why, visit),
    }
}

/// Extents or blocks mapped per file, at most (a crafted tree cannot make this endless).
const MAX_EXTENTS: usize = 1 << 16;

/// The largest directory read by the raw reader (ext4's own limit with `large_dir` is 4 GiB;
/// 64 MiB holds about a million entries).
const MAX_DIR_BYTES: u64 = 64 << 20;

/// Extent-tree blocks read per file, at most.
const MAX_NODES: usize = 4096;

const EXTENTS_FL: u32 = 0x8_0000;
const INLINE_DATA_FL: u32 = 0x1000_0000;
const EXTENT_MAGIC: u16 = 0xF30A;

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The few superblock and group-descriptor fields the raw reader needs: inode numbers of live
/// files (`ext4-view` does not expose them), and deleted directory entries and inodes.
struct Raw {
    dev: Window,
    block: u64,
    blocks: u64,
    inodes: u32,
    per_group: u32,
    blocks_per_group: u64,
    first_data_block: u64,
    inode_size: u64,
    first_ino: u32,
    desc_size: u64,
    descs: u64,
}

/// The unallocated space of the ext2/3/4 file system in `volume`: byte ranges (offset in the
/// volume, length) of the blocks each group's block bitmap marks free, adjacent blocks merged;
/// for carving. The bitmaps are found through the group descriptors, wherever they lie
/// (`flex_bg` keeps them together). A group whose bitmap was never initialised
/// (`BLOCK_UNINIT`) is left out: its free space is not read from disk.
pub fn free_ranges(volume: Window) -> Result<Vec<(u64, u64)>, String> {
    /// A group descriptor's flag: the block bitmap is not initialised.
    const BLOCK_UNINIT: u16 = 0x2;
    let raw = Raw::open(volume)?;
    let groups = raw
        .blocks
        .saturating_sub(raw.first_data_block)
        .div_ceil(raw.blocks_per_group);
    let per_bitmap = raw.blocks_per_group.min(raw.block * 8);
    let mut bits = vec![0u8; per_bitmap.div_ceil(8) as usize];
    let mut out: Vec<(u64, u64)> = Vec::new();
    for g in 0..groups {
        let mut d = [0u8; 32];
        raw.dev
            .read_at(raw.descs + g * raw.desc_size, &mut d)
            .map_err(|e| format!("group descriptor {g} unreadable: {e}"))?;
        if u16_at(&d, 0x12) & BLOCK_UNINIT != 0 {
            continue;
        }
        let bitmap = raw.desc_field(g, 0, 0x20)?;
        raw.check_block(bitmap, 1)?;
        raw.dev
            .read_at(bitmap * raw.block, &mut bits)
            .map_err(|e| format!("block bitmap of group {g} unreadable: {e}"))?;
        let base = raw.first_data_block + g * raw.blocks_per_group;
        for bit in 0..per_bitmap {
            let n = base + bit;
            if n >= raw.blocks {
                break;
            }
            if bits[(bit / 8) as usize] & (1 << (bit % 8)) != 0 {
                continue;
            }
            let at = n * raw.block;
            match out.last_mut() {
                Some((o, l)) if *o + *l == at => *l += raw.block,
                _ => out.push((at, raw.block)),
            }
        }
    }
    Ok(out)
}

/// An inode's fields used here.
struct Inode {
    mode: u16,
    size: u64,
    links: u16,
    dtime: u32,
    flags: u32,
    blocks: [u8; 60],
    atime: u32,
    ctime: u32,
    mtime: u32,
}

/// A directory's live entries (name → inode) and deleted entries (name, inode or 0).
type DirNames = (HashMap<Vec<u8>, u32>, Vec<(Vec<u8>, u32)>);

/// A piece of a file: `len` bytes at byte offset `at` of the volume, or zeros (a hole).
type Piece = (Option<u64>, u64);

impl Raw {
    fn open(dev: Window) -> Result<Raw, String> {
        let mut s = [0u8; 1024];
        dev.read_at(1024, &mut s)
            .map_err(|e| format!("superblock unreadable: {e}"))?;
        let log = u32_at(&s, 24);
        if u16_at(&s, 56) != 0xEF53 || log > 6 {
            return Err("not an ext superblock".into());
        }
        let block = 1024u64 << log;
        let rev = u32_at(&s, 76);
        let incompat = u32_at(&s, 96);
        let is64 = incompat & 0x80 != 0;
        let (first_ino, inode_size) = if rev == 0 {
            (11, 128)
        } else {
            (u32_at(&s, 84), u16_at(&s, 88) as u64)
        };
        let desc_size = if is64 { u16_at(&s, 254) as u64 } else { 32 };
        let mut blocks = u32_at(&s, 4) as u64;
        if is64 {
            blocks |= (u32_at(&s, 0x150) as u64) << 32;
        }
        let raw = Raw {
            block,
            blocks,
            inodes: u32_at(&s, 0),
            per_group: u32_at(&s, 40),
            blocks_per_group: u32_at(&s, 32) as u64,
            first_data_block: u32_at(&s, 20) as u64,
            inode_size,
            first_ino,
            desc_size,
            descs: (u32_at(&s, 20) as u64 + 1) * block,
            dev,
        };
        let sane = raw.per_group > 0
            && raw.blocks_per_group > 0
            && (128..=1024).contains(&raw.inode_size)
            && raw.inode_size.is_power_of_two()
            && (32..=1024).contains(&raw.desc_size)
            && raw.first_ino >= 3
            // Block numbers are checked against the count: their byte offsets then fit.
            && raw.blocks.checked_mul(raw.block).is_some();
        if !sane {
            return Err("ext superblock fields out of range".into());
        }
        Ok(raw)
    }

    /// Group descriptor `g`'s field at `lo` (and its high half at `hi` on 64-bit volumes).
    fn desc_field(&self, g: u64, lo: usize, hi: usize) -> Result<u64, String> {
        let mut d = vec![0u8; self.desc_size as usize];
        self.dev
            .read_at(self.descs + g * self.desc_size, &mut d)
            .map_err(|e| format!("group descriptor {g} unreadable: {e}"))?;
        let mut v = u32_at(&d, lo) as u64;
        if self.desc_size >= 64 {
            v |= (u32_at(&d, hi) as u64) << 32;
        }
        Ok(v)
    }

    fn inode(&self, ino: u32) -> Result<Inode, String> {
        if ino == 0 || ino > self.inodes {
            return Err(format!("inode {ino} out of range"));
        }
        let g = ((ino - 1) / self.per_group) as u64;
        let i = ((ino - 1) % self.per_group) as u64;
        let table = self.desc_field(g, 8, 0x28)?;
        self.check_block(table, (i * self.inode_size).div_ceil(self.block) + 1)?;
        let mut b = [0u8; 128];
        self.dev
            .read_at(table * self.block + i * self.inode_size, &mut b)
            .map_err(|e| format!("inode {ino} unreadable: {e}"))?;
        let mut blocks = [0u8; 60];
        blocks.copy_from_slice(&b[40..100]);
        Ok(Inode {
            mode: u16_at(&b, 0),
            size: u32_at(&b, 4) as u64 | (u32_at(&b, 108) as u64) << 32,
            atime: u32_at(&b, 8),
            ctime: u32_at(&b, 12),
            mtime: u32_at(&b, 16),
            dtime: u32_at(&b, 20),
            links: u16_at(&b, 26),
            flags: u32_at(&b, 32),
            blocks,
        })
    }

    /// Whether block `n` is allocated in its group's block bitmap.
    fn used(&self, n: u64) -> Result<bool, String> {
        let rel = n
            .checked_sub(self.first_data_block)
            .ok_or_else(|| format!("block {n} before the first data block"))?;
        let g = rel / self.blocks_per_group;
        let bit = rel % self.blocks_per_group;
        let bitmap = self.desc_field(g, 0, 0x20)?;
        self.check_block(bitmap, 1)?;
        let mut b = [0u8; 1];
        self.dev
            .read_at(bitmap * self.block + bit / 8, &mut b)
            .map_err(|e| format!("block bitmap of group {g} unreadable: {e}"))?;
        Ok(b[0] & (1 << (bit % 8)) != 0)
    }

    /// The data blocks of `inode` as (logical block, physical block, count, written) runs,
    /// from its extent tree or its block pointers.
    fn map(&self, inode: &Inode) -> Result<Vec<(u64, u64, u64, bool)>, String> {
        let mut out = Vec::new();
        if inode.flags & INLINE_DATA_FL != 0 {
            return Err("data stored inline in the inode: not read".into());
        }
        if inode.flags & EXTENTS_FL != 0 {
            self.extents(&inode.blocks, 0, &mut 0, &mut out)?;
        } else {
            let want = inode.size.div_ceil(self.block);
            let mut logical = 0u64;
            for k in 0..15 {
                let p = u32_at(&inode.blocks, k * 4) as u64;
                let level = k.saturating_sub(11) as u32;
                self.indirect(p, level, &mut logical, want, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The leaves below extent-tree `node` at `depth`, `nodes` counting the blocks read.
    fn extents(
        &self,
        node: &[u8],
        depth: u32,
        nodes: &mut usize,
        out: &mut Vec<(u64, u64, u64, bool)>,
    ) -> Result<(), String> {
        if node.len() < 12 || u16_at(node, 0) != EXTENT_MAGIC || depth > 5 {
            return Err("no extent tree (cleared on deletion, or damaged)".into());
        }
        let entries = u16_at(node, 2) as usize;
        let level = u16_at(node, 6);
        if 12 + entries * 12 > node.len() {
            return Err("extent node holds more entries than fit".into());
        }
        for k in 0..entries {
            let e = &node[12 + k * 12..24 + k * 12];
            if out.len() >= MAX_EXTENTS {
                return Err(format!("more than {MAX_EXTENTS} extents"));
            }
            if level == 0 {
                let len = u16_at(e, 4) as u64;
                let (len, written) = if len > 32768 {
                    (len - 32768, false)
                } else {
                    (len, true)
                };
                let start = (u16_at(e, 6) as u64) << 32 | u32_at(e, 8) as u64;
                out.push((u32_at(e, 0) as u64, start, len, written));
            } else {
                // Index entries may all name one block: count the blocks read, not leaves.
                *nodes += 1;
                if *nodes > MAX_NODES {
                    return Err(format!("extent tree of more than {MAX_NODES} blocks"));
                }
                let leaf = (u16_at(e, 8) as u64) << 32 | u32_at(e, 4) as u64;
                let mut b = vec![0u8; self.block as usize];
                self.check_block(leaf, 1)?;
                self.dev
                    .read_at(leaf * self.block, &mut b)
                    .map_err(|e| format!("extent block {leaf} unreadable: {e}"))?;
                self.extents(&b, depth + 1, nodes, out)?;
            }
        }
        Ok(())
    }

    /// Block pointers below `p` at indirection `level` (0: a data block).
    fn indirect(
        &self,
        p: u64,
        level: u32,
        logical: &mut u64,
        want: u64,
        out: &mut Vec<(u64, u64, u64, bool)>,
    ) -> Result<(), String> {
        if *logical >= want {
            return Ok(());
        }
        if out.len() >= MAX_EXTENTS {
            return Err(format!("more than {MAX_EXTENTS} blocks mapped"));
        }
        let per = self.block / 4;
        if p == 0 {
            // A hole: zeros, or pointers cleared on deletion (ext2/3 kernels clear them).
            *logical += per.pow(level);
            return Ok(());
        }
        if level == 0 {
            out.push((*logical, p, 1, true));
            *logical += 1;
            return Ok(());
        }
        self.check_block(p, 1)?;
        let mut b = vec![0u8; self.block as usize];
        self.dev
            .read_at(p * self.block, &mut b)
            .map_err(|e| format!("indirect block {p} unreadable: {e}"))?;
        for k in 0..per as usize {
            self.indirect(u32_at(&b, k * 4) as u64, level - 1, logical, want, out)?;
        }
        Ok(())
    }

    /// Whether blocks `start..start + len` lie in the volume's data blocks.
    fn check_block(&self, start: u64, len: u64) -> Result<(), String> {
        if start < self.first_data_block || start.saturating_add(len) > self.blocks {
            return Err(format!("blocks {start}+{len} outside the volume"));
        }
        Ok(())
    }

    /// The pieces holding the first `size` bytes of a file mapped by `map`.
    fn pieces(&self, map: &[(u64, u64, u64, bool)], size: u64) -> Result<Vec<Piece>, String> {
        let mut map = map.to_vec();
        map.sort_unstable();
        let mut out: Vec<Piece> = Vec::new();
        let mut pos = 0u64;
        for &(logical, phys, count, written) in &map {
            if pos >= size {
                break;
            }
            self.check_block(phys, count)?;
            let start = logical.saturating_mul(self.block);
            if start < pos {
                return Err(format!("extents overlap at logical block {logical}"));
            }
            if start > pos {
                out.push((None, (start - pos).min(size - pos)));
                pos = start.min(size);
            }
            let len = (count * self.block).min(size - pos);
            out.push((written.then_some(phys * self.block), len));
            pos += len;
        }
        if pos < size {
            out.push((None, size - pos));
        }
        Ok(out)
    }

    /// A directory's live entries (name → inode) and the deleted entries found in the slack
    /// after each (name, inode; inode 0 when deletion cleared it).
    fn dir(&self, ino: u32) -> Result<DirNames, String> {
        let inode = self.inode(ino)?;
        if inode.size > MAX_DIR_BYTES {
            return Err(format!("directory of {} bytes: not read", inode.size));
        }
        let map = self.map(&inode)?;
        let mut live = HashMap::new();
        let mut gone = Vec::new();
        for (at, len) in self.pieces(&map, inode.size)? {
            let Some(at) = at else { continue };
            let mut data = vec![0u8; len as usize];
            self.dev
                .read_at(at, &mut data)
                .map_err(|e| format!("directory block unreadable: {e}"))?;
            for b in data.chunks(self.block as usize) {
                self.dir_block(b, &mut live, &mut gone);
            }
        }
        Ok((live, gone))
    }

    fn dir_block(
        &self,
        b: &[u8],
        live: &mut HashMap<Vec<u8>, u32>,
        gone: &mut Vec<(Vec<u8>, u32)>,
    ) {
        let mut off = 0usize;
        while off + 8 <= b.len() {
            let ino = u32_at(b, off);
            let rec = u16_at(b, off + 4) as usize;
            let name_len = b[off + 6] as usize;
            if rec < 8 || off + rec > b.len() || 8 + name_len > rec {
                return;
            }
            let name = &b[off + 8..off + 8 + name_len];
            if ino != 0 && name_len > 0 {
                live.insert(name.to_vec(), ino);
            } else if ino == 0 && off == 0 && plausible(name) {
                // The first entry of a block is deleted by clearing its inode number.
                gone.push((name.to_vec(), 0));
            }
            // Entries deleted after this one were merged into its record length: look in
            // the slack past its own name for their remains.
            let used = (8 + name_len).next_multiple_of(4);
            let mut p = off + used;
            while p + 8 <= off + rec {
                let ino = u32_at(b, p);
                let n = b[p + 6] as usize;
                let r = u16_at(b, p + 4) as usize;
                let fits = p + 8 + n <= off + rec && r >= 8 + n;
                if fits && ino >= self.first_ino && ino <= self.inodes && b[p + 7] <= 7 {
                    let name = &b[p + 8..p + 8 + n];
                    if plausible(name) {
                        gone.push((name.to_vec(), ino));
                        p += (8 + n).next_multiple_of(4);
                        continue;
                    }
                }
                p += 4;
            }
            off += rec;
        }
    }
}

/// Whether `name` can be a file name (not empty, no NUL or `/`, not `.` or `..`).
fn plausible(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && !name.iter().any(|&c| c == 0 || c == b'/')
}

/// A deleted file's bytes: its pieces in order, zeros for holes.
struct Pieces<'w> {
    dev: &'w Window,
    pieces: Vec<Piece>,
    k: usize,
    inside: u64,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(&(at, len)) = self.pieces.get(self.k) {
            if self.inside >= len {
                self.k += 1;
                self.inside = 0;
                continue;
            }
            let n = (buf.len() as u64).min(len - self.inside) as usize;
            match at {
                Some(at) => self.dev.read_at(at + self.inside, &mut buf[..n])?,
                None => buf[..n].fill(0),
            }
            self.inside += n as u64;
            return Ok(n);
        }
        Ok(0)
    }
}
