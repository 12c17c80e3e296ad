//! Byte-level constants and helpers shared by the writer and the reader.

/// The 8 bytes every set file starts with.
pub const MAGIC: [u8; 8] = *b"\x89NMSET\r\n";
/// The format version this build writes. It also reads [`FORMAT_VERSION_1`] files.
pub const FORMAT_VERSION: u32 = 2;
/// The first format: an 8-byte `EntryOffsets` entry per entry and records in push order.
pub const FORMAT_VERSION_1: u32 = 1;
/// Records between two sampled offsets of a version-2 `RecordIndex` (see [`super`]).
pub const RECORD_STRIDE: u32 = 64;
/// `RecordIndex` mode: every 64th record's offset is stored, the others found by skipping.
pub(crate) const RECORD_INDEX_SAMPLED: u32 = 0;
/// `RecordIndex` mode: every entry has the empty record of one source; `EntryData` is empty.
pub(crate) const RECORD_INDEX_UNIFORM: u32 = 1;
/// Size of the fixed header.
pub(crate) const HEADER_LEN: usize = 64;
/// Size of one section-table entry.
pub(crate) const SECTION_ENTRY_LEN: usize = 32;
/// Alignment of every section.
pub(crate) const ALIGN: usize = 64;
/// Upper bound on sections (keeps a corrupt count from meaning a huge table).
pub(crate) const MAX_SECTIONS: usize = 64;
/// Header flag bit 0: the file is a delta layer (see [`super::layers`]). Builds before layers
/// existed require the flags to be 0, so they refuse a delta instead of searching it alone.
pub const FLAG_LAYER: u32 = 1;

/// What a section holds. Kinds are `u32` on disk; unknown kinds survive as [`SectionKind::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SectionKind {
    /// The packed digests.
    Digests,
    /// Per-entry start offsets into [`SectionKind::EntryData`] (format version 1 only).
    EntryOffsets,
    /// Sampled record offsets, or the one source of a metadata-free set (version 2).
    RecordIndex,
    /// Label values stored once, with their scheme (version 2).
    LabelValues,
    /// Notes stored once (version 2).
    Notes,
    /// The entry metadata records.
    EntryData,
    /// The interned label scheme names.
    Schemes,
    /// Build provenance, JSON.
    Provenance,
    /// A delta layer's parent and bookkeeping, JSON ([`super::layers::LayerInfo`]).
    Layer,
    /// A delta layer's removed digests, sorted, packed like [`SectionKind::Digests`].
    Removals,
    /// The layers a compacted set was folded from, JSON ([`super::layers::CompactedFrom`]).
    Compacted,
    /// Multi-index hashing parameters.
    MihParams,
    /// Multi-index hashing CSR offsets (`u32`).
    MihOffsets,
    /// Multi-index hashing CSR entry ids (`u32`).
    MihIds,
    /// A kind this build does not know.
    Other(u32),
}

impl SectionKind {
    /// The on-disk code.
    pub fn code(self) -> u32 {
        match self {
            SectionKind::Digests => 1,
            SectionKind::EntryOffsets => 2,
            SectionKind::EntryData => 3,
            SectionKind::Schemes => 4,
            SectionKind::Provenance => 5,
            SectionKind::Layer => 6,
            SectionKind::Removals => 7,
            SectionKind::Compacted => 8,
            SectionKind::RecordIndex => 9,
            SectionKind::LabelValues => 10,
            SectionKind::Notes => 11,
            SectionKind::MihParams => 16,
            SectionKind::MihOffsets => 17,
            SectionKind::MihIds => 18,
            SectionKind::Other(c) => c,
        }
    }

    /// The kind for an on-disk code.
    pub fn from_code(code: u32) -> Self {
        match code {
            1 => SectionKind::Digests,
            2 => SectionKind::EntryOffsets,
            3 => SectionKind::EntryData,
            4 => SectionKind::Schemes,
            5 => SectionKind::Provenance,
            6 => SectionKind::Layer,
            7 => SectionKind::Removals,
            8 => SectionKind::Compacted,
            9 => SectionKind::RecordIndex,
            10 => SectionKind::LabelValues,
            11 => SectionKind::Notes,
            16 => SectionKind::MihParams,
            17 => SectionKind::MihOffsets,
            18 => SectionKind::MihIds,
            c => SectionKind::Other(c),
        }
    }

    /// True for the sections the writer itself produces (not accepted from callers).
    pub fn is_core(self) -> bool {
        matches!(
            self,
            SectionKind::Digests
                | SectionKind::EntryOffsets
                | SectionKind::RecordIndex
                | SectionKind::LabelValues
                | SectionKind::Notes
                | SectionKind::EntryData
                | SectionKind::Schemes
                | SectionKind::Provenance
        )
    }
}

/// Rounds up to the section alignment.
pub(crate) fn align_up(n: u64) -> u64 {
    n.div_ceil(ALIGN as u64) * ALIGN as u64
}

/// Appends an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounds-checked cursor over untrusted bytes.
pub(crate) struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    /// Reads a varint; `None` past the end or beyond 64 bits.
    pub fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Steps over a varint-length string without checking it (the skip to a sampled record's
    /// neighbours; the record read is checked in full).
    pub fn skip_str(&mut self) -> Option<()> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        if end > self.buf.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// Reads `len` bytes as UTF-8.
    pub fn str_of_len(&mut self, len: u64) -> Option<&'a str> {
        let len = usize::try_from(len).ok()?;
        let end = self.pos.checked_add(len)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        std::str::from_utf8(bytes).ok()
    }

    /// Steps over `len` bytes.
    pub fn skip(&mut self, len: u64) -> Option<()> {
        let end = self.pos.checked_add(usize::try_from(len).ok()?)?;
        if end > self.buf.len() {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// Reads a varint-length UTF-8 string.
    pub fn str(&mut self) -> Option<&'a str> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let bytes = self.buf.get(self.pos..end)?;
        self.pos = end;
        std::str::from_utf8(bytes).ok()
    }
}

/// A little-endian `u32` at `at` (caller checked bounds).
pub(crate) fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// A little-endian `u64` at `at` (caller checked bounds).
pub(crate) fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

/// The header CRC: bytes 0..60, then the section table.
pub(crate) fn header_crc(header: &[u8], table: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..60]);
    h.update(table);
    h.finalize()
}

/// Big-endian digest bytes (at most 32) as zero-padded words on the stack (word 0 most
/// significant): the key of lookups and of the writer's sort, without an allocation.
pub(crate) fn digest_key(bytes: &[u8]) -> [u64; 4] {
    let mut key = [0u64; 4];
    for (w, chunk) in key.iter_mut().zip(bytes.chunks(8)) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        *w = u64::from_be_bytes(b);
    }
    key
}

/// Converts big-endian digest bytes into zero-padded `u64` words (word 0 most significant).
pub(crate) fn bytes_to_words(bytes: &[u8], words: usize, out: &mut Vec<u64>) {
    for w in 0..words {
        let mut chunk = [0u8; 8];
        let start = (w * 8).min(bytes.len());
        let end = (w * 8 + 8).min(bytes.len());
        chunk[..end - start].copy_from_slice(&bytes[start..end]);
        out.push(u64::from_be_bytes(chunk));
    }
}
