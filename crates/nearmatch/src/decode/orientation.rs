//! EXIF orientation: the Orientation tag (274, 0x0112) read from encoded bytes, and whether
//! hashing applies it.
//!
//! Cameras store pixels as the sensor read them and record how the picture is to be shown in the
//! Orientation tag (1 = as stored, 6 = turn 90° clockwise, ...). The hash references (Meta's
//! `pdqhash` fed by Pillow, Python `imagehash`) hash the stored pixels unless the caller runs
//! `ImageOps.exif_transpose` first, so lists may hold either: [`OrientationMode::Stored`] (the
//! default) hashes what is stored, [`OrientationMode::Exif`] the picture as displayed. One
//! exception on the references' side: Pillow applies a TIFF's tag itself when it loads the
//! file, so for a tagged TIFF it is `Exif` that gives Pillow's pixels.
//!
//! The tag is read from JPEG (the first APP1 `Exif` segment, as Pillow), PNG (the `eXIf`
//! chunk), WebP (the `EXIF` chunk of an extended file) and TIFF (IFD0 of the file itself). HEIF
//! is deliberately absent: libheif already applies the container's `irot`/`imir` boxes, which
//! are what shows the picture upright, and applying the Exif tag on top would turn it twice
//! (`pillow-heif` ignores the tag for the same reason). BigTIFF and GIF/BMP carry no tag read
//! here. When the Exif block has no Orientation entry, the XMP packet's `tiff:Orientation` is
//! read instead, as Pillow's `getexif` does: JPEG's last APP1 XMP segment, PNG's
//! `XML:com.adobe.xmp` text chunk (`tEXt`, `zTXt` or `iTXt`, inflated up to 1 MiB), WebP's
//! `XMP ` chunk, TIFF's tag 700.
//!
//! The reader is written for hostile input: every offset is checked against the bytes, only
//! IFD0 is read (no IFD chain to loop in), each container walk moves forward by at least one
//! header per step, and an entry whose data lies outside the block is skipped (as Pillow skips
//! it). Values outside 1..=8 are ignored.
//!
//! ```
//! use nearmatch::decode::orientation::{exif_orientation, tiff_orientation};
//! // A little-endian TIFF header and an IFD0 holding one entry: Orientation, SHORT, 1, value 6.
//! let tiff = [
//!     b'I', b'I', 42, 0, 8, 0, 0, 0, // header, IFD0 at 8
//!     1, 0, // one entry
//!     0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0, // tag 274, SHORT, count 1, value 6
//!     0, 0, 0, 0, // no next IFD
//! ];
//! assert_eq!(tiff_orientation(&tiff), Some(6));
//! assert_eq!(exif_orientation(&tiff), Some(6)); // a TIFF file is its own Exif block
//! assert_eq!(exif_orientation(b"not an image"), None);
//! ```

use std::fmt;
use std::str::FromStr;

use super::{sniff, Format};
use crate::hash::pdq::Orientation;
use crate::pixels::Image;

/// The Orientation tag.
const ORIENTATION: u16 = 0x0112;

/// Whether hashing applies the EXIF Orientation tag.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum OrientationMode {
    /// Hash the pixels as stored, ignoring the tag (the references' behaviour; the default).
    #[default]
    Stored,
    /// Hash the picture as displayed: the tag's transform applied first, as Pillow's
    /// `ImageOps.exif_transpose` does (HEIF is always displayed: see the module docs).
    Exif,
}

impl OrientationMode {
    /// Both modes.
    pub const ALL: [OrientationMode; 2] = [OrientationMode::Stored, OrientationMode::Exif];

    /// The CLI, Python and report name: `stored` or `exif`.
    ///
    /// ```
    /// use nearmatch::decode::orientation::OrientationMode;
    /// assert_eq!(OrientationMode::default().name(), "stored");
    /// assert_eq!("exif".parse(), Ok(OrientationMode::Exif));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            OrientationMode::Stored => "stored",
            OrientationMode::Exif => "exif",
        }
    }
}

impl fmt::Display for OrientationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An orientation mode name other than `stored` or `exif`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown orientation {0:?} (known: stored, exif)")]
pub struct UnknownOrientationMode(pub String);

impl FromStr for OrientationMode {
    type Err = UnknownOrientationMode;
    fn from_str(s: &str) -> Result<Self, UnknownOrientationMode> {
        let lower = s.trim().to_ascii_lowercase();
        OrientationMode::ALL
            .into_iter()
            .find(|m| m.name() == lower)
            .ok_or_else(|| UnknownOrientationMode(s.to_string()))
    }
}

/// The EXIF Orientation tag (1..=8) of an encoded JPEG, PNG, WebP or TIFF file; `None` when
/// there is none, it is damaged or out of range, or the format carries none read here (HEIF:
/// libheif already shows it as displayed).
///
/// ```
/// use nearmatch::decode::orientation::exif_orientation;
/// // A JPEG start with an APP1 Exif segment (big-endian TIFF, Orientation 8), cut short.
/// let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1, 0, 34];
/// jpeg.extend_from_slice(b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x08\0\0");
/// jpeg.extend_from_slice(&[0, 0, 0, 0]);
/// assert_eq!(exif_orientation(&jpeg), Some(8));
/// ```
pub fn exif_orientation(bytes: &[u8]) -> Option<u8> {
    let format = sniff(bytes)?;
    let exif = match format {
        Format::Jpeg => jpeg_exif(bytes),
        Format::Png => png_exif(bytes),
        Format::WebP => webp_exif(bytes),
        Format::Tiff => Some(bytes),
        Format::Gif | Format::Bmp | Format::Heif => return None,
    };
    // Pillow's `getexif` falls back to the XMP packet's `tiff:Orientation` only when the Exif
    // block has no Orientation entry at all (an entry of 0 or 9 still hides the XMP value).
    let value = match exif.and_then(orientation_entry) {
        Some(v) => Some(v),
        None => xmp_packet(format, bytes).and_then(|x| xmp_orientation(&x)),
    };
    value
        .filter(|v| (1..=8).contains(v))
        .and_then(|v| u8::try_from(v).ok())
}

/// The `tiff:Orientation` digit of an XMP packet, as Pillow's `getexif` reads it: the first
/// `tiff:Orientation="D` or `tiff:Orientation>D` (attribute or element form), one digit.
///
/// ```
/// use nearmatch::decode::orientation::xmp_orientation;
/// let xmp = br#"<rdf:Description tiff:Orientation="6" tiff:Make="ACME"/>"#;
/// assert_eq!(xmp_orientation(xmp), Some(6));
/// assert_eq!(xmp_orientation(b"<tiff:Orientation>3</tiff:Orientation>"), Some(3));
/// assert_eq!(xmp_orientation(b"<tiff:Orientation> 3</tiff:Orientation>"), None);
/// ```
pub fn xmp_orientation(xmp: &[u8]) -> Option<i64> {
    const KEY: &[u8] = b"tiff:Orientation";
    let mut from = 0;
    while let Some(at) = find(&xmp[from..], KEY) {
        let rest = &xmp[from + at + KEY.len()..];
        let digit = match rest {
            [b'=', b'"', d, ..] | [b'>', d, ..] => Some(*d),
            _ => None,
        };
        if let Some(d) = digit.filter(u8::is_ascii_digit) {
            return Some(i64::from(d - b'0'));
        }
        from += at + 1;
    }
    None
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The XMP packet Pillow puts in `info` for this file, if any (decompressed when the PNG
/// stores it compressed).
fn xmp_packet(format: Format, bytes: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    match format {
        Format::Jpeg => jpeg_xmp(bytes).map(Cow::Borrowed),
        Format::Png => png_xmp(bytes),
        Format::WebP => webp_chunk(bytes, b"XMP ").map(Cow::Borrowed),
        Format::Tiff => tiff_xmp(bytes).map(Cow::Borrowed),
        Format::Gif | Format::Bmp | Format::Heif => None,
    }
}

/// `image` (decoded from `bytes`) as `mode` hashes it, and the EXIF tag applied: with
/// [`OrientationMode::Exif`] and a valid tag, turned to its displayed orientation (tag 1 leaves
/// it as stored but is still reported); otherwise unchanged, with `None`.
///
/// ```
/// use nearmatch::decode::orientation::{displayed, OrientationMode};
/// use nearmatch::pixels::{Image, Layout};
/// let img = Image::new(2, 1, Layout::Gray8(vec![10, 20])).unwrap();
/// // No tag in these bytes: nothing applied.
/// let (same, tag) = displayed(img.clone(), b"no exif here", OrientationMode::Exif);
/// assert_eq!((same, tag), (img, None));
/// ```
pub fn displayed(image: Image, bytes: &[u8], mode: OrientationMode) -> (Image, Option<u8>) {
    if mode != OrientationMode::Exif {
        return (image, None);
    }
    let Some(tag) = exif_orientation(bytes) else {
        return (image, None);
    };
    match Orientation::from_exif(tag) {
        Some(o) if o != Orientation::Orig => (image.oriented(o), Some(tag)),
        _ => (image, Some(tag)),
    }
}

/// The Orientation tag (1..=8) in IFD0 of a TIFF structure: an Exif block (with or without its
/// `Exif\0\0` prefix) or a whole TIFF file. `None` if absent, damaged or out of range.
///
/// ```
/// use nearmatch::decode::orientation::tiff_orientation;
/// assert_eq!(tiff_orientation(b"II*\0\x08\0\0\0"), None); // IFD0 past the end: ignored
/// ```
pub fn tiff_orientation(tiff: &[u8]) -> Option<u8> {
    orientation_entry(tiff)
        .filter(|v| (1..=8).contains(v))
        .and_then(|v| u8::try_from(v).ok())
}

/// The XMP tag.
const XMP_TAG: u16 = 700;

/// A TIFF structure's byte order and bytes (an Exif block without its `Exif\0\0` prefix, or
/// a whole TIFF file), with bounds-checked readers.
struct Tiff<'a> {
    b: &'a [u8],
    big_endian: bool,
}

impl<'a> Tiff<'a> {
    fn new(tiff: &'a [u8]) -> Option<Tiff<'a>> {
        let b = tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff);
        let big_endian = match b.get(..4)? {
            b"II*\0" => false,
            b"MM\0*" => true,
            _ => return None,
        };
        Some(Tiff { b, big_endian })
    }

    fn u16_at(&self, i: usize) -> Option<u16> {
        let b: [u8; 2] = self.b.get(i..i.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32_at(&self, i: usize) -> Option<u32> {
        let b: [u8; 4] = self.b.get(i..i.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// IFD0's last readable entry `want` whose type is one of `types` (integer and byte types
    /// only): its type, its value count and where its values start. Pillow keeps the entries
    /// read before a truncation and the last of repeated tags, and skips an entry whose data
    /// lies outside the block (a huge count, a wild offset); so do we.
    fn ifd0_entry(&self, want: u16, types: &[u16]) -> Option<(u16, usize, usize)> {
        let ifd0 = usize::try_from(self.u32_at(4)?).ok()?;
        let count = self.u16_at(ifd0)? as usize;
        let mut found = None;
        for i in 0..count {
            let Some(entry) = ifd0.checked_add(2 + 12 * i) else {
                break;
            };
            let Some(tag) = self.u16_at(entry) else {
                break;
            };
            if self.b.len() < entry.saturating_add(12) {
                break;
            }
            if tag != want {
                continue;
            }
            let (typ, n) = (self.u16_at(entry + 2)?, self.u32_at(entry + 4)?);
            let unit: u64 = match typ {
                1 | 6 | 7 => 1,
                3 | 8 => 2,
                4 | 9 => 4,
                _ => continue,
            };
            if n == 0 || !types.contains(&typ) {
                continue;
            }
            // The values sit in the entry when they fit in 4 bytes, else at an offset.
            let size = unit * u64::from(n);
            let at = if size <= 4 {
                entry + 8
            } else {
                let off = u64::from(self.u32_at(entry + 8)?);
                if off.saturating_add(size) > self.b.len() as u64 {
                    continue;
                }
                off as usize
            };
            found = Some((typ, n as usize, at));
        }
        found
    }
}

/// The value of IFD0's Orientation entry, in range or not (Pillow takes the first value of any
/// count, of any integer type: the tag is a SHORT); `None` when there is no readable entry.
fn orientation_entry(tiff: &[u8]) -> Option<i64> {
    let t = Tiff::new(tiff)?;
    let (typ, _, at) = t.ifd0_entry(ORIENTATION, &[1, 3, 4, 6, 8, 9])?;
    Some(match typ {
        1 => i64::from(t.b[at]),
        6 => i64::from(t.b[at] as i8),
        3 => i64::from(t.u16_at(at)?),
        8 => i64::from(t.u16_at(at)? as i16),
        4 => i64::from(t.u32_at(at)?),
        _ => i64::from(t.u32_at(at)? as i32),
    })
}

/// The bytes of a TIFF file's XMP entry (tag 700, BYTE or UNDEFINED), which Pillow puts in
/// `info["xmp"]`.
fn tiff_xmp(tiff: &[u8]) -> Option<&[u8]> {
    let t = Tiff::new(tiff)?;
    let (_, n, at) = t.ifd0_entry(XMP_TAG, &[1, 7])?;
    t.b.get(at..at + n)
}

/// Calls `visit` with the body of every APP1 segment before the scan data, in order.
fn jpeg_app1<'a>(b: &'a [u8], mut visit: impl FnMut(&'a [u8])) {
    let mut i = 2; // past SOI
    loop {
        if b.get(i) != Some(&0xFF) {
            return; // not a marker (damaged) or the end: stop
        }
        // Fill bytes: any number of 0xFF before the marker code.
        while b.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        let Some(&marker) = b.get(i + 1) else {
            return;
        };
        i += 2;
        match marker {
            // Standalone markers (TEM, RSTn, SOI) carry no length.
            0x01 | 0xD0..=0xD8 => continue,
            // Start of scan or end of image: the metadata segments are behind us.
            0xDA | 0xD9 => return,
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (b.get(i), b.get(i + 1)) else {
            return;
        };
        let len = u16::from_be_bytes([hi, lo]) as usize;
        if len < 2 {
            return;
        }
        let Some(body) = b.get(i + 2..(i + len).min(b.len())) else {
            return;
        };
        if marker == 0xE1 {
            visit(body);
        }
        i += len;
    }
}

/// The payload of the first APP1 `Exif\0\0` segment before the scan data (Pillow appends
/// later ones to it, so IFD0 is the first one's).
fn jpeg_exif(b: &[u8]) -> Option<&[u8]> {
    let mut found = None;
    jpeg_app1(b, |body| {
        if found.is_none() && body.starts_with(b"Exif\0\0") {
            found = Some(&body[6..]);
        }
    });
    found
}

/// The packet of the last APP1 XMP segment before the scan data (Pillow keeps the last).
fn jpeg_xmp(b: &[u8]) -> Option<&[u8]> {
    const XMP_ID: &[u8] = b"http://ns.adobe.com/xap/1.0/\0";
    let mut found = None;
    jpeg_app1(b, |body| {
        if let Some(packet) = body.strip_prefix(XMP_ID) {
            found = Some(packet);
        }
    });
    found
}

/// Calls `visit` with the type and data of every PNG chunk, in order, up to `IEND` (Pillow
/// reads the chunks after the image data too when it loads the pixels), and whether the chunk
/// is whole: one running past the end is cut to what there is.
fn png_chunks<'a>(b: &'a [u8], mut visit: impl FnMut(&[u8], &'a [u8], bool)) {
    let mut i = 8; // past the signature
    while let Some(head) = b.get(i..i + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let start = i + 8;
        let end = start.saturating_add(len).min(b.len());
        visit(kind, &b[start..end], end - start == len);
        if kind == b"IEND" {
            break;
        }
        // Data, then a 4-byte CRC.
        i = start.saturating_add(len).saturating_add(4);
    }
}

/// The payload of the last `eXIf` chunk (Pillow keeps the last, before or after the image
/// data).
fn png_exif(b: &[u8]) -> Option<&[u8]> {
    let mut found = None;
    png_chunks(b, |kind, data, _| {
        if kind == b"eXIf" {
            found = Some(data);
        }
    });
    found
}

/// Most bytes a compressed PNG text chunk may inflate to (Pillow's `MAX_TEXT_CHUNK`, 1 MiB; past
/// it Pillow refuses the chunk, and we skip it).
const MAX_TEXT_CHUNK: u64 = 1 << 20;

/// The XMP packet of a PNG as Pillow's `getexif` sees it: the last `tEXt`, `zTXt` or `iTXt`
/// chunk keyed `XML:com.adobe.xmp` whose text decodes (`info["XML:com.adobe.xmp"]`), else,
/// when that is absent or empty, the last `iTXt` one's bytes even if they are not UTF-8
/// (`info["xmp"]`). Compressed text is inflated (zlib, up to [`MAX_TEXT_CHUNK`]).
fn png_xmp(b: &[u8]) -> Option<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    const KEY: &[u8] = b"XML:com.adobe.xmp";
    let mut text: Option<Cow<'_, [u8]>> = None;
    let mut raw: Option<Cow<'_, [u8]>> = None;
    png_chunks(b, |kind, data, whole| {
        // A cut text chunk makes Pillow fail to open the file: no packet to follow.
        let Some(rest) = data
            .strip_prefix(KEY)
            .and_then(|r| r.strip_prefix(b"\0"))
            .filter(|_| whole)
        else {
            return;
        };
        match kind {
            // Latin-1 text: always decodes.
            b"tEXt" => text = Some(Cow::Borrowed(rest)),
            b"zTXt" => {
                if let Some((0, z)) = rest.split_first().map(|(m, z)| (*m, z)) {
                    if let Some(v) = inflate(z) {
                        text = Some(Cow::Owned(v));
                    }
                }
            }
            b"iTXt" => {
                let [flag, method, tail @ ..] = rest else {
                    return;
                };
                // Language tag and translated keyword, then the text.
                let mut parts = tail.splitn(3, |&c| c == 0);
                let (Some(lang), Some(translated), Some(v)) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return;
                };
                let v: Cow<'_, [u8]> = match (flag, method) {
                    (0, _) => Cow::Borrowed(v),
                    (_, 0) => match inflate(v) {
                        Some(v) => Cow::Owned(v),
                        None => return,
                    },
                    _ => return, // unknown compression: Pillow keeps the raw chunk only
                };
                let decodes = [lang, translated, &v[..]]
                    .iter()
                    .all(|p| std::str::from_utf8(p).is_ok());
                if decodes {
                    text = Some(v.clone());
                }
                raw = Some(v);
            }
            _ => {}
        }
    });
    match text {
        Some(t) if !t.is_empty() => Some(t),
        _ => raw.filter(|r| !r.is_empty()),
    }
}

/// `z` inflated (zlib), or `None` when damaged or larger than [`MAX_TEXT_CHUNK`].
fn inflate(z: &[u8]) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    let mut d = flate2::read::ZlibDecoder::new(z).take(MAX_TEXT_CHUNK + 1);
    d.read_to_end(&mut out).ok()?;
    (out.len() as u64 <= MAX_TEXT_CHUNK).then_some(out)
}

/// The payload of the first `fourcc` chunk of an extended (`VP8X`) WebP file: libwebp's
/// demuxer, which Pillow uses, reads metadata chunks only in that layout.
fn webp_chunk<'a>(b: &'a [u8], fourcc: &[u8; 4]) -> Option<&'a [u8]> {
    if b.get(12..16)? != b"VP8X" {
        return None;
    }
    // The RIFF size bounds the chunks (files may carry trailing bytes).
    let riff_end = (u32::from_le_bytes(b.get(4..8)?.try_into().ok()?) as usize)
        .saturating_add(8)
        .min(b.len());
    let mut i = 12;
    while let Some(head) = b.get(i..i + 8).filter(|_| i + 8 <= riff_end) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let start = i + 8;
        if &head[..4] == fourcc {
            return Some(&b[start..start.saturating_add(len).min(riff_end)]);
        }
        // Chunks are padded to an even size.
        i = start.saturating_add(len).saturating_add(len & 1);
    }
    None
}

/// The payload of the `EXIF` chunk of an extended WebP file.
fn webp_exif(b: &[u8]) -> Option<&[u8]> {
    webp_chunk(b, b"EXIF")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1x1 PNG skeleton with `chunks` (type, data) before IEND; CRCs are zero (not checked).
    fn png_with(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
        let mut b = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut push = |kind: &[u8; 4], data: &[u8]| {
            b.extend_from_slice(&(data.len() as u32).to_be_bytes());
            b.extend_from_slice(kind);
            b.extend_from_slice(data);
            b.extend_from_slice(&[0; 4]);
        };
        push(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
        for (kind, data) in chunks {
            push(kind, data);
        }
        push(b"IEND", &[]);
        b
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn png_xmp_follows_pillows_text_chunk_rules() {
        let packet = br#"<x tiff:Orientation="6"/>"#.to_vec();
        let key = b"XML:com.adobe.xmp\0".to_vec();
        let itxt = |flag: u8, text: &[u8]| [&key[..], &[flag, 0, 0, 0], text].concat();
        // Plain and compressed iTXt, zTXt, tEXt.
        for chunk in [
            (b"iTXt", itxt(0, &packet)),
            (b"iTXt", itxt(1, &zlib(&packet))),
            (b"zTXt", [&key[..], &[0], &zlib(&packet)].concat()),
            (b"tEXt", [&key[..], &packet].concat()),
        ] {
            assert_eq!(
                exif_orientation(&png_with(std::slice::from_ref(&chunk))),
                Some(6),
                "{:?}",
                chunk.0
            );
        }
        // Not UTF-8: not Pillow's text, but still its `info["xmp"]` bytes.
        let mut bad = packet.clone();
        bad.push(0xFF);
        assert_eq!(
            exif_orientation(&png_with(&[(b"iTXt", itxt(0, &bad))])),
            Some(6)
        );
        // The decoded text wins over such bytes, whatever the order; the last text wins.
        let three = br#"<x tiff:Orientation="3"/>"#;
        let png = png_with(&[
            (b"tEXt", [&key[..], &three[..]].concat()),
            (b"iTXt", itxt(0, &bad)),
        ]);
        assert_eq!(exif_orientation(&png), Some(3));
        // An eXIf Orientation entry, even out of range, hides the XMP value.
        let exif = b"MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\0\0\0\x01\0\x00\0\0\0\0\0\0".to_vec();
        let png = png_with(&[(b"eXIf", exif), (b"tEXt", [&key[..], &packet].concat())]);
        assert_eq!(exif_orientation(&png), None);
    }

    #[test]
    fn a_compressed_xmp_chunk_inflating_past_a_mebibyte_is_skipped() {
        // Pillow refuses such a chunk; we read no further than the cap.
        let mut big = br#"<x tiff:Orientation="6"/>"#.to_vec();
        big.resize(MAX_TEXT_CHUNK as usize + 1, b' ');
        let key = b"XML:com.adobe.xmp\0".to_vec();
        let png = png_with(&[(b"zTXt", [&key[..], &[0], &zlib(&big)].concat())]);
        assert_eq!(exif_orientation(&png), None);
        big.truncate(MAX_TEXT_CHUNK as usize);
        let png = png_with(&[(b"zTXt", [&key[..], &[0], &zlib(&big)].concat())]);
        assert_eq!(exif_orientation(&png), Some(6));
        // Damaged zlib data and truncated chunks are ignored.
        let png = png_with(&[(b"zTXt", [&key[..], &[0, 0x78, 0x9C, 1, 2]].concat())]);
        assert_eq!(exif_orientation(&png), None);
        let mut cut = png_with(&[(b"iTXt", [&key[..], &[0, 0, 0, 0], &big[..40]].concat())]);
        cut.truncate(cut.len() - 30);
        assert_eq!(exif_orientation(&cut), None);
    }

    /// A little-endian TIFF block with IFD0 holding `entries` (tag, type, count, value field).
    fn tiff_le(entries: &[(u16, u16, u32, [u8; 4])]) -> Vec<u8> {
        let mut t = b"II*\0\x08\0\0\0".to_vec();
        t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, typ, n, v) in entries {
            t.extend_from_slice(&tag.to_le_bytes());
            t.extend_from_slice(&typ.to_le_bytes());
            t.extend_from_slice(&n.to_le_bytes());
            t.extend_from_slice(v);
        }
        t.extend_from_slice(&[0; 4]);
        t
    }

    fn short(v: u16) -> [u8; 4] {
        let b = v.to_le_bytes();
        [b[0], b[1], 0, 0]
    }

    #[test]
    fn every_valid_value_is_read_and_others_are_ignored() {
        for v in 0..=20u16 {
            let t = tiff_le(&[(0x010F, 2, 4, *b"ACME"), (ORIENTATION, 3, 1, short(v))]);
            let want = (1..=8).contains(&v).then_some(v as u8);
            assert_eq!(tiff_orientation(&t), want, "{v}");
        }
        // LONG and BYTE values are integers too; RATIONAL and ASCII are not read.
        assert_eq!(
            tiff_orientation(&tiff_le(&[(ORIENTATION, 4, 1, 3u32.to_le_bytes())])),
            Some(3)
        );
        assert_eq!(
            tiff_orientation(&tiff_le(&[(ORIENTATION, 1, 1, [5, 0, 0, 0])])),
            Some(5)
        );
        assert_eq!(
            tiff_orientation(&tiff_le(&[(ORIENTATION, 2, 2, [b'6', 0, 0, 0])])),
            None
        );
        // A negative signed value is out of range.
        assert_eq!(
            tiff_orientation(&tiff_le(&[(ORIENTATION, 8, 1, short(0xFFFA))])),
            None
        );
    }

    #[test]
    fn the_last_repeated_tag_wins_as_in_pillow() {
        let t = tiff_le(&[(ORIENTATION, 3, 1, short(6)), (ORIENTATION, 3, 1, short(3))]);
        assert_eq!(tiff_orientation(&t), Some(3));
    }

    #[test]
    fn hostile_blocks_are_ignored_without_panicking() {
        // A huge count with a wild offset: the entry is skipped.
        let t = tiff_le(&[(ORIENTATION, 3, u32::MAX, u32::MAX.to_le_bytes())]);
        assert_eq!(tiff_orientation(&t), None);
        // IFD0 claiming 65,535 entries in a few bytes: reading stops at the end.
        let mut t = b"II*\0\x08\0\0\0\xff\xff".to_vec();
        t.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(tiff_orientation(&t), Some(2));
        // IFD0 pointing at itself or past the end, offsets near usize/u32 limits.
        for off in [0u32, 4, 7, 9, u32::MAX - 1, u32::MAX] {
            let mut t = b"MM\0*".to_vec();
            t.extend_from_slice(&off.to_be_bytes());
            t.extend_from_slice(&[0xFF; 16]);
            let _ = tiff_orientation(&t);
        }
        // Every truncation of a valid block and of a valid JPEG start.
        let t = tiff_le(&[(0x0100, 4, 1, [1, 0, 0, 0]), (ORIENTATION, 3, 1, short(7))]);
        for n in 0..t.len() {
            let got = tiff_orientation(&t[..n]);
            assert!(got.is_none() || got == Some(7));
        }
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE1];
        jpeg.extend_from_slice(&((t.len() + 8) as u16).to_be_bytes());
        jpeg.extend_from_slice(b"Exif\0\0");
        jpeg.extend_from_slice(&t);
        assert_eq!(exif_orientation(&jpeg), Some(7));
        for n in 0..jpeg.len() {
            let _ = exif_orientation(&jpeg[..n]);
        }
    }

    #[test]
    fn containers_are_walked_to_their_exif_block() {
        let t = tiff_le(&[(ORIENTATION, 3, 1, short(5))]);
        // JPEG: an APP0 first, fill bytes, then APP1.
        let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0, 4, 0, 0, 0xFF, 0xFF, 0xE1];
        jpeg.extend_from_slice(&((t.len() + 8) as u16).to_be_bytes());
        jpeg.extend_from_slice(b"Exif\0\0");
        jpeg.extend_from_slice(&t);
        assert_eq!(exif_orientation(&jpeg), Some(5));
        // A zero-length segment stops the walk instead of looping.
        assert_eq!(exif_orientation(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), None);

        // PNG: eXIf after a (fake) IDAT, as Pillow also finds it.
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (b"IDAT", &b"xx"[..]),
            (b"eXIf", &t[..]),
            (b"IEND", &b""[..]),
        ] {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(kind);
            png.extend_from_slice(data);
            png.extend_from_slice(&[0; 4]);
        }
        assert_eq!(exif_orientation(&png), Some(5));
        // A chunk length of 4 GB is cut at the end of the bytes.
        let mut bad = b"\x89PNG\r\n\x1a\n\xff\xff\xff\xffeXIf".to_vec();
        bad.extend_from_slice(&t);
        assert_eq!(exif_orientation(&bad), Some(5));

        // WebP: VP8X, an odd-sized chunk (padded), then EXIF with the Exif prefix.
        let mut body = b"WEBP".to_vec();
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend_from_slice(&t);
        for (kind, data) in [
            (b"VP8X", &[0u8; 10][..]),
            (b"ICCP", &[1u8; 3]),
            (b"EXIF", &exif),
        ] {
            body.extend_from_slice(kind);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut webp = b"RIFF".to_vec();
        webp.extend_from_slice(&(body.len() as u32).to_le_bytes());
        webp.extend_from_slice(&body);
        assert_eq!(exif_orientation(&webp), Some(5));
        for n in 0..webp.len() {
            let _ = exif_orientation(&webp[..n]);
        }
    }

    #[test]
    fn mode_names_round_trip_and_stored_is_the_default() {
        for m in OrientationMode::ALL {
            assert_eq!(m.name().parse::<OrientationMode>(), Ok(m));
        }
        assert_eq!(OrientationMode::default(), OrientationMode::Stored);
        assert!("displayed".parse::<OrientationMode>().is_err());
    }
}
