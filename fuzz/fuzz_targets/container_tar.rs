//! Arbitrary bytes as a tar stream, bare or compressed (the first byte picks gzip, bzip2, xz,
//! zstd or none): every member read, nested containers expanded.
#![no_main]

#[path = "../container_checks.rs"]
mod container_checks;

use nearmatch_scan::container::ContainerKind;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let kind = [
        ContainerKind::Tar,
        ContainerKind::Gzip,
        ContainerKind::Bzip2,
        ContainerKind::Xz,
        ContainerKind::Zstd,
    ][pick as usize % 5];
    container_checks::container(kind, rest)
});
