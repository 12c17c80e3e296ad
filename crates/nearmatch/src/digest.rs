//! Fixed-width bit strings: the value of every hash nearmatch computes or stores.
//!
//! A [`Digest`] holds `W` 64-bit words. The words are the big-endian reading of the hash's
//! canonical hex string: word 0 is the first 16 hex digits. This makes hex, bytes and words
//! three views of one order, and Hamming distance a popcount over the words.
//!
//! ```
//! use nearmatch::digest::Digest256;
//! let a: Digest256 = "f".repeat(64).parse().unwrap();
//! let b = Digest256::ZERO;
//! assert_eq!(a.distance(&b), 256);
//! assert_eq!(a.to_hex(), "f".repeat(64));
//! ```

use std::fmt;
use std::str::FromStr;

/// Why a hex string could not be read as a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The string has the wrong number of hex digits for the requested width.
    #[error("expected {expected} hex digits, got {got}")]
    WrongLength {
        /// Hex digits required.
        expected: usize,
        /// Hex digits found (characters, after trimming whitespace).
        got: usize,
    },
    /// A character is not a hex digit.
    #[error("invalid hex character {ch:?} at position {position}")]
    InvalidChar {
        /// The offending character.
        ch: char,
        /// Its 0-based character position.
        position: usize,
    },
}

/// A hash value of `64 * W` bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Digest<const W: usize>(pub [u64; W]);

/// A 64-bit digest (aHash, dHash, pHash, wHash at hash size 8).
pub type Digest64 = Digest<1>;
/// A 256-bit digest (PDQ; the imagehash family at hash size 16).
pub type Digest256 = Digest<4>;

impl<const W: usize> Digest<W> {
    /// The all-zero digest.
    pub const ZERO: Self = Digest([0; W]);
    /// Width in bits.
    pub const BITS: usize = 64 * W;
    /// Width in bytes.
    pub const BYTES: usize = 8 * W;

    /// Builds a digest from its words (word 0 = most significant).
    pub const fn from_words(words: [u64; W]) -> Self {
        Digest(words)
    }

    /// The words, most significant first.
    pub const fn words(&self) -> &[u64; W] {
        &self.0
    }

    /// Hamming distance: the number of differing bits.
    #[inline]
    pub fn distance(&self, other: &Self) -> u32 {
        let mut d = 0;
        for i in 0..W {
            d += (self.0[i] ^ other.0[i]).count_ones();
        }
        d
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// Bit `k` where bit 0 is the least significant bit of the big-endian integer.
    pub fn bit(&self, k: usize) -> bool {
        assert!(k < Self::BITS, "bit index {k} out of range");
        let word = W - 1 - k / 64;
        (self.0[word] >> (k % 64)) & 1 == 1
    }

    /// Sets bit `k` (LSB-numbered, as in [`Digest::bit`]).
    pub fn set_bit(&mut self, k: usize, value: bool) {
        assert!(k < Self::BITS, "bit index {k} out of range");
        let word = W - 1 - k / 64;
        let mask = 1u64 << (k % 64);
        if value {
            self.0[word] |= mask;
        } else {
            self.0[word] &= !mask;
        }
    }

    /// Builds a digest from bits in reading order: `bits[0]` is the most significant bit.
    ///
    /// This is imagehash's order (the array flattened row-major, element `[0,0]` first).
    pub fn from_msb_bits(bits: &[bool]) -> Self {
        assert_eq!(bits.len(), Self::BITS, "need exactly {} bits", Self::BITS);
        let mut d = Self::ZERO;
        for (i, &b) in bits.iter().enumerate() {
            if b {
                d.0[i / 64] |= 1u64 << (63 - i % 64);
            }
        }
        d
    }

    /// The bits in reading order (most significant first).
    pub fn to_msb_bits(&self) -> Vec<bool> {
        (0..Self::BITS)
            .map(|i| (self.0[i / 64] >> (63 - i % 64)) & 1 == 1)
            .collect()
    }

    /// The big-endian bytes (what `bytes.fromhex(hex)` gives in Python).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.0.iter().flat_map(|w| w.to_be_bytes()).collect()
    }

    /// Reads big-endian bytes; `None` unless exactly [`Self::BYTES`] long.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::BYTES {
            return None;
        }
        let mut d = Self::ZERO;
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            d.0[i] = u64::from_be_bytes(chunk.try_into().expect("chunk of 8"));
        }
        Some(d)
    }

    /// Lower-case hex, `16 * W` digits.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(16 * W);
        for w in &self.0 {
            s.push_str(&format!("{w:016x}"));
        }
        s
    }

    /// Parses exactly `16 * W` hex digits (either case; surrounding whitespace ignored).
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 16 * W {
            // Report a bad character first when there is one: it is the more useful message.
            if let Some((position, ch)) =
                s.chars().enumerate().find(|(_, c)| !c.is_ascii_hexdigit())
            {
                return Err(HexError::InvalidChar { ch, position });
            }
            return Err(HexError::WrongLength {
                expected: 16 * W,
                got: n,
            });
        }
        let mut d = Self::ZERO;
        for (position, ch) in s.chars().enumerate() {
            let v = ch
                .to_digit(16)
                .ok_or(HexError::InvalidChar { ch, position })? as u64;
            d.0[position / 16] |= v << (4 * (15 - position % 16));
        }
        Ok(d)
    }
}

impl<const W: usize> Default for Digest<W> {
    fn default() -> Self {
        Self::ZERO
    }
}

impl<const W: usize> fmt::Display for Digest<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for w in &self.0 {
            write!(f, "{w:016x}")?;
        }
        Ok(())
    }
}

impl<const W: usize> fmt::Debug for Digest<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest{}({self})", Self::BITS)
    }
}

impl<const W: usize> FromStr for Digest<W> {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, HexError> {
        Self::from_hex(s)
    }
}

/// A digest of either width, for code that handles several algorithms at once.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AnyDigest {
    /// A 64-bit digest.
    D64(Digest64),
    /// A 256-bit digest.
    D256(Digest256),
}

impl AnyDigest {
    /// Width in bits.
    pub fn bits(&self) -> usize {
        match self {
            AnyDigest::D64(_) => 64,
            AnyDigest::D256(_) => 256,
        }
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        match self {
            AnyDigest::D64(d) => d.to_hex(),
            AnyDigest::D256(d) => d.to_hex(),
        }
    }

    /// Hamming distance, `None` when the widths differ.
    pub fn distance(&self, other: &AnyDigest) -> Option<u32> {
        match (self, other) {
            (AnyDigest::D64(a), AnyDigest::D64(b)) => Some(a.distance(b)),
            (AnyDigest::D256(a), AnyDigest::D256(b)) => Some(a.distance(b)),
            _ => None,
        }
    }

    /// The words, most significant first.
    pub fn words(&self) -> &[u64] {
        match self {
            AnyDigest::D64(d) => &d.0,
            AnyDigest::D256(d) => &d.0,
        }
    }
}

impl fmt::Display for AnyDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl From<Digest64> for AnyDigest {
    fn from(d: Digest64) -> Self {
        AnyDigest::D64(d)
    }
}

impl From<Digest256> for AnyDigest {
    fn from(d: Digest256) -> Self {
        AnyDigest::D256(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hex_roundtrip_and_case() {
        let h = "0123456789abcdef";
        let d: Digest64 = h.parse().unwrap();
        assert_eq!(d.0[0], 0x0123_4567_89ab_cdef);
        assert_eq!(d.to_hex(), h);
        let upper: Digest64 = "0123456789ABCDEF".parse().unwrap();
        assert_eq!(upper, d);
    }

    #[test]
    fn hex_errors_say_which() {
        assert_eq!(
            Digest64::from_hex("abc"),
            Err(HexError::WrongLength {
                expected: 16,
                got: 3
            })
        );
        assert_eq!(
            Digest64::from_hex("0123456789abcdeg"),
            Err(HexError::InvalidChar {
                ch: 'g',
                position: 15
            })
        );
        assert!(matches!(
            Digest256::from_hex("zz"),
            Err(HexError::InvalidChar {
                ch: 'z',
                position: 0
            })
        ));
        // Multi-byte characters count as characters, never panic on a byte boundary.
        assert!(Digest64::from_hex("é123456789abcdef").is_err());
    }

    #[test]
    fn bit_numbering_matches_big_endian_integer() {
        // PDQ: hex digit 0 holds bits 255..252, so bit 255 is the top of word 0.
        let mut d = Digest256::ZERO;
        d.set_bit(255, true);
        assert_eq!(d.to_hex(), format!("8{}", "0".repeat(63)));
        d = Digest256::ZERO;
        d.set_bit(0, true);
        assert_eq!(d.to_hex(), format!("{}1", "0".repeat(63)));
        assert!(d.bit(0));
    }

    proptest! {
        #[test]
        fn distance_is_bitwise_count(a in any::<[u64; 4]>(), b in any::<[u64; 4]>()) {
            let (da, db) = (Digest256::from_words(a), Digest256::from_words(b));
            let naive = da.to_msb_bits().iter().zip(db.to_msb_bits()).filter(|(x, y)| **x != *y).count();
            prop_assert_eq!(da.distance(&db) as usize, naive);
            prop_assert_eq!(Digest256::from_msb_bits(&da.to_msb_bits()), da);
            prop_assert_eq!(Digest256::from_bytes(&da.to_bytes()), Some(da));
            prop_assert_eq!(Digest256::from_hex(&da.to_hex()), Ok(da));
            // hex is the hex of the big-endian bytes
            prop_assert_eq!(hex::encode(da.to_bytes()), da.to_hex());
        }
    }
}
