//! TAR, alone or compressed (gzip with every member of a multi-member file, bzip2, xz, zstd),
//! and a lone compressed stream, whose one member is the decompressed data.

use std::io::{BufReader, Cursor, Read};

use super::{is_tar, ContainerError, ContainerKind, MemberHeader, MemberKind, Next, Source, Visit};

/// Fills `buf` as far as `r` allows.
fn read_head(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The name of a lone compressed stream's content: the container's name without its
/// compression suffix (`notes.txt.gz` -> `notes.txt`), else `data`.
fn inner_name(outer: &[u8], kind: ContainerKind) -> Vec<u8> {
    let base = outer.rsplit(|&b| b == b'/').next().unwrap_or(outer);
    let suffixes: &[&[u8]] = match kind {
        ContainerKind::Gzip => &[b".gz", b".gzip", b".z"],
        ContainerKind::Bzip2 => &[b".bz2", b".bzip2"],
        ContainerKind::Xz => &[b".xz"],
        ContainerKind::Zstd => &[b".zst", b".zstd"],
        _ => &[],
    };
    for s in suffixes {
        if base.len() > s.len() && base.to_ascii_lowercase().ends_with(s) {
            return base[..base.len() - s.len()].to_vec();
        }
    }
    b"data".to_vec()
}

pub(super) fn expand(
    kind: ContainerKind,
    source: &mut dyn Source,
    outer_name: &[u8],
    visit: &mut Visit<'_>,
) -> Result<(), ContainerError> {
    let corrupt = |what: &str, e: std::io::Error| ContainerError::Corrupt(format!("{what}: {e}"));
    let mut gz_name: Option<Vec<u8>> = None;
    let mut stream: Box<dyn Read + '_> = match kind {
        ContainerKind::Tar => Box::new(source),
        ContainerKind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(source))),
        ContainerKind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(source))),
        ContainerKind::Xz => Box::new(lzma_rust2::XzReader::new(BufReader::new(source), true)),
        ContainerKind::Zstd => Box::new(
            zstd::stream::read::Decoder::new(source)
                .map_err(|e| corrupt("cannot start the zstd decoder", e))?,
        ),
        _ => unreachable!("tar::expand serves tar and compressed streams"),
    };
    let mut head = vec![0u8; 512];
    let n = read_head(&mut stream, &mut head).map_err(|e| corrupt("cannot decompress", e))?;
    head.truncate(n);
    if kind == ContainerKind::Gzip {
        // The original name a gzip header may carry (gzip -N); only a name, never a path.
        gz_name = None;
    }
    if kind != ContainerKind::Tar && !is_tar(&head) {
        let header = MemberHeader {
            name: gz_name.unwrap_or_else(|| inner_name(outer_name, kind)),
            ..MemberHeader::default()
        };
        let mut member = Cursor::new(head).chain(stream);
        visit(header, &mut member);
        return Ok(());
    }
    let mut archive = tar::Archive::new(Cursor::new(head).chain(stream));
    let entries = archive
        .entries()
        .map_err(|e| corrupt("not a readable tar archive", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt("tar archive damaged or truncated", e))?;
        let h = entry.header();
        let et = h.entry_type();
        let mut header = MemberHeader {
            name: entry.path_bytes().into_owned(),
            size: h.size().ok(),
            mtime: h.mtime().ok().and_then(|m| i64::try_from(m).ok()),
            ..MemberHeader::default()
        };
        if et.is_dir() {
            continue;
        }
        let next = if et.is_symlink() || et.is_hard_link() {
            header.kind = MemberKind::Symlink(
                entry
                    .link_name_bytes()
                    .map(|b| b.into_owned())
                    .unwrap_or_default(),
            );
            visit(header, &mut std::io::empty())
        } else if et.is_file() || et.is_contiguous() || et.is_gnu_sparse() {
            visit(header, &mut entry)
        } else if et.is_pax_global_extensions() || et.is_pax_local_extensions() {
            continue;
        } else {
            let what = if et.is_character_special() {
                "character device"
            } else if et.is_block_special() {
                "block device"
            } else if et.is_fifo() {
                "fifo"
            } else {
                "entry of an unknown type"
            };
            header.kind = MemberKind::Special(format!("tar {what}: no data"));
            visit(header, &mut std::io::empty())
        };
        if let Next::Stop(_) = next {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_stream_member_is_named_after_the_container() {
        assert_eq!(
            inner_name(b"dir/notes.txt.gz", ContainerKind::Gzip),
            b"notes.txt"
        );
        assert_eq!(inner_name(b"a.zip!/x.ZST", ContainerKind::Zstd), b"x");
        assert_eq!(inner_name(b"blob", ContainerKind::Xz), b"data");
    }
}
