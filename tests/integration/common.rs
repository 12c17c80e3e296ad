//! Shared helpers for the integration tests.

use std::path::PathBuf;

use serde_json::Value;

/// The repository root (where `fixtures/` lives).
#[allow(dead_code)] // not every test module needs it
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `nearmatch` command ready to run.
pub fn nearmatch() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("nearmatch").expect("the nearmatch binary is built")
}

/// A JSON Lines scan report split into its header, file records and summary.
pub struct Report {
    /// The header record.
    pub header: Value,
    /// Every record between header and summary, in order.
    pub files: Vec<Value>,
    /// The summary record.
    pub summary: Value,
}

/// Parses a JSON Lines scan report, checking that it opens with the header and ends with the
/// summary.
pub fn parse(text: &str) -> Report {
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs[0]["record"], "header");
    assert_eq!(recs.last().unwrap()["record"], "summary");
    Report {
        header: recs[0].clone(),
        files: recs[1..recs.len() - 1].to_vec(),
        summary: recs.last().unwrap().clone(),
    }
}

/// SplitMix64: deterministic test data without an RNG crate.
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random 256-bit digest from the generator.
pub fn random_digest(st: &mut u64) -> nearmatch::Digest256 {
    nearmatch::Digest256::from_words([splitmix(st), splitmix(st), splitmix(st), splitmix(st)])
}

/// `d` with `n` distinct bits flipped.
pub fn flip_bits(d: nearmatch::Digest256, n: usize, st: &mut u64) -> nearmatch::Digest256 {
    let mut out = d;
    let mut flipped = std::collections::BTreeSet::new();
    while flipped.len() < n {
        flipped.insert((splitmix(st) % 256) as usize);
    }
    for k in flipped {
        out.set_bit(k, !out.bit(k));
    }
    out
}
