//! What the container fuzz targets check, shared with the scan crate's regression test
//! (`crates/nearmatch-scan/tests/fuzz_corpus.rs`), which replays every seed and every input the
//! fuzzers found through these same functions on each `cargo test`.
//!
//! Errors are fine; panics, hangs, and memory past the limits are the bugs. Limits are lowered
//! from the defaults so libFuzzer's 2 GiB RSS cap measures our accounting.

#![allow(dead_code)]

use std::io::{Cursor, Read};

use nearmatch::decode::{self, Limits};
use nearmatch_scan::container::pdf::raster_image;
use nearmatch_scan::container::{
    animation_frames, exif_thumbnail, expand, is_animated, mpf_images, Budget, ContainerKind,
    ContainerLimits, Counted, MemberKind, Next,
};

fn limits() -> ContainerLimits {
    ContainerLimits {
        depth: 4,
        members: 10_000,
        expanded_bytes: 256 << 20,
        ratio: 200,
        member_bytes: 64 << 20,
        frames: 200,
    }
}

/// Expands `data` as a container of `kind`, reading every member through the budget (raw PDF
/// images are rebuilt into pixels), and expands members that are containers themselves.
pub fn container(kind: ContainerKind, data: &[u8]) {
    let limits = limits();
    let budget = Budget::new(limits, data.len() as u64);
    expand_in(kind, data, &budget, 1);
}

fn expand_in(kind: ContainerKind, data: &[u8], budget: &Budget, depth: u32) {
    if depth > budget.limits().depth {
        return;
    }
    let mut nested: Vec<(ContainerKind, Vec<u8>)> = Vec::new();
    let mut visit = |h: nearmatch_scan::container::MemberHeader, r: &mut dyn Read| -> Next {
        let mut bytes = Vec::new();
        let mut counted = Counted::new(r, budget, budget.limits().member_bytes);
        if let Err(e) = counted.read_to_end(&mut bytes) {
            return match counted.limit.take() {
                Some(l) => Next::Stop(l),
                None => {
                    let _ = e.to_string();
                    Next::Continue
                }
            };
        }
        match &h.kind {
            MemberKind::Raster(spec) => {
                let _ = raster_image(spec, &bytes);
            }
            MemberKind::File => {
                if let Some(k) = ContainerKind::sniff(&bytes[..bytes.len().min(1024)]) {
                    if nested.len() < 4 {
                        nested.push((k, bytes));
                    }
                } else {
                    image_frames(&bytes);
                }
            }
            _ => {}
        }
        Next::Continue
    };
    let _ = expand(
        kind,
        &mut Cursor::new(data),
        b"fuzz",
        budget.limits(),
        &mut visit,
    );
    for (k, bytes) in nested {
        expand_in(k, &bytes, budget, depth + 1);
    }
}

/// The previews and frames of an image file: its EXIF thumbnail, its MPF images, and every frame of an
/// animation up to the frames limit.
pub fn image_frames(data: &[u8]) {
    let _ = exif_thumbnail(data);
    let _ = mpf_images(data);
    let Some(format) = decode::sniff(data) else {
        return;
    };
    if !is_animated(format, data) {
        return;
    }
    let limits = Limits {
        max_width: 4096,
        max_height: 4096,
        max_pixels: 4_000_000,
        max_alloc_bytes: 64 << 20,
    };
    let mut left = 200u32;
    let _ = animation_frames(format, data, &limits, &mut |_, image| {
        let _ = image.width();
        left -= 1;
        if left == 0 {
            Next::Stop("frames".into())
        } else {
            Next::Continue
        }
    });
}

/// A medium holding `data`: a raw image in an unnamed temporary file (in `/dev/shm` where it
/// exists, so nothing reaches a disk), the way a scan opens an image file.
fn medium(data: &[u8]) -> nearmatch_scan::disk::Media {
    use std::io::Write;
    let mut f = tempfile::tempfile_in("/dev/shm")
        .or_else(|_| tempfile::tempfile())
        .expect("a temporary file");
    f.write_all(data).expect("the input written");
    nearmatch_scan::disk::Media::raw(f).expect("a raw medium")
}

/// `data` as a whole disk: the partition tables (MBR with its extended chain, GPT), then
/// `probe`, and every partition that starts with a file system read to its end as
/// [`file_system`] reads it. Partitions must lie inside the medium.
pub fn disk_volumes(data: &[u8]) {
    use nearmatch_scan::disk::{self, Layout};
    let media = std::sync::Arc::new(medium(data));
    if let Some((_, parts)) = disk::partitions(&media) {
        for p in &parts {
            assert!(
                p.offset
                    .checked_add(p.len)
                    .is_some_and(|e| e <= media.len()),
                "partition {} ({} + {}) outside the {}-byte medium",
                p.number,
                p.offset,
                p.len,
                media.len()
            );
        }
    }
    match disk::probe(&media) {
        Some(Layout::Partitioned(_, parts)) => {
            for p in parts.iter().take(8) {
                let mut head = vec![0u8; 2048.min(p.len as usize)];
                if media.read_exact_at(&mut head, p.offset).is_err() {
                    continue;
                }
                if let Some(kind) = disk::FsKind::sniff(&head) {
                    let window = disk::Window::new(media.clone(), p.offset, p.len);
                    read_fs(kind, window, data.len() as u64);
                }
            }
        }
        Some(Layout::FileSystem(kind)) => {
            let window = disk::Window::new(media.clone(), 0, media.len());
            read_fs(kind, window, data.len() as u64);
        }
        None => {}
    }
}

/// `data` as a volume of file system `kind` (whatever its boot sector says): every file,
/// stream and deleted file it yields, each read to its end through the expansion budget.
pub fn file_system(kind: nearmatch_scan::disk::FsKind, data: &[u8]) {
    let media = std::sync::Arc::new(medium(data));
    let len = media.len();
    read_fs(kind, nearmatch_scan::disk::Window::new(media, 0, len), len);
}

fn read_fs(kind: nearmatch_scan::disk::FsKind, volume: nearmatch_scan::disk::Window, size: u64) {
    use nearmatch_scan::disk::{self, FsKind};
    let budget = Budget::new(limits(), size);
    let mut visit = |h: nearmatch_scan::container::MemberHeader, r: &mut dyn Read| -> Next {
        let _ = (h.name.len(), h.size, h.fs_id, h.recovery);
        let mut counted = Counted::new(r, &budget, budget.limits().member_bytes);
        let mut sink = std::io::sink();
        match std::io::copy(&mut counted, &mut sink) {
            Ok(_) => Next::Continue,
            Err(e) => match counted.limit.take() {
                Some(l) => Next::Stop(l),
                None => {
                    let _ = e.to_string();
                    Next::Continue
                }
            },
        }
    };
    let _ = match kind {
        FsKind::Fat => disk::fat::expand(volume, &mut visit),
        FsKind::ExFat => disk::exfat::expand(volume, &mut visit),
        FsKind::Ntfs => disk::ntfs::expand(volume, &mut visit),
        FsKind::Ext => disk::ext::expand(volume, &mut visit),
    };
}
