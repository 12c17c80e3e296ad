//! Sharding a set by digest prefix, for searching it across several machines.
//!
//! [`shard_set`] cuts a set into `K` (a power of two) ordinary, complete set files: shard `i`
//! holds the entries whose digest's top `log2 K` bits, read as an unsigned integer, equal `i`.
//! Entries are stored sorted by digest, so each shard is a contiguous range of the set's entries
//! and the split is one pass over the set, one shard after another, each through a
//! [`SetWriter`] with the caller's memory budget (so memory stays bounded whatever the size).
//! Each shard keeps its entries' metadata, the set's sources and its own multi-index, and its
//! entries keep their order: entry `j` of shard `i` is entry `first_entry + j` of the set, so a
//! sharded search reports the same entry numbers as a search of the whole set.
//!
//! Beside the shards a JSON manifest ([`ShardManifest`], `shards.json`) names the algorithm,
//! `K`, the prefix rule, each shard's file name, entry count, first entry, size, header CRC-32
//! and SHA-256, and the identity of the set they were cut from. [`ShardManifest::open_shard`]
//! checks a shard against it before use.
//!
//! What the prefix buys depends on the search: an exact (MD5/SHA-1/SHA-256) lookup needs only
//! the shard its prefix names; a Hamming-radius (PDQ) search must ask every shard, since a
//! near neighbour can differ in the leading bits ([`ShardManifest::shard_of`]).
//!
//! Why a prefix and not a hash of the digest: the digests are already uniform (cryptographic
//! digests by construction, perceptual ones close to it), and a prefix keeps each shard a
//! contiguous, already-sorted range, so cutting needs no sort.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::reader::HashSet;
use super::writer::{rfc3339_utc, SetWriter, DEFAULT_MEMORY_BUDGET};
use crate::error::{Error, Result};

/// The manifest's file name in a shard directory.
pub const MANIFEST_NAME: &str = "shards.json";
/// The manifest format this build writes and reads.
pub const MANIFEST_VERSION: u32 = 1;
/// The most shards a set is cut into (16 prefix bits).
pub const MAX_SHARDS: u32 = 1 << 16;
/// The prefix rule, spelled out in every manifest for whoever reads it without this code.
pub const PREFIX_RULE: &str = "shard i holds the entries whose digest's first prefix_bits bits \
(most significant first), read as an unsigned integer, equal i";

/// In a shard's provenance: the set it was cut from and which part it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardOf {
    /// The source set's file name.
    pub set: String,
    /// The source set's SHA-256.
    pub set_sha256: String,
    /// The source set's entry count.
    pub set_entries: u64,
    /// This shard's number.
    pub index: u32,
    /// How many shards the set was cut into.
    pub shards: u32,
    /// Leading digest bits that pick the shard (`log2 shards`).
    pub prefix_bits: u32,
    /// The source set's entry number of this shard's entry 0.
    pub first_entry: u64,
}

/// The set the shards were cut from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSource {
    /// Its path when sharded.
    pub path: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its entry count.
    pub entries: u64,
    /// Its build time (from its provenance).
    pub built_utc: String,
    /// Its header CRC-32.
    pub header_crc32: u32,
}

/// One shard file of a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardFile {
    /// Its number (its digest prefix).
    pub index: u32,
    /// Its file name, in the manifest's directory.
    pub file: String,
    /// Its entry count.
    pub entries: u64,
    /// The source set's entry number of its entry 0.
    pub first_entry: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its header CRC-32 (covers every section's CRC-32).
    pub header_crc32: u32,
    /// Its SHA-256.
    pub sha256: String,
}

/// `shards.json`: what [`shard_set`] wrote and how to check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Always `"nearmatch-shards"`.
    pub kind: String,
    /// [`MANIFEST_VERSION`].
    pub version: u32,
    /// The tool that wrote it.
    pub tool: String,
    /// When, UTC.
    pub created_utc: String,
    /// The algorithm of every shard.
    pub algorithm: String,
    /// Its digest width in bits.
    pub bits: u32,
    /// Its default match radius (a searcher without the shards at hand needs it).
    pub default_radius: u32,
    /// How many shards (a power of two).
    pub shards: u32,
    /// Leading digest bits that pick the shard (`log2 shards`).
    pub prefix_bits: u32,
    /// [`PREFIX_RULE`].
    pub rule: String,
    /// Entries in all shards together (the source set's count).
    pub entries: u64,
    /// The set the shards were cut from.
    pub source: ShardSource,
    /// The shards, by index.
    pub files: Vec<ShardFile>,
}

/// How much of a shard [`ShardManifest::open_shard`] checks against the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardCheck {
    /// Size, header CRC-32 (so every section's CRC-32), algorithm and entry count: O(1).
    Header,
    /// As `Header`, plus the SHA-256 of the whole file (reads it once, which also warms the
    /// page cache a search is about to need).
    Sha256,
}

/// SHA-256 (lower-case hex) of a file, streamed.
pub fn file_sha256(path: &Path) -> Result<String> {
    let ioe = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = File::open(path).map_err(ioe)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ioe(e)),
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// The shard a digest (packed words, word 0 most significant) belongs to.
fn prefix_of(words: &[u64], prefix_bits: u32) -> u32 {
    if prefix_bits == 0 {
        0
    } else {
        (words[0] >> (64 - prefix_bits)) as u32
    }
}

/// The entry ranges of the `shards` prefixes of a sorted set: shard `i` is
/// `bounds[i]..bounds[i + 1]`.
fn shard_bounds(set: &HashSet, prefix_bits: u32, shards: u32) -> Vec<usize> {
    let words = set.words();
    let w = set.words_per_digest();
    let mut bounds = Vec::with_capacity(shards as usize + 1);
    for i in 0..shards {
        // First entry whose prefix is >= i (a binary search: the digests are sorted).
        let (mut lo, mut hi) = (0usize, set.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if prefix_of(&words[mid * w..mid * w + w], prefix_bits) < i {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        bounds.push(lo);
    }
    bounds.push(set.len());
    bounds
}

/// The file name of shard `index` of `shards`: `shard-02-of-16.nmset`.
pub fn shard_file_name(index: u32, shards: u32) -> String {
    let width = shards.to_string().len();
    format!("shard-{index:0width$}-of-{shards:0width$}.nmset")
}

/// Cuts `set` into `shards` shard files and a [`MANIFEST_NAME`] in `out_dir` (created if
/// missing), each shard built within `memory_budget` bytes (default
/// [`DEFAULT_MEMORY_BUDGET`]). Files are written atomically; the manifest last, so a directory
/// with a manifest has every shard it names.
///
/// `shards` must be a power of two in `1..=MAX_SHARDS` with at most as many prefix bits as the
/// digests have; a delta layer is refused (fold its stack with `set compact` first: a shard of a
/// delta would miss the base and its removals).
pub fn shard_set(
    set: &HashSet,
    out_dir: impl AsRef<Path>,
    shards: u32,
    memory_budget: Option<usize>,
) -> Result<ShardManifest> {
    let out_dir = out_dir.as_ref();
    if set.is_layer() {
        return Err(set.invalid(
            "a delta layer cannot be sharded: fold its stack into one set first \
             (`nearmatch set compact TOP -o flat.nmset`), then shard that"
                .into(),
        ));
    }
    if shards == 0 || !shards.is_power_of_two() || shards > MAX_SHARDS {
        return Err(Error::InvalidArgument(format!(
            "the shard count must be a power of two from 1 to {MAX_SHARDS}, got {shards}"
        )));
    }
    let prefix_bits = shards.trailing_zeros();
    if prefix_bits as usize > set.bits() {
        return Err(Error::InvalidArgument(format!(
            "{shards} shards need {prefix_bits} prefix bits, {} digests have {}",
            set.algorithm(),
            set.bits()
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(|source| Error::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let prov = set.provenance()?;
    let set_name = set
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let set_sha = file_sha256(set.path())?;
    let bounds = shard_bounds(set, prefix_bits, shards);
    let now = SystemTime::now();
    let mut files = Vec::with_capacity(shards as usize);
    for i in 0..shards {
        let range = bounds[i as usize]..bounds[i as usize + 1];
        let name = shard_file_name(i, shards);
        let path = out_dir.join(&name);
        let mut w = SetWriter::create(&path, set.algorithm())?;
        w.set_memory_budget(memory_budget.unwrap_or(DEFAULT_MEMORY_BUDGET));
        w.set_build_time(now);
        w.set_shard_of(ShardOf {
            set: set_name.clone(),
            set_sha256: set_sha.clone(),
            set_entries: set.len() as u64,
            index: i,
            shards,
            prefix_bits,
            first_entry: range.start as u64,
        });
        w.add_entries(set, prov.clone(), range.clone())?;
        let summary = w.finish()?;
        if summary.entries != range.len() as u64 {
            // Only an identical record twice in the source could do this, which no writer makes.
            return Err(set.invalid(format!(
                "shard {i}: {} of its {} entries were written (duplicate records in the set?)",
                summary.entries,
                range.len()
            )));
        }
        let shard = HashSet::open(&path)?;
        files.push(ShardFile {
            index: i,
            file: name,
            entries: summary.entries,
            first_entry: range.start as u64,
            bytes: shard.file_len(),
            header_crc32: shard.header_crc(),
            sha256: file_sha256(&path)?,
        });
    }
    let manifest = ShardManifest {
        kind: "nearmatch-shards".into(),
        version: MANIFEST_VERSION,
        tool: concat!("nearmatch ", env!("CARGO_PKG_VERSION")).to_string(),
        created_utc: rfc3339_utc(now),
        algorithm: set.algorithm().name().to_string(),
        bits: set.bits() as u32,
        default_radius: set.algorithm().default_radius(),
        shards,
        prefix_bits,
        rule: PREFIX_RULE.into(),
        entries: set.len() as u64,
        source: ShardSource {
            path: set.path().display().to_string(),
            sha256: set_sha,
            bytes: set.file_len(),
            entries: set.len() as u64,
            built_utc: prov.built_utc,
            header_crc32: set.header_crc(),
        },
        files,
    };
    let path = out_dir.join(MANIFEST_NAME);
    let ioe = |source| Error::Io {
        path: path.clone(),
        source,
    };
    let mut tmp = tempfile::NamedTempFile::new_in(out_dir).map_err(ioe)?;
    let mut json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    json.push(b'\n');
    tmp.write_all(&json).map_err(ioe)?;
    tmp.as_file().sync_all().map_err(ioe)?;
    tmp.persist(&path).map_err(|e| ioe(e.error))?;
    Ok(manifest)
}

impl ShardManifest {
    /// Reads and checks a manifest: its kind and version, a power-of-two shard count matching
    /// the prefix bits, one plain file name per shard in order, first entries that add up.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bad = |reason: String| Error::InvalidSet {
            path: path.to_path_buf(),
            reason: format!("shard manifest: {reason}"),
        };
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let m: ShardManifest =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("not a manifest: {e}")))?;
        if m.kind != "nearmatch-shards" {
            return Err(bad(format!(
                "kind {:?}, expected \"nearmatch-shards\"",
                m.kind
            )));
        }
        if m.version != MANIFEST_VERSION {
            return Err(bad(format!(
                "version {} (this nearmatch reads {MANIFEST_VERSION})",
                m.version
            )));
        }
        let algo: crate::hash::Algorithm = m
            .algorithm
            .parse()
            .map_err(|_| bad(format!("unknown algorithm {:?}", m.algorithm)))?;
        if m.bits as usize != algo.bits() {
            return Err(bad(format!("{} bits for algorithm {algo}", m.bits)));
        }
        if m.shards == 0
            || !m.shards.is_power_of_two()
            || m.shards > MAX_SHARDS
            || m.prefix_bits != m.shards.trailing_zeros()
            || m.prefix_bits as usize > algo.bits()
        {
            return Err(bad(format!(
                "{} shards with {} prefix bits",
                m.shards, m.prefix_bits
            )));
        }
        if m.files.len() != m.shards as usize {
            return Err(bad(format!(
                "{} shard files for {} shards",
                m.files.len(),
                m.shards
            )));
        }
        let mut next = 0u64;
        for (i, f) in m.files.iter().enumerate() {
            // A plain name in the manifest's directory: a manifest must not point elsewhere.
            let plain = Path::new(&f.file)
                .file_name()
                .is_some_and(|n| n == std::ffi::OsStr::new(&f.file));
            if f.index as usize != i || !plain || f.file.starts_with('.') {
                return Err(bad(format!(
                    "shard {i}: index {} / file {:?} (expected index {i} and a plain file name)",
                    f.index, f.file
                )));
            }
            if f.first_entry != next {
                return Err(bad(format!(
                    "shard {i} starts at entry {}, the shards before it end at {next}",
                    f.first_entry
                )));
            }
            next += f.entries;
        }
        if next != m.entries {
            return Err(bad(format!(
                "shards hold {next} entries, the manifest says {}",
                m.entries
            )));
        }
        Ok(m)
    }

    /// The shard an exact lookup of `digest` (big-endian bytes) needs: the one its leading
    /// [`Self::prefix_bits`] bits name. (A Hamming-radius search needs every shard.)
    pub fn shard_of(&self, digest: &[u8]) -> u32 {
        let mut b = [0u8; 8];
        let n = digest.len().min(8);
        b[..n].copy_from_slice(&digest[..n]);
        prefix_of(&[u64::from_be_bytes(b)], self.prefix_bits)
    }

    /// Opens shard `index`, found next to the manifest at `manifest_path`, after checking it
    /// against the manifest (`check`); a mismatch is an [`Error::InvalidSet`] naming the shard
    /// file, what differs and the manifest.
    pub fn open_shard(
        &self,
        manifest_path: impl AsRef<Path>,
        index: u32,
        check: ShardCheck,
    ) -> Result<HashSet> {
        let manifest_path = manifest_path.as_ref();
        let f = self.files.get(index as usize).ok_or_else(|| {
            Error::InvalidArgument(format!("shard {index} of a manifest of {}", self.shards))
        })?;
        let path = shard_dir(manifest_path).join(&f.file);
        let mismatch = |what: String| Error::InvalidSet {
            path: path.clone(),
            reason: format!(
                "does not match shard {index} of {}: {what} (re-copy the shard, or re-run \
                 `nearmatch set shard`)",
                manifest_path.display()
            ),
        };
        let len = std::fs::metadata(&path)
            .map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?
            .len();
        if len != f.bytes {
            return Err(mismatch(format!(
                "{len} bytes, the manifest says {}",
                f.bytes
            )));
        }
        let set = HashSet::open(&path)?;
        if set.algorithm().name() != self.algorithm {
            return Err(mismatch(format!(
                "a {} set, the manifest says {}",
                set.algorithm(),
                self.algorithm
            )));
        }
        if set.len() as u64 != f.entries || set.header_crc() != f.header_crc32 {
            return Err(mismatch(format!(
                "{} entries and header CRC-32 {:08x}, the manifest says {} and {:08x}",
                set.len(),
                set.header_crc(),
                f.entries,
                f.header_crc32
            )));
        }
        if check == ShardCheck::Sha256 {
            let sha = file_sha256(&path)?;
            if sha != f.sha256 {
                return Err(mismatch(format!(
                    "SHA-256 {sha}, the manifest says {}",
                    f.sha256
                )));
            }
        }
        Ok(set)
    }

    /// Where shard `index` is (its file name in the manifest's directory), if it exists.
    pub fn shard_path(&self, manifest_path: &Path, index: u32) -> Option<PathBuf> {
        let f = self.files.get(index as usize)?;
        Some(shard_dir(manifest_path).join(&f.file))
    }
}

/// The directory a manifest's shard names are relative to: its own.
fn shard_dir(manifest_path: &Path) -> PathBuf {
    match manifest_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}
