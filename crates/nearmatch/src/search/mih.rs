//! Multi-index hashing (Norouzi, Punjani & Fleet, "Fast Search in Hamming Space with
//! Multi-Index Hashing", CVPR 2012), stored as compact CSR tables.
//!
//! The digest's bits (in reading order: word 0's most significant bit first) are cut into `m`
//! contiguous chunks. For each chunk there is one table: `offsets` (2^width + 1 entries) and
//! `ids` (N entry indices, grouped by the chunk's value, ascending within a bucket). Entry ids of
//! bucket `v` of chunk `c` are `ids[c*N + offsets[base_c + v] .. c*N + offsets[base_c + v + 1]]`.
//!
//! Pigeonhole: write `r = m*s + a` with `0 <= a < m`. If every one of the first `a + 1` chunks
//! differed by more than `s` bits and every other chunk by more than `s - 1`, the total would be
//! at least `(a+1)(s+1) + (m-a-1)s = r + 1`. So a match within `r` is found by probing the first
//! `a + 1` chunks within `s` and the others within `s - 1` (not at all when `s = 0`). Every
//! candidate is verified with the full distance, so the result is exact.
//!
//! The tables are plain `u32` arrays so a hash-set file can store them as sections and a reader
//! can borrow them from a memory map ([`MihRef::from_parts`]) without parsing.
//!
//! When the digests are in ascending order (a set file always stores them so), the first chunk
//! is the digests' leading bits: its buckets are runs of consecutive entries, so its ids table
//! would be `0..N` and is not stored. The ids array then holds `(m - 1) * N` ids (chunks 1..m),
//! a reader tells the two layouts apart by that length, and the first chunk's candidates are
//! read straight from the digests, in order (4 bytes per entry less, and a tenth of the random
//! reads at 100M entries).

use crate::error::{Error, Result};

/// Smallest and largest chunk width supported (the offsets table has 2^width + 1 entries).
const MIN_WIDTH: u32 = 1;
const MAX_WIDTH: u32 = 28;

/// The shape of a multi-index: digest width and number of chunks. Two `u32`s, so a file can
/// store it verbatim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MihParams {
    /// Digest width in bits (a multiple of 64).
    pub bits: u32,
    /// Number of chunks `m`; chunk widths are `bits / m`, the first `bits % m` one bit wider.
    pub chunks: u32,
}

impl MihParams {
    /// Validated parameters.
    pub fn new(bits: u32, chunks: u32) -> Result<Self> {
        if bits == 0 || !bits.is_multiple_of(64) || bits > 64 * 4 {
            return Err(Error::InvalidArgument(format!(
                "multi-index: digest width {bits} is not 64, 128, 192 or 256 bits"
            )));
        }
        if chunks == 0 || chunks > bits {
            return Err(Error::InvalidArgument(format!(
                "multi-index: {chunks} chunks for {bits} bits"
            )));
        }
        let p = MihParams { bits, chunks };
        let widest = p.width(0);
        if !(MIN_WIDTH..=MAX_WIDTH).contains(&widest) {
            return Err(Error::InvalidArgument(format!(
                "multi-index: chunk width {widest} outside {MIN_WIDTH}..={MAX_WIDTH}"
            )));
        }
        Ok(p)
    }

    /// Parameters chosen from the entry count and digest width.
    ///
    /// Target chunk width `w* = max(4, floor(log2 N) - 1)` and `m = ceil(bits / w*)`, so the
    /// actual width `bits/m` is a little under `log2 N` and buckets hold about 2-4 entries. This
    /// keeps the candidate count per probed bucket constant as N grows (Norouzi et al. recommend
    /// width ≈ log2 N) while the offsets (2^width per chunk) stay below the ids (N per chunk):
    /// the index is about `4m(1 + 2^width/N)` bytes per entry. Examples for 256 bits: N = 1M →
    /// 15 chunks of 17 bits; N = 10M → 12 x 21-22 (about 61 bytes per entry, under twice the
    /// 32-byte digests); N = 100M → 11 x 23-24. For 64 bits, N = 1M → 4 x 16.
    pub fn auto(n: usize, bits: u32) -> Result<Self> {
        let log2n = usize::BITS - 1 - n.max(1).leading_zeros();
        let target = log2n.saturating_sub(1).clamp(4, MAX_WIDTH);
        let chunks = bits.div_ceil(target).clamp(1, bits.max(1));
        Self::new(bits, chunks)
    }

    /// Width in bits of chunk `c`.
    pub fn width(&self, c: u32) -> u32 {
        self.bits / self.chunks + u32::from(c < self.bits % self.chunks)
    }

    /// First bit (in reading order) of chunk `c`.
    pub fn start(&self, c: u32) -> u32 {
        let base = self.bits / self.chunks;
        c * base + c.min(self.bits % self.chunks)
    }

    /// Index of chunk `c`'s first offset in the concatenated offsets array.
    pub fn offsets_base(&self, c: u32) -> usize {
        (0..c).map(|i| (1usize << self.width(i)) + 1).sum()
    }

    /// Length of the concatenated offsets array.
    pub fn offsets_len(&self) -> usize {
        self.offsets_base(self.chunks)
    }

    /// Length of the concatenated ids array for `n` entries, all chunks stored.
    pub fn ids_len(&self, n: usize) -> usize {
        self.chunks as usize * n
    }

    /// Length of the stored ids array for `n` entries: without the first chunk's when it is
    /// implied by sorted digests (see the module notes).
    pub fn stored_ids_len(&self, n: usize, first_implicit: bool) -> usize {
        (self.chunks as usize - usize::from(first_implicit)) * n
    }

    /// Words per digest.
    pub fn words_per_digest(&self) -> usize {
        (self.bits / 64) as usize
    }

    /// The per-chunk search radii for a total radius `r`: `None` for chunks that need no probe.
    pub fn chunk_radii(&self, r: u32) -> Vec<Option<u32>> {
        let (s, a) = (r / self.chunks, r % self.chunks);
        (0..self.chunks)
            .map(|c| if c <= a { Some(s) } else { s.checked_sub(1) })
            .collect()
    }

    /// Number of buckets probed per query digest at radius `r` (before any early stop).
    pub fn probes_per_query(&self, r: u32) -> f64 {
        self.chunk_radii(r)
            .iter()
            .enumerate()
            .filter_map(|(c, s)| s.map(|s| ball_size(self.width(c as u32), s)))
            .sum()
    }

    /// Expected candidates per query digest at radius `r` on uniformly random data.
    pub fn expected_candidates(&self, n: usize, r: u32) -> f64 {
        self.chunk_radii(r)
            .iter()
            .enumerate()
            .filter_map(|(c, s)| {
                s.map(|s| {
                    let w = self.width(c as u32);
                    ball_size(w, s) * n as f64 / (1u64 << w) as f64
                })
            })
            .sum()
    }
}

/// Number of `w`-bit values within Hamming distance `s` of a given one.
fn ball_size(w: u32, s: u32) -> f64 {
    let mut total = 0.0;
    let mut binom = 1.0;
    for k in 0..=s.min(w) {
        if k > 0 {
            binom = binom * (w - k + 1) as f64 / k as f64;
        }
        total += binom;
    }
    total
}

/// The value of chunk `c` of a digest's words.
#[inline(always)]
pub(crate) fn chunk_value(words: &[u64], start: u32, width: u32) -> u32 {
    let i = (start / 64) as usize;
    let off = start % 64;
    let hi = words[i] as u128;
    let lo = words.get(i + 1).copied().unwrap_or(0) as u128;
    let v = ((hi << 64) | lo) << off;
    (v >> (128 - width)) as u32
}

/// Whether packed digests are in ascending order (non-strict), so that the first chunk's ids
/// are implied (see the module notes).
pub(crate) fn is_sorted_words(digests: &[u64], wpd: usize) -> bool {
    digests
        .chunks_exact(wpd)
        .zip(digests.chunks_exact(wpd).skip(1))
        .all(|(a, b)| a <= b)
}

/// Fills one chunk's `offsets` (2^width + 1) alone, from a histogram of its values: for the
/// first chunk of sorted digests, whose ids are implied.
pub(crate) fn fill_offsets(
    digests: &[u64],
    wpd: usize,
    start: u32,
    width: u32,
    offsets: &mut [u32],
) {
    offsets.fill(0);
    for d in digests.chunks_exact(wpd) {
        offsets[chunk_value(d, start, width) as usize + 1] += 1;
    }
    for i in 1..offsets.len() {
        offsets[i] += offsets[i - 1];
    }
}

/// Fills one chunk's CSR tables: `offsets` (2^width + 1) and `ids` (one per entry, grouped by
/// key, ascending within a bucket). `keys` and `pairs` are reusable scratch.
///
/// A two-digit counting sort, no comparisons: the keys are first distributed by their high
/// digit (at most 2^11 output streams, so the scattered writes stay in cache), then each
/// high-digit bucket — a few thousand entries, resident in L1/L2 — is counting-sorted by its
/// low digit straight into its final place. A one-digit counting sort over 2^22 buckets would
/// instead scatter every id to a random cache line and TLB page of the 40 MB table.
#[allow(clippy::too_many_arguments)]
fn build_chunk(
    digests: &[u64],
    wpd: usize,
    start: u32,
    width: u32,
    offsets: &mut [u32],
    ids: &mut [u32],
    keys: &mut [u32],
    pairs: &mut [u64],
) {
    let n = ids.len();
    let (keys, pairs) = (&mut keys[..n], &mut pairs[..n]);
    let lo_bits = width / 2;
    let hi_bits = width - lo_bits;
    let lo_mask = (1u32 << lo_bits) - 1;
    // Pass 1: keys and the high-digit histogram.
    let mut hi_start = vec![0u32; (1usize << hi_bits) + 1];
    for (key, d) in keys.iter_mut().zip(digests.chunks_exact(wpd)) {
        let k = chunk_value(d, start, width);
        hi_start[(k >> lo_bits) as usize + 1] += 1;
        *key = k;
    }
    for i in 1..hi_start.len() {
        hi_start[i] += hi_start[i - 1];
    }
    // Pass 2: stable distribution by the high digit, as (low digit, id) pairs (every slot
    // is written exactly once, so `pairs` needs no clearing).
    let mut cursor = hi_start[..hi_start.len() - 1].to_vec();
    for (e, &k) in keys.iter().enumerate() {
        let slot = &mut cursor[(k >> lo_bits) as usize];
        pairs[*slot as usize] = (u64::from(k & lo_mask) << 32) | e as u64;
        *slot += 1;
    }
    // Pass 3: per high bucket, a stable counting sort by the low digit into `ids`, which also
    // yields that bucket's run of 2^lo_bits offsets.
    let lo_n = 1usize << lo_bits;
    let mut count = vec![0u32; lo_n];
    for (h, run) in hi_start.windows(2).enumerate() {
        let (s, e) = (run[0] as usize, run[1] as usize);
        let bucket = &pairs[s..e];
        count.fill(0);
        for &p in bucket {
            count[(p >> 32) as usize] += 1;
        }
        let mut at = s as u32;
        let offs = &mut offsets[h * lo_n..(h + 1) * lo_n];
        for (o, c) in offs.iter_mut().zip(count.iter_mut()) {
            *o = at;
            at += *c;
            *c = *o;
        }
        for &p in bucket {
            let slot = &mut count[(p >> 32) as usize];
            ids[*slot as usize] = p as u32;
            *slot += 1;
        }
    }
    offsets[1usize << width] = n as u32;
}

/// Builds the tables as [`build_tables`] does, in memory bounded by one chunk's offsets table
/// (4 × 2^width bytes) and one top-bits bucket of entries, writing each chunk's offsets and ids
/// sequentially to `offsets_out` and `ids_out` (the concatenated layout of
/// [`MihParams::offsets_len`] and [`MihParams::stored_ids_len`]; the first chunk's ids are not
/// written when `first_implicit`, for digests in ascending order).
///
/// An external two-pass distribution sort per chunk: the (key, id) pairs are spread over
/// 2^min(8, width) temporary files in `dir` by the key's top bits (ids ascending in each), then
/// each file is counting-sorted by the remaining bits in memory. All I/O is sequential, so it
/// runs at disk speed in a memory-limited process, where sorting in mapped scratch files
/// thrashes (measured: 100M digests under a 1 GB memory cgroup read 750 GB back in minutes).
pub(crate) fn build_tables_external(
    digests: &[u64],
    params: MihParams,
    dir: &std::path::Path,
    offsets_out: &mut impl std::io::Write,
    ids_out: &mut impl std::io::Write,
    first_implicit: bool,
) -> std::io::Result<()> {
    use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
    let wpd = params.words_per_digest();
    let n = digests.len() / wpd;
    let mut bytes: Vec<u8> = Vec::new();
    let mut ids: Vec<u32> = Vec::new();
    for c in 0..params.chunks {
        let (start, width) = (params.start(c), params.width(c));
        if c == 0 && first_implicit {
            let mut offsets = vec![0u32; (1usize << width) + 1];
            fill_offsets(digests, wpd, start, width, &mut offsets);
            for o in &offsets {
                offsets_out.write_all(&o.to_le_bytes())?;
            }
            continue;
        }
        let top = width.min(8);
        let low = width - top;
        let low_mask = (1u32 << low) - 1;
        // Pass 1: distribute by the top bits; entries arrive in id order, so each file's ids
        // ascend.
        let mut files = Vec::with_capacity(1 << top);
        for _ in 0..(1u32 << top) {
            files.push(tempfile::tempfile_in(dir)?);
        }
        {
            let mut writers: Vec<BufWriter<&std::fs::File>> = files
                .iter()
                .map(|f| BufWriter::with_capacity(64 << 10, f))
                .collect();
            for (e, d) in digests.chunks_exact(wpd).enumerate() {
                let k = chunk_value(d, start, width);
                let pair = (u64::from(k) << 32) | e as u64;
                writers[(k >> low) as usize].write_all(&pair.to_le_bytes())?;
            }
            for w in &mut writers {
                w.flush()?;
            }
        }
        // Pass 2: per top bucket, a stable counting sort by the low bits.
        let low_n = 1usize << low;
        let mut offsets = vec![0u32; (1usize << width) + 1];
        let mut count = vec![0u32; low_n];
        let mut at = 0u32;
        for (h, mut f) in files.into_iter().enumerate() {
            let len = usize::try_from(f.metadata()?.len()).unwrap_or(usize::MAX);
            f.seek(SeekFrom::Start(0))?;
            bytes.clear();
            bytes.resize(len, 0);
            f.read_exact(&mut bytes)?;
            let key_low =
                |p: &[u8]| (u32::from_le_bytes(p[4..8].try_into().expect("4")) & low_mask) as usize;
            count.fill(0);
            for p in bytes.chunks_exact(8) {
                count[key_low(p)] += 1;
            }
            let mut run = 0u32;
            for (o, cnt) in offsets[h * low_n..(h + 1) * low_n]
                .iter_mut()
                .zip(count.iter_mut())
            {
                *o = at + run;
                let here = *cnt;
                *cnt = run;
                run += here;
            }
            ids.clear();
            ids.resize(len / 8, 0);
            for p in bytes.chunks_exact(8) {
                let slot = &mut count[key_low(p)];
                ids[*slot as usize] = u32::from_le_bytes(p[..4].try_into().expect("4"));
                *slot += 1;
            }
            for id in &ids {
                ids_out.write_all(&id.to_le_bytes())?;
            }
            at += run;
        }
        offsets[1usize << width] = n as u32;
        for o in &offsets {
            offsets_out.write_all(&o.to_le_bytes())?;
        }
    }
    Ok(())
}

/// One chunk's work: its number, its offsets table and its ids table (`None`: implied).
type ChunkJob<'a> = (u32, &'a mut [u32], Option<&'a mut [u32]>);

/// Fills the concatenated tables of every chunk (`offsets`: [`MihParams::offsets_len`],
/// `ids`: [`MihParams::stored_ids_len`]) for `digests`, one chunk per worker at a time (the
/// first chunk's ids are left implied when `first_implicit`); each worker
/// gets one `(keys, pairs)` scratch pair of at least N entries. The caller chooses where the
/// tables and the scratch live (the set writer maps them from temporary files when they do
/// not fit its memory budget).
pub(crate) fn build_tables(
    digests: &[u64],
    params: MihParams,
    offsets: &mut [u32],
    ids: &mut [u32],
    scratch: Vec<(&mut [u32], &mut [u64])>,
    first_implicit: bool,
) {
    use rayon::prelude::*;
    let wpd = params.words_per_digest();
    let n = digests.len() / wpd;
    let workers = scratch.len().max(1);
    // Each chunk's tables are independent: split the arrays per chunk, deal the chunks out to
    // the workers round-robin, and let each worker reuse its scratch.
    let mut jobs: Vec<Vec<ChunkJob<'_>>> = (0..workers).map(|_| Vec::new()).collect();
    let (mut o_rest, mut i_rest) = (offsets, ids);
    for c in 0..params.chunks {
        let (o, o_tail) = o_rest.split_at_mut((1usize << params.width(c)) + 1);
        o_rest = o_tail;
        if c == 0 && first_implicit {
            jobs[0].push((c, o, None));
            continue;
        }
        let (i, i_tail) = i_rest.split_at_mut(n);
        jobs[c as usize % workers].push((c, o, Some(i)));
        i_rest = i_tail;
    }
    jobs.into_par_iter()
        .zip(scratch)
        .for_each(|(jobs, (keys, pairs))| {
            for (c, o, i) in jobs {
                let (start, width) = (params.start(c), params.width(c));
                match i {
                    Some(i) => build_chunk(digests, wpd, start, width, o, i, keys, pairs),
                    None => fill_offsets(digests, wpd, start, width, o),
                }
            }
        });
}

/// An owned multi-index, built from packed digests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MihIndex {
    params: MihParams,
    n: u32,
    offsets: Vec<u32>,
    ids: Vec<u32>,
    first_implicit: bool,
}

impl MihIndex {
    /// Builds the tables for `digests` (packed words, `params.bits / 64` per digest); when they
    /// are in ascending order the first chunk's ids are left implied (see the module notes).
    pub fn build(digests: &[u64], params: MihParams) -> Result<Self> {
        let wpd = params.words_per_digest();
        if !digests.len().is_multiple_of(wpd) {
            return Err(Error::InvalidArgument(format!(
                "{} words is not a whole number of {}-bit digests",
                digests.len(),
                params.bits
            )));
        }
        let n = digests.len() / wpd;
        let n32 = u32::try_from(n).map_err(|_| {
            Error::InvalidArgument(format!("{n} entries exceed the 2^32 index limit"))
        })?;
        let first_implicit = is_sorted_words(digests, wpd);
        let mut offsets = vec![0u32; params.offsets_len()];
        let mut ids = vec![0u32; params.stored_ids_len(n, first_implicit)];
        let workers = rayon::current_num_threads().clamp(1, params.chunks as usize);
        let mut keys = vec![0u32; n * workers];
        let mut pairs = vec![0u64; n * workers];
        let scratch = keys
            .chunks_mut(n.max(1))
            .zip(pairs.chunks_mut(n.max(1)))
            .collect();
        build_tables(
            digests,
            params,
            &mut offsets,
            &mut ids,
            scratch,
            first_implicit,
        );
        Ok(MihIndex {
            params,
            n: n32,
            offsets,
            ids,
            first_implicit,
        })
    }

    /// Builds with [`MihParams::auto`] for these digests.
    pub fn build_auto(digests: &[u64], words_per_digest: usize) -> Result<Self> {
        if !(1..=4).contains(&words_per_digest) {
            return Err(Error::InvalidArgument(format!(
                "{words_per_digest} words per digest (1..=4 supported)"
            )));
        }
        let n = digests.len() / words_per_digest;
        let params = MihParams::auto(n, 64 * words_per_digest as u32)?;
        Self::build(digests, params)
    }

    /// A borrowed view for searching.
    pub fn view(&self) -> MihRef<'_> {
        MihRef {
            params: self.params,
            n: self.n,
            offsets: &self.offsets,
            ids: &self.ids,
            first_implicit: self.first_implicit,
        }
    }

    /// Whether the first chunk's ids are implied by sorted digests and not stored.
    pub fn first_chunk_implicit(&self) -> bool {
        self.first_implicit
    }

    /// The parameters.
    pub fn params(&self) -> MihParams {
        self.params
    }

    /// Number of indexed entries.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// Whether no entries are indexed.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The concatenated offsets tables (to store in a file).
    pub fn offsets(&self) -> &[u32] {
        &self.offsets
    }

    /// The concatenated stored id tables (to store in a file).
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Bytes held by the tables.
    pub fn table_bytes(&self) -> usize {
        4 * (self.offsets.len() + self.ids.len())
    }
}

/// One bucket to read: its position in the concatenated offsets, its chunk and key value.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BucketSlot {
    at: usize,
    chunk: u32,
    value: u32,
}

/// How many items ahead the multi-index loops request their next random read. A candidate
/// costs a few nanoseconds of work and its digest a DRAM miss (plus a TLB walk) of well over
/// 100 ns, so many must be in flight. Measured at 10M x 256 bits, r = 31, one core (A/B of
/// `examples/mih_ab`): 8 → ~4,200 q/s, 16 → ~5,700, 32 → ~7,200, 64 → ~7,400, 128-256 → ~6,500.
pub(crate) const PREFETCH_AHEAD: usize = 32;

/// Asks the CPU to start loading the cache line holding `p` into all cache levels; does
/// nothing on other architectures. Any address is allowed: a prefetch is a hint that never
/// faults and never changes program state.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: PREFETCHT0 only hints the cache: it does not dereference `p` in the
        // language's sense, cannot fault (invalid or unmapped addresses are ignored) and is
        // part of SSE, which every x86-64 CPU has.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// What a search found wrong in tables it read (see [`MihRef::from_parts`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Corrupt(pub String);

/// A borrowed multi-index, e.g. over arrays in a memory-mapped file.
#[derive(Clone, Copy, Debug)]
pub struct MihRef<'a> {
    params: MihParams,
    n: u32,
    offsets: &'a [u32],
    ids: &'a [u32],
    /// The first chunk's ids are implied: entry order (see the module notes).
    first_implicit: bool,
}

impl<'a> From<&'a MihIndex> for MihRef<'a> {
    fn from(m: &'a MihIndex) -> Self {
        m.view()
    }
}

impl<'a> MihRef<'a> {
    /// Wraps stored tables after checking their shape in O(1): valid `params`, and lengths
    /// that match `params` and `n`. The contents are not read here (so opening a set of any
    /// size costs microseconds); instead every search checks each bucket's offsets
    /// (`lo <= hi <= n`) and each candidate id (`< n`) as it reads them and returns an error on
    /// a violation, so corrupted tables can never cause an out-of-bounds read, a panic or a
    /// false match (every candidate is verified with the full distance). A corruption that stays
    /// in range can only hide matches; [`MihRef::validate`] (and the set file's checksums,
    /// `HashSet::verify`) find those.
    ///
    /// `ids` may hold every chunk's ids (`m * n`) or all but the first's (`(m - 1) * n`), which
    /// are then the entries in order: valid only for digests in ascending order, as a set file
    /// stores them (on unsorted digests the search would miss matches, never invent them).
    pub fn from_parts(
        params: MihParams,
        offsets: &'a [u32],
        ids: &'a [u32],
        n: usize,
    ) -> Result<Self> {
        let bad = |why: String| Err(Error::InvalidArgument(format!("multi-index tables: {why}")));
        let params = MihParams::new(params.bits, params.chunks)?;
        let Ok(n32) = u32::try_from(n) else {
            return bad(format!("{n} entries exceed the 2^32 limit"));
        };
        if offsets.len() != params.offsets_len() {
            return bad(format!(
                "offsets length {} != expected {}",
                offsets.len(),
                params.offsets_len()
            ));
        }
        let first_implicit = if ids.len() == params.ids_len(n) {
            false
        } else if ids.len() == params.stored_ids_len(n, true) {
            true
        } else {
            return bad(format!(
                "ids length {} != expected {} (or {} with the first chunk implied)",
                ids.len(),
                params.ids_len(n),
                params.stored_ids_len(n, true)
            ));
        };
        Ok(MihRef {
            params,
            n: n32,
            offsets,
            ids,
            first_implicit,
        })
    }

    /// Checks the tables completely against the `digests` they index, in sequential passes:
    /// each chunk's offsets start at 0, never decrease and end at `n`, each stored chunk's ids
    /// are a permutation of `0..n` (what [`MihIndex::build`] writes), and an implied first chunk
    /// puts every entry in the bucket of its own leading bits (so the digests are in order
    /// chunk-wise). Searching never needs this (see [`MihRef::from_parts`]).
    pub fn validate(&self, digests: &[u64]) -> Result<()> {
        let bad = |why: String| Err(Error::InvalidArgument(format!("multi-index tables: {why}")));
        let (params, n) = (self.params, self.n as usize);
        let mut seen = vec![0u64; n.div_ceil(64)];
        for c in 0..params.chunks {
            let base = params.offsets_base(c);
            let table = &self.offsets[base..base + (1usize << params.width(c)) + 1];
            if table[0] != 0 || table[table.len() - 1] != self.n {
                return bad(format!("chunk {c} offsets do not span 0..{n}"));
            }
            if table.windows(2).any(|p| p[0] > p[1]) {
                return bad(format!("chunk {c} offsets decrease"));
            }
            if c == 0 && self.first_implicit {
                let (wpd, width) = (params.words_per_digest(), params.width(0));
                if digests.len() != n * wpd {
                    return bad(format!("{} digest words for {n} entries", digests.len()));
                }
                let mut bucket = 0usize;
                for (e, d) in digests.chunks_exact(wpd).enumerate() {
                    while table[bucket + 1] as usize <= e {
                        bucket += 1;
                    }
                    if chunk_value(d, 0, width) as usize != bucket {
                        return bad(format!(
                            "entry {e} lies in chunk 0 bucket {bucket}, not its own"
                        ));
                    }
                }
                continue;
            }
            let at = c as usize - usize::from(self.first_implicit);
            seen.fill(0);
            for (pos, &id) in self.ids[at * n..(at + 1) * n].iter().enumerate() {
                let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
                match seen.get_mut(word) {
                    Some(w) if id < self.n && *w & bit == 0 => *w |= bit,
                    _ => {
                        return bad(format!(
                            "chunk {c}: id {id} at {pos} is out of range or repeated"
                        ))
                    }
                }
            }
        }
        Ok(())
    }

    /// The parameters.
    pub fn params(&self) -> MihParams {
        self.params
    }

    /// Number of indexed entries.
    pub fn len(&self) -> usize {
        self.n as usize
    }

    /// Whether no entries are indexed.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Collects the id ranges of every bucket to probe for `q` at radius `r` into `ranges`
    /// (as (start, end) into `ids`) and, for an implied first chunk, its entry ranges into
    /// `direct`, stopping early and returning `None` once the candidate total would exceed
    /// `limit`. Returns the candidate total (with duplicates), or an error
    /// if a bucket's offsets are out of range (corrupted tables).
    ///
    /// Two passes, because each bucket's offsets are a cache miss on a large set (one random
    /// line of a 16 MB table per bucket): the first lists every bucket to read in `slots`, the
    /// second reads them with the offsets of the bucket [`PREFETCH_AHEAD`] places on already
    /// requested, so the misses overlap instead of queueing one after another.
    pub(crate) fn collect_buckets(
        &self,
        q: &[u64],
        r: u32,
        limit: usize,
        slots: &mut Vec<BucketSlot>,
        ranges: &mut Vec<(usize, usize)>,
        direct: &mut Vec<(u32, u32)>,
    ) -> Result<Option<usize>, Corrupt> {
        ranges.clear();
        direct.clear();
        slots.clear();
        let n = self.n as usize;
        let mut flips = [0u32; 64];
        let mut base = 0usize;
        for (c, s) in self.params.chunk_radii(r).into_iter().enumerate() {
            let c = c as u32;
            let width = self.params.width(c);
            let chunk_base = base;
            base += (1usize << width) + 1;
            let Some(s) = s else { continue };
            let key = chunk_value(q, self.params.start(c), width);
            let s = s.min(width) as usize;
            // Enumerate every subset of at most `s` of the `width` bit positions, as
            // strictly increasing index tuples.
            for k in 0..=s {
                for (i, f) in flips.iter_mut().enumerate().take(k) {
                    *f = i as u32;
                }
                loop {
                    let mut v = key;
                    for &f in &flips[..k] {
                        v ^= 1 << f;
                    }
                    slots.push(BucketSlot {
                        at: chunk_base + v as usize,
                        chunk: c,
                        value: v,
                    });
                    // Next combination: bump the rightmost index that can still move.
                    let mut j = k;
                    loop {
                        if j == 0 {
                            break;
                        }
                        j -= 1;
                        if flips[j] < width - (k - j) as u32 {
                            flips[j] += 1;
                            for t in j + 1..k {
                                flips[t] = flips[t - 1] + 1;
                            }
                            j = usize::MAX;
                            break;
                        }
                    }
                    if j != usize::MAX {
                        break;
                    }
                }
            }
        }
        let mut total = 0usize;
        for (i, slot) in slots.iter().enumerate() {
            if let Some(ahead) = slots.get(i + PREFETCH_AHEAD) {
                prefetch(self.offsets.as_ptr().wrapping_add(ahead.at));
            }
            // `at + 1` is inside the chunk's 2^width + 1 offsets, which `from_parts` checked
            // against the array's length.
            let (lo, hi) = (self.offsets[slot.at], self.offsets[slot.at + 1]);
            // The tables are not validated at open: check what this probe reads.
            if lo > hi || hi > self.n {
                return Err(Corrupt(format!(
                    "chunk {} bucket {} has offsets {lo}..{hi} outside 0..{n}",
                    slot.chunk, slot.value
                )));
            }
            if hi > lo {
                total += (hi - lo) as usize;
                if total > limit {
                    return Ok(None);
                }
                if slot.chunk == 0 && self.first_implicit {
                    direct.push((lo, hi));
                    continue;
                }
                let id_base = (slot.chunk as usize - usize::from(self.first_implicit)) * n;
                ranges.push((id_base + lo as usize, id_base + hi as usize));
            }
        }
        Ok(Some(total))
    }

    /// The concatenated ids array (for prefetching by position).
    #[inline]
    pub(crate) fn ids_ptr(&self) -> *const u32 {
        self.ids.as_ptr()
    }

    /// The entry ids in `[start, end)` of the concatenated ids array.
    #[inline]
    pub(crate) fn ids(&self, start: usize, end: usize) -> &'a [u32] {
        self.ids.get(start..end).unwrap_or(&[])
    }
}
