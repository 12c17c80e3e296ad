//! ext2/3/4 through the `ext4-view` crate (read-only by design, pure Rust), on a [`Window`].
//! Times are UTC with nanoseconds; the creation time where the inode stores one (ext4).

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
    let fs = Ext4::load(Box::new(Device(volume)))
        .map_err(|e| ContainerError::Corrupt(format!("not a readable ext file system: {e}")))?;
    let root = PathBuf::new("/");
    walk(&fs, &root, 0, visit).map(|_| ())
}

/// Walks `dir`; `Ok(false)` when the visitor stopped.
fn walk(
    fs: &Ext4,
    dir: &PathBuf,
    depth: usize,
    visit: &mut Visit<'_>,
) -> Result<bool, ContainerError> {
    if depth > MAX_DEPTH {
        return Err(ContainerError::Corrupt(format!(
            "directories nested deeper than {MAX_DEPTH} levels: not followed"
        )));
    }
    let shown = |p: &PathBuf| String::from_utf8_lossy(p.as_ref()).into_owned();
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
            if !walk(fs, &path, depth + 1, visit)? {
                return Ok(false);
            }
            continue;
        }
        // Paths are absolute in the file system; members are named from its root.
        let mut header = MemberHeader {
            name: path.as_ref()[1..].to_vec(),
            size: Some(meta.len()),
            times: Some(times(&meta)),
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
    Ok(true)
}
