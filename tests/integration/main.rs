//! Integration tests: drive the `nearmatch` binary on fixtures and generated evidence trees.

mod common;
mod hash;
mod set;
