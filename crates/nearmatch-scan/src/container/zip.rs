//! ZIP (and ZIP64, self-extracting archives, office documents, EPUB): the `zip` crate, which
//! validates the central directory, refuses overlapping entries and checks CRCs.

use std::io::Read;

use zip::result::ZipError;
use zip::ZipArchive;

use super::{ContainerError, MemberHeader, MemberKind, Next, Source, Visit};

/// Whether `source` holds a ZIP archive (also one behind an executable stub).
pub(crate) fn opens(source: &mut dyn Source) -> bool {
    ZipArchive::new(source).is_ok()
}

pub(super) fn expand(source: &mut dyn Source, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    let mut archive = match ZipArchive::new(&mut *source) {
        Ok(a) => a,
        Err(e) => return expand_stream(source, visit, e),
    };
    for i in 0..archive.len() {
        let name = archive
            .name_for_index(i)
            .and_then(|n| n.ok())
            .map(|n| n.as_bytes().to_vec())
            .unwrap_or_default();
        let mut header = MemberHeader {
            name,
            ..MemberHeader::default()
        };
        let (is_dir, encrypted) = match archive.by_index_raw(i) {
            Ok(raw) => {
                header.name = raw.name_raw().to_vec();
                header.size = Some(raw.size());
                header.crc32 = Some(raw.crc32());
                // Only the extended-timestamp field is UTC; DOS times have no time zone.
                header.mtime = raw.extra_data_fields().find_map(|f| match f {
                    zip::ExtraField::ExtendedTimestamp(t) => t.mod_time().map(i64::from),
                    _ => None,
                });
                (raw.is_dir(), raw.encrypted())
            }
            Err(e) => {
                header.kind = MemberKind::Broken(format!("cannot read the member's header: {e}"));
                if let Next::Stop(_) = visit(header, &mut std::io::empty()) {
                    return Ok(());
                }
                continue;
            }
        };
        if is_dir {
            continue;
        }
        if encrypted {
            header.kind = MemberKind::Encrypted;
            if let Next::Stop(_) = visit(header, &mut std::io::empty()) {
                return Ok(());
            }
            continue;
        }
        let next = match archive.by_index(i) {
            Ok(mut f) => {
                if f.is_symlink() {
                    let mut target = Vec::new();
                    let _ = (&mut f).take(4096).read_to_end(&mut target);
                    header.kind = MemberKind::Symlink(target);
                    visit(header, &mut std::io::empty())
                } else {
                    visit(header, &mut f)
                }
            }
            Err(ZipError::UnsupportedArchive(why)) => {
                header.kind = MemberKind::Unsupported(format!("ZIP member: {why}"));
                visit(header, &mut std::io::empty())
            }
            Err(e) => {
                header.kind = MemberKind::Broken(format!("cannot open the member: {e}"));
                visit(header, &mut std::io::empty())
            }
        };
        if let Next::Stop(_) = next {
            return Ok(());
        }
    }
    Ok(())
}

/// A ZIP whose central directory cannot be read (truncated, damaged): the members are read
/// from their local headers, front to back, until the data ends; the container's error says so.
fn expand_stream(
    source: &mut dyn Source,
    visit: &mut Visit<'_>,
    why: ZipError,
) -> Result<(), ContainerError> {
    let cd = format!("central directory unreadable ({why})");
    if source.seek(std::io::SeekFrom::Start(0)).is_err() {
        return Err(ContainerError::Corrupt(cd));
    }
    let mut reader = std::io::BufReader::new(source);
    let mut any = false;
    loop {
        match zip::read::read_zipfile_from_stream(&mut reader) {
            Ok(Some(mut f)) => {
                any = true;
                if f.is_dir() {
                    continue;
                }
                let header = MemberHeader {
                    name: f.name_raw().to_vec(),
                    size: Some(f.size()),
                    crc32: Some(f.crc32()),
                    ..MemberHeader::default()
                };
                if let Next::Stop(_) = visit(header, &mut f) {
                    return Ok(());
                }
            }
            Ok(None) => {
                return Err(ContainerError::Corrupt(format!(
                    "{cd}; members read from their local headers"
                )))
            }
            Err(e) => {
                return Err(ContainerError::Corrupt(if any {
                    format!("{cd}; members read from their local headers until: {e}")
                } else {
                    format!("not a readable ZIP archive: {why}")
                }))
            }
        }
    }
}
