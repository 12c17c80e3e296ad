//! The linear-scan engine: blocked popcount kernels with runtime CPU-feature dispatch.
//!
//! Entries are copied, one block at a time, into a lane-major ("structure of arrays") tile of
//! [`LANES`] entries per group, so one vector register holds the same word of eight entries and
//! the distance of eight entries is a handful of XOR + POPCNT + ADD instructions. The tile is
//! reused by a whole block of query probes, which amortises the copy and keeps the tile in L1/L2.
//!
//! The kernel is written once as portable Rust and compiled several times under
//! `#[target_feature]` (POPCNT, AVX2, AVX-512 VPOPCNTDQ); LLVM vectorises it for each. The
//! default x86-64 target has no POPCNT and lowers `count_ones` to a bit trick about 3x slower,
//! which is why the dispatch matters.

use super::RawHit;

/// Entries per group in a transposed tile (one 512-bit register of `u64`).
pub(crate) const LANES: usize = 8;

/// Entries per tile: 1024 x 256-bit entries = 32 KiB, of which the early-reject half (16 KiB)
/// stays in L1 while a query block sweeps it.
pub(crate) const TILE_ENTRIES: usize = 1024;

/// Query probes per block: the tile copy is amortised over this many probes.
pub(crate) const QUERY_BLOCK: usize = 256;

/// The instruction-set level a kernel was compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Baseline x86-64 / any other architecture: `count_ones` as the compiler lowers it.
    Portable,
    /// x86-64 with the POPCNT instruction.
    Popcnt,
    /// x86-64 with AVX2 (vectorised nibble-table popcount) and POPCNT.
    Avx2,
    /// x86-64 with AVX-512F/VL and VPOPCNTDQ (vector popcount of eight words at once).
    Avx512,
}

impl Level {
    /// The best level this CPU supports.
    pub fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512vl")
                && is_x86_feature_detected!("avx512vpopcntdq")
                && is_x86_feature_detected!("popcnt")
            {
                return Level::Avx512;
            }
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("popcnt") {
                return Level::Avx2;
            }
            if is_x86_feature_detected!("popcnt") {
                return Level::Popcnt;
            }
        }
        Level::Portable
    }

    /// Whether this CPU can run kernels of this level.
    pub fn is_supported(self) -> bool {
        self <= Level::detect()
    }

    /// Short lower-case name, for reports.
    pub fn name(self) -> &'static str {
        match self {
            Level::Portable => "portable",
            Level::Popcnt => "popcnt",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512-vpopcntdq",
        }
    }
}

/// Copies entries `[start, end)` of `digests` into `tile`, lane-major: word `w` of entry
/// `g * LANES + l` lands at `(g * W + w) * LANES + l`. Lanes past the end are zero (callers
/// ignore hits on them).
pub(crate) fn transpose<const W: usize>(
    digests: &[u64],
    start: usize,
    end: usize,
    tile: &mut Vec<u64>,
) {
    let n = end - start;
    let groups = n.div_ceil(LANES);
    tile.clear();
    tile.resize(groups * W * LANES, 0);
    let src = &digests[start * W..end * W];
    for (i, e) in src.chunks_exact(W).enumerate() {
        let (g, l) = (i / LANES, i % LANES);
        for (w, &word) in e.iter().enumerate() {
            tile[(g * W + w) * LANES + l] = word;
        }
    }
}

/// Sweeps every probe of a query block over one transposed tile.
///
/// `probes` are the probes' words (W per probe), `radii[p]` the radius of probe `p` (the knn
/// scan lowers it as its heap fills). Hits are pushed as (`probe_base + p`, `entry_base + i`,
/// distance).
#[inline(always)]
fn tile_generic<const W: usize>(
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    // Early reject: with at least two words, the first half of the bits alone may already
    // exceed the radius, which is the overwhelmingly common case for random digests.
    let half = if W >= 2 { W / 2 } else { W };
    for (p, (q, &r)) in probes.chunks_exact(W).zip(radii).enumerate() {
        let r = r as u64;
        for (g, grp) in tile.chunks_exact(W * LANES).enumerate() {
            let mut d = [0u64; LANES];
            for w in 0..half {
                let plane = &grp[w * LANES..(w + 1) * LANES];
                for l in 0..LANES {
                    d[l] += (plane[l] ^ q[w]).count_ones() as u64;
                }
            }
            if half < W {
                let mut any = false;
                for &x in &d {
                    any |= x <= r;
                }
                if !any {
                    continue;
                }
                for w in half..W {
                    let plane = &grp[w * LANES..(w + 1) * LANES];
                    for l in 0..LANES {
                        d[l] += (plane[l] ^ q[w]).count_ones() as u64;
                    }
                }
            }
            let mut mask = 0u32;
            for (l, &x) in d.iter().enumerate() {
                mask |= ((x <= r) as u32) << l;
            }
            while mask != 0 {
                let l = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let i = g * LANES + l;
                if i < n {
                    out.push(RawHit {
                        probe: probe_base + p as u32,
                        entry: entry_base + i as u32,
                        distance: d[l] as u16,
                    });
                }
            }
        }
    }
}

/// The AVX-512 kernel, written with intrinsics: one register holds one word of eight entries,
/// and the early-reject test is a single mask compare.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL, AVX-512 VPOPCNTDQ and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq,popcnt")]
// AVX-512 intrinsics are stable since Rust 1.89: the workspace MSRV must be at least that.
#[allow(clippy::needless_range_loop)]
unsafe fn tile_avx512<const W: usize>(
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    use std::arch::x86_64::*;
    let half = if W >= 2 { W / 2 } else { W };
    for (p, (q, &r)) in probes.chunks_exact(W).zip(radii).enumerate() {
        let rv = _mm512_set1_epi64(r as i64);
        let mut qv = [_mm512_setzero_si512(); 4];
        for w in 0..W {
            qv[w] = _mm512_set1_epi64(q[w] as i64);
        }
        for (g, grp) in tile.chunks_exact(W * LANES).enumerate() {
            let ptr = grp.as_ptr();
            let mut d = _mm512_setzero_si512();
            for w in 0..half {
                // SAFETY: `grp` holds W * LANES words, so words w*LANES .. w*LANES + 8 exist.
                let v = unsafe { _mm512_loadu_si512(ptr.add(w * LANES).cast()) };
                d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(v, qv[w])));
            }
            let mut mask = _mm512_cmple_epu64_mask(d, rv);
            if mask == 0 {
                continue;
            }
            if half < W {
                for w in half..W {
                    // SAFETY: as above.
                    let v = unsafe { _mm512_loadu_si512(ptr.add(w * LANES).cast()) };
                    d = _mm512_add_epi64(d, _mm512_popcnt_epi64(_mm512_xor_si512(v, qv[w])));
                }
                mask = _mm512_cmple_epu64_mask(d, rv);
            }
            let mut dist = [0u64; LANES];
            // SAFETY: `dist` is 8 u64 = 64 bytes, the size of one register.
            unsafe { _mm512_storeu_si512(dist.as_mut_ptr().cast(), d) };
            let mut mask = mask as u32;
            while mask != 0 {
                let l = mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let i = g * LANES + l;
                if i < n {
                    out.push(RawHit {
                        probe: probe_base + p as u32,
                        entry: entry_base + i as u32,
                        distance: dist[l] as u16,
                    });
                }
            }
        }
    }
}

/// # Safety
/// The CPU must support AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn tile_avx2<const W: usize>(
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    tile_generic::<W>(tile, n, entry_base, probes, radii, probe_base, out)
}

/// # Safety
/// The CPU must support POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn tile_popcnt<const W: usize>(
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    tile_generic::<W>(tile, n, entry_base, probes, radii, probe_base, out)
}

/// Runs the tile kernel compiled for `level`, which the caller has checked is supported.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_tile<const W: usize>(
    level: Level,
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    debug_assert!(level.is_supported());
    match level {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `level` is only ever a level `Level::detect` reported for this CPU (callers
        // take it from `detect` or check `is_supported`), so the features are present.
        Level::Avx512 => unsafe {
            tile_avx512::<W>(tile, n, entry_base, probes, radii, probe_base, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, AVX2 and POPCNT were detected.
        Level::Avx2 => unsafe {
            tile_avx2::<W>(tile, n, entry_base, probes, radii, probe_base, out)
        },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above, POPCNT was detected.
        Level::Popcnt => unsafe {
            tile_popcnt::<W>(tile, n, entry_base, probes, radii, probe_base, out)
        },
        _ => tile_generic::<W>(tile, n, entry_base, probes, radii, probe_base, out),
    }
}

/// Radius scan of the probes `probes` (W words each, global indices from `probe_base`) over the
/// entries `[start, end)`, appending raw hits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn scan_range<const W: usize>(
    level: Level,
    digests: &[u64],
    start: usize,
    end: usize,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    let mut tile = Vec::with_capacity(TILE_ENTRIES * W);
    let mut s = start;
    while s < end {
        let e = (s + TILE_ENTRIES).min(end);
        transpose::<W>(digests, s, e, &mut tile);
        run_tile::<W>(
            level,
            &tile,
            e - s,
            s as u32,
            probes,
            radii,
            probe_base,
            out,
        );
        s = e;
    }
}

/// Exact k-nearest scan for a block of probes: for each probe, its `k` best entries as
/// (distance, entry), ascending.
pub(crate) fn knn_block<const W: usize>(
    level: Level,
    digests: &[u64],
    n: usize,
    probes: &[u64],
    k: usize,
    bits: u32,
) -> Vec<Vec<(u16, u32)>> {
    use std::collections::BinaryHeap;
    let np = probes.len() / W;
    let mut heaps: Vec<BinaryHeap<(u16, u32)>> = (0..np).map(|_| BinaryHeap::new()).collect();
    // Until a probe's heap is full every entry qualifies; afterwards only entries strictly
    // better than the worst kept one can enter (entries arrive in increasing index order, so an
    // equal distance loses the tie to the one already kept).
    let mut radii = vec![bits; np];
    let mut tile = Vec::with_capacity(TILE_ENTRIES * W);
    let mut hits = Vec::new();
    let mut s = 0;
    while s < n && k > 0 {
        let e = (s + TILE_ENTRIES).min(n);
        transpose::<W>(digests, s, e, &mut tile);
        hits.clear();
        run_tile::<W>(level, &tile, e - s, s as u32, probes, &radii, 0, &mut hits);
        for h in &hits {
            let p = h.probe as usize;
            let heap = &mut heaps[p];
            if heap.len() < k {
                heap.push((h.distance, h.entry));
            } else if let Some(&top) = heap.peek() {
                if (h.distance, h.entry) < top {
                    heap.pop();
                    heap.push((h.distance, h.entry));
                }
            }
            if heap.len() == k {
                // The worst kept distance d admits only distance < d from now on.
                let worst = heap.peek().map_or(bits, |t| t.0 as u32);
                radii[p] = worst.saturating_sub(1);
                if worst == 0 {
                    radii[p] = 0;
                }
            }
        }
        s = e;
    }
    heaps.into_iter().map(|h| h.into_sorted_vec()).collect()
}
