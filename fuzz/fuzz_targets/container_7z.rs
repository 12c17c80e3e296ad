//! Arbitrary bytes as a 7z archive: every member read, nested containers expanded.
#![no_main]

#[path = "../container_checks.rs"]
mod container_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    container_checks::container(nearmatch_scan::container::ContainerKind::SevenZip, data)
});
