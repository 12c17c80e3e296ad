//! Entry records of version-2 sets: written in entry order, found through every 64th offset
//! (or not stored at all for metadata-free sets), read back equal to the records pushed.

use proptest::prelude::*;

use super::*;
use crate::hash::Algorithm;
use crate::import::{ImportRecord, Label, MemorySink, Pushed, RecordSink};

/// Ids that must come back as the same string: canonical numbers and every near miss (leading
/// zeros, signs, past `u64::MAX`, non-ASCII digits, empty).
const IDS: &[&str] = &[
    "",
    "0",
    "7",
    "42",
    "1234567",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "007",
    "00",
    "-1",
    "+5",
    "1e3",
    " 12",
    "12 ",
    "١٢",
    "m5",
    "é",
];

/// One record: `kind` picks how it is made; unique strings come from `n` (distinct per record).
fn make_record(alg: Algorithm, digest: Vec<u8>, kind: (u8, u8, u8, u8), n: usize) -> ImportRecord {
    let (id_kind, label_kind, note_kind, nlabels) = kind;
    let id = match id_kind % 4 {
        0 => IDS[n % IDS.len()].to_string(),
        1 => n.to_string(),
        2 => format!("{:03}", n % 50),
        _ => String::new(),
    };
    let labels = (0..nlabels % 6)
        .map(|k| match (label_kind + k) % 3 {
            // Repeated across records, so a dictionary would hold them once.
            0 => Label::new(["caid", "vics-US"][k as usize % 2], ["1", "2", "A"][n % 3]),
            1 => Label::new("category", format!("u{n}-{k}")),
            _ => Label::new("x", ""),
        })
        .collect();
    let note = match note_kind % 4 {
        0 => String::new(),
        1 => "seen in case 12".to_string(),
        2 => format!("note {n} ü"),
        _ => "\u{0}".to_string(),
    };
    ImportRecord {
        algorithm: alg,
        digest,
        id,
        labels,
        note,
        line: 0,
    }
}

/// What a test checks: every entry, by `entry` and by a sequential walk from `start`, against
/// the reference (the records kept by a [`MemorySink`], sorted stably by digest).
fn check_against_reference(set: &HashSet, reference: &[(ImportRecord, usize)], start: usize) {
    set.verify().unwrap();
    assert_eq!(set.len(), reference.len());
    let same = |i: usize, e: &EntryMeta<'_>| {
        let (r, src) = &reference[i];
        assert_eq!(set.digest_bytes(i).unwrap(), r.digest, "entry {i}");
        assert_eq!(e.id, r.id.as_str(), "entry {i}");
        // Numeric ids come back as owned strings, every other id borrowed from the set.
        assert_eq!(
            matches!(e.id, std::borrow::Cow::Owned(_)),
            set.format_version() >= 2 && super::dict::canonical_number(&r.id).is_some(),
            "entry {i}: {:?}",
            r.id
        );
        assert_eq!(e.note, r.note.as_str(), "entry {i}");
        assert_eq!(e.source as usize, *src, "entry {i}");
        let labels: Vec<Label> = e
            .labels
            .iter()
            .map(|l| Label::new(l.scheme, l.value))
            .collect();
        assert_eq!(labels, r.labels, "entry {i}");
    };
    for i in 0..set.len() {
        same(i, &set.entry(i).unwrap());
    }
    let start = start.min(set.len());
    let mut next = start;
    set.for_each_entry(start..set.len(), |i, e| {
        assert_eq!(i, next);
        next += 1;
        same(i, &e);
        Ok(())
    })
    .unwrap();
    assert_eq!(next, set.len());
    assert!(set.entry(set.len()).is_err());
}

/// Builds a set from `lists` (one source each) and the reference from the same records.
fn build(
    path: &std::path::Path,
    alg: Algorithm,
    lists: &[Vec<ImportRecord>],
    budget: usize,
) -> Vec<(ImportRecord, usize)> {
    let mut w = SetWriter::create(path, alg).unwrap();
    w.set_memory_budget(budget);
    let mut sink = MemorySink::default();
    let mut src = Vec::new();
    for (si, l) in lists.iter().enumerate() {
        w.begin_source(&format!("list{si}"));
        for r in l {
            let expect = sink.push(r.clone()).unwrap();
            if expect == Pushed::Added {
                src.push(si);
            }
            let got = w.push(r.clone()).unwrap();
            // Under a tiny budget a duplicate of a record in an earlier run is only found
            // when the runs are merged (the set read back is checked either way).
            if budget >= 1 << 20 {
                assert_eq!(got, expect);
            }
        }
    }
    w.finish().unwrap();
    let mut reference: Vec<(ImportRecord, usize)> = sink.records.into_iter().zip(src).collect();
    reference.sort_by(|a, b| a.0.digest.cmp(&b.0.digest));
    reference
}

fn tmp(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("nmset-rec-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The record index's mode and the stored records' length, read off the file.
fn record_layout(set: &HashSet) -> (u32, usize) {
    let ix = set.section(SectionKind::RecordIndex).unwrap();
    let mode = u32::from_le_bytes(ix[0..4].try_into().unwrap());
    (mode, set.section(SectionKind::EntryData).unwrap().len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    /// Random records around the sampled-offset boundaries (0, 1, 63, 64, 65, 127, 128, 129,
    /// 200 entries), built in one run or many (a tiny budget), read back equal to the input.
    #[test]
    fn records_read_back_at_sample_boundaries(
        count in prop::sample::select(vec![0usize, 1, 2, 63, 64, 65, 127, 128, 129, 200]),
        kinds in prop::collection::vec((0u8..4, 0u8..3, 0u8..4, 0u8..6), 1..6),
        sources in 1usize..3,
        tiny_budget in any::<bool>(),
        dup_every in 0usize..5,
        start in 0usize..210,
        alg in prop::sample::select(vec![Algorithm::Md5, Algorithm::Pdq]),
    ) {
        let nbytes = alg.bits() / 8;
        let mut lists: Vec<Vec<ImportRecord>> = vec![Vec::new(); sources];
        for n in 0..count {
            // Distinct digests, except that some repeat an earlier digest (same or other record).
            let d = if dup_every > 0 && n % (dup_every + 3) == 2 { n / 2 } else { n };
            let mut digest = vec![0u8; nbytes];
            digest[..8].copy_from_slice(&(d as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_be_bytes());
            let r = make_record(alg, digest, kinds[n % kinds.len()], if d == n { n } else { d });
            lists[n % sources].push(r);
        }
        let dir = tmp("prop");
        let path = dir.join("r.nmset");
        let reference = build(&path, alg, &lists, if tiny_budget { 1 } else { 1 << 20 });
        for set in [HashSet::open(&path).unwrap(), HashSet::read(&path).unwrap()] {
            prop_assert_eq!(set.format_version(), FORMAT_VERSION);
            check_against_reference(&set, &reference, start);
            let empty = reference.iter().all(|(r, s)| {
                r.id.is_empty() && r.note.is_empty() && r.labels.is_empty() && *s == reference[0].1
            });
            let (mode, data) = record_layout(&set);
            if empty && !reference.is_empty() {
                prop_assert_eq!((mode, data), (1, 0), "metadata-free: nothing stored");
            } else {
                prop_assert_eq!(mode, 0);
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// A plain list (every record empty, one source) stores no per-entry record at all; a second
/// source, or one record with metadata, turns the sampled records back on.
#[test]
fn metadata_free_sets_store_no_records() {
    let dir = tmp("free");
    let digest = |n: u64| {
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .to_be_bytes()
            .repeat(2)
    };
    let plain = |n: u64| make_record(Algorithm::Md5, digest(n), (3, 0, 0, 0), 0);
    let path = dir.join("p.nmset");
    let reference = build(
        &path,
        Algorithm::Md5,
        &[vec![], (0..300).map(plain).collect()],
        1,
    );
    let set = HashSet::open(&path).unwrap();
    assert_eq!(record_layout(&set), (1, 0));
    assert_eq!(set.section(SectionKind::RecordIndex).unwrap().len(), 8);
    // The one source is the second list (index 1), not 0.
    assert_eq!(set.entry(299).unwrap().source, 1);
    check_against_reference(&set, &reference, 17);
    let mut lists = vec![(0..300).map(plain).collect::<Vec<_>>(), vec![plain(1000)]];
    let reference = build(&path, Algorithm::Md5, &lists, 1 << 20);
    let set = HashSet::open(&path).unwrap();
    assert_eq!(record_layout(&set).0, 0, "two sources: records stored");
    check_against_reference(&set, &reference, 0);
    lists[1][0].id = "x".into();
    let moved = lists[1].pop().unwrap();
    lists[0].push(moved);
    let reference = build(&path, Algorithm::Md5, &lists, 1 << 20);
    let set = HashSet::open(&path).unwrap();
    assert_eq!(record_layout(&set).0, 0, "one id: records stored");
    check_against_reference(&set, &reference, 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A sample that points at the wrong record (a consistent file otherwise, checksums fixed) is
/// found by `verify`; so are trailing bytes after the last record.
#[test]
fn verify_checks_every_sample_and_the_records_end() {
    let dir = tmp("verify");
    let path = dir.join("v.nmset");
    let lists = vec![(0..130u64)
        .map(|n| {
            let d = n
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .to_be_bytes()
                .repeat(2);
            make_record(Algorithm::Md5, d, (1, 0, 1, 1), n as usize)
        })
        .collect::<Vec<_>>()];
    build(&path, Algorithm::Md5, &lists, 1 << 20);
    let b = std::fs::read(&path).unwrap();
    HashSet::from_bytes(&b, "ok").unwrap().verify().unwrap();
    let edit = |f: &dyn Fn(&mut Vec<u8>, &mut Vec<u8>)| {
        super::compat_tests::relayout(&b, |s| {
            let mut ix = s.iter().find(|x| x.0 == 9).unwrap().1.clone();
            let mut data = s.iter().find(|x| x.0 == 3).unwrap().1.clone();
            f(&mut ix, &mut data);
            s.iter_mut().find(|x| x.0 == 9).unwrap().1 = ix;
            s.iter_mut().find(|x| x.0 == 3).unwrap().1 = data;
        })
    };
    // Sample 1 (entry 64) moved to entry 65's record: a valid record, the wrong one.
    let moved = edit(&|ix, data| {
        let s1 = u64::from_le_bytes(ix[16..24].try_into().unwrap()) as usize;
        let mut c = super::format::Cursor { buf: data, pos: s1 };
        let set = HashSet::from_bytes(&b, "ok").unwrap();
        set.skip_record(&mut c).unwrap();
        ix[16..24].copy_from_slice(&(c.pos as u64).to_le_bytes());
    });
    let set = HashSet::from_bytes(&moved, "moved").unwrap();
    assert!(set.verify().unwrap_err().to_string().contains("sample 1"));
    let trailing = edit(&|_, data| data.push(0));
    let set = HashSet::from_bytes(&trailing, "trailing").unwrap();
    assert!(set
        .verify()
        .unwrap_err()
        .to_string()
        .contains("entry records"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Past a dictionary's cap (65,536 values), new label values and notes are stored in their
/// records, and the values interned before stay interned: every record still reads back.
#[test]
fn values_past_the_dictionary_cap_are_stored_inline() {
    let dir = tmp("cap");
    let path = dir.join("c.nmset");
    // 90% of the records bring a new value: past the cap by about 5,000.
    let n = super::dict::MAX_ENTRIES * 6 / 5;
    let list: Vec<ImportRecord> = (0..n as u64)
        .map(|k| {
            let d = k
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                .to_be_bytes()
                .repeat(2);
            let mut r = make_record(Algorithm::Md5, d, (1, 1, 2, 2), k as usize);
            // Every tenth record repeats a value interned at the start.
            if k % 10 == 0 {
                r.labels[0].value = "u1-0".into();
                r.note = "note 1 ü".into();
            }
            r
        })
        .collect();
    let reference = build(&path, Algorithm::Md5, &[list], 1 << 20);
    let set = HashSet::open(&path).unwrap();
    check_against_reference(&set, &reference, n - 100);
    let count = |kind| {
        let s = set.section(kind).unwrap();
        u32::from_le_bytes(s[0..4].try_into().unwrap()) as usize
    };
    assert_eq!(count(SectionKind::LabelValues), super::dict::MAX_ENTRIES);
    assert_eq!(count(SectionKind::Notes), super::dict::MAX_ENTRIES);
    std::fs::remove_dir_all(&dir).unwrap();
}
