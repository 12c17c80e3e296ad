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
