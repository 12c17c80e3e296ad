//! Disk images, layered as The Sleuth Kit layers them: the image layer ([`media`]) gives one
//! byte view of the medium (a raw image: the file itself; a split raw image; an EWF/E01 image);
//! the volume layer ([`volumes`]: MBR with its extended
//! partitions, GPT) finds partitions as byte ranges in it; the file-system layer ([`fat`],
//! [`exfat`], [`ntfs`], [`ext`]) opens on a partition, or on the image at offset 0, and yields
//! files. Each layer knows only the one below, and nothing is mounted: the evidence is only ever
//! read.
//!
//! Deleted files the file system still describes are reported with `deleted` and a
//! `recovery` note saying how their bytes were found, or why they were not: NTFS (MFT records
//! no longer in use, read through their data runs), FAT12/16/32 (directory entries marked
//! 0xE5, read from contiguous clusters that are still free in the FAT), exFAT (entry sets with
//! the in-use bit cleared, read where the allocation bitmap shows their clusters free) and
//! ext2/3/4 (names left in directory-entry slack whose inode is deleted with its block map
//! intact and its blocks still free). A file whose clusters or blocks are in use again is
//! reported with an error, never read as another file's bytes. Every file carries its
//! file-system id (`fs_id`: MFT reference, `inode:N`, `dirent:OFFSET`).

pub mod carve;
pub mod exfat;
pub mod ext;
pub mod fat;
pub mod media;
pub mod ntfs;
pub mod volumes;

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

pub use media::Media;

pub use volumes::{partitions, Partition};

/// A file system nearmatch recognises at the start of a volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsKind {
    /// FAT12, FAT16 or FAT32 (deleted directory entries too; see [`fat`]).
    Fat,
    /// ext2, ext3 or ext4 (deleted inodes named in directory slack too; see [`ext`]).
    Ext,
    /// NTFS (files, alternate data streams, deleted files; see [`ntfs`]).
    Ntfs,
    /// exFAT (deleted entry sets too; see [`exfat`]).
    ExFat,
}

impl FsKind {
    /// The name records carry (`fat`, `ext`, `ntfs`, `exfat`).
    pub fn name(self) -> &'static str {
        match self {
            FsKind::Fat => "fat",
            FsKind::Ext => "ext",
            FsKind::Ntfs => "ntfs",
            FsKind::ExFat => "exfat",
        }
    }

    /// The file system whose boot sector / superblock starts `head` (the first 2048 bytes of a
    /// volume), by its magic numbers and a sanity check of its parameters.
    ///
    /// ```
    /// use nearmatch_scan::disk::FsKind;
    /// let mut ntfs = vec![0u8; 2048];
    /// ntfs[3..11].copy_from_slice(b"NTFS    ");
    /// assert_eq!(FsKind::sniff(&ntfs), Some(FsKind::Ntfs));
    /// assert_eq!(FsKind::sniff(&[0u8; 2048]), None);
    /// ```
    pub fn sniff(head: &[u8]) -> Option<FsKind> {
        if head.len() >= 1082 && head[1080] == 0x53 && head[1081] == 0xef {
            return Some(FsKind::Ext);
        }
        if head.len() < 512 {
            return None;
        }
        match &head[3..11] {
            b"NTFS    " => return Some(FsKind::Ntfs),
            b"EXFAT   " => return Some(FsKind::ExFat),
            _ => {}
        }
        let boot = head[510] == 0x55 && head[511] == 0xaa;
        let sector = u16::from_le_bytes([head[11], head[12]]);
        let cluster = head[13];
        let reserved = u16::from_le_bytes([head[14], head[15]]);
        let fats = head[16];
        let bpb = matches!(sector, 512 | 1024 | 2048 | 4096)
            && cluster.is_power_of_two()
            && reserved >= 1
            && matches!(fats, 1 | 2);
        let named = &head[54..57] == b"FAT" || &head[82..87] == b"FAT32";
        (boot && bpb && named).then_some(FsKind::Fat)
    }
}

/// What a disk image holds at its start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// A partition table (MBR or GPT, named) and its partitions.
    Partitioned(&'static str, Vec<Partition>),
    /// A file system at offset 0 (a partition image, a floppy, a memory card without a table).
    FileSystem(FsKind),
}

/// What `file` holds, if it is a disk or volume image nearmatch recognises: a file system at
/// offset 0, or an MBR/GPT partition table with a recognised file system in at least one of its
/// partitions.
pub fn probe(file: &Media) -> Option<Layout> {
    let len = file.len();
    if len < 4096 {
        return None;
    }
    let mut head = vec![0u8; 2048];
    file.read_exact_at(&mut head, 0).ok()?;
    if let Some(fs) = FsKind::sniff(&head) {
        return Some(Layout::FileSystem(fs));
    }
    let (table, parts) = partitions(file)?;
    // Sector 0 of many files ends in 55 AA by chance: a table counts when at least one of its
    // partitions starts with a file system nearmatch recognises.
    let recognised = parts.iter().any(|p| {
        let mut head = vec![0u8; 2048.min(p.len as usize)];
        file.read_exact_at(&mut head, p.offset).is_ok() && FsKind::sniff(&head).is_some()
    });
    recognised.then_some(Layout::Partitioned(table, parts))
}

/// A byte range of a medium as a `Read + Seek` stream (a partition, or the whole medium), read
/// with positioned reads on a shared handle: owning, so file-system readers that need a
/// `'static` device can have one, and never writing.
#[derive(Clone, Debug)]
pub struct Window {
    file: Arc<Media>,
    start: u64,
    len: u64,
    pos: u64,
}

impl Window {
    /// The `len` bytes of `file` from `start`.
    pub fn new(file: Arc<Media>, start: u64, len: u64) -> Self {
        Window {
            file,
            start,
            len,
            pos: 0,
        }
    }

    /// The medium the window is a range of.
    pub fn media(&self) -> &Arc<Media> {
        &self.file
    }

    /// The window's first byte's offset in the medium.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The window's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the window is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Reads exactly `dst.len()` bytes at `offset` in the window.
    pub fn read_at(&self, offset: u64, dst: &mut [u8]) -> std::io::Result<()> {
        let end = offset.checked_add(dst.len() as u64);
        if end.is_none_or(|e| e > self.len) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "read of {} bytes at {offset} past the end of a {}-byte volume",
                    dst.len(),
                    self.len
                ),
            ));
        }
        self.file.read_exact_at(dst, self.start + offset)
    }
}

impl Read for Window {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.file.read_at(&mut buf[..n], self.start + self.pos)?;
        if got == 0 {
            // The window promised bytes the medium no longer has (a truncated image).
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "the medium ends at {} inside the volume",
                    self.start + self.pos
                ),
            ));
        }
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for Window {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        match target {
            Some(p) => {
                self.pos = p;
                Ok(p)
            }
            None => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "seek before the start of the volume",
            )),
        }
    }
}

/// A time as an ISO 8601 string: UTC (`Z`) for file systems that store UTC (ext), local without
/// a zone for those that store the local time of the machine that wrote them (FAT).
pub(crate) fn utc(seconds: i64, nanos: u32) -> String {
    crate::custody::iso8601(seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fat_needs_a_sane_boot_sector() {
        let mut b = vec![0u8; 2048];
        b[510] = 0x55;
        b[511] = 0xaa;
        b[11..13].copy_from_slice(&512u16.to_le_bytes());
        b[13] = 4;
        b[14] = 1;
        b[16] = 2;
        assert_eq!(FsKind::sniff(&b), None, "no FAT name");
        b[54..59].copy_from_slice(b"FAT16");
        assert_eq!(FsKind::sniff(&b), Some(FsKind::Fat));
        b[13] = 3;
        assert_eq!(FsKind::sniff(&b), None, "3 sectors per cluster");
    }

    #[test]
    fn windows_stay_inside_their_range() {
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &(0u8..=255).collect::<Vec<_>>()).unwrap();
        let mut w = Window::new(Arc::new(Media::raw(f).unwrap()), 100, 10);
        let mut out = Vec::new();
        w.read_to_end(&mut out).unwrap();
        assert_eq!(out, (100u8..110).collect::<Vec<_>>());
        w.seek(SeekFrom::Start(8)).unwrap();
        let mut two = [0u8; 4];
        assert_eq!(w.read(&mut two).unwrap(), 2);
        assert!(w.read_at(9, &mut [0u8; 2]).is_err());
        assert!(w.seek(SeekFrom::Current(-20)).is_err());
    }
}
