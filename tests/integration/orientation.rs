//! `--orientation {stored,exif}` (issue #21 item 4): JPEGs carrying an EXIF Orientation tag,
//! hashed by the CLI, against the hashes of their pixels re-oriented by hand (written as
//! untagged PNGs); and the dihedral probes matching across both conventions in a scan.

use std::path::Path;

use nearmatch::decode::{decode, Limits};
use nearmatch::hash::pdq::Orientation;
use nearmatch::pixels::Image;
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::nearmatch;

/// `jpeg` with an APP1 Exif segment (little-endian TIFF, Orientation `tag`) after SOI.
fn tagged(jpeg: &[u8], tag: u16) -> Vec<u8> {
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0]);
    tiff.extend_from_slice(&tag.to_le_bytes());
    tiff.extend_from_slice(&[0; 6]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// The JSON Lines records of `nearmatch hash` on `files` with `extra` flags.
fn hash(files: &[&Path], extra: &[&str]) -> Vec<Value> {
    let out = nearmatch()
        .args(["hash", "--algo", "pdq,phash,dhash16", "--format", "jsonl"])
        .args(extra)
        .args(files)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn hashes(rec: &Value) -> [Value; 3] {
    [
        rec["pdq"].clone(),
        rec["phash"].clone(),
        rec["dhash16"].clone(),
    ]
}

#[test]
fn hash_applies_the_exif_tag_only_with_orientation_exif() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = encode_jpeg(&generate(Scene::DeadLeaves, 150, 100, 31), 92);
    let stored: Image = decode(&jpeg, &Limits::default()).unwrap().image;
    for tag in 1..=8u8 {
        let jpg = dir.path().join(format!("t{tag}.jpg"));
        std::fs::write(&jpg, tagged(&jpeg, tag.into())).unwrap();
        // The independent side: the decoded pixels turned by hand, in a file with no tag.
        let o = Orientation::from_exif(tag).unwrap();
        let shown = dir.path().join(format!("t{tag}_shown.png"));
        std::fs::write(&shown, encode_png(&stored.oriented(o))).unwrap();
        let plain = dir.path().join("stored.png");
        std::fs::write(&plain, encode_png(&stored)).unwrap();

        let exif = hash(&[&jpg, &shown], &["--orientation", "exif"]);
        assert_eq!(hashes(&exif[0]), hashes(&exif[1]), "tag {tag}");
        assert_eq!(exif[0]["exif_orientation"], u64::from(tag));
        assert!(
            exif[1].get("exif_orientation").is_none(),
            "no tag, none applied"
        );

        let default = hash(&[&jpg, &plain], &[]);
        assert_eq!(hashes(&default[0]), hashes(&default[1]), "tag {tag}");
        assert!(default[0].get("exif_orientation").is_none());
        assert_eq!(hash(&[&jpg], &["--orientation", "stored"]), default[..1]);
        if tag != 1 {
            assert_ne!(exif[0]["pdq"], default[0]["pdq"], "tag {tag}");
        }
    }
    // CSV gets a column with the flag.
    let out = nearmatch()
        .args([
            "hash",
            "--algo",
            "pdq",
            "-f",
            "csv",
            "--orientation",
            "exif",
        ])
        .arg(dir.path().join("t6.jpg"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(
        lines.next().unwrap().ends_with(",exif_orientation,error"),
        "{text}"
    );
    assert!(lines.next().unwrap().ends_with(",6,"), "{text}");
    // Unknown values are usage errors naming the choices.
    let out = nearmatch()
        .args(["hash", "--orientation", "upright"])
        .arg(dir.path().join("t6.jpg"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stored, exif"));
}

/// A scan's records: file name -> record, and the header.
fn scan(ev: &Path, set: &Path, out: &Path, extra: &[&str]) -> (Value, Vec<Value>) {
    let a = nearmatch()
        .arg("scan")
        .arg(ev)
        .arg("--set")
        .arg(set)
        .arg("-o")
        .arg(out)
        .arg("--quiet")
        .args(extra)
        .assert();
    let code = a.get_output().status.code();
    assert!(matches!(code, Some(0 | 1)), "{extra:?}: exit {code:?}");
    let recs: Vec<Value> = std::fs::read_to_string(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files = recs
        .iter()
        .filter(|r| r["record"] == "file")
        .cloned()
        .collect();
    (recs[0].clone(), files)
}

/// Lists may hold stored-pixel or displayed-picture hashes: with `--probe dihedral` a rotated
/// file matches either, whichever `--orientation` the scan uses; without it, only its own.
#[test]
fn dihedral_probes_cover_both_orientations_in_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let ev = root.join("ev");
    std::fs::create_dir_all(&ev).unwrap();
    let img = generate(Scene::Landscape, 240, 160, 33);
    let jpeg = encode_jpeg(&img, 95);
    std::fs::write(ev.join("turned.jpg"), tagged(&jpeg, 6)).unwrap();
    let stored = decode(&jpeg, &Limits::default()).unwrap().image;
    let shown = stored.oriented(Orientation::from_exif(6).unwrap());
    let pdq = |i: &Image| {
        nearmatch::hash::pdq::hash(i, Default::default())
            .digest
            .to_hex()
    };
    let list = |name: &str, hex: String| {
        let csv = root.join(format!("{name}.csv"));
        std::fs::write(&csv, format!("id,pdq\n{name},{hex}\n")).unwrap();
        let set = root.join(format!("{name}.nmset"));
        nearmatch()
            .args(["set", "build", "--algo", "pdq", "-o"])
            .arg(&set)
            .arg(&csv)
            .assert()
            .success();
        set
    };
    let (stored_set, shown_set) = (list("stored", pdq(&stored)), list("shown", pdq(&shown)));
    let matched = |set: &Path, extra: &[&str], n: usize| -> Value {
        let (header, recs) = scan(&ev, set, &root.join(format!("r{n}.jsonl")), extra);
        assert_eq!(recs.len(), 1);
        let probe = recs[0]["matches"][0]["probe"].clone();
        serde_json::json!({
            "orientation": header["options"]["orientation"],
            "disposition": recs[0]["disposition"],
            "probe": probe,
            "exif_orientation": recs[0].get("exif_orientation"),
        })
    };
    // Each convention's own list matches plainly.
    let r = matched(&stored_set, &["--probe", "none"], 0);
    assert_eq!(
        (r["orientation"].as_str(), r["disposition"].as_str()),
        (Some("stored"), Some("matched")),
        "{r}"
    );
    assert!(r["exif_orientation"].is_null());
    let r = matched(&shown_set, &["--probe", "none", "--orientation", "exif"], 1);
    assert_eq!(
        (r["orientation"].as_str(), r["disposition"].as_str()),
        (Some("exif"), Some("matched")),
        "{r}"
    );
    assert_eq!(r["exif_orientation"], 6);
    // The HTML report shows the tag beside the match (re-rendered from that scan's JSON Lines).
    let html = root.join("r1.html");
    nearmatch()
        .args(["report", "convert"])
        .arg(root.join("r1.jsonl"))
        .arg("-o")
        .arg(&html)
        .assert()
        .success();
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(
        html.contains("data-key=\"exif_orientation\""),
        "no EXIF column"
    );
    assert_eq!(
        html.matches("<td class=\"num exif\">6</td>").count(),
        1,
        "the match row's EXIF orientation cell"
    );
    // The other convention's list: missed without probes, found by a dihedral probe.
    for (set, extra, n) in [
        (&shown_set, &["--orientation", "stored"][..], 2),
        (&stored_set, &["--orientation", "exif"][..], 4),
    ] {
        let none: Vec<&str> = extra.iter().copied().chain(["--probe", "none"]).collect();
        let r = matched(set, &none, n);
        assert_eq!(r["disposition"], "unmatched", "{extra:?}: {r}");
        let dih: Vec<&str> = extra
            .iter()
            .copied()
            .chain(["--probe", "dihedral"])
            .collect();
        let r = matched(set, &dih, n + 1);
        assert_eq!(r["disposition"], "matched", "{extra:?}: {r}");
        assert!(r["probe"].as_str().unwrap().starts_with("plain+"), "{r}");
    }
}
