//! Report files: several outputs rendered in one pass, each written to a temporary file that is
//! fsynced and renamed into place, with the CSV custody sidecar and `REPORT.sha256`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{writer_for, ReportFormat, ReportWriter, Summary};
use crate::custody;
use crate::error::ScanError;
use crate::record::FileRecord;
use crate::scan::OutputPaths;

/// One output being written.
struct Open {
    paths: OutputPaths,
    format: ReportFormat,
    tmp: PathBuf,
    /// A second handle on the temporary file, to fsync it once the writer has flushed.
    file: File,
    writer: Option<Box<dyn ReportWriter>>,
}

/// Every output of one rendering, fed the same records; the [`Summary`] is counted once.
pub(crate) struct OutputSet {
    outs: Vec<Open>,
    summary: Summary,
    done: bool,
}

impl OutputSet {
    /// Creates each output's temporary file and starts its report with `header`.
    pub fn create(
        outputs: &[(OutputPaths, ReportFormat)],
        header: &Value,
    ) -> Result<Self, ScanError> {
        let mut set = OutputSet {
            outs: Vec::with_capacity(outputs.len()),
            summary: Summary::default(),
            done: false,
        };
        for (paths, format) in outputs {
            let tmp = OutputPaths::tmp(&paths.report);
            let io = |e| ScanError::output(&tmp, e);
            let file = File::create(&tmp).map_err(io)?;
            let handle = file.try_clone().map_err(io)?;
            let writer = writer_for(*format, BufWriter::new(handle)).map_err(io)?;
            set.outs.push(Open {
                paths: paths.clone(),
                format: *format,
                tmp: tmp.clone(),
                file,
                writer: Some(writer),
            });
        }
        for o in &mut set.outs {
            let w = o.writer.as_mut().expect("open until finish");
            w.begin(header)
                .map_err(|e| ScanError::output(&o.paths.report, e))?;
        }
        Ok(set)
    }

    /// Counts `r` and hands it to every writer.
    pub fn record(&mut self, r: &FileRecord) -> Result<(), ScanError> {
        self.summary.add(r);
        for o in &mut self.outs {
            let w = o.writer.as_mut().expect("open until finish");
            w.record(r)
                .map_err(|e| ScanError::output(&o.paths.report, e))?;
        }
        Ok(())
    }

    /// The totals over the records so far.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Ends every report with `summary`, syncs and renames it into place, writes the CSV
    /// sidecars (`header` + `summary`) and each output's `REPORT.sha256`.
    pub fn finish(mut self, header: &Value, summary: &Value) -> Result<Summary, ScanError> {
        for o in &mut self.outs {
            let cant = |e| ScanError::output(&o.paths.report, e);
            let mut w = o.writer.take().expect("open until finish");
            w.finish(summary).map_err(cant)?;
            drop(w);
            o.file.sync_all().map_err(cant)?;
            std::fs::rename(&o.tmp, &o.paths.report).map_err(cant)?;
            if o.format == ReportFormat::Csv {
                let mut side = header.clone();
                side["summary"] = summary.clone();
                let tmp = OutputPaths::tmp(&o.paths.sidecar);
                let cant = |e| ScanError::output(&o.paths.sidecar, e);
                std::fs::write(
                    &tmp,
                    serde_json::to_vec_pretty(&side).expect("JSON serializes"),
                )
                .map_err(cant)?;
                std::fs::rename(&tmp, &o.paths.sidecar).map_err(cant)?;
            }
        }
        self.done = true;
        for o in &self.outs {
            // Hashed from the renamed files, so the checksums vouch for exactly what is on disk.
            let mut covered = vec![o.paths.report.as_path()];
            if o.format == ReportFormat::Csv {
                covered.push(&o.paths.sidecar);
            }
            write_checksums(&o.paths, &covered)?;
        }
        Ok(std::mem::take(&mut self.summary))
    }
}

impl Drop for OutputSet {
    /// A rendering that failed leaves no half-written temporary files behind.
    fn drop(&mut self) {
        if !self.done {
            for o in &mut self.outs {
                o.writer.take();
                let _ = std::fs::remove_file(&o.tmp);
            }
        }
    }
}

/// Writes `REPORT.sha256` in `sha256sum` format (`<hex>  <file name>`, one line per file), via a
/// temporary file renamed into place.
fn write_checksums(o: &OutputPaths, files: &[&Path]) -> Result<(), ScanError> {
    let mut text = String::new();
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        let digest = custody::file_sha256(f).map_err(|e| ScanError::output(f, e))?;
        text.push_str(&format!("{digest}  {name}\n"));
    }
    let tmp = OutputPaths::tmp(&o.checksums);
    let io = |e| ScanError::output(&o.checksums, e);
    let mut file = File::create(&tmp).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    std::fs::rename(&tmp, &o.checksums).map_err(io)?;
    Ok(())
}
