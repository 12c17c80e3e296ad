//! The on-disk hash-set file: format, writer and memory-mapped reader.
//!
//! A set is built once ([`SetWriter`]) from any number of lists and opened in O(1) by every
//! process that searches it ([`HashSet::open`]). Opening validates the header, the section
//! table and every offset, length and alignment against the file size, then parses nothing:
//! the digests, the search indexes and the metadata are used in place.
//!
//! # File format, version 2
//!
//! (Version 1, written by builds before it, differs only where noted: an `EntryOffsets`
//! section instead of `RecordIndex`, records in any order and in the version-1 layout, no
//! `LabelValues` or `Notes`. This build reads both.)
//!
//! All integers are little-endian. Offsets are from the start of the file.
//!
//! Header (64 bytes):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 8  | magic `89 4E 4D 53 45 54 0D 0A` (`\x89NMSET\r\n`: a text-mode transfer or a 7-bit channel breaks it) |
//! | 8  | 4  | format version, `u32` = 2 (or 1; checked before anything else, so a newer file is a clear error) |
//! | 12 | 4  | header size `u32` = 64 + 32 × section count |
//! | 16 | 16 | algorithm name, ASCII, NUL-padded (`pdq`, `phash`, `md5`, … as [`Algorithm::name`]) |
//! | 32 | 4  | digest width in bits, `u32` (must equal the algorithm's) |
//! | 36 | 4  | `u64` words per digest, `u32` = ceil(bits / 64) |
//! | 40 | 8  | entry count, `u64` |
//! | 48 | 4  | section count, `u32` (1..=64) |
//! | 52 | 4  | flags, `u32`: 0, or bit 0 ([`FLAG_LAYER`]) for a delta layer, which must then have the `Layer` and `Removals` sections (builds before layers refuse any flag, so they cannot search a delta alone and miss its base) |
//! | 56 | 4  | reserved, must be 0 |
//! | 60 | 4  | CRC-32 of bytes 0..60 followed by the section table |
//!
//! Section table (at 64, 32 bytes per section, in increasing offset order):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0  | 4 | kind, `u32` ([`SectionKind`]) |
//! | 4  | 4 | reserved, must be 0 |
//! | 8  | 8 | offset, `u64`, a multiple of 64 |
//! | 16 | 8 | length in bytes, `u64` |
//! | 24 | 4 | CRC-32 of the section's bytes |
//! | 28 | 4 | reserved, must be 0 |
//!
//! The first section starts at the header size rounded up to 64; sections do not overlap; the
//! gaps between them are zero bytes (< 64 of them); the file ends where the last section ends.
//! Each kind appears at most once; unknown kinds are kept and checksummed but not interpreted.
//!
//! Sections:
//!
//! | kind | name | content |
//! |-----:|------|---------|
//! | 1 | `Digests` | `count × words` `u64`, one digest after another; word 0 is the most significant 64 bits (as in [`crate::digest::Digest`]); the 128- and 160-bit crypto digests are zero-padded on the right to 2 and 3 words. Entries are sorted by digest (then by input order), so [`HashSet::lookup_exact`] is a binary search |
//! | 2 | `EntryOffsets` | version 1 only: `count × u64`: where entry *i*'s record starts in `EntryData` |
//! | 3 | `EntryData` | entry records, back to back in entry order (empty when `RecordIndex` is uniform). Varints are unsigned LEB128. Each record: source index (varint); flags (varint: bit 2 set when there is a note, bits 0–1 the label count, 3 meaning "3 + the varint that follows"); the id tag (varint): odd, the id is the decimal string of tag >> 1 (ids that are canonical decimal numbers below 2^63: no sign, no leading zero), even, tag >> 1 bytes of UTF-8 follow (0: no id); if flagged, the note tag: odd, note number tag >> 1 of `Notes`, even, tag >> 1 bytes of UTF-8 follow; per label its tag: odd, value number tag >> 1 of `LabelValues` (which names its scheme), even, the scheme index into `Schemes` (varint) then tag >> 1 bytes of UTF-8. Version 1 records, in any order and found through `EntryOffsets`: source index, id (varint length + UTF-8), note (likewise), label count, then per label the scheme index and the value (varint length + UTF-8) |
//! | 4 | `Schemes` | label scheme names: `u32` n, then n `u32` end offsets, then the UTF-8 bytes of the n names back to back |
//! | 5 | `Provenance` | UTF-8 JSON ([`Provenance`]): tool, UTC build time, every source list's name, SHA-256, size, format, imported and rejected-by-reason counts |
//! | 6 | `Layer` | delta layers only: UTF-8 JSON ([`LayerInfo`]): the parent's file name and identity (algorithm, entries, build time, size, header CRC-32), depth, removal bookkeeping ([`layers`]) |
//! | 7 | `Removals` | delta layers only: the digests removed from the layers below, packed like `Digests`, strictly increasing |
//! | 8 | `Compacted` | sets folded from a stack ([`LayeredSet::compact`]): UTF-8 JSON ([`CompactedFrom`]), every layer's path, identity, hidden count and provenance |
//! | 9 | `RecordIndex` | version 2: `u32` mode, then for mode 0 (sampled) `u32` stride *s* (64) and `ceil(count / s) × u64`: where record *k·s* starts in `EntryData` (record *i* is found by stepping over the *i* mod *s* records after sample ⌊*i*/*s*⌋); for mode 1 (uniform) `u32` source: every entry has no id, note or label and comes from that source, and `EntryData` is empty (a plain list costs nothing per entry beyond its digest) |
//! | 10 | `LabelValues` | version 2: label values stored once: `u32` n, n `u32` scheme indexes into `Schemes`, n `u32` end offsets, the UTF-8 bytes of the n values back to back. The writer interns the first 65,536 distinct (scheme, value) pairs (1 MiB of text at most) as they come; later new ones stay in their records |
//! | 11 | `Notes` | version 2: notes stored once, laid out as `Schemes` (same cap as `LabelValues`) |
//! | 16 | `MihParams` | multi-index hashing parameters (owned by [`crate::search`]) |
//! | 17 | `MihOffsets` | multi-index CSR bucket offsets, `u32` array |
//! | 18 | `MihIds` | multi-index CSR entry ids, `u32` array |
//!
//! Why these choices:
//! - **CRC-32** (via `crc32fast`, already in the build through the PNG decoder; SSE4.2 /
//!   PCLMULQDQ accelerated, ~10 GB/s here) rather than xxh3: its job is to catch storage and
//!   transfer corruption, not adversaries (the report records the SHA-256 of the whole set
//!   file for that), and CRC-32 *guarantees* detection of every error burst of up to 32 bits,
//!   so every single-byte change is caught, which a 64-bit non-linear hash only makes likely.
//! - **Sorted digests** for every algorithm: exact lookup is a binary search with no extra
//!   index, duplicates are adjacent, and the file is the same whatever the list order.
//! - **Metadata out of line** (sampled offsets + self-delimiting records): read lazily by
//!   entry index, only for hits, so stepping over up to 63 records costs nothing that shows
//!   (where an 8-byte offset per entry was a quarter of a 32-byte digest); scheme names
//!   (`vics-US`, `caid`) repeat on every entry and are interned, and so are label values and
//!   notes, up to a cap that bounds the writer's memory (a category column repeats a handful
//!   of values on millions of records). Numeric ids are numbers (`1234567`: 4 bytes, not 8),
//!   read back as the identical string. Records are written in entry order by carrying them
//!   through the build's external sort.
//!
//! # Duplicates
//!
//! Entries are records, not digests: two records with the same digest but different metadata
//! (the same image in two lists with different categories) are both kept, next to each other,
//! and a search reports both. A record identical in digest, id, labels and note to one already
//! in the set is a `duplicate` reject of the list it came from.
//!
//! # Layered updates
//!
//! A new list version can be a small delta set on top of the set it updates (additions, and
//! removals of digests from the layers below), searched with the base as one list through
//! [`LayeredSet`] and folded back with [`LayeredSet::compact`]: see [`layers`].
//!
//! # Sharding
//!
//! A set too large for one machine's memory is cut by digest prefix into ordinary set files,
//! one per worker, with a JSON manifest ([`shard_set`], [`ShardManifest`]): see [`shard`].
//!
//! # Example
//!
//! ```
//! use nearmatch::hash::Algorithm;
//! use nearmatch::hashset::{HashSet, SetWriter};
//! use nearmatch::import::{ImportRecord, Label, RecordSink};
//! # let dir = std::env::temp_dir().join(format!("nmdoc{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("known.nmset");
//! let mut w = SetWriter::create(&path, Algorithm::Md5).unwrap();
//! w.begin_source("list.txt");
//! w.push(ImportRecord {
//!     algorithm: Algorithm::Md5,
//!     digest: hex::decode("0123456789abcdef0123456789abcdef").unwrap(),
//!     id: "m1".into(),
//!     labels: vec![Label::new("caid", "A")],
//!     note: String::new(),
//!     line: 1,
//! }).unwrap();
//! w.finish().unwrap();
//!
//! let set = HashSet::read(&path).unwrap();
//! let hits = set.lookup_exact(&hex::decode("0123456789abcdef0123456789abcdef").unwrap());
//! assert_eq!(hits, 0..1);
//! assert_eq!(set.entry(0).unwrap().labels[0].scheme, "caid");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

mod dedup;
mod dict;
mod format;
mod index;
pub mod layers;
mod reader;
mod runs;
mod scratch;
pub mod shard;
pub mod vpdq;
mod writer;

#[cfg(test)]
mod compat_tests;
#[cfg(test)]
mod layer_tests;
#[cfg(test)]
mod record_tests;
#[cfg(test)]
mod tests;

pub use format::{SectionKind, FLAG_LAYER, FORMAT_VERSION, FORMAT_VERSION_1, MAGIC, RECORD_STRIDE};
pub use index::build_index_sections;
pub use layers::{
    CompactedFrom, CompactedLayer, DeltaSummary, DeltaWriter, LayerInfo, LayeredSearcher,
    LayeredSet, ParentRef, MAX_LAYERS,
};
pub use reader::{EntryMeta, HashSet, LabelRef};
pub use shard::{shard_set, ShardCheck, ShardManifest};
pub use writer::{merge, BuildSummary, MergedSet, Provenance, SetWriter, DEFAULT_MEMORY_BUDGET};

#[allow(unused_imports)] // linked from the docs above
use crate::hash::Algorithm;
