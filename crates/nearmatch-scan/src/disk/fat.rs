//! FAT12/16/32 through the `fatfs` crate, on a [`Window`] whose writes fail: the crate needs a
//! writable device type, and this one guarantees it is never written. Long file names are
//! reported (the short 8.3 name when there is none). FAT stores local times without a zone;
//! they are reported as such.

use std::io::{Read, Seek, SeekFrom, Write};

use fatfs::{Dir, FileSystem, FsOptions};

use super::Window;
use crate::container::{ContainerError, MemberHeader, MemberTimes, Next, Visit};

/// Directory levels followed, at most (a crafted loop of directories stops here).
const MAX_DEPTH: usize = 64;

/// A window that refuses writes.
struct ReadOnly(Window);

impl Read for ReadOnly {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl Seek for ReadOnly {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.0.seek(to)
    }
}

impl Write for ReadOnly {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "evidence is read-only",
        ))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn local(d: fatfs::DateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        d.date.year, d.date.month, d.date.day, d.time.hour, d.time.min, d.time.sec
    )
}

/// Every file of the FAT file system in `volume`, depth first in directory order, with its path
/// from the root (`DCIM/100CANON/IMG_0001.JPG`).
pub fn expand(volume: Window, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    let options = FsOptions::new().update_accessed_date(false);
    let fs = FileSystem::new(ReadOnly(volume), options)
        .map_err(|e| ContainerError::Corrupt(format!("not a readable FAT file system: {e}")))?;
    let mut stop = false;
    let root = fs.root_dir();
    walk(&root, "", 0, visit, &mut stop)
}

fn walk(
    dir: &Dir<'_, ReadOnly>,
    prefix: &str,
    depth: usize,
    visit: &mut Visit<'_>,
    stop: &mut bool,
) -> Result<(), ContainerError> {
    if depth > MAX_DEPTH {
        return Err(ContainerError::Corrupt(format!(
            "directories nested deeper than {MAX_DEPTH} levels at {prefix}: not followed"
        )));
    }
    for entry in dir.iter() {
        if *stop {
            return Ok(());
        }
        let entry = entry.map_err(|e| {
            ContainerError::Corrupt(format!("FAT directory {prefix:?} damaged: {e}"))
        })?;
        let name = entry.file_name();
        if name == "." || name == ".." {
            continue;
        }
        let path = format!("{prefix}{name}");
        if entry.is_dir() {
            walk(&entry.to_dir(), &format!("{path}/"), depth + 1, visit, stop)?;
            continue;
        }
        let header = MemberHeader {
            name: path.into_bytes(),
            size: Some(entry.len()),
            times: Some(MemberTimes {
                modified: Some(local(entry.modified())),
                created: Some(local(entry.created())),
                accessed: Some({
                    let d = entry.accessed();
                    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
                }),
                changed: None,
            }),
            ..MemberHeader::default()
        };
        let mut file = entry.to_file();
        if let Next::Stop(_) = visit(header, &mut file) {
            *stop = true;
        }
    }
    Ok(())
}
