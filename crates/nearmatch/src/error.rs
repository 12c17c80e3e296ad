//! The core library's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the core library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not in any supported image format.
    #[error("not a supported image format{}", .0.as_deref().map(|k| format!(" (looks like {k})")).unwrap_or_default())]
    NotAnImage(Option<String>),
    /// The image claims dimensions or memory beyond the configured limits.
    #[error("image exceeds limits: {0}")]
    LimitExceeded(String),
    /// The image is in a supported format but could not be decoded.
    #[error("cannot decode {format} image: {reason}")]
    Decode {
        /// The sniffed format.
        format: &'static str,
        /// What the decoder said.
        reason: String,
    },
    /// The image uses a feature of its format that nearmatch refuses rather than hash wrongly.
    #[error("unsupported {format} feature: {feature}")]
    Unsupported {
        /// The sniffed format.
        format: &'static str,
        /// The feature, and why it is refused.
        feature: String,
    },
    /// Pixel buffers whose sizes do not match their dimensions.
    #[error("invalid pixel buffer: {0}")]
    InvalidPixels(String),
    /// A hex string is not a valid digest.
    #[error(transparent)]
    Hex(#[from] crate::digest::HexError),
    /// A hash-set file is malformed, truncated or from a newer version.
    #[error("invalid hash set {path}: {reason}")]
    InvalidSet {
        /// The set file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A delta layer's parent is missing or is not the set the delta was built on.
    #[error("delta layer {child}: parent {parent}: {reason}")]
    LayerParent {
        /// The delta layer.
        child: PathBuf,
        /// Where its parent was looked for.
        parent: PathBuf,
        /// What is wrong (missing, a different set, unreadable).
        reason: String,
    },
    /// A hash list could not be imported.
    #[error("cannot import {path}: {reason}")]
    Import {
        /// The list file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An argument is out of its valid range.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A large allocation failed: reported instead of aborting the process.
    #[error("out of memory: {what} needs {bytes} bytes{}", .hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    OutOfMemory {
        /// What the memory was for.
        what: String,
        /// How many bytes were asked for.
        bytes: usize,
        /// What the caller can do about it, if anything.
        hint: Option<String>,
    },
}

impl Error {
    /// An [`Error::OutOfMemory`] for `bytes` of `what`.
    pub fn out_of_memory(what: impl Into<String>, bytes: usize) -> Self {
        Error::OutOfMemory {
            what: what.into(),
            bytes,
            hint: None,
        }
    }
}

/// The core library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
