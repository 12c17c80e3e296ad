//! Core errors as Python exceptions.

use nearmatch::Error;
use pyo3::exceptions::{
    PyFileNotFoundError, PyMemoryError, PyOSError, PyPermissionError, PyValueError,
};
use pyo3::prelude::*;

pyo3::create_exception!(
    nearmatch,
    DecodeError,
    PyValueError,
    "The data is not a supported image, or could not be decoded (a ValueError)."
);

/// Maps a core error to the Python exception a caller would expect for it.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match &e {
        Error::Io { source, path } => {
            let file = path.display().to_string();
            let errno = source.raw_os_error().unwrap_or(0);
            // (errno, strerror, filename) fills OSError's attributes as the OS would.
            match source.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err((errno, msg, file)),
                std::io::ErrorKind::PermissionDenied => {
                    PyPermissionError::new_err((errno, msg, file))
                }
                _ => PyOSError::new_err((errno, msg, file)),
            }
        }
        Error::NotAnImage(_)
        | Error::Decode { .. }
        | Error::Unsupported { .. }
        | Error::LimitExceeded(_) => DecodeError::new_err(msg),
        // The analyst's session survives: a failed large allocation is an exception to catch,
        // never an abort.
        Error::OutOfMemory { .. } => PyMemoryError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// Shorthand for `Err(ValueError(msg))`.
pub fn value_error<T>(msg: impl Into<String>) -> PyResult<T> {
    Err(PyValueError::new_err(msg.into()))
}
