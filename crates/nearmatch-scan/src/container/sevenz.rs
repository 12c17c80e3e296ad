//! 7-Zip: the `sevenz-rust2` crate (pure Rust). Encrypted archives report their members as
//! encrypted; solid blocks are decoded once, in order.

use super::{ContainerError, MemberHeader, MemberKind, Next, Source, Visit};

pub(super) fn expand(source: &mut dyn Source, visit: &mut Visit<'_>) -> Result<(), ContainerError> {
    let mut reader = sevenz_rust2::ArchiveReader::new(source, sevenz_rust2::Password::empty())
        .map_err(|e| ContainerError::Corrupt(format!("not a readable 7z archive: {e}")))?;
    let mut stopped = false;
    let result = reader.for_each_entries(|entry, data| {
        if entry.is_directory() {
            return Ok(true);
        }
        let header = MemberHeader {
            name: entry.name().as_bytes().to_vec(),
            size: Some(entry.size()),
            crc32: entry.has_crc.then_some(entry.crc as u32),
            kind: MemberKind::File,
            ..MemberHeader::default()
        };
        match visit(header, data) {
            Next::Continue => Ok(true),
            Next::Stop(_) => {
                stopped = true;
                Ok(false)
            }
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(_) if stopped => Ok(()),
        Err(e) => Err(ContainerError::Corrupt(format!("7z archive damaged: {e}"))),
    }
}
