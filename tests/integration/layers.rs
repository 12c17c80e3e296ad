//! Layered updates: `set delta`, `set info` on a stack, `set compact`, and `match` / `scan`
//! searching base + deltas exactly like a set rebuilt from the final list.

use std::path::Path;

use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch_synth::{encode_png, generate, Scene};
use serde_json::Value;

use crate::common::{nearmatch, parse, splitmix};

/// `n` PDQ hex digests in a few clusters (within ~20 bits of a centre), so radius-31 searches
/// hit several entries.
fn clustered(n: usize, seed: u64) -> Vec<String> {
    let mut s = seed;
    let centres: Vec<[u64; 4]> = (0..3)
        .map(|_| [0; 4].map(|_: u64| splitmix(&mut s)))
        .collect();
    (0..n)
        .map(|i| {
            let mut d = centres[i % 3];
            for _ in 0..(splitmix(&mut s) % 20) {
                let b = splitmix(&mut s) % 256;
                d[(b / 64) as usize] ^= 1 << (b % 64);
            }
            d.iter().map(|w| format!("{w:016x}")).collect()
        })
        .collect()
}

/// A CSV list (`caid` becomes a label).
fn write_csv(path: &Path, rows: &[(String, String, String)]) {
    let mut s = String::from("pdq,id,caid\n");
    for (h, id, caid) in rows {
        s.push_str(&format!("{h},{id},{caid}\n"));
    }
    std::fs::write(path, s).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = nearmatch().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// What `match` shows a user, without the entry numbers (a stack numbers entries layer by
/// layer) and the source (a compacted or diffed set names where entries came from).
fn shown(jsonl: &str) -> Vec<(u64, String, String, String, u64)> {
    let mut v: Vec<_> = jsonl
        .lines()
        .map(|l| {
            let r: Value = serde_json::from_str(l).unwrap();
            (
                r["query_index"].as_u64().unwrap(),
                r["hash"].as_str().unwrap().to_string(),
                r["entry"].as_str().unwrap().to_string(),
                r["labels"].to_string(),
                r["distance"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_stack_matches_like_the_rebuilt_list_and_info_shows_its_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pool = clustered(40, 7);
    // v1: 30 hashes. v2 (as lists): +4 new, hash 0 re-categorised, hashes 1 and 2 removed, one
    // removal of a hash never listed. v3 (a full version): hash 3 dropped, hash 4 re-categorised,
    // hash 1 back.
    let mut v1: Vec<(String, String, String)> = (0..30)
        .map(|i| (pool[i].clone(), format!("m{i}"), "A".to_string()))
        .collect();
    write_csv(&dir.join("v1.csv"), &v1);
    let mut adds: Vec<(String, String, String)> = (30..34)
        .map(|i| (pool[i].clone(), format!("m{i}"), "B".to_string()))
        .collect();
    adds.push((pool[0].clone(), "m0".into(), "B".into()));
    write_csv(&dir.join("add.csv"), &adds);
    std::fs::write(
        dir.join("removed.txt"),
        format!("{}\n{}\n{}\n{}\n", pool[0], pool[1], pool[2], pool[39]),
    )
    .unwrap();
    let mut v2 = v1.clone();
    v2.retain(|(h, _, _)| ![&pool[0], &pool[1], &pool[2]].contains(&h));
    v2.extend(adds.iter().cloned());
    let mut v3 = v2.clone();
    v3.retain(|(h, _, _)| h != &pool[3]);
    for r in &mut v3 {
        if r.0 == pool[4] {
            r.2 = "C".into();
        }
    }
    v3.push(v1[1].clone());
    write_csv(&dir.join("v3.csv"), &v3);
    v1.clear();

    let (code, _, err) = run(
        dir,
        &["set", "build", "-a", "pdq", "-o", "base.nmset", "v1.csv"],
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(
        dir,
        &[
            "set",
            "delta",
            "--base",
            "base.nmset",
            "--add",
            "add.csv",
            "--remove",
            "removed.txt",
            "-o",
            "v2.nmset",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("5 additions, 3 removals (4 requested, 1 not present below)"),
        "{out}"
    );
    assert!(
        err.contains("removed.txt (removals): plain format, 4 imported"),
        "{err}"
    );
    let (code, out, err) = run(
        dir,
        &[
            "set",
            "delta",
            "--base",
            "v2.nmset",
            "--from-full",
            "v3.csv",
            "-o",
            "v3.nmset",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let d: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(d["depth"], 2);
    assert_eq!(d["parent"], "v2.nmset");
    // Hash 1 comes back (an addition), hash 3 goes (a removal), hash 4 is removed and re-added.
    assert_eq!(
        (d["additions"].as_u64(), d["removals"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(d["stack_entries"].as_u64().unwrap() as usize, v3.len());

    write_csv(&dir.join("final.csv"), &v3);
    let (code, _, err) = run(
        dir,
        &[
            "set",
            "build",
            "-a",
            "pdq",
            "-o",
            "rebuilt.nmset",
            "final.csv",
        ],
    );
    assert_eq!(code, 0, "{err}");

    // Every pool hash and a near neighbour of each, at radius 31 and 0.
    let mut queries = String::new();
    let mut s = 99u64;
    for h in &pool {
        queries.push_str(&format!("{h}\n"));
        let mut b = hex::decode(h).unwrap();
        for _ in 0..12 {
            let bit = (splitmix(&mut s) % 256) as usize;
            b[bit / 8] ^= 1 << (bit % 8);
        }
        queries.push_str(&format!("{}\n", hex::encode(b)));
    }
    std::fs::write(dir.join("q.txt"), queries).unwrap();
    let (code, _, err) = run(dir, &["set", "compact", "v3.nmset", "-o", "flat.nmset"]);
    assert_eq!(code, 0, "{err}");
    for r in ["31", "0"] {
        let (code, rebuilt, _) = run(dir, &["match", "-s", "rebuilt.nmset", "-r", r, "q.txt"]);
        assert_eq!(code, 1);
        assert!(!rebuilt.is_empty());
        for set in ["v3.nmset", "flat.nmset"] {
            let (code, got, err) = run(dir, &["match", "-s", set, "-r", r, "q.txt"]);
            assert_eq!(code, 1, "{err}");
            assert_eq!(shown(&got), shown(&rebuilt), "{set} at radius {r}");
        }
    }

    // `set info` shows every layer and the effective count, in text and JSON.
    let (code, out, _) = run(dir, &["set", "info", "v3.nmset"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("entries:     {} (a stack of 3 layers", v3.len())),
        "{out}"
    );
    assert!(
        out.contains("layer 0:     base.nmset (base): 30 entries"),
        "{out}"
    );
    assert!(
        out.contains("layer 1:     v2.nmset (delta on base.nmset): +5 entries"),
        "{out}"
    );
    assert!(
        out.contains("-3 removals (4 requested, 1 not present below)"),
        "{out}"
    );
    assert!(
        out.contains("layer 2:     v3.nmset (delta on v2.nmset)"),
        "{out}"
    );
    assert!(out.contains("diffed from full version v3.csv"), "{out}");
    let (code, out, _) = run(dir, &["set", "info", "--json", "v3.nmset"]);
    assert_eq!(code, 0);
    let info: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(info["entries"].as_u64().unwrap() as usize, v3.len());
    let layers = info["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    for (l, name) in layers.iter().zip(["base.nmset", "v2.nmset", "v3.nmset"]) {
        assert_eq!(l["path"], name);
        let bytes = std::fs::read(dir.join(name)).unwrap();
        assert_eq!(l["sha256"], nearmatch_sha256(&bytes));
    }
    assert_eq!(layers[1]["layer"]["removals_not_present"], 1);
    assert_eq!(
        layers[1]["layer"]["not_present_examples"][0],
        pool[39].as_str()
    );

    let (code, out, _) = run(dir, &["set", "verify", "v3.nmset"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("ok ({} entries, 3 layers)", v3.len())),
        "{out}"
    );
    let (code, out, _) = run(dir, &["set", "info", "flat.nmset"]);
    assert_eq!(code, 0);
    assert!(out.contains("compacted from layer 2: v3.nmset"), "{out}");
    assert!(
        !out.contains("\nlayer 0:"),
        "a compacted set is one layer: {out}"
    );
}

fn nearmatch_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn bad_stacks_and_bad_delta_commands_exit_65_or_64() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("elsewhere")).unwrap();
    let pool = clustered(6, 3);
    let rows: Vec<_> = pool
        .iter()
        .enumerate()
        .map(|(i, h)| (h.clone(), format!("m{i}"), "A".to_string()))
        .collect();
    write_csv(&dir.join("v1.csv"), &rows[..4]);
    write_csv(&dir.join("add.csv"), &rows[4..]);
    std::fs::write(dir.join("q.txt"), format!("{}\n", pool[0])).unwrap();
    assert_eq!(
        run(
            dir,
            &["set", "build", "-a", "pdq", "-o", "base.nmset", "v1.csv"]
        )
        .0,
        0
    );

    // Usage: no list, a delta away from its parent, conflicting modes.
    let (code, _, err) = run(
        dir,
        &["set", "delta", "--base", "base.nmset", "-o", "v2.nmset"],
    );
    assert_eq!(code, 64, "{err}");
    let (code, _, err) = run(
        dir,
        &[
            "set",
            "delta",
            "--base",
            "base.nmset",
            "--add",
            "add.csv",
            "-o",
            "elsewhere/v2.nmset",
        ],
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("next to its parent"), "{err}");
    let (code, _, _) = run(
        dir,
        &[
            "set",
            "delta",
            "--base",
            "base.nmset",
            "--add",
            "add.csv",
            "--from-full",
            "v1.csv",
            "-o",
            "v2.nmset",
        ],
    );
    assert_eq!(code, 64, "conflicting modes are a usage error");
    // A list that does not exist is bad input.
    let (code, _, err) = run(
        dir,
        &[
            "set",
            "delta",
            "--base",
            "base.nmset",
            "--add",
            "nope.csv",
            "-o",
            "v2.nmset",
        ],
    );
    assert_eq!(code, 65, "{err}");
    assert!(!dir.join("v2.nmset").exists());

    let (code, _, err) = run(
        dir,
        &[
            "set",
            "delta",
            "--base",
            "base.nmset",
            "--add",
            "add.csv",
            "-o",
            "v2.nmset",
        ],
    );
    assert_eq!(code, 0, "{err}");
    // No temporary file is left next to the layers.
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.starts_with(".nmset-")), "{names:?}");

    // Tools that take one complete set refuse a delta with a clear message.
    let (code, _, err) = run(dir, &["set", "merge", "-o", "m.nmset", "v2.nmset"]);
    assert_eq!(code, 65);
    assert!(
        err.contains("a delta layer on top of \"base.nmset\""),
        "{err}"
    );

    // A replaced parent (same name, different content) and a missing one: 65, both named.
    std::fs::rename(dir.join("base.nmset"), dir.join("base.orig")).unwrap();
    write_csv(&dir.join("other.csv"), &rows[..3]);
    assert_eq!(
        run(
            dir,
            &["set", "build", "-a", "pdq", "-o", "base.nmset", "other.csv"]
        )
        .0,
        0
    );
    for args in [
        &["match", "-s", "v2.nmset", "q.txt"][..],
        &["set", "info", "v2.nmset"],
        &["set", "verify", "v2.nmset"],
    ] {
        let (code, _, err) = run(dir, args);
        assert_eq!(code, 65, "{args:?}: {err}");
        assert!(
            err.contains("v2.nmset") && err.contains("base.nmset") && err.contains("not the set"),
            "{args:?}: {err}"
        );
    }
    std::fs::remove_file(dir.join("base.nmset")).unwrap();
    let (code, _, err) = run(dir, &["match", "-s", "v2.nmset", "q.txt"]);
    assert_eq!(code, 65);
    assert!(
        err.contains("base.nmset") && err.contains("missing"),
        "{err}"
    );
    std::fs::rename(dir.join("base.orig"), dir.join("base.nmset")).unwrap();
    assert_eq!(run(dir, &["match", "-s", "v2.nmset", "q.txt"]).0, 1);
}

#[test]
fn scan_searches_every_layer_and_records_each_in_custody() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let imgs = [
        generate(Scene::Landscape, 160, 120, 31),
        generate(Scene::Indoor, 160, 120, 32),
        generate(Scene::Document, 160, 120, 33),
    ];
    let hashes: Vec<String> = imgs
        .iter()
        .map(|i| {
            hash_image(i, &[Algorithm::Pdq], &HashOptions::default())
                .get(Algorithm::Pdq)
                .unwrap()
                .to_string()
        })
        .collect();
    let ev = dir.join("evidence");
    std::fs::create_dir(&ev).unwrap();
    for (i, img) in imgs.iter().enumerate() {
        std::fs::write(ev.join(format!("img{i}.png")), encode_png(img)).unwrap();
    }
    // Base: images 0 and 1. Delta: image 1 removed, image 2 added.
    let sets = dir.join("sets");
    std::fs::create_dir(&sets).unwrap();
    std::fs::write(
        sets.join("v1.txt"),
        format!("{}\n{}\n", hashes[0], hashes[1]),
    )
    .unwrap();
    std::fs::write(sets.join("add.txt"), format!("{}\n", hashes[2])).unwrap();
    std::fs::write(sets.join("rm.txt"), format!("{}\n", hashes[1])).unwrap();
    assert_eq!(
        run(
            &sets,
            &["set", "build", "-a", "pdq", "-o", "base.nmset", "v1.txt"]
        )
        .0,
        0
    );
    let (code, _, err) = run(
        &sets,
        &[
            "set",
            "delta",
            "--base",
            "base.nmset",
            "--add",
            "add.txt",
            "--remove",
            "rm.txt",
            "-o",
            "v2.nmset",
        ],
    );
    assert_eq!(code, 0, "{err}");

    let report = dir.join("r.jsonl");
    let out = nearmatch()
        .arg("scan")
        .arg(&ev)
        .arg("--set")
        .arg(sets.join("v2.nmset"))
        .arg("-o")
        .arg(&report)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rep = parse(&std::fs::read_to_string(&report).unwrap());
    let mut got: Vec<(String, String)> = rep
        .files
        .iter()
        .filter(|f| f.get("disposition").is_some())
        .map(|f| {
            (
                Path::new(f["path"].as_str().unwrap())
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                f["disposition"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("img0.png", "matched"),
            ("img1.png", "unmatched"),
            ("img2.png", "matched")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let set = &rep.header["sets"][0];
    assert_eq!(set["entries"], 2);
    let layers = set["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for (l, name) in layers.iter().zip(["base.nmset", "v2.nmset"]) {
        assert!(l["path"].as_str().unwrap().ends_with(name), "{l}");
        assert_eq!(
            l["sha256"],
            nearmatch_sha256(&std::fs::read(sets.join(name)).unwrap())
        );
    }
    assert_eq!(layers[1]["removals"], 1);
    assert_eq!(layers[1]["parent"], "base.nmset");
}
