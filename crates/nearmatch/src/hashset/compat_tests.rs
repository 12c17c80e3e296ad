//! Files written before format version 2 (fixtures made by the old writer itself, see
//! `fixtures/sets/make_v1.py`) still open, verify, read back and search as they did.

use std::path::PathBuf;

use super::*;
use crate::hash::Algorithm;
use crate::search::{Engine, Queries};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/sets")
        .join(name)
}

/// One record as the test reads it off a set: digest hex, id, labels, note, source.
type Row = (String, String, Vec<(String, String)>, String, u32);

/// A [`Row`] without its source (a compacted stack renumbers sources).
type Record = (String, String, Vec<(String, String)>, String);

/// The fixture list parsed by hand (no quoting in it), in the order a set stores it: sorted by
/// digest, equal digests in list order (a stable sort).
fn reference(list: &str, with_meta: bool) -> Vec<Row> {
    let text = std::fs::read_to_string(fixture(list)).unwrap();
    let mut rows: Vec<Row> = Vec::new();
    for line in text.lines().skip(usize::from(with_meta)) {
        let f: Vec<&str> = line.split(',').collect();
        let row = if with_meta {
            let labels = vec![("category".to_string(), f[2].to_string())];
            (
                f[0].to_string(),
                f[1].to_string(),
                labels,
                f[3].to_string(),
                0,
            )
        } else {
            (f[0].to_string(), String::new(), vec![], String::new(), 0)
        };
        // A record identical to an earlier one is a duplicate reject.
        if !rows.contains(&row) {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

fn rows(set: &HashSet) -> Vec<Row> {
    (0..set.len())
        .map(|i| {
            let e = set.entry(i).unwrap();
            (
                set.digest_hex(i).unwrap(),
                e.id.to_string(),
                e.labels
                    .iter()
                    .map(|l| (l.scheme.to_string(), l.value.to_string()))
                    .collect(),
                e.note.to_string(),
                e.source,
            )
        })
        .collect()
}

/// Re-lays out a set file with its sections changed by `edit` (kind, bytes), keeping the header
/// fields, and recomputing offsets and checksums: how a file of another layout is made.
pub(super) fn relayout(b: &[u8], edit: impl FnOnce(&mut Vec<(u32, Vec<u8>)>)) -> Vec<u8> {
    let u32at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let u64at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let n = u32at(48) as usize;
    let mut sections: Vec<(u32, Vec<u8>)> = (0..n)
        .map(|i| {
            let e = 64 + 32 * i;
            (
                u32at(e),
                b[u64at(e + 8)..u64at(e + 8) + u64at(e + 16)].to_vec(),
            )
        })
        .collect();
    edit(&mut sections);
    let n = sections.len();
    let header_len = 64 + 32 * n;
    let mut out = b[..64].to_vec();
    out[12..16].copy_from_slice(&(header_len as u32).to_le_bytes());
    out[48..52].copy_from_slice(&(n as u32).to_le_bytes());
    let mut table = Vec::new();
    let mut at = header_len.div_ceil(64) * 64;
    let mut body = Vec::new();
    for (kind, bytes) in &sections {
        table.extend_from_slice(&kind.to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        table.extend_from_slice(&(at as u64).to_le_bytes());
        table.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        table.extend_from_slice(&crc32fast::hash(bytes).to_le_bytes());
        table.extend_from_slice(&0u32.to_le_bytes());
        body.resize(at - header_len.div_ceil(64) * 64, 0);
        body.extend_from_slice(bytes);
        at = (at + bytes.len()).div_ceil(64) * 64;
    }
    out.extend_from_slice(&table);
    out.resize(header_len.div_ceil(64) * 64, 0);
    out.extend_from_slice(&body);
    let mut h = crc32fast::Hasher::new();
    h.update(&out[..60]);
    h.update(&table);
    let crc = h.finalize();
    out[60..64].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Radius-31 search of every entry's digest (and each with a few bits flipped): through the
/// stored index and by brute force.
fn search_both(set: &HashSet) -> Vec<crate::search::Match> {
    let mut q: Vec<u64> = set.words().to_vec();
    for (k, w) in set.words().iter().enumerate() {
        q.push(w ^ (0x0101_0101_u64 << (k % 32)));
    }
    let queries = Queries::single(&q, 4).unwrap();
    let s = set.searcher().unwrap();
    let mih = s.radius_search(&queries, 31, Engine::Mih).unwrap();
    let scan = s.radius_search(&queries, 31, Engine::Scan).unwrap();
    assert_eq!(
        mih,
        scan,
        "{}: index search != brute force",
        set.path().display()
    );
    assert!(mih.len() > q.len() / 4, "the fixture has near neighbours");
    mih
}

#[test]
fn version_1_files_open_verify_read_back_and_search() {
    for (file, list, meta, alg) in [
        ("v1-pdq.nmset", "v1-list.csv", true, Algorithm::Pdq),
        ("v1-md5.nmset", "v1-list-md5.csv", true, Algorithm::Md5),
        ("v1-plain.nmset", "v1-list.txt", false, Algorithm::Pdq),
    ] {
        let expect = reference(list, meta);
        for set in [
            HashSet::open(fixture(file)).unwrap(),
            HashSet::read(fixture(file)).unwrap(),
        ] {
            assert_eq!(set.format_version(), 1, "{file}");
            assert_eq!(set.algorithm(), alg);
            set.verify().unwrap();
            assert_eq!(rows(&set), expect, "{file}");
            let mut walked = Vec::new();
            set.for_each_entry(0..set.len(), |i, e| {
                walked.push((i, e.id.to_string()));
                Ok(())
            })
            .unwrap();
            assert_eq!(walked.len(), set.len());
            if alg == Algorithm::Pdq {
                search_both(&set);
            }
            // Carried into a new set (version 2): the same records in the same order.
            let dir = std::env::temp_dir().join(format!("nmset-v1-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let out = dir.join(file);
            merge(&[&set], &out).unwrap();
            let new = HashSet::open(&out).unwrap();
            assert_eq!(new.format_version(), FORMAT_VERSION);
            new.verify().unwrap();
            assert_eq!(rows(&new), expect, "{file} merged");
            std::fs::remove_dir_all(&dir).unwrap();
        }
    }
}

/// A version-1 file written before the first multi-index chunk's ids were implied stores them
/// (0..n): made here from the fixture by putting them back; it verifies and searches the same.
#[test]
fn version_1_with_an_explicit_first_chunk_still_searches() {
    let b = std::fs::read(fixture("v1-pdq.nmset")).unwrap();
    let set = HashSet::from_bytes(&b, "implied").unwrap();
    let n = set.len() as u32;
    let explicit = relayout(&b, |s| {
        let ids = s
            .iter_mut()
            .find(|(k, _)| *k == SectionKind::MihIds.code())
            .unwrap();
        let mut v: Vec<u8> = (0..n).flat_map(|i| i.to_le_bytes()).collect();
        v.extend_from_slice(&ids.1);
        ids.1 = v;
    });
    let old = HashSet::from_bytes(&explicit, "explicit").unwrap();
    assert_eq!(old.format_version(), 1);
    assert_eq!(
        old.section(SectionKind::MihIds).unwrap().len(),
        set.section(SectionKind::MihIds).unwrap().len() + 4 * n as usize
    );
    old.verify().unwrap();
    assert_eq!(rows(&old), rows(&set));
    assert_eq!(search_both(&old), search_both(&set));
    // The same relayout with nothing changed gives the fixture back byte for byte, so the
    // helper itself writes what the old writer wrote.
    assert_eq!(relayout(&b, |_| {}), b);
}

/// A version-2 delta on top of a version-1 base: the stack searches and reads like the set
/// `set compact` folds it into (a version-2 file), and like the reference rows.
#[test]
fn a_version_2_delta_on_a_version_1_base() {
    let dir = std::env::temp_dir().join(format!("nmset-v1delta-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = dir.join("base.nmset");
    std::fs::copy(fixture("v1-pdq.nmset"), &base).unwrap();
    let stack = LayeredSet::open(&base).unwrap();
    let removed = stack.digest_hex(3).unwrap();
    let added = dir.join("added.csv");
    std::fs::write(
        &added,
        format!(
            "hash,id,category,note\n{},12345,A,new\n{},007,ü,\n",
            "ab".repeat(32),
            "cd".repeat(32)
        ),
    )
    .unwrap();
    let mut d = DeltaWriter::create(&stack, dir.join("v2.nmset")).unwrap();
    d.remove(&hex::decode(&removed).unwrap()).unwrap();
    d.add_list(&added, &crate::import::ImportOptions::new(Algorithm::Pdq))
        .unwrap();
    d.finish().unwrap();
    let stack = LayeredSet::open(dir.join("v2.nmset")).unwrap();
    assert_eq!(stack.base().format_version(), 1);
    assert_eq!(stack.top().format_version(), FORMAT_VERSION);
    stack.verify().unwrap();
    let flat_path = dir.join("flat.nmset");
    stack.compact(&flat_path).unwrap();
    let flat = HashSet::open(&flat_path).unwrap();
    flat.verify().unwrap();
    // The reference: the fixture's rows without the removed digest, plus the two added.
    let mut expect: Vec<Record> = reference("v1-list.csv", true)
        .into_iter()
        .filter(|r| r.0 != removed)
        .map(|r| (r.0, r.1, r.2, r.3))
        .collect();
    let cat = |v: &str| vec![("category".to_string(), v.to_string())];
    expect.push(("ab".repeat(32), "12345".into(), cat("A"), "new".into()));
    expect.push(("cd".repeat(32), "007".into(), cat("ü"), String::new()));
    expect.sort_by(|a, b| a.0.cmp(&b.0));
    let strip = |r: Row| (r.0, r.1, r.2, r.3);
    let got: Vec<_> = rows(&flat).into_iter().map(strip).collect();
    assert_eq!(got, expect);
    let from_stack: Vec<Record> = stack
        .visible_in_digest_order()
        .into_iter()
        .map(|g| {
            let e = stack.entry(g).unwrap();
            (
                stack.digest_hex(g).unwrap(),
                e.id.to_string(),
                e.labels
                    .iter()
                    .map(|l| (l.scheme.to_string(), l.value.to_string()))
                    .collect::<Vec<_>>(),
                e.note.to_string(),
            )
        })
        .collect();
    assert_eq!(from_stack, expect);
    std::fs::remove_dir_all(&dir).unwrap();
}
