//! HEIF/HEIC and AVIF (issue #21): files made by libheif's own encoder (`heif-enc`) from
//! synthetic images, decoded for reference by libheif's own converter (`heif-convert`, a separate
//! program). The PDQ of each HEIF file must equal the PDQ of the reference PNG; damaged files end
//! in dispositions that name the cause.

use std::path::Path;
use std::process::Command;

use nearmatch_synth::{encode_png, generate, Scene};
use serde_json::Value;

use crate::common::nearmatch;

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn tools() -> bool {
    let missing: Vec<&str> = ["heif-enc", "heif-convert"]
        .into_iter()
        .filter(|t| !have(t))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: HEIF tests need {} (libheif-examples; run scripts/ensure-build-deps)",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"))
        .status
        .success()
}

/// `nearmatch hash --format jsonl` of `files`, one record each.
fn hash(files: &[&Path], algo: &str) -> Vec<Value> {
    let out = nearmatch()
        .args(["hash", "--algo", algo, "--format", "jsonl"])
        .args(files)
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn heic_and_avif_hash_as_libheif_decodes_them() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, (scene, w, h)) in [
        (Scene::Landscape, 640, 480),
        (Scene::Document, 301, 199),
        (Scene::Product, 480, 640),
        (Scene::DeadLeaves, 1024, 768),
    ]
    .into_iter()
    .enumerate()
    {
        let png = d.path().join(format!("s{i}.png"));
        std::fs::write(&png, encode_png(&generate(scene, w, h, 40 + i as u64))).unwrap();
        for (ext, extra) in [("heic", &[][..]), ("avif", &["-A"][..])] {
            let file = d.path().join(format!("s{i}.{ext}"));
            let mut args = vec!["-q", "80"];
            args.extend_from_slice(extra);
            args.extend(["-o", file.to_str().unwrap(), png.to_str().unwrap()]);
            if !run("heif-enc", &args) {
                // libheif may be built without an AV1 encoder: HEIC is what phones store.
                assert_eq!(ext, "avif", "heif-enc could not write a HEIC file");
                eprintln!("SKIPPED: heif-enc writes no AVIF here");
                continue;
            }
            let reference = d.path().join(format!("s{i}-{ext}-decoded.png"));
            assert!(run(
                "heif-convert",
                &[file.to_str().unwrap(), reference.to_str().unwrap()]
            ));
            let r = hash(&[&file, &reference], "pdq");
            assert_eq!(r.len(), 2, "{r:?}");
            assert!(r[0]["error"].is_null(), "{}", r[0]);
            assert_eq!(r[0]["pdq"], r[1]["pdq"], "{ext} {w}x{h}: {r:?}");
            checked += 1;
        }
    }
    assert!(checked >= 4);
}

#[test]
fn heic_in_a_scan_is_an_image_and_damage_is_named() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let ev = d.path().join("ev");
    std::fs::create_dir(&ev).unwrap();
    let png = d.path().join("a.png");
    std::fs::write(&png, encode_png(&generate(Scene::Indoor, 400, 300, 9))).unwrap();
    let heic = ev.join("IMG_0001.HEIC");
    assert!(run(
        "heif-enc",
        &[
            "-q",
            "85",
            "-o",
            heic.to_str().unwrap(),
            png.to_str().unwrap()
        ]
    ));
    let bytes = std::fs::read(&heic).unwrap();
    std::fs::write(ev.join("renamed.jpg"), &bytes).unwrap();
    std::fs::write(ev.join("cut.heic"), &bytes[..bytes.len() / 2]).unwrap();
    let out = d.path().join("r.jsonl");
    let status = nearmatch()
        .arg("scan")
        .arg(&ev)
        .arg("-o")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(2), "the cut file is an error");
    let recs: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["record"] == "file")
        .collect();
    let by = |name: &str| {
        recs.iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap_or_else(|| panic!("{name}: {recs:?}"))
    };
    let a = by("IMG_0001.HEIC");
    assert_eq!(a["type"], "heif");
    assert_eq!(
        (a["width"].clone(), a["height"].clone()),
        (400.into(), 300.into())
    );
    assert_eq!(a["disposition"], "unmatched");
    assert_eq!(a["extension_mismatch"], false);
    assert_eq!(by("renamed.jpg")["extension_mismatch"], true);
    assert!(a["hashes"]["pdq"].is_string(), "{a}");
    assert_eq!(by("renamed.jpg")["hashes"]["pdq"], a["hashes"]["pdq"]);
    let cut = by("cut.heic");
    assert_eq!(cut["disposition"], "error:decode", "{cut}");
    assert!(cut["error"].as_str().unwrap().contains("heif"), "{cut}");
}

/// PDQ distance between two hex hashes.
fn pdq_distance(a: &Value, b: &Value) -> u32 {
    let bits = |v: &Value| u128_pair(v.as_str().unwrap_or_else(|| panic!("no PDQ: {v}")));
    let (a, b) = (bits(a), bits(b));
    (a.0 ^ b.0).count_ones() + (a.1 ^ b.1).count_ones()
}

fn u128_pair(hex: &str) -> (u128, u128) {
    assert_eq!(hex.len(), 64, "{hex}");
    (
        u128::from_str_radix(&hex[..32], 16).unwrap(),
        u128::from_str_radix(&hex[32..], 16).unwrap(),
    )
}

#[test]
fn a_heif_collection_and_its_thumbnails_are_records_below_the_file() {
    if !tools() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let ev = d.path().join("ev");
    std::fs::create_dir(&ev).unwrap();
    let sources: Vec<_> = [
        (Scene::Landscape, 400, 300),
        (Scene::Document, 400, 300),
        (Scene::Product, 300, 400),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (scene, w, h))| {
        let p = d.path().join(format!("src{i}.png"));
        std::fs::write(&p, encode_png(&generate(scene, w, h, 70 + i as u64))).unwrap();
        p
    })
    .collect();
    // heif-enc puts every input into one file, the first as the primary image, each with a
    // thumbnail of at most 96 pixels a side.
    let burst = ev.join("burst.heic");
    let mut args = vec!["-q", "80", "-t", "96", "-o", burst.to_str().unwrap()];
    args.extend(sources.iter().map(|p| p.to_str().unwrap()));
    assert!(run("heif-enc", &args));
    // heif-convert, a separate program, writes each top-level image as out-1.png, out-2.png, …
    let out_png = d.path().join("out.png");
    assert!(run(
        "heif-convert",
        &[burst.to_str().unwrap(), out_png.to_str().unwrap()]
    ));
    let refs: Vec<_> = (1..=3)
        .map(|i| d.path().join(format!("out-{i}.png")))
        .collect();
    let r = hash(&refs.iter().map(|p| p.as_path()).collect::<Vec<_>>(), "pdq");

    let report = d.path().join("r.jsonl");
    let status = nearmatch()
        .args(["scan", "--quiet", "-o"])
        .arg(&report)
        .arg(&ev)
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(0));
    let recs: std::collections::BTreeMap<String, Value> = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["record"] == "file")
        .map(|r| {
            let p = r["path"].as_str().unwrap();
            (
                p.strip_prefix(&format!("{}/", ev.display()))
                    .unwrap()
                    .to_string(),
                r,
            )
        })
        .collect();
    let names: Vec<&str> = recs.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "burst.heic",
            "burst.heic!/image/1",
            "burst.heic!/image/1/thumbnail/0",
            "burst.heic!/image/2",
            "burst.heic!/image/2/thumbnail/0",
            "burst.heic!/thumbnail/0",
        ],
        "{recs:?}"
    );
    let file = &recs["burst.heic"];
    assert_eq!(file["descendants"], 5);
    assert_eq!(
        file["hashes"]["pdq"], r[0]["pdq"],
        "primary as heif-convert"
    );
    for (i, name) in [(1, "burst.heic!/image/1"), (2, "burst.heic!/image/2")] {
        let m = &recs[name];
        assert_eq!(m["type"], "heif-image", "{m}");
        assert_eq!(m["disposition"], "unmatched", "{m}");
        assert_eq!(m["hashes"]["pdq"], r[i]["pdq"], "{name} as heif-convert");
        assert_eq!(m["depth"], 1);
    }
    assert_eq!(
        (
            recs["burst.heic!/image/2"]["width"].clone(),
            recs["burst.heic!/image/2"]["height"].clone()
        ),
        (300.into(), 400.into())
    );
    // Each thumbnail is its own image scaled to at most 96 pixels: the size heif-enc was
    // asked for, and a PDQ nearer its own image than any other.
    for (owner, thumb, dims) in [
        (0, "burst.heic!/thumbnail/0", (96, 72)),
        (1, "burst.heic!/image/1/thumbnail/0", (96, 72)),
        (2, "burst.heic!/image/2/thumbnail/0", (72, 96)),
    ] {
        let t = &recs[thumb];
        assert_eq!(t["type"], "heif-thumbnail", "{t}");
        assert_eq!(
            (t["width"].clone(), t["height"].clone()),
            (dims.0.into(), dims.1.into())
        );
        let dist: Vec<u32> = (0..3)
            .map(|i| pdq_distance(&t["hashes"]["pdq"], &r[i]["pdq"]))
            .collect();
        let nearest = (0..3).min_by_key(|&i| dist[i]).unwrap();
        assert_eq!(nearest, owner, "{thumb}: distances {dist:?}");
    }
    // With containers off, the file is one record.
    let status = nearmatch()
        .args(["scan", "--quiet", "--containers", "none", "-o"])
        .arg(&report)
        .arg(&ev)
        .output()
        .unwrap()
        .status;
    assert_eq!(status.code(), Some(0));
    let n = std::fs::read_to_string(&report)
        .unwrap()
        .lines()
        .filter(|l| serde_json::from_str::<Value>(l).unwrap()["record"] == "file")
        .count();
    assert_eq!(n, 1);
}
