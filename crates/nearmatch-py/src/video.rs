//! `nearmatch.vpdq`: vPDQ of a video file through the ffmpeg program (GIL released).

use std::path::PathBuf;
use std::time::Duration;

use numpy::ndarray::{Array2, Array3};
use numpy::IntoPyArray;
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyRuntimeError, PyTimeoutError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use nearmatch::pixels::{Image, Layout};
use nearmatch_scan::video::{self, VideoError, VideoSettings};

fn to_py(path: &std::path::Path, e: VideoError) -> PyErr {
    let msg = format!("{}: {e}", path.display());
    match e {
        VideoError::Io { ref source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(msg)
        }
        VideoError::Io { .. } | VideoError::Spawn(_) => PyOSError::new_err(msg),
        VideoError::Timeout(_) => PyTimeoutError::new_err(msg),
        VideoError::ToolMissing(_) => PyRuntimeError::new_err(msg),
        VideoError::NoVideoStream(_) | VideoError::Ffmpeg(_) | VideoError::Limit(_) => {
            PyValueError::new_err(msg)
        }
    }
}

/// Hashes a video: a dict of numpy arrays (`frame`, `quality`, `hash` (N, 32) uint8,
/// `timestamp`), the stream's facts, and with `keep_frames` the decoded RGB frames (H, W, 3).
#[pyfunction]
#[pyo3(signature = (path, seconds_per_hash=1.0, timeout=600.0, max_frames=100_000, keep_frames=false))]
pub fn vpdq_path<'py>(
    py: Python<'py>,
    path: PathBuf,
    seconds_per_hash: f64,
    timeout: f64,
    max_frames: u64,
    keep_frames: bool,
) -> PyResult<Bound<'py, PyDict>> {
    if !(seconds_per_hash.is_finite() && seconds_per_hash >= 0.0) {
        return Err(PyValueError::new_err("seconds_per_hash must be >= 0"));
    }
    if !(timeout.is_finite() && timeout > 0.0) {
        return Err(PyValueError::new_err("timeout must be > 0 seconds"));
    }
    let settings = VideoSettings {
        seconds_per_hash,
        timeout: Duration::from_secs_f64(timeout),
        max_frames,
        ..VideoSettings::default()
    };
    let (vh, kept) = py
        .detach(|| {
            let file = video::open(&path)?;
            let mut kept: Vec<Image> = Vec::new();
            let mut keep = |batch: &[video::HashedFrame]| {
                if keep_frames {
                    kept.extend(batch.iter().map(|((_, img), _)| img.clone()));
                }
            };
            let vh = video::hash_open_file(&file, &settings, &mut keep)?;
            Ok((vh, kept))
        })
        .map_err(|e| to_py(&path, e))?;
    let n = vh.frames.len();
    let d = PyDict::new(py);
    let frames: Vec<u64> = vh.frames.iter().map(|f| f.frame).collect();
    let quality: Vec<u8> = vh.frames.iter().map(|f| f.quality).collect();
    let ts: Vec<f64> = vh.frames.iter().map(|f| f.timestamp).collect();
    let mut hashes = Array2::<u8>::zeros((n, 32));
    for (i, f) in vh.frames.iter().enumerate() {
        for (j, b) in f.hash.to_bytes().into_iter().enumerate() {
            hashes[(i, j)] = b;
        }
    }
    d.set_item("frame", frames.into_pyarray(py))?;
    d.set_item("quality", quality.into_pyarray(py))?;
    d.set_item("hash", hashes.into_pyarray(py))?;
    d.set_item("timestamp", ts.into_pyarray(py))?;
    d.set_item(
        "hex",
        vh.frames
            .iter()
            .map(|f| f.hash.to_hex())
            .collect::<Vec<_>>(),
    )?;
    d.set_item("fps", vh.info.fps)?;
    d.set_item("rate", vh.info.rate.clone())?;
    d.set_item("step", vh.step)?;
    d.set_item("width", vh.info.width)?;
    d.set_item("height", vh.info.height)?;
    d.set_item("codec", vh.info.codec.clone())?;
    d.set_item("format", vh.info.format.clone())?;
    d.set_item("duration", vh.info.duration)?;
    d.set_item("truncated", vh.truncated)?;
    d.set_item("warnings", vh.warnings.clone())?;
    d.set_item("text", nearmatch::hash::vpdq::to_text(&vh.frames))?;
    if keep_frames {
        let mut arrays = Vec::with_capacity(kept.len());
        for img in kept {
            let (w, h) = (img.width() as usize, img.height() as usize);
            let Layout::Rgb8(px) = img.into_layout() else {
                return Err(PyRuntimeError::new_err("decoded frame is not RGB"));
            };
            let a = Array3::from_shape_vec((h, w, 3), px)
                .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
            arrays.push(a.into_pyarray(py));
        }
        d.set_item("frames", arrays)?;
    }
    Ok(d)
}
