//! No code: this crate only pins the features of dependencies shared by the workspace's builds,
//! so `cargo test` and the Python module's build compile them once (see its `Cargo.toml`).
