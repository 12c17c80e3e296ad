//! What each fuzz target checks, shared with the regression test
//! (`crates/nearmatch/tests/fuzz_corpus.rs`), which replays every seed and every input the
//! fuzzers ever found through these same functions on each `cargo test`.
//!
//! Errors are fine (arbitrary bytes are mostly invalid); panics, hangs, out-of-bounds reads and
//! allocations past the limits are the bugs.

// Each target uses one of these; the regression test uses all.
#![allow(dead_code)]

use nearmatch::decode::Limits;
use nearmatch::hash::file::{hash_bytes, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch::hashset::HashSet;
use nearmatch::import::{import_reader, Format, ImportOptions, MemorySink};
use nearmatch::search::{Engine, Queries};

/// Sniffs, decodes and hashes `data` with every perceptual hash, the dihedrals and MD5.
///
/// Limits are lowered from the defaults so libFuzzer's 2 GiB RSS cap measures our accounting, not
/// a legitimate large image: any allocation far past them is a bug the fuzzer should report.
pub fn decode_hash(data: &[u8]) {
    let opts = HashOptions {
        limits: Limits {
            max_width: 8192,
            max_height: 8192,
            max_pixels: 16_000_000,
            max_alloc_bytes: 256 << 20,
        },
        pdq_dihedral: true,
        ..HashOptions::default()
    };
    let algos = [
        Algorithm::Pdq,
        Algorithm::Phash,
        Algorithm::Dhash,
        Algorithm::Ahash,
        Algorithm::Whash,
        Algorithm::Md5,
    ];
    let h = hash_bytes(data, &algos, &opts);
    assert!(
        h.crypto.is_some(),
        "MD5 requested, so the crypto hashes are always there"
    );
    // An image either has every requested perceptual hash or says why it has none.
    if h.image_error.is_none() {
        assert_eq!(h.perceptual.len(), 5);
        assert!(h.pdq_quality.is_some_and(|q| q <= 100));
        assert!(h.pdq_dihedral.is_some());
    } else {
        assert!(h.perceptual.is_empty());
    }
}

/// Imports `data` as `format` (forced, as `--format` does) for a perceptual and an exact
/// algorithm, strict and not, and checks the report's accounting.
pub fn import(data: &[u8], format: Format) {
    for algorithm in [Algorithm::Pdq, Algorithm::Md5, Algorithm::Phash] {
        for strict in [false, true] {
            let mut opts = ImportOptions::new(algorithm);
            opts.format = Some(format);
            opts.strict = strict;
            let mut sink = MemorySink::default();
            if let Ok(report) = import_reader(data, "fuzz.list", &opts, &mut sink) {
                assert_eq!(report.imported, sink.records.len() as u64);
                assert_eq!(report.bytes, data.len() as u64);
                if strict {
                    assert_eq!(report.rejected_total(), 0, "strict import kept a reject");
                }
            }
        }
    }
}

/// Opens `data` as a hash-set file; whatever `from_bytes` accepts must be safe to use in every
/// way a caller can: entries, metadata, provenance, the stored multi-index, radius and k-NN search.
pub fn hashset_open(data: &[u8]) {
    let Ok(set) = HashSet::from_bytes(data, "fuzz.nmset") else {
        return;
    };
    let _ = set.verify();
    let _ = set.provenance();
    for i in 0..set.len().min(16) {
        let _ = set.entry(i);
        let _ = set.digest_hex(i);
    }
    assert!(set.entry(set.len()).is_err());
    if let Some(bytes) = set.digest_bytes(0) {
        let _ = set.lookup_exact(&bytes);
    }
    let wpd = set.words_per_digest();
    let Ok(searcher) = set.searcher() else {
        return;
    };
    // Queries: the first entries themselves and their complements.
    let mut words: Vec<u64> = set.words().iter().take(4 * wpd).copied().collect();
    words.extend(set.words().iter().take(4 * wpd).map(|w| !w));
    if words.is_empty() {
        words = vec![0; wpd.max(1)];
    }
    if let Ok(q) = Queries::single(&words, wpd) {
        for engine in [Engine::Auto, Engine::Scan, Engine::Mih] {
            for r in [0, 8, 31] {
                let _ = searcher.radius_search(&q, r, engine);
            }
        }
        let _ = searcher.knn(&q, 3);
    }
}
