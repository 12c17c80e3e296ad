//! The dictionaries of a version-2 set: label values and notes that repeat across records are
//! stored once, and records hold their index.
//!
//! Values are interned as they are first met, up to [`MAX_ENTRIES`] values and
//! [`MAX_TEXT`] bytes per dictionary; past that, new values are stored in their records
//! (inline), so the writer's memory stays bounded whatever the list (a column of unique values
//! fills the dictionary once and costs nothing more). A value is either interned from its
//! first occurrence on or never, so identical records always encode to identical bytes (the
//! writer's duplicate detection compares them).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Most values one dictionary holds (record indexes then take at most 3 varint bytes).
pub(crate) const MAX_ENTRIES: usize = 1 << 16;
/// Most bytes of text one dictionary holds.
pub(crate) const MAX_TEXT: usize = 1 << 20;

/// A seeded folded-multiply hasher (as the writer's fingerprints): a fraction of SipHash's
/// cost on short strings, looked up once per label on the writer's thread; the per-build
/// random seed keeps a crafted list from aiming collisions at it.
#[derive(Clone, Copy)]
pub(crate) struct FoldState(pub u64);

/// The hasher [`FoldState`] builds.
pub(crate) struct FoldHasher {
    h: u64,
    seed: u64,
}

impl BuildHasher for FoldState {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            h: self.0,
            seed: self.0,
        }
    }
}

impl FoldHasher {
    fn fold(&mut self, x: u64) {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let m = u128::from(self.h ^ x ^ K) * u128::from(self.seed | 1);
        self.h = (m as u64) ^ ((m >> 64) as u64);
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.fold(u64::from_le_bytes(b));
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.fold(n as u64);
    }
    fn finish(&self) -> u64 {
        let mut m = u128::from(self.h) * u128::from(0x2545_F491_4F6C_DD1D_u64);
        m ^= m >> 64;
        m as u64
    }
}

/// One dictionary being built: values (with a scheme index for labels) in first-seen order.
pub(crate) struct DictBuilder {
    /// Key (the scheme's varint then the value's bytes, or the note's bytes) → index.
    map: HashMap<Box<[u8]>, u32, FoldState>,
    /// Per value: scheme index (0 for notes) and end offset in `text`.
    entries: Vec<(u32, u32)>,
    text: Vec<u8>,
    key: Vec<u8>,
}

impl DictBuilder {
    /// An empty dictionary hashing with `seed`.
    pub fn new(seed: u64) -> Self {
        DictBuilder {
            map: HashMap::with_hasher(FoldState(seed)),
            entries: Vec::new(),
            text: Vec::new(),
            key: Vec::new(),
        }
    }

    /// The index of `value` (under `scheme`), interning it if there is room; `None`: store it
    /// inline.
    pub fn intern(&mut self, scheme: u32, value: &str) -> Option<u32> {
        self.key.clear();
        super::format::put_varint(&mut self.key, u64::from(scheme));
        self.key.extend_from_slice(value.as_bytes());
        if let Some(&i) = self.map.get(&self.key[..]) {
            return Some(i);
        }
        if self.entries.len() >= MAX_ENTRIES || self.text.len() + value.len() > MAX_TEXT {
            return None;
        }
        let i = self.entries.len() as u32;
        self.text.extend_from_slice(value.as_bytes());
        self.entries.push((scheme, self.text.len() as u32));
        self.map.insert(self.key.clone().into_boxed_slice(), i);
        Some(i)
    }

    /// The `Labels` section: `u32` n, n `u32` scheme indexes, n `u32` end offsets, the text.
    pub fn label_section(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 8 * self.entries.len() + self.text.len());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (s, _) in &self.entries {
            out.extend_from_slice(&s.to_le_bytes());
        }
        for (_, e) in &self.entries {
            out.extend_from_slice(&e.to_le_bytes());
        }
        out.extend_from_slice(&self.text);
        out
    }

    /// The `Notes` section: `u32` n, n `u32` end offsets, the text (the `Schemes` layout).
    pub fn note_section(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 * self.entries.len() + self.text.len());
        out.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for (_, e) in &self.entries {
            out.extend_from_slice(&e.to_le_bytes());
        }
        out.extend_from_slice(&self.text);
        out
    }
}

/// The decimal string `id` as a number when writing the number back gives `id` exactly (no
/// sign, no leading zero, ASCII digits) and it is below 2^63 (so `2n + 1` fits a varint tag).
pub(crate) fn canonical_number(id: &str) -> Option<u64> {
    let b = id.as_bytes();
    if b.is_empty() || b.len() > 19 || (b[0] == b'0' && b.len() > 1) {
        return None;
    }
    let mut n = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(c - b'0');
    }
    (n < 1 << 63).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_numbers_are_exactly_those_that_print_back() {
        for s in [
            "0",
            "7",
            "42",
            "1234567",
            "9223372036854775807",
            "007",
            "00",
            "-1",
            "+5",
            "1e3",
            " 1",
            "1 ",
            "",
            "١٢",
            "9223372036854775808",
            "18446744073709551615",
            "99999999999999999999",
            "1.0",
        ] {
            let n = canonical_number(s);
            // The reference: parse as u64 and print back.
            let expect = s
                .parse::<u64>()
                .ok()
                .filter(|n| n.to_string() == s && *n < 1 << 63);
            assert_eq!(n, expect, "{s:?}");
        }
    }

    #[test]
    fn dictionary_is_bounded_and_stable() {
        let mut d = DictBuilder::new(7);
        assert_eq!(d.intern(0, "A"), Some(0));
        assert_eq!(d.intern(1, "A"), Some(1), "same value, other scheme");
        assert_eq!(d.intern(0, "A"), Some(0));
        for k in 2..MAX_ENTRIES {
            assert_eq!(d.intern(0, &format!("v{k}")), Some(k as u32));
        }
        assert_eq!(d.intern(0, "new"), None, "full: stored inline");
        assert_eq!(d.intern(0, "new"), None, "and stays inline");
        assert_eq!(d.intern(1, "A"), Some(1), "interned values stay interned");
        let mut t = DictBuilder::new(7);
        assert_eq!(t.intern(0, &"x".repeat(MAX_TEXT)), Some(0));
        assert_eq!(t.intern(0, "y"), None, "text full");
    }
}
