//! Reading evidence: read-only, without touching access times where the kernel allows it,
//! never following a link swapped in since the walk, never blocking on a FIFO, and capped.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::walk::Stat;

/// Files larger than this are not read unless a caller sets another limit (2 GiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 2 << 30;

/// Set once O_NOATIME was refused (EPERM: not the file's owner).
static NOATIME_REFUSED: AtomicBool = AtomicBool::new(false);

/// Whether the kernel refused O_NOATIME at least once in this process, so reads may have
/// updated access times (chains of custody say so).
pub fn noatime_refused() -> bool {
    NOATIME_REFUSED.load(Ordering::Relaxed)
}

/// Opens evidence read-only with O_NOATIME (falling back once when refused), O_NOFOLLOW (a path
/// swapped for a link since the walk is not followed) and O_NONBLOCK (a path swapped for a FIFO
/// does not hang the scan; callers then refuse what is not a regular file).
pub fn open_evidence(path: &Path) -> std::io::Result<File> {
    open_with(path, libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
}

fn open_with(path: &Path, base: i32) -> std::io::Result<File> {
    if !NOATIME_REFUSED.load(Ordering::Relaxed) {
        match std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(base | libc::O_NOATIME)
            .open(path)
        {
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
                NOATIME_REFUSED.store(true, Ordering::Relaxed);
            }
            other => return other,
        }
    }
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(base)
        .open(path)
}

/// Why [`read_capped`] returned no bytes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened.
    #[error("cannot open: {0}")]
    Open(#[source] std::io::Error),
    /// It is not a regular file (a directory, FIFO, device).
    #[error("not a regular file")]
    NotAFile,
    /// It is larger than the limit; nothing was read.
    #[error("{size} bytes > limit {limit}")]
    TooLarge {
        /// The file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Reading failed.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
}

impl ReadError {
    /// The error as an I/O error (its message kept), for callers that report I/O errors.
    pub fn into_io(self) -> std::io::Error {
        match self {
            ReadError::Open(e) | ReadError::Read(e) => e,
            e => std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        }
    }
}

/// Reads a whole file as the scan does (read-only, O_NOATIME where allowed, FIFOs refused),
/// refusing files over `max_bytes` before reading them and never reading past the limit if the
/// file grows meanwhile. Symbolic links named directly are followed (the caller chose the path).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("a.bin");
/// std::fs::write(&p, b"12345").unwrap();
/// assert_eq!(nearmatch_scan::read::read_capped(&p, 5).unwrap(), b"12345");
/// assert!(nearmatch_scan::read::read_capped(&p, 4).is_err());
/// ```
pub fn read_capped(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let file = open_with(path, libc::O_NONBLOCK | libc::O_CLOEXEC).map_err(ReadError::Open)?;
    let meta = file.metadata().map_err(ReadError::Open)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile);
    }
    if meta.len() > max_bytes {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit: max_bytes,
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // One byte past the limit tells a file that grew beyond it from one that fits exactly.
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Read)?;
    if bytes.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

/// How the opened file differs from what the walk saw (replaced, resized or modified), if it does.
pub(crate) fn changed_since(walked: Option<&Stat>, now: &std::fs::Metadata) -> Option<String> {
    let w = walked?;
    let n = Stat::of(now);
    if (w.dev, w.ino) != (n.dev, n.ino) {
        Some("replaced by another file since the walk".into())
    } else if w.len != n.len {
        Some(format!(
            "size changed since the walk: {} -> {} bytes",
            w.len, n.len
        ))
    } else if w.mtime != n.mtime {
        Some("modified since the walk (mtime changed)".into())
    } else {
        None
    }
}

/// Fills `buf` as far as the file allows; the number of bytes read.
pub(crate) fn read_full(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
