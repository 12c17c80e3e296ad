//! Opening a set file: validate everything, then use the bytes in place.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use super::format::*;
use super::writer::Provenance;
use crate::digest::{AnyDigest, Digest256, Digest64};
use crate::error::{Error, Result};
use crate::hash::Algorithm;

/// 64 bytes aligned to 64: the unit of the owned (plain-read) buffer, so sections keep the
/// alignment they have in a map.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Block([u8; 64]);

// SAFETY: `Block` is 64 bytes with no padding (a byte array, alignment equal to its size),
// and every bit pattern is a valid `[u8; 64]`.
unsafe impl bytemuck::Zeroable for Block {}
// SAFETY: as above; it contains no pointers or interior mutability.
unsafe impl bytemuck::Pod for Block {}

enum Backing {
    Map(memmap2::Mmap),
    Owned(Vec<Block>, usize),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Map(m) => m,
            Backing::Owned(blocks, len) => &bytemuck::cast_slice(blocks)[..*len],
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Section {
    kind: SectionKind,
    offset: usize,
    len: usize,
    crc: u32,
}

impl Section {
    fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

/// A label of an entry, borrowed from the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabelRef<'a> {
    /// The scheme (`vics-US`, `caid`, a column name).
    pub scheme: &'a str,
    /// The value.
    pub value: &'a str,
}

/// The metadata of one entry, borrowed from the set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryMeta<'a> {
    /// Identifier in its source list, or empty. Borrowed from the set, except numeric ids,
    /// which version-2 sets store as numbers and give back as the identical decimal string.
    pub id: Cow<'a, str>,
    /// Index of its source list in [`Provenance::sources`].
    pub source: u32,
    /// Labels, in source order.
    pub labels: Vec<LabelRef<'a>>,
    /// Free text, or empty.
    pub note: &'a str,
}

/// Where entry records are found.
#[derive(Clone, Debug)]
enum Records {
    /// Format version 1: an 8-byte offset per entry (this range of the file), records in any
    /// order.
    Offsets(Range<usize>),
    /// Version 2: records in entry order; the offset of every `stride`-th one (`u64`s at this
    /// range of the file).
    Sampled {
        samples: Range<usize>,
        stride: usize,
    },
    /// Version 2: every entry has the empty record of `source`; nothing is stored.
    Uniform { source: u32 },
}

impl EntryMeta<'_> {
    /// The record of an entry with no id, labels or note.
    fn empty(source: u32) -> Self {
        EntryMeta {
            id: Cow::Borrowed(""),
            source,
            labels: Vec::new(),
            note: "",
        }
    }
}

/// An open, validated hash-set file.
pub struct HashSet {
    backing: Backing,
    path: PathBuf,
    algorithm: Algorithm,
    words: usize,
    count: usize,
    sections: Vec<Section>,
    digests: Range<usize>,
    /// The format version (1 or 2).
    version: u32,
    records: Records,
    data: Range<usize>,
    schemes: Vec<Range<usize>>,
    /// Version 2: the label-value dictionary, (scheme index, value bytes) per value.
    label_values: Vec<(usize, Range<usize>)>,
    /// Version 2: the note dictionary.
    notes: Vec<Range<usize>>,
    /// Header flags ([`FLAG_LAYER`] or 0).
    flags: u32,
    /// The `Removals` section of a delta layer (empty otherwise).
    removals: Range<usize>,
}

impl std::fmt::Debug for HashSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashSet")
            .field("path", &self.path)
            .field("algorithm", &self.algorithm)
            .field("len", &self.count)
            .finish()
    }
}

impl HashSet {
    /// Opens a set by memory-mapping it, after validating its header, section table and every
    /// offset, length and alignment against the file size.
    ///
    /// # Safety contract (why this is a safe function with an `unsafe` inside)
    ///
    /// A map is only sound while nobody modifies or truncates the file. nearmatch never does:
    /// sets are written once to a temporary file and renamed into place, so replacing a set
    /// leaves open maps on the old inode. If another program truncates a set file while it is
    /// mapped, the next access past the new end raises SIGBUS and kills the process (memory
    /// safety is kept — the process dies rather than reading garbage). Where that risk is not
    /// acceptable (sets on network shares, files others may rewrite), use [`HashSet::read`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::map_file(path.as_ref(), false)
    }

    /// Like [`HashSet::open`], but also accepts a delta layer ([`super::LayeredSet`]).
    ///
    /// A delta on its own is not a list: its removals hide entries of the layers below, which
    /// this single file cannot apply. Use it for inspecting one layer; search a stack through
    /// [`super::LayeredSet`].
    pub fn open_layer(path: impl AsRef<Path>) -> Result<Self> {
        Self::map_file(path.as_ref(), true)
    }

    /// Maps and validates `path`; `layer`: whether a delta layer is accepted.
    fn map_file(path: &Path, layer: bool) -> Result<Self> {
        let ioe = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(ioe)?;
        let size = file.metadata().map_err(ioe)?.len();
        if size < HEADER_LEN as u64 {
            return Err(invalid(
                path,
                format!("{size} bytes is shorter than the {HEADER_LEN}-byte header"),
            ));
        }
        // SAFETY: the map is read-only and lives as long as `HashSet`; the file is not modified
        // by nearmatch while mapped (sets are replaced by rename, never rewritten in place).
        // Truncation by another process is the documented SIGBUS risk on `open`. All reads go
        // through bounds checked against the map's length in `validate`.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(ioe)?;
        Self::validate(Backing::Map(map), path.to_path_buf(), layer)
    }

    /// Like [`HashSet::read`], but also accepts a delta layer (see [`HashSet::open_layer`]).
    pub fn read_layer(path: impl AsRef<Path>) -> Result<Self> {
        Self::read_impl(path.as_ref(), true)
    }

    /// Opens a set by reading it into memory (no map: immune to files changing underneath,
    /// at the cost of reading and holding the whole file).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        Self::read_impl(path.as_ref(), false)
    }

    fn read_impl(path: &Path, allow_layer: bool) -> Result<Self> {
        let ioe = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(ioe)?;
        let size = file.metadata().map_err(ioe)?.len();
        let size =
            usize::try_from(size).map_err(|_| invalid(path, "too large for memory".into()))?;
        let mut blocks = vec![Block([0; 64]); size.div_ceil(64)];
        let buf: &mut [u8] = bytemuck::cast_slice_mut(&mut blocks);
        file.read_exact(&mut buf[..size]).map_err(ioe)?;
        // A file that grew while being read is read only to its first size; validation then
        // fails on anything inconsistent.
        Self::validate(
            Backing::Owned(blocks, size),
            path.to_path_buf(),
            allow_layer,
        )
    }

    /// Opens a set held in memory (copied into an aligned buffer); `name` names it in errors.
    pub fn from_bytes(bytes: &[u8], name: impl Into<PathBuf>) -> Result<Self> {
        let mut blocks = vec![Block([0; 64]); bytes.len().div_ceil(64)];
        bytemuck::cast_slice_mut::<Block, u8>(&mut blocks)[..bytes.len()].copy_from_slice(bytes);
        Self::validate(Backing::Owned(blocks, bytes.len()), name.into(), false)
    }

    /// Like [`HashSet::from_bytes`], but also accepts a delta layer (see [`HashSet::open_layer`]).
    pub fn layer_from_bytes(bytes: &[u8], name: impl Into<PathBuf>) -> Result<Self> {
        let mut blocks = vec![Block([0; 64]); bytes.len().div_ceil(64)];
        bytemuck::cast_slice_mut::<Block, u8>(&mut blocks)[..bytes.len()].copy_from_slice(bytes);
        Self::validate(Backing::Owned(blocks, bytes.len()), name.into(), true)
    }

    fn validate(backing: Backing, path: PathBuf, allow_layer: bool) -> Result<Self> {
        let bad = |reason: String| Err(invalid(&path, reason));
        if cfg!(target_endian = "big") {
            return bad("set files are little-endian; big-endian hosts are not supported".into());
        }
        let b = backing.bytes();
        let size = b.len();
        if size < HEADER_LEN {
            return bad(format!(
                "{size} bytes is shorter than the {HEADER_LEN}-byte header"
            ));
        }
        if b[0..8] != MAGIC {
            return bad("not a nearmatch hash set (bad magic)".into());
        }
        let version = le32(b, 8);
        if version != FORMAT_VERSION && version != FORMAT_VERSION_1 {
            return bad(if version > FORMAT_VERSION {
                format!("format version {version} is newer than this nearmatch reads ({FORMAT_VERSION}); upgrade nearmatch")
            } else {
                format!("unknown format version {version}")
            });
        }
        let n_sections = le32(b, 48) as usize;
        if n_sections == 0 || n_sections > MAX_SECTIONS {
            return bad(format!("section count {n_sections} out of range"));
        }
        let header_len = HEADER_LEN + SECTION_ENTRY_LEN * n_sections;
        if le32(b, 12) as usize != header_len {
            return bad("header size does not match the section count".into());
        }
        if size < header_len {
            return bad(format!(
                "truncated: {size} bytes, section table needs {header_len}"
            ));
        }
        let table = &b[HEADER_LEN..header_len];
        if header_crc(b, table) != le32(b, 60) {
            return bad("header checksum mismatch (corrupted header)".into());
        }
        let flags = le32(b, 52);
        if flags & !FLAG_LAYER != 0 || le32(b, 56) != 0 {
            return bad("unknown header flags".into());
        }
        let name = &b[16..32];
        let name_len = name.iter().position(|&c| c == 0).unwrap_or(16);
        if name[name_len..].iter().any(|&c| c != 0) {
            return bad("malformed algorithm name".into());
        }
        let name = std::str::from_utf8(&name[..name_len]).unwrap_or("?");
        let algorithm: Algorithm = match name.parse() {
            Ok(a) => a,
            Err(_) => return bad(format!("unknown algorithm {name:?}")),
        };
        let bits = le32(b, 32) as usize;
        let words = le32(b, 36) as usize;
        if bits != algorithm.bits() || words != bits.div_ceil(64) {
            return bad(format!(
                "{bits} bits / {words} words do not fit algorithm {algorithm}"
            ));
        }
        let count = le64(b, 40);
        if count > u32::MAX as u64 {
            return bad(format!("entry count {count} out of range"));
        }
        let count = count as usize;

        let mut sections: Vec<Section> = Vec::with_capacity(n_sections);
        let mut expect = align_up(header_len as u64);
        for i in 0..n_sections {
            let e = &table[i * SECTION_ENTRY_LEN..(i + 1) * SECTION_ENTRY_LEN];
            let kind = SectionKind::from_code(le32(e, 0));
            let offset = le64(e, 8);
            let len = le64(e, 16);
            if le32(e, 4) != 0 || le32(e, 28) != 0 {
                return bad(format!("section {i}: reserved fields set"));
            }
            if !offset.is_multiple_of(ALIGN as u64) {
                return bad(format!(
                    "section {kind:?} at {offset} is not {ALIGN}-byte aligned"
                ));
            }
            if offset != expect {
                return bad(format!("section {kind:?} at {offset}, expected {expect}"));
            }
            let end = match offset.checked_add(len) {
                Some(end) if end <= size as u64 => end,
                _ => {
                    return bad(format!(
                        "truncated: section {kind:?} ends past the file end ({size} bytes)"
                    ))
                }
            };
            if sections.iter().any(|s| s.kind == kind) {
                return bad(format!("section {kind:?} appears twice"));
            }
            sections.push(Section {
                kind,
                offset: offset as usize,
                len: len as usize,
                crc: le32(e, 24),
            });
            expect = align_up(end);
        }
        let last = sections.last().expect("n_sections >= 1");
        if (last.offset + last.len) != size {
            return bad(format!(
                "file is {size} bytes but its sections end at {}",
                last.offset + last.len
            ));
        }
        let find = |kind: SectionKind| sections.iter().find(|s| s.kind == kind).copied();
        let need = |kind: SectionKind| {
            find(kind).ok_or_else(|| invalid(&path, format!("missing section {kind:?}")))
        };
        let digests = need(SectionKind::Digests)?;
        let data = need(SectionKind::EntryData)?;
        let schemes_s = need(SectionKind::Schemes)?;
        need(SectionKind::Provenance)?;
        let layer_s = find(SectionKind::Layer);
        let removals_s = find(SectionKind::Removals);
        if flags & FLAG_LAYER == 0 {
            if layer_s.is_some() || removals_s.is_some() {
                return bad("layer sections in a file not flagged as a delta layer".into());
            }
        } else {
            let layer_s = need(SectionKind::Layer)?;
            let removals = need(SectionKind::Removals)?;
            if !removals.len.is_multiple_of(words * 8)
                || bytemuck::try_cast_slice::<u8, u64>(&b[removals.range()]).is_err()
            {
                return bad(format!(
                    "removal section of {} bytes is not a whole number of aligned digests",
                    removals.len
                ));
            }
            if !allow_layer {
                // Name the parent so the user knows what the delta needs.
                let parent =
                    serde_json::from_slice::<super::layers::LayerInfo>(&b[layer_s.range()])
                        .map(|l| l.parent.file)
                        .unwrap_or_else(|_| "?".into());
                return bad(format!(
                    "a delta layer on top of {parent:?}, not a complete set: open it as a \
                     layered stack (the `nearmatch` tools do; in Rust `LayeredSet::open`), \
                     or fold the stack with `nearmatch set compact`"
                ));
            }
        }
        let removals = removals_s.map_or(0..0, |s| s.range());
        if Some(digests.len) != count.checked_mul(words * 8) {
            return bad(format!(
                "digest section is {} bytes, {count} entries need {}",
                digests.len,
                count * words * 8
            ));
        }
        // The map is page-aligned and the owned buffer 64-aligned; sections are at multiples of
        // 64. Checking once here makes the casts in the accessors infallible.
        if bytemuck::try_cast_slice::<u8, u64>(&b[digests.range()]).is_err() {
            return bad("sections are not aligned in memory".into());
        }
        let records = if version == FORMAT_VERSION_1 {
            let offsets = need(SectionKind::EntryOffsets)?;
            if Some(offsets.len) != count.checked_mul(8) {
                return bad("entry offset section does not match the entry count".into());
            }
            Records::Offsets(offsets.range())
        } else {
            if find(SectionKind::EntryOffsets).is_some() {
                return bad("an EntryOffsets section in a version-2 set".into());
            }
            let ix = need(SectionKind::RecordIndex)?;
            let r = &b[ix.range()];
            if r.len() < 8 {
                return bad("record index truncated".into());
            }
            match le32(r, 0) {
                RECORD_INDEX_SAMPLED => {
                    let stride = le32(r, 4) as usize;
                    if stride == 0 {
                        return bad("record index stride 0".into());
                    }
                    if r.len() != 8 + 8 * count.div_ceil(stride) {
                        return bad(format!(
                            "record index of {} bytes, {count} entries sampled every {stride} need {}",
                            r.len(),
                            8 + 8 * count.div_ceil(stride)
                        ));
                    }
                    Records::Sampled {
                        samples: ix.offset + 8..ix.offset + ix.len,
                        stride,
                    }
                }
                RECORD_INDEX_UNIFORM => {
                    if r.len() != 8 || data.len != 0 {
                        return bad(
                            "a set of empty records with a sampled index or stored records".into(),
                        );
                    }
                    Records::Uniform { source: le32(r, 4) }
                }
                m => return bad(format!("unknown record index mode {m}")),
            }
        };
        // Scheme names: few and tiny, so their table is checked now and accessors can trust it.
        let s = &b[schemes_s.range()];
        if s.len() < 4 {
            return bad("scheme table truncated".into());
        }
        let ns = le32(s, 0) as usize;
        let names_at = match ns.checked_mul(4).and_then(|x| x.checked_add(4)) {
            Some(x) if x <= s.len() => x,
            _ => return bad("scheme table truncated".into()),
        };
        let mut schemes = Vec::with_capacity(ns);
        let mut prev = 0usize;
        for k in 0..ns {
            let end = le32(s, 4 + 4 * k) as usize;
            if end < prev || names_at + end > s.len() {
                return bad("scheme table offsets out of range".into());
            }
            let r = schemes_s.offset + names_at + prev..schemes_s.offset + names_at + end;
            if std::str::from_utf8(&b[r.clone()]).is_err() {
                return bad("scheme name is not UTF-8".into());
            }
            schemes.push(r);
            prev = end;
        }
        if names_at + prev != s.len() {
            return bad("scheme table has trailing bytes".into());
        }
        let (mut label_values, mut notes) = (Vec::new(), Vec::new());
        if version != FORMAT_VERSION_1 {
            // Dictionaries are at most 65,536 values each (the writer's cap): checking them in
            // full here keeps open well under a millisecond and lets records trust them.
            let dict = |kind: SectionKind,
                        with_scheme: bool|
             -> Result<Vec<(usize, Range<usize>)>> {
                let sec = need(kind)?;
                let d = &b[sec.range()];
                let bad = |what: &str| Err(invalid(&path, format!("{kind:?} dictionary {what}")));
                if d.len() < 4 {
                    return bad("truncated");
                }
                let n = le32(d, 0) as usize;
                let per = if with_scheme { 8 } else { 4 };
                let text_at = match n.checked_mul(per).and_then(|x| x.checked_add(4)) {
                    Some(x) if x <= d.len() => x,
                    _ => return bad("truncated"),
                };
                let ends_at = if with_scheme { 4 + 4 * n } else { 4 };
                let mut out = Vec::with_capacity(n);
                let mut prev = 0usize;
                for k in 0..n {
                    let scheme = if with_scheme {
                        le32(d, 4 + 4 * k) as usize
                    } else {
                        0
                    };
                    if with_scheme && scheme >= schemes.len() {
                        return bad("names an unknown scheme");
                    }
                    let end = le32(d, ends_at + 4 * k) as usize;
                    if end < prev || text_at + end > d.len() {
                        return bad("offsets out of range");
                    }
                    let r = sec.offset + text_at + prev..sec.offset + text_at + end;
                    if std::str::from_utf8(&b[r.clone()]).is_err() {
                        return bad("value is not UTF-8");
                    }
                    out.push((scheme, r));
                    prev = end;
                }
                if text_at + prev != d.len() {
                    return bad("has trailing bytes");
                }
                Ok(out)
            };
            label_values = dict(SectionKind::LabelValues, true)?;
            notes = dict(SectionKind::Notes, false)?
                .into_iter()
                .map(|(_, r)| r)
                .collect();
        }
        Ok(HashSet {
            digests: digests.range(),
            version,
            records,
            data: data.range(),
            backing,
            path,
            algorithm,
            words,
            count,
            sections,
            schemes,
            label_values,
            notes,
            flags,
            removals,
        })
    }

    pub(crate) fn invalid(&self, reason: String) -> Error {
        invalid(&self.path, reason)
    }

    fn bytes(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// The file this set was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's format version ([`FORMAT_VERSION`], or 1 for files of earlier builds).
    pub fn format_version(&self) -> u32 {
        self.version
    }

    /// True for a delta layer (header flag [`FLAG_LAYER`]).
    pub fn is_layer(&self) -> bool {
        self.flags & FLAG_LAYER != 0
    }

    /// The header's CRC-32, which covers every section's CRC-32: a content identity read in
    /// O(1) (a delta records its parent's, see [`super::layers`]).
    pub fn header_crc(&self) -> u32 {
        le32(self.bytes(), 60)
    }

    /// Size of the file in bytes.
    pub fn file_len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// A delta layer's removed digests, packed and sorted like [`HashSet::words`] (empty for an
    /// ordinary set).
    pub fn removal_words(&self) -> &[u64] {
        // Alignment and length were checked in `validate`.
        bytemuck::cast_slice(&self.bytes()[self.removals.clone()])
    }

    /// Number of digests a delta layer removes (0 for an ordinary set).
    pub fn removal_count(&self) -> usize {
        self.removal_words().len() / self.words
    }

    /// Whether this delta layer removes the digest given as packed words.
    pub fn removes_words(&self, key: &[u64]) -> bool {
        let r = self.removal_words();
        let w = self.words;
        let n = r.len() / w;
        let at = partition_point(n, |i| &r[i * w..i * w + w] < key);
        at < n && &r[at * w..at * w + w] == key
    }

    /// The entries whose digest equals `key` (packed words, as [`HashSet::digest_words`]).
    pub fn lookup_words(&self, key: &[u64]) -> Range<usize> {
        if key.len() != self.words {
            return 0..0;
        }
        let words = self.words();
        let w = self.words;
        let at = |i: usize| &words[i * w..i * w + w];
        let lo = partition_point(self.count, |i| at(i) < key);
        // Equal digests are adjacent and few: walking them costs the result's size, where a
        // second binary search over the rest of the set cost another log2(N) cache misses.
        let mut hi = lo;
        while hi < self.count && at(hi) == key {
            hi += 1;
        }
        lo..hi
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True for a set with no entries.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The algorithm of every digest in the set.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Digest width in bits.
    pub fn bits(&self) -> usize {
        self.algorithm.bits()
    }

    /// `u64` words per digest (1 for 64-bit, 2 for MD5, 3 for SHA-1, 4 for 256-bit).
    pub fn words_per_digest(&self) -> usize {
        self.words
    }

    /// All digests packed, `len() * words_per_digest()` words, sorted; entry `i` is
    /// `words[i * w .. (i + 1) * w]`. 64-byte aligned.
    pub fn words(&self) -> &[u64] {
        // Alignment and length were checked in `validate`.
        bytemuck::cast_slice(&self.bytes()[self.digests.clone()])
    }

    /// The words of entry `i`, or `None` if `i >= len()`.
    pub fn digest_words(&self, i: usize) -> Option<&[u64]> {
        (i < self.count).then(|| &self.words()[i * self.words..(i + 1) * self.words])
    }

    /// The big-endian bytes of entry `i` (`bits / 8` of them).
    pub fn digest_bytes(&self, i: usize) -> Option<Vec<u8>> {
        let w = self.digest_words(i)?;
        let mut v: Vec<u8> = w.iter().flat_map(|x| x.to_be_bytes()).collect();
        v.truncate(self.bits() / 8);
        Some(v)
    }

    /// Entry `i` as lower-case hex.
    pub fn digest_hex(&self, i: usize) -> Option<String> {
        self.digest_bytes(i).map(hex::encode)
    }

    /// Entry `i` as a perceptual digest (`None` for crypto sets or `i >= len()`).
    pub fn digest(&self, i: usize) -> Option<AnyDigest> {
        let w = self.digest_words(i)?;
        match (self.algorithm.is_cryptographic(), w.len()) {
            (false, 1) => Some(AnyDigest::D64(Digest64::from_words([w[0]]))),
            (false, 4) => Some(AnyDigest::D256(Digest256::from_words([
                w[0], w[1], w[2], w[3],
            ]))),
            _ => None,
        }
    }

    /// The entries whose digest equals `digest` (big-endian bytes): a range, as equal digests
    /// are adjacent. Empty when there is none (at the insertion point) or `digest` has the wrong
    /// length (`0..0`).
    pub fn lookup_exact(&self, digest: &[u8]) -> Range<usize> {
        if digest.len() != self.bits() / 8 {
            return 0..0;
        }
        self.lookup_words(&digest_key(digest)[..self.words])
    }

    /// The metadata of entry `i` (an error if `i >= len()` or its record is corrupt).
    pub fn entry(&self, i: usize) -> Result<EntryMeta<'_>> {
        if i >= self.count {
            return Err(Error::InvalidArgument(format!(
                "entry {i} of a set of {}",
                self.count
            )));
        }
        let b = self.bytes();
        let data = &b[self.data.clone()];
        let corrupt = || self.invalid(format!("entry {i}: metadata record corrupt"));
        let start = match &self.records {
            Records::Uniform { source } => return Ok(EntryMeta::empty(*source)),
            Records::Offsets(offsets) => le64(b, offsets.start + 8 * i),
            Records::Sampled { samples, stride } => le64(b, samples.start + 8 * (i / stride)),
        };
        let start = usize::try_from(start)
            .ok()
            .filter(|&o| o < data.len())
            .ok_or_else(corrupt)?;
        let mut c = Cursor {
            buf: data,
            pos: start,
        };
        if let Records::Sampled { stride, .. } = &self.records {
            // Records between samples are found by stepping over their predecessors: metadata
            // is read only for hits, and 63 skips at most cost far less than a cache miss.
            for _ in 0..i % stride {
                self.skip_record(&mut c).ok_or_else(corrupt)?;
            }
        }
        self.parse_record(&mut c).ok_or_else(corrupt)
    }

    /// Steps over one record (bounds checked, contents not).
    pub(super) fn skip_record(&self, c: &mut Cursor<'_>) -> Option<()> {
        if self.version == FORMAT_VERSION_1 {
            c.varint()?;
            c.skip_str()?;
            c.skip_str()?;
            for _ in 0..c.varint()? {
                c.varint()?;
                c.skip_str()?;
            }
            return Some(());
        }
        c.varint()?;
        let flags = c.varint()?;
        let labels = match flags & 3 {
            3 => c.varint()?.checked_add(3)?,
            n => n,
        };
        let skip_tagged = |c: &mut Cursor<'_>, scheme: bool| -> Option<()> {
            let tag = c.varint()?;
            if tag & 1 == 0 {
                if scheme {
                    c.varint()?;
                }
                c.skip(tag >> 1)?;
            }
            Some(())
        };
        skip_tagged(c, false)?;
        if flags & 4 != 0 {
            skip_tagged(c, false)?;
        }
        for _ in 0..labels {
            skip_tagged(c, true)?;
        }
        Some(())
    }

    /// The scheme name of index `s`, if there is one.
    fn scheme(&self, s: u64) -> Option<&str> {
        let r = self.schemes.get(usize::try_from(s).ok()?)?;
        std::str::from_utf8(&self.bytes()[r.clone()]).ok()
    }

    /// Reads one record at the cursor; `None` if it is corrupt.
    fn parse_record<'s>(&'s self, c: &mut Cursor<'s>) -> Option<EntryMeta<'s>> {
        if self.version == FORMAT_VERSION_1 {
            return self.parse_record_v1(c);
        }
        let b = self.bytes();
        let source = u32::try_from(c.varint()?).ok()?;
        let flags = c.varint()?;
        if flags > 7 {
            return None;
        }
        let n = match flags & 3 {
            3 => c.varint()?.checked_add(3)?,
            n => n,
        };
        let tag = c.varint()?;
        let id = if tag & 1 == 1 {
            Cow::Owned((tag >> 1).to_string())
        } else {
            Cow::Borrowed(c.str_of_len(tag >> 1)?)
        };
        let note = if flags & 4 != 0 {
            let tag = c.varint()?;
            if tag & 1 == 1 {
                let r = self.notes.get(usize::try_from(tag >> 1).ok()?)?;
                std::str::from_utf8(&b[r.clone()]).ok()?
            } else {
                c.str_of_len(tag >> 1)?
            }
        } else {
            ""
        };
        // Each label takes at least 1 byte: a bound before allocating.
        if n > (c.buf.len() - c.pos) as u64 {
            return None;
        }
        let mut labels = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let tag = c.varint()?;
            let (scheme, value) = if tag & 1 == 1 {
                let (s, r) = self.label_values.get(usize::try_from(tag >> 1).ok()?)?;
                (
                    self.scheme(*s as u64)?,
                    std::str::from_utf8(&b[r.clone()]).ok()?,
                )
            } else {
                let s = c.varint()?;
                (self.scheme(s)?, c.str_of_len(tag >> 1)?)
            };
            labels.push(LabelRef { scheme, value });
        }
        Some(EntryMeta {
            id,
            source,
            labels,
            note,
        })
    }

    /// Reads one version-1 record at the cursor; `None` if it is corrupt.
    fn parse_record_v1<'s>(&'s self, c: &mut Cursor<'s>) -> Option<EntryMeta<'s>> {
        let source = u32::try_from(c.varint()?).ok()?;
        let id = c.str()?;
        let note = c.str()?;
        let n = c.varint()?;
        // Each label takes at least 2 bytes: a bound before allocating.
        if n > (c.buf.len() - c.pos) as u64 / 2 {
            return None;
        }
        let mut labels = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let scheme = self.scheme(c.varint()?)?;
            let value = c.str()?;
            labels.push(LabelRef { scheme, value });
        }
        Some(EntryMeta {
            id: Cow::Borrowed(id),
            source,
            labels,
            note,
        })
    }

    /// Calls `f` with every entry of `range` in order, reading version-2 records sequentially
    /// (where [`HashSet::entry`] would skip from the sample before each one).
    pub fn for_each_entry(
        &self,
        range: Range<usize>,
        mut f: impl FnMut(usize, EntryMeta<'_>) -> Result<()>,
    ) -> Result<()> {
        if range.end > self.count {
            return Err(Error::InvalidArgument(format!(
                "entries {range:?} of a set of {}",
                self.count
            )));
        }
        if range.is_empty() {
            return Ok(());
        }
        let Records::Sampled { samples, stride } = &self.records else {
            for i in range {
                f(i, self.entry(i)?)?;
            }
            return Ok(());
        };
        let b = self.bytes();
        let data = &b[self.data.clone()];
        let corrupt = |i: usize| self.invalid(format!("entry {i}: metadata record corrupt"));
        let first = range.start;
        let mut c = Cursor {
            buf: data,
            pos: usize::try_from(le64(b, samples.start + 8 * (first / stride)))
                .ok()
                .filter(|&o| o < data.len())
                .ok_or_else(|| corrupt(first))?,
        };
        for _ in 0..first % stride {
            self.skip_record(&mut c).ok_or_else(|| corrupt(first))?;
        }
        for i in range {
            // Each sample must be where the walk arrives, or `entry` would read another record.
            if i % stride == 0 && le64(b, samples.start + 8 * (i / stride)) != c.pos as u64 {
                return Err(self.invalid(format!(
                    "record index: sample {} does not point at entry {i}'s record",
                    i / stride
                )));
            }
            let e = self.parse_record(&mut c).ok_or_else(|| corrupt(i))?;
            f(i, e)?;
        }
        Ok(())
    }

    /// The build provenance (parsed from its JSON section on each call).
    pub fn provenance(&self) -> Result<Provenance> {
        let b = self
            .section(SectionKind::Provenance)
            .expect("checked at open");
        serde_json::from_slice(b).map_err(|e| self.invalid(format!("provenance: {e}")))
    }

    /// The bytes of a section, if the set has it.
    pub fn section(&self, kind: SectionKind) -> Option<&[u8]> {
        let s = self.sections.iter().find(|s| s.kind == kind)?;
        Some(&self.bytes()[s.range()])
    }

    /// A section as `u32`s (an error if its length is not a multiple of 4).
    pub fn section_u32(&self, kind: SectionKind) -> Result<Option<&[u32]>> {
        match self.section(kind) {
            None => Ok(None),
            Some(b) => bytemuck::try_cast_slice(b)
                .map(Some)
                .map_err(|e| self.invalid(format!("section {kind:?} is not a u32 array: {e:?}"))),
        }
    }

    /// The kinds of sections present, in file order.
    pub fn section_kinds(&self) -> Vec<SectionKind> {
        self.sections.iter().map(|s| s.kind).collect()
    }

    /// Full check: every section's CRC-32, zero padding, digest order, the multi-index tables,
    /// every entry's metadata and the provenance JSON. Reads the whole file.
    pub fn verify(&self) -> Result<()> {
        let b = self.bytes();
        let mut prev_end = HEADER_LEN + SECTION_ENTRY_LEN * self.sections.len();
        for s in &self.sections {
            if b[prev_end..s.offset].iter().any(|&x| x != 0) {
                return Err(self.invalid(format!("non-zero padding before section {:?}", s.kind)));
            }
            if crc32fast::hash(&b[s.range()]) != s.crc {
                return Err(self.invalid(format!(
                    "section {:?} checksum mismatch (corrupted data)",
                    s.kind
                )));
            }
            prev_end = s.offset + s.len;
        }
        let words = self.words();
        let w = self.words;
        for i in 1..self.count {
            if words[(i - 1) * w..i * w] > words[i * w..(i + 1) * w] {
                return Err(self.invalid(format!("digests out of order at entry {i}")));
            }
        }
        // Removals are binary-searched: strictly increasing, or a lookup could miss one.
        let r = self.removal_words();
        for i in 1..r.len() / w {
            if r[(i - 1) * w..i * w] >= r[i * w..(i + 1) * w] {
                return Err(self.invalid(format!("removals out of order at {i}")));
            }
        }
        if self.is_layer() {
            self.layer_info()?;
        }
        if let Some(mih) = self.stored_index()? {
            mih.validate(self.words())
                .map_err(|e| self.invalid(e.to_string()))?;
        }
        let prov = self.provenance()?;
        self.for_each_entry(0..self.count, |i, e| {
            if e.source as usize >= prov.sources.len() {
                return Err(self.invalid(format!(
                    "entry {i} names source {} of {}",
                    e.source,
                    prov.sources.len()
                )));
            }
            Ok(())
        })?;
        // Version 2 stores records back to back in entry order: nothing may follow the last.
        if let Records::Sampled { .. } = self.records {
            let mut end = 0usize;
            if self.count > 0 {
                // The last record's end: walk from the last sample.
                let b = self.bytes();
                let data = &b[self.data.clone()];
                let last = self.count - 1;
                let Records::Sampled { samples, stride } = &self.records else {
                    unreachable!()
                };
                let mut c = Cursor {
                    buf: data,
                    pos: le64(b, samples.start + 8 * (last / stride)) as usize,
                };
                for _ in 0..=last % stride {
                    self.skip_record(&mut c)
                        .ok_or_else(|| self.invalid("record walk failed".into()))?;
                }
                end = c.pos;
            }
            if end != self.data.len() {
                return Err(self.invalid(format!(
                    "{} bytes of entry records, the {} entries use {end}",
                    self.data.len(),
                    self.count
                )));
            }
        }
        Ok(())
    }
}

/// First index in `0..n` where `pred` is false (pred true on a prefix).
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn invalid(path: &Path, reason: String) -> Error {
    Error::InvalidSet {
        path: path.to_path_buf(),
        reason,
    }
}
