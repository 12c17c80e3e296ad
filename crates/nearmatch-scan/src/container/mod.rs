//! Containers: items whose bytes hold more items (archives, compressed streams).
//!
//! A container is recognised by its magic bytes, never by its name, and opened on the bytes
//! below it (a file of the evidence, or a member of another container held in memory). Each
//! format's reader calls a visitor once per member, in the archive's own order, with the member's
//! header and a reader of its bytes; nothing is extracted to disk. Every byte a member yields is
//! counted against the [`Budget`] of the evidence item it came from, so a decompression bomb
//! stops at a limit in bounded time and memory.

mod animation;
pub mod pdf;
mod preview;
mod sevenz;
mod tar;
mod zip;

pub use animation::{animation_frames, is_animated};
pub use preview::{exif_thumbnail, exif_thumbnail_in_tiff, mpf_images};

use std::io::{Read, Seek};
use std::sync::atomic::{AtomicU64, Ordering};

/// The container formats nearmatch expands (and RAR, which it recognises and reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContainerKind {
    /// ZIP, and what is built on it: DOCX/XLSX/PPTX, ODT/ODS/ODP, EPUB, JAR, APK; also with an
    /// executable stub in front (self-extracting archives).
    Zip,
    /// POSIX/GNU tar.
    Tar,
    /// gzip (multi-member), alone or around a tar.
    Gzip,
    /// bzip2, alone or around a tar.
    Bzip2,
    /// xz, alone or around a tar.
    Xz,
    /// Zstandard, alone or around a tar.
    Zstd,
    /// 7-Zip.
    SevenZip,
    /// RAR (recognised, not read).
    Rar,
    /// PDF: its image XObjects are the members.
    Pdf,
}

impl ContainerKind {
    /// The name records carry (`zip`, `tar`, `gzip`, `bzip2`, `xz`, `zstd`, `7z`, `rar`, `pdf`).
    pub fn name(self) -> &'static str {
        match self {
            ContainerKind::Zip => "zip",
            ContainerKind::Tar => "tar",
            ContainerKind::Gzip => "gzip",
            ContainerKind::Bzip2 => "bzip2",
            ContainerKind::Xz => "xz",
            ContainerKind::Zstd => "zstd",
            ContainerKind::SevenZip => "7z",
            ContainerKind::Rar => "rar",
            ContainerKind::Pdf => "pdf",
        }
    }

    /// The container format of bytes starting with `head` (at least the first 1024 bytes when
    /// the item has them), by magic bytes.
    ///
    /// ```
    /// use nearmatch_scan::container::ContainerKind;
    /// assert_eq!(ContainerKind::sniff(b"PK\x03\x04rest"), Some(ContainerKind::Zip));
    /// assert_eq!(ContainerKind::sniff(b"\x1f\x8b\x08\x00"), Some(ContainerKind::Gzip));
    /// assert_eq!(ContainerKind::sniff(b"plain text"), None);
    /// ```
    pub fn sniff(head: &[u8]) -> Option<ContainerKind> {
        let starts = |m: &[u8]| head.starts_with(m);
        if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") || starts(b"PK\x07\x08") {
            Some(ContainerKind::Zip)
        } else if starts(&[0x1f, 0x8b]) {
            Some(ContainerKind::Gzip)
        } else if head.len() >= 10 && starts(b"BZh") && (b'1'..=b'9').contains(&head[3]) {
            Some(ContainerKind::Bzip2)
        } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(ContainerKind::Xz)
        } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(ContainerKind::Zstd)
        } else if starts(&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c]) {
            Some(ContainerKind::SevenZip)
        } else if starts(b"Rar!\x1a\x07") {
            Some(ContainerKind::Rar)
        } else if is_tar(head) {
            Some(ContainerKind::Tar)
        } else if pdf::is_pdf(head) {
            Some(ContainerKind::Pdf)
        } else {
            None
        }
    }
}

/// Whether `head` is a POSIX or GNU tar header block (the `ustar` magic at offset 257).
pub(crate) fn is_tar(head: &[u8]) -> bool {
    head.len() >= 263 && &head[257..262] == b"ustar"
}

/// Which containers a scan expands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ContainerPolicy {
    /// Record containers as files (crypto hashes), never open them.
    None,
    /// Expand every format nearmatch reads (the default).
    #[default]
    Default,
    /// As `Default`; reserved for formats that cost more to expand (none yet).
    All,
}

impl ContainerPolicy {
    /// Parses `none`, `default` or `all`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "none" => Ok(ContainerPolicy::None),
            "default" => Ok(ContainerPolicy::Default),
            "all" => Ok(ContainerPolicy::All),
            other => Err(format!(
                "unknown container policy {other:?} (use none, default or all)"
            )),
        }
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        match self {
            ContainerPolicy::None => "none",
            ContainerPolicy::Default => "default",
            ContainerPolicy::All => "all",
        }
    }
}

/// Limits on expanding containers; past one, the member (or the rest of the container) is
/// recorded `skipped:limit` with the limit named, and the scan goes on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ContainerLimits {
    /// Containers inside containers, at most this deep (a walked file's members are depth 1).
    pub depth: u32,
    /// Members recorded per container.
    pub members: u64,
    /// Bytes expanded from one walked file, all levels together.
    pub expanded_bytes: u64,
    /// Expanded bytes per byte of the walked file, checked once more than
    /// [`ContainerLimits::RATIO_FLOOR`] bytes were expanded.
    pub ratio: u64,
    /// Bytes of one member held in memory (images, nested containers); larger non-image
    /// members are hashed while streaming.
    pub member_bytes: u64,
    /// Frames of one animation (GIF, APNG, WebP) recorded as child records.
    pub frames: u64,
}

impl ContainerLimits {
    /// Expansion below this many bytes is never a ratio violation (small files compress well).
    pub const RATIO_FLOOR: u64 = 64 << 20;
}

impl Default for ContainerLimits {
    fn default() -> Self {
        ContainerLimits {
            depth: 8,
            members: 100_000,
            expanded_bytes: 64 << 30,
            ratio: 200,
            member_bytes: 512 << 20,
            frames: 1000,
        }
    }
}

/// What a container says about one member.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberHeader {
    /// The member's name in the container, raw bytes (never sanitised: `../x`, absolute paths,
    /// NUL and invalid UTF-8 are reported as they are; nothing is extracted).
    pub name: Vec<u8>,
    /// The size the container declares, if it does.
    pub size: Option<u64>,
    /// Modification time, seconds since the Unix epoch (UTC), when the container stores one in
    /// UTC.
    pub mtime: Option<i64>,
    /// The CRC-32 the container stores for the member.
    pub crc32: Option<u32>,
    /// Times a file system stores (disk images), already formatted; they replace `mtime`.
    pub times: Option<MemberTimes>,
    /// The file's id in its file system, when it has one: NTFS `record-sequence` (MFT
    /// reference), ext `inode:N`, FAT and exFAT `dirent:OFFSET` (byte offset in the volume of
    /// the directory entry that names the file); see [`crate::FileRecord::fs_id`].
    pub fs_id: Option<String>,
    /// A deleted file recovered from file-system metadata (its bytes may have been overwritten).
    pub deleted: bool,
    /// How a deleted file's bytes were found (`fat: directory entry deleted, contiguous free
    /// clusters read`), or why they were not; set only for deleted files.
    pub recovery: Option<String>,
    /// Byte offset of the member's first byte in its disk image (carved members).
    pub offset: Option<u64>,
    /// Found by its signature in unallocated space (`--carve`), not named by any file system.
    pub carved: bool,
    /// What the member is.
    pub kind: MemberKind,
}

/// A file's times as a file system stores them, formatted for the record (see
/// [`crate::FileRecord::created`] for the time zones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberTimes {
    /// Last modification.
    pub modified: Option<String>,
    /// Last access.
    pub accessed: Option<String>,
    /// Last status (inode/metadata) change.
    pub changed: Option<String>,
    /// Creation (birth).
    pub created: Option<String>,
}

/// The kind of a container member.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum MemberKind {
    /// Bytes to read.
    #[default]
    File,
    /// A symbolic or hard link (target as stored), never followed.
    Symlink(Vec<u8>),
    /// A device, FIFO or other entry without data (named).
    Special(String),
    /// Encrypted: the content cannot be read without a password.
    Encrypted,
    /// Stored with a method nearmatch cannot decode (named).
    Unsupported(String),
    /// The container's index names it but its data could not be reached.
    Broken(String),
    /// Raw image samples (a PDF's Flate or LZW image): the bytes are the samples, laid out as
    /// described, rebuilt into pixels by [`pdf::raster_image`].
    Raster(pdf::RasterSpec),
    /// Not read: a limit (named) would be passed.
    Limit(String),
}

/// Why a container could not be read (to its end).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    /// The structure is damaged or truncated; the members read before it stay recorded.
    #[error("{0}")]
    Corrupt(String),
    /// A limit stopped the expansion.
    #[error("{0}")]
    Limit(String),
    /// The format or method is not supported.
    #[error("{0}")]
    Unsupported(String),
    /// The container is encrypted and could not be opened.
    #[error("{0}")]
    Encrypted(String),
}

/// What the visitor tells a container reader after a member.
pub enum Next {
    /// Go on with the next member.
    Continue,
    /// Stop: a limit was reached (its description).
    Stop(String),
}

/// The visitor a reader calls per member: the header, and the member's bytes (for `File`
/// members; other kinds get an empty reader).
pub type Visit<'a> = dyn FnMut(MemberHeader, &mut dyn Read) -> Next + 'a;

/// A byte source that can be read from any offset (ZIP and 7z need one).
pub trait Source: Read + Seek + Send {}
impl<T: Read + Seek + Send> Source for T {}

/// Reads the members of the container of `kind` in `source`, calling `visit` for each in the
/// container's order. Returns `Ok` when the container was read to its end (or `visit` stopped
/// it), `Err` when its structure is damaged after some members (those were visited).
pub fn expand(
    kind: ContainerKind,
    source: &mut dyn Source,
    outer_name: &[u8],
    limits: &ContainerLimits,
    visit: &mut Visit<'_>,
) -> Result<(), ContainerError> {
    match kind {
        ContainerKind::Zip => zip::expand(source, visit),
        ContainerKind::Tar
        | ContainerKind::Gzip
        | ContainerKind::Bzip2
        | ContainerKind::Xz
        | ContainerKind::Zstd => tar::expand(kind, source, outer_name, visit),
        ContainerKind::SevenZip => sevenz::expand(source, visit),
        ContainerKind::Pdf => pdf::expand(source, limits, visit),
        ContainerKind::Rar => Err(ContainerError::Unsupported(
            "RAR archives are recognised but not read: the only mature decoder (unrar) is not under an open-source licence, and libarchive would run C code in-process on hostile input"
                .into(),
        )),
    }
}

/// Whether `source` holds a ZIP archive that opens (also one behind an executable stub).
pub(crate) fn zip_opens(source: &mut dyn Source) -> bool {
    zip::opens(source)
}

/// The expansion budget of one walked file: bytes expanded at every level, against the limits.
#[derive(Debug)]
pub struct Budget {
    limits: ContainerLimits,
    /// Size of the walked file the expansion started from.
    outer_size: u64,
    expanded: AtomicU64,
}

impl Budget {
    /// A budget for a walked file of `outer_size` bytes.
    pub fn new(limits: ContainerLimits, outer_size: u64) -> Self {
        Budget {
            limits,
            outer_size,
            expanded: AtomicU64::new(0),
        }
    }

    /// The limits.
    pub fn limits(&self) -> &ContainerLimits {
        &self.limits
    }

    /// Bytes expanded so far.
    pub fn expanded(&self) -> u64 {
        self.expanded.load(Ordering::Relaxed)
    }

    /// Counts `n` more expanded bytes; the limit passed, if one was.
    pub fn take(&self, n: u64) -> Result<(), String> {
        let total = self.expanded.fetch_add(n, Ordering::Relaxed) + n;
        if total > self.limits.expanded_bytes {
            return Err(format!(
                "expanded-bytes limit: more than {} bytes expanded from one evidence file",
                self.limits.expanded_bytes
            ));
        }
        if total > ContainerLimits::RATIO_FLOOR
            && total / self.outer_size.max(1) > self.limits.ratio
        {
            return Err(format!(
                "expansion-ratio limit: {total} bytes expanded from a {}-byte file (more than {}:1)",
                self.outer_size, self.limits.ratio
            ));
        }
        Ok(())
    }
}

/// A member's bytes, counted against the budget and capped; a limit shows as an error of kind
/// `Other` whose message names it (and [`Counted::limit`] keeps it).
pub struct Counted<'a> {
    inner: &'a mut dyn Read,
    budget: &'a Budget,
    cap: u64,
    read: u64,
    /// The limit that stopped reading, if one did.
    pub limit: Option<String>,
}

impl<'a> Counted<'a> {
    /// Counts `inner`'s bytes against `budget`, at most `cap` of them.
    pub fn new(inner: &'a mut dyn Read, budget: &'a Budget, cap: u64) -> Self {
        Counted {
            inner,
            budget,
            cap,
            read: 0,
            limit: None,
        }
    }

    /// Bytes read so far.
    pub fn read_so_far(&self) -> u64 {
        self.read
    }
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if let Some(l) = &self.limit {
            return Err(std::io::Error::other(l.clone()));
        }
        if self.read >= self.cap {
            // One byte past the cap tells "exactly the cap" from "more".
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    let l = format!("member-bytes limit: member larger than {} bytes", self.cap);
                    self.limit = Some(l.clone());
                    Err(std::io::Error::other(l))
                }
            };
        }
        let want = buf.len().min((self.cap - self.read) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        self.read += n as u64;
        if let Err(l) = self.budget.take(n as u64) {
            self.limit = Some(l.clone());
            return Err(std::io::Error::other(l));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_stops_at_the_byte_and_ratio_limits() {
        let limits = ContainerLimits {
            expanded_bytes: 1000,
            ..ContainerLimits::default()
        };
        let b = Budget::new(limits, 10);
        assert!(b.take(600).is_ok());
        assert!(b.take(400).is_ok());
        assert!(b.take(1).unwrap_err().contains("expanded-bytes"));
        let b = Budget::new(ContainerLimits::default(), 1 << 10);
        // 64 MiB from 1 KiB is 65536:1, but the floor is not passed yet.
        assert!(b.take(ContainerLimits::RATIO_FLOOR).is_ok());
        assert!(b.take(1).unwrap_err().contains("ratio"));
    }

    #[test]
    fn counted_reader_caps_and_names_the_limit() {
        let b = Budget::new(ContainerLimits::default(), 100);
        let data = vec![7u8; 100];
        let mut r: &[u8] = &data;
        let mut c = Counted::new(&mut r, &b, 100);
        let mut out = Vec::new();
        c.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 100);
        let mut r: &[u8] = &data;
        let mut c = Counted::new(&mut r, &b, 99);
        let err = c.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("member-bytes limit"), "{err}");
        assert!(c.limit.is_some());
    }

    #[test]
    fn magic_bytes_decide_never_names() {
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(ContainerKind::sniff(&tar), Some(ContainerKind::Tar));
        assert_eq!(
            ContainerKind::sniff(b"7z\xbc\xaf\x27\x1c\0\x04"),
            Some(ContainerKind::SevenZip)
        );
        assert_eq!(
            ContainerKind::sniff(b"Rar!\x1a\x07\x01\0"),
            Some(ContainerKind::Rar)
        );
        assert_eq!(
            ContainerKind::sniff(b"BZh91AY&SY"),
            Some(ContainerKind::Bzip2)
        );
        assert_eq!(ContainerKind::sniff(b"BZh"), None);
        assert_eq!(ContainerKind::sniff(&[0u8; 600]), None);
    }
}
