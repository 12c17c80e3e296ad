//! The search index stored in a set file: built once at set-build time, borrowed at open.
//!
//! Perceptual sets carry the multi-index tables of [`crate::search::MihIndex`] as three
//! sections (`MihParams`: two little-endian u32 — digest bits and chunk count; `MihOffsets`,
//! `MihIds`: u32 arrays). Exact sets (MD5, SHA-1, SHA-256) need none: their digests are sorted
//! and looked up by binary search.

use std::path::Path;

use super::scratch::Scratch;
use super::{HashSet, SectionKind};
use crate::error::{Error, Result};
use crate::search::mih::{build_tables, build_tables_external};
use crate::search::{MihIndex, MihParams, MihRef, Searcher};

/// Builds the index sections for a set's sorted digest words (`words_per_digest` per entry).
pub fn build_index_sections(
    words: &[u64],
    words_per_digest: usize,
) -> Result<Vec<(SectionKind, Vec<u8>)>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let index = MihIndex::build_auto(words, words_per_digest)?;
    let p = index.params();
    let mut params = Vec::with_capacity(8);
    params.extend_from_slice(&p.bits.to_le_bytes());
    params.extend_from_slice(&p.chunks.to_le_bytes());
    Ok(vec![
        (SectionKind::MihParams, params),
        (
            SectionKind::MihOffsets,
            bytemuck::cast_slice(index.offsets()).to_vec(),
        ),
        (
            SectionKind::MihIds,
            bytemuck::cast_slice(index.ids()).to_vec(),
        ),
    ])
}

/// Where the bytes of one index section are, as the set writer receives them.
pub(crate) enum IndexSection {
    /// In a buffer (heap, or a mapped file if the heap allocation failed).
    Memory(Scratch),
    /// In a temporary file of this many bytes.
    File(std::fs::File, u64),
}

/// The index sections as [`build_index_sections`] makes them, built on the heap when the
/// tables and the sort's scratch together fit `budget` bytes, else by an external sort through
/// temporary files in `dir` (sequential I/O, memory bounded by one chunk's offsets table): what
/// lets the writer index 100M+ digests in a small, fixed amount of memory.
pub(crate) fn build_index_scratch(
    words: &[u64],
    words_per_digest: usize,
    dir: &Path,
    budget: usize,
) -> Result<Vec<(SectionKind, IndexSection)>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let n = words.len() / words_per_digest;
    if u32::try_from(n).is_err() {
        return Err(Error::InvalidArgument(format!(
            "{n} entries exceed the 2^32 index limit"
        )));
    }
    let params = MihParams::auto(n, 64 * words_per_digest as u32)?;
    let workers = rayon::current_num_threads().clamp(1, params.chunks as usize);
    debug_assert!(crate::search::mih::is_sorted_words(words, words_per_digest));
    let table_bytes = 4 * (params.offsets_len() + params.stored_ids_len(n, true));
    let scratch_bytes = 12 * n * workers;
    let mut head = Scratch::new(8, true, dir)?;
    head.bytes_mut()[..4].copy_from_slice(&params.bits.to_le_bytes());
    head.bytes_mut()[4..].copy_from_slice(&params.chunks.to_le_bytes());
    let head = (SectionKind::MihParams, IndexSection::Memory(head));
    if table_bytes + scratch_bytes > budget {
        let ioe = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let offsets = tempfile::tempfile_in(dir).map_err(ioe)?;
        let ids = tempfile::tempfile_in(dir).map_err(ioe)?;
        {
            use std::io::Write;
            let mut o = std::io::BufWriter::with_capacity(1 << 20, &offsets);
            let mut i = std::io::BufWriter::with_capacity(1 << 20, &ids);
            build_tables_external(words, params, dir, &mut o, &mut i, true).map_err(ioe)?;
            o.flush().map_err(ioe)?;
            i.flush().map_err(ioe)?;
        }
        return Ok(vec![
            head,
            (
                SectionKind::MihOffsets,
                IndexSection::File(offsets, 4 * params.offsets_len() as u64),
            ),
            (
                SectionKind::MihIds,
                IndexSection::File(ids, 4 * params.stored_ids_len(n, true) as u64),
            ),
        ]);
    }
    let mut offsets = Scratch::new(4 * params.offsets_len(), true, dir)?;
    let mut ids = Scratch::new(4 * params.stored_ids_len(n, true), true, dir)?;
    let mut keys = Scratch::new(4 * n * workers, true, dir)?;
    let mut pairs = Scratch::new(8 * n * workers, true, dir)?;
    let scratch = keys
        .u32s_mut()
        .chunks_mut(n)
        .zip(pairs.u64s_mut().chunks_mut(n))
        .collect();
    build_tables(
        words,
        params,
        offsets.u32s_mut(),
        ids.u32s_mut(),
        scratch,
        true,
    );
    Ok(vec![
        head,
        (SectionKind::MihOffsets, IndexSection::Memory(offsets)),
        (SectionKind::MihIds, IndexSection::Memory(ids)),
    ])
}

impl HashSet {
    /// A searcher over this set's digests, using the stored multi-index when there is one.
    ///
    /// O(1): the index tables are borrowed from the file after checking only their shape; each
    /// search checks what it reads from them, and a corrupted table is an error naming this
    /// file, never a wrong match or an out-of-bounds read (see [`MihRef::from_parts`]).
    /// [`HashSet::verify`] checks them completely.
    ///
    /// Only perceptual sets are searched by distance; exact sets use [`HashSet::lookup_exact`].
    pub fn searcher(&self) -> Result<Searcher<'_>> {
        if self.algorithm().is_cryptographic() {
            return Err(Error::InvalidArgument(format!(
                "{} sets are matched exactly (lookup_exact), not by distance",
                self.algorithm()
            )));
        }
        let searcher = Searcher::new(self.words(), self.words_per_digest())
            .map_err(|e| self.invalid(e.to_string()))?
            .with_origin(self.path());
        match self.stored_index()? {
            None => Ok(searcher),
            Some(mih) => searcher
                .with_index(mih)
                .map_err(|e| self.invalid(e.to_string())),
        }
    }

    /// The stored multi-index, borrowed after an O(1) shape check; `None` if the set has none.
    pub(crate) fn stored_index(&self) -> Result<Option<MihRef<'_>>> {
        let bad = |reason: String| self.invalid(reason);
        let Some(params) = self.section(SectionKind::MihParams) else {
            return Ok(None);
        };
        if params.len() != 8 {
            return Err(bad(format!(
                "multi-index parameters are {} bytes, expected 8",
                params.len()
            )));
        }
        let u = |i: usize| u32::from_le_bytes(params[i..i + 4].try_into().expect("4 bytes"));
        let params = MihParams {
            bits: u(0),
            chunks: u(4),
        };
        let offsets = self
            .section_u32(SectionKind::MihOffsets)?
            .ok_or_else(|| bad("multi-index offsets missing".into()))?;
        let ids = self
            .section_u32(SectionKind::MihIds)?
            .ok_or_else(|| bad("multi-index ids missing".into()))?;
        MihRef::from_parts(params, offsets, ids, self.len())
            .map(Some)
            .map_err(|e| bad(e.to_string()))
    }
}
