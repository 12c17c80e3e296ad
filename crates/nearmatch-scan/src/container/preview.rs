//! Previews embedded in images: the EXIF thumbnail (IFD1) of JPEG and TIFF files. Editors often
//! change the main image and leave the old thumbnail, so the thumbnail is evidence of its own.

use std::io::Cursor;

/// The EXIF thumbnail of a JPEG or TIFF file's bytes, if it has one that lies inside its EXIF
/// block; `None` for files without EXIF, without a thumbnail, or with a damaged one.
///
/// ```
/// // A JPEG without an APP1 segment has no thumbnail.
/// assert!(nearmatch_scan::container::exif_thumbnail(&[0xff, 0xd8, 0xff, 0xd9]).is_none());
/// ```
pub fn exif_thumbnail(bytes: &[u8]) -> Option<Vec<u8>> {
    let exif = exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()?;
    thumbnail_of(&exif)
}

/// The thumbnail (IFD1) of a raw Exif block, TIFF bytes from the byte-order mark (as HEIF
/// stores Exif: see [`nearmatch::decode::heif_exif`]); `None` without one.
///
/// ```
/// assert!(nearmatch_scan::container::exif_thumbnail_in_tiff(b"II*\0".to_vec()).is_none());
/// ```
pub fn exif_thumbnail_in_tiff(tiff: Vec<u8>) -> Option<Vec<u8>> {
    thumbnail_of(&exif::Reader::new().read_raw(tiff).ok()?)
}

/// The thumbnail bytes an Exif block's IFD1 points at, when they lie inside the block.
fn thumbnail_of(exif: &exif::Exif) -> Option<Vec<u8>> {
    let field = |tag| {
        exif.get_field(tag, exif::In::THUMBNAIL)
            .and_then(|f| f.value.get_uint(0))
            .map(|v| v as usize)
    };
    let offset = field(exif::Tag::JPEGInterchangeFormat)?;
    let len = field(exif::Tag::JPEGInterchangeFormatLength)?;
    let buf = exif.buf();
    let end = offset.checked_add(len)?;
    (len > 0 && end <= buf.len()).then(|| buf[offset..end].to_vec())
}

/// The images a JPEG's Multi-Picture Format index (the `MPF` APP2 segment, CIPA DC-007) lists
/// after the primary one — camera previews, second views — named `mpf/1`, `mpf/2`, … in index
/// order. Entries that point outside the file are left out; a damaged index gives none.
///
/// ```
/// // A JPEG without an APP2 MPF segment has no MPF images.
/// assert!(nearmatch_scan::container::mpf_images(&[0xff, 0xd8, 0xff, 0xd9]).is_empty());
/// ```
pub fn mpf_images(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let Some(header) = mpf_header(bytes) else {
        return Vec::new();
    };
    let base = header.0;
    let mp = &bytes[base..base + header.1];
    let le = match mp.get(..4) {
        Some(b"II*\0") => true,
        Some(b"MM\0*") => false,
        _ => return Vec::new(),
    };
    let u16_at = |o: usize| {
        mp.get(o..o + 2).map(|b| {
            if le {
                u16::from_le_bytes([b[0], b[1]])
            } else {
                u16::from_be_bytes([b[0], b[1]])
            }
        })
    };
    let u32_at = |o: usize| {
        mp.get(o..o + 4).map(|b| {
            let a = [b[0], b[1], b[2], b[3]];
            if le {
                u32::from_le_bytes(a)
            } else {
                u32::from_be_bytes(a)
            }
        })
    };
    let Some(ifd) = u32_at(4).map(|o| o as usize) else {
        return Vec::new();
    };
    let Some(count) = u16_at(ifd) else {
        return Vec::new();
    };
    // The MP Entry tag (0xB002): 16 bytes per image, at an offset in the MP header.
    let mut entries = None;
    for i in 0..count as usize {
        let e = ifd + 2 + 12 * i;
        if u16_at(e) == Some(0xb002) {
            entries = u32_at(e + 4).zip(u32_at(e + 8));
        }
    }
    let Some((len, at)) = entries else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for n in 1..(len as usize / 16).min(64) {
        let e = at as usize + 16 * n;
        let (Some(size), Some(offset)) = (u32_at(e + 4), u32_at(e + 8)) else {
            break;
        };
        // Offsets count from the MP header; 0 is the primary image, which is the file itself.
        let start = base + offset as usize;
        match bytes.get(start..start.saturating_add(size as usize)) {
            Some(img) if offset != 0 && size > 0 => out.push((format!("mpf/{n}"), img.to_vec())),
            _ => {}
        }
    }
    out
}

/// Where the MP header of a JPEG's MPF segment starts in the file, and its length.
fn mpf_header(b: &[u8]) -> Option<(usize, usize)> {
    if !b.starts_with(&[0xff, 0xd8]) {
        return None;
    }
    let mut i = 2;
    while i + 4 <= b.len() && b[i] == 0xff {
        let marker = b[i + 1];
        if marker == 0xda || marker == 0xd9 {
            return None;
        }
        let len = u16::from_be_bytes([b[i + 2], b[i + 3]]) as usize;
        let data = b.get(i + 4..i + 2 + len)?;
        if marker == 0xe2 && data.starts_with(b"MPF\0") {
            return Some((i + 8, len - 6));
        }
        i += 2 + len;
    }
    None
}
