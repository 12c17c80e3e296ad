//! Hashing many files in parallel without the GIL.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nearmatch::hash::file::{hash_bytes, FileHashes};
use nearmatch::hash::Algorithm;
use nearmatch::Error;
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use rayon::prelude::*;

use crate::errors::value_error;
use crate::hashing::{options, probe_config, probe_set};
use crate::hashobj::ProbeSetTuple;

/// Columns of a batch: per algorithm a hex column, then PDQ quality (-1 = none), errors,
/// when requested the 8 dihedral PDQ hashes (hex, in `Orientation::ALL` order) of each file,
/// the hash mode (`exact`/`fast`) and reduced size of each file, and when requested the PDQ
/// probes of each file.
type Columns<'py> = (
    Vec<Vec<Option<String>>>,
    Bound<'py, PyArray1<i16>>,
    Vec<Option<String>>,
    Option<Vec<Option<Vec<String>>>>,
    Vec<Option<&'static str>>,
    Vec<Option<(u32, u32)>>,
    Option<Vec<Option<ProbeSetTuple>>>,
);

/// One file: read, decode once, every requested hash.
fn hash_one(
    path: &std::path::Path,
    algos: &[Algorithm],
    opts: &nearmatch::hash::file::HashOptions,
) -> FileHashes {
    match nearmatch_scan::read::read_capped(path, nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE) {
        Ok(bytes) => hash_bytes(&bytes, algos, opts),
        Err(e) => FileHashes {
            image_error: Some(Error::Io {
                path: path.to_path_buf(),
                source: e.into_io(),
            }),
            ..FileHashes::default()
        },
    }
}

/// Prints `hashed n/total` to stderr at most every 200 ms, from any worker thread.
struct Progress {
    enabled: bool,
    total: usize,
    done: AtomicUsize,
    last: Mutex<Instant>,
}

impl Progress {
    fn tick(&self) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled {
            return;
        }
        // try_lock: a busy printer is no reason to wait; a later tick prints.
        if let Ok(mut last) = self.last.try_lock() {
            if last.elapsed() >= Duration::from_millis(200) {
                *last = Instant::now();
                eprint!("\rnearmatch: hashed {n}/{} files", self.total);
                let _ = std::io::stderr().flush();
            }
        }
    }

    fn finish(&self) {
        if self.enabled {
            eprintln!("\rnearmatch: hashed {}/{} files", self.total, self.total);
        }
    }
}

/// Hashes `paths` with `algos` on `threads` threads (None: rayon's global pool); one row per path,
/// in input order. A file that cannot be read or decoded gets an error message, never an exception.
/// `dihedral` also returns the 8 dihedral PDQ hashes (from the same DCT) when PDQ is requested,
/// `probes` (a probe list such as `default`) the PDQ probes; `mode` is `exact` or `fast`.
#[pyfunction]
#[pyo3(signature = (paths, algos, threads=None, progress=false, profile="pdqhash", pillow="13", dihedral=false, mode="exact", probes=None))]
#[allow(clippy::too_many_arguments)]
pub fn hash_files<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    algos: Vec<String>,
    threads: Option<usize>,
    progress: bool,
    profile: &str,
    pillow: &str,
    dihedral: bool,
    mode: &str,
    probes: Option<&str>,
) -> PyResult<Columns<'py>> {
    let algos: Vec<Algorithm> = algos
        .iter()
        .map(|a| a.parse::<Algorithm>())
        .collect::<Result<_, _>>()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    if algos.is_empty() {
        return value_error("algos is empty: name at least one algorithm");
    }
    let mut opts = options(profile, pillow, mode)?;
    let dihedral = dihedral && algos.contains(&Algorithm::Pdq);
    opts.pdq_dihedral = dihedral;
    if algos.contains(&Algorithm::Pdq) {
        opts.probes = probe_config(probes)?;
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
    let bar = Progress {
        enabled: progress,
        total: paths.len(),
        done: AtomicUsize::new(0),
        last: Mutex::new(Instant::now()),
    };
    let results: Vec<FileHashes> = py.detach(|| {
        let run = || {
            paths
                .par_iter()
                .map(|p| {
                    let r = hash_one(p, &algos, &opts);
                    bar.tick();
                    r
                })
                .collect()
        };
        let out = match &pool {
            Some(pool) => pool.install(run),
            None => run(),
        };
        bar.finish();
        out
    });
    let mut columns: Vec<Vec<Option<String>>> = vec![Vec::with_capacity(paths.len()); algos.len()];
    let mut quality = Vec::with_capacity(paths.len());
    let mut errors = Vec::with_capacity(paths.len());
    let mut dihedrals = dihedral.then(|| Vec::with_capacity(paths.len()));
    let wants_image = algos.iter().any(|a| !a.is_cryptographic());
    let mut modes = Vec::with_capacity(paths.len());
    let mut sizes = Vec::with_capacity(paths.len());
    let mut probe_col = opts.probes.map(|_| Vec::with_capacity(paths.len()));
    for r in &results {
        modes.push(r.mode.filter(|_| wants_image).map(|m| m.name()));
        sizes.push(r.hashed_dimensions);
        if let Some(col) = probe_col.as_mut() {
            col.push(probe_set(opts.probes, &r.pdq_probes).map(|p| p.to_tuple()));
        }
        if let Some(d) = dihedrals.as_mut() {
            d.push(
                r.pdq_dihedral
                    .as_ref()
                    .map(|d| d.hashes.iter().map(|h| h.to_hex()).collect()),
            );
        }
        for (col, &a) in columns.iter_mut().zip(&algos) {
            col.push(r.get(a));
        }
        quality.push(r.pdq_quality.map_or(-1, i16::from));
        // A file whose bytes were hashed but that is not an image still has an error for the
        // perceptual columns; a crypto-only batch never reports one for a readable file.
        let failed_read = matches!(r.image_error, Some(Error::Io { .. }));
        errors.push(
            r.image_error
                .as_ref()
                .filter(|_| wants_image || failed_read)
                .map(|e| e.to_string()),
        );
    }
    Ok((
        columns,
        quality.into_pyarray(py),
        errors,
        dihedrals,
        modes,
        sizes,
        probe_col,
    ))
}
