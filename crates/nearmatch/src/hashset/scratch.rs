//! Large working buffers of a set build: on the heap when they fit the memory budget, otherwise
//! in a temporary file mapped into memory, so that the kernel pages them instead of the build
//! failing (or, worse, the allocator aborting the process).

use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};

/// A zero-filled buffer of 8-byte-aligned bytes.
pub(crate) enum Scratch {
    /// On the heap.
    Heap(Vec<u64>, usize),
    /// In an unlinked temporary file, mapped shared.
    Mapped { map: memmap2::MmapMut, _file: File },
}

impl Scratch {
    /// A buffer of `bytes`, on the heap if `on_heap` and the allocation succeeds, else mapped
    /// from a temporary file in `dir`.
    // `vec![0; n]` would abort the process when the allocation fails; `try_reserve` first lets
    // a failed allocation fall back to a mapped file instead.
    #[allow(clippy::slow_vector_initialization)]
    pub fn new(bytes: usize, on_heap: bool, dir: &Path) -> Result<Self> {
        if on_heap || bytes == 0 {
            let mut v: Vec<u64> = Vec::new();
            if v.try_reserve_exact(bytes.div_ceil(8)).is_ok() {
                v.resize(bytes.div_ceil(8), 0);
                return Ok(Scratch::Heap(v, bytes));
            }
        }
        let ioe = |source| Error::Io {
            path: dir.to_path_buf(),
            source,
        };
        let file = tempfile::tempfile_in(dir).map_err(ioe)?;
        file.set_len(bytes as u64).map_err(ioe)?;
        // SAFETY: the file is an unlinked temporary file that only this process holds (no other
        // process can open, write or truncate it), it was sized above and is never resized
        // while mapped, and the map lives no longer than the file (both are in this value).
        let map = unsafe { memmap2::MmapMut::map_mut(&file) }.map_err(|e| {
            // A map the address space cannot take (a capped `ulimit -v`) is running out of
            // memory, not a file problem: report it as such (Python `MemoryError`, exit 71).
            if e.kind() == std::io::ErrorKind::OutOfMemory {
                Error::OutOfMemory {
                    what: "a set build's working buffer".into(),
                    bytes,
                    hint: Some("lower --memory-budget".into()),
                }
            } else {
                ioe(e)
            }
        })?;
        Ok(Scratch::Mapped { map, _file: file })
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Scratch::Heap(v, n) => &bytemuck::cast_slice(v)[..*n],
            Scratch::Mapped { map, .. } => map,
        }
    }

    /// The bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            Scratch::Heap(v, n) => &mut bytemuck::cast_slice_mut(v)[..*n],
            Scratch::Mapped { map, .. } => map,
        }
    }

    /// The buffer as `u32`s (its length must be a multiple of 4; maps are page-aligned).
    pub fn u32s_mut(&mut self) -> &mut [u32] {
        bytemuck::cast_slice_mut(self.bytes_mut())
    }

    /// The buffer as `u64`s (its length must be a multiple of 8).
    pub fn u64s_mut(&mut self) -> &mut [u64] {
        bytemuck::cast_slice_mut(self.bytes_mut())
    }
}
