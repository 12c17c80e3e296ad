//! Arbitrary bytes as an ext2/3/4 volume: every file, stream and deleted file read to its end.
#![no_main]

#[path = "../container_checks.rs"]
mod container_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| container_checks::file_system(nearmatch_scan::disk::FsKind::Ext, data));
