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

/// The `lstat` fields a record and the change check need (72 bytes where `Metadata` takes 176).
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

/// Walks `roots` in order, one item at a time; within a root, entries come in depth-first order
/// with siblings sorted by their raw name bytes, so the sequence is identical on every run over
/// the same tree.
///
/// Memory does not grow with the number of files: the walk holds the open directories' sorted
/// listings (about 100 bytes per entry of the largest directory on the current path), never
/// the list of files walked.
pub struct Walk {
    roots: std::collections::VecDeque<PathBuf>,
    current: Option<RootWalk>,
    directories: u64,
}

/// The walk below one root.
struct RootWalk {
    root: PathBuf,
    canon_root: PathBuf,
    entries: walkdir::IntoIter,
}

impl Walk {
    /// A walk over `roots` (files or directories), in the order given.
    pub fn new(roots: &[PathBuf]) -> Self {
        Walk {
            roots: roots.iter().cloned().collect(),
            current: None,
            directories: 0,
        }
    }

    /// Directories entered so far.
    pub fn directories(&self) -> u64 {
        self.directories
    }
}

impl Iterator for Walk {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            let cur = match &mut self.current {
                Some(c) => c,
                None => {
                    let root = self.roots.pop_front()?;
                    let canon_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
                    let entries = walkdir::WalkDir::new(&root)
                        .follow_links(false)
                        .sort_by_file_name()
                        .into_iter();
                    self.current.insert(RootWalk {
                        root,
                        canon_root,
                        entries,
                    })
                }
            };
            match cur.entries.next() {
                None => self.current = None,
                Some(Ok(e)) => {
                    let ft = e.file_type();
                    if ft.is_dir() {
                        self.directories += 1;
                        continue;
                    }
                    let meta = e.metadata().ok().map(|m| Stat::of(&m));
                    let path = e.into_path();
                    let kind = classify(&path, ft, &cur.canon_root);
                    return Some(Item { path, kind, meta });
                }
                Some(Err(err)) => {
                    let path = err
                        .path()
                        .map(Path::to_path_buf)
                        .unwrap_or_else(|| cur.root.clone());
                    let reason = err
                        .io_error()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| err.to_string());
                    let meta = std::fs::symlink_metadata(&path).ok().map(|m| Stat::of(&m));
                    return Some(Item {
                        path,
                        kind: Kind::WalkError(reason),
                        meta,
                    });
                }
            }
        }
    }
}

/// Counts what a walk of `roots` will yield, without classifying or keeping anything: items,
/// and the bytes of regular files up to `max_file_size` (the bytes a scan reads). Feeds the
/// progress estimate while the real walk streams; `stop` ends it early.
pub fn count(
    roots: &[PathBuf],
    max_file_size: u64,
    items: &std::sync::atomic::AtomicU64,
    bytes: &std::sync::atomic::AtomicU64,
    stop: &std::sync::atomic::AtomicBool,
) {
    use std::sync::atomic::Ordering::Relaxed;
    for root in roots {
        for entry in walkdir::WalkDir::new(root).follow_links(false) {
            if stop.load(Relaxed) {
                return;
            }
            match entry {
                Ok(e) if e.file_type().is_dir() => {}
                Ok(e) => {
                    items.fetch_add(1, Relaxed);
                    if e.file_type().is_file() {
                        let len = e.metadata().map_or(0, |m| m.len());
                        if len <= max_file_size {
                            bytes.fetch_add(len, Relaxed);
                        }
                    }
                }
                Err(_) => {
                    items.fetch_add(1, Relaxed);
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn walk_is_depth_first_with_siblings_in_byte_order_and_count_agrees() {
        let tmp = tempfile::tempdir().unwrap();
        let r = tmp.path();
        for p in ["b/z", "b/a", "a", "B", "c/d/e", "c/d/f", "\u{e9}"] {
            let p = r.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"xy").unwrap();
        }
        std::fs::create_dir(r.join("empty")).unwrap();
        let mut w = Walk::new(&[r.to_path_buf(), r.join("a")]);
        let got: Vec<Vec<u8>> = w
            .by_ref()
            .map(|i| {
                let rel = i.path.strip_prefix(r).unwrap_or(&i.path);
                rel.as_os_str().as_bytes().to_vec()
            })
            .collect();
        let want: Vec<&[u8]> = vec![
            b"B",
            b"a",
            b"b/a",
            b"b/z",
            b"c/d/e",
            b"c/d/f",
            "\u{e9}".as_bytes(),
            b"a",
        ];
        assert_eq!(got, want);
        // Root, b, c, c/d, empty.
        assert_eq!(w.directories(), 5);
        let (items, bytes, stop) = Default::default();
        count(
            &[r.to_path_buf(), r.join("a")],
            1 << 20,
            &items,
            &bytes,
            &stop,
        );
        assert_eq!(items.into_inner(), 8);
        assert_eq!(bytes.into_inner(), 16);
    }
}
