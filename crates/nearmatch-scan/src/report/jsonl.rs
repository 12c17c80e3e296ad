//! JSON Lines: the header record, one record per line, the summary record. The journal every
//! other format can be rendered from (`nearmatch report convert`).

use std::io::Write;

use serde_json::Value;

use super::ReportWriter;
use crate::record::FileRecord;

/// Writes a JSON Lines report.
pub struct JsonlWriter<W: Write> {
    out: W,
}

impl<W: Write> JsonlWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        JsonlWriter { out }
    }
}

impl<W: Write> ReportWriter for JsonlWriter<W> {
    fn begin(&mut self, header: &Value) -> std::io::Result<()> {
        writeln!(self.out, "{header}")
    }

    fn record(&mut self, r: &FileRecord) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, r)?;
        self.out.write_all(b"\n")
    }

    fn finish(&mut self, summary: &Value) -> std::io::Result<()> {
        writeln!(self.out, "{summary}")?;
        self.out.flush()
    }
}
