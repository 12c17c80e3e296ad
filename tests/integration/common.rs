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
