//! Walking the evidence: every entry below each root in a deterministic order, without following
//! symbolic links and without opening anything.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// What a walked path is.
#[derive(Debug)]
pub enum Kind {
    /// A regular file (to be read and hashed).
    File,
    /// A symbolic link, recorded with its target and never followed.
    Symlink {
        /// The link's raw target.
        target: PathBuf,
        /// Whether the target resolves to a path inside the evidence root.
        inside_root: bool,
    },
    /// A FIFO, socket or device: recorded, never opened.
    Special(&'static str),
    /// The walk could not read this entry or directory.
    WalkError(String),
}

/// One walked path that is not a directory.
#[derive(Debug)]
pub struct Item {
    /// The path as walked (root-relative paths stay relative, as given).
    pub path: PathBuf,
    /// What it is.
    pub kind: Kind,
    /// `lstat` metadata, when available.
    pub meta: Option<Stat>,
}

/// The `lstat` fields a record and the change check need: 72 bytes where `Metadata` takes 176,
/// which matters because the walk is held in memory for the whole scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Size in bytes.
    pub len: u64,
    /// Device and inode: identify the file, so a replacement is noticed.
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Modification time (seconds, nanoseconds).
    pub mtime: (i64, u32),
    /// Status change time.
    pub ctime: (i64, u32),
    /// Access time.
    pub atime: (i64, u32),
}

impl Stat {
    /// The fields of `m`.
    pub fn of(m: &Metadata) -> Self {
        Stat {
            len: m.len(),
            dev: m.dev(),
            ino: m.ino(),
            mtime: (m.mtime(), m.mtime_nsec() as u32),
            ctime: (m.ctime(), m.ctime_nsec() as u32),
            atime: (m.atime(), m.atime_nsec() as u32),
        }
    }
}

/// Counts that are not files.
#[derive(Debug, Default, Clone, Copy)]
pub struct WalkStats {
    /// Directories entered.
    pub directories: u64,
}

/// Walks `roots` in order; within a root, entries come in depth-first order with siblings sorted
/// by their raw name bytes, so the list is identical on every run over the same tree.
pub fn walk(roots: &[PathBuf]) -> (Vec<Item>, WalkStats) {
    let mut items = Vec::new();
    let mut stats = WalkStats::default();
    for root in roots {
        let canon_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.clone());
        let walker = walkdir::WalkDir::new(root)
            .follow_links(false)
            .sort_by_file_name();
        for entry in walker {
            match entry {
                Ok(e) => {
                    let ft = e.file_type();
                    if ft.is_dir() {
                        stats.directories += 1;
                        continue;
                    }
                    let meta = e.metadata().ok().map(|m| Stat::of(&m));
                    let path = e.into_path();
                    let kind = classify(&path, ft, &canon_root);
                    items.push(Item { path, kind, meta });
                }
                Err(err) => {
                    let path = err
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| root.clone());
                    let reason = err
                        .io_error()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| err.to_string());
                    let meta = std::fs::symlink_metadata(&path).ok().map(|m| Stat::of(&m));
                    items.push(Item {
                        path,
                        kind: Kind::WalkError(reason),
                        meta,
                    });
                }
            }
        }
    }
    (items, stats)
}

fn classify(path: &Path, ft: std::fs::FileType, canon_root: &Path) -> Kind {
    if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        match std::fs::read_link(path) {
            Ok(target) => {
                let resolved = path
                    .parent()
                    .map(|p| p.join(&target))
                    .unwrap_or(target.clone());
                // canonicalize stats (never opens) the chain; a dangling link is "outside".
                let inside_root = std::fs::canonicalize(&resolved)
                    .map(|c| c.starts_with(canon_root))
                    .unwrap_or(false);
                Kind::Symlink {
                    target,
                    inside_root,
                }
            }
            Err(e) => Kind::WalkError(format!("cannot read link: {e}")),
        }
    } else if ft.is_fifo() {
        Kind::Special("fifo")
    } else if ft.is_socket() {
        Kind::Special("socket")
    } else if ft.is_char_device() {
        Kind::Special("char-device")
    } else if ft.is_block_device() {
        Kind::Special("block-device")
    } else {
        Kind::Special("unknown")
    }
}
