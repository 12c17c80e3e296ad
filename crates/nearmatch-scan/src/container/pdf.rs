//! PDF: every image XObject in the file, in object-number order, wherever it is used (pages,
//! forms, annotations, patterns, soft masks) and also when nothing uses it any more (an image
//! left behind by an incremental update is evidence too).
//!
//! `DCTDecode` streams are JPEG files and go through the normal decoder, so their MD5 is often the
//! original file's. Flate, LZW, RunLength and ASCII-coded images are raw samples: they are
//! rebuilt into pixels from `Width`, `Height`, `BitsPerComponent`, `ColorSpace` and `Decode`
//! ([`raster_image`]). JPEG 2000, JBIG2 and CCITT images are reported as unsupported, naming the
//! filter. Inline images (`BI … EI` inside content streams) are not XObjects and are not read.

use std::io::Read;

use lopdf::{Dictionary, Document, LoadOptions, Object, Stream};
use nearmatch::pixels::{Image, Layout};

use super::{ContainerError, ContainerLimits, MemberHeader, MemberKind, Next, Source, Visit};

/// Whether `head` is a PDF: `%PDF-` within the first 1024 bytes, as readers accept it.
pub(crate) fn is_pdf(head: &[u8]) -> bool {
    let window = &head[..head.len().min(1024)];
    window.windows(5).any(|w| w == b"%PDF-")
}

/// How to turn a raw image stream's samples into pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct RasterSpec {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bits per sample: 1, 2, 4, 8 or 16.
    pub bits: u8,
    /// The colour space of the samples.
    pub space: RasterSpace,
    /// The `Decode` array (a min/max pair per component), when it is not the default.
    pub decode: Option<Vec<f32>>,
}

/// The colour spaces nearmatch rebuilds.
#[derive(Clone, Debug, PartialEq)]
pub enum RasterSpace {
    /// One component (DeviceGray, CalGray, ICCBased with N = 1, and stencil masks).
    Gray,
    /// Three components (DeviceRGB, CalRGB, ICCBased with N = 3).
    Rgb,
    /// Four components (DeviceCMYK, ICCBased with N = 4), converted as Pillow converts CMYK.
    Cmyk,
    /// One index per pixel into `lookup`, whose entries are colours of `base`.
    Indexed {
        /// The space of the palette's entries (Gray, Rgb or Cmyk).
        base: Box<RasterSpace>,
        /// The highest valid index.
        hival: u8,
        /// The palette: `(hival + 1) × components of base` bytes.
        lookup: Vec<u8>,
    },
}

impl RasterSpace {
    fn components(&self) -> usize {
        match self {
            RasterSpace::Gray | RasterSpace::Indexed { .. } => 1,
            RasterSpace::Rgb => 3,
            RasterSpace::Cmyk => 4,
        }
    }
}

impl RasterSpec {
    /// Bytes of one row of samples (rows start on a byte boundary).
    pub fn row_bytes(&self) -> u64 {
        (self.width as u64 * self.space.components() as u64 * self.bits as u64).div_ceil(8)
    }

    /// Bytes of samples the image needs.
    pub fn sample_bytes(&self) -> u64 {
        self.row_bytes() * self.height as u64
    }
}

/// Rebuilds the pixels of a raw PDF image from its decoded samples: grey stays grey, RGB stays
/// RGB, CMYK becomes RGB as Pillow converts it, palettes are expanded, and samples of 1–16 bits
/// are scaled to 8 bits (through the `Decode` array when there is one). Extra bytes after the
/// last row are ignored; missing ones are an error.
///
/// ```
/// use nearmatch_scan::container::pdf::{raster_image, RasterSpace, RasterSpec};
/// // A 2x1 one-bit stencil: 0 paints (black), 1 leaves the page (white).
/// let spec = RasterSpec { width: 2, height: 1, bits: 1, space: RasterSpace::Gray, decode: None };
/// let img = raster_image(&spec, &[0b0100_0000]).unwrap();
/// assert_eq!((img.rgb_at(0, 0), img.rgb_at(1, 0)), ([0, 0, 0], [255, 255, 255]));
/// ```
pub fn raster_image(spec: &RasterSpec, samples: &[u8]) -> Result<Image, String> {
    let need = spec.sample_bytes();
    if (samples.len() as u64) < need {
        return Err(format!(
            "image stream holds {} bytes of samples, {}x{} at {} bits needs {need}",
            samples.len(),
            spec.width,
            spec.height,
            spec.bits
        ));
    }
    let comps = spec.space.components();
    let (w, h) = (spec.width as usize, spec.height as usize);
    let row = spec.row_bytes() as usize;
    let max = ((1u32 << spec.bits) - 1) as f32;
    // Sample value -> 8-bit component, per component (a lookup table of 2^bits entries, or
    // of 256 entries for 16-bit samples, which are first reduced to their high byte).
    let levels = 1usize << spec.bits.min(8);
    let tables: Vec<Vec<u8>> = (0..comps)
        .map(|c| {
            (0..levels)
                .map(|v| {
                    let v = if spec.bits == 16 {
                        v as f32 * 257.0
                    } else {
                        v as f32
                    };
                    let (lo, hi) = match &spec.decode {
                        Some(d) if d.len() >= 2 * (c + 1) => (d[2 * c], d[2 * c + 1]),
                        _ if matches!(spec.space, RasterSpace::Indexed { .. }) => (0.0, max),
                        _ => (0.0, 1.0),
                    };
                    let x = lo + v * (hi - lo) / max;
                    if matches!(spec.space, RasterSpace::Indexed { .. }) {
                        x.round().clamp(0.0, 255.0) as u8
                    } else {
                        (x * 255.0).round().clamp(0.0, 255.0) as u8
                    }
                })
                .collect()
        })
        .collect();
    let mut values = Vec::with_capacity(w * h * comps);
    for y in 0..h {
        let line = &samples[y * row..(y + 1) * row];
        for i in 0..w * comps {
            let v = match spec.bits {
                8 => line[i] as usize,
                16 => line[2 * i] as usize,
                b => {
                    let bit = i * b as usize;
                    let byte = line[bit / 8] as usize;
                    (byte >> (8 - b as usize - bit % 8)) & ((1 << b) - 1)
                }
            };
            values.push(tables[i % comps][v]);
        }
    }
    let (space, values) = match &spec.space {
        RasterSpace::Indexed {
            base,
            hival,
            lookup,
        } => {
            let n = base.components();
            let mut out = Vec::with_capacity(w * h * n);
            for &i in &values {
                let i = i.min(*hival) as usize;
                match lookup.get(i * n..(i + 1) * n) {
                    Some(c) => out.extend_from_slice(c),
                    // A short palette: missing entries are black, as viewers show them.
                    None => out.extend(std::iter::repeat_n(0, n)),
                }
            }
            (base.as_ref().clone(), out)
        }
        other => (other.clone(), values),
    };
    let layout = match space {
        RasterSpace::Gray => Layout::Gray8(values),
        RasterSpace::Rgb => Layout::Rgb8(values),
        RasterSpace::Cmyk => Layout::Rgb8(nearmatch::decode::cmyk_to_rgb(&values)),
        RasterSpace::Indexed { .. } => return Err("a palette of palette colours".into()),
    };
    Image::new(spec.width, spec.height, layout).map_err(|e| e.to_string())
}

/// Reads every image XObject of the PDF in `source` (read whole, at most the member-bytes limit:
/// a PDF is parsed from memory), in object-number order.
pub(super) fn expand(
    source: &mut dyn Source,
    limits: &ContainerLimits,
    visit: &mut Visit<'_>,
) -> Result<(), ContainerError> {
    let cap = limits.member_bytes;
    let mut bytes = Vec::new();
    source
        .take(cap.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| ContainerError::Corrupt(format!("cannot read the PDF: {e}")))?;
    if bytes.len() as u64 > cap {
        return Err(ContainerError::Limit(format!(
            "member-bytes limit: a PDF larger than {cap} bytes is not parsed (PDFs are read whole)"
        )));
    }
    let options = LoadOptions {
        max_decompressed_size: Some(cap.min(usize::MAX as u64) as usize),
        ..LoadOptions::default()
    };
    let doc = Document::load_mem_with_options(&bytes, options)
        .map_err(|e| ContainerError::Corrupt(format!("not a readable PDF: {e}")))?;
    drop(bytes);
    if doc.is_encrypted() && doc.encryption_state.is_none() {
        return Err(ContainerError::Encrypted(
            "encrypted PDF: the empty user password does not open it; its images were not read"
                .into(),
        ));
    }
    for (&(num, generation), object) in &doc.objects {
        let Object::Stream(stream) = object else {
            continue;
        };
        if !is_image(&doc, &stream.dict) {
            continue;
        }
        let name = if generation == 0 {
            format!("object/{num}")
        } else {
            format!("object/{num}-{generation}")
        };
        let (kind, data) = member_of(&doc, stream, cap);
        let header = MemberHeader {
            name: name.into_bytes(),
            size: matches!(kind, MemberKind::File | MemberKind::Raster(_))
                .then_some(data.len() as u64),
            kind,
            ..MemberHeader::default()
        };
        if let Next::Stop(_) = visit(header, &mut data.as_slice()) {
            return Ok(());
        }
    }
    Ok(())
}

fn resolve<'a>(doc: &'a Document, o: &'a Object) -> &'a Object {
    doc.dereference(o).map(|(_, o)| o).unwrap_or(o)
}

fn name_of<'a>(doc: &'a Document, o: &'a Object) -> Option<&'a [u8]> {
    match resolve(doc, o) {
        Object::Name(n) => Some(n),
        _ => None,
    }
}

fn int_of(doc: &Document, d: &Dictionary, key: &[u8]) -> Option<i64> {
    match resolve(doc, d.get(key).ok()?) {
        Object::Integer(i) => Some(*i),
        Object::Real(r) if r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    }
}

fn is_image(doc: &Document, d: &Dictionary) -> bool {
    d.get(b"Subtype")
        .ok()
        .and_then(|o| name_of(doc, o))
        .is_some_and(|n| n == b"Image")
}

/// The filter names of a stream, in decoding order.
fn filters(doc: &Document, d: &Dictionary) -> Vec<Vec<u8>> {
    match d.get(b"Filter").ok().map(|o| resolve(doc, o)) {
        Some(Object::Name(n)) => vec![n.clone()],
        Some(Object::Array(a)) => a
            .iter()
            .filter_map(|o| name_of(doc, o).map(<[u8]>::to_vec))
            .collect(),
        _ => Vec::new(),
    }
}

/// The member an image stream becomes: a JPEG file, raw samples with their layout, or a reason
/// it is not read.
fn member_of(doc: &Document, stream: &Stream, cap: u64) -> (MemberKind, Vec<u8>) {
    let chain = filters(doc, &stream.dict);
    let shown = |f: &[u8]| String::from_utf8_lossy(f).into_owned();
    for f in &chain {
        let what = match f.as_slice() {
            b"JPXDecode" => "JPEG 2000",
            b"JBIG2Decode" => "JBIG2",
            b"CCITTFaxDecode" | b"CCF" => "CCITT fax",
            b"Crypt" => "a per-stream crypt filter",
            _ => continue,
        };
        return (
            MemberKind::Unsupported(format!("{} image ({what}): not decoded", shown(f))),
            Vec::new(),
        );
    }
    let (prefix, jpeg) = match chain.last().map(Vec::as_slice) {
        Some(b"DCTDecode" | b"DCT") => (&chain[..chain.len() - 1], true),
        _ => (&chain[..], false),
    };
    let decoded = |prefix: &[Vec<u8>], limit: u64| -> Result<Vec<u8>, String> {
        if prefix.is_empty() {
            if stream.content.len() as u64 > limit {
                return Err(format!("more than {limit} bytes"));
            }
            return Ok(stream.content.clone());
        }
        let mut s = stream.clone();
        s.dict.set(
            "Filter",
            Object::Array(prefix.iter().map(|f| Object::Name(f.clone())).collect()),
        );
        s.decompressed_content_with_limit(limit.min(usize::MAX as u64) as usize)
            .map_err(|e| e.to_string())
    };
    let chain_name = || {
        if chain.is_empty() {
            "unfiltered".to_string()
        } else {
            chain.iter().map(|f| shown(f)).collect::<Vec<_>>().join("+")
        }
    };
    if jpeg {
        return match decoded(prefix, cap) {
            Ok(bytes) => (MemberKind::File, bytes),
            Err(e) => (
                MemberKind::Broken(format!(
                    "{} image stream cannot be decoded: {e}",
                    chain_name()
                )),
                Vec::new(),
            ),
        };
    }
    let spec = match raster_spec(doc, &stream.dict) {
        Ok(s) => s,
        Err(why) => return (MemberKind::Unsupported(why), Vec::new()),
    };
    let need = spec.sample_bytes();
    if need > cap {
        return (
            MemberKind::Limit(format!(
                "member-bytes limit: a {}x{} image needs {need} bytes of samples, more than {cap}",
                spec.width, spec.height
            )),
            Vec::new(),
        );
    }
    match decoded(prefix, need) {
        Ok(mut bytes) => {
            if (bytes.len() as u64) < need {
                return (
                    MemberKind::Broken(format!(
                        "{} image stream holds {} bytes, {}x{} at {} bits needs {need}",
                        chain_name(),
                        bytes.len(),
                        spec.width,
                        spec.height,
                        spec.bits
                    )),
                    Vec::new(),
                );
            }
            bytes.truncate(need as usize);
            (MemberKind::Raster(spec), bytes)
        }
        // lopdf decodes at most `need` bytes: more is padding we need not read, but an error
        // says so too, so retry once with room to tell padding from damage.
        Err(_) => match decoded(
            prefix,
            need.saturating_mul(2).saturating_add(1 << 16).min(cap),
        ) {
            Ok(mut bytes) if bytes.len() as u64 >= need => {
                bytes.truncate(need as usize);
                (MemberKind::Raster(spec), bytes)
            }
            Ok(bytes) => (
                MemberKind::Broken(format!(
                    "{} image stream holds {} bytes, {}x{} needs {need}",
                    chain_name(),
                    bytes.len(),
                    spec.width,
                    spec.height
                )),
                Vec::new(),
            ),
            Err(e) => (
                MemberKind::Broken(format!(
                    "{} image stream cannot be decoded: {e}",
                    chain_name()
                )),
                Vec::new(),
            ),
        },
    }
}

/// The layout of a raw image from its dictionary.
fn raster_spec(doc: &Document, d: &Dictionary) -> Result<RasterSpec, String> {
    let dim = |key: &[u8]| {
        int_of(doc, d, key)
            .filter(|&v| v > 0 && v <= u32::MAX as i64)
            .map(|v| v as u32)
            .ok_or_else(|| format!("image without a valid /{}", String::from_utf8_lossy(key)))
    };
    let (width, height) = (dim(b"Width")?, dim(b"Height")?);
    let mask = matches!(
        d.get(b"ImageMask").ok().map(|o| resolve(doc, o)),
        Some(Object::Boolean(true))
    );
    let bits = if mask {
        1
    } else {
        match int_of(doc, d, b"BitsPerComponent") {
            Some(b @ (1 | 2 | 4 | 8 | 16)) => b as u8,
            Some(b) => return Err(format!("image with {b} bits per component: not decoded")),
            None => return Err("image without /BitsPerComponent".into()),
        }
    };
    let space = if mask {
        RasterSpace::Gray
    } else {
        match d.get(b"ColorSpace").ok().or_else(|| d.get(b"CS").ok()) {
            Some(cs) => color_space(doc, cs, 0)?,
            None => return Err("image without /ColorSpace".into()),
        }
    };
    let decode = match d.get(b"Decode").ok().map(|o| resolve(doc, o)) {
        Some(Object::Array(a)) => {
            let v: Vec<f32> = a
                .iter()
                .filter_map(|o| match resolve(doc, o) {
                    Object::Integer(i) => Some(*i as f32),
                    Object::Real(r) => Some(*r),
                    _ => None,
                })
                .collect();
            Some(v)
        }
        _ => None,
    };
    Ok(RasterSpec {
        width,
        height,
        bits,
        space,
        decode,
    })
}

fn color_space(doc: &Document, cs: &Object, depth: u8) -> Result<RasterSpace, String> {
    let unsupported = |n: &[u8]| {
        Err(format!(
            "image in the {} colour space: not decoded",
            String::from_utf8_lossy(n)
        ))
    };
    if depth > 4 {
        return Err("colour space nested too deeply".into());
    }
    match resolve(doc, cs) {
        Object::Name(n) => match n.as_slice() {
            b"DeviceGray" | b"G" | b"CalGray" => Ok(RasterSpace::Gray),
            b"DeviceRGB" | b"RGB" | b"CalRGB" => Ok(RasterSpace::Rgb),
            b"DeviceCMYK" | b"CMYK" => Ok(RasterSpace::Cmyk),
            other => unsupported(other),
        },
        Object::Array(a) => {
            let family = a.first().and_then(|o| name_of(doc, o)).unwrap_or(b"?");
            match family {
                b"CalGray" => Ok(RasterSpace::Gray),
                b"CalRGB" => Ok(RasterSpace::Rgb),
                b"ICCBased" => {
                    let dict = match a.get(1).map(|o| resolve(doc, o)) {
                        Some(Object::Stream(s)) => &s.dict,
                        _ => return Err("ICCBased colour space without its profile".into()),
                    };
                    match int_of(doc, dict, b"N") {
                        Some(1) => Ok(RasterSpace::Gray),
                        Some(3) => Ok(RasterSpace::Rgb),
                        Some(4) => Ok(RasterSpace::Cmyk),
                        _ => match dict.get(b"Alternate") {
                            Ok(alt) => color_space(doc, alt, depth + 1),
                            Err(_) => Err("ICCBased colour space without /N".into()),
                        },
                    }
                }
                b"Indexed" | b"I" => {
                    let base = color_space(
                        doc,
                        a.get(1).ok_or("Indexed colour space without a base")?,
                        depth + 1,
                    )?;
                    if matches!(base, RasterSpace::Indexed { .. }) {
                        return Err("Indexed colour space over another palette".into());
                    }
                    let hival = match a.get(2).map(|o| resolve(doc, o)) {
                        Some(Object::Integer(h)) if (0..=255).contains(h) => *h as u8,
                        _ => return Err("Indexed colour space without a valid hival".into()),
                    };
                    let lookup = match a.get(3).map(|o| resolve(doc, o)) {
                        Some(Object::String(s, _)) => s.clone(),
                        Some(Object::Stream(s)) => s
                            .decompressed_content_with_limit(1 << 16)
                            .or_else(|_| {
                                if s.dict.get(b"Filter").is_err() {
                                    Ok(s.content.clone())
                                } else {
                                    Err(())
                                }
                            })
                            .map_err(|_| "Indexed colour space whose palette cannot be read")?,
                        _ => return Err("Indexed colour space without a palette".into()),
                    };
                    Ok(RasterSpace::Indexed {
                        base: Box::new(base),
                        hival,
                        lookup,
                    })
                }
                other => unsupported(other),
            }
        }
        _ => Err("image with an unreadable /ColorSpace".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(w: u32, h: u32, bits: u8, space: RasterSpace) -> RasterSpec {
        RasterSpec {
            width: w,
            height: h,
            bits,
            space,
            decode: None,
        }
    }

    #[test]
    fn rows_start_on_byte_boundaries() {
        // 3 pixels of 4-bit grey: 12 bits -> 2 bytes per row; the low nibble of byte 2 is padding.
        let img =
            raster_image(&spec(3, 2, 4, RasterSpace::Gray), &[0x0f, 0x50, 0xf0, 0x00]).unwrap();
        let grey: Vec<u8> = (0..2)
            .flat_map(|y| (0..3).map(move |x| (x, y)))
            .map(|(x, y)| img.rgb_at(x, y)[0])
            .collect();
        assert_eq!(grey, [0, 255, 85, 255, 0, 0]);
    }

    #[test]
    fn palettes_expand_and_clamp_to_hival() {
        let space = RasterSpace::Indexed {
            base: Box::new(RasterSpace::Rgb),
            hival: 1,
            lookup: vec![10, 20, 30, 40, 50, 60],
        };
        let img = raster_image(&spec(3, 1, 8, space), &[1, 0, 7]).unwrap();
        assert_eq!(img.rgb_at(0, 0), [40, 50, 60]);
        assert_eq!(img.rgb_at(1, 0), [10, 20, 30]);
        // Index 7 is past hival 1: clamped, as the PDF reference says.
        assert_eq!(img.rgb_at(2, 0), [40, 50, 60]);
    }

    #[test]
    fn decode_arrays_invert_and_sixteen_bits_use_the_high_byte() {
        let mut s = spec(2, 1, 8, RasterSpace::Gray);
        s.decode = Some(vec![1.0, 0.0]);
        let img = raster_image(&s, &[0, 255]).unwrap();
        assert_eq!((img.rgb_at(0, 0)[0], img.rgb_at(1, 0)[0]), (255, 0));
        let img = raster_image(
            &spec(1, 1, 16, RasterSpace::Rgb),
            &[0x12, 0xff, 0x80, 0, 0xff, 0xff],
        )
        .unwrap();
        assert_eq!(img.rgb_at(0, 0), [0x12, 0x80, 0xff]);
    }

    #[test]
    fn short_streams_are_errors_not_panics() {
        let err = raster_image(&spec(4, 4, 8, RasterSpace::Rgb), &[0; 47]).unwrap_err();
        assert!(err.contains("needs 48"), "{err}");
    }

    #[test]
    fn pdf_magic_may_follow_garbage() {
        assert!(is_pdf(b"%PDF-1.7\n"));
        assert!(is_pdf(b"\0\0junk%PDF-1.4"));
        assert!(!is_pdf(b"PDF"));
    }
}
