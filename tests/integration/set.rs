//! `nearmatch set build|info|verify|merge` and `nearmatch match`.

use crate::common::{flip_bits, nearmatch, splitmix};
use nearmatch::Digest256;
use std::fmt::Write as _;

#[test]
fn match_equals_brute_force_and_carries_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = 42u64;
    let known: Vec<Digest256> = (0..500)
        .map(|_| {
            Digest256::from_words([
                splitmix(&mut st),
                splitmix(&mut st),
                splitmix(&mut st),
                splitmix(&mut st),
            ])
        })
        .collect();
    let mut csv = String::from("id,pdq,caid\n");
    for (i, d) in known.iter().enumerate() {
        writeln!(
            csv,
            "K{i},{},{}",
            d.to_hex().to_uppercase(),
            ["A", "B", "C"][i % 3]
        )
        .unwrap();
    }
    let list = dir.path().join("known.csv");
    std::fs::write(&list, csv).unwrap();
    let set = dir.path().join("known.nmset");
    nearmatch()
        .args(["set", "build", "-a", "pdq", "-o"])
        .arg(&set)
        .arg(&list)
        .assert()
        .success();

    // Queries: near copies at distances 0..40 of some known hashes, plus random ones.
    let mut queries = Vec::new();
    for i in 0..60 {
        queries.push(flip_bits(known[i * 7], i % 41, &mut st));
    }
    for _ in 0..40 {
        queries.push(Digest256::from_words([
            splitmix(&mut st),
            splitmix(&mut st),
            splitmix(&mut st),
            splitmix(&mut st),
        ]));
    }
    let qfile = dir.path().join("q.txt");
    std::fs::write(
        &qfile,
        queries
            .iter()
            .map(|q| q.to_hex() + "\n")
            .collect::<String>(),
    )
    .unwrap();

    let out = nearmatch()
        .args(["match", "--set"])
        .arg(&set)
        .arg(&qfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "matches found: exit 1");
    let mut got: Vec<(usize, String, u32)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let entry = v["entry"].as_str().unwrap().to_string();
            // Metadata travels with the match: the entry's hash and its caid label.
            let i: usize = entry[1..].parse().unwrap();
            assert_eq!(v["hash"], known[i].to_hex().as_str());
            assert_eq!(v["labels"][0]["value"], ["A", "B", "C"][i % 3]);
            assert_eq!(
                v["query"],
                queries[v["query_index"].as_u64().unwrap() as usize]
                    .to_hex()
                    .as_str()
            );
            (
                v["query_index"].as_u64().unwrap() as usize,
                entry,
                v["distance"].as_u64().unwrap() as u32,
            )
        })
        .collect();
    got.sort();
    let mut want = Vec::new();
    for (qi, q) in queries.iter().enumerate() {
        for (ei, k) in known.iter().enumerate() {
            let d = q.distance(k);
            if d <= 31 {
                want.push((qi, format!("K{ei}"), d));
            }
        }
    }
    want.sort();
    assert_eq!(
        got, want,
        "match output equals a brute-force search at radius 31"
    );
    assert!(
        want.len() >= 40,
        "the test plants enough near matches ({})",
        want.len()
    );

    // A tighter radius, through the same path.
    let out = nearmatch()
        .args(["match", "-r", "5", "--format", "csv", "--set"])
        .arg(&set)
        .arg(&qfile)
        .output()
        .unwrap();
    let rows = String::from_utf8(out.stdout).unwrap().lines().count() - 1;
    assert_eq!(rows, want.iter().filter(|w| w.2 <= 5).count());
}

#[test]
fn exact_sets_match_md5_and_count_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evidence.bin");
    std::fs::write(&file, b"some evidence bytes").unwrap();
    let md5 = nearmatch::hash::crypto::CryptoHashes::of(b"some evidence bytes").md5_hex();
    let list = dir.path().join("md5.txt");
    std::fs::write(
        &list,
        format!(
            "# known md5\n{md5}\n{}\nd41d8cd98f00b204e9800998ecf8427e\nnot-hex\n0123\n",
            md5.to_uppercase()
        ),
    )
    .unwrap();
    let set = dir.path().join("md5.nmset");
    let out = nearmatch()
        .args(["set", "build", "--json", "-a", "md5", "-o"])
        .arg(&set)
        .arg(&list)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected = &summary["provenance"]["sources"][0]["rejected"];
    assert_eq!(summary["entries"], 1);
    assert_eq!(rejected["duplicate"], 1, "{rejected}");
    assert_eq!(rejected["empty-file-hash"], 1, "{rejected}");
    assert_eq!(rejected["bad-hex"], 1, "{rejected}");
    assert_eq!(rejected["wrong-length"], 1, "{rejected}");

    let out = nearmatch()
        .args(["match", "--set"])
        .arg(&set)
        .write_stdin(format!("{md5}\nffffffffffffffffffffffffffffffff\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    assert!(text.contains(&md5));

    // --strict turns the rejects into an error naming the file: exit 65.
    let out = nearmatch()
        .args(["set", "build", "--strict", "-a", "md5", "-o"])
        .arg(dir.path().join("s.nmset"))
        .arg(&list)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("md5.txt"));
}

#[test]
fn corrupted_sets_are_refused_with_exit_65() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("l.txt");
    std::fs::write(&list, format!("{}\n{}\n", "ab".repeat(32), "cd".repeat(32))).unwrap();
    let set = dir.path().join("s.nmset");
    nearmatch()
        .args(["set", "build", "-a", "pdq", "-o"])
        .arg(&set)
        .arg(&list)
        .assert()
        .success();
    nearmatch()
        .args(["set", "verify"])
        .arg(&set)
        .assert()
        .code(0);

    // Flip one byte in the last section: open may pass, verify must fail.
    let mut bytes = std::fs::read(&set).unwrap();
    let last = bytes.len() - 3;
    bytes[last] ^= 0x40;
    let bad = dir.path().join("bad.nmset");
    std::fs::write(&bad, &bytes).unwrap();
    nearmatch()
        .args(["set", "verify"])
        .arg(&bad)
        .assert()
        .code(65);

    // Truncated: open fails, naming the file.
    let cut = dir.path().join("cut.nmset");
    std::fs::write(&cut, &std::fs::read(&set).unwrap()[..100]).unwrap();
    let out = nearmatch()
        .args(["match", "--set"])
        .arg(&cut)
        .write_stdin("ab".repeat(32))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut.nmset"));

    // A bad query line is a data error naming the line.
    let out = nearmatch()
        .args(["match", "--set"])
        .arg(&set)
        .write_stdin("abc\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

#[test]
fn merge_keeps_entries_and_info_shows_provenance() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
    std::fs::write(&a, format!("{}\n", "11".repeat(8))).unwrap();
    std::fs::write(&b, format!("{}\n{}\n", "22".repeat(8), "33".repeat(8))).unwrap();
    let (sa, sb, m) = (
        dir.path().join("a.nmset"),
        dir.path().join("b.nmset"),
        dir.path().join("m.nmset"),
    );
    nearmatch()
        .args(["set", "build", "-a", "phash", "-o"])
        .arg(&sa)
        .arg(&a)
        .assert()
        .success();
    nearmatch()
        .args(["set", "build", "-a", "phash", "-o"])
        .arg(&sb)
        .arg(&b)
        .assert()
        .success();
    nearmatch()
        .args(["set", "merge", "-o"])
        .arg(&m)
        .arg(&sa)
        .arg(&sb)
        .assert()
        .success();
    let out = nearmatch()
        .args(["set", "info", "--json"])
        .arg(&m)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["entries"], 3);
    assert_eq!(v["algorithm"], "phash");
    assert_eq!(v["provenance"]["merged_from"].as_array().unwrap().len(), 2);
    let out = nearmatch()
        .args(["match", "-r", "0", "--set"])
        .arg(&m)
        .write_stdin("3333333333333333\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    // Output not writable: exit 74.
    let out = nearmatch()
        .args([
            "set",
            "build",
            "-a",
            "phash",
            "-o",
            "/nonexistent-dir/x.nmset",
        ])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74));
}

/// `match` with the probe lists of `hash --probe` records: the plain hash and its flips keep the
/// set radius, derived probes get min(radius, --probe-max-distance), identical digests count
/// once, and the closest probe is named, ties to the earliest in the record's list.
#[test]
fn match_names_the_closest_probe_ties_to_the_earliest_in_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = 7u64;
    let mut random = || {
        Digest256::from_words([
            splitmix(&mut st),
            splitmix(&mut st),
            splitmix(&mut st),
            splitmix(&mut st),
        ])
    };
    let known: Vec<Digest256> = (0..2).map(|_| random()).collect();
    let far: Vec<Digest256> = (0..3).map(|_| random()).collect();
    let list = dir.path().join("known.csv");
    let csv: String = known
        .iter()
        .enumerate()
        .map(|(i, d)| format!("K{i},{}\n", d.to_hex()))
        .collect();
    std::fs::write(&list, format!("id,pdq\n{csv}")).unwrap();
    let set = dir.path().join("known.nmset");
    nearmatch()
        .args(["set", "build", "-a", "pdq", "-o"])
        .arg(&set)
        .arg(&list)
        .assert()
        .success();

    let flip = |d: Digest256, bits: &[usize]| {
        let mut out = d;
        for &b in bits {
            out.set_bit(b, !out.bit(b));
        }
        out
    };
    let record = |plain: Digest256, probes: &[(&str, Digest256)]| {
        let mut list = vec![serde_json::json!({"probe": "plain", "pdq": plain.to_hex()})];
        list.extend(
            probes
                .iter()
                .map(|(n, d)| serde_json::json!({"probe": n, "pdq": d.to_hex()})),
        );
        serde_json::json!({"pdq": plain.to_hex(), "pdq_probes": list}).to_string() + "\n"
    };
    let k = known[0];
    let queries = [
        // A derived probe listed before a flip at the same distance wins the tie.
        record(
            far[0],
            &[("trim", flip(k, &[3])), ("plain+flipx", flip(k, &[9]))],
        ),
        // Beyond the probe radius (3 > 2) a derived probe is dropped: the flip at 6 wins.
        record(
            far[1],
            &[
                ("crop-l5", flip(k, &[1, 2, 3])),
                ("plain+rot90", flip(k, &[1, 2, 3, 4, 5, 6])),
            ],
        ),
        // A duplicate digest counts once, under its first name.
        record(
            far[2],
            &[("trim", flip(k, &[200])), ("content-box", flip(k, &[200]))],
        ),
        // The plain hash itself, and nothing for the other entry.
        record(k, &[("trim", flip(k, &[0]))]),
    ];
    let qfile = dir.path().join("q.jsonl");
    std::fs::write(&qfile, queries.concat()).unwrap();
    let out = nearmatch()
        .args(["match", "--probe-max-distance", "2", "--set"])
        .arg(&set)
        .arg(&qfile)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "matches found: exit 1");
    let got: Vec<(u64, String, u64, String)> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["query_index"].as_u64().unwrap(),
                v["entry"].as_str().unwrap().to_string(),
                v["distance"].as_u64().unwrap(),
                v["probe"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |q: u64, d: u64, p: &str| (q, "K0".to_string(), d, p.to_string());
    assert_eq!(
        got,
        [
            row(0, 1, "trim"),
            row(1, 6, "plain+rot90"),
            row(2, 1, "trim"),
            row(3, 0, "plain"),
        ]
    );
}
