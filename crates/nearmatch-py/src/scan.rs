//! `nearmatch.scan`: the CLI's scan engine (`nearmatch-scan`), run with the GIL released.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nearmatch::hash::Algorithm;
use nearmatch::probe::ProbeConfig;
use nearmatch_scan::container::{ContainerLimits, ContainerPolicy};
use nearmatch_scan::{
    convert_report as convert, Completed, ConvertError, Radii, ReportFormat, Scan, ScanError,
    ScanErrorKind, ScanSettings, Summary, ToolInfo,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::hashing::options;

/// A scan engine error as the Python exception a caller expects.
fn to_py(e: ScanError) -> PyErr {
    let msg = e.to_string();
    match (&e, e.kind()) {
        (ScanError::Evidence { source, path }, _) => {
            let errno = source.raw_os_error().unwrap_or(0);
            let file = path.display().to_string();
            if source.kind() == std::io::ErrorKind::NotFound {
                PyFileNotFoundError::new_err((errno, msg, file))
            } else {
                PyOSError::new_err((errno, msg, file))
            }
        }
        (ScanError::Set { reason, .. }, _) if reason.contains("No such file") => {
            PyFileNotFoundError::new_err(msg)
        }
        (_, ScanErrorKind::Usage | ScanErrorKind::BadSet) => PyValueError::new_err(msg),
        (_, ScanErrorKind::Output) => PyOSError::new_err(msg),
        _ => PyRuntimeError::new_err(msg),
    }
}

/// A finished scan: its header, summary and records (the Python `ScanResult` wraps it).
#[pyclass(frozen, module = "nearmatch._native", name = "ScanRun")]
pub struct PyScanRun {
    done: Completed,
    summary: Summary,
    header: String,
    summary_record: String,
}

#[pymethods]
impl PyScanRun {
    /// The chain-of-custody header as JSON.
    fn header_json(&self) -> String {
        self.header.clone()
    }

    /// The summary record as JSON.
    fn summary_json(&self) -> String {
        self.summary_record.clone()
    }

    /// Files matched, and whether some file could not be processed.
    fn outcome(&self) -> (u64, bool) {
        (self.summary.matched(), self.summary.failed)
    }

    /// An iterator over the records as JSON strings, in order.
    fn records(&self) -> PyResult<PyRecords> {
        Ok(PyRecords {
            inner: Mutex::new(self.done.records().map_err(to_py)?),
        })
    }
}

/// Records read one at a time from the scan's journal.
#[pyclass(module = "nearmatch._native", name = "Records")]
pub struct PyRecords {
    inner: Mutex<nearmatch_scan::Records>,
}

#[pymethods]
impl PyRecords {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__(&self) -> PyResult<Option<String>> {
        let mut it = self
            .inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("records iterator poisoned"))?;
        match it.next() {
            None => Ok(None),
            Some(Ok(r)) => Ok(Some(
                serde_json::to_string(&r).map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
            )),
            Some(Err(e)) => Err(to_py(e)),
        }
    }
}

/// Runs a scan (see `nearmatch.scan` for the arguments); the GIL is released while it runs and
/// `progress` (a callable taking a dict) is called at most every `progress_interval` seconds.
/// Ctrl-C stops the scan (the journal keeps what was done, for `resume=True`).
#[pyfunction]
#[pyo3(signature = (evidence, sets, algos, max_distance, probes, probe_max_distance, max_file_size, decode_timeout, threads, mode, profile, pillow, outputs, format, resume, missing_evidence_is_record, containers="default", container_limits=None, progress=None, progress_interval=0.5, orientation="stored", ignore_sets=Vec::new(), decode_known_good=false))]
#[allow(clippy::too_many_arguments)]
pub fn scan(
    py: Python<'_>,
    evidence: Vec<PathBuf>,
    sets: Vec<PathBuf>,
    algos: Vec<String>,
    max_distance: Option<String>,
    probes: &str,
    probe_max_distance: u32,
    max_file_size: u64,
    decode_timeout: f64,
    threads: Option<usize>,
    mode: &str,
    profile: &str,
    pillow: &str,
    outputs: Vec<PathBuf>,
    format: Option<&str>,
    resume: bool,
    missing_evidence_is_record: bool,
    containers: &str,
    container_limits: Option<std::collections::HashMap<String, u64>>,
    progress: Option<Py<PyAny>>,
    progress_interval: f64,
    orientation: &str,
    ignore_sets: Vec<PathBuf>,
    decode_known_good: bool,
) -> PyResult<PyScanRun> {
    let algorithms: Vec<Algorithm> = algos
        .iter()
        .map(|a| a.parse::<Algorithm>())
        .collect::<Result<_, _>>()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    let radii = match max_distance.as_deref() {
        Some(spec) => Radii::parse(spec).map_err(to_py)?,
        None => Radii::default(),
    };
    let probes = ProbeConfig::parse(probes).map_err(|e| PyValueError::new_err(e.to_string()))?;
    if !(decode_timeout.is_finite() && decode_timeout >= 0.0) {
        return Err(PyValueError::new_err(
            "decode_timeout must be a number of seconds >= 0",
        ));
    }
    let format = format
        .map(|f| f.parse::<ReportFormat>())
        .transpose()
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    if format == Some(ReportFormat::Csv) && outputs.is_empty() {
        return Err(PyValueError::new_err(
            "format=\"csv\" needs output= (the chain of custody goes to OUTPUT.header.json)",
        ));
    }
    let write_report = !outputs.is_empty();
    let containers = ContainerPolicy::parse(containers).map_err(PyValueError::new_err)?;
    let mut limits = ContainerLimits::default();
    for (k, v) in container_limits.unwrap_or_default() {
        match k.as_str() {
            "depth" => limits.depth = u32::try_from(v).unwrap_or(u32::MAX),
            "members" => limits.members = v,
            "expanded_bytes" => limits.expanded_bytes = v,
            "ratio" => limits.ratio = v,
            "member_bytes" => limits.member_bytes = v,
            "frames" => limits.frames = v,
            other => {
                return Err(PyValueError::new_err(format!(
                    "unknown container limit {other:?} (depth, members, expanded_bytes, ratio, member_bytes, frames)"
                )))
            }
        }
    }
    let mut command_line = vec!["nearmatch.scan(python)".to_string()];
    command_line.extend(evidence.iter().map(|p| p.display().to_string()));
    let mut settings = ScanSettings {
        evidence,
        sets,
        ignore_sets,
        decode_known_good,
        algorithms,
        radii,
        probes,
        probe_max_distance,
        hashing: options(profile, pillow, mode, orientation)?,
        max_file_size,
        decode_timeout: Some(Duration::from_secs_f64(decode_timeout)),
        threads,
        resume,
        missing_evidence_is_record,
        containers,
        container_limits: limits,
        count_ahead: progress.is_some(),
        tool: ToolInfo {
            name: "nearmatch (python)".into(),
            ..ToolInfo::default()
        },
        command_line,
        ..ScanSettings::default()
    };
    settings.set_outputs(&outputs, format).map_err(to_py)?;
    let interval = Duration::from_secs_f64(progress_interval.max(0.0));
    // The first Python error raised in the callback (or a Ctrl-C), raised after the scan stops.
    let mut raised: Option<PyErr> = None;
    let result = py.detach(|| -> Result<(Completed, Summary), ScanError> {
        let scan = Scan::new(settings)?;
        let mut last = Instant::now() - interval;
        let done = scan.run(&mut |p| {
            if last.elapsed() < interval {
                return ControlFlow::Continue(());
            }
            last = Instant::now();
            Python::attach(|py| {
                if let Err(e) = py.check_signals() {
                    raised = Some(e);
                    return ControlFlow::Break(());
                }
                if let Some(cb) = &progress {
                    let d = pyo3::types::PyDict::new(py);
                    let set = |k: &str, v: Option<u64>| d.set_item(k, v);
                    let r = set("records", Some(p.records))
                        .and_then(|_| set("reused", Some(p.reused)))
                        .and_then(|_| set("bytes", Some(p.bytes)))
                        .and_then(|_| set("walked", Some(p.walked)))
                        .and_then(|_| d.set_item("walk_done", p.walk_done))
                        .and_then(|_| set("total_items", p.total_items))
                        .and_then(|_| set("total_bytes", p.total_bytes))
                        .and_then(|_| d.set_item("elapsed", p.elapsed.as_secs_f64()))
                        .and_then(|_| cb.call1(py, (d,)).map(|_| ()));
                    if let Err(e) = r {
                        raised = Some(e);
                        return ControlFlow::Break(());
                    }
                }
                ControlFlow::Continue(())
            })
        })?;
        let summary = if write_report {
            done.write_report()?
        } else {
            done.summary()?
        };
        Ok((done, summary))
    });
    if let Some(e) = raised {
        return Err(e);
    }
    let (mut done, summary) = result.map_err(to_py)?;
    // The report is complete: its journal's name goes (as the CLI removes it), the open
    // journal keeps serving records.
    done.unlink_journal();
    let header = done.header().to_string();
    let summary_record = done.summary_record(&summary).to_string();
    Ok(PyScanRun {
        done,
        summary,
        header,
        summary_record,
    })
}

/// Renders the JSON Lines report of a finished scan as `to` (a format name; `None`: from the
/// extension of `dst`) into `dst`, with the GIL released; returns the recounted totals as JSON.
#[pyfunction]
#[pyo3(signature = (src, dst, to=None))]
pub fn convert_report(
    py: Python<'_>,
    src: PathBuf,
    dst: PathBuf,
    to: Option<&str>,
) -> PyResult<String> {
    let format = match to {
        Some(t) => t
            .parse::<ReportFormat>()
            .map_err(|e| PyValueError::new_err(e.to_string()))?,
        None => ReportFormat::from_path(&dst).ok_or_else(|| {
            PyValueError::new_err(format!(
                "{}: cannot tell the format from the extension: give to= ({})",
                dst.display(),
                nearmatch_scan::report::FORMAT_EXTENSIONS
            ))
        })?,
    };
    let summary = py
        .detach(|| convert(&src, &dst, format))
        .map_err(|e| match e {
            ConvertError::Read {
                ref source,
                ref path,
            } => {
                let errno = source.raw_os_error().unwrap_or(0);
                let (msg, file) = (e.to_string(), path.display().to_string());
                if source.kind() == std::io::ErrorKind::NotFound {
                    PyFileNotFoundError::new_err((errno, msg, file))
                } else {
                    PyOSError::new_err((errno, msg, file))
                }
            }
            ConvertError::Write(e) => to_py(e),
            e => PyValueError::new_err(e.to_string()),
        })?;
    serde_json::to_string(&summary).map_err(|e| PyRuntimeError::new_err(e.to_string()))
}
