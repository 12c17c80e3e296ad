//! Arbitrary bytes as a whole disk: MBR (extended partitions too) and GPT tables, `probe`, and the
//! file system of every recognised partition read to its end.
#![no_main]

#[path = "../container_checks.rs"]
mod container_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| container_checks::disk_volumes(data));
