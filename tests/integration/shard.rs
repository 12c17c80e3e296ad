//! `nearmatch set shard`: the shards together are the set (entries, order, metadata), each
//! holds only its prefix, each searches like brute force, and the manifest catches tampering.

use std::fmt::Write as _;
use std::path::Path;

use crate::common::{flip_bits, nearmatch, random_digest};
use nearmatch::hashset::{HashSet, ShardCheck, ShardManifest};
use nearmatch::search::{Engine, Queries};
use nearmatch::Digest256;

/// Builds a PDQ set through the CLI from a CSV (id, hash, a caid label) of `n` random digests,
/// near copies of a tenth of them and one repeated digest; returns the path and the digests.
fn build_pdq_set(dir: &Path, n: usize, st: &mut u64) -> (std::path::PathBuf, Vec<Digest256>) {
    let mut known: Vec<Digest256> = (0..n).map(|_| random_digest(st)).collect();
    // Clusters: near copies of some entries, so prefixes and neighbourhoods cross shards.
    for i in 0..n / 10 {
        let base = known[i];
        known.push(flip_bits(base, 1 + i % 20, st));
    }
    // A digest repeated with other metadata: both records kept, next to each other.
    known.push(known[3]);
    let mut csv = String::from("id,pdq,caid\n");
    for (i, d) in known.iter().enumerate() {
        writeln!(csv, "K{i},{},{}", d.to_hex(), ["A", "B", "C"][i % 3]).unwrap();
    }
    let list = dir.join("known.csv");
    std::fs::write(&list, csv).unwrap();
    let set = dir.join("known.nmset");
    nearmatch()
        .args(["set", "build", "-a", "pdq", "-o"])
        .arg(&set)
        .arg(&list)
        .assert()
        .success();
    (set, known)
}

fn entry_tuple(s: &HashSet, i: usize) -> (String, String, Vec<(String, String)>, String) {
    let e = s.entry(i).unwrap();
    (
        s.digest_hex(i).unwrap(),
        e.id.to_string(),
        e.labels
            .iter()
            .map(|l| (l.scheme.to_string(), l.value.to_string()))
            .collect(),
        e.note.to_string(),
    )
}

#[test]
fn shards_are_the_set_split_by_prefix_and_search_like_brute_force() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = 7u64;
    let (set_path, known) = build_pdq_set(dir.path(), 3000, &mut st);
    let out = dir.path().join("shards");
    let o = nearmatch()
        .args(["set", "shard", "--shards", "4", "--json", "--out"])
        .arg(&out)
        .arg(&set_path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let manifest_path = out.join("shards.json");
    let m = ShardManifest::load(&manifest_path).unwrap();
    assert_eq!(printed["files"][3]["sha256"], m.files[3].sha256.as_str());
    assert_eq!(
        (m.shards, m.prefix_bits, m.algorithm.as_str()),
        (4, 2, "pdq")
    );
    let whole = HashSet::open(&set_path).unwrap();
    assert_eq!(m.entries as usize, whole.len());
    assert_eq!(m.source.entries as usize, whole.len());

    // Union: shard i's entry j is the set's entry first_entry + j, with its metadata.
    let mut all = Vec::new();
    let mut shards = Vec::new();
    for f in &m.files {
        let s = m
            .open_shard(&manifest_path, f.index, ShardCheck::Sha256)
            .unwrap();
        s.verify().unwrap();
        assert!(
            s.section_kinds()
                .contains(&nearmatch::hashset::SectionKind::MihIds),
            "each shard has its own multi-index"
        );
        let prov = s.provenance().unwrap();
        let of = prov.shard.expect("a shard says what it is a shard of");
        assert_eq!(
            (of.index, of.shards, of.first_entry),
            (f.index, 4, f.first_entry)
        );
        assert_eq!(of.set_sha256, m.source.sha256);
        assert!(
            s.len() > 500,
            "4 shards of ~3300 random digests each hold ~825"
        );
        for j in 0..s.len() {
            // Prefix rule: the top 2 bits of the digest are the shard number.
            assert_eq!(
                (s.digest_words(j).unwrap()[0] >> 62) as u32,
                f.index,
                "entry {j} of shard {}",
                f.index
            );
            assert_eq!(
                entry_tuple(&s, j),
                entry_tuple(&whole, f.first_entry as usize + j)
            );
            all.push(entry_tuple(&s, j));
        }
        shards.push(s);
    }
    let want: Vec<_> = (0..whole.len()).map(|i| entry_tuple(&whole, i)).collect();
    assert_eq!(
        all, want,
        "the shards in order are the set's entries in order"
    );

    // Search: near copies at distances 0..31 of known digests, plus random queries; each
    // shard's radius-31 search equals brute force over that shard, and the union with
    // entry numbers shifted by first_entry equals brute force over the whole set.
    let mut queries = Vec::new();
    for i in 0..64 {
        queries.push(flip_bits(known[i * 37 % known.len()], i % 32, &mut st));
    }
    for _ in 0..32 {
        queries.push(random_digest(&mut st));
    }
    let words: Vec<u64> = queries.iter().flat_map(|q| q.0).collect();
    let q = Queries::single(&words, 4).unwrap();
    let mut union = Vec::new();
    for (f, s) in m.files.iter().zip(&shards) {
        for engine in [Engine::Auto, Engine::Mih, Engine::Scan] {
            let mut got: Vec<(u32, u32, u32)> = s
                .searcher()
                .unwrap()
                .radius_search(&q, 31, engine)
                .unwrap()
                .into_iter()
                .map(|h| (h.query, h.entry, u32::from(h.distance)))
                .collect();
            got.sort();
            let mut brute = Vec::new();
            for (qi, qd) in queries.iter().enumerate() {
                for j in 0..s.len() {
                    let d = match s.digest(j).unwrap() {
                        nearmatch::AnyDigest::D256(e) => qd.distance(&e),
                        _ => unreachable!(),
                    };
                    if d <= 31 {
                        brute.push((qi as u32, j as u32, d));
                    }
                }
            }
            assert_eq!(got, brute, "shard {} with {engine:?}", f.index);
            if engine == Engine::Auto {
                union.extend(
                    got.iter()
                        .map(|&(qi, j, d)| (qi, j + f.first_entry as u32, d)),
                );
            }
        }
    }
    union.sort();
    let mut whole_hits: Vec<(u32, u32, u32)> = whole
        .searcher()
        .unwrap()
        .radius_search(&q, 31, Engine::Auto)
        .unwrap()
        .into_iter()
        .map(|h| (h.query, h.entry, u32::from(h.distance)))
        .collect();
    whole_hits.sort();
    assert_eq!(union, whole_hits, "sharded search equals the whole set's");
    assert!(whole_hits.len() >= 64, "every planted near copy is found");

    // `set info` of a shard names what it is a shard of.
    let info = nearmatch()
        .args(["set", "info"])
        .arg(out.join(&m.files[2].file))
        .output()
        .unwrap();
    let text = String::from_utf8(info.stdout).unwrap();
    assert!(text.contains("shard:        2 of 4"), "{text}");
}

#[test]
fn exact_sets_shard_and_the_prefix_names_the_shard() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = 11u64;
    let digests: Vec<String> = (0..400)
        .map(|_| {
            let d = random_digest(&mut st);
            d.to_hex()
        })
        .collect();
    let list = dir.path().join("sha256.txt");
    std::fs::write(&list, digests.join("\n") + "\n").unwrap();
    let set = dir.path().join("sha.nmset");
    nearmatch()
        .args(["set", "build", "-a", "sha256", "-o"])
        .arg(&set)
        .arg(&list)
        .assert()
        .success();
    let out = dir.path().join("sh");
    nearmatch()
        .args(["set", "shard", "--shards", "8", "--out"])
        .arg(&out)
        .arg(&set)
        .assert()
        .success();
    let mp = out.join("shards.json");
    let m = ShardManifest::load(&mp).unwrap();
    let shards: Vec<HashSet> = (0..8)
        .map(|i| m.open_shard(&mp, i, ShardCheck::Header).unwrap())
        .collect();
    assert_eq!(shards.iter().map(HashSet::len).sum::<usize>(), 400);
    for d in &digests {
        let bytes = hex::decode(d).unwrap();
        let i = m.shard_of(&bytes);
        assert_eq!(i, u32::from(bytes[0] >> 5));
        for (k, s) in shards.iter().enumerate() {
            // Found in the shard its prefix names, and only there.
            assert_eq!(
                s.lookup_exact(&bytes).len(),
                usize::from(k as u32 == i),
                "{d}"
            );
        }
    }
}

#[test]
fn tampered_shards_and_bad_arguments_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = 3u64;
    let (set_path, _) = build_pdq_set(dir.path(), 300, &mut st);
    let out = dir.path().join("shards");
    nearmatch()
        .args(["set", "shard", "--shards", "2", "--out"])
        .arg(&out)
        .arg(&set_path)
        .assert()
        .success();
    let mp = out.join("shards.json");
    let m = ShardManifest::load(&mp).unwrap();
    let shard1 = out.join(&m.files[1].file);

    // A flipped byte in the last section (the checksums are left as they were): the header
    // check passes, the SHA-256 check names the shard file and the manifest.
    let mut bytes = std::fs::read(&shard1).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&shard1, &bytes).unwrap();
    m.open_shard(&mp, 1, ShardCheck::Header).unwrap();
    let e = m
        .open_shard(&mp, 1, ShardCheck::Sha256)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&shard1.display().to_string())
            && e.contains("SHA-256")
            && e.contains("shards.json"),
        "{e}"
    );
    // A shard of another size: caught by the O(1) check too.
    bytes.truncate(last);
    std::fs::write(&shard1, &bytes).unwrap();
    let e = m
        .open_shard(&mp, 1, ShardCheck::Header)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(&shard1.display().to_string()) && e.contains("bytes"),
        "{e}"
    );
    // A manifest pointing outside its directory is refused.
    let text = std::fs::read_to_string(&mp)
        .unwrap()
        .replace(&m.files[0].file, "../known.nmset");
    std::fs::write(&mp, text).unwrap();
    let e = ShardManifest::load(&mp).unwrap_err().to_string();
    assert!(e.contains("plain file name"), "{e}");

    // Not a power of two: usage (64). A delta layer: refused (65), pointing at `set compact`.
    nearmatch()
        .args(["set", "shard", "--shards", "3", "--out"])
        .arg(dir.path().join("x"))
        .arg(&set_path)
        .assert()
        .code(64);
    let add = dir.path().join("add.txt");
    std::fs::write(&add, format!("{}\n", random_digest(&mut st).to_hex())).unwrap();
    let delta = dir.path().join("known-v2.nmset");
    nearmatch()
        .args(["set", "delta", "--base"])
        .arg(&set_path)
        .arg("--add")
        .arg(&add)
        .arg("-o")
        .arg(&delta)
        .assert()
        .success();
    let o = nearmatch()
        .args(["set", "shard", "--shards", "2", "--out"])
        .arg(dir.path().join("y"))
        .arg(&delta)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(65));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("delta layer") && err.contains("set compact"),
        "{err}"
    );
    assert!(
        !dir.path().join("y").exists(),
        "nothing written for a refused set"
    );
}
