//! Allocations per file on the exact PDQ path once a thread's buffers have grown (issue #23,
//! item 2): what a scan's worker pays for each JPEG.
//!
//! A binary of its own because it replaces the global allocator with one that counts (per
//! thread, so the test harness's other threads do not disturb it). Only Rust allocations are
//! seen here; libjpeg's own (a few fixed-size tables per image, through C `malloc`) are
//! measured with heaptrack in the README.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use nearmatch::hash::file::{hash_bytes, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch::probe::ProbeConfig;
use nearmatch_synth::{encode_jpeg, generate, Scene};

/// The system allocator, counting this thread's allocations and their largest size.
struct Counting;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    // `try_with`: allocations made while a thread's locals are torn down are not counted.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the contract; the
// counting only touches const-initialised thread-locals without destructors (no allocation).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// (allocations, largest) made by `f` on this thread.
fn counted(f: impl FnOnce()) -> (usize, usize) {
    COUNT.with(|c| c.set(0));
    LARGEST.with(|l| l.set(0));
    f();
    (COUNT.with(Cell::get), LARGEST.with(Cell::get))
}

#[test]
fn exact_pdq_of_jpegs_allocates_nothing_image_sized_once_warm() {
    // 1024x768 RGB: a whole decoded image would be a 2.4 MB allocation, its luma 3 MB. Scenes
    // with no flat line at an edge (where one is, the trim probe needs the whole plane).
    let files: Vec<Vec<u8>> = [
        Scene::Noise,
        Scene::DeadLeaves,
        Scene::Noise,
        Scene::DeadLeaves,
    ]
    .iter()
    .enumerate()
    .map(|(i, &scene)| encode_jpeg(&generate(scene, 1024, 768, 40 + i as u64), 88))
    .collect();
    let algos = [Algorithm::Pdq, Algorithm::Md5];
    for (probes, pdq_dihedral) in [
        (None, false),
        (Some(ProbeConfig::default()), false),
        (None, true),
    ] {
        let opts = HashOptions {
            probes,
            pdq_dihedral,
            ..HashOptions::default()
        };
        // Warm up: the thread's hasher and decoder grow their buffers once.
        for f in &files {
            hash_bytes(f, &algos, &opts);
        }
        let (count, largest) = counted(|| {
            for f in &files {
                let out = hash_bytes(f, &algos, &opts);
                assert!(out.digest(Algorithm::Pdq).is_some());
            }
        });
        // Per file: the result's own vectors (the hashes; the plain probe) and nothing else.
        assert!(
            count <= 3 * files.len(),
            "{count} allocations for {} files (probes {probes:?}, dihedral {pdq_dihedral})",
            files.len()
        );
        assert!(
            largest < 64 * 1024,
            "an allocation of {largest} bytes (probes {probes:?}, dihedral {pdq_dihedral})"
        );
    }
}

#[test]
fn imagehash_family_of_jpegs_allocates_nothing_image_sized_once_warm() {
    // As above, for the imagehash functions (alone and with PDQ): the rows stream into the
    // Lanczos resizes, so neither the decoded image (2.4 MB) nor its `L` plane (786 KB) exists.
    let files: Vec<Vec<u8>> = [Scene::Noise, Scene::DeadLeaves, Scene::Landscape]
        .iter()
        .enumerate()
        .map(|(i, &scene)| encode_jpeg(&generate(scene, 1024, 768, 60 + i as u64), 88))
        .collect();
    // wHash is left out: its wavelet works on the picture resized to a power of two near its
    // smaller side (512x512 f64 here), which its core allocates per image.
    let requests: [&[Algorithm]; 3] = [
        &[Algorithm::Phash],
        &[
            Algorithm::Ahash,
            Algorithm::Dhash,
            Algorithm::Phash,
            Algorithm::Md5,
        ],
        &[Algorithm::Pdq, Algorithm::Phash16, Algorithm::Dhash16],
    ];
    let opts = HashOptions::default();
    for algos in requests {
        for f in &files {
            hash_bytes(f, algos, &opts);
        }
        let (count, largest) = counted(|| {
            for f in &files {
                let out = hash_bytes(f, algos, &opts);
                assert!(out.image_error.is_none());
            }
        });
        // Per file: the result's vectors, the request's small lists and the hash cores' small
        // working arrays (a 32x32 DCT), nothing per row.
        assert!(
            count <= 16 * files.len(),
            "{count} allocations for {} files ({algos:?})",
            files.len()
        );
        assert!(
            largest < 64 * 1024,
            "an allocation of {largest} bytes ({algos:?})"
        );
    }
}
