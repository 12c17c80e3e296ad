//! Arbitrary bytes as a PDF: every image XObject read, raw images rebuilt into pixels.
#![no_main]

#[path = "../container_checks.rs"]
mod container_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    container_checks::container(nearmatch_scan::container::ContainerKind::Pdf, data)
});
