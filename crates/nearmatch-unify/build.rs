//! Empty: it only makes cargo build this crate's build dependencies (see Cargo.toml).

fn main() {}
