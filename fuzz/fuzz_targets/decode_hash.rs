//! Arbitrary bytes through format sniffing, decoding and every perceptual + crypto hash.
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::decode_hash(data));
