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
    // Early reject on a lower bound that costs one popcount per entry: with two or more words,
    // popcount((x0 ^ q0) | (x1 ^ q1)) <= distance, and on unrelated digests that bound (about
    // 48 of 64) exceeds the radius for all but a tiny fraction of groups.
    for (p, (q, &r)) in probes.chunks_exact(W).zip(radii).enumerate() {
        let r = r as u64;
        for (g, grp) in tile.chunks_exact(W * LANES).enumerate() {
            if W >= 2 {
                let (p0, p1) = (&grp[..LANES], &grp[LANES..2 * LANES]);
                let mut any = false;
                for l in 0..LANES {
                    any |= (((p0[l] ^ q[0]) | (p1[l] ^ q[1])).count_ones() as u64) <= r;
                }
                if !any {
                    continue;
                }
            }
            let mut d = [0u64; LANES];
            for w in 0..W {
                let plane = &grp[w * LANES..(w + 1) * LANES];
                for l in 0..LANES {
                    d[l] += (plane[l] ^ q[w]).count_ones() as u64;
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

/// Probes swept together per pass over a tile in the AVX-512 kernel: each tile load serves
/// this many probes (register blocking), and their reject masks share one branch.
const PROBE_BLOCK: usize = 8;

/// The AVX-512 kernel, written with intrinsics: one register holds one word of eight entries.
///
/// With two or more words per digest, each group of eight entries is first tested against a
/// lower bound of the distance that costs one popcount: `popcount((x0 ^ q0) | (x1 ^ q1)) <=
/// popcount(x0 ^ q0) + popcount(x1 ^ q1) <= distance` (one XOR, one ternary-logic op, one
/// popcount, one compare). On unrelated 256-bit digests the bound is about 48 (of 64), so at
/// r = 31 it rejects all but about one group in a million, and the full distance is computed
/// only for groups with a lane at or under the radius. [`PROBE_BLOCK`] probes share each load
/// of the tile's first two planes and one branch on their combined masks.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL, AVX-512 VPOPCNTDQ and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq,popcnt")]
// AVX-512 intrinsics are stable since Rust 1.89: the workspace MSRV must be at least that.
unsafe fn tile_avx512<const W: usize>(
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    let np = radii.len().min(probes.len() / W);
    let mut p = 0;
    while p + PROBE_BLOCK <= np {
        let (pw, pr) = (
            &probes[p * W..(p + PROBE_BLOCK) * W],
            &radii[p..p + PROBE_BLOCK],
        );
        let pb = probe_base + p as u32;
        // SAFETY: same features as this function's (the caller's contract).
        unsafe {
            if pr.iter().all(|&r| r == pr[0]) {
                block_avx512::<W, PROBE_BLOCK, true>(tile, n, entry_base, pw, pr, pb, out)
            } else {
                block_avx512::<W, PROBE_BLOCK, false>(tile, n, entry_base, pw, pr, pb, out)
            }
        };
        p += PROBE_BLOCK;
    }
    while p < np {
        // SAFETY: as above.
        unsafe {
            block_avx512::<W, 1, true>(
                tile,
                n,
                entry_base,
                &probes[p * W..(p + 1) * W],
                &radii[p..p + 1],
                probe_base + p as u32,
                out,
            )
        };
        p += 1;
    }
}

/// Sweeps exactly `P` probes (`probes.len() == P * W`, `radii.len() == P`) over a tile.
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL, AVX-512 VPOPCNTDQ and POPCNT.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq,popcnt")]
#[inline]
#[allow(clippy::needless_range_loop)]
unsafe fn block_avx512<const W: usize, const P: usize, const UNIFORM: bool>(
    tile: &[u64],
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    use std::arch::x86_64::*;
    assert!(
        probes.len() == P * W && radii.len() == P && tile.len() >= n.div_ceil(LANES) * W * LANES
    );
    let mut q0 = [_mm512_setzero_si512(); P];
    let mut q1 = [_mm512_setzero_si512(); P];
    let mut rv = [_mm512_setzero_si512(); P];
    for j in 0..P {
        q0[j] = _mm512_set1_epi64(probes[j * W] as i64);
        if W >= 2 {
            q1[j] = _mm512_set1_epi64(probes[j * W + 1] as i64);
        }
        rv[j] = _mm512_set1_epi64(i64::from(radii[j]));
    }
    let groups = n.div_ceil(LANES);
    let ptr = tile.as_ptr();
    for g in 0..groups {
        // SAFETY: group g < groups occupies words g*W*LANES .. (g+1)*W*LANES of `tile` (length
        // asserted above), and each load reads LANES = 8 words of one plane.
        let grp = unsafe { ptr.add(g * W * LANES) };
        // SAFETY: plane 0 of group g, in bounds as above.
        let x0 = unsafe { _mm512_loadu_si512(grp.cast()) };
        let x1 = if W >= 2 {
            // SAFETY: plane 1 of group g (W >= 2), in bounds as above.
            unsafe { _mm512_loadu_si512(grp.add(LANES).cast()) }
        } else {
            x0
        };
        let mut pc = [_mm512_setzero_si512(); P];
        for j in 0..P {
            let a = _mm512_xor_si512(x0, q0[j]);
            // a | (x1 ^ q1): truth table 0xF6 over (a, x1, q1).
            let lb = if W >= 2 {
                _mm512_ternarylogic_epi64::<0xF6>(a, x1, q1[j])
            } else {
                a
            };
            pc[j] = _mm512_popcnt_epi64(lb);
        }
        let any = if UNIFORM {
            // One radius for the block: a min tree over the bounds, then one compare (no
            // chain of mask ORs).
            let mut width = P;
            while width > 1 {
                let half = width / 2;
                for j in 0..half {
                    pc[j] = _mm512_min_epu64(pc[j], pc[j + half]);
                }
                if width % 2 == 1 {
                    pc[0] = _mm512_min_epu64(pc[0], pc[width - 1]);
                }
                width = half;
            }
            _mm512_cmple_epu64_mask(pc[0], rv[0])
        } else {
            let mut any = 0u8;
            for j in 0..P {
                any |= _mm512_cmple_epu64_mask(pc[j], rv[j]);
            }
            any
        };
        if any != 0 {
            // SAFETY: same features as this function's; `grp` points at group g of `tile`.
            unsafe {
                group_hits_avx512::<W>(grp, g, n, entry_base, probes, radii, probe_base, out)
            };
        }
    }
}

/// Full distances of one group of eight entries to every probe of a block, pushing the hits.
/// Out of line and cold: the hot loop keeps only the filter in registers (inlined, LLVM would
/// spill the filter's intermediates to reuse them here, costing stores on every group).
///
/// # Safety
/// The CPU must support AVX-512F, AVX-512VL, AVX-512 VPOPCNTDQ and POPCNT; `grp` must point at
/// `W * LANES` readable words (group `g` of a tile of `n` entries).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512vl,avx512vpopcntdq,popcnt")]
#[cold]
#[inline(never)]
#[allow(clippy::too_many_arguments)]
unsafe fn group_hits_avx512<const W: usize>(
    grp: *const u64,
    g: usize,
    n: usize,
    entry_base: u32,
    probes: &[u64],
    radii: &[u32],
    probe_base: u32,
    out: &mut Vec<RawHit>,
) {
    use std::arch::x86_64::*;
    let valid: u8 = if (g + 1) * LANES > n {
        (1u8 << (n - g * LANES)) - 1
    } else {
        0xFF
    };
    for (j, (q, &r)) in probes.chunks_exact(W).zip(radii).enumerate() {
        let mut d = _mm512_setzero_si512();
        for (w, &qw) in q.iter().enumerate() {
            // SAFETY: plane w < W of the group, within the W * LANES words the caller vouches for.
            let v = unsafe { _mm512_loadu_si512(grp.add(w * LANES).cast()) };
            let x = _mm512_xor_si512(v, _mm512_set1_epi64(qw as i64));
            d = _mm512_add_epi64(d, _mm512_popcnt_epi64(x));
        }
        let mut mask = _mm512_cmple_epu64_mask(d, _mm512_set1_epi64(i64::from(r))) & valid;
        if mask == 0 {
            continue;
        }
        let mut dist = [0u64; LANES];
        // SAFETY: `dist` is 8 u64 = 64 bytes, the size of one register.
        unsafe { _mm512_storeu_si512(dist.as_mut_ptr().cast(), d) };
        while mask != 0 {
            let l = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            out.push(RawHit {
                probe: probe_base + j as u32,
                entry: entry_base + (g * LANES + l) as u32,
                distance: dist[l] as u16,
            });
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
