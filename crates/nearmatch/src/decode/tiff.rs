//! The TIFFs the `image` crate refuses, decoded with the `tiff` crate and converted as Pillow
//! converts them (issue #21): grey+alpha, palette (with or without alpha), YCbCr, 32-bit signed
//! integer (`I`) and 32-bit float (`F`) grey; and JPEG-in-TIFF in strips or tiles, each
//! decoded by libjpeg-turbo as libtiff has libjpeg decode them for Pillow. Every other TIFF
//! goes to the `image` crate. Every page of a multi-page TIFF is decoded the same way
//! (`Page`: the header's first-IFD offset read as the page's).
//!
//! What each becomes, so that `pdqhash` on Pillow's `convert("RGB")` and `imagehash` on the
//! Pillow image are matched:
//!
//! * grey+alpha (`LA`): the grey sample; 16-bit keeps its high byte (as 16-bit PNGs);
//!   JPEG-compressed (a 2-component JPEG, which the `tiff` crate decodes wrong) through
//!   libjpeg-turbo's libjpeg API with libjpeg's defaults for it, as libtiff decodes it;
//! * palette (`P`, `PA`): the colormap's RGB, each 16-bit entry reduced to `v >> 8` (Pillow's
//!   `TiffImagePlugin`); alpha dropped. Pillow's P→L is the `L24` of the palette colour, which
//!   is what [`crate::hash::luma`] computes from the expanded RGB;
//! * YCbCr, uncompressed: Pillow reads it as mode `YCbCr`; `convert("RGB")` uses the
//!   fixed-point tables of `ConvertYCbCr.c` ([`pillow_ycbcr_to_rgb`]), `convert("L")` takes
//!   the Y channel, which is attached to the RGB image ([`Image::with_pil_l`]) for `imagehash`;
//! * YCbCr, compressed (LZW, Deflate, PackBits, ...) but not JPEG: Pillow lets libtiff convert
//!   it (`TIFFReadRGBA*`), with libtiff's own tables ([`YcbcrTables`]), honouring the
//!   `YCbCrCoefficients` and `ReferenceBlackWhite` tags;
//! * JPEG-in-TIFF in strips or tiles (grey, grey+alpha, RGB, YCbCr at any chroma
//!   subsampling): each strip or tile is a JPEG (with the `JPEGTables` stream spliced in front)
//!   decoded by `decode/jpeg.rs`, libjpeg-turbo with libjpeg's defaults, which is what libtiff
//!   does for Pillow (YCbCr → RGB and chroma upsampling by libjpeg; a tile decoded whole,
//!   padding included, then cropped); the `tiff` crate's zune-jpeg, which the `image` crate
//!   used, is a level off here and there. Without libjpeg-turbo (or for a block it rejects),
//!   tiled JPEG YCbCr goes through zune-jpeg and libjpeg's colour tables
//!   ([`YcbcrTables::libjpeg`]), near rather than exact, 1x1 chroma only;
//! * `I` (32-bit signed): clipped to 0..65535 and kept as 16-bit grey, as the Python module
//!   takes PIL `I` images: both references then clip at 255 (Pillow's `i2l`/`i2rgb`);
//! * `F` (32-bit float): Pillow's `f2l`, `v <= 0 → 0`, `v >= 255 → 255`, else truncated (NaN → 0).
//!
//! CIELab TIFFs (8-bit, 3 samples): Pillow opens them as mode `LAB` and converts that to RGB
//! through LittleCMS (`ImageCms`, Lab D50 → sRGB), which [`super::lab`] reproduces with the
//! system's LittleCMS; `imagehash` cannot hash them at all (Pillow has no LAB → L conversion),
//! so the imagehash family hashes that RGB picture too. JPEG-compressed, ICC and ITU Lab are
//! refused with [`Error::Unsupported`].
//!
//! Palette images are read by the `tiff` crate with their photometric interpretation patched to
//! BlackIsZero as the bytes are read (the crate refuses palettes), which makes it return the raw
//! indices; the colormap is read from the tags.

use std::io::{Cursor, Read, Seek, SeekFrom};

use ::tiff::decoder::{Decoder, DecodingResult};
use ::tiff::tags::Tag;
use ::tiff::TiffError;

use super::Limits;
use crate::error::{Error, Result};
use crate::pixels::{Image, Layout};

const PHOTOMETRIC: u16 = 262;
const BLACK_IS_ZERO: u16 = 1;
const RGB_PALETTE: u16 = 3;
const YCBCR: u16 = 6;
const CIELAB: u16 = 8;
const ICCLAB: u16 = 9;
const ITULAB: u16 = 10;

/// What the first image of a TIFF is, from its tags.
#[derive(Debug)]
struct Header {
    photometric: u16,
    compression: u16,
    samples: u16,
    bits: u16,
    /// SampleFormat: 1 unsigned, 2 signed, 3 IEEE float.
    sample_format: u16,
    planar: u16,
}

fn tiff_error(e: TiffError) -> Error {
    match e {
        TiffError::LimitsExceeded => Error::LimitExceeded("TIFF decoder limits".into()),
        other => Error::Decode {
            format: "tiff",
            reason: other.to_string(),
        },
    }
}

fn decode_error(reason: impl Into<String>) -> Error {
    Error::Decode {
        format: "tiff",
        reason: reason.into(),
    }
}

fn unsupported(feature: impl Into<String>) -> Error {
    Error::Unsupported {
        format: "tiff",
        feature: feature.into(),
    }
}

/// A TIFF's bytes as one of its images sees them: the file itself (its first image), or the
/// file with the header's first-IFD offset pointing at a later page's IFD, so that every
/// decoder here (and the `image` crate's) reads that page as if it were the first, without a
/// copy of the file.
#[derive(Clone, Copy, Debug)]
pub(super) struct Page<'a> {
    bytes: &'a [u8],
    /// The IFD offset written over the header's, with the width of that field (4 classic, 8
    /// BigTIFF) and the byte order; `None` for the first image.
    ifd: Option<(u64, bool, bool)>,
    /// Where this page's next-IFD offset lies, to be read as 0: the page is decoded alone,
    /// and the `tiff` crate refuses an IFD whose next offset points back at itself (a loop
    /// Pillow ends silently, decoding the page).
    next_at: Option<(u64, bool)>,
}

impl<'a> Page<'a> {
    /// The file's first image.
    pub(super) fn first(bytes: &'a [u8]) -> Self {
        // Only a first IFD pointing at itself needs its next offset hidden.
        let next_at = TiffHeader::parse(bytes).and_then(|h| {
            let ifd = h.ifd(bytes, h.first_ifd)?;
            (ifd.next == h.first_ifd).then_some((ifd.next_at as u64, h.big))
        });
        Page {
            bytes,
            ifd: None,
            next_at,
        }
    }

    /// The file's bytes, as read by this page's decoders, with `extra` bytes replaced too.
    fn reader(&self, extra: Option<(u64, Vec<u8>)>) -> Patched<'a> {
        let mut patches = Vec::new();
        if let Some((ifd, big, le)) = self.ifd {
            patches.push(if big {
                (
                    8,
                    if le {
                        ifd.to_le_bytes()
                    } else {
                        ifd.to_be_bytes()
                    }
                    .to_vec(),
                )
            } else {
                let v = ifd as u32;
                (
                    4,
                    if le { v.to_le_bytes() } else { v.to_be_bytes() }.to_vec(),
                )
            });
        }
        if let Some((at, big)) = self.next_at {
            patches.push((at, vec![0; if big { 8 } else { 4 }]));
        }
        patches.extend(extra);
        Patched {
            cur: Cursor::new(self.bytes),
            patches,
        }
    }

    /// The offset of this page's IFD; `None` if the header is not a TIFF header.
    fn ifd_offset(&self) -> Option<u64> {
        match self.ifd {
            Some((at, _, _)) => Some(at),
            None => TiffHeader::parse(self.bytes).map(|h| h.first_ifd),
        }
    }
}

fn open<'a>(page: Page<'a>, limits: &Limits) -> Result<Decoder<Patched<'a>>> {
    open_reader(page.reader(None), limits)
}

fn open_reader<R: Read + Seek>(r: R, limits: &Limits) -> Result<Decoder<R>> {
    let mut l = ::tiff::decoder::Limits::default();
    let cap = usize::try_from(limits.max_alloc_bytes).unwrap_or(usize::MAX);
    l.decoding_buffer_size = cap;
    l.intermediate_buffer_size = cap;
    Ok(Decoder::new(r).map_err(tiff_error)?.with_limits(l))
}

/// The file's bytes with a few of them replaced as they are read (a later page's IFD offset in
/// the header, an IFD's PhotometricInterpretation), so that a patched file costs no copy.
pub(super) struct Patched<'a> {
    cur: Cursor<&'a [u8]>,
    /// (offset, replacement bytes)
    patches: Vec<(u64, Vec<u8>)>,
}

impl Read for Patched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let pos = self.cur.position();
        let n = self.cur.read(buf)?;
        for (at, value) in &self.patches {
            for (k, &v) in value.iter().enumerate() {
                let p = at + k as u64;
                if p >= pos && p < pos + n as u64 {
                    buf[(p - pos) as usize] = v;
                }
            }
        }
        Ok(n)
    }
}

impl Seek for Patched<'_> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.cur.seek(to)
    }
}

/// Width and height of the first image, from its tags (the `image` crate's reader refuses the
/// colour types this module decodes before it reports dimensions).
pub(super) fn dimensions(bytes: &[u8]) -> Result<(u32, u32)> {
    open(Page::first(bytes), &Limits::default())?
        .dimensions()
        .map_err(tiff_error)
}

fn header<R: std::io::Read + std::io::Seek>(d: &mut Decoder<R>) -> Result<Header> {
    let first =
        |v: Option<Vec<u16>>, default: u16| v.and_then(|v| v.first().copied()).unwrap_or(default);
    let photometric = d
        .find_tag_unsigned::<u16>(Tag::PhotometricInterpretation)
        .map_err(tiff_error)?
        .ok_or_else(|| decode_error("no PhotometricInterpretation tag"))?;
    let compression = d
        .find_tag_unsigned::<u16>(Tag::Compression)
        .map_err(tiff_error)?
        .unwrap_or(1);
    let samples = d
        .find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
        .map_err(tiff_error)?
        .unwrap_or(1);
    let bits = first(
        d.find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
            .map_err(tiff_error)?,
        1,
    );
    let sample_format = first(
        d.find_tag_unsigned_vec::<u16>(Tag::SampleFormat)
            .map_err(tiff_error)?,
        1,
    );
    let planar = d
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(tiff_error)?
        .unwrap_or(1);
    Ok(Header {
        photometric,
        compression,
        samples,
        bits,
        sample_format,
        planar,
    })
}

/// Decodes `bytes` if it is one of the TIFFs this module handles, `Ok(None)` otherwise (the
/// caller then uses the `image` crate). The caller has checked the dimensions against `limits`.
pub(super) fn decode(page: Page<'_>, limits: &Limits) -> Result<Option<Image>> {
    let bytes = page.bytes;
    let mut d = open(page, limits)?;
    // Tags this module cannot read (no photometric interpretation, odd value types): the
    // `image` crate decides, as before this module existed.
    let Ok(h) = header(&mut d) else {
        return Ok(None);
    };
    let (w, ht) = d.dimensions().map_err(tiff_error)?;
    let pixels = w as usize * ht as usize;
    if h.compression == 7 && h.planar == 1 {
        let grey_alpha = (h.photometric, h.samples, h.bits) == (BLACK_IS_ZERO, 2, 8);
        let libjpeg = grey_alpha
            || matches!(
                (h.photometric, h.samples, h.bits),
                (BLACK_IS_ZERO, 1, 8) | (2, 3, 8) | (YCBCR, 3, 8)
            );
        if libjpeg {
            match decode_jpeg_blocks(bytes, &mut d, w, ht, grey_alpha, limits) {
                Ok(Some(img)) => return Ok(Some(img)),
                Err(e @ Error::LimitExceeded(_)) => return Err(e),
                // Nothing else reads a 2-component JPEG right: its error stands.
                Err(e) if grey_alpha => return Err(e),
                // Blocks libjpeg-turbo rejects (quirky tables), or no libjpeg-turbo: the
                // `tiff` crate's own JPEG path below, as before (near rather than exact).
                Ok(None) | Err(_) => {}
            }
        }
    }
    match h.photometric {
        // Pillow opens 8-bit 3-sample CIELab (mode LAB) and converts it to RGB through
        // LittleCMS; the ICC and ITU Lab encodings, and other layouts, it does not open.
        CIELAB if (h.samples, h.bits, h.planar) == (3, 8, 1) && h.compression != 7 => {
            // The samples, raw: read as RGB, which the `tiff` crate passes through.
            let patched = with_photometric(page, 2)?;
            let mut d = open_reader(patched, limits)?;
            let raw = match d.read_image().map_err(tiff_error)? {
                DecodingResult::U8(v) => v,
                _ => return Err(decode_error("CIELab samples are not bytes")),
            };
            if raw.len() != pixels * 3 {
                return Err(decode_error(format!(
                    "CIELab image holds {} bytes, {pixels} pixels need {}",
                    raw.len(),
                    pixels * 3
                )));
            }
            let rgb = super::lab::lab_to_rgb(&raw)?;
            Image::new(w, ht, Layout::Rgb8(rgb)).map(Some)
        }
        CIELAB if h.compression == 7 => Err(unsupported(
            "JPEG-compressed CIELab (libtiff has libjpeg decode it without colour conversion \
             for Pillow; not reproduced here)",
        )),
        CIELAB => Err(unsupported(format!(
            "CIELab with {} samples of {} bits{} (Pillow opens 3 interleaved samples of 8 bits)",
            h.samples,
            h.bits,
            if h.planar == 1 { "" } else { ", planar" },
        ))),
        ICCLAB | ITULAB => Err(unsupported(format!(
            "{} Lab colour (Pillow does not open it)",
            if h.photometric == ICCLAB {
                "ICC"
            } else {
                "ITU"
            }
        ))),
        RGB_PALETTE => {
            if h.samples == 0 || h.samples > 2 || !matches!(h.bits, 1 | 2 | 4 | 8) {
                return Err(unsupported(format!(
                    "palette with {} samples of {} bits",
                    h.samples, h.bits
                )));
            }
            if h.samples > 1 && h.planar != 1 {
                return Err(unsupported("planar palette+alpha"));
            }
            let colormap = d
                .find_tag_unsigned_vec::<u16>(Tag::ColorMap)
                .map_err(tiff_error)?
                .ok_or_else(|| decode_error("palette image without a ColorMap"))?;
            if colormap.len() != 3 << h.bits {
                return Err(decode_error(format!(
                    "ColorMap has {} entries, {} bits per sample need {}",
                    colormap.len(),
                    h.bits,
                    3 << h.bits
                )));
            }
            let patched = with_photometric(page, BLACK_IS_ZERO)?;
            let mut d = open_reader(patched, limits)?;
            let raw = match d.read_image().map_err(tiff_error)? {
                DecodingResult::U8(v) => v,
                _ => return Err(decode_error("palette samples are not bytes")),
            };
            let indices = unpack(&raw, w, ht, h.bits, h.samples)?;
            let rgb = palette_to_rgb(&indices, &colormap);
            Image::new(w, ht, Layout::Rgb8(rgb)).map(Some)
        }
        YCBCR if !matches!(h.compression, 6 | 7) => {
            if h.samples != 3 || h.bits != 8 {
                return Err(unsupported(format!(
                    "YCbCr with {} samples of {} bits",
                    h.samples, h.bits
                )));
            }
            let mut ycc = match d.read_image() {
                Ok(DecodingResult::U8(v)) => v,
                Ok(_) => return Err(decode_error("YCbCr samples are not bytes")),
                Err(TiffError::UnsupportedError(
                    ::tiff::TiffUnsupportedError::ChromaSubsampling,
                )) => {
                    return Err(unsupported(
                        "chroma-subsampled YCbCr without JPEG compression",
                    ))
                }
                Err(e) => return Err(tiff_error(e)),
            };
            check_len(&ycc, pixels * 3)?;
            ycc.truncate(pixels * 3);
            if h.compression == 1 {
                // Pillow's image is mode YCbCr: its convert('L') is the Y channel.
                let y: Vec<u8> = ycc.chunks_exact(3).map(|p| p[0]).collect();
                pillow_ycbcr_to_rgb(&mut ycc);
                return Image::new(w, ht, Layout::Rgb8(ycc))?
                    .with_pil_l(y)
                    .map(Some);
            } else {
                let luma = tag_floats(&mut d, 529)?;
                let ref_bw = tag_floats(&mut d, 532)?;
                YcbcrTables::libtiff(luma.as_deref(), ref_bw.as_deref()).convert(&mut ycc);
            }
            Image::new(w, ht, Layout::Rgb8(ycc)).map(Some)
        }
        // Tiled JPEG-in-TIFF YCbCr (strips were decoded above): Pillow has libtiff ask libjpeg
        // for RGB (JPEGCOLORMODE_RGB). The tiff crate's JPEG decoder returns the YCbCr samples,
        // converted here with libjpeg's tables. Its chroma upsampling is not libjpeg's, so
        // subsampled files are refused.
        YCBCR if h.compression == 7 => {
            let sub = d
                .find_tag_unsigned_vec::<u16>(Tag::ChromaSubsampling)
                .map_err(tiff_error)?
                .unwrap_or_else(|| vec![2, 2]);
            if h.samples != 3 || h.bits != 8 || sub != [1, 1] {
                return Err(unsupported(format!(
                    "JPEG-compressed YCbCr with {} samples of {} bits, chroma subsampling {sub:?} \
                     (only 3 x 8 bits, 1x1 is decoded as libjpeg would)",
                    h.samples, h.bits
                )));
            }
            let mut ycc = match d.read_image().map_err(tiff_error)? {
                DecodingResult::U8(v) => v,
                _ => return Err(decode_error("YCbCr samples are not bytes")),
            };
            check_len(&ycc, pixels * 3)?;
            ycc.truncate(pixels * 3);
            YcbcrTables::libjpeg().convert(&mut ycc);
            Image::new(w, ht, Layout::Rgb8(ycc)).map(Some)
        }
        // Grey (BlackIsZero) with extra samples: grey+alpha.
        BLACK_IS_ZERO if h.samples >= 2 && matches!(h.bits, 8 | 16) && h.sample_format == 1 => {
            if h.planar != 1 {
                return Err(unsupported("planar grey+alpha"));
            }
            if h.compression == 7 {
                // 8-bit JPEG grey+alpha was decoded by libjpeg-turbo above; what is left (no
                // libjpeg-turbo in this build, or 16 bits) would go to the tiff crate's
                // decoder, which returns wrong samples for a 2-component JPEG (PDQ 132 bits
                // from Pillow's): refused rather than hashed wrong.
                return Err(unsupported(format!(
                    "JPEG-compressed grey+alpha of {} bits{}",
                    h.bits,
                    if cfg!(feature = "turbojpeg") {
                        ""
                    } else {
                        " (needs the turbojpeg feature)"
                    }
                )));
            }
            let n = h.samples as usize;
            let grey: Vec<u8> = match d.read_image().map_err(tiff_error)? {
                DecodingResult::U8(v) => {
                    check_len(&v, pixels * n)?;
                    v.chunks_exact(n).take(pixels).map(|p| p[0]).collect()
                }
                DecodingResult::U16(v) => {
                    check_len(&v, pixels * n)?;
                    v.chunks_exact(n)
                        .take(pixels)
                        .map(|p| (p[0] >> 8) as u8)
                        .collect()
                }
                _ => return Err(decode_error("unexpected grey+alpha sample type")),
            };
            Image::new(w, ht, Layout::Gray8(grey)).map(Some)
        }
        BLACK_IS_ZERO if h.samples == 1 && h.bits == 32 && h.sample_format == 2 => {
            let v = match d.read_image().map_err(tiff_error)? {
                DecodingResult::I32(v) => v,
                _ => return Err(decode_error("unexpected 32-bit integer sample type")),
            };
            check_len(&v, pixels)?;
            let g = v
                .iter()
                .take(pixels)
                .map(|&s| s.clamp(0, 65535) as u16)
                .collect();
            Image::new(w, ht, Layout::Gray16(g)).map(Some)
        }
        BLACK_IS_ZERO if h.samples == 1 && h.bits == 32 && h.sample_format == 3 => {
            let v = match d.read_image().map_err(tiff_error)? {
                DecodingResult::F32(v) => v,
                _ => return Err(decode_error("unexpected 32-bit float sample type")),
            };
            check_len(&v, pixels)?;
            let g = v.iter().take(pixels).map(|&s| pillow_f2l(s)).collect();
            Image::new(w, ht, Layout::Gray8(g)).map(Some)
        }
        _ => Ok(None),
    }
}

/// JPEG-in-TIFF in strips or tiles (grey, RGB, YCbCr at any chroma subsampling, and grey+alpha
/// as 2-component JPEG), each strip or tile decoded as the JPEG it is (the `JPEGTables`
/// abbreviated stream spliced in front) by libjpeg-turbo, what libtiff hands Pillow's strips
/// and tiles to, with the same defaults (islow IDCT, fancy upsampling, YCbCr → RGB by libjpeg).
/// A tile's JPEG is the whole tile, padding included (libjpeg's upsampling sees the padding,
/// as it does for Pillow); it is cropped where it overhangs the image. Grey+alpha keeps the
/// grey component (alpha is dropped, as everywhere). `Ok(None)` when libjpeg-turbo is not
/// compiled in.
fn decode_jpeg_blocks<R: std::io::Read + std::io::Seek>(
    bytes: &[u8],
    d: &mut Decoder<R>,
    w: u32,
    h: u32,
    grey_alpha: bool,
    limits: &Limits,
) -> Result<Option<Image>> {
    if !cfg!(feature = "turbojpeg") {
        return Ok(None);
    }
    let tiled = d.find_tag(Tag::TileWidth).map_err(tiff_error)?.is_some();
    // (width, height) of each block's JPEG, and how many blocks across.
    let (bw, bh, offsets_tag, counts_tag) = if tiled {
        let tw = d
            .find_tag_unsigned::<u32>(Tag::TileWidth)
            .map_err(tiff_error)?
            .unwrap_or(0);
        let th = d
            .find_tag_unsigned::<u32>(Tag::TileLength)
            .map_err(tiff_error)?
            .unwrap_or(0);
        if tw == 0 || th == 0 {
            return Err(decode_error(format!("tile size {tw}x{th}")));
        }
        (tw, th, Tag::TileOffsets, Tag::TileByteCounts)
    } else {
        let rows = d
            .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
            .map_err(tiff_error)?
            .unwrap_or(h)
            .clamp(1, h.max(1));
        (w, rows, Tag::StripOffsets, Tag::StripByteCounts)
    };
    // The largest JPEG a block may hold, within the decode limits (a tile of 65,535 x 65,535
    // on a small image is a bomb).
    limits.check(bw, bh)?;
    let offsets = d
        .find_tag_unsigned_vec::<u64>(offsets_tag)
        .map_err(tiff_error)?
        .ok_or_else(|| decode_error("no strip or tile offsets"))?;
    let counts = d
        .find_tag_unsigned_vec::<u64>(counts_tag)
        .map_err(tiff_error)?
        .ok_or_else(|| decode_error("no strip or tile byte counts"))?;
    let tables = match d.find_tag(Tag::JPEGTables).map_err(tiff_error)? {
        Some(v) => v.into_u8_vec().map_err(tiff_error)?,
        None => Vec::new(),
    };
    let across = w.div_ceil(bw) as usize;
    let down = h.div_ceil(bh) as usize;
    let blocks = across * down;
    if offsets.len() < blocks || counts.len() < blocks {
        return Err(decode_error(format!(
            "{} offsets and {} byte counts for {blocks} {}",
            offsets.len(),
            counts.len(),
            if tiled { "tiles" } else { "strips" }
        )));
    }
    let mut out: Option<(Vec<u8>, usize)> = None;
    let mut stream = Vec::new();
    for i in 0..blocks {
        let (x0, y0) = ((i % across) as u32 * bw, (i / across) as u32 * bh);
        // The part of the block inside the image.
        let (cw, ch) = (bw.min(w - x0), bh.min(h - y0));
        let start = usize::try_from(offsets[i]).map_err(|_| decode_error("block offset"))?;
        let len = usize::try_from(counts[i]).map_err(|_| decode_error("block byte count"))?;
        let what = if tiled { "tile" } else { "strip" };
        let data = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| decode_error(format!("{what} {i} runs past the end of the file")))?;
        // An abbreviated block (tables in JPEGTables): SOI + tables from the tag, then the
        // block after its own SOI. Both ends checked so that only well-formed pieces are
        // spliced.
        stream.clear();
        if tables.len() >= 4
            && tables.starts_with(&[0xFF, 0xD8])
            && tables.ends_with(&[0xFF, 0xD9])
            && data.starts_with(&[0xFF, 0xD8])
        {
            stream.extend_from_slice(&tables[..tables.len() - 2]);
            stream.extend_from_slice(&data[2..]);
        } else {
            stream.extend_from_slice(data);
        }
        let (jw, jh, channels, px) = decode_block(&stream, grey_alpha, limits)?;
        // A strip's JPEG is as tall as the strip's rows; a tile's is the whole tile.
        let want = if tiled { (bw, bh) } else { (w, ch) };
        if (jw, jh) != want {
            return Err(decode_error(format!(
                "JPEG {what} {i} is {jw}x{jh}, the image needs {}x{}",
                want.0, want.1
            )));
        }
        let (buf, c) =
            out.get_or_insert_with(|| (vec![0u8; w as usize * h as usize * channels], channels));
        if *c != channels {
            return Err(decode_error(format!(
                "JPEG {what}s of different colour types"
            )));
        }
        let c = *c;
        for y in 0..ch as usize {
            let src = &px[y * jw as usize * c..][..cw as usize * c];
            let at = ((y0 as usize + y) * w as usize + x0 as usize) * c;
            buf[at..at + cw as usize * c].copy_from_slice(src);
        }
    }
    let layout = match out {
        Some((buf, 1)) => Layout::Gray8(buf),
        Some((buf, 3)) => Layout::Rgb8(buf),
        Some(_) => return Err(decode_error("unexpected JPEG components")),
        None => return Err(decode_error("no strips or tiles")),
    };
    Image::new(w, h, layout).map(Some)
}

/// One strip's or tile's JPEG: (width, height, channels, samples), 1 channel (grey) or 3
/// (RGB). Grey+alpha blocks are 2-component JPEGs, which TurboJPEG's API refuses: they go
/// through the libjpeg row decoder with libjpeg's defaults for them (no colour conversion),
/// as libtiff decodes them, and keep component 0.
#[cfg(feature = "turbojpeg")]
fn decode_block(
    stream: &[u8],
    grey_alpha: bool,
    limits: &Limits,
) -> Result<(u32, u32, usize, Vec<u8>)> {
    if !grey_alpha {
        let img = super::jpeg::decode(stream, 1, limits)?;
        let (jw, jh) = (img.width(), img.height());
        return Ok(match img.into_layout() {
            Layout::Gray8(v) => (jw, jh, 1, v),
            Layout::Rgb8(v) => (jw, jh, 3, v),
            _ => return Err(decode_error("unexpected JPEG layout")),
        });
    }
    let mut dec = super::jpeg_rows::RowDecoder::new()
        .map_err(|e| decode_error(format!("JPEG decompressor: {e:?}")))?;
    let damaged = |r: super::jpeg_rows::Refused| match r {
        super::jpeg_rows::Refused::ColourSpace => {
            unsupported("JPEG-compressed grey+alpha whose JPEG is not 2-component")
        }
        super::jpeg_rows::Refused::Damaged(m) => Error::Decode {
            format: "jpeg",
            reason: m,
        },
        super::jpeg_rows::Refused::NoMemory => decode_error("no memory for a JPEG decompressor"),
    };
    let mut rows = dec
        .start_two_components(stream, |w, h| limits.check(w, h))?
        .map_err(damaged)?;
    let hd = rows.header;
    let mut row = vec![0u8; hd.width * 2];
    let mut grey = Vec::with_capacity(hd.width * hd.height);
    for _ in 0..hd.height {
        rows.next_row(&mut row).map_err(damaged)?;
        grey.extend(row.chunks_exact(2).map(|p| p[0]));
    }
    rows.finish().map_err(damaged)?;
    Ok((hd.width as u32, hd.height as u32, 1, grey))
}

#[cfg(not(feature = "turbojpeg"))]
fn decode_block(_: &[u8], _: bool, _: &Limits) -> Result<(u32, u32, usize, Vec<u8>)> {
    Err(unsupported("JPEG-in-TIFF without libjpeg-turbo"))
}

fn check_len<T>(v: &[T], want: usize) -> Result<()> {
    if v.len() < want {
        return Err(decode_error(format!(
            "decoder returned {} samples, the image needs {want}",
            v.len()
        )));
    }
    Ok(())
}

/// Pillow's `F` → `L` (`f2l` in `Convert.c`): clipped at 0 and 255, truncated in between; NaN
/// compares false everywhere and ends as 0.
pub fn pillow_f2l(v: f32) -> u8 {
    if v >= 255.0 {
        255
    } else if v > 0.0 {
        v as u8
    } else {
        0
    }
}

/// The first sample (the palette index) of each pixel, from rows of `bits`-bit samples padded
/// to whole bytes (the `tiff` crate's layout for depths below 8).
fn unpack(raw: &[u8], w: u32, h: u32, bits: u16, samples: u16) -> Result<Vec<u8>> {
    let (w, h, s) = (w as usize, h as usize, samples as usize);
    if bits == 8 {
        check_len(raw, w * h * s)?;
        return Ok(raw.chunks_exact(s).take(w * h).map(|p| p[0]).collect());
    }
    let bits = bits as usize;
    let row_bytes = (w * s * bits).div_ceil(8);
    check_len(raw, row_bytes * h)?;
    let mask = (1u8 << bits) - 1;
    let mut out = Vec::with_capacity(w * h);
    for row in raw.chunks_exact(row_bytes).take(h) {
        for x in 0..w {
            let bit = x * s * bits;
            let shift = 8 - bits - bit % 8;
            out.push((row[bit / 8] >> shift) & mask);
        }
    }
    Ok(out)
}

/// Palette indices to RGB through a TIFF colormap (all reds, then all greens, then all blues,
/// 16 bits each), each entry reduced to its high byte as Pillow does.
pub fn palette_to_rgb(indices: &[u8], colormap: &[u16]) -> Vec<u8> {
    let n = colormap.len() / 3;
    let mut out = Vec::with_capacity(indices.len() * 3);
    for &i in indices {
        let i = (i as usize).min(n.saturating_sub(1));
        for c in 0..3 {
            out.push(colormap.get(c * n + i).map_or(0, |&v| (v >> 8) as u8));
        }
    }
    out
}

/// The numbers of a tag (RATIONAL, FLOAT, DOUBLE or integer), as libtiff reads them into
/// floats; `None` when absent.
fn tag_floats<R: std::io::Read + std::io::Seek>(
    d: &mut Decoder<R>,
    tag: u16,
) -> Result<Option<Vec<f32>>> {
    use ::tiff::decoder::ifd::Value;
    fn num(v: &Value) -> Option<f32> {
        Some(match *v {
            Value::Rational(n, d) => {
                if d == 0 {
                    0.0
                } else {
                    (n as f64 / d as f64) as f32
                }
            }
            Value::SRational(n, d) => {
                if d == 0 {
                    0.0
                } else {
                    (n as f64 / d as f64) as f32
                }
            }
            Value::Float(f) => f,
            Value::Double(f) => f as f32,
            Value::Short(s) => s as f32,
            Value::Unsigned(u) => u as f32,
            Value::Byte(b) => b as f32,
            _ => return None,
        })
    }
    let Some(v) = d.find_tag(Tag::Unknown(tag)).map_err(tiff_error)? else {
        return Ok(None);
    };
    let list = match v {
        Value::List(l) => l.iter().filter_map(num).collect(),
        one => num(&one).into_iter().collect(),
    };
    Ok(Some(list))
}

/// Pillow's YCbCr → RGB (`ConvertYCbCr.c`): per-channel tables of `(i - 128) * k * 64 + 0.5`
/// truncated toward zero, summed, shifted right by 6 (floor) and added to Y, then clipped.
/// Converts interleaved Y, Cb, Cr bytes to R, G, B in place.
///
/// ```
/// use nearmatch::decode::tiff::pillow_ycbcr_to_rgb;
/// // Values from Pillow 13: Image.frombytes("YCbCr", ...).convert("RGB").
/// let mut px = [76, 84, 255, 149, 43, 21, 128, 128, 128];
/// pillow_ycbcr_to_rgb(&mut px);
/// assert_eq!(px, [254, 0, 0, 0, 254, 0, 128, 128, 128]);
/// ```
pub fn pillow_ycbcr_to_rgb(px: &mut [u8]) {
    fn table(k: f64) -> [i32; 256] {
        let mut t = [0i32; 256];
        for (i, v) in t.iter_mut().enumerate() {
            // C's (int) cast: truncation toward zero.
            *v = ((i as f64 - 128.0) * k * 64.0 + 0.5) as i32;
        }
        t
    }
    let r_cr = table(1.402);
    let g_cb = table(-0.34414);
    let g_cr = table(-0.71414);
    let b_cb = table(1.772);
    for p in px.chunks_exact_mut(3) {
        let (y, cb, cr) = (p[0] as i32, p[1] as usize, p[2] as usize);
        p[0] = (y + (r_cr[cr] >> 6)).clamp(0, 255) as u8;
        p[1] = (y + ((g_cb[cb] + g_cr[cr]) >> 6)).clamp(0, 255) as u8;
        p[2] = (y + (b_cb[cb] >> 6)).clamp(0, 255) as u8;
    }
}

/// Fixed-point YCbCr → RGB tables: libtiff's (`TIFFYCbCrToRGBInit` / `TIFFYCbCrtoRGB` in
/// `tif_color.c`), which Pillow gets for compressed non-JPEG YCbCr TIFFs, and libjpeg's
/// (`jdcolor.c`), which it gets for JPEG-in-TIFF YCbCr. Both are 16.16 fixed point; they
/// differ in how the factors are rounded (libtiff derives them in f32 from the coefficients).
#[derive(Clone, Debug)]
pub struct YcbcrTables {
    y: [i32; 256],
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i64; 256],
    cb_g: [i64; 256],
}

impl YcbcrTables {
    /// Tables for the given `YCbCrCoefficients` (3 values) and `ReferenceBlackWhite` (6), each
    /// defaulting as libtiff's (0.299, 0.587, 0.114 and 0, 255, 128, 255, 128, 255) when absent
    /// or of the wrong length.
    pub fn libtiff(luma: Option<&[f32]>, ref_bw: Option<&[f32]>) -> Self {
        let luma: [f32; 3] = luma
            .and_then(|l| l.try_into().ok())
            .unwrap_or([0.299, 0.587, 0.114]);
        let rb: [f32; 6] = ref_bw
            .and_then(|l| l.try_into().ok())
            .unwrap_or([0.0, 255.0, 128.0, 255.0, 128.0, 255.0]);
        // libtiff's CLAMP: NaN (a failed >= test) goes to the minimum.
        let clamp = |f: f32, lo: f32, hi: f32| {
            if f.is_nan() || f < lo {
                lo
            } else if f > hi {
                hi
            } else {
                f
            }
        };
        // FIX(x): (int32)(x * 65536 + 0.5), the product in f32 (exact: a power of two), the
        // sum in double.
        let fix = |f: f32| ((f * 65536.0) as f64 + 0.5) as i32 as i64;
        let (lr, lg, lb) = (luma[0], luma[1], luma[2]);
        let f1 = 2.0 - 2.0 * lr;
        let d1 = fix(clamp(f1, 0.0, 2.0));
        let f2 = lr * f1 / lg;
        let d2 = -fix(clamp(f2, 0.0, 2.0));
        let f3 = 2.0 - 2.0 * lb;
        let d3 = fix(clamp(f3, 0.0, 2.0));
        let f4 = lb * f3 / lg;
        let d4 = -fix(clamp(f4, 0.0, 2.0));
        Self::build([d1, d2, d3, d4], rb)
    }

    /// libjpeg's tables (`build_ycc_rgb_table`): `FIX(1.40200)`, `-FIX(0.71414)`,
    /// `FIX(1.77200)`, `-FIX(0.34414)` rounded in double, no code rescaling.
    ///
    /// ```
    /// use nearmatch::decode::tiff::YcbcrTables;
    /// let mut px = [149, 43, 21];
    /// YcbcrTables::libjpeg().convert(&mut px);
    /// // G = 149 + ((-22554 * -85 + 32768 - 46802 * -107) >> 16) = 255
    /// assert_eq!(px, [0, 255, 0]);
    /// ```
    pub fn libjpeg() -> Self {
        let fix = |f: f64| (f * 65536.0 + 0.5) as i64;
        Self::build(
            [fix(1.402), -fix(0.71414), fix(1.772), -fix(0.34414)],
            [0.0, 255.0, 128.0, 255.0, 128.0, 255.0],
        )
    }

    /// Tables from the four factors (R from Cr, G from Cr, B from Cb, G from Cb) and libtiff's
    /// code rescaling by `ReferenceBlackWhite` (the identity for 0, 255, 128, 255, 128, 255).
    fn build([d1, d2, d3, d4]: [i64; 4], rb: [f32; 6]) -> Self {
        // Code2V(c, RB, RW, CR): (c - (int)RB) * CR / (RW - RB, or 1 if zero), in f32.
        let code2v = |c: i32, rb: f32, rw: f32, cr: f32| {
            let den = if rw - rb != 0.0 { rw - rb } else { 1.0 };
            (c.wrapping_sub(rb as i32)) as f32 * cr / den
        };
        // CLAMPw to +-4096, then (int32): truncation (NaN → 0 in Rust, undefined in C).
        let clampw = |v: f32| (v.clamp(-4096.0, 4096.0)) as i32 as i64;
        let mut t = YcbcrTables {
            y: [0; 256],
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
        };
        for i in 0..256usize {
            let x = i as i32 - 128;
            let cr = clampw(code2v(x, rb[4] - 128.0, rb[5] - 128.0, 127.0));
            let cb = clampw(code2v(x, rb[2] - 128.0, rb[3] - 128.0, 127.0));
            t.cr_r[i] = ((d1 * cr + 32768) >> 16) as i32;
            t.cb_b[i] = ((d3 * cb + 32768) >> 16) as i32;
            t.cr_g[i] = d2 * cr;
            t.cb_g[i] = d4 * cb + 32768;
            t.y[i] = clampw(code2v(x + 128, rb[0], rb[1], 255.0)) as i32;
        }
        t
    }

    /// Converts interleaved Y, Cb, Cr bytes to R, G, B in place.
    ///
    /// ```
    /// use nearmatch::decode::tiff::YcbcrTables;
    /// // Values from Pillow 13 reading an LZW YCbCr TIFF (libtiff 4.7 converts).
    /// let mut px = [76, 84, 255, 149, 43, 21, 128, 128, 128];
    /// YcbcrTables::libtiff(None, None).convert(&mut px);
    /// assert_eq!(px, [254, 0, 0, 0, 255, 0, 128, 128, 128]);
    /// ```
    pub fn convert(&self, px: &mut [u8]) {
        for p in px.chunks_exact_mut(3) {
            let (y, cb, cr) = (self.y[p[0] as usize], p[1] as usize, p[2] as usize);
            let g = y as i64 + ((self.cb_g[cb] + self.cr_g[cr]) >> 16);
            p[0] = (y + self.cr_r[cr]).clamp(0, 255) as u8;
            p[1] = g.clamp(0, 255) as u8;
            p[2] = (y + self.cb_b[cb]).clamp(0, 255) as u8;
        }
    }
}

/// A TIFF header: byte order, classic or BigTIFF, the offset of the first IFD.
#[derive(Clone, Copy, Debug)]
struct TiffHeader {
    le: bool,
    big: bool,
    first_ifd: u64,
}

/// One IFD's layout: where its entries start, how many, and the next IFD's offset (0: none).
#[derive(Clone, Copy, Debug)]
struct IfdLayout {
    first_entry: usize,
    count: usize,
    next: u64,
    /// Where `next` is stored.
    next_at: usize,
}

impl TiffHeader {
    /// `None` unless `bytes` start with a TIFF or BigTIFF header.
    fn parse(bytes: &[u8]) -> Option<Self> {
        let le = match bytes.get(..2)? {
            b"II" => true,
            b"MM" => false,
            _ => return None,
        };
        let mut h = TiffHeader {
            le,
            big: false,
            first_ifd: 0,
        };
        h.big = match h.u16_at(bytes, 2)? {
            42 => false,
            43 => true,
            _ => return None,
        };
        h.first_ifd = if h.big {
            h.u64_at(bytes, 8)?
        } else {
            h.u32_at(bytes, 4)? as u64
        };
        Some(h)
    }

    fn u16_at(&self, bytes: &[u8], i: usize) -> Option<u16> {
        let b: [u8; 2] = bytes.get(i..i.checked_add(2)?)?.try_into().ok()?;
        Some(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32_at(&self, bytes: &[u8], i: usize) -> Option<u32> {
        let b: [u8; 4] = bytes.get(i..i.checked_add(4)?)?.try_into().ok()?;
        Some(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    fn u64_at(&self, bytes: &[u8], i: usize) -> Option<u64> {
        let b: [u8; 8] = bytes.get(i..i.checked_add(8)?)?.try_into().ok()?;
        Some(if self.le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }

    fn entry_size(&self) -> usize {
        if self.big {
            20
        } else {
            12
        }
    }

    /// The IFD at `at`, `None` when its count, entries or next offset lie outside `bytes`.
    fn ifd(&self, bytes: &[u8], at: u64) -> Option<IfdLayout> {
        let at = usize::try_from(at).ok()?;
        let (count, first_entry) = if self.big {
            (
                usize::try_from(self.u64_at(bytes, at)?).ok()?,
                at.checked_add(8)?,
            )
        } else {
            (self.u16_at(bytes, at)? as usize, at.checked_add(2)?)
        };
        let next_at = first_entry.checked_add(count.checked_mul(self.entry_size())?)?;
        let next = if self.big {
            self.u64_at(bytes, next_at)?
        } else {
            self.u32_at(bytes, next_at)? as u64
        };
        Some(IfdLayout {
            first_entry,
            count,
            next,
            next_at,
        })
    }

    /// The offset of the entry of `tag` in `ifd`, if it has one.
    fn find(&self, bytes: &[u8], ifd: &IfdLayout, tag: u16) -> Option<usize> {
        (0..ifd.count)
            .map(|k| ifd.first_entry + k * self.entry_size())
            .find(|&e| self.u16_at(bytes, e) == Some(tag))
    }
}

/// `page` read with its IFD's PhotometricInterpretation set to `value` ([`Patched`]).
fn with_photometric(page: Page<'_>, value: u16) -> Result<Patched<'_>> {
    let bad = || decode_error("malformed TIFF header or IFD");
    let bytes = page.bytes;
    let h = TiffHeader::parse(bytes).ok_or_else(bad)?;
    let ifd = h
        .ifd(bytes, page.ifd_offset().ok_or_else(bad)?)
        .ok_or_else(bad)?;
    let e = h
        .find(bytes, &ifd, PHOTOMETRIC)
        .ok_or_else(|| decode_error("no PhotometricInterpretation tag in the IFD"))?;
    // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
    if h.u16_at(bytes, e + 2) != Some(3) {
        return Err(decode_error("PhotometricInterpretation is not a SHORT"));
    }
    let at = e + if h.big { 12 } else { 8 };
    if at + 2 > bytes.len() {
        return Err(bad());
    }
    let v = if h.le {
        value.to_le_bytes()
    } else {
        value.to_be_bytes()
    };
    Ok(page.reader(Some((at as u64, v.to_vec()))))
}

/// Whether a TIFF has a second image in its IFD chain (a next-IFD offset that is not 0 and
/// not the first IFD's own): reads the header and the first IFD only.
pub(super) fn has_pages(bytes: &[u8]) -> bool {
    let Some(h) = TiffHeader::parse(bytes) else {
        return false;
    };
    h.ifd(bytes, h.first_ifd)
        .is_some_and(|ifd| ifd.next != 0 && ifd.next != h.first_ifd)
}

/// The TIFF tag of an EXIF thumbnail's JPEG (`JPEGInterchangeFormat`).
const JPEG_INTERCHANGE_FORMAT: u16 = 513;
const STRIP_OFFSETS: u16 = 273;
const TILE_OFFSETS: u16 = 324;

/// Walks a TIFF's IFD chain as Pillow's `TiffImagePlugin` does (`seek(n)`: every IFD of the
/// main chain, reduced-resolution subfiles included; SubIFDs are not in the chain) and calls
/// `decode` with each page after the first: its number (1, 2, …) and its [`Page`]. `decode`
/// returns `false` to stop. Pillow ends the chain silently where a next-IFD offset points back
/// at an IFD already read; here the pages before it are visited and then the loop is the
/// error, so that a damaged file says so. A page whose IFD lies outside the file is passed with
/// its error, and ends the chain. An EXIF-style IFD1 (a JPEG thumbnail by
/// `JPEGInterchangeFormat`, no strips or tiles) is skipped: it is the file's `exif-thumbnail`
/// child already, and it keeps its number so later pages are numbered as Pillow numbers them.
pub(super) fn pages<'a>(
    bytes: &'a [u8],
    decode: &mut dyn FnMut(u64, Result<Page<'a>>) -> bool,
) -> Result<()> {
    let h = TiffHeader::parse(bytes).ok_or_else(|| decode_error("not a TIFF header"))?;
    let mut seen = vec![h.first_ifd];
    let mut at = h.first_ifd;
    for n in 0u64.. {
        let Some(ifd) = h.ifd(bytes, at) else {
            if n == 0 {
                return Err(decode_error(format!(
                    "the first IFD (offset {at}) lies outside the file"
                )));
            }
            decode(
                n,
                Err(decode_error(format!(
                    "page {n}: its IFD (offset {at}) lies outside the file"
                ))),
            );
            return Ok(());
        };
        if n > 0 {
            let thumbnail = n == 1
                && h.find(bytes, &ifd, JPEG_INTERCHANGE_FORMAT).is_some()
                && h.find(bytes, &ifd, STRIP_OFFSETS).is_none()
                && h.find(bytes, &ifd, TILE_OFFSETS).is_none();
            let page = Page {
                bytes,
                ifd: Some((at, h.big, h.le)),
                next_at: Some((ifd.next_at as u64, h.big)),
            };
            if !thumbnail && !decode(n, Ok(page)) {
                return Ok(());
            }
        }
        if ifd.next == 0 {
            return Ok(());
        }
        if let Some(k) = seen.iter().position(|&o| o == ifd.next) {
            return Err(decode_error(format!(
                "IFD loop: page {n}'s next-IFD offset {} points back at page {k} (Pillow stops \
                 there too; no page after {n} was read)",
                ifd.next
            )));
        }
        seen.push(ifd.next);
        at = ifd.next;
    }
    Ok(())
}

/// Decodes one page of a TIFF as [`super::decode`] decodes the first: this module's
/// conversions, else the `image` crate, both reading the page through [`Page`]'s patched
/// header. Checks the page's dimensions against `limits` first.
pub(super) fn decode_page(page: Page<'_>, limits: &Limits) -> Result<Image> {
    let (w, h) = open(page, &Limits::default())?
        .dimensions()
        .map_err(tiff_error)?;
    limits.check(w, h)?;
    if let Some(img) = decode(page, limits)? {
        return Ok(img);
    }
    let reader = std::io::BufReader::new(page.reader(None));
    let mut reader = image::ImageReader::with_format(reader, image::ImageFormat::Tiff);
    reader.limits(limits.to_image_limits());
    let img = reader
        .decode()
        .map_err(|e| super::image_error(super::Format::Tiff, e))?;
    super::from_dynamic(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pillow_ycbcr_matches_pillow_values() {
        // Pillow 13: Image.frombytes("YCbCr", (4, 1), ...).convert("RGB") of the YCbCr Pillow
        // makes of pure red, green, blue and grey, and of two extreme triples.
        let mut px = [
            76, 84, 255, 149, 43, 21, 29, 255, 107, 128, 128, 128, 0, 0, 0, 255, 255, 255,
        ];
        pillow_ycbcr_to_rgb(&mut px);
        assert_eq!(
            px,
            [254, 0, 0, 0, 254, 0, 0, 0, 254, 128, 128, 128, 0, 135, 0, 255, 120, 255]
        );
    }

    #[test]
    fn libtiff_ycbcr_matches_libtiff_values() {
        // Pillow 13 (libtiff 4.7, TIFFReadRGBA) on an LZW YCbCr TIFF of the same triples.
        let mut px = [
            76, 84, 255, 149, 43, 21, 29, 255, 107, 128, 128, 128, 0, 0, 0, 255, 255, 255,
        ];
        YcbcrTables::libtiff(None, None).convert(&mut px);
        assert_eq!(
            px,
            [254, 0, 0, 0, 255, 0, 0, 0, 254, 128, 128, 128, 0, 135, 0, 255, 121, 255]
        );
    }

    #[test]
    fn libtiff_factors_by_hand() {
        // 1.402 * 65536 = 91881.47, 1.772 * 65536 = 116129.79: the rounded 16.16 factors.
        let t = YcbcrTables::libtiff(None, None);
        assert_eq!(t.cr_r[128 + 100], (91881 * 100 + 32768) >> 16);
        assert_eq!(t.cb_b[128 - 100], (116130 * -100 + 32768) >> 16);
        assert_eq!(t.y[200], 200);
    }

    #[test]
    fn f2l_clips_and_truncates() {
        let got: Vec<u8> = [
            -5.0,
            0.0,
            0.99,
            1.5,
            254.99,
            255.0,
            1e10,
            f32::NAN,
            f32::INFINITY,
        ]
        .iter()
        .map(|&v| pillow_f2l(v))
        .collect();
        assert_eq!(got, [0, 0, 0, 1, 254, 255, 255, 0, 255]);
    }

    #[test]
    fn palette_takes_high_bytes() {
        // 2-bit palette: 4 reds, 4 greens, 4 blues.
        let cmap = [
            0x0000, 0xFF00, 0x1234, 0x8080, 0x0100, 0x0200, 0x0300, 0x0400, 0xFFFF, 0x0000, 0x7F00,
            0x00FF,
        ];
        assert_eq!(
            palette_to_rgb(&[0, 1, 2, 3], &cmap),
            [0, 1, 255, 255, 2, 0, 0x12, 3, 0x7F, 0x80, 4, 0]
        );
    }

    #[test]
    fn unpack_sub_byte_rows() {
        // 3 pixels of 4 bits a row, 2 rows: each row padded to 2 bytes.
        let raw = [0x12, 0x30, 0xAB, 0xC0];
        assert_eq!(unpack(&raw, 3, 2, 4, 1).unwrap(), [1, 2, 3, 10, 11, 12]);
        // Too short: an error, not a panic.
        assert!(unpack(&raw[..3], 3, 2, 4, 1).is_err());
    }

    /// A little-endian TIFF of one uncompressed strip: `tags` are (tag, type, values), type 3
    /// SHORT or 4 LONG; values longer than the 4-byte field are stored after the IFD.
    fn tiff_bytes(w: u32, h: u32, tags: &[(u16, u16, Vec<u32>)], data: &[u8]) -> Vec<u8> {
        let mut tags: Vec<(u16, u16, Vec<u32>)> = tags.to_vec();
        tags.push((256, 4, vec![w]));
        tags.push((257, 4, vec![h]));
        tags.push((273, 4, vec![0])); // StripOffsets, patched below
        tags.push((278, 4, vec![h]));
        tags.push((279, 4, vec![data.len() as u32]));
        tags.sort_by_key(|t| t.0);
        let ifd_len = 2 + 12 * tags.len() + 4;
        let mut extra = Vec::new();
        let extra_at = 8 + ifd_len;
        let size = |ty: u16| if ty == 3 { 2 } else { 4 };
        let total_extra: usize = tags
            .iter()
            .map(|(_, ty, v)| size(*ty) * v.len())
            .filter(|&n| n > 4)
            .sum();
        let data_at = (extra_at + total_extra) as u32;
        let mut out = b"II*\0\x08\0\0\0".to_vec();
        out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
        for (tag, ty, vals) in &tags {
            let vals: Vec<u32> = if *tag == 273 {
                vec![data_at]
            } else {
                vals.clone()
            };
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&ty.to_le_bytes());
            out.extend_from_slice(&(vals.len() as u32).to_le_bytes());
            let mut bytes = Vec::new();
            for v in &vals {
                if *ty == 3 {
                    bytes.extend_from_slice(&(*v as u16).to_le_bytes());
                } else {
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
            if bytes.len() <= 4 {
                bytes.resize(4, 0);
                out.extend_from_slice(&bytes);
            } else {
                let at = (extra_at + extra.len()) as u32;
                out.extend_from_slice(&at.to_le_bytes());
                extra.extend_from_slice(&bytes);
            }
        }
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&extra);
        assert_eq!(out.len() as u32, data_at);
        out.extend_from_slice(data);
        out
    }

    fn palette_tiff(w: u32, h: u32, data: &[u8]) -> Vec<u8> {
        // 8-bit colormap: entry i is (i * 256, (255 - i) * 257, 0x1234 for i = 1 else 0).
        let mut cmap = Vec::new();
        cmap.extend((0..256u32).map(|i| i * 256));
        cmap.extend((0..256u32).map(|i| (255 - i) * 257));
        cmap.extend((0..256u32).map(|i| if i == 1 { 0x1234 } else { 0 }));
        tiff_bytes(
            w,
            h,
            &[
                (258, 3, vec![8]),
                (262, 3, vec![3]),
                (277, 3, vec![1]),
                (320, 3, cmap),
            ],
            data,
        )
    }

    fn decode_all(bytes: &[u8]) -> Result<Image> {
        super::super::decode(bytes, &Limits::default()).map(|d| d.image)
    }

    #[test]
    fn palette_tiff_by_hand() {
        let img = decode_all(&palette_tiff(3, 1, &[0, 1, 200])).unwrap();
        assert_eq!(
            img.layout(),
            &Layout::Rgb8(vec![0, 255, 0, 1, 254, 0x12, 200, 55, 0])
        );
    }

    #[test]
    fn palette_alpha_grey_alpha_and_int_by_hand() {
        // PA: index then alpha.
        let mut cmap: Vec<u32> = vec![0; 768];
        cmap[5] = 0xAB00;
        cmap[256 + 5] = 0xCDFF;
        cmap[512 + 5] = 0x0100;
        let pa = tiff_bytes(
            1,
            1,
            &[
                (258, 3, vec![8, 8]),
                (262, 3, vec![3]),
                (277, 3, vec![2]),
                (320, 3, cmap),
                (338, 3, vec![2]),
            ],
            &[5, 9],
        );
        assert_eq!(
            decode_all(&pa).unwrap().layout(),
            &Layout::Rgb8(vec![0xAB, 0xCD, 1])
        );
        // LA: the grey sample.
        let la = tiff_bytes(
            2,
            1,
            &[
                (258, 3, vec![8, 8]),
                (262, 3, vec![1]),
                (277, 3, vec![2]),
                (338, 3, vec![2]),
            ],
            &[10, 0, 250, 255],
        );
        assert_eq!(
            decode_all(&la).unwrap().layout(),
            &Layout::Gray8(vec![10, 250])
        );
        // I: clipped to 0..65535.
        let data: Vec<u8> = [-7i32, 300, 70_000]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let int = tiff_bytes(
            3,
            1,
            &[
                (258, 3, vec![32]),
                (262, 3, vec![1]),
                (277, 3, vec![1]),
                (339, 3, vec![2]),
            ],
            &data,
        );
        assert_eq!(
            decode_all(&int).unwrap().layout(),
            &Layout::Gray16(vec![0, 300, 65535])
        );
        // F: Pillow's f2l.
        let data: Vec<u8> = [-1.0f32, 12.9, 300.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let float = tiff_bytes(
            3,
            1,
            &[
                (258, 3, vec![32]),
                (262, 3, vec![1]),
                (277, 3, vec![1]),
                (339, 3, vec![3]),
            ],
            &data,
        );
        assert_eq!(
            decode_all(&float).unwrap().layout(),
            &Layout::Gray8(vec![0, 12, 255])
        );
    }

    #[test]
    fn raw_ycbcr_and_cielab_by_hand() {
        let tags = |photometric: u32| {
            vec![
                (258, 3, vec![8, 8, 8]),
                (262, 3, vec![photometric]),
                (277, 3, vec![3]),
                (530, 3, vec![1, 1]),
            ]
        };
        let ycc = tiff_bytes(2, 1, &tags(6), &[76, 84, 255, 149, 43, 21]);
        assert_eq!(
            decode_all(&ycc).unwrap().layout(),
            &Layout::Rgb8(vec![254, 0, 0, 0, 254, 0])
        );
        // L = 100 and L = 0 (a = b = 0): white and black as Pillow converts them (measured:
        // `Image.new("LAB", (1, 1), (255, 128, 128)).convert("RGB")` and `(0, 128, 128)`; D50
        // white lands a level off sRGB's).
        let lab = tiff_bytes(2, 1, &tags(8), &[255, 0, 0, 0, 0, 0]);
        match decode_all(&lab) {
            #[cfg(feature = "lcms")]
            Ok(img) => assert_eq!(img.layout(), &Layout::Rgb8(vec![254, 255, 254, 1, 0, 1])),
            #[cfg(not(feature = "lcms"))]
            Err(e) => assert!(e.to_string().contains("CIELab"), "{e}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn hostile_palette_tiffs_are_errors() {
        // A header claiming 100,000 x 100,000 on 3 bytes: refused by the limits first.
        let bomb = palette_tiff(100_000, 100_000, &[0, 1, 2]);
        assert!(matches!(decode_all(&bomb), Err(Error::LimitExceeded(_))));
        // Within limits but far more pixels than data: a decode error, not a panic.
        let short = palette_tiff(300, 300, &[0, 1, 2]);
        assert!(matches!(decode_all(&short), Err(Error::Decode { .. })));
        // The strip cut off by the end of the file.
        let mut cut = palette_tiff(16, 16, &[7; 256]);
        cut.truncate(cut.len() - 100);
        assert!(matches!(decode_all(&cut), Err(Error::Decode { .. })));
        // A colormap of the wrong length.
        let bad_map = tiff_bytes(
            1,
            1,
            &[
                (258, 3, vec![8]),
                (262, 3, vec![3]),
                (277, 3, vec![1]),
                (320, 3, vec![0; 9]),
            ],
            &[0],
        );
        assert!(matches!(decode_all(&bad_map), Err(Error::Decode { .. })));
    }

    #[test]
    fn jpeg_strip_decodes_as_the_jpeg_and_garbage_is_an_error() {
        // A grey gradient JPEG (written by the image crate) as the one strip of a TIFF: the
        // same pixels as the JPEG decoded on its own.
        let (w, h) = (16u32, 8u32);
        let grey: Vec<u8> = (0..w * h).map(|i| (i * 2) as u8).collect();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode(&grey, w, h, image::ExtendedColorType::L8)
            .unwrap();
        let tags = [
            (258, 3, vec![8]),
            (259, 3, vec![7]),
            (262, 3, vec![1]),
            (277, 3, vec![1]),
        ];
        let tif = tiff_bytes(w, h, &tags, &jpeg);
        let want = super::super::decode(&jpeg, &Limits::default())
            .unwrap()
            .image;
        assert_eq!(decode_all(&tif).unwrap(), want);
        // Garbage in the strip, or a strip cut short: errors, not panics.
        let bad = tiff_bytes(w, h, &tags, &[0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3]);
        assert!(decode_all(&bad).is_err());
        let mut cut = tif.clone();
        cut.truncate(tif.len() - jpeg.len() / 2);
        assert!(decode_all(&cut).is_err());
    }

    /// A little-endian TIFF of uncompressed 8-bit grey pages, written by the `tiff` crate's
    /// encoder, and the (IFD offset, next-IFD field offset) of each page, found by walking the
    /// chain here (not by the code under test).
    fn grey_pages(pages: &[(u32, u32, Vec<u8>)]) -> (Vec<u8>, Vec<(u32, usize)>) {
        let mut buf = Cursor::new(Vec::new());
        let mut enc = ::tiff::encoder::TiffEncoder::new(&mut buf).unwrap();
        for (w, h, px) in pages {
            enc.write_image::<::tiff::encoder::colortype::Gray8>(*w, *h, px)
                .unwrap();
        }
        let b = buf.into_inner();
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
        let mut ifds = Vec::new();
        let mut at = u32_at(4);
        while at != 0 {
            let n = u16::from_le_bytes([b[at as usize], b[at as usize + 1]]) as usize;
            let next = at as usize + 2 + 12 * n;
            ifds.push((at, next));
            at = u32_at(next);
        }
        assert_eq!(ifds.len(), pages.len());
        (b, ifds)
    }

    fn visit_pages(bytes: &[u8]) -> (Vec<(String, Result<Image>)>, Result<()>) {
        let mut seen = Vec::new();
        let r = super::super::tiff_pages(bytes, &Limits::default(), &mut |name, img| {
            seen.push((name, img));
            true
        });
        (seen, r)
    }

    #[test]
    fn each_page_after_the_first_decodes_to_its_samples() {
        let pages: Vec<(u32, u32, Vec<u8>)> = (0..4u32)
            .map(|k| {
                let (w, h) = (5 + k, 3 + 2 * k);
                (w, h, (0..w * h).map(|i| (i * 7 + k * 50) as u8).collect())
            })
            .collect();
        let (b, _) = grey_pages(&pages);
        assert!(super::super::tiff_has_pages(&b));
        assert_eq!(
            decode_all(&b).unwrap().layout(),
            &Layout::Gray8(pages[0].2.clone())
        );
        let (seen, r) = visit_pages(&b);
        r.unwrap();
        assert_eq!(seen.len(), 3);
        for (k, (name, img)) in seen.into_iter().enumerate() {
            let (w, h, px) = &pages[k + 1];
            assert_eq!(name, format!("page/{}", k + 1));
            let img = img.unwrap();
            assert_eq!((img.width(), img.height()), (*w, *h));
            assert_eq!(img.layout(), &Layout::Gray8(px.clone()));
        }
        // One page: no pages to visit.
        let (one, _) = grey_pages(&pages[..1]);
        assert!(!super::super::tiff_has_pages(&one));
        let (seen, r) = visit_pages(&one);
        assert!(r.is_ok() && seen.is_empty());
        // Stopping after the first visit.
        let mut n = 0;
        super::super::tiff_pages(&b, &Limits::default(), &mut |_, _| {
            n += 1;
            false
        })
        .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn bigtiff_pages_decode_too() {
        // BigTIFF: 8-byte offsets, the header's first-IFD offset at byte 8.
        let mut buf = Cursor::new(Vec::new());
        let mut enc = ::tiff::encoder::TiffEncoder::new_big(&mut buf).unwrap();
        let pages: Vec<Vec<u8>> = (0..3u8).map(|k| vec![k * 80 + 5; 6 * 4]).collect();
        for px in &pages {
            enc.write_image::<::tiff::encoder::colortype::Gray8>(6, 4, px)
                .unwrap();
        }
        let b = buf.into_inner();
        assert_eq!(&b[..4], b"II+\0");
        assert!(super::super::tiff_has_pages(&b));
        assert_eq!(
            decode_all(&b).unwrap().layout(),
            &Layout::Gray8(pages[0].clone())
        );
        let (seen, r) = visit_pages(&b);
        r.unwrap();
        let got: Vec<(String, Layout)> = seen
            .into_iter()
            .map(|(n, i)| (n, i.unwrap().into_layout()))
            .collect();
        assert_eq!(
            got,
            [
                ("page/1".to_string(), Layout::Gray8(pages[1].clone())),
                ("page/2".to_string(), Layout::Gray8(pages[2].clone())),
            ]
        );
    }

    #[test]
    fn ifd_loops_end_the_chain_with_an_error() {
        let pages: Vec<(u32, u32, Vec<u8>)> = (0..4u8).map(|k| (4, 4, vec![k * 60; 16])).collect();
        let (b, ifds) = grey_pages(&pages);
        let point = |from: usize, to: u32| {
            let mut c = b.clone();
            c[ifds[from].1..ifds[from].1 + 4].copy_from_slice(&to.to_le_bytes());
            c
        };
        // Page 2 back to page 1, page 1 to itself, page 0 to itself.
        for (bytes, want) in [
            (point(2, ifds[1].0), vec!["page/1", "page/2"]),
            (point(1, ifds[1].0), vec!["page/1"]),
            (point(0, ifds[0].0), vec![]),
        ] {
            let (seen, r) = visit_pages(&bytes);
            let names: Vec<&str> = seen.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, want);
            for (n, i) in &seen {
                assert!(i.is_ok(), "{n}: {:?}", i.as_ref().err());
            }
            let e = r.unwrap_err();
            assert!(e.to_string().contains("IFD loop"), "{e}");
            // The first page decodes whatever its chain does, as Pillow's does.
            assert_eq!(
                decode_all(&bytes).unwrap().layout(),
                &Layout::Gray8(pages[0].2.clone())
            );
        }
        // A next-IFD offset past the end: that page is an error, and the chain ends.
        let (seen, r) = visit_pages(&point(1, b.len() as u32 + 100));
        r.unwrap();
        assert_eq!(seen.len(), 2);
        assert!(seen[0].1.is_ok());
        let e = seen[1].1.as_ref().unwrap_err().to_string();
        assert!(
            e.contains("page 2") && e.contains("outside the file"),
            "{e}"
        );
    }

    #[test]
    fn patching_rejects_hostile_headers() {
        for bad in [
            &b""[..],
            b"II*\0",
            b"II*\0\xff\xff\xff\xff",
            b"MM\0*\0\0\0\x08\xff\xff",
            b"II+\0\x08\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff",
        ] {
            assert!(with_photometric(Page::first(bad), 1).is_err());
        }
    }
}
