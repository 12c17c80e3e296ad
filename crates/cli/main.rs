//! The `nearmatch` command-line tool.
fn main() {
    println!("nearmatch {}", env!("CARGO_PKG_VERSION"));
}
