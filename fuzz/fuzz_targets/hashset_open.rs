//! Arbitrary bytes opened as a hash-set file, then read, verified and searched.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::hashset_open(data));
