//! Delta layers: the stack searches like one set rebuilt from the final list.

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::digest::{AnyDigest, Digest256};
use crate::error::Error;
use crate::hash::Algorithm;
use crate::import::{ImportOptions, ImportRecord, Label, RecordSink};
use crate::search::{Engine, Match, ProbeRadii, Queries, QueryProbe, Searcher};

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nmlayers-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A record as the model sees it: digest, id, label value (scheme `caid`), note.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Rec {
    digest: [u64; 4],
    id: String,
    label: Option<String>,
    note: String,
}

impl Rec {
    fn hex(&self) -> String {
        Digest256::from_words(self.digest).to_string()
    }

    fn import(&self) -> ImportRecord {
        ImportRecord {
            algorithm: Algorithm::Pdq,
            digest: hex::decode(self.hex()).unwrap(),
            id: self.id.clone(),
            labels: self.label.iter().map(|v| Label::new("caid", v)).collect(),
            note: self.note.clone(),
            line: 0,
        }
    }
}

/// What a hit shows a user: query, digest, id, labels, note, distance.
type Shown = (usize, String, String, Vec<(String, String)>, String, u32);

fn shown(q: usize, hex: String, m: &EntryMeta<'_>, d: u32) -> Shown {
    (
        q,
        hex,
        m.id.to_string(),
        m.labels
            .iter()
            .map(|l| (l.scheme.to_string(), l.value.to_string()))
            .collect(),
        m.note.to_string(),
        d,
    )
}

fn build(path: &Path, recs: &[Rec]) {
    let mut w = SetWriter::create(path, Algorithm::Pdq).unwrap();
    w.set_build_time(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    w.begin_source("list.txt");
    for r in recs {
        w.push(r.import()).unwrap();
    }
    w.finish().unwrap();
}

/// Applies one delta to the model list: removed digests go, additions come, no copies.
fn apply(list: &mut Vec<Rec>, adds: &[Rec], removes: &[[u64; 4]]) {
    list.retain(|r| !removes.contains(&r.digest));
    for a in adds {
        if !list.contains(a) {
            list.push(a.clone());
        }
    }
}

fn delta(stack: &LayeredSet, out: &Path, adds: &[Rec], removes: &[[u64; 4]]) -> DeltaSummary {
    let mut d = DeltaWriter::create(stack, out).unwrap();
    d.begin_source("adds.txt");
    for a in adds {
        d.push(a.import()).unwrap();
    }
    for r in removes {
        d.remove(&hex::decode(Digest256::from_words(*r).to_string()).unwrap())
            .unwrap();
    }
    d.finish().unwrap()
}

/// Exact lookups and radius-`r` searches of every query on the stack and on `rebuilt`: the
/// same records, the same number of times.
fn assert_same(stack: &LayeredSet, rebuilt: &HashSet, queries: &[[u64; 4]], r: u32) {
    assert_eq!(stack.effective_len(), rebuilt.len());
    let mut a = Vec::new();
    let mut b = Vec::new();
    for (q, words) in queries.iter().enumerate() {
        let bytes = hex::decode(Digest256::from_words(*words).to_string()).unwrap();
        for g in stack.lookup_exact(&bytes) {
            a.push(shown(
                q,
                stack.digest_hex(g).unwrap(),
                &stack.entry(g).unwrap(),
                0,
            ));
        }
        for e in rebuilt.lookup_exact(&bytes) {
            b.push(shown(
                q,
                rebuilt.digest_hex(e).unwrap(),
                &rebuilt.entry(e).unwrap(),
                0,
            ));
        }
    }
    a.sort();
    b.sort();
    assert_eq!(a, b, "exact lookups differ");

    let probes: Vec<Vec<QueryProbe>> = queries
        .iter()
        .map(|w| {
            vec![QueryProbe::plain(AnyDigest::D256(Digest256::from_words(
                *w,
            )))]
        })
        .collect();
    let lists: Vec<&[QueryProbe]> = probes.iter().map(Vec::as_slice).collect();
    let radii = ProbeRadii { set: r, derived: r };
    let mut a = Vec::new();
    let mut b = Vec::new();
    if !stack.is_empty() {
        for engine in [Engine::Auto, Engine::Scan] {
            let mut got = Vec::new();
            for m in stack
                .searcher()
                .unwrap()
                .match_probes(&lists, radii, engine)
                .unwrap()
            {
                got.push(shown(
                    m.query,
                    stack.digest_hex(m.entry).unwrap(),
                    &stack.entry(m.entry).unwrap(),
                    m.distance,
                ));
            }
            got.sort();
            if engine == Engine::Auto {
                a = got;
            } else {
                assert_eq!(a, got, "engines differ on the stack");
            }
        }
    }
    if !rebuilt.is_empty() {
        for m in rebuilt
            .searcher()
            .unwrap()
            .match_probes(&lists, radii, Engine::Scan)
            .unwrap()
        {
            b.push(shown(
                m.query,
                rebuilt.digest_hex(m.entry).unwrap(),
                &rebuilt.entry(m.entry).unwrap(),
                m.distance,
            ));
        }
    }
    b.sort();
    assert_eq!(a, b, "radius-{r} searches differ");

    // k-NN: the k nearest distances of each query equal the rebuilt set's (which entries win a
    // tie depends on numbering, which differs), and each hit is a visible entry at its distance.
    let words: Vec<u64> = queries.iter().flatten().copied().collect();
    let qs = Queries::single(&words, 4).unwrap();
    for k in [1usize, 3, 50] {
        let dists = |hits: &[Match]| {
            let mut per = vec![Vec::new(); queries.len()];
            for m in hits {
                per[m.query as usize].push(m.distance);
            }
            per
        };
        let got = if stack.is_empty() {
            Vec::new()
        } else {
            stack.searcher().unwrap().knn(&qs, k).unwrap()
        };
        for m in &got {
            assert!(
                stack.is_visible_global(m.entry as usize),
                "k-NN returned a hidden entry"
            );
            let d =
                Digest256::from_words(queries[m.query as usize]).distance(&Digest256::from_words(
                    stack
                        .digest_words(m.entry as usize)
                        .unwrap()
                        .try_into()
                        .unwrap(),
                ));
            assert_eq!(u32::from(m.distance), d);
        }
        let want = if rebuilt.is_empty() {
            Vec::new()
        } else {
            Searcher::new(rebuilt.words(), 4)
                .unwrap()
                .knn(&qs, k)
                .unwrap()
        };
        assert_eq!(dists(&got), dists(&want), "k={k} nearest distances differ");
    }
}

/// Writes the model list as a CSV list `set build` reads (`caid` becomes a label).
fn write_csv(path: &Path, recs: &[Rec]) {
    let mut s = String::from("pdq,id,caid,note\n");
    for r in recs {
        s.push_str(&format!(
            "{},{},{},{}\n",
            r.hex(),
            r.id,
            r.label.clone().unwrap_or_default(),
            r.note
        ));
    }
    std::fs::write(path, s).unwrap();
}

/// The digests of a case: a few cluster centres and digests within a few bits of them, so
/// radius-31 searches hit several entries and removals hit neighbours of kept digests.
fn pool() -> impl Strategy<Value = Vec<[u64; 4]>> {
    (
        prop::array::uniform3(any::<[u64; 4]>()),
        prop::collection::vec((0..3usize, prop::collection::vec(0..256u32, 0..14)), 12),
    )
        .prop_map(|(centres, specs)| {
            specs
                .into_iter()
                .map(|(c, flips)| {
                    let mut d = centres[c];
                    for b in flips {
                        d[(b / 64) as usize] ^= 1 << (b % 64);
                    }
                    d
                })
                .collect()
        })
}

/// A record over pool digest `p`, with one of a few ids, labels and notes (so identical
/// records and re-categorisations both occur).
type RecSpec = (usize, u8, u8, bool);

fn rec_of(pool: &[[u64; 4]], (p, id, label, note): RecSpec) -> Rec {
    Rec {
        digest: pool[p],
        id: ["", "a", "b"][id as usize].to_string(),
        label: [None, Some("1"), Some("2")][label as usize].map(str::to_string),
        note: if note { "n".into() } else { String::new() },
    }
}

fn rec_spec() -> impl Strategy<Value = RecSpec> {
    (0..12usize, 0..3u8, 0..3u8, any::<bool>())
}

type DeltaSpec = (Vec<RecSpec>, Vec<usize>);

fn check_case(
    tag: &str,
    pool: &[[u64; 4]],
    base: &[RecSpec],
    deltas: &[DeltaSpec],
    from_full: bool,
) -> Result<(), TestCaseError> {
    let dir = tmpdir(tag);
    let mut list: Vec<Rec> = Vec::new();
    let base: Vec<Rec> = base.iter().map(|s| rec_of(pool, *s)).collect();
    apply(&mut list, &base, &[]);
    build(&dir.join("base.nmset"), &list);
    let mut top = dir.join("base.nmset");
    for (n, (adds, removes)) in deltas.iter().enumerate() {
        let adds: Vec<Rec> = adds.iter().map(|s| rec_of(pool, *s)).collect();
        let removes: Vec<[u64; 4]> = removes.iter().map(|&p| pool[p]).collect();
        let stack = LayeredSet::open(&top).unwrap();
        let out = dir.join(format!("d{n}.nmset"));
        apply(&mut list, &adds, &removes);
        if from_full {
            let csv = dir.join(format!("v{n}.csv"));
            write_csv(&csv, &list);
            let mut d = DeltaWriter::create(&stack, &out).unwrap();
            d.diff_full(&[csv], &ImportOptions::new(Algorithm::Pdq))
                .unwrap();
            d.finish().unwrap();
        } else {
            delta(&stack, &out, &adds, &removes);
        }
        top = out;
    }
    let stack = LayeredSet::open(&top).unwrap();
    stack.verify().unwrap();
    prop_assert_eq!(stack.layers().len(), deltas.len() + 1);
    build(&dir.join("rebuilt.nmset"), &list);
    let rebuilt = HashSet::open(dir.join("rebuilt.nmset")).unwrap();
    let mut queries: Vec<[u64; 4]> = pool.to_vec();
    queries.push([0; 4]);
    assert_same(&stack, &rebuilt, &queries, 31);
    // Folding the stack gives the same list again.
    stack.compact(dir.join("compact.nmset")).unwrap();
    let compact = LayeredSet::open(dir.join("compact.nmset")).unwrap();
    prop_assert!(!compact.is_layered());
    compact.verify().unwrap();
    assert_same(&compact, &rebuilt, &queries, 31);
    std::fs::remove_dir_all(&dir).unwrap();
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Base + 1..3 deltas of random additions, removals and re-categorisations searches exactly
    /// like one set rebuilt from the final list (exact and radius 31), and compacts to it.
    #[test]
    fn stack_equals_rebuilt(
        pool in pool(),
        base in prop::collection::vec(rec_spec(), 0..24),
        deltas in prop::collection::vec(
            (prop::collection::vec(rec_spec(), 0..8), prop::collection::vec(0..12usize, 0..5)),
            1..4,
        ),
    ) {
        check_case("prop", &pool, &base, &deltas, false)?;
    }

    /// The same with each delta computed from the full new list version (`diff_full`).
    #[test]
    fn full_version_diff_equals_rebuilt(
        pool in pool(),
        base in prop::collection::vec(rec_spec(), 0..24),
        deltas in prop::collection::vec(
            (prop::collection::vec(rec_spec(), 0..8), prop::collection::vec(0..12usize, 0..5)),
            1..4,
        ),
    ) {
        check_case("propfull", &pool, &base, &deltas, true)?;
    }
}

fn hexd(b: u8) -> String {
    format!("{b:02x}").repeat(32)
}

fn r(h: &str, id: &str, label: Option<&str>) -> Rec {
    let bytes = hex::decode(h).unwrap();
    let mut digest = [0u64; 4];
    for (i, c) in bytes.chunks(8).enumerate() {
        digest[i] = u64::from_be_bytes(c.try_into().unwrap());
    }
    Rec {
        digest,
        id: id.into(),
        label: label.map(str::to_string),
        note: String::new(),
    }
}

#[test]
fn a_delta_alone_is_refused_and_the_stack_opens() {
    let dir = tmpdir("alone");
    let base = dir.join("base.nmset");
    build(
        &base,
        &[r(&hexd(1), "a", Some("1")), r(&hexd(2), "b", None)],
    );
    let stack = LayeredSet::open(&base).unwrap();
    assert!(!stack.is_layered());
    let s = delta(
        &stack,
        &dir.join("v2.nmset"),
        &[r(&hexd(1), "a", Some("2")), r(&hexd(3), "c", None)],
        &[r(&hexd(1), "", None).digest, r(&hexd(9), "", None).digest],
    );
    assert_eq!(s.layer.additions, 2);
    assert_eq!(s.layer.removals, 1);
    assert_eq!(s.layer.removals_not_present, 1);
    assert_eq!(s.layer.not_present_examples, vec![hexd(9)]);
    assert_eq!(s.layer.parent.file, "base.nmset");

    // Every single-set opener refuses a delta, naming its parent.
    let err = HashSet::open(dir.join("v2.nmset")).unwrap_err().to_string();
    assert!(
        err.contains("delta layer") && err.contains("base.nmset"),
        "{err}"
    );
    assert!(HashSet::read(dir.join("v2.nmset")).is_err());
    let bytes = std::fs::read(dir.join("v2.nmset")).unwrap();
    assert!(HashSet::from_bytes(&bytes, "v2").is_err());
    // An old build (flags must be 0) refuses it too: the flag is set in the header.
    assert_eq!(
        u32::from_le_bytes(bytes[52..56].try_into().unwrap()),
        FLAG_LAYER
    );
    let one = HashSet::open_layer(dir.join("v2.nmset")).unwrap();
    assert!(one.is_layer());
    assert_eq!(one.removal_count(), 1);
    one.verify().unwrap();

    let stack = LayeredSet::open(dir.join("v2.nmset")).unwrap();
    assert!(stack.is_layered());
    assert_eq!(stack.len(), 4);
    assert_eq!(stack.effective_len(), 3);
    assert_eq!(stack.hidden_per_layer(), vec![1, 0]);
    // The re-categorised hash shows only its new label.
    let hits = stack.lookup_exact(&hex::decode(hexd(1)).unwrap());
    assert_eq!(hits.len(), 1);
    assert_eq!(stack.entry(hits[0]).unwrap().labels[0].value, "2");
    assert_eq!(stack.locate(hits[0]).unwrap().0, 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn missing_or_replaced_parent_is_an_error_naming_both() {
    let dir = tmpdir("parent");
    let base = dir.join("base.nmset");
    build(&base, &[r(&hexd(1), "a", None)]);
    let stack = LayeredSet::open(&base).unwrap();
    delta(
        &stack,
        &dir.join("v2.nmset"),
        &[r(&hexd(2), "b", None)],
        &[],
    );
    drop(stack);

    // Replaced by a different set of the same name.
    let saved = std::fs::read(&base).unwrap();
    build(&base, &[r(&hexd(1), "a", None), r(&hexd(4), "x", None)]);
    let err = LayeredSet::open(dir.join("v2.nmset")).unwrap_err();
    assert!(matches!(err, Error::LayerParent { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("v2.nmset") && msg.contains("base.nmset") && msg.contains("not the set"),
        "{msg}"
    );

    // The original restored, then one byte of its last section flipped.
    let mut tampered = saved.clone();
    let at = tampered.len() - 1;
    tampered[at] ^= 1;
    std::fs::write(&base, &tampered).unwrap();
    // The last section's bytes changed but its CRC did not: open is O(1) and still matches
    // the recorded identity; verify catches it.
    match LayeredSet::open(dir.join("v2.nmset")) {
        Ok(s) => assert!(s.verify().is_err()),
        Err(e) => assert!(matches!(
            e,
            Error::LayerParent { .. } | Error::InvalidSet { .. }
        )),
    }

    std::fs::remove_file(&base).unwrap();
    let err = LayeredSet::open(dir.join("v2.nmset")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("v2.nmset") && msg.contains("base.nmset") && msg.contains("missing"),
        "{msg}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deltas_must_sit_next_to_their_parent_and_not_replace_a_layer() {
    let dir = tmpdir("placement");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    let base = dir.join("base.nmset");
    build(&base, &[r(&hexd(1), "a", None)]);
    let stack = LayeredSet::open(&base).unwrap();
    let e = DeltaWriter::create(&stack, dir.join("sub/v2.nmset"))
        .err()
        .unwrap();
    assert!(e.to_string().contains("next to its parent"), "{e}");
    let e = DeltaWriter::create(&stack, &base).err().unwrap();
    assert!(e.to_string().contains("layer of the stack"), "{e}");
    let e = stack.compact(&base).unwrap_err();
    assert!(e.to_string().contains("layer of the stack"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn removal_lists_are_read_like_any_list() {
    let dir = tmpdir("rmlist");
    let base = dir.join("base.nmset");
    build(&base, &[r(&hexd(1), "a", None), r(&hexd(2), "b", None)]);
    let stack = LayeredSet::open(&base).unwrap();
    let list = dir.join("removed.txt");
    std::fs::write(
        &list,
        format!("{}\n{}\nnot-hex\n{}\n", hexd(2), hexd(7), hexd(2)),
    )
    .unwrap();
    let mut d = DeltaWriter::create(&stack, dir.join("v2.nmset")).unwrap();
    let rep = d
        .remove_list(&list, &ImportOptions::new(Algorithm::Pdq))
        .unwrap();
    assert_eq!(rep.imported, 2);
    assert_eq!(rep.rejected_total(), 2); // bad hex, repeated
    let s = d.finish().unwrap();
    assert_eq!((s.layer.removals, s.layer.removals_not_present), (1, 1));
    assert_eq!(s.layer.removal_sources.len(), 1);
    assert_eq!(s.layer.removal_sources[0].sha256.len(), 64);
    let stack = LayeredSet::open(dir.join("v2.nmset")).unwrap();
    assert_eq!(stack.effective_len(), 1);
    assert!(stack
        .lookup_exact(&hex::decode(hexd(2)).unwrap())
        .is_empty());
    // A removal-only delta has no digests of its own: the stack still searches.
    let hits = stack
        .searcher()
        .unwrap()
        .match_probes(
            &[&[QueryProbe::plain(AnyDigest::D256(
                hexd(1).parse::<Digest256>().unwrap(),
            ))]],
            ProbeRadii { set: 0, derived: 0 },
            Engine::Auto,
        )
        .unwrap();
    assert_eq!(hits.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn exact_sets_layer_too() {
    let dir = tmpdir("md5");
    let base = dir.join("base.nmset");
    let mut w = SetWriter::create(&base, Algorithm::Md5).unwrap();
    w.begin_source("l.txt");
    for b in [1u8, 2] {
        w.push(ImportRecord {
            algorithm: Algorithm::Md5,
            digest: vec![b; 16],
            id: String::new(),
            labels: Vec::new(),
            note: String::new(),
            line: 0,
        })
        .unwrap();
    }
    w.finish().unwrap();
    let stack = LayeredSet::open(&base).unwrap();
    let mut d = DeltaWriter::create(&stack, dir.join("v2.nmset")).unwrap();
    d.remove(&[1; 16]).unwrap();
    d.finish().unwrap();
    let stack = LayeredSet::open(dir.join("v2.nmset")).unwrap();
    assert!(stack.lookup_exact(&[1; 16]).is_empty());
    assert_eq!(stack.lookup_exact(&[2; 16]).len(), 1);
    assert!(stack.searcher().is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn layer_sections_without_the_flag_are_refused() {
    // A file with delta sections but no layer flag is neither: refused rather than guessed.
    let dir = tmpdir("noflag");
    let path = dir.join("odd.nmset");
    let mut w = SetWriter::create(&path, Algorithm::Pdq).unwrap();
    w.begin_source("l.txt");
    w.push(r(&hexd(1), "a", None).import()).unwrap();
    w.add_section(SectionKind::Removals, vec![0; 32]).unwrap();
    w.finish().unwrap();
    for e in [
        HashSet::open(&path).unwrap_err(),
        HashSet::open_layer(&path).unwrap_err(),
        LayeredSet::open(&path).unwrap_err(),
    ] {
        assert!(e.to_string().contains("not flagged as a delta"), "{e}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
