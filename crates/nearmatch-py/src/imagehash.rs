//! The native half of `nearmatch.imagehash`: imagehash's functions on pixels handed over by the
//! Python module (raw PIL bytes in a few layouts), every option, results as numpy bool arrays.
//!
//! The Python module mirrors imagehash's argument checks and error types; this layer converts
//! layouts to the core's planes, releases the GIL, and maps errors.

use std::path::PathBuf;

use nearmatch::hash::colorhash::{
    color_counts_gray, color_counts_planes, color_counts_rgb, ColorCounts,
};
use nearmatch::hash::crop_resistant::{
    crop_resistant_hash, segments, CropResistantOptions, SegmentationError,
};
use nearmatch::hash::imagehash::{BitMatrix, ImagehashSpec, Threshold};
use nearmatch::hash::luma::{pil_luma, rgb_strided_to_l, rgb_to_l, LumaPlane};
use nearmatch::hash::resample::{resize_lanczos, PillowVersion};
use nearmatch::hash::whash::{Wavelet, WhashOptions};
use nearmatch::pixels::{Image, Layout};
use nearmatch::Error;
use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2};
use pyo3::exceptions::{PyIndexError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyList, PyTuple};
use rayon::prelude::*;
use std::ffi::{c_char, c_void};

use crate::errors::{to_py, value_error};

/// An imagehash function and its options as the Python module passes them:
/// `(function, hash_size, highfreq_factor, threshold, image_scale, wavelet, dec_lo,
/// remove_max_haar_ll)`.
pub type SpecTuple = (
    String,
    usize,
    usize,
    String,
    Option<usize>,
    String,
    Option<Vec<f64>>,
    bool,
);

/// Parses the Python module's description of an imagehash function.
pub fn spec(t: SpecTuple) -> PyResult<ImagehashSpec> {
    let (func, hash_size, highfreq_factor, threshold, image_scale, wavelet, dec_lo, remove) = t;
    Ok(match func.as_str() {
        "average_hash" => ImagehashSpec::AverageHash {
            hash_size,
            threshold: match threshold.as_str() {
                "mean" => Threshold::Mean,
                "median" => Threshold::Median,
                other => return value_error(format!("unknown threshold {other:?}")),
            },
        },
        "phash" => ImagehashSpec::Phash {
            hash_size,
            highfreq_factor,
        },
        "phash_simple" => ImagehashSpec::PhashSimple {
            hash_size,
            highfreq_factor,
        },
        "dhash" => ImagehashSpec::Dhash { hash_size },
        "dhash_vertical" => ImagehashSpec::DhashVertical { hash_size },
        "whash" => {
            let wavelet = match dec_lo {
                Some(f) => Wavelet::from_filter(&wavelet, f).map_err(to_py)?,
                None => Wavelet::by_name(&wavelet).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "wavelet {wavelet:?} needs its filter (PyWavelets' dec_lo)"
                    ))
                })?,
            };
            ImagehashSpec::Whash(WhashOptions {
                hash_size,
                image_scale,
                wavelet,
                remove_max_haar_ll: remove,
            })
        }
        other => return value_error(format!("unknown imagehash function {other:?}")),
    })
}

/// `"13"` or `"12"`.
fn pillow_version(s: &str) -> PyResult<PillowVersion> {
    match s.trim().to_ascii_lowercase().trim_start_matches("pillow") {
        "13" => Ok(PillowVersion::Pillow13),
        "12" => Ok(PillowVersion::Pillow12),
        _ => value_error(format!("pillow must be \"13\" or \"12\", got {s:?}")),
    }
}

/// The Arrow C data interface's `ArrowSchema` (the stable ABI Pillow exports images with).
#[repr(C)]
struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

/// The Arrow C data interface's `ArrowArray`.
#[repr(C)]
struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

/// The pixel bytes of a Pillow image exported with `Image.__arrow_c_array__()` (Pillow ≥ 11.2),
/// without copying: a `uint8` array (modes L, P, 1) or a fixed-size list of 4 `uint8` per pixel
/// (RGB, RGBA, RGBX, LA, PA: Pillow's 4-byte pixels). `len` is the expected byte count.
///
/// The bytes belong to the image, which the capsules keep alive until they are released (by
/// their destructors, when the caller's tuple goes away), so they live as long as `data`.
fn arrow_bytes<'a>(data: &'a Bound<'_, PyTuple>, len: usize) -> PyResult<&'a [u8]> {
    let bad = |why: &str| PyValueError::new_err(format!("unexpected Arrow export: {why}"));
    let schema_cap = data.get_item(0)?.cast_into::<PyCapsule>()?;
    let array_cap = data.get_item(1)?.cast_into::<PyCapsule>()?;
    let schema = schema_cap
        .pointer_checked(Some(c"arrow_schema"))?
        .cast::<ArrowSchema>();
    let array = array_cap
        .pointer_checked(Some(c"arrow_array"))?
        .cast::<ArrowArray>();
    // SAFETY: the capsules are named as the Arrow PyCapsule interface requires, so they point to
    // live ArrowSchema / ArrowArray structs (not yet released: checked below) whose buffers stay
    // valid while the capsules exist; every count, offset and pointer is checked before use.
    unsafe {
        let (s, a) = (schema.as_ref(), array.as_ref());
        if s.release.is_none() || a.release.is_none() {
            return Err(bad("released"));
        }
        if a.null_count > 0 || a.offset < 0 || a.length < 0 {
            return Err(bad("nulls or offsets"));
        }
        let format = std::ffi::CStr::from_ptr(s.format).to_bytes();
        // The leaf uint8 array and how many of its elements precede the first pixel.
        let (leaf, per_item, skip) = match format {
            b"C" => (a, 1usize, 0usize),
            b"+w:4" => {
                if s.n_children != 1 || a.n_children != 1 || a.children.is_null() {
                    return Err(bad("list without a child"));
                }
                let child_schema = &**s.children;
                if std::ffi::CStr::from_ptr(child_schema.format).to_bytes() != b"C" {
                    return Err(bad("list of non-uint8"));
                }
                let child = &**a.children;
                if child.null_count > 0 || child.offset < 0 || child.length < 0 {
                    return Err(bad("child nulls or offsets"));
                }
                (child, 4, a.offset as usize * 4)
            }
            _ => return Err(bad("format")),
        };
        if leaf.n_buffers < 2 || leaf.buffers.is_null() {
            return Err(bad("buffers"));
        }
        let ptr = *leaf.buffers.add(1) as *const u8;
        if ptr.is_null() || a.length as usize * per_item != len || skip + len > leaf.length as usize
        {
            return Err(bad("length"));
        }
        let start = leaf.offset as usize + skip;
        Ok(std::slice::from_raw_parts(ptr.add(start), len))
    }
}

/// The bytes handed over: `bytes`, or the `(schema, array)` capsules of Pillow's Arrow export.
fn pixel_bytes<'a>(data: &'a Bound<'_, PyAny>, len: usize) -> PyResult<&'a [u8]> {
    if let Ok(b) = data.cast::<PyBytes>() {
        return Ok(b.as_bytes());
    }
    if len == 0 {
        return Ok(&[]);
    }
    arrow_bytes(data.cast::<PyTuple>()?, len)
}

/// Pixels as the Python module passes them: `stride` bytes per pixel of one kind — grey
/// (`L`: the value in byte 0), colour (`RGB`: bytes 0-2) or palette indices (`P`: byte 0, with
/// the palette as RGB triples) — row-major, `width * height` of them.
struct RawPixels<'a> {
    data: &'a [u8],
    kind: &'a str,
    stride: usize,
    palette: Option<&'a [u8]>,
}

impl<'a> RawPixels<'a> {
    /// Reads and checks the arguments every function takes.
    fn new(
        data: &'a Bound<'_, PyAny>,
        width: usize,
        height: usize,
        kind: &'a str,
        stride: usize,
        palette: Option<&'a [u8]>,
    ) -> PyResult<RawPixels<'a>> {
        let ok = match kind {
            "L" | "P" => matches!(stride, 1 | 2 | 4),
            "RGB" => matches!(stride, 3 | 4),
            _ => false,
        };
        if !ok {
            return value_error(format!(
                "unsupported pixel layout {kind} with {stride} bytes"
            ));
        }
        if kind == "P" && palette.is_none() {
            return value_error("palette pixels need their palette");
        }
        let Some(len) = width
            .checked_mul(height)
            .and_then(|n| n.checked_mul(stride))
        else {
            return value_error("image too large");
        };
        let data = pixel_bytes(data, len)?;
        if data.len() != len {
            return value_error(format!(
                "{width}x{height} pixels of {stride} bytes need {len} bytes, got {}",
                data.len()
            ));
        }
        Ok(RawPixels {
            data,
            kind,
            stride,
            palette,
        })
    }

    /// The palette as 256 RGB triples (missing entries black, as in a PIL palette).
    fn palette256(&self) -> Vec<[u8; 3]> {
        let mut pal = vec![[0u8; 3]; 256];
        if let Some(p) = self.palette {
            for (dst, src) in pal.iter_mut().zip(p.chunks_exact(3)) {
                dst.copy_from_slice(src);
            }
        }
        pal
    }

    /// PIL's `convert('L')` of these pixels.
    fn luma(&self) -> Vec<u8> {
        let d = self.data;
        match (self.kind, self.stride) {
            ("L", 1) => d.to_vec(),
            ("L", s) => d.iter().step_by(s).copied().collect(),
            ("RGB", s) => rgb_strided_to_l(d, s),
            (_, s) => {
                let lut: Vec<u8> = self
                    .palette256()
                    .iter()
                    .map(|c| rgb_to_l(c[0], c[1], c[2]))
                    .collect();
                d.iter().step_by(s).map(|&i| lut[i as usize]).collect()
            }
        }
    }

    /// colorhash's counts: `convert('L')` and `convert('HSV')` per pixel.
    fn color_counts(&self) -> ColorCounts {
        match self.kind {
            "L" => color_counts_gray(&self.luma()),
            "RGB" => color_counts_rgb(self.data, self.stride),
            _ => {
                let pal = self.palette256();
                let rgb: Vec<u8> = self
                    .data
                    .iter()
                    .step_by(self.stride)
                    .flat_map(|&i| pal[i as usize])
                    .collect();
                color_counts_rgb(&rgb, 3)
            }
        }
    }
}

/// A numpy bool array shaped as the hash.
fn to_array<'py>(py: Python<'py>, m: BitMatrix) -> Bound<'py, PyArray2<bool>> {
    let (rows, cols) = (m.rows(), m.cols());
    Array2::from_shape_vec((rows, cols), m.bits().to_vec())
        .expect("rows x cols bits")
        .into_pyarray(py)
}

/// Pillow's error for an empty image it refuses to resize.
fn empty_resize_error() -> Error {
    Error::InvalidArgument("height and width must be > 0".into())
}

/// The hash of a `w`×`h` luma plane, an empty one included (Pillow resizes an empty image to
/// zeros, or refuses as [`PillowVersion::refuses_empty_resize`] says; the Python module
/// refuses the cases imagehash cannot compute first).
fn hash_plane(
    spec: &ImagehashSpec,
    luma: Vec<u8>,
    w: usize,
    h: usize,
    pillow: PillowVersion,
) -> Result<BitMatrix, Error> {
    if w == 0 || h == 0 {
        let (tw, th) = spec.resize_target(w.max(1), h.max(1))?;
        if pillow.refuses_empty_resize(w, h, tw, th) {
            return Err(empty_resize_error());
        }
        return spec.hash_resized(&vec![0u8; tw * th], tw, th);
    }
    spec.hash_luma(&LumaPlane::new(w, h, luma)?, pillow)
}

/// One imagehash function of raw PIL pixels.
#[pyfunction]
#[pyo3(signature = (data, width, height, kind, stride, palette, spec_tuple, pillow="13"))]
#[allow(clippy::too_many_arguments)]
pub fn ih_hash<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
    width: usize,
    height: usize,
    kind: &str,
    stride: usize,
    palette: Option<&[u8]>,
    spec_tuple: SpecTuple,
    pillow: &str,
) -> PyResult<Bound<'py, PyArray2<bool>>> {
    let px = RawPixels::new(data, width, height, kind, stride, palette)?;
    let spec = spec(spec_tuple)?;
    let pillow = pillow_version(pillow)?;
    let m = py
        .detach(|| hash_plane(&spec, px.luma(), width, height, pillow))
        .map_err(to_py)?;
    Ok(to_array(py, m))
}

/// The `convert('L')` plane resized to `tw`×`th` with Pillow's Lanczos (for `average_hash`
/// with a `mean` callable nearmatch does not know).
#[pyfunction]
#[pyo3(signature = (data, width, height, kind, stride, palette, tw, th, pillow="13"))]
#[allow(clippy::too_many_arguments)]
pub fn ih_resized<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
    width: usize,
    height: usize,
    kind: &str,
    stride: usize,
    palette: Option<&[u8]>,
    tw: usize,
    th: usize,
    pillow: &str,
) -> PyResult<Bound<'py, PyArray2<u8>>> {
    let px = RawPixels::new(data, width, height, kind, stride, palette)?;
    let pillow = pillow_version(pillow)?;
    if tw == 0 || th == 0 {
        return value_error("height and width must be > 0");
    }
    let small = py.detach(|| {
        if width == 0 || height == 0 {
            if pillow.refuses_empty_resize(width, height, tw, th) {
                return Err(empty_resize_error());
            }
            Ok(vec![0u8; tw * th])
        } else {
            resize_lanczos(&px.luma(), width, height, tw, th, pillow)
        }
    });
    let small = small.map_err(to_py)?;
    Ok(Array2::from_shape_vec((th, tw), small)
        .expect("th x tw")
        .into_pyarray(py))
}

/// `colorhash` of raw PIL pixels (layouts whose conversions nearmatch reproduces).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub fn ih_colorhash<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
    width: usize,
    height: usize,
    kind: &str,
    stride: usize,
    palette: Option<&[u8]>,
    binbits: u32,
) -> PyResult<Bound<'py, PyArray2<bool>>> {
    let px = RawPixels::new(data, width, height, kind, stride, palette)?;
    let m = py
        .detach(|| px.color_counts().hash(binbits))
        .map_err(to_py)?;
    Ok(to_array(py, m))
}

/// `colorhash` from the planes Pillow made: `convert('L')` and the H and S bands of
/// `convert('HSV')`.
#[pyfunction]
pub fn ih_colorhash_planes<'py>(
    py: Python<'py>,
    l: &[u8],
    h: &[u8],
    s: &[u8],
    binbits: u32,
) -> PyResult<Bound<'py, PyArray2<bool>>> {
    let m = py
        .detach(|| color_counts_planes(l, h, s)?.hash(binbits))
        .map_err(to_py)?;
    Ok(to_array(py, m))
}

/// Crop boxes as `Image.crop` receives them after rounding: (left, upper, right, lower).
type CropBox = (i64, i64, i64, i64);

fn segmentation_error(e: SegmentationError) -> PyErr {
    match e {
        SegmentationError::Stalled { .. } => {
            PyIndexError::new_err("index 0 is out of bounds for axis 0 with size 0")
        }
        SegmentationError::Core(e) => to_py(e),
        e @ SegmentationError::EmptyCrop { .. } => PyValueError::new_err(e.to_string()),
    }
}

/// `crop_resistant_hash`'s segments: the crop box of each segment in the original image, and,
/// when `spec_tuple` names a function nearmatch computes, the hash of each crop (`None` when a
/// crop is one that function cannot hash: the Python module then crops and hashes itself).
#[pyfunction]
#[pyo3(signature = (data, width, height, kind, stride, palette, limit_segments, segment_threshold, min_segment_size, segmentation_image_size, spec_tuple=None, pillow="13"))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn ih_crop_resistant<'py>(
    py: Python<'py>,
    data: &Bound<'_, PyAny>,
    width: usize,
    height: usize,
    kind: &str,
    stride: usize,
    palette: Option<&[u8]>,
    limit_segments: Option<i64>,
    segment_threshold: f64,
    min_segment_size: usize,
    segmentation_image_size: usize,
    spec_tuple: Option<SpecTuple>,
    pillow: &str,
) -> PyResult<(Vec<CropBox>, Option<Bound<'py, PyList>>)> {
    let px = RawPixels::new(data, width, height, kind, stride, palette)?;
    let pillow = pillow_version(pillow)?;
    let spec = spec_tuple.map(spec).transpose()?;
    let opts = CropResistantOptions {
        limit_segments,
        segment_threshold,
        min_segment_size,
        segmentation_image_size,
    };
    let (boxes, hashes) = py
        .detach(|| {
            let luma = LumaPlane::new(width, height, px.luma())?;
            let segs = segments(&luma, &opts, pillow)?;
            let boxes: Vec<CropBox> = segs
                .iter()
                .map(|s| s.crop_box(width, height, segmentation_image_size))
                .collect();
            let hashes = match &spec {
                Some(spec) => match crop_resistant_hash(&luma, &opts, spec, pillow) {
                    Ok(h) => Some(h),
                    Err(SegmentationError::EmptyCrop { .. }) => None,
                    Err(e) => return Err(e),
                },
                None => None,
            };
            Ok((boxes, hashes))
        })
        .map_err(segmentation_error)?;
    let hashes = match hashes {
        Some(h) => Some(PyList::new(py, h.into_iter().map(|m| to_array(py, m)))?),
        None => None,
    };
    Ok((boxes, hashes))
}

/// Pillow's `convert('HSV')` hue and saturation of RGB triples (for tests: every colour can be
/// checked against Pillow).
#[pyfunction]
pub fn ih_rgb_to_hs(py: Python<'_>, rgb: &[u8]) -> (Vec<u8>, Vec<u8>) {
    py.detach(|| {
        rgb.chunks_exact(3)
            .map(|p| {
                let (h, s, _) = nearmatch::hash::colorhash::rgb_to_hsv(p[0], p[1], p[2]);
                (h, s)
            })
            .unzip()
    })
}

/// What `hash_files` computes per file.
enum Request {
    /// An imagehash function of the file's `convert('L')` plane.
    Spec(ImagehashSpec),
    /// `colorhash(binbits)`.
    Color(u32),
    /// `crop_resistant_hash` with one of nearmatch's functions.
    CropResistant(CropResistantOptions, ImagehashSpec),
}

/// One file's results: per request its bits (a list of segment hashes for crop-resistant
/// requests) or the reason it has none.
type FileResult = Result<Vec<Vec<BitMatrix>>, String>;

fn hash_file(path: &std::path::Path, requests: &[Request], pillow: PillowVersion) -> FileResult {
    let bytes =
        nearmatch_scan::read::read_capped(path, nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE)
            .map_err(|e| {
                Error::Io {
                    path: path.to_path_buf(),
                    source: e.into_io(),
                }
                .to_string()
            })?;
    let decoded = nearmatch::decode::decode(&bytes, &nearmatch::decode::Limits::default())
        .map_err(|e| e.to_string())?;
    hash_image_requests(&decoded.image, requests, pillow).map_err(|e| e.to_string())
}

/// One request on decoded pixels.
fn run_request(
    img: &Image,
    luma: &LumaPlane,
    request: &Request,
    pillow: PillowVersion,
) -> Result<Vec<BitMatrix>, SegmentationError> {
    Ok(match request {
        Request::Spec(s) => vec![s.hash_luma(luma, pillow)?],
        Request::Color(b) => {
            let counts = match img.layout() {
                Layout::Rgb8(v) => color_counts_rgb(v, 3),
                _ => color_counts_gray(luma.pixels()),
            };
            vec![counts.hash(*b)?]
        }
        Request::CropResistant(o, s) => crop_resistant_hash(luma, o, s, pillow)?,
    })
}

fn hash_image_requests(
    img: &Image,
    requests: &[Request],
    pillow: PillowVersion,
) -> Result<Vec<Vec<BitMatrix>>, String> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let luma = LumaPlane::new(w, h, pil_luma(img)).map_err(|e| e.to_string())?;
    requests
        .iter()
        .map(|r| run_request(img, &luma, r, pillow).map_err(|e| e.to_string()))
        .collect()
}

/// Decodes the encoded file a PIL image was opened from (JPEG or PNG, not yet loaded by
/// Pillow) and runs one request on it: Pillow's pixels, decoded without Pillow. `None` when the
/// bytes do not decode or not to `width`×`height`: the Python module then lets Pillow decode.
///
/// `mode` is the PIL image's mode: the decoded layout must be the one Pillow's mode implies
/// (8-bit grey for `1`/`L`/`LA`, 16-bit grey for `I;16`, RGB for `RGB`/`RGBA`/`P`), so that
/// `convert('L')` and `convert('HSV')` of both are the same.
#[pyfunction]
#[pyo3(signature = (data, width, height, mode, request, pillow="13"))]
pub fn ih_hash_encoded<'py>(
    py: Python<'py>,
    data: &[u8],
    width: usize,
    height: usize,
    mode: &str,
    request: RequestTuple,
    pillow: &str,
) -> PyResult<Option<Vec<Bound<'py, PyArray2<bool>>>>> {
    let pillow = pillow_version(pillow)?;
    let request = self::request(request)?;
    let out = py.detach(|| {
        let Ok(decoded) = nearmatch::decode::decode(data, &nearmatch::decode::Limits::default())
        else {
            return Ok(None);
        };
        let img = decoded.image;
        let same_layout = match img.layout() {
            Layout::Gray8(_) => matches!(mode, "1" | "L" | "LA"),
            Layout::Gray16(_) => mode.starts_with("I;16") || mode == "I",
            Layout::Rgb8(_) => matches!(mode, "RGB" | "RGBA" | "P"),
        };
        if !same_layout || (img.width() as usize, img.height() as usize) != (width, height) {
            return Ok(None);
        }
        let luma = LumaPlane::new(width, height, pil_luma(&img))?;
        match run_request(&img, &luma, &request, pillow) {
            Ok(m) => Ok(Some(m)),
            Err(SegmentationError::EmptyCrop { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    });
    Ok(out
        .map_err(segmentation_error)?
        .map(|ms| ms.into_iter().map(|m| to_array(py, m)).collect()))
}

/// A `hash_files` request from Python: `("spec", spec_tuple)`, `("colorhash", binbits)` or
/// `("crop_resistant", (limit, threshold, min_size, seg_size), spec_tuple)`.
type RequestTuple = (
    String,
    Option<SpecTuple>,
    Option<u32>,
    Option<(Option<i64>, f64, usize, usize)>,
);

fn request(t: RequestTuple) -> PyResult<Request> {
    let (kind, spec_t, binbits, cr) = t;
    Ok(match kind.as_str() {
        "spec" => {
            let s =
                spec(spec_t.ok_or_else(|| PyValueError::new_err("spec request needs a spec"))?)?;
            s.validate().map_err(to_py)?;
            Request::Spec(s)
        }
        "colorhash" => Request::Color(binbits.unwrap_or(3)),
        "crop_resistant" => {
            let s =
                spec(spec_t.ok_or_else(|| PyValueError::new_err("crop_resistant needs a spec"))?)?;
            s.validate().map_err(to_py)?;
            let (limit_segments, segment_threshold, min_segment_size, segmentation_image_size) =
                cr.ok_or_else(|| PyValueError::new_err("crop_resistant needs its options"))?;
            Request::CropResistant(
                CropResistantOptions {
                    limit_segments,
                    segment_threshold,
                    min_segment_size,
                    segmentation_image_size,
                },
                s,
            )
        }
        other => return value_error(format!("unknown request {other:?}")),
    })
}

/// Per file: `None` and an error message, or per request a list of bool arrays (one, or one per
/// segment for crop-resistant requests).
type BatchRow<'py> = (Option<Vec<Vec<Bound<'py, PyArray2<bool>>>>>, Option<String>);

/// Decodes and hashes files in parallel (GIL released), each file decoded once for every
/// request; one row per path, in input order; a file that fails gets its error message.
#[pyfunction]
#[pyo3(signature = (paths, requests, threads=None, pillow="13"))]
pub fn ih_hash_files<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    requests: Vec<RequestTuple>,
    threads: Option<usize>,
    pillow: &str,
) -> PyResult<Vec<BatchRow<'py>>> {
    let pillow = pillow_version(pillow)?;
    let requests: Vec<Request> = requests.into_iter().map(request).collect::<PyResult<_>>()?;
    if requests.is_empty() {
        return value_error("name at least one hash function");
    }
    let pool = match threads {
        Some(0) => return value_error("threads must be at least 1 (or None for all cores)"),
        Some(n) => Some(
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?,
        ),
        None => None,
    };
    let results: Vec<FileResult> = py.detach(|| {
        let run = || {
            paths
                .par_iter()
                .map(|p| hash_file(p, &requests, pillow))
                .collect()
        };
        match &pool {
            Some(pool) => pool.install(run),
            None => run(),
        }
    });
    Ok(results
        .into_iter()
        .map(|r| match r {
            Ok(per_request) => (
                Some(
                    per_request
                        .into_iter()
                        .map(|ms| ms.into_iter().map(|m| to_array(py, m)).collect())
                        .collect(),
                ),
                None,
            ),
            Err(e) => (None, Some(e)),
        })
        .collect())
}

/// Registers the functions on the native module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(ih_hash, m)?)?;
    m.add_function(wrap_pyfunction!(ih_resized, m)?)?;
    m.add_function(wrap_pyfunction!(ih_colorhash, m)?)?;
    m.add_function(wrap_pyfunction!(ih_colorhash_planes, m)?)?;
    m.add_function(wrap_pyfunction!(ih_crop_resistant, m)?)?;
    m.add_function(wrap_pyfunction!(ih_rgb_to_hs, m)?)?;
    m.add_function(wrap_pyfunction!(ih_hash_files, m)?)?;
    m.add_function(wrap_pyfunction!(ih_hash_encoded, m)?)?;
    Ok(())
}
