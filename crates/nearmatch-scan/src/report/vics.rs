//! VICS 2.0 (Project VIC) hash-only export: one `Media` item per distinct image (or matched)
//! file, its `MediaFiles` holding MD5 and SHA-1 only. No paths and never any content.

use std::io::Write;

use serde_json::{json, Value};

use super::ReportWriter;
use crate::record::FileRecord;

/// Writes a VICS 2.0 hash-only export.
pub struct VicsWriter<W: Write> {
    out: W,
    id: u64,
}

impl<W: Write> VicsWriter<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Self {
        VicsWriter { out, id: 0 }
    }
}

impl<W: Write> ReportWriter for VicsWriter<W> {
    fn begin(&mut self, header: &Value) -> std::io::Result<()> {
        let case = json!({
            "SourceApplicationName": "nearmatch",
            "SourceApplicationVersion": header["version"].as_str().unwrap_or(""),
        });
        let case = serde_json::to_string(&case).expect("a JSON value serializes");
        // Open the case object, add the Media array by hand so items stream.
        write!(
            self.out,
            "{{\"@odata.context\":\"http://github.com/ICMEC/ProjectVic/DataModels/2.0.xml/$metadata#Cases\",\"value\":[{},\"Media\":[",
            &case[..case.len() - 1]
        )
    }

    fn record(&mut self, r: &FileRecord) -> std::io::Result<()> {
        let is_image = r.width.is_some()
            || matches!(
                r.file_type.as_deref(),
                Some("jpeg" | "png" | "gif" | "bmp" | "tiff" | "webp" | "heif")
            );
        // Known-good files (`--ignore-set`) are not exported: they were never examined.
        if r.duplicate_of_index.is_some()
            || r.md5.is_none()
            || r.disposition == crate::record::Disposition::KnownGood
            || (!is_image && r.matches.is_empty())
        {
            return Ok(());
        }
        self.id += 1;
        // A member's folder is its container chain (`case/a.zip!/dir`): VICS has no parent field,
        // the path carries it.
        let (folder, name) = match r.path.rfind('/') {
            Some(i) => (&r.path[..i], &r.path[i + 1..]),
            None => ("", r.path.as_str()),
        };
        let item = json!({
            "MediaID": self.id,
            "MediaSize": r.size,
            "MediaFiles": [{
                "MD5": r.md5.as_deref().map(str::to_uppercase),
                "SHA1": r.sha1.as_deref().map(str::to_uppercase),
                "FileName": name,
                "FilePath": folder,
            }],
        });
        if self.id > 1 {
            self.out.write_all(b",")?;
        }
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, &item)?;
        Ok(())
    }

    fn finish(&mut self, _summary: &Value) -> std::io::Result<()> {
        writeln!(self.out, "\n]}}]}}")?;
        self.out.flush()
    }
}
