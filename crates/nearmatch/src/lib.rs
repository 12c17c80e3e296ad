//! nearmatch: perceptual image hashes (PDQ and the imagehash family) and exact Hamming-radius
//! search of memory-mapped hash sets.
//!
//! The crate owns every algorithm and data structure; the `nearmatch` CLI and the Python module
//! only adapt it. Hash algorithms are pure functions of decoded pixels ([`pixels::Image`]);
//! decoding, I/O and threading live elsewhere.
//!
//! ```
//! use nearmatch::digest::Digest256;
//! let a: Digest256 = "0".repeat(64).parse().unwrap();
//! assert_eq!(a.distance(&a), 0);
//! ```

pub mod decode;
pub mod digest;
pub mod error;
pub mod hash;
pub mod hashset;
pub mod import;
pub mod pixels;
pub mod probe;
pub mod search;

pub use digest::{AnyDigest, Digest, Digest256, Digest64};
pub use error::{Error, Result};
pub use pixels::{Image, Layout};
