//! Shared helpers for the integration tests.

use std::path::PathBuf;

/// The repository root (where `fixtures/` lives).
#[allow(dead_code)] // not every test module needs it
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `nearmatch` command ready to run.
pub fn nearmatch() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("nearmatch").expect("the nearmatch binary is built")
}
