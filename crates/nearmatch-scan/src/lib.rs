//! nearmatch-scan: evidence in, records out.
//!
//! The forensic scan engine that the `nearmatch` CLI, the Python module and its Dask helpers
//! share: settings, the streaming walk, the capped and supervised reader and decoder, hash-set
//! loading and matching, the journal that makes a scan resumable, the report writers (JSON
//! Lines, CSV, VICS, DFXML, CASE/UCO, an HTML case summary; [`convert_report`] renders any of
//! them from a finished scan's JSON Lines report) and the chain of custody. Every item the walk
//! yields ends in exactly one [`FileRecord`] with one [`Disposition`], whatever fails; a
//! record may have a parent record and a virtual path (`a.zip!/b.jpg`), so containers can add
//! their members as records.
//!
//! ```no_run
//! use nearmatch_scan::{Scan, ScanSettings};
//! let settings = ScanSettings {
//!     evidence: vec!["/mnt/evidence".into()],
//!     sets: vec!["known.nmset".into()],
//!     output: Some("report.jsonl".into()),
//!     ..ScanSettings::default()
//! };
//! let scan = Scan::new(settings)?;
//! let done = scan.run(&mut |p| {
//!     eprintln!("{} records", p.records);
//!     std::ops::ControlFlow::Continue(())
//! })?;
//! let summary = done.write_report()?;
//! done.finish();
//! println!("{} matched files", summary.matched());
//! # Ok::<(), nearmatch_scan::ScanError>(())
//! ```

pub mod container;
pub mod custody;
pub mod disk;
pub mod error;
mod journal;
mod member;
pub mod path;
pub mod process;
pub mod read;
pub mod record;
pub mod report;
mod scan;
pub mod sets;
pub mod video;
pub mod walk;

pub use custody::ToolInfo;
pub use error::{ScanError, ScanErrorKind};
pub use journal::Records;
pub use path::ReportPath;
pub use record::{
    CarveSummary, Disposition, ErrorReason, FileRecord, LabelRec, MatchRec, SkipReason,
};
pub use report::{
    convert_report, ConvertError, ReportFormat, ReportOutput, ReportWriter, Summary, UnknownFormat,
};
pub use scan::{
    Completed, OutputPaths, Progress, Scan, ScanSettings, CHUNK, INVENTORY_ALGORITHMS, QUEUE,
};
pub use sets::{LoadedSet, Radii};
