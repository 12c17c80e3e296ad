//! The scan's error type: what ends a scan as a whole (a file that fails is a record, not an
//! error).

use std::path::PathBuf;

/// Everything that stops a scan before its report is complete.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The settings are inconsistent or out of range (the CLI's usage error).
    #[error("{0}")]
    Settings(String),
    /// An evidence root cannot be resolved.
    #[error("evidence {path}: {source}")]
    Evidence {
        /// The root as given.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A hash set cannot be opened, verified or searched.
    #[error("bad hash set {path}: {reason}")]
    Set {
        /// The set file as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The journal of `--resume` belongs to another scan.
    #[error("{} was written by a scan with other evidence, sets or options; remove it or rerun without --resume", .0.display())]
    ForeignJournal(PathBuf),
    /// The report, its journal or a file beside it cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    Output {
        /// The file being written (`(temporary file)` for an anonymous journal).
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Too many decodes ran past their time budget and still hold memory: the scan stopped, and
    /// a resume finishes it.
    #[error("stopped after {done} files: {abandoned} decodes exceeded --decode-timeout and are still running (each holds memory); the files so far are journaled (timed-out ones as error:timeout): rerun with --resume to continue, or skip the culprits")]
    Stuck {
        /// Files journaled.
        done: u64,
        /// Decodes still running.
        abandoned: usize,
    },
    /// The caller's progress callback asked the scan to stop (e.g. Ctrl-C in Python); the
    /// records so far are journaled and a resume continues.
    #[error("cancelled after {0} files; the records so far are journaled (resume to continue)")]
    Cancelled(u64),
    /// The scan stopped where the settings asked it to (a testing aid).
    #[error("stopped after {0} files (--debug-stop-after)")]
    StoppedEarly(u64),
    /// The records do not reconcile with the walk: a bug, reported rather than hidden.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ScanError {
    /// An output error for `path`.
    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ScanError::Output {
            path: path.into(),
            source,
        }
    }

    /// What kind of failure this is, for mapping onto exit codes.
    pub fn kind(&self) -> ScanErrorKind {
        match self {
            ScanError::Settings(_) | ScanError::Evidence { .. } | ScanError::ForeignJournal(_) => {
                ScanErrorKind::Usage
            }
            ScanError::Set { .. } => ScanErrorKind::BadSet,
            ScanError::Output { .. } => ScanErrorKind::Output,
            ScanError::Stuck { .. } | ScanError::StoppedEarly(_) | ScanError::Cancelled(_) => {
                ScanErrorKind::Stopped
            }
            ScanError::Internal(_) => ScanErrorKind::Internal,
        }
    }
}

/// The classes of [`ScanError`] that callers map to exit codes or exception types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanErrorKind {
    /// Bad settings or evidence roots (CLI exit 64).
    Usage,
    /// A hash set is unusable (CLI exit 65).
    BadSet,
    /// An output is not writable (CLI exit 74).
    Output,
    /// The scan stopped before the end and can be resumed (CLI exit 70).
    Stopped,
    /// A bug: records and walk disagree (CLI exit 2).
    Internal,
}
