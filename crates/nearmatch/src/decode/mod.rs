//! Bytes to pixels: format sniffing by magic bytes, limits, per-format decoding.
//!
//! The goal is Pillow's pixels: every hash reference (Meta's `pdqhash` fed by Pillow, Python
//! `imagehash`) sees what `np.asarray(Image.open(f).convert('RGB'))` returns, so that is what
//! [`decode`] returns too:
//!
//! * alpha is dropped without compositing (RGBA → RGB, grey+alpha → grey);
//! * palettes are expanded to RGB; 1-, 2- and 4-bit grey are scaled to 0..255;
//! * 16-bit RGB(A) keeps the high byte (`v >> 8`, as Pillow's `RGB;16B` raw mode), 16-bit
//!   grey+alpha keeps the high byte of the grey; plain 16-bit grey stays [`Layout::Gray16`]
//!   because PDQ and `imagehash` reduce it differently (see the specs);
//! * GIF: the first frame; CMYK (JPEG, TIFF) → RGB with Pillow's formula;
//! * TIFF palette, YCbCr, grey+alpha, 32-bit integer and float grey as Pillow converts them,
//!   JPEG-in-TIFF strips and tiles through libjpeg-turbo, CIELab refused
//!   ([`Error::Unsupported`]): see [`tiff`]; the first page (the others: [`tiff_pages`]);
//! * JPEG: 8 bits a sample, Huffman- or arithmetic-coded; 12-bit JPEG refused
//!   ([`Error::Unsupported`]), as Pillow refuses it;
//! * EXIF orientation is **not** applied: the references hash the stored pixel order.
//!
//! JPEG is decoded by libjpeg-turbo (the `turbojpeg` feature, on by default), the library Pillow
//! uses, which gives bit-identical pixels. Without it a pure-Rust decoder (`jpeg-decoder`) is used,
//! whose pixels differ by a few levels (hashes may drift by a bit or two).
//!
//! Building the `turbojpeg` feature compiles the libjpeg-turbo 3.1 source bundled in
//! `turbojpeg-sys` (Debian 12's libjpeg-turbo 2.1 is too old for the TurboJPEG 3 API). It needs a
//! C compiler and `cmake`, and `nasm` for the SIMD code (without `nasm` the build only warns, and
//! JPEG decoding is slower).
//! On Debian/Ubuntu: `apt-get install -y cmake nasm`.
//! Without them, build with `--no-default-features` to get the pure-Rust decoder.
//!
//! HEIF (HEIC from phones, and AVIF) is decoded by the system's libheif (the `heif` feature, on
//! by default; Debian: `apt-get install -y libheif-dev`), as `pillow-heif` decodes it: the
//! primary image with its `irot`/`imir`/`clap` transformations applied, 8-bit RGB. See
//! `decode/heif.rs` for why a binding of our own.
//!
//! The format is decided by magic bytes only, never by a file name. Image dimensions are read from
//! the header and checked against [`Limits`] before any pixel buffer is allocated, and decoder
//! panics are caught and reported as [`Error::Decode`].
//!
//! ```
//! use nearmatch::decode::{decode, sniff, Format, Limits};
//! // A 1x1 grey PNG (value 0x40), as written by Pillow.
//! let png = [
//!     0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
//!     0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3A,
//!     0x7E, 0x9B, 0x55, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x70,
//!     0x00, 0x00, 0x00, 0x42, 0x00, 0x41, 0x29, 0x37, 0xF4, 0xEF, 0x00, 0x00, 0x00, 0x00, 0x49,
//!     0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
//! ];
//! assert_eq!(sniff(&png), Some(Format::Png));
//! let d = decode(&png, &Limits::default()).unwrap();
//! assert_eq!((d.image.width(), d.image.height()), (1, 1));
//! assert_eq!(d.image.rgb_at(0, 0), [0x40; 3]);
//! ```

pub(crate) mod heif;
mod jpeg;
#[cfg(feature = "turbojpeg")]
pub(crate) mod jpeg_rows;
pub mod lab;
pub mod orientation;
mod reduce;
#[cfg(test)]
mod tests;
pub mod tiff;

pub use reduce::{box_factor_for, box_reduce, decode_reduced, jpeg_scale_for, Reduced};

use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

use image::{DynamicImage, ImageError, ImageFormat, ImageReader};

use crate::error::{Error, Result};
use crate::pixels::{Image, Layout};

/// A supported image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// JPEG (JFIF/EXIF), baseline or progressive.
    Jpeg,
    /// PNG.
    Png,
    /// GIF (first frame only).
    Gif,
    /// Windows bitmap.
    Bmp,
    /// TIFF (the first page; [`tiff_pages`] gives the others).
    Tiff,
    /// WebP, lossy or lossless.
    WebP,
    /// HEIF: HEIC (HEVC, phones' photographs) and AVIF (AV1), the primary image, through
    /// libheif (`decode/heif.rs`).
    Heif,
}

impl Format {
    /// Every supported format.
    pub const ALL: [Format; 7] = [
        Format::Jpeg,
        Format::Png,
        Format::Gif,
        Format::Bmp,
        Format::Tiff,
        Format::WebP,
        Format::Heif,
    ];

    /// Lower-case name used in reports and errors ("jpeg", "png", ...).
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Tiff => "tiff",
            Format::WebP => "webp",
            Format::Heif => "heif",
        }
    }

    /// The `image` crate's format, for the formats it decodes.
    fn image_format(self) -> Option<ImageFormat> {
        Some(match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Gif => ImageFormat::Gif,
            Format::Bmp => ImageFormat::Bmp,
            Format::Tiff => ImageFormat::Tiff,
            Format::WebP => ImageFormat::WebP,
            Format::Heif => return None,
        })
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `len` bytes of `buf` (grown as needed, contents unspecified) starting 16 bytes off a 32-byte
/// boundary: where a JPEG row should be decoded. libjpeg-turbo's AVX2 colour conversion writes
/// a 32-byte-aligned row with non-temporal stores, which send it past the caches to memory, so
/// that whoever reads the row next waits on DRAM for every line of it.
pub(crate) fn row_off_alignment(buf: &mut Vec<u8>, len: usize) -> &mut [u8] {
    if buf.len() < len + 48 {
        buf.resize(len + 48, 0);
    }
    let at = (48 - buf.as_ptr() as usize % 32) % 32;
    &mut buf[at..at + len]
}

/// The supported image format of `bytes`, from magic bytes only.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(Format::Gif)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else if bytes.starts_with(b"II*\0")
        || bytes.starts_with(b"MM\0*")
        || bytes.starts_with(b"II+\0")
        || bytes.starts_with(b"MM\0+")
    {
        Some(Format::Tiff)
    } else if is_bmp(bytes) {
        Some(Format::Bmp)
    } else if heif::is_heif(bytes) {
        Some(Format::Heif)
    } else {
        None
    }
}

/// "BM" alone is too weak (any text starting with "BM"), so also require a known DIB header size.
fn is_bmp(bytes: &[u8]) -> bool {
    if bytes.len() < 18 || !bytes.starts_with(b"BM") {
        return false;
    }
    let dib = u32::from_le_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]);
    matches!(dib, 12 | 16 | 40 | 52 | 56 | 64 | 108 | 124)
}

/// A short name for what `bytes` look like, images and common non-image types alike.
///
/// Used to explain a "not an image" disposition ("looks like pdf"). Covers the supported image
/// formats, images in formats nearmatch does not decode, archives, documents, executables and
/// text. `None` when nothing is recognised.
pub fn describe(bytes: &[u8]) -> Option<&'static str> {
    if let Some(f) = sniff(bytes) {
        return Some(f.name());
    }
    if bytes.is_empty() {
        return Some("empty file");
    }
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF-", "pdf"),
        (b"PK\x03\x04", "zip archive (or docx/xlsx/odt/jar/apk)"),
        (b"PK\x05\x06", "zip archive (empty)"),
        (b"\x1f\x8b", "gzip"),
        (b"BZh", "bzip2"),
        (b"\xfd7zXZ\0", "xz"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"7z\xbc\xaf\x27\x1c", "7z archive"),
        (b"Rar!\x1a\x07", "rar archive"),
        (b"\x7fELF", "elf executable"),
        (b"MZ", "windows executable"),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "ms office (ole2) document",
        ),
        (b"SQLite format 3\0", "sqlite database"),
        (b"OggS", "ogg media"),
        (b"ID3", "mp3 audio"),
        (b"fLaC", "flac audio"),
        (b"\x1a\x45\xdf\xa3", "matroska/webm video"),
        (b"8BPS", "photoshop image (unsupported)"),
        (b"\0\0\x01\0", "ico image (unsupported)"),
        (b"\0\0\0\x0cjP  \r\n\x87\n", "jpeg 2000 image (unsupported)"),
        (b"\xff\x4f\xff\x51", "jpeg 2000 codestream (unsupported)"),
        (b"\xff\x0a", "jpeg xl image (unsupported)"),
        (b"\0\0\0\x0cJXL \r\n\x87\n", "jpeg xl image (unsupported)"),
        (b"qoif", "qoi image (unsupported)"),
        (b"#?RADIANCE", "hdr image (unsupported)"),
        (b"\x76\x2f\x31\x01", "openexr image (unsupported)"),
        (b"{\\rtf", "rtf document"),
    ];
    for (magic, name) in MAGIC {
        if bytes.starts_with(magic) {
            return Some(name);
        }
    }
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" {
        return Some(match &bytes[8..12] {
            b"WAVE" => "wav audio",
            b"AVI " => "avi video",
            _ => "riff container",
        });
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some(match &bytes[8..12] {
            b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => {
                "heif/heic image"
            }
            b"avif" | b"avis" => "avif image",
            b"crx " => "canon raw image (unsupported)",
            b"qt  " => "quicktime video",
            _ => "mp4/quicktime media",
        });
    }
    looks_like_text(bytes)
}

/// Text, markup or not: valid UTF-8 (or UTF-16 with a BOM) without control bytes in the head.
fn looks_like_text(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Some("utf-16 text");
    }
    let head = &bytes[..bytes.len().min(4096)];
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        // The cut may split a multi-byte character: accept an error in the last 3 bytes.
        Err(e) if e.error_len().is_none() && head.len() - e.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    if text
        .bytes()
        .any(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C))
    {
        return None;
    }
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let lower: String = start
        .chars()
        .take(64)
        .collect::<String>()
        .to_ascii_lowercase();
    Some(
        if lower.starts_with("<svg") || (lower.starts_with("<?xml") && text.contains("<svg")) {
            "svg image (unsupported)"
        } else if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
            "html"
        } else if lower.starts_with("<?xml") {
            "xml"
        } else if lower.starts_with('{') || lower.starts_with('[') {
            "json or text"
        } else {
            "text"
        },
    )
}

/// Caps on what an image header may claim, checked before any pixel buffer is allocated.
///
/// The defaults take any real photograph (a 100 MP medium-format frame is 11648x8736; stitched
/// panoramas reach ~200 MP) and refuse decompression bombs, such as a 100,000 x 100,000 header
/// on a few bytes of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest width in pixels.
    pub max_width: u32,
    /// Largest height in pixels.
    pub max_height: u32,
    /// Largest `width * height`.
    pub max_pixels: u64,
    /// Largest allocation a decoder may make for one image, in bytes.
    pub max_alloc_bytes: u64,
}

impl Default for Limits {
    /// Max side 65,535 (JPEG's own limit; WebP stops at 16,383), max 250 MP (a 2.5x margin over
    /// 100 MP cameras; 750 MB as RGB8), and 3 GiB per decode (a 250 MP image passes through RGBA8
    /// at 1 GB plus the RGB8 result in some decoders; 16-bit RGBA at that size is refused).
    fn default() -> Self {
        Limits {
            max_width: 65_535,
            max_height: 65_535,
            max_pixels: 250_000_000,
            max_alloc_bytes: 3 << 30,
        }
    }
}

impl Limits {
    /// No limits at all: only for trusted input.
    pub fn none() -> Self {
        Limits {
            max_width: u32::MAX,
            max_height: u32::MAX,
            max_pixels: u64::MAX,
            max_alloc_bytes: u64::MAX,
        }
    }

    /// Errors with [`Error::LimitExceeded`] naming the dimensions if `width x height` is too big.
    pub fn check(&self, width: u32, height: u32) -> Result<()> {
        let pixels = width as u64 * height as u64;
        // The smallest buffer any decode of this image needs: the RGB8 result.
        let bytes = pixels.saturating_mul(3);
        let why = if width > self.max_width {
            format!("width {width} > {}", self.max_width)
        } else if height > self.max_height {
            format!("height {height} > {}", self.max_height)
        } else if pixels > self.max_pixels {
            format!("{pixels} pixels > {}", self.max_pixels)
        } else if bytes > self.max_alloc_bytes {
            format!("{bytes} bytes > {}", self.max_alloc_bytes)
        } else {
            return Ok(());
        };
        Err(Error::LimitExceeded(format!("{width}x{height}: {why}")))
    }

    fn to_image_limits(self) -> image::Limits {
        let mut l = image::Limits::default();
        l.max_image_width = Some(self.max_width);
        l.max_image_height = Some(self.max_height);
        l.max_alloc = Some(self.max_alloc_bytes);
        l
    }
}

/// A decoded image and the format it was decoded from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    /// The pixels (see the module docs for the conversions applied).
    pub image: Image,
    /// The format sniffed from the magic bytes.
    pub format: Format,
}

/// The format and (width, height) from the header alone, without decoding pixels.
pub fn probe(bytes: &[u8]) -> Result<(Format, u32, u32)> {
    let format = sniff(bytes).ok_or_else(|| not_an_image(bytes))?;
    let (w, h) = guarded(format, || dimensions(bytes, format))?;
    Ok((format, w, h))
}

/// Decodes `bytes` (any supported format, sniffed by magic bytes) to pixels.
///
/// Errors: [`Error::NotAnImage`] if the magic bytes are not those of a supported format,
/// [`Error::LimitExceeded`] if the header claims more than `limits` allow (checked before
/// decoding), [`Error::Unsupported`] for a feature refused on purpose (TIFF CIELab, 12-bit
/// JPEG),
/// [`Error::Decode`] for malformed or truncated data (including decoder panics).
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded> {
    let format = sniff(bytes).ok_or_else(|| not_an_image(bytes))?;
    let image = guarded(format, || {
        let (w, h) = dimensions(bytes, format)?;
        limits.check(w, h)?;
        match format {
            Format::Jpeg => jpeg::decode(bytes, 1, limits),
            Format::Heif => heif::decode(bytes, limits),
            _ => decode_with_image(bytes, format, limits),
        }
    })?;
    Ok(Decoded { image, format })
}

/// Calls `visit` with each image a HEIF file holds besides its primary image (which [`decode`]
/// returns): the other top-level images of a burst or collection, named `image/N` by their
/// index among the file's top-level images (the frame index `pillow-heif` gives them), and
/// the thumbnails (`thumbnail/K` of the primary image, `image/N/thumbnail/K` of the others),
/// each decoded as [`decode`] decodes the primary image and checked against `limits`. A
/// damaged image is an `Err` passed to `visit`; `visit` returns `false` to stop. Errors: the
/// file cannot be parsed as HEIF.
///
/// ```
/// use nearmatch::decode::{heif_secondary_images, Limits};
/// // Not a HEIF file: an error, and nothing visited.
/// let mut seen = 0;
/// let r = heif_secondary_images(b"not heif", &Limits::default(), &mut |_, _| {
///     seen += 1;
///     true
/// });
/// assert!(r.is_err());
/// assert_eq!(seen, 0);
/// ```
pub fn heif_secondary_images(
    bytes: &[u8],
    limits: &Limits,
    visit: &mut dyn FnMut(String, Result<Image>) -> bool,
) -> Result<()> {
    heif::secondary_images(bytes, limits, visit)
}

/// Whether a TIFF holds more than one page (its first IFD has a next IFD): the header and the
/// first IFD are read, nothing is decoded. `false` for anything else.
///
/// ```
/// // A classic little-endian header whose first IFD (at 8) has no entries and no next IFD.
/// let one = b"II*\0\x08\0\0\0\0\0\0\0\0\0";
/// assert!(!nearmatch::decode::tiff_has_pages(one));
/// assert!(!nearmatch::decode::tiff_has_pages(b"not a tiff"));
/// ```
pub fn tiff_has_pages(bytes: &[u8]) -> bool {
    self::tiff::has_pages(bytes)
}

/// Calls `visit` with each page of a multi-page TIFF after the first (which [`decode`]
/// returns), named `page/N` with N the index Pillow's `Image.seek` gives it (every IFD of the
/// main chain, reduced-resolution ones included), each decoded exactly as [`decode`] decodes
/// the first page and checked against `limits`. A damaged page is an `Err` passed to `visit`;
/// `visit` returns `false` to stop. Errors: the header cannot be read, or the IFD chain loops
/// back on itself (the pages before the loop were visited; Pillow stops at the same place).
///
/// ```
/// use nearmatch::decode::{tiff_pages, Limits};
/// // One IFD whose next-IFD offset points at itself: no page after the first, and the loop
/// // is reported.
/// let looped = b"II*\0\x08\0\0\0\0\0\x08\0\0\0";
/// let mut seen = 0;
/// let r = tiff_pages(looped, &Limits::default(), &mut |_, _| {
///     seen += 1;
///     true
/// });
/// assert!(r.unwrap_err().to_string().contains("IFD loop"));
/// assert_eq!(seen, 0);
/// ```
pub fn tiff_pages(
    bytes: &[u8],
    limits: &Limits,
    visit: &mut dyn FnMut(String, Result<Image>) -> bool,
) -> Result<()> {
    if sniff(bytes) != Some(Format::Tiff) {
        return Err(not_an_image(bytes));
    }
    guarded(Format::Tiff, || {
        self::tiff::pages(bytes, &mut |n, page| {
            let image = page.and_then(|p| {
                guarded(Format::Tiff, || self::tiff::decode_page(p, limits)).map_err(|e| match e {
                    Error::Decode { format, reason } => Error::Decode {
                        format,
                        reason: format!("page {n}: {reason}"),
                    },
                    other => other,
                })
            });
            visit(format!("page/{n}"), image)
        })
    })
}

/// The Exif block of a HEIF file's primary image, as TIFF bytes (from the byte-order mark, the
/// form `exif` readers take raw), if it has one; `None` for other files.
///
/// ```
/// assert!(nearmatch::decode::heif_exif(b"not heif").is_none());
/// ```
pub fn heif_exif(bytes: &[u8]) -> Option<Vec<u8>> {
    heif::exif(bytes)
}

/// Decodes a JPEG reduced by `scale_denom` (1, 2, 4 or 8) in the IDCT, which is much cheaper
/// than decoding at full size and resizing. Output sides are `ceil(side / scale_denom)`.
///
/// Meant for hashes that shrink the image anyway; the pixels are not those of any reference, so
/// reference-exact hashes must use [`decode`]. Non-JPEG input is an [`Error::InvalidArgument`].
pub fn decode_jpeg_scaled(bytes: &[u8], scale_denom: u8, limits: &Limits) -> Result<Decoded> {
    if !matches!(scale_denom, 1 | 2 | 4 | 8) {
        return Err(Error::InvalidArgument(format!(
            "JPEG scale denominator must be 1, 2, 4 or 8, not {scale_denom}"
        )));
    }
    match sniff(bytes) {
        Some(Format::Jpeg) => {}
        Some(other) => {
            return Err(Error::InvalidArgument(format!(
                "scaled decoding needs a JPEG, got {other}"
            )))
        }
        None => return Err(not_an_image(bytes)),
    }
    let image = guarded(Format::Jpeg, || {
        let (w, h) = dimensions(bytes, Format::Jpeg)?;
        // The limits protect memory: what matters is the scaled output.
        let d = scale_denom as u32;
        limits.check(w.div_ceil(d), h.div_ceil(d))?;
        jpeg::decode(bytes, scale_denom, limits)
    })?;
    Ok(Decoded {
        image,
        format: Format::Jpeg,
    })
}

/// The header dimensions, read without decoding pixels.
fn dimensions(bytes: &[u8], format: Format) -> Result<(u32, u32)> {
    if format == Format::Jpeg {
        return jpeg::dimensions(bytes);
    }
    if format == Format::Heif {
        return heif::dimensions(bytes);
    }
    // The image crate's TIFF reader refuses palette, YCbCr, ... before it reports dimensions.
    if format == Format::Tiff {
        return self::tiff::dimensions(bytes);
    }
    // PNG's first chunk is always IHDR (width, height at bytes 16..24). Read it directly: the
    // png crate reads on to the first IDAT before it reports dimensions, so a header-only bomb
    // (huge IHDR, no data) would surface as a decode error instead of the limit it breaks.
    if format == Format::Png && bytes.len() >= 24 && &bytes[12..16] == b"IHDR" {
        let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        return Ok((be(16), be(20)));
    }
    let Some(image_format) = format.image_format() else {
        return Err(Error::Decode {
            format: format.name(),
            reason: "no header reader".into(),
        });
    };
    ImageReader::with_format(Cursor::new(bytes), image_format)
        .into_dimensions()
        .map_err(|e| image_error(format, e))
}

fn not_an_image(bytes: &[u8]) -> Error {
    Error::NotAnImage(describe(bytes).map(str::to_owned))
}

/// Runs a decoder, turning a panic into [`Error::Decode`]: decoders of untrusted input have a
/// history of panicking on malformed data, and one bad file must not end a scan.
fn guarded<T>(format: Format, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(Error::Decode {
                format: format.name(),
                reason: format!("decoder panicked: {msg}"),
            })
        }
    }
}

fn image_error(format: Format, e: ImageError) -> Error {
    match e {
        ImageError::Limits(l) => Error::LimitExceeded(l.to_string()),
        other => Error::Decode {
            format: format.name(),
            reason: other.to_string(),
        },
    }
}

/// PNG, GIF, BMP, TIFF and WebP through the `image` crate (TIFFs it refuses through
/// `decode/tiff.rs`).
fn decode_with_image(bytes: &[u8], format: Format, limits: &Limits) -> Result<Image> {
    let Some(image_format) = format.image_format() else {
        return Err(Error::Decode {
            format: format.name(),
            reason: "not decoded by the image crate".into(),
        });
    };
    if format == Format::Tiff {
        return self::tiff::decode_page(self::tiff::Page::first(bytes), limits);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), image_format);
    // Second line of defence: the decoders that honour max_alloc also cap their scratch buffers.
    reader.limits(limits.to_image_limits());
    let img = reader.decode().map_err(|e| image_error(format, e))?;
    from_dynamic(img)
}

/// Reduces `image`'s pixel types to our layouts the way Pillow's `convert('RGB')`/`('L')` does.
fn from_dynamic(img: DynamicImage) -> Result<Image> {
    let (w, h) = (img.width(), img.height());
    let layout = match img {
        DynamicImage::ImageLuma8(b) => Layout::Gray8(b.into_raw()),
        DynamicImage::ImageLumaA8(b) => {
            Layout::Gray8(b.into_raw().chunks_exact(2).map(|p| p[0]).collect())
        }
        DynamicImage::ImageRgb8(b) => Layout::Rgb8(b.into_raw()),
        DynamicImage::ImageRgba8(b) => Layout::Rgb8(drop_alpha(&b.into_raw())),
        DynamicImage::ImageLuma16(b) => Layout::Gray16(b.into_raw()),
        // Pillow reads 16-bit grey+alpha PNGs through the `LA;16B` raw mode: the high byte.
        DynamicImage::ImageLumaA16(b) => Layout::Gray8(
            b.into_raw()
                .chunks_exact(2)
                .map(|p| (p[0] >> 8) as u8)
                .collect(),
        ),
        DynamicImage::ImageRgb16(b) => {
            Layout::Rgb8(b.into_raw().iter().map(|&v| (v >> 8) as u8).collect())
        }
        DynamicImage::ImageRgba16(b) => Layout::Rgb8(
            b.into_raw()
                .chunks_exact(4)
                .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
                .collect(),
        ),
        // Float images (none of the enabled decoders produce them today) and future variants.
        other => Layout::Rgb8(other.to_rgb8().into_raw()),
    };
    Image::new(w, h, layout)
}

fn drop_alpha(rgba: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rgba.len() / 4 * 3);
    for p in rgba.chunks_exact(4) {
        out.extend_from_slice(&p[..3]);
    }
    out
}

/// Pillow's CMYK → RGB (`cmyk2rgb` in `Convert.c`): `X = (255 - K) - (C * (255 - K)) / 255` with
/// Pillow's rounded `MULDIV255`. Input is CMYK in Pillow's polarity (0 = no ink).
///
/// ```
/// // No ink is white; full black ink is black whatever the other inks.
/// assert_eq!(nearmatch::decode::cmyk_to_rgb(&[0, 0, 0, 0, 9, 9, 9, 255]), [255, 255, 255, 0, 0, 0]);
/// ```
pub fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    fn muldiv255(a: u32, b: u32) -> u32 {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    }
    let mut out = Vec::with_capacity(cmyk.len() / 4 * 3);
    for p in cmyk.chunks_exact(4) {
        let nk = 255 - p[3] as u32;
        for &c in &p[..3] {
            out.push((nk - muldiv255(c as u32, nk)) as u8);
        }
    }
    out
}
