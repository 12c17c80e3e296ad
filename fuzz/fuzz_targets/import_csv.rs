//! Arbitrary bytes through the Csv list importer (format forced, as with `--format`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::import(data, nearmatch::import::Format::Csv));
