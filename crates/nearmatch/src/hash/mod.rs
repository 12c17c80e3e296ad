//! Hash algorithms. Perceptual hashes are pure functions of decoded pixels; the cryptographic
//! hashes read the file bytes.

pub mod ahash;
pub mod colorhash;
pub mod crop_resistant;
pub mod crypto;
pub mod dhash;
pub mod file;
pub mod imagehash;
pub mod luma;
pub mod pdq;
pub mod phash;
pub mod resample;
pub mod vpdq;
pub mod whash;

use std::fmt;
use std::str::FromStr;

/// Every algorithm nearmatch computes, by its CLI name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// Meta's PDQ, 256 bits plus quality.
    Pdq,
    /// imagehash `average_hash`, hash size 8.
    Ahash,
    /// imagehash `dhash`, hash size 8.
    Dhash,
    /// imagehash `phash`, hash size 8.
    Phash,
    /// imagehash `whash` (haar), hash size 8.
    Whash,
    /// imagehash `average_hash`, hash size 16.
    Ahash16,
    /// imagehash `dhash`, hash size 16.
    Dhash16,
    /// imagehash `phash`, hash size 16.
    Phash16,
    /// imagehash `whash` (haar), hash size 16.
    Whash16,
    /// MD5 of the file bytes.
    Md5,
    /// SHA-1 of the file bytes.
    Sha1,
    /// SHA-256 of the file bytes.
    Sha256,
}

impl Algorithm {
    /// All algorithms, in the order reports list them.
    pub const ALL: [Algorithm; 12] = [
        Algorithm::Pdq,
        Algorithm::Ahash,
        Algorithm::Dhash,
        Algorithm::Phash,
        Algorithm::Whash,
        Algorithm::Ahash16,
        Algorithm::Dhash16,
        Algorithm::Phash16,
        Algorithm::Whash16,
        Algorithm::Md5,
        Algorithm::Sha1,
        Algorithm::Sha256,
    ];

    /// The CLI and file-format name (`pdq`, `phash16`, `sha1`, …).
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Pdq => "pdq",
            Algorithm::Ahash => "ahash",
            Algorithm::Dhash => "dhash",
            Algorithm::Phash => "phash",
            Algorithm::Whash => "whash",
            Algorithm::Ahash16 => "ahash16",
            Algorithm::Dhash16 => "dhash16",
            Algorithm::Phash16 => "phash16",
            Algorithm::Whash16 => "whash16",
            Algorithm::Md5 => "md5",
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
        }
    }

    /// Digest width in bits.
    pub fn bits(self) -> usize {
        match self {
            Algorithm::Pdq
            | Algorithm::Ahash16
            | Algorithm::Dhash16
            | Algorithm::Phash16
            | Algorithm::Whash16 => 256,
            Algorithm::Ahash | Algorithm::Dhash | Algorithm::Phash | Algorithm::Whash => 64,
            Algorithm::Md5 => 128,
            Algorithm::Sha1 => 160,
            Algorithm::Sha256 => 256,
        }
    }

    /// True for hashes of the file bytes (matched exactly), false for perceptual hashes.
    pub fn is_cryptographic(self) -> bool {
        matches!(self, Algorithm::Md5 | Algorithm::Sha1 | Algorithm::Sha256)
    }

    /// The default match radius: about 12% of the bits (PDQ's 31 of 256), 0 for exact hashes.
    pub fn default_radius(self) -> u32 {
        match self.bits() {
            _ if self.is_cryptographic() => 0,
            256 => 31,
            _ => 8,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An algorithm name that nearmatch does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm {0:?} (known: pdq, ahash, dhash, phash, whash, ahash16, dhash16, phash16, whash16, md5, sha1, sha256)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;
    fn from_str(s: &str) -> Result<Self, UnknownAlgorithm> {
        let lower = s.trim().to_ascii_lowercase();
        let name = match lower.as_str() {
            "sha-1" => "sha1",
            "sha-256" => "sha256",
            "md-5" => "md5",
            other => other,
        };
        Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == name)
            .ok_or_else(|| UnknownAlgorithm(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for a in Algorithm::ALL {
            assert_eq!(a.name().parse::<Algorithm>(), Ok(a));
        }
        assert_eq!("SHA-1".parse::<Algorithm>(), Ok(Algorithm::Sha1));
        assert!("photodna".parse::<Algorithm>().is_err());
    }
}
