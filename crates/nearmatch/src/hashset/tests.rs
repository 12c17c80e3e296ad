use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::error::Error;
use crate::hash::Algorithm;
use crate::import::{ImportRecord, Label, MemorySink, Pushed, RecordSink, RejectReason};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmset-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rec(alg: Algorithm, hex: &str, id: &str, labels: &[(&str, &str)], note: &str) -> ImportRecord {
    ImportRecord {
        algorithm: alg,
        digest: hex::decode(hex).unwrap(),
        id: id.into(),
        labels: labels.iter().map(|(s, v)| Label::new(*s, *v)).collect(),
        note: note.into(),
        line: 0,
    }
}

/// A small pdq set with two sources, a duplicate digest with different metadata and an
/// extra u32 section.
fn small_set(path: &Path) -> Vec<u8> {
    let mut w = SetWriter::create(path, Algorithm::Pdq).unwrap();
    w.set_build_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    w.begin_source("a.txt");
    let h1 = "f".repeat(64);
    let h2 = format!("{}1", "0".repeat(63));
    assert_eq!(
        w.push(rec(Algorithm::Pdq, &h1, "x1", &[("vics-US", "1")], "n"))
            .unwrap(),
        Pushed::Added
    );
    assert_eq!(
        w.push(rec(Algorithm::Pdq, &h2, "", &[], "")).unwrap(),
        Pushed::Added
    );
    w.begin_source("b.csv");
    assert_eq!(
        w.push(rec(
            Algorithm::Pdq,
            &h1,
            "y",
            &[("caid", "A"), ("vics-US", "2")],
            ""
        ))
        .unwrap(),
        Pushed::Added
    );
    assert_eq!(
        w.push(rec(Algorithm::Pdq, &h2, "", &[], "")).unwrap(),
        Pushed::Duplicate
    );
    w.add_section(
        SectionKind::Other(99),
        [1u32, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect(),
    )
    .unwrap();
    let s = w.finish().unwrap();
    assert_eq!(s.entries, 3);
    std::fs::read(path).unwrap()
}

#[test]
fn small_set_reads_back() {
    let dir = tmpdir("small");
    let path = dir.join("s.nmset");
    let bytes = small_set(&path);
    for set in [HashSet::open(&path).unwrap(), HashSet::read(&path).unwrap()] {
        set.verify().unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!(set.algorithm(), Algorithm::Pdq);
        assert_eq!(set.words().len(), 12);
        assert_eq!(set.words().as_ptr() as usize % 64, 0);
        // Sorted: 000..1 first, then the two f..f entries in input order.
        assert_eq!(set.digest_hex(0).unwrap(), format!("{}1", "0".repeat(63)));
        assert_eq!(set.digest_words(0).unwrap(), &[0, 0, 0, 1]);
        let e1 = set.entry(1).unwrap();
        assert_eq!((&*e1.id, e1.source, e1.note), ("x1", 0, "n"));
        assert_eq!(
            e1.labels,
            vec![LabelRef {
                scheme: "vics-US",
                value: "1"
            }]
        );
        let e2 = set.entry(2).unwrap();
        assert_eq!((&*e2.id, e2.source), ("y", 1));
        assert_eq!(
            e2.labels[0],
            LabelRef {
                scheme: "caid",
                value: "A"
            }
        );
        assert_eq!(set.lookup_exact(&[0xff; 32]), 1..3);
        assert!(set.lookup_exact(&[0xfe; 32]).is_empty());
        assert_eq!(set.lookup_exact(&[0xff; 8]), 0..0);
        assert_eq!(
            set.section_u32(SectionKind::Other(99)).unwrap(),
            Some(&[1u32, 2, 3][..])
        );
        // A perceptual set leaves the writer with its multi-index, ready to search.
        assert!(set.section(SectionKind::MihIds).is_some());
        let searcher = set.searcher().unwrap();
        let probe = crate::search::QueryBatch::new(4);
        let mut probe = probe;
        probe.push_group(&[crate::digest::Digest256::from_words([u64::MAX; 4])]);
        let hits = searcher
            .radius_search(&probe.queries(), 0, crate::search::Engine::Mih)
            .unwrap();
        let entries: Vec<u32> = hits.iter().map(|m| m.entry).collect();
        assert_eq!(
            entries,
            vec![1, 2],
            "both 0xff.. entries, found through the stored index"
        );
        let p = set.provenance().unwrap();
        assert_eq!(p.built_utc, "2023-11-14T22:13:20Z");
        assert_eq!(p.sources.len(), 2);
        assert_eq!(p.sources[1].imported, 1);
        assert_eq!(p.sources[1].rejected[&RejectReason::Duplicate], 1);
        assert!(set.entry(3).is_err());
        assert!(set.digest_words(3).is_none());
    }
    assert_eq!(&bytes[0..8], b"\x89NMSET\r\n");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Reads the header and section table by the documented byte table, independently of the
/// reader, and checks what the writer put there.
#[test]
fn format_matches_documented_table() {
    let dir = tmpdir("doc");
    let b = small_set(&dir.join("s.nmset"));
    let u32at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    assert_eq!(u32at(8), 2);
    let n = u32at(48) as usize;
    // 7 core sections, the 3 multi-index sections of a perceptual set, the test's opaque one.
    assert_eq!(n, 11);
    assert_eq!(u32at(12) as usize, 64 + 32 * n);
    assert_eq!(&b[16..32], b"pdq\0\0\0\0\0\0\0\0\0\0\0\0\0");
    assert_eq!((u32at(32), u32at(36), u64at(40)), (256, 4, 3));
    let mut crc = crc32fast::Hasher::new();
    crc.update(&b[..60]);
    crc.update(&b[64..64 + 32 * n]);
    assert_eq!(crc.finalize(), u32at(60));
    let mut kinds = Vec::new();
    for i in 0..n {
        let e = 64 + 32 * i;
        let (kind, off, len, c) = (
            u32at(e),
            u64at(e + 8) as usize,
            u64at(e + 16) as usize,
            u32at(e + 24),
        );
        assert_eq!(off % 64, 0);
        assert_eq!(crc32fast::hash(&b[off..off + len]), c);
        kinds.push(kind);
        if kind == 1 {
            // Digests: word 0 of entry 0 is 0, word 3 is 1, little-endian u64s.
            assert_eq!(u64at(off + 24), 1);
            assert_eq!(u64at(off + 32), u64::MAX);
        }
        if kind == 9 {
            // RecordIndex: sampled (mode 0), every 64th record, one sample for 3 entries: 0.
            assert_eq!((u32at(off), u32at(off + 4), len), (0, 64, 16));
            assert_eq!(u64at(off + 8), 0);
        }
        if kind == 3 {
            // EntryData: the records in entry order, back to back: source, flags (note: 4,
            // label count up to 3), id tag (2 × length + text, or 2 × number + 1), note tag,
            // label tags (2 × dictionary index + 1). Entry 0 is 000..1 with no metadata from
            // source 0; entry 1 is "x1" from source 0 with note "n" (note 0) and vics-US=1
            // (value 0); entry 2 "y" from source 1 with caid=A and vics-US=2 (values 1, 2).
            let mut expect = vec![0u8, 0, 0];
            expect.extend_from_slice(&[0, 5, 4, b'x', b'1', 1, 1]);
            expect.extend_from_slice(&[1, 2, 2, b'y', 3, 5]);
            assert_eq!(&b[off..off + len], &expect[..]);
        }
        if kind == 10 {
            // LabelValues: 3 values; schemes vics-US (0), caid (1), vics-US; ends; text.
            let mut expect = vec![3u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
            expect.extend_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, b'1', b'A', b'2']);
            assert_eq!(&b[off..off + len], &expect[..]);
        }
        if kind == 11 {
            // Notes: one note, "n".
            assert_eq!(&b[off..off + len], &[1, 0, 0, 0, 1, 0, 0, 0, b'n']);
        }
        if i == n - 1 {
            assert_eq!(off + len, b.len());
        }
    }
    let mut sorted_kinds = kinds.clone();
    sorted_kinds.sort_unstable();
    assert_eq!(sorted_kinds, vec![1, 3, 4, 5, 9, 10, 11, 16, 17, 18, 99]);
    std::fs::remove_dir_all(dir).unwrap();
}

fn expect_invalid(r: crate::error::Result<HashSet>, what: &str) {
    match r {
        Err(Error::InvalidSet { .. }) => {}
        Err(e) => panic!("{what}: wrong error {e}"),
        Ok(_) => panic!("{what}: accepted"),
    }
}

#[test]
fn every_truncation_is_an_error() {
    let dir = tmpdir("trunc");
    let path = dir.join("s.nmset");
    let b = small_set(&path);
    for len in 0..b.len() {
        expect_invalid(
            HashSet::from_bytes(&b[..len], "t"),
            &format!("truncated to {len}"),
        );
    }
    // Through the file paths too, at every section boundary.
    let set = HashSet::open(&path).unwrap();
    let n = set.section_kinds().len();
    let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let t = dir.join("t.nmset");
    for i in 0..n {
        let (off, len) = (u64at(64 + 32 * i + 8), u64at(64 + 32 * i + 16));
        for cut in [off, off + len.saturating_sub(1)] {
            if cut >= b.len() {
                continue;
            }
            std::fs::write(&t, &b[..cut]).unwrap();
            expect_invalid(HashSet::open(&t), &format!("open cut at {cut}"));
            expect_invalid(HashSet::read(&t), &format!("read cut at {cut}"));
        }
    }
    // A trailing extra byte is also refused.
    let mut longer = b.clone();
    longer.push(0);
    expect_invalid(HashSet::from_bytes(&longer, "t"), "extended");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn every_byte_change_is_detected() {
    let dir = tmpdir("flip");
    let b = small_set(&dir.join("s.nmset"));
    for pos in 0..b.len() {
        for x in [0x01u8, 0x80, 0xff] {
            let mut c = b.clone();
            c[pos] ^= x;
            if let Ok(set) = HashSet::from_bytes(&c, "f") {
                assert!(set.verify().is_err(), "byte {pos} ^ {x:#x} went unnoticed");
                search_never_misbehaves(&set);
            }
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Searching a set whose index tables were not validated (the searcher is O(1)) never panics
/// and never reports a false match: the result is correct matches only, or an error naming the
/// file.
fn search_never_misbehaves(set: &HashSet) {
    use crate::search::{Engine, Queries};
    let Ok(searcher) = set.searcher() else {
        return;
    };
    let mut q: Vec<u64> = set.words().to_vec();
    q.extend([0u64; 4]);
    let queries = Queries::single(&q, 4).unwrap();
    for r in [0, 31, 256] {
        match searcher.radius_search(&queries, r, Engine::Mih) {
            Ok(hits) => {
                for m in hits {
                    let e = &set.words()[m.entry as usize * 4..m.entry as usize * 4 + 4];
                    let p = &q[m.query as usize * 4..m.query as usize * 4 + 4];
                    let d: u32 = e.iter().zip(p).map(|(a, b)| (a ^ b).count_ones()).sum();
                    assert!(d == u32::from(m.distance) && d <= r, "false match {m:?}");
                }
            }
            Err(Error::InvalidSet { path, reason }) => {
                assert_eq!(path, Path::new("f"));
                assert!(reason.contains("multi-index"), "{reason}");
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
}

#[test]
fn corrupted_index_is_a_search_error() {
    let dir = tmpdir("mihcorrupt");
    let b = small_set(&dir.join("s.nmset"));
    let set = HashSet::from_bytes(&b, "f").unwrap();
    // Overwrite the whole MihOffsets section with out-of-range offsets.
    let i = set
        .section_kinds()
        .iter()
        .position(|k| *k == SectionKind::MihOffsets)
        .unwrap();
    let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let (off, len) = (u64at(64 + 32 * i + 8), u64at(64 + 32 * i + 16));
    let mut c = b.clone();
    c[off..off + len].fill(0xff);
    let set = HashSet::from_bytes(&c, "f").unwrap();
    let searcher = set
        .searcher()
        .expect("opening stays O(1): the tables are not read");
    let q = set.words()[..4].to_vec();
    let e = searcher
        .radius_search(
            &crate::search::Queries::single(&q, 4).unwrap(),
            10,
            crate::search::Engine::Mih,
        )
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("f") && e.contains("multi-index tables are corrupted"),
        "{e}"
    );
    let v = set.verify().unwrap_err().to_string();
    assert!(v.contains("checksum"), "{v}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn wrong_magic_and_future_version() {
    let dir = tmpdir("magic");
    let b = small_set(&dir.join("s.nmset"));
    let mut m = b.clone();
    m[1] = b'X';
    let e = HashSet::from_bytes(&m, "m").unwrap_err().to_string();
    assert!(e.contains("magic"), "{e}");
    let mut v = b.clone();
    v[8..12].copy_from_slice(&3u32.to_le_bytes());
    let e = HashSet::from_bytes(&v, "v").unwrap_err().to_string();
    assert!(e.contains("version 3") && e.contains("newer"), "{e}");
    // A version-2 file claiming version 1 lacks the per-entry offsets version 1 needs (the
    // header CRC is recomputed so only the version is wrong).
    let mut v = b.clone();
    v[8..12].copy_from_slice(&1u32.to_le_bytes());
    let n = u32::from_le_bytes(v[48..52].try_into().unwrap()) as usize;
    let crc = {
        let mut h = crc32fast::Hasher::new();
        h.update(&v[..60]);
        h.update(&v[64..64 + 32 * n]);
        h.finalize()
    };
    v[60..64].copy_from_slice(&crc.to_le_bytes());
    let e = HashSet::from_bytes(&v, "v").unwrap_err().to_string();
    assert!(e.contains("EntryOffsets"), "{e}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn merge_carries_metadata_and_provenance() {
    let dir = tmpdir("merge");
    let (a, b, m) = (
        dir.join("a.nmset"),
        dir.join("b.nmset"),
        dir.join("m.nmset"),
    );
    let md5a = "0123456789abcdef0123456789abcdef";
    let md5b = "fedcba9876543210fedcba9876543210";
    let mut w = SetWriter::create(&a, Algorithm::Md5).unwrap();
    w.begin_source("one.txt");
    w.push(rec(Algorithm::Md5, md5a, "1", &[("caid", "A")], ""))
        .unwrap();
    w.finish().unwrap();
    let mut w = SetWriter::create(&b, Algorithm::Md5).unwrap();
    w.begin_source("two.txt");
    w.push(rec(Algorithm::Md5, md5b, "2", &[], "note")).unwrap();
    w.push(rec(Algorithm::Md5, md5a, "1", &[("caid", "A")], ""))
        .unwrap(); // same as in a
    w.finish().unwrap();
    let (sa, sb) = (HashSet::open(&a).unwrap(), HashSet::open(&b).unwrap());
    merge(&[&sa, &sb], &m).unwrap();
    let sm = HashSet::open(&m).unwrap();
    sm.verify().unwrap();
    assert_eq!(sm.len(), 2);
    assert_eq!(sm.lookup_exact(&hex::decode(md5b).unwrap()), 1..2);
    assert_eq!(sm.entry(1).unwrap().note, "note");
    assert_eq!(sm.entry(1).unwrap().source, 1);
    let p = sm.provenance().unwrap();
    assert_eq!(
        p.sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["one.txt", "two.txt"]
    );
    assert_eq!(p.sources[1].imported, 1);
    assert_eq!(p.sources[1].rejected[&RejectReason::Duplicate], 1);
    assert_eq!(p.merged_from.len(), 2);
    // Mixing algorithms is refused.
    let mut w = SetWriter::create(dir.join("x.nmset"), Algorithm::Sha1).unwrap();
    assert!(w.add_set(&sa).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn index_builder_sees_sorted_digests() {
    let dir = tmpdir("idx");
    let path = dir.join("p.nmset");
    let mut w = SetWriter::create(&path, Algorithm::Phash).unwrap();
    for h in ["ffffffffffffffff", "0000000000000002", "0000000000000001"] {
        w.push(rec(Algorithm::Phash, h, "", &[], "")).unwrap();
    }
    w.finish_with(Box::new(|words, w| {
        assert_eq!((words, w), (&[1u64, 2, u64::MAX][..], 1));
        Ok(vec![(SectionKind::MihIds, vec![7, 0, 0, 0])])
    }))
    .unwrap();
    let set = HashSet::open(&path).unwrap();
    assert_eq!(
        set.section_u32(SectionKind::MihIds).unwrap(),
        Some(&[7u32][..])
    );
    assert!(matches!(set.digest(2), Some(crate::AnyDigest::D64(d)) if d.0 == [u64::MAX]));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn empty_set_is_valid() {
    let dir = tmpdir("empty");
    let path = dir.join("e.nmset");
    SetWriter::create(&path, Algorithm::Sha256)
        .unwrap()
        .finish()
        .unwrap();
    let set = HashSet::open(&path).unwrap();
    set.verify().unwrap();
    assert!(set.is_empty());
    assert_eq!(set.lookup_exact(&[1; 32]), 0..0);
    std::fs::remove_dir_all(dir).unwrap();
}

fn arb_record(alg: Algorithm) -> impl Strategy<Value = ImportRecord> {
    let nbytes = alg.bits() / 8;
    (
        // Few distinct digests so equal digests and exact duplicates both occur.
        prop::collection::vec(0u8..3, nbytes),
        prop::sample::select(vec!["", "id1", "ü-2"]),
        prop::collection::vec(
            (
                prop::sample::select(vec!["vics-US", "caid", "x"]),
                "[a-z0-9]{0,3}",
            ),
            0..3,
        ),
        prop::sample::select(vec!["", "note", "n\u{0}te"]),
    )
        .prop_map(move |(digest, id, labels, note)| ImportRecord {
            algorithm: alg,
            digest,
            id: id.into(),
            labels: labels.into_iter().map(|(s, v)| Label::new(s, v)).collect(),
            note: note.into(),
            line: 0,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn written_set_reads_back_exactly(
        (alg, universe, lists) in prop::sample::select(vec![Algorithm::Pdq, Algorithm::Phash, Algorithm::Md5, Algorithm::Sha1])
            .prop_flat_map(|alg| (
                Just(alg),
                prop::collection::vec(arb_record(alg), 1..8),
                prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..12), 1..4),
            ))
    ) {
        let lists: Vec<Vec<ImportRecord>> = lists.iter().map(|l| l.iter().map(|i| universe[i.index(universe.len())].clone()).collect()).collect();
        let dir = tmpdir("prop");
        let path = dir.join("p.nmset");
        let mut w = SetWriter::create(&path, alg).unwrap();
        // Reference: keep the first of identical records, then sort stably by digest bytes.
        let mut reference = MemorySink::default();
        let mut ref_src: Vec<usize> = Vec::new();
        for (si, l) in lists.iter().enumerate() {
            w.begin_source(&format!("list{si}"));
            for r in l {
                let expect = reference.push(r.clone()).unwrap();
                if expect == Pushed::Added { ref_src.push(si); }
                prop_assert_eq!(w.push(r.clone()).unwrap(), expect);
            }
        }
        w.finish().unwrap();
        let mut order: Vec<usize> = (0..reference.records.len()).collect();
        order.sort_by(|&a, &b| reference.records[a].digest.cmp(&reference.records[b].digest));
        for set in [HashSet::open(&path).unwrap(), HashSet::read(&path).unwrap()] {
            set.verify().unwrap();
            prop_assert_eq!(set.len(), order.len());
            for (i, &k) in order.iter().enumerate() {
                let r = &reference.records[k];
                prop_assert_eq!(set.digest_bytes(i).unwrap(), r.digest.clone());
                let e = set.entry(i).unwrap();
                prop_assert_eq!(e.id, r.id.as_str());
                prop_assert_eq!(e.note, r.note.as_str());
                prop_assert_eq!(e.source as usize, ref_src[k]);
                let labels: Vec<Label> = e.labels.iter().map(|l| Label::new(l.scheme, l.value)).collect();
                prop_assert_eq!(&labels, &r.labels);
                prop_assert!(set.lookup_exact(&r.digest).contains(&i));
            }
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Measurement, not a check: `cargo test -p nearmatch --release -- --ignored measure_exact --nocapture`.
#[test]
#[ignore]
fn measure_exact_lookup() {
    use std::time::Instant;
    let dir = tmpdir("measure");
    let path = dir.join("m.nmset");
    let n = 1_000_000u64;
    let key = |i: u64| -> Vec<u8> {
        let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5555;
        (0..2)
            .flat_map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                x.to_be_bytes()
            })
            .collect()
    };
    let t = Instant::now();
    let mut w = SetWriter::create(&path, Algorithm::Md5).unwrap();
    w.begin_source("synthetic");
    for i in 0..n {
        w.push(rec(
            Algorithm::Md5,
            &hex::encode(key(i)),
            &i.to_string(),
            &[("vics-US", "1")],
            "",
        ))
        .unwrap();
    }
    let s = w.finish().unwrap();
    eprintln!("build {n}: {:?}, {} bytes", t.elapsed(), s.bytes);
    let t = Instant::now();
    let set = HashSet::open(&path).unwrap();
    eprintln!("open: {:?}", t.elapsed());
    let t = Instant::now();
    set.verify().unwrap();
    eprintln!("verify: {:?}", t.elapsed());
    let t = Instant::now();
    let mut hits = 0;
    for i in 0..n {
        hits += set.lookup_exact(&key(i * 7 % n)).len();
    }
    eprintln!("lookup_exact hit: {:?}/lookup", t.elapsed() / n as u32);
    assert_eq!(hits as u64, n);
    let t = Instant::now();
    let mut misses_found = 0;
    for i in 0..n {
        misses_found += set.lookup_exact(&key(n + i)).len();
    }
    eprintln!("lookup_exact miss: {:?}/lookup", t.elapsed() / n as u32);
    assert_eq!(misses_found, 0);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Builds `lists` (one source each) into `path` with a memory `budget`.
fn build_lists(path: &Path, alg: Algorithm, lists: &[Vec<ImportRecord>], budget: usize) -> usize {
    let mut w = SetWriter::create(path, alg).unwrap();
    w.set_build_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    w.set_memory_budget(budget);
    for (si, l) in lists.iter().enumerate() {
        w.begin_source(&format!("list{si}"));
        for r in l {
            w.push(r.clone()).unwrap();
        }
    }
    let runs = w.runs_on_disk();
    w.finish().unwrap();
    runs
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    /// A budget small enough to force sorted runs on disk (16 entries per run) builds the set
    /// a brute-force reference says it should: first copies kept, sorted by digest, duplicates
    /// across runs counted against their sources; the index equals the one built in memory.
    #[test]
    fn bounded_memory_build_equals_the_reference(
        (alg, universe, lists) in prop::sample::select(vec![Algorithm::Pdq, Algorithm::Phash, Algorithm::Md5])
            .prop_flat_map(|alg| (
                Just(alg),
                prop::collection::vec(arb_record(alg), 1..40),
                prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 0..60), 1..4),
            ))
    ) {
        let lists: Vec<Vec<ImportRecord>> = lists.iter().map(|l| l.iter().map(|i| universe[i.index(universe.len())].clone()).collect()).collect();
        let dir = tmpdir("bounded");
        let (small, big) = (dir.join("small.nmset"), dir.join("big.nmset"));
        let runs = build_lists(&small, alg, &lists, 1);
        build_lists(&big, alg, &lists, DEFAULT_MEMORY_BUDGET);
        let mut reference = MemorySink::default();
        let mut ref_src = Vec::new();
        let mut added = vec![0u64; lists.len()];
        for (si, l) in lists.iter().enumerate() {
            for r in l {
                if reference.push(r.clone()).unwrap() == Pushed::Added {
                    ref_src.push(si);
                    added[si] += 1;
                }
            }
        }
        // More than a run's worth of distinct records cannot fit in one run.
        prop_assert!(reference.records.len() <= 16 || runs > 0);
        let mut order: Vec<usize> = (0..reference.records.len()).collect();
        order.sort_by(|&a, &b| reference.records[a].digest.cmp(&reference.records[b].digest));
        let set = HashSet::open(&small).unwrap();
        let other = HashSet::open(&big).unwrap();
        set.verify().unwrap();
        prop_assert_eq!(set.len(), order.len());
        for (i, &k) in order.iter().enumerate() {
            let r = &reference.records[k];
            prop_assert_eq!(set.digest_bytes(i).unwrap(), r.digest.clone());
            let e = set.entry(i).unwrap();
            prop_assert_eq!((&*e.id, e.note, e.source as usize), (r.id.as_str(), r.note.as_str(), ref_src[k]));
            let labels: Vec<Label> = e.labels.iter().map(|l| Label::new(l.scheme, l.value)).collect();
            prop_assert_eq!(&labels, &r.labels);
        }
        let prov = set.provenance().unwrap();
        for (si, l) in lists.iter().enumerate() {
            let s = &prov.sources[si];
            prop_assert_eq!(s.imported, added[si]);
            let dups = s.rejected.get(&RejectReason::Duplicate).copied().unwrap_or(0);
            prop_assert_eq!(dups, l.len() as u64 - added[si]);
        }
        // The same entries, the same provenance and the same search index whatever the budget.
        prop_assert_eq!(prov, other.provenance().unwrap());
        for k in [SectionKind::Digests, SectionKind::MihParams, SectionKind::MihOffsets, SectionKind::MihIds] {
            prop_assert_eq!(set.section(k), other.section(k));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// Thousands of clustered PDQ digests, many duplicated across runs, built with a budget of
/// about 200 entries per run (and so with the index in mapped temporary files): radius-31
/// search over the result equals brute force over the distinct digests.
#[test]
fn bounded_memory_pdq_build_searches_like_brute_force() {
    use crate::search::{Engine, Queries};
    let dir = tmpdir("bounded-pdq");
    let path = dir.join("pdq.nmset");
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // 300 centres, each with neighbours a few bits away; every record pushed twice, the second
    // time thousands of pushes later (so in another run).
    let centres: Vec<[u64; 4]> = (0..300).map(|_| [next(), next(), next(), next()]).collect();
    let mut digests = Vec::new();
    for i in 0..3000 {
        let mut d = centres[i % centres.len()];
        for _ in 0..(next() % 40) {
            let bit = next() % 256;
            d[(bit / 64) as usize] ^= 1 << (bit % 64);
        }
        digests.push(d);
    }
    let hexes: Vec<String> = digests
        .iter()
        .map(|d| d.iter().map(|w| format!("{w:016x}")).collect())
        .collect();
    let mut w = SetWriter::create(&path, Algorithm::Pdq).unwrap();
    w.set_memory_budget(200 * super::runs::BYTES_PER_PENDING);
    w.begin_source("twice");
    for _round in 0..2 {
        for h in &hexes {
            w.push(rec(Algorithm::Pdq, h, "", &[], "")).unwrap();
        }
    }
    assert!(w.runs_on_disk() >= 20);
    w.finish().unwrap();
    let set = HashSet::open(&path).unwrap();
    set.verify().unwrap();
    let mut distinct = digests.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(set.len(), distinct.len());
    let p = set.provenance().unwrap();
    assert_eq!(p.sources[0].imported as usize, distinct.len());
    assert_eq!(
        p.sources[0].rejected[&RejectReason::Duplicate] as usize,
        2 * digests.len() - distinct.len()
    );
    let queries: Vec<u64> = centres.iter().take(60).flatten().copied().collect();
    let searcher = set.searcher().unwrap();
    let hits = searcher
        .radius_search(&Queries::single(&queries, 4).unwrap(), 31, Engine::Mih)
        .unwrap();
    let mut expected = Vec::new();
    for (q, c) in centres.iter().take(60).enumerate() {
        for (e, d) in distinct.iter().enumerate() {
            let dist: u32 = c.iter().zip(d).map(|(a, b)| (a ^ b).count_ones()).sum();
            if dist <= 31 {
                expected.push((q as u32, e as u32, dist as u16));
            }
        }
    }
    let got: Vec<(u32, u32, u16)> = hits
        .iter()
        .map(|m| (m.query, m.entry, m.distance))
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Sorted runs kept in memory (while the budget has room) and runs on disk merge into the very
/// set, byte for byte, that one in-memory run and runs all on disk give: the same entries,
/// records, duplicates and index.
#[test]
fn runs_in_memory_and_on_disk_build_the_same_set() {
    let dir = tmpdir("runs-mixed");
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    // 3,000 records with ids, labels and some notes; one in eight repeats an earlier digest
    // (a duplicate when its record is equal, a second entry when not).
    let mut recs: Vec<ImportRecord> = Vec::new();
    for i in 0..3000u64 {
        let hex = if i % 8 == 7 {
            recs[(next() % i) as usize]
                .digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        } else {
            (0..4)
                .map(|_| format!("{:016x}", next()))
                .collect::<String>()
        };
        let id = if i % 8 == 7 && next() % 2 == 0 {
            "dup".to_string()
        } else {
            format!("{i}")
        };
        let cat = format!("{}", next() % 5);
        let note = if i % 3 == 0 { "seen" } else { "" };
        recs.push(rec(Algorithm::Pdq, &hex, &id, &[("category", &cat)], note));
    }
    let build = |name: &str, budget: usize| {
        let path = dir.join(name);
        let mut w = SetWriter::create(&path, Algorithm::Pdq).unwrap();
        w.set_build_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        w.set_memory_budget(budget);
        w.begin_source("list");
        for r in &recs {
            w.push(r.clone()).unwrap();
        }
        let runs = (w.runs_in_memory(), w.runs_on_disk());
        w.finish().unwrap();
        (std::fs::read(&path).unwrap(), runs)
    };
    let (one, one_runs) = build("one.nmset", DEFAULT_MEMORY_BUDGET);
    let (disk, disk_runs) = build("disk.nmset", 1);
    // 300 entries per run (half the budget); the first run or two fit beside the buffer.
    let (mixed, mixed_runs) = build("mixed.nmset", 600 * super::runs::BYTES_PER_PENDING);
    assert_eq!(one_runs, (0, 0));
    assert_eq!(disk_runs.0, 0);
    assert!(disk_runs.1 > 100, "{disk_runs:?}");
    assert!(mixed_runs.0 >= 1 && mixed_runs.1 >= 5, "{mixed_runs:?}");
    assert!(
        one == disk,
        "the all-on-disk build differs from the one-run build"
    );
    assert!(
        one == mixed,
        "the mixed build differs from the one-run build"
    );
    let set = HashSet::open(dir.join("mixed.nmset")).unwrap();
    set.verify().unwrap();
    let dups = set.provenance().unwrap().sources[0]
        .rejected
        .get(&RejectReason::Duplicate)
        .copied();
    assert!(dups.unwrap_or(0) > 0, "the test data holds duplicates");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Strict mode holds across runs: a duplicate whose first copy went to disk is an error
/// naming the list and the line, as one caught at push time is.
#[test]
fn strict_duplicate_across_runs_is_an_error() {
    let dir = tmpdir("strict-runs");
    let list = dir.join("list.txt");
    let mut text = String::new();
    for i in 0..40u32 {
        text.push_str(&format!("{:032x}\n", u128::from(i) + 1));
    }
    text.push_str(&format!("{:032x}\n", 1u128));
    std::fs::write(&list, &text).unwrap();
    let mut opts = crate::import::ImportOptions::new(Algorithm::Md5);
    opts.strict = true;
    let mut w = SetWriter::create(dir.join("s.nmset"), Algorithm::Md5).unwrap();
    w.set_memory_budget(1);
    w.import_file(&list, &opts).unwrap();
    let err = w.finish().unwrap_err().to_string();
    assert!(
        err.contains("list.txt") && err.contains("line 41") && err.contains("duplicate"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
