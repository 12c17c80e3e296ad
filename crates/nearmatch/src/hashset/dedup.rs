//! The set writer's push-time duplicate table: record fingerprints to positions in the sort
//! buffer, one `u64` per slot.
//!
//! Why not a `HashMap<u64, u32>`: every record pushed into a build looks itself up once, and on
//! random digests almost every lookup misses. hashbrown's miss reads a control-byte group and
//! then a 16-byte bucket elsewhere (two cache misses on a table of tens of MB), about 15% of a
//! 10M-entry CSV build's CPU. Here a slot packs the fingerprint's top 32 bits (the tag) with the
//! entry's position + 1 (0 marks an empty slot), and the probe sequence starts at the
//! fingerprint's low bits, so a miss reads one cache line: the run of occupied slots from the
//! home slot to the first empty one, at most half full. The sort buffer is read only when a tag
//! matches (a true duplicate, or a 1-in-2^32 accident), and the caller confirms each candidate
//! in full, so neither tags nor whole fingerprints colliding can make different records equal.

use std::collections::TryReserveError;

/// Slots hold a 32-bit tag and a 32-bit position + 1: positions must stay below this.
pub(super) const MAX_POSITION: u32 = u32::MAX - 1;

const TAG_MASK: u64 = 0xFFFF_FFFF_0000_0000;

/// Fewest slots a table allocates (a tiny build should not pay for a big table).
const MIN_SLOTS: usize = 64;

/// An open-addressing (linear probing) table from fingerprints to buffer positions.
#[derive(Debug, Default)]
pub(super) struct DedupTable {
    /// A power of two slots (or none before the first insert); 0 is empty.
    slots: Vec<u64>,
    len: usize,
}

impl DedupTable {
    /// Number of positions stored.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Forgets every position, keeping the allocation (the next run reuses it).
    pub fn clear(&mut self) {
        self.slots.fill(0);
        self.len = 0;
    }

    /// Frees the table.
    pub fn release(&mut self) {
        *self = DedupTable::default();
    }

    /// Bytes allocated.
    pub fn allocated(&self) -> usize {
        self.slots.capacity() * 8
    }

    fn home(&self, fp: u64) -> usize {
        (fp as usize) & (self.slots.len() - 1)
    }

    /// The first stored position with `fp`'s tag that `same` accepts, in probe order; `same`
    /// must check the whole record (tags are only 32 bits of the fingerprint).
    pub fn find<E>(
        &self,
        fp: u64,
        mut same: impl FnMut(u32) -> Result<bool, E>,
    ) -> Result<Option<u32>, E> {
        if self.slots.is_empty() {
            return Ok(None);
        }
        let mask = self.slots.len() - 1;
        let tag = fp & TAG_MASK;
        let mut at = self.home(fp);
        loop {
            let slot = self.slots[at];
            if slot == 0 {
                return Ok(None);
            }
            if slot & TAG_MASK == tag {
                let pos = (slot as u32) - 1;
                if same(pos)? {
                    return Ok(Some(pos));
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Stores `pos` under `fp` (after [`Self::find`] found no equal record). Past half full the
    /// table doubles, re-placing each stored position by its full fingerprint, `fp_of(pos)`.
    pub fn insert(
        &mut self,
        fp: u64,
        pos: u32,
        fp_of: impl Fn(u32) -> u64,
    ) -> Result<(), TryReserveError> {
        assert!(pos <= MAX_POSITION, "dedup position {pos} out of range");
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow(fp_of)?;
        }
        self.place(fp, pos);
        self.len += 1;
        Ok(())
    }

    fn place(&mut self, fp: u64, pos: u32) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(fp);
        while self.slots[at] != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = (fp & TAG_MASK) | u64::from(pos + 1);
    }

    fn grow(&mut self, fp_of: impl Fn(u32) -> u64) -> Result<(), TryReserveError> {
        let n = (self.slots.len() * 2).max(MIN_SLOTS);
        let mut slots = Vec::new();
        slots.try_reserve_exact(n)?;
        slots.resize(n, 0);
        let old = std::mem::replace(&mut self.slots, slots);
        for slot in old.into_iter().filter(|&s| s != 0) {
            let pos = (slot as u32) - 1;
            self.place(fp_of(pos), pos);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// How a record's fingerprint is made from its identity: adversarial ones collide often.
    #[derive(Clone, Copy, Debug)]
    enum Fp {
        /// Well spread (the writer's case).
        Mixed,
        /// Every record the same fingerprint: all tags and homes collide.
        Constant,
        /// Few tags, spread homes.
        SameTag,
        /// Spread tags, few homes (long probe runs through foreign tags).
        SameHome,
    }

    fn fingerprint(kind: Fp, record: u32) -> u64 {
        let mixed = u64::from(record)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29)
            .wrapping_mul(0xBF58_476D_1CE4_E5B9);
        match kind {
            Fp::Mixed => mixed,
            Fp::Constant => 0xDEAD_BEEF_0000_0007,
            Fp::SameTag => (u64::from(record % 3) << 32) | (mixed & 0xFFFF_FFFF),
            Fp::SameHome => (mixed & TAG_MASK) | u64::from(record % 2),
        }
    }

    fn kind() -> impl Strategy<Value = Fp> {
        prop_oneof![
            Just(Fp::Mixed),
            Just(Fp::Constant),
            Just(Fp::SameTag),
            Just(Fp::SameHome)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Pushing records (ids drawn from a small range, so many repeat) through find/insert as
        /// the writer does keeps exactly the first copy of each, as a std `HashMap` keyed by the
        /// record itself does; `clear` (a run written out) forgets everything.
        #[test]
        fn dedup_table_equals_a_hashmap(
            kind in kind(),
            ops in proptest::collection::vec(
                prop_oneof![9 => (0u32..300).prop_map(Some), 1 => Just(None)], 1..2000),
        ) {
            let mut table = DedupTable::default();
            let mut reference: HashMap<u32, u32> = HashMap::new();
            // The sort buffer: record identity at each stored position.
            let mut buffer: Vec<u32> = Vec::new();
            for op in ops {
                let Some(record) = op else {
                    table.clear();
                    reference.clear();
                    buffer.clear();
                    continue;
                };
                let fp = fingerprint(kind, record);
                let found = table
                    .find(fp, |pos| Ok::<_, ()>(buffer[pos as usize] == record))
                    .unwrap();
                prop_assert_eq!(found, reference.get(&record).copied());
                if found.is_none() {
                    let pos = buffer.len() as u32;
                    let fps: Vec<u64> = buffer.iter().map(|&r| fingerprint(kind, r)).collect();
                    table.insert(fp, pos, |p| fps[p as usize]).unwrap();
                    buffer.push(record);
                    reference.insert(record, pos);
                }
                prop_assert_eq!(table.len(), reference.len());
                prop_assert!(table.len() * 2 <= table.slots.len());
            }
        }
    }

    /// `same` is consulted only for matching tags, and its errors come back.
    #[test]
    fn only_matching_tags_are_checked_and_errors_pass_through() {
        let mut t = DedupTable::default();
        t.insert(0x0000_0001_0000_0005, 0, |_| 0x0000_0001_0000_0005)
            .unwrap();
        let mut asked = Vec::new();
        let r = t
            .find(0x0000_0002_0000_0005, |p| {
                asked.push(p);
                Ok::<_, ()>(true)
            })
            .unwrap();
        assert_eq!((r, asked.len()), (None, 0));
        assert_eq!(t.find(0x0000_0001_0000_0005, |_| Err("io")), Err("io"));
    }
}
