//! Python bindings for nearmatch: a thin adapter over the core and scan crates (types, errors,
//! GIL release).
//!
//! The public Python API lives in `python/nearmatch/__init__.py`, which normalises inputs
//! (paths, PIL images, metadata) and calls this module (`nearmatch._native`).

mod batch;
mod errors;
mod hashing;
mod hashobj;
mod imagehash;
mod scan;
mod set;
mod video;

use pyo3::prelude::*;

/// The native part of the `nearmatch` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("DecodeError", py.get_type::<errors::DecodeError>())?;
    m.add_class::<hashobj::PyHash>()?;
    m.add_class::<set::PySet>()?;
    m.add_function(wrap_pyfunction!(hashing::hash_path, m)?)?;
    m.add_function(wrap_pyfunction!(hashing::hash_encoded, m)?)?;
    m.add_function(wrap_pyfunction!(hashing::hash_array, m)?)?;
    m.add_function(wrap_pyfunction!(hashing::hash_imagehash, m)?)?;
    m.add_function(wrap_pyfunction!(batch::hash_files, m)?)?;
    m.add_function(wrap_pyfunction!(scan::scan, m)?)?;
    m.add_function(wrap_pyfunction!(scan::convert_report, m)?)?;
    m.add_class::<scan::PyScanRun>()?;
    m.add_class::<scan::PyRecords>()?;
    m.add_function(wrap_pyfunction!(set::pack_queries, m)?)?;
    m.add_function(wrap_pyfunction!(set::shard_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(video::vpdq_path, m)?)?;
    m.add_function(wrap_pyfunction!(hashing::probe_families, m)?)?;
    m.add(
        "DEFAULT_PROBE_RADIUS",
        nearmatch::probe::DEFAULT_PROBE_RADIUS,
    )?;
    m.add(
        "PROBE_FAMILIES",
        nearmatch::probe::ProbeFamily::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>(),
    )?;
    imagehash::register(m)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
