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
