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

use nearmatch_scan::container::{ContainerLimits, ContainerPolicy};
use nearmatch_scan::process::{process, Context as ScanContext};
use nearmatch_scan::walk::{Item, Kind, Stat};
use nearmatch_scan::Disposition;

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
    Option<Vec<String>>,
    Vec<Option<u8>>,
);

/// A path's row and, with containers expanded, its members' rows: the (virtual) path, the
/// hashes, and the row's error when it is not the hashes' own (a member skipped or damaged).
type Row = (String, FileHashes, Option<String>);

/// The rows of one file with its containers expanded as a scan expands them (archives, PDF
/// images, previews, animation frames): the file's row first, then each member's, in order.
fn hash_expanded(path: &std::path::Path, algos: &[Algorithm], ctx: &ScanContext) -> Vec<Row> {
    let meta = std::fs::symlink_metadata(path);
    let Ok(m) = meta.as_ref().map(|m| (m.is_file(), Stat::of(m))) else {
        return vec![(
            path.display().to_string(),
            hash_one(path, algos, &ctx.opts),
            None,
        )];
    };
    if !m.0 {
        return vec![(
            path.display().to_string(),
            hash_one(path, algos, &ctx.opts),
            None,
        )];
    }
    let item = Item {
        path: path.to_path_buf(),
        kind: Kind::File,
        meta: Some(m.1),
    };
    process(0, &item, ctx)
        .into_iter()
        .map(|p| {
            let r = p.record;
            let (mode, hashed) = (r.hash_mode.as_deref(), r.hashed_size.as_deref());
            let hashes = FileHashes {
                crypto: p.digests.crypto,
                perceptual: p.digests.perceptual,
                pdq_quality: r.pdq_quality,
                pdq_probes: p.digests.pdq_probes,
                dimensions: r.width.zip(r.height),
                mode: mode.and_then(|m| m.parse().ok()),
                hashed_dimensions: hashed.and_then(|s| {
                    let (w, h) = s.split_once('x')?;
                    Some((w.parse().ok()?, h.parse().ok()?))
                }),
                ..FileHashes::default()
            };
            let error = match r.disposition {
                Disposition::Unmatched | Disposition::Matched => None,
                Disposition::NotImage | Disposition::Container => Some(
                    Error::NotAnImage(r.file_type.clone().filter(|t| t != "unknown")).to_string(),
                ),
                other => Some(match &r.error {
                    Some(why) => format!("{other}: {why}"),
                    None => other.to_string(),
                }),
            };
            (r.path, hashes, error)
        })
        .collect()
}

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
/// `containers` (`default`/`all`) adds a row per container member after its file's row, with
/// its virtual path (returned last; `None` when containers are not expanded).
#[pyfunction]
#[pyo3(signature = (paths, algos, threads=None, progress=false, profile="pdqhash", pillow="13", dihedral=false, mode="exact", probes=None, containers="none", orientation="stored"))]
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
    containers: &str,
    orientation: &str,
) -> PyResult<Columns<'py>> {
    let algos: Vec<Algorithm> = algos
        .iter()
        .map(|a| a.parse::<Algorithm>())
        .collect::<Result<_, _>>()
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    if algos.is_empty() {
        return value_error("algos is empty: name at least one algorithm");
    }
    let mut opts = options(profile, pillow, mode, orientation)?;
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
    let containers =
        ContainerPolicy::parse(containers).map_err(pyo3::exceptions::PyValueError::new_err)?;
    if containers != ContainerPolicy::None && dihedral {
        return value_error("dihedral=True is not available with containers expanded");
    }
    let ctx = ScanContext {
        algos: algos
            .iter()
            .copied()
            .filter(|a| !a.is_cryptographic())
            .collect(),
        opts: opts.clone(),
        max_file_size: nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE,
        decode_timeout: Some(Duration::from_secs(60)),
        containers,
        container_limits: ContainerLimits::default(),
        // Videos are hashed by `nearmatch.vpdq`; here a video is one row like any non-image.
        video: None,
        verify_image: false,
        carve: false,
        disk_images: Default::default(),
        // Hashing, not a scan: no sets, nothing known-good.
        ignore_sets: Default::default(),
        match_sets: Default::default(),
        decode_known_good: false,
    };
    let results: Vec<Row> = py.detach(|| {
        let run = || {
            let rows: Vec<Vec<Row>> = paths
                .par_iter()
                .map(|p| {
                    let r = if containers == ContainerPolicy::None {
                        vec![(String::new(), hash_one(p, &algos, &opts), None)]
                    } else {
                        hash_expanded(p, &algos, &ctx)
                    };
                    bar.tick();
                    r
                })
                .collect();
            rows.into_iter().flatten().collect()
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
    let mut orientations = Vec::with_capacity(paths.len());
    let mut probe_col = opts.probes.map(|_| Vec::with_capacity(paths.len()));
    let expanded_paths = (containers != ContainerPolicy::None)
        .then(|| results.iter().map(|(p, ..)| p.clone()).collect());
    for (_, r, row_error) in &results {
        modes.push(r.mode.filter(|_| wants_image).map(|m| m.name()));
        sizes.push(r.hashed_dimensions);
        orientations.push(r.exif_orientation);
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
        let skipped = row_error
            .as_deref()
            .is_some_and(|e| !e.starts_with("not a supported"));
        errors.push(match row_error {
            Some(e) if wants_image || skipped => Some(e.clone()),
            Some(_) => None,
            None => r
                .image_error
                .as_ref()
                .filter(|_| wants_image || failed_read)
                .map(|e| e.to_string()),
        });
    }
    Ok((
        columns,
        quality.into_pyarray(py),
        errors,
        dihedrals,
        modes,
        sizes,
        probe_col,
        expanded_paths,
        orientations,
    ))
}
