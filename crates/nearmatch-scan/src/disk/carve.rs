//! Carving: pictures found by their signatures in byte ranges of a medium that no file claims
//! (unallocated clusters and blocks, gaps between partitions, a whole image nearmatch cannot
//! otherwise read). JPEG, PNG, GIF, BMP and WebP are recognised by their first bytes and their
//! end is found by walking their structure (JPEG markers and entropy-coded data to EOI, PNG
//! chunks with their CRCs to IEND, GIF blocks to the trailer, the sizes that BMP and RIFF
//! headers state). A candidate whose structure does not hold together is rejected here; one
//! that does is handed on to be decoded, which is the final check.
//!
//! Ranges are read in bounded chunks (never a whole range at once) and an object is at most
//! [`MAX_OBJECT`] bytes long and never runs past the end of its (merged) range: a picture
//! fragmented across allocated space is not reassembled.

use std::io::{self, BufReader, Read};

use super::Media;

/// The longest object carved, in bytes.
pub const MAX_OBJECT: u64 = 64 << 20;
/// Bytes scanned for signatures per read.
const CHUNK: usize = 4 << 20;
/// The longest signature prefix looked at, in bytes.
const HEAD: usize = 64;

/// A picture format carving recognises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// JPEG (FF D8 FF … FF D9).
    Jpeg,
    /// PNG (signature, chunks to IEND).
    Png,
    /// GIF87a / GIF89a (blocks to the 0x3B trailer).
    Gif,
    /// Windows bitmap (`BM`, the size its header states).
    Bmp,
    /// WebP (`RIFF` size `WEBP`).
    Webp,
}

impl Kind {
    /// The file extension carved members are named with.
    pub fn ext(self) -> &'static str {
        match self {
            Kind::Jpeg => "jpg",
            Kind::Png => "png",
            Kind::Gif => "gif",
            Kind::Bmp => "bmp",
            Kind::Webp => "webp",
        }
    }

    /// The kind whose signature starts `b` (at least [`HEAD`] bytes when available).
    fn at(b: &[u8]) -> Option<Kind> {
        match b {
            [0xFF, 0xD8, 0xFF, ..] => Some(Kind::Jpeg),
            [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, ..] => Some(Kind::Png),
            [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some(Kind::Gif),
            [b'B', b'M', ..] => Some(Kind::Bmp),
            [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some(Kind::Webp),
            _ => None,
        }
    }
}

/// A carved object: where it starts in the medium, its length and format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// Byte offset of its first byte in the medium.
    pub offset: u64,
    /// Its length in bytes.
    pub len: u64,
    /// Its format.
    pub kind: Kind,
}

/// What a carving pass met.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Signatures found (each a candidate).
    pub candidates: u64,
    /// Candidates whose structure did not hold together (not handed on).
    pub rejected: u64,
    /// Bytes scanned.
    pub scanned: u64,
}

/// Sorts `ranges` (offset, length) and merges those that overlap or touch, dropping empty ones.
///
/// ```
/// use nearmatch_scan::disk::carve::merge;
/// assert_eq!(merge(vec![(10, 5), (0, 10), (20, 0), (30, 2)]), vec![(0, 15), (30, 2)]);
/// ```
pub fn merge(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|r| r.1 > 0);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (at, len) in ranges {
        match out.last_mut() {
            Some((o, l)) if *o + *l >= at => *l = (*l).max(at + len - *o),
            _ => out.push((at, len)),
        }
    }
    out
}

/// The ranges of `[start, end)` that `used` (sorted, merged) does not cover.
///
/// ```
/// use nearmatch_scan::disk::carve::complement;
/// assert_eq!(complement(0, 100, &[(10, 10), (50, 60)]), vec![(0, 10), (20, 30)]);
/// ```
pub fn complement(start: u64, end: u64, used: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut at = start;
    for &(o, l) in used {
        if o > at && at < end {
            out.push((at, o.min(end) - at));
        }
        at = at.max(o + l);
    }
    if at < end {
        out.push((at, end - at));
    }
    out
}

/// Bytes `[pos, end)` of a medium as a stream.
pub struct Span<'m> {
    media: &'m Media,
    pos: u64,
    end: u64,
}

impl<'m> Span<'m> {
    /// The `len` bytes of `media` from `at`.
    pub fn new(media: &'m Media, at: u64, len: u64) -> Self {
        Span {
            media,
            pos: at,
            end: at.saturating_add(len),
        }
    }
}

impl Read for Span<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (buf.len() as u64).min(self.end.saturating_sub(self.pos)) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.media.read_at(&mut buf[..n], self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

/// Scans `ranges` (offsets in the medium; merged first) for pictures, calling `found` with each
/// object whose structure holds together, in offset order; scanning resumes after its end.
/// `found` returns `false` to stop. An I/O error ends the pass.
pub fn carve(
    media: &Media,
    ranges: Vec<(u64, u64)>,
    mut found: impl FnMut(Found) -> bool,
) -> io::Result<Tally> {
    let mut tally = Tally::default();
    let mut buf = vec![0u8; CHUNK + HEAD];
    for (start, len) in merge(ranges) {
        let end = start + len;
        let mut at = start;
        while at < end {
            let n = ((end - at).min(buf.len() as u64)) as usize;
            media.read_exact_at(&mut buf[..n], at)?;
            // Signatures start in the first `scan` bytes; the rest is look-ahead.
            let scan = if at + n as u64 == end { n } else { n - HEAD };
            let mut i = 0;
            let mut next = at + scan as u64;
            while i < scan {
                let Some(kind) = Kind::at(&buf[i..n]) else {
                    i += 1;
                    continue;
                };
                if !plausible(kind, &buf[i..n]) {
                    i += 1;
                    continue;
                }
                tally.candidates += 1;
                let off = at + i as u64;
                let room = (end - off).min(MAX_OBJECT);
                let mut r = BufReader::with_capacity(64 << 10, Span::new(media, off, room));
                match measure(kind, &mut r, room) {
                    Some(len) => {
                        let f = Found {
                            offset: off,
                            len,
                            kind,
                        };
                        if !found(f) {
                            tally.scanned += off - start;
                            return Ok(tally);
                        }
                        let after = off + len;
                        if after >= at + scan as u64 {
                            next = after;
                            break;
                        }
                        i = (after - at) as usize;
                    }
                    None => {
                        tally.rejected += 1;
                        i += 1;
                    }
                }
            }
            at = next;
        }
        tally.scanned += len;
    }
    Ok(tally)
}

/// A quick look at a signature's first bytes (`b`, up to [`HEAD`]), before its structure is
/// walked: rules out the commonest chance matches (`BM` in text, `FF D8 FF` in noise).
fn plausible(kind: Kind, b: &[u8]) -> bool {
    match kind {
        // The marker after SOI: APPn, DQT, DHT, SOFn, DRI or COM.
        Kind::Jpeg => b
            .get(3)
            .is_some_and(|&m| matches!(m, 0xE0..=0xEF | 0xDB | 0xC4 | 0xC0..=0xC3 | 0xDD | 0xFE)),
        Kind::Bmp => b.len() >= 30 && bmp_header(b).is_some(),
        _ => true,
    }
}

fn u16_le(b: &[u8], at: usize) -> u32 {
    u16::from_le_bytes([b[at], b[at + 1]]) as u32
}

fn u32_le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A BMP's stated file size, when its header is sane: reserved fields zero, a known DIB header
/// size, one plane, a usual bit depth and compression, plausible dimensions, and the pixel data
/// (uncompressed: every row) inside the stated size.
fn bmp_header(b: &[u8]) -> Option<u64> {
    if b.len() < 30 || &b[..2] != b"BM" {
        return None;
    }
    let size = u32_le(b, 2) as u64;
    let pixels = u32_le(b, 10) as u64;
    let dib = u32_le(b, 14);
    if u32_le(b, 6) != 0 || !matches!(dib, 12 | 40 | 52 | 56 | 64 | 108 | 124) {
        return None;
    }
    let (w, h, planes, bpp, compression) = if dib == 12 {
        (
            u16_le(b, 18) as i64,
            u16_le(b, 20) as i64,
            u16_le(b, 22),
            u16_le(b, 24),
            0,
        )
    } else {
        if b.len() < 34 {
            return None;
        }
        (
            u32_le(b, 18) as i32 as i64,
            (u32_le(b, 22) as i32 as i64).abs(),
            u16_le(b, 26),
            u16_le(b, 28),
            u32_le(b, 30),
        )
    };
    let sane = planes == 1
        && matches!(bpp, 1 | 4 | 8 | 16 | 24 | 32)
        && compression <= 6
        && (1..=65535).contains(&w)
        && (1..=65535).contains(&h)
        && pixels >= 14 + dib as u64
        && pixels < size
        && size <= MAX_OBJECT;
    if !sane {
        return None;
    }
    if compression == 0 {
        let row = (w as u64 * bpp as u64).div_ceil(32) * 4;
        if pixels + row * h as u64 > size {
            return None;
        }
    }
    Some(size)
}

/// The length of the object of `kind` that `r` starts with, at most `room` bytes, if its
/// structure holds together.
pub fn measure(kind: Kind, r: &mut impl Read, room: u64) -> Option<u64> {
    let mut r = Counting {
        inner: r,
        n: 0,
        room,
    };
    let len = match kind {
        Kind::Jpeg => jpeg(&mut r),
        Kind::Png => png(&mut r),
        Kind::Gif => gif(&mut r),
        Kind::Bmp => {
            let mut h = [0u8; 34];
            r.fill(&mut h[..30])?;
            let _ = r.fill(&mut h[30..]);
            bmp_header(&h)
        }
        Kind::Webp => webp(&mut r),
    }?;
    (len <= room).then_some(len)
}

/// A reader that counts what it gave and refuses to go past `room`.
struct Counting<'r, R> {
    inner: &'r mut R,
    n: u64,
    room: u64,
}

impl<R: Read> Counting<'_, R> {
    fn fill(&mut self, buf: &mut [u8]) -> Option<()> {
        if self.n + buf.len() as u64 > self.room {
            return None;
        }
        self.inner.read_exact(buf).ok()?;
        self.n += buf.len() as u64;
        Some(())
    }

    fn byte(&mut self) -> Option<u8> {
        let mut b = [0u8];
        self.fill(&mut b)?;
        Some(b[0])
    }

    fn skip(&mut self, mut n: u64) -> Option<()> {
        if self.n + n > self.room {
            return None;
        }
        let mut buf = [0u8; 4096];
        while n > 0 {
            let k = n.min(buf.len() as u64) as usize;
            self.fill(&mut buf[..k])?;
            n -= k as u64;
        }
        Some(())
    }
}

/// JPEG: segments by their lengths, entropy-coded data scanned for the next marker, to EOI;
/// a frame header (SOFn) and a scan (SOS) must come before it.
fn jpeg<R: Read>(r: &mut Counting<'_, R>) -> Option<u64> {
    let mut soi = [0u8; 2];
    r.fill(&mut soi)?;
    if soi != [0xFF, 0xD8] {
        return None;
    }
    let (mut frame, mut scan) = (false, false);
    // The marker byte read ahead by the entropy-data scan.
    let mut pending: Option<u8> = None;
    loop {
        let m = match pending.take() {
            Some(m) => m,
            None => {
                if r.byte()? != 0xFF {
                    return None;
                }
                let mut m = r.byte()?;
                while m == 0xFF {
                    m = r.byte()?;
                }
                m
            }
        };
        match m {
            0xD9 => return (frame && scan).then_some(r.n),
            0xD8 | 0x00 => return None,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let mut l = [0u8; 2];
        r.fill(&mut l)?;
        let len = u16::from_be_bytes(l) as u64;
        if len < 2 {
            return None;
        }
        if matches!(m, 0xC0..=0xCF) && !matches!(m, 0xC4 | 0xC8 | 0xCC) {
            frame = true;
        }
        r.skip(len - 2)?;
        if m != 0xDA {
            continue;
        }
        if !frame {
            return None;
        }
        scan = true;
        // Entropy-coded data: FF 00 is a stuffed byte, FF D0..D7 a restart, FF FF fill.
        loop {
            if r.byte()? != 0xFF {
                continue;
            }
            let mut b = r.byte()?;
            while b == 0xFF {
                b = r.byte()?;
            }
            if b == 0x00 || (0xD0..=0xD7).contains(&b) {
                continue;
            }
            pending = Some(b);
            break;
        }
    }
}

/// The CRC-32 (ISO-HDLC, as PNG uses it) of `parts` in order.
fn crc32(parts: &[&[u8]]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, e) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for p in parts {
        for &b in *p {
            c = t[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8);
        }
    }
    !c
}

/// PNG: the signature, IHDR first, then chunks (CRC-checked) to IEND.
fn png<R: Read>(r: &mut Counting<'_, R>) -> Option<u64> {
    let mut sig = [0u8; 8];
    r.fill(&mut sig)?;
    let mut first = true;
    let mut data = Vec::new();
    loop {
        let mut h = [0u8; 8];
        r.fill(&mut h)?;
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as u64;
        let ty = [h[4], h[5], h[6], h[7]];
        if len > 0x7FFF_FFFF || !ty.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        if first && (&ty != b"IHDR" || len != 13) {
            return None;
        }
        first = false;
        if r.n + len + 4 > r.room {
            return None;
        }
        data.resize(len as usize, 0);
        r.fill(&mut data)?;
        let mut c = [0u8; 4];
        r.fill(&mut c)?;
        if crc32(&[&ty, &data]) != u32::from_be_bytes(c) {
            return None;
        }
        if &ty == b"IEND" {
            return Some(r.n);
        }
    }
}

/// GIF: the screen descriptor and colour table, then images and extensions (sub-blocks) to
/// the trailer; at least one image.
fn gif<R: Read>(r: &mut Counting<'_, R>) -> Option<u64> {
    let mut h = [0u8; 13];
    r.fill(&mut h)?;
    let (w, ht) = (u16_le(&h, 6), u16_le(&h, 8));
    if w == 0 || ht == 0 {
        return None;
    }
    if h[10] & 0x80 != 0 {
        r.skip(3 << ((h[10] & 7) + 1))?;
    }
    let mut images = 0u32;
    let blocks = |r: &mut Counting<'_, R>| -> Option<()> {
        loop {
            match r.byte()? {
                0 => return Some(()),
                n => r.skip(n as u64)?,
            }
        }
    };
    loop {
        match r.byte()? {
            0x3B => return (images > 0).then_some(r.n),
            0x21 => {
                r.byte()?;
                blocks(r)?;
            }
            0x2C => {
                let mut d = [0u8; 9];
                r.fill(&mut d)?;
                if d[8] & 0x80 != 0 {
                    r.skip(3 << ((d[8] & 7) + 1))?;
                }
                let code = r.byte()?;
                if !(1..=11).contains(&code) {
                    return None;
                }
                blocks(r)?;
                images += 1;
            }
            _ => return None,
        }
    }
}

/// WebP: `RIFF`, its size, `WEBP`, and chunks (VP8, VP8L or VP8X first) that fill it exactly.
fn webp<R: Read>(r: &mut Counting<'_, R>) -> Option<u64> {
    let mut h = [0u8; 12];
    r.fill(&mut h)?;
    let total = u32_le(&h, 4) as u64 + 8;
    if total > r.room || total < 12 + 8 {
        return None;
    }
    let mut first = true;
    while r.n < total {
        let mut c = [0u8; 8];
        r.fill(&mut c)?;
        let fourcc = &c[..4];
        if first && !matches!(fourcc, b"VP8 " | b"VP8L" | b"VP8X") {
            return None;
        }
        if !fourcc.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
            return None;
        }
        first = false;
        let len = u32_le(&c, 4) as u64;
        let padded = len + (len & 1);
        if r.n + padded > total {
            return None;
        }
        r.skip(padded)?;
    }
    (r.n == total).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageFormat, RgbImage};
    use std::io::Cursor;

    /// A synthetic gradient with a square, encoded by the `image` crate.
    fn encoded(format: ImageFormat, w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| {
            let inside = (w / 4..w / 2).contains(&x) && (h / 4..h / 2).contains(&y);
            if inside {
                image::Rgb([250, 20, 20])
            } else {
                image::Rgb([(x * 255 / w) as u8, (y * 255 / h) as u8, 128])
            }
        });
        let mut out = Cursor::new(Vec::new());
        if format == ImageFormat::Gif {
            image::DynamicImage::ImageRgb8(img)
                .to_rgba8()
                .write_to(&mut out, format)
                .unwrap();
        } else {
            img.write_to(&mut out, format).unwrap();
        }
        out.into_inner()
    }

    fn length(kind: Kind, bytes: &[u8]) -> Option<u64> {
        measure(kind, &mut Cursor::new(bytes), bytes.len() as u64)
    }

    const FORMATS: [(ImageFormat, Kind); 5] = [
        (ImageFormat::Jpeg, Kind::Jpeg),
        (ImageFormat::Png, Kind::Png),
        (ImageFormat::Gif, Kind::Gif),
        (ImageFormat::Bmp, Kind::Bmp),
        (ImageFormat::WebP, Kind::Webp),
    ];

    #[test]
    fn each_format_ends_where_the_encoder_ended_it() {
        for (format, kind) in FORMATS {
            for (w, h) in [(64, 48), (301, 199)] {
                let file = encoded(format, w, h);
                assert_eq!(Kind::at(&file), Some(kind), "{format:?}");
                // Followed by other bytes, the object still ends where it ends.
                let mut padded = file.clone();
                padded.extend(std::iter::repeat_n(0xA5u8, 5000));
                assert_eq!(
                    length(kind, &padded),
                    Some(file.len() as u64),
                    "{format:?} {w}x{h}"
                );
                // Cut short, it has no end.
                assert_eq!(length(kind, &file[..file.len() - 1]), None, "{format:?}");
            }
        }
    }

    #[test]
    fn damaged_structures_are_rejected() {
        let png = encoded(ImageFormat::Png, 64, 48);
        let mut bad = png.clone();
        bad[40] ^= 0x55; // inside IDAT or a CRC
        assert_eq!(length(Kind::Png, &bad), None);
        // FF D8 FF then junk: no frame, no scan, no EOI.
        let mut junk = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        junk.extend((0..3000u32).map(|i| (i * 7919 % 251) as u8));
        assert_eq!(length(Kind::Jpeg, &junk), None);
        assert_eq!(length(Kind::Jpeg, &[0xFF, 0xD8, 0xFF, 0xD9]), None);
        // A BMP header with an absurd size and reserved bytes set.
        let mut bmp = encoded(ImageFormat::Bmp, 64, 48);
        bmp[6] = 1;
        assert_eq!(length(Kind::Bmp, &bmp), None);
        assert_eq!(
            length(Kind::Bmp, b"BM is a common pair of letters in text, ok"),
            None
        );
        let gif = encoded(ImageFormat::Gif, 64, 48);
        assert_eq!(length(Kind::Gif, &gif[..gif.len() - 1]), None);
    }

    #[test]
    fn a_pass_finds_objects_at_their_offsets_and_skips_used_space() {
        let jpeg = encoded(ImageFormat::Jpeg, 120, 90);
        let png = encoded(ImageFormat::Png, 80, 60);
        let bmp = encoded(ImageFormat::Bmp, 33, 17);
        let mut disk = vec![0u8; 6 << 20];
        // Noise with stray signatures around the objects.
        for (i, b) in disk.iter_mut().enumerate() {
            *b = (i as u32).wrapping_mul(2654435761).rotate_left(7) as u8;
        }
        disk[1000..1003].copy_from_slice(&[0xFF, 0xD8, 0xFF]);
        disk[5000..5002].copy_from_slice(b"BM");
        let places = [(70_000usize, &jpeg), (CHUNK - 30, &png), (5_000_000, &bmp)];
        for (at, f) in places {
            disk[at..at + f.len()].copy_from_slice(f);
        }
        // A JPEG in "allocated" space, outside the ranges.
        disk[5_600_000..5_600_000 + jpeg.len()].copy_from_slice(&jpeg);
        let mut f = tempfile::tempfile().unwrap();
        std::io::Write::write_all(&mut f, &disk).unwrap();
        let media = Media::raw(f).unwrap();
        let mut got = Vec::new();
        let ranges = vec![(4_500_000, 1_000_000), (0, 4_500_000)];
        let tally = carve(&media, ranges, |f| {
            got.push(f);
            true
        })
        .unwrap();
        let want: Vec<Found> = [
            (70_000u64, jpeg.len(), Kind::Jpeg),
            ((CHUNK - 30) as u64, png.len(), Kind::Png),
            (5_000_000, bmp.len(), Kind::Bmp),
        ]
        .iter()
        .map(|&(offset, len, kind)| Found {
            offset,
            len: len as u64,
            kind,
        })
        .collect();
        assert_eq!(got, want);
        assert_eq!(tally.scanned, 5_500_000);
        assert!(tally.candidates >= 3 && tally.rejected == tally.candidates - 3);
        // A range that ends inside an object does not carve it.
        let mut none = Vec::new();
        carve(&media, vec![(60_000, 10_000 + 100)], |f| {
            none.push(f);
            true
        })
        .unwrap();
        assert!(none.is_empty());
    }
}
