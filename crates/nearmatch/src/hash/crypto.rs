//! MD5, SHA-1 and SHA-256 of file bytes, computed in one pass over the same buffer.
//!
//! ```
//! use nearmatch::hash::crypto::CryptoHashes;
//! let h = CryptoHashes::of(b"");
//! assert_eq!(h.md5_hex(), "d41d8cd98f00b204e9800998ecf8427e");
//! ```

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest as _, Sha256};

/// The three cryptographic digests of one byte string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CryptoHashes {
    /// MD5 (16 bytes).
    pub md5: [u8; 16],
    /// SHA-1 (20 bytes).
    pub sha1: [u8; 20],
    /// SHA-256 (32 bytes).
    pub sha256: [u8; 32],
}

/// Incremental MD5 + SHA-1 + SHA-256 over bytes fed in chunks (for streamed reads).
#[derive(Clone, Default)]
pub struct CryptoHasher {
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
}

impl CryptoHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
    }

    /// The digests of everything fed so far.
    pub fn finish(self) -> CryptoHashes {
        CryptoHashes {
            md5: self.md5.finalize().into(),
            sha1: self.sha1.finalize().into(),
            sha256: self.sha256.finalize().into(),
        }
    }
}

impl CryptoHashes {
    /// The digests of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = CryptoHasher::new();
        h.update(bytes);
        h.finish()
    }

    /// MD5 as lower-case hex.
    pub fn md5_hex(&self) -> String {
        hex::encode(self.md5)
    }

    /// SHA-1 as lower-case hex.
    pub fn sha1_hex(&self) -> String {
        hex::encode(self.sha1)
    }

    /// SHA-256 as lower-case hex.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Published test vectors (RFC 1321, FIPS 180): independent of the implementation.
    #[test]
    fn known_vectors() {
        let h = CryptoHashes::of(b"abc");
        assert_eq!(h.md5_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(h.sha1_hex(), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            h.sha256_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chunked_equals_whole() {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut h = CryptoHasher::new();
        for c in data.chunks(333) {
            h.update(c);
        }
        assert_eq!(h.finish(), CryptoHashes::of(&data));
    }
}
