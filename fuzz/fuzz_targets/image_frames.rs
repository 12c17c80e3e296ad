//! Arbitrary bytes as an image's previews and frames: the EXIF thumbnail, and every frame of an
//! animated GIF, APNG or WebP.
#![no_main]

#[path = "../container_checks.rs"]
mod container_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| container_checks::image_frames(data));
