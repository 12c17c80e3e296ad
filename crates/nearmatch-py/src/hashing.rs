//! Single-image hashing: a path, encoded bytes, or a numpy pixel array.

use std::path::PathBuf;

use nearmatch::decode::orientation::{displayed, OrientationMode, UnknownOrientationMode};
use nearmatch::hash::file::{hash_bytes, hash_image, FileHashes, HashMode, HashOptions};
use nearmatch::hash::imagehash::ImagehashSpec;
use nearmatch::hash::luma::LumaPlane;
use nearmatch::hash::pdq::Profile;
use nearmatch::hash::resample::PillowVersion;
use nearmatch::hash::Algorithm;
use nearmatch::pixels::{Image, Layout};
use nearmatch::Error;
use numpy::{PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::errors::{to_py, value_error};
use crate::hashobj::{ProbeDigest, ProbeSet, PyHash};
use nearmatch::probe::{Probe, ProbeConfig};

/// Parses a probe list (`default`, `none`, `all`, or comma-separated family names); `None`
/// for no probes.
pub fn probe_config(spec: Option<&str>) -> PyResult<Option<ProbeConfig>> {
    let Some(spec) = spec else { return Ok(None) };
    let c = ProbeConfig::parse(spec)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok((c != ProbeConfig::none()).then_some(c))
}

/// The family names a probe list switches on (`"default"` -> `["trim"]`).
#[pyfunction]
pub fn probe_families(spec: &str) -> PyResult<Vec<&'static str>> {
    let c = ProbeConfig::parse(spec)
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(c.families().iter().map(|f| f.name()).collect())
}

/// The probes of a hashing result in the Python object's terms.
pub fn probe_set(config: Option<ProbeConfig>, probes: &[Probe]) -> Option<ProbeSet> {
    let config = config?;
    if probes.is_empty() {
        return None;
    }
    Some(ProbeSet {
        families: config
            .families()
            .iter()
            .map(|f| f.name().to_string())
            .collect(),
        probes: probes
            .iter()
            .map(|p| ProbeDigest {
                name: p.name(),
                family: p.kind.family().map(|f| f.name().to_string()),
                orientation: p.orientation.name().to_string(),
                digest: p.digest,
                quality: p.quality,
            })
            .collect(),
    })
}

/// Parses a hash mode name (`exact` or `fast`).
pub fn mode(name: &str) -> PyResult<HashMode> {
    name.parse()
        .map_err(|e: nearmatch::hash::file::UnknownHashMode| {
            pyo3::exceptions::PyValueError::new_err(e.to_string())
        })
}

/// Parses an orientation name (`stored` or `exif`).
pub fn orientation_mode(name: &str) -> PyResult<OrientationMode> {
    name.parse()
        .map_err(|e: UnknownOrientationMode| pyo3::exceptions::PyValueError::new_err(e.to_string()))
}

/// Parses the hashing options shared by every entry point.
pub fn options(
    profile: &str,
    pillow: &str,
    mode_name: &str,
    orientation: &str,
) -> PyResult<HashOptions> {
    let pdq_profile: Profile =
        profile
            .parse()
            .map_err(|e: nearmatch::hash::pdq::UnknownName| {
                pyo3::exceptions::PyValueError::new_err(e.to_string())
            })?;
    let pillow = match pillow
        .trim()
        .to_ascii_lowercase()
        .trim_start_matches("pillow")
    {
        "13" => PillowVersion::Pillow13,
        "12" => PillowVersion::Pillow12,
        _ => return value_error(format!("pillow must be \"13\" or \"12\", got {pillow:?}")),
    };
    Ok(HashOptions {
        pdq_profile,
        pillow,
        mode: mode(mode_name)?,
        orientation: orientation_mode(orientation)?,
        ..HashOptions::default()
    })
}

/// Parses a perceptual algorithm name.
pub fn perceptual(name: &str) -> PyResult<Algorithm> {
    let a: Algorithm = name
        .parse()
        .map_err(|e: nearmatch::hash::UnknownAlgorithm| {
            pyo3::exceptions::PyValueError::new_err(e.to_string())
        })?;
    if a.is_cryptographic() {
        return value_error(format!("{a} is not a perceptual hash"));
    }
    Ok(a)
}

/// The `Hash` of one algorithm from a hashing result, or the reason it is missing.
fn extract(out: FileHashes, algo: Algorithm, opts: &HashOptions) -> Result<PyHash, Error> {
    match out.digest(algo) {
        Some(digest) => Ok(PyHash {
            digest,
            algorithm: Some(algo),
            quality: if algo == Algorithm::Pdq {
                out.pdq_quality
            } else {
                None
            },
            dihedral: out.pdq_dihedral.map(|d| d.hashes),
            mode: out.mode,
            hashed_size: out.hashed_dimensions,
            probes: probe_set(opts.probes, &out.pdq_probes),
            exif_orientation: out.exif_orientation,
        }),
        None => Err(out
            .image_error
            .unwrap_or_else(|| Error::InvalidArgument(format!("{algo} was not computed")))),
    }
}

fn opts_for(algo: Algorithm, mut opts: HashOptions, probes: Option<&str>) -> PyResult<HashOptions> {
    // PDQ hashes carry their dihedrals (same DCT, one extra pass) so they can be searched
    // rotation- and flip-invariantly later, and their probes when asked for.
    opts.pdq_dihedral = algo == Algorithm::Pdq;
    opts.probes = if algo == Algorithm::Pdq {
        probe_config(probes)?
    } else {
        None
    };
    Ok(opts)
}

/// Hashes an image file.
#[pyfunction]
#[pyo3(signature = (path, algorithm, profile="pdqhash", pillow="13", mode="exact", probes=None, orientation="stored"))]
#[allow(clippy::too_many_arguments)]
pub fn hash_path(
    py: Python<'_>,
    path: PathBuf,
    algorithm: &str,
    profile: &str,
    pillow: &str,
    mode: &str,
    probes: Option<&str>,
    orientation: &str,
) -> PyResult<PyHash> {
    let algo = perceptual(algorithm)?;
    let opts = opts_for(algo, options(profile, pillow, mode, orientation)?, probes)?;
    py.detach(|| {
        let bytes =
            nearmatch_scan::read::read_capped(&path, nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE)
                .map_err(|e| Error::Io {
                path: path.clone(),
                source: e.into_io(),
            })?;
        extract(hash_bytes(&bytes, &[algo], &opts), algo, &opts)
    })
    .map_err(to_py)
}

/// Hashes an encoded image held in memory.
#[pyfunction]
#[pyo3(signature = (data, algorithm, profile="pdqhash", pillow="13", mode="exact", probes=None, orientation="stored"))]
#[allow(clippy::too_many_arguments)]
pub fn hash_encoded(
    py: Python<'_>,
    data: &[u8],
    algorithm: &str,
    profile: &str,
    pillow: &str,
    mode: &str,
    probes: Option<&str>,
    orientation: &str,
) -> PyResult<PyHash> {
    let algo = perceptual(algorithm)?;
    let opts = opts_for(algo, options(profile, pillow, mode, orientation)?, probes)?;
    py.detach(|| extract(hash_bytes(data, &[algo], &opts), algo, &opts))
        .map_err(to_py)
}

/// Samples of a numpy array in C order (copied: the hash runs without the GIL).
fn samples<T: numpy::Element + Copy>(a: &PyReadonlyArrayDyn<'_, T>) -> Vec<T> {
    match a.as_slice() {
        Ok(s) => s.to_vec(),
        Err(_) => a.as_array().iter().copied().collect(),
    }
}

/// Keeps the first `keep` of every `channels` samples (drops alpha, keeps grey of grey+alpha).
fn take_channels<T: Copy>(v: &[T], channels: usize, keep: usize) -> Vec<T> {
    v.chunks_exact(channels)
        .flat_map(|p| p[..keep].iter().copied())
        .collect()
}

fn dims(shape: &[usize]) -> PyResult<(u32, u32, usize)> {
    let (h, w, c) = match *shape {
        [h, w] => (h, w, 1),
        [h, w, c] => (h, w, c),
        _ => {
            return value_error(format!(
                "expected an (H, W) or (H, W, C) array, got {} dimension(s)",
                shape.len()
            ))
        }
    };
    if h == 0 || w == 0 {
        return value_error(format!("empty image ({h}x{w})"));
    }
    if !(1..=4).contains(&c) {
        return value_error(format!(
            "expected 1 (L), 2 (LA), 3 (RGB) or 4 (RGBA) channels, got {c}"
        ));
    }
    let (Ok(h32), Ok(w32)) = (u32::try_from(h), u32::try_from(w)) else {
        return value_error(format!("image of {h}x{w} is too large"));
    };
    Ok((w32, h32, c))
}

/// Converts a uint8 or uint16 numpy array to pixels the way the core decoder reduces files:
/// alpha dropped, 16-bit grey kept as 16-bit, 16-bit colour reduced to its high byte.
pub fn image_from_array(array: &Bound<'_, PyAny>) -> PyResult<Image> {
    let layout;
    let (w, h, c);
    if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, u8>>() {
        (w, h, c) = dims(a.shape())?;
        let v = samples(&a);
        layout = match c {
            1 => Layout::Gray8(v),
            2 => Layout::Gray8(take_channels(&v, 2, 1)),
            3 => Layout::Rgb8(v),
            _ => Layout::Rgb8(take_channels(&v, 4, 3)),
        };
    } else if let Ok(a) = array.extract::<PyReadonlyArrayDyn<'_, u16>>() {
        (w, h, c) = dims(a.shape())?;
        let v = samples(&a);
        let high = |v: Vec<u16>| v.into_iter().map(|s| (s >> 8) as u8).collect::<Vec<u8>>();
        layout = match c {
            1 => Layout::Gray16(v),
            2 => Layout::Gray16(take_channels(&v, 2, 1)),
            3 => Layout::Rgb8(high(v)),
            _ => Layout::Rgb8(high(take_channels(&v, 4, 3))),
        };
    } else {
        let dtype = array
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| "?".into());
        return value_error(format!(
            "expected a uint8 or uint16 numpy array, got dtype {dtype}"
        ));
    }
    Image::new(w, h, layout).map_err(to_py)
}

/// Hashes a numpy pixel array: uint8 (H, W), (H, W, 3) RGB, (H, W, 4) RGBA, or uint16 grey.
#[pyfunction]
#[pyo3(signature = (array, algorithm, profile="pdqhash", pillow="13", mode="exact", probes=None))]
pub fn hash_array(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    algorithm: &str,
    profile: &str,
    pillow: &str,
    mode: &str,
    probes: Option<&str>,
) -> PyResult<PyHash> {
    let algo = perceptual(algorithm)?;
    // Pixels carry no EXIF: they are hashed as given.
    let opts = opts_for(algo, options(profile, pillow, mode, "stored")?, probes)?;
    let image = image_from_array(array)?;
    py.detach(|| extract(hash_image(&image, &[algo], &opts), algo, &opts))
        .map_err(to_py)
}

/// The nearmatch [`Algorithm`] an imagehash computation is (imagehash's default options at
/// hash size 8 or 16), if any: hashes with other options carry no algorithm name, so they
/// are not mistaken for the set algorithms.
fn algorithm_of(spec: &ImagehashSpec) -> Option<Algorithm> {
    use nearmatch::hash::imagehash::{HashSize, ImagehashKind};
    ImagehashKind::ALL.into_iter().find_map(|k| {
        [HashSize::Eight, HashSize::Sixteen]
            .into_iter()
            .find(|&s| &k.spec(s) == spec)
            .map(|s| k.algorithm(s))
    })
}

/// Decoded pixels, the hash mode that produced them and the reduced size in fast mode.
/// Pixels, the mode that produced them, the reduced size (fast mode) and the EXIF tag applied.
type Pixels = (Image, HashMode, Option<(u32, u32)>, Option<u8>);

/// Pixels of a path, encoded bytes or a numpy array, with the mode that produced them and the
/// reduced size in fast mode.
fn pixels_of(
    source: &Bound<'_, PyAny>,
    kind: &str,
    mode: HashMode,
    orientation: OrientationMode,
) -> PyResult<Pixels> {
    let decode_stored = |bytes: &[u8]| -> Result<Pixels, Error> {
        let limits = nearmatch::decode::Limits::default();
        match mode {
            HashMode::Exact => Ok((
                nearmatch::decode::decode(bytes, &limits)?.image,
                HashMode::Exact,
                None,
                None,
            )),
            HashMode::Fast => {
                let r = nearmatch::decode::decode_reduced(
                    bytes,
                    nearmatch::hash::file::FAST_MIN_SIDE,
                    &limits,
                )?;
                let img = r.decoded.image;
                if r.scale > 1 {
                    let dims = (img.width(), img.height());
                    Ok((img, HashMode::Fast, Some(dims), None))
                } else {
                    Ok((img, HashMode::Exact, None, None))
                }
            }
        }
    };
    // Encoded sources are turned to their displayed orientation when asked (arrays carry no
    // EXIF); in fast mode the reduced size reported is the displayed one.
    let decode_bytes = |bytes: &[u8]| -> Result<Pixels, Error> {
        let (img, used, size, _) = decode_stored(bytes)?;
        let (img, tag) = displayed(img, bytes, orientation);
        let size = size.map(|_| (img.width(), img.height()));
        Ok((img, used, size, tag))
    };
    let py = source.py();
    match kind {
        "path" => {
            let path: PathBuf = source.extract()?;
            py.detach(|| {
                let bytes = nearmatch_scan::read::read_capped(
                    &path,
                    nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE,
                )
                .map_err(|e| Error::Io {
                    path: path.clone(),
                    source: e.into_io(),
                })?;
                decode_bytes(&bytes)
            })
            .map_err(to_py)
        }
        "bytes" => {
            let data: &[u8] = source.extract()?;
            py.detach(|| decode_bytes(data)).map_err(to_py)
        }
        "array" => Ok((image_from_array(source)?, HashMode::Exact, None, None)),
        other => value_error(format!("unknown source kind {other:?}")),
    }
}

/// An imagehash function with options (nearmatch.phash(..., highfreq_factor=...),
/// nearmatch.whash(..., image_scale=..., ...)) of a path, bytes or numpy array, as a `Hash`:
/// the result must be 64 or 256 bits.
#[pyfunction]
#[pyo3(signature = (source, kind, spec_tuple, pillow="13", mode="exact", orientation="stored"))]
pub fn hash_imagehash(
    py: Python<'_>,
    source: &Bound<'_, PyAny>,
    kind: &str,
    spec_tuple: crate::imagehash::SpecTuple,
    pillow: &str,
    mode: &str,
    orientation: &str,
) -> PyResult<PyHash> {
    let opts = options("pdqhash", pillow, mode, orientation)?;
    let spec = crate::imagehash::spec(spec_tuple)?;
    spec.validate().map_err(to_py)?;
    let (image, used, hashed_size, exif_orientation) =
        pixels_of(source, kind, opts.mode, opts.orientation)?;
    let bits = py
        .detach(|| spec.hash_luma(&LumaPlane::from_image(&image)?, opts.pillow))
        .map_err(to_py)?;
    let Some(digest) = bits.to_digest() else {
        return value_error(format!(
            "{} with these options gives a {}x{} hash ({} bits); nearmatch.Hash holds 64 or \
             256 bits: use nearmatch.imagehash.{}",
            spec.function_name(),
            bits.rows(),
            bits.cols(),
            bits.len(),
            spec.function_name()
        ));
    };
    Ok(PyHash {
        digest,
        algorithm: algorithm_of(&spec),
        quality: None,
        dihedral: None,
        mode: Some(used),
        hashed_size,
        probes: None,
        exif_orientation,
    })
}
