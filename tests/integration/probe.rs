//! Query-side probes in `nearmatch scan`: padded, letterboxed and flipped copies of a known
//! synthetic image match with the probe that undoes the change, `--probe none` misses them, a
//! distinct image matches nothing, and the chain-of-custody header states the probe setup.
//!
//! Every expectation comes from how the test made the files (which transform each copy got),
//! never from what the scanner computed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch::pixels::{Image, Layout};
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::nearmatch;

const W: u32 = 160;
const H: u32 = 120;

/// `img` on a canvas of one colour, with the given margins (left, top, right, bottom).
fn pad(img: &Image, margins: [u32; 4], colour: [u8; 3]) -> Image {
    let [l, t, r, b] = margins;
    let (w, h) = (img.width(), img.height());
    let (cw, ch) = (w + l + r, h + t + b);
    let src = img.to_rgb8();
    let mut out: Vec<u8> = colour.repeat((cw * ch) as usize);
    for y in 0..h {
        let s = (y * w * 3) as usize;
        let d = (((y + t) * cw + l) * 3) as usize;
        out[d..d + (w * 3) as usize].copy_from_slice(&src[s..s + (w * 3) as usize]);
    }
    Image::new(cw, ch, Layout::Rgb8(out)).unwrap()
}

/// `img` mirrored left-right.
fn mirror(img: &Image) -> Image {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let src = img.to_rgb8();
    let mut out = vec![0u8; src.len()];
    for y in 0..h {
        for x in 0..w {
            let (s, d) = ((y * w + x) * 3, (y * w + w - 1 - x) * 3);
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
    Image::new(w as u32, h as u32, Layout::Rgb8(out)).unwrap()
}

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    evidence: PathBuf,
    set: PathBuf,
}

/// One known image K1 (its PDQ hash is the whole list) and four evidence files.
fn plant() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let ev = root.join("evidence");
    std::fs::create_dir_all(&ev).unwrap();
    let known = generate(Scene::Landscape, W, H, 71);
    let h = hash_image(&known, &[Algorithm::Pdq], &HashOptions::default())
        .get(Algorithm::Pdq)
        .unwrap();
    std::fs::write(root.join("known.csv"), format!("id,pdq\nK1,{h}\n")).unwrap();
    let put = |name: &str, img: &Image| std::fs::write(ev.join(name), encode_png(img)).unwrap();
    // 25 % of the width and height added as a white frame: far outside plain PDQ's reach.
    put(
        "padded.png",
        &pad(&known, [40, 30, 40, 30], [255, 255, 255]),
    );
    // 4:3 shown in a square frame with black bars above and below.
    put("letterboxed.png", &pad(&known, [0, 20, 0, 20], [0, 0, 0]));
    put("mirrored.png", &mirror(&known));
    put("distinct.png", &generate(Scene::DeadLeaves, W, H, 72));
    let set = root.join("known.nmset");
    nearmatch()
        .args(["set", "build", "--algo", "pdq", "-o"])
        .arg(&set)
        .arg(root.join("known.csv"))
        .assert()
        .success();
    Tree {
        _tmp: tmp,
        root,
        evidence: ev,
        set,
    }
}

/// Scans with `extra` flags; returns the header and file name -> record.
fn scan(t: &Tree, name: &str, extra: &[&str]) -> (Value, BTreeMap<String, Value>) {
    let out = t.root.join(name);
    let a = nearmatch()
        .arg("scan")
        .arg(&t.evidence)
        .arg("--set")
        .arg(&t.set)
        .arg("-o")
        .arg(&out)
        .arg("--quiet")
        .args(extra)
        .assert();
    let code = a.get_output().status.code();
    assert!(matches!(code, Some(0 | 1)), "{extra:?}: exit {code:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let files = recs
        .iter()
        .filter(|r| r["record"] == "file")
        .map(|r| {
            let p = Path::new(r["path"].as_str().unwrap());
            (
                p.file_name().unwrap().to_str().unwrap().to_string(),
                r.clone(),
            )
        })
        .collect();
    (recs[0].clone(), files)
}

fn probe_of(rec: &Value) -> Option<&str> {
    assert!(rec["matches"].as_array().unwrap().len() <= 1, "{rec}");
    rec["matches"][0]["probe"].as_str()
}

#[test]
fn padded_and_letterboxed_copies_match_by_their_probe_and_plain_misses_them() {
    let t = plant();
    let (_, plain) = scan(&t, "plain.jsonl", &["--probe", "none"]);
    for f in [
        "padded.png",
        "letterboxed.png",
        "mirrored.png",
        "distinct.png",
    ] {
        assert_eq!(plain[f]["disposition"], "unmatched", "--probe none: {f}");
    }
    // The default probes (trim alone), without naming them.
    let (header, probed) = scan(&t, "default.jsonl", &[]);
    for f in ["padded.png", "letterboxed.png"] {
        let r = &probed[f];
        assert_eq!(r["disposition"], "matched", "{f}: {r}");
        assert_eq!(r["matches"][0]["entry"], "K1");
        let p = probe_of(r).unwrap();
        // Either border-removing probe may be the closer one; both undo a uniform frame.
        assert!(p == "trim" || p == "content-box", "{f}: probe {p}");
        assert_eq!(r["matches"][0]["orientation"], "orig");
        let d = r["matches"][0]["distance"].as_u64().unwrap();
        let pr = header["options"]["probe_max_distance"].as_u64().unwrap();
        assert!(
            d <= pr.min(31),
            "{f}: distance {d} within the probe radius {pr}"
        );
    }
    assert_eq!(probed["mirrored.png"]["disposition"], "unmatched");
    assert_eq!(probed["distinct.png"]["disposition"], "unmatched");
    assert_eq!(header["options"]["probes"], serde_json::json!(["trim"]));
    assert_eq!(header["options"]["dihedral"], false);
    assert_eq!(
        header["options"]["probe_max_distance"],
        nearmatch::probe::DEFAULT_PROBE_RADIUS
    );
    assert_eq!(
        header["sets"][0]["probe_radius"],
        nearmatch::probe::DEFAULT_PROBE_RADIUS.min(31)
    );
}

#[test]
fn flipped_copy_matches_with_the_dihedral_probe_and_names_it() {
    let t = plant();
    for flags in [&["--probe", "dihedral"][..], &["--dihedral"][..]] {
        let (header, r) = scan(&t, "dih.jsonl", flags);
        let m = &r["mirrored.png"];
        assert_eq!(m["disposition"], "matched", "{flags:?}: {m}");
        assert_eq!(m["matches"][0]["orientation"], "flipy");
        assert_eq!(probe_of(m), Some("plain+flipy"));
        assert_eq!(r["distinct.png"]["disposition"], "unmatched");
        assert_eq!(header["options"]["dihedral"], true);
    }
    // `--probe dihedral` alone: no trim, so the padded copy is missed again.
    let (header, r) = scan(&t, "dih-only.jsonl", &["--probe", "dihedral"]);
    assert_eq!(r["padded.png"]["disposition"], "unmatched");
    assert_eq!(header["options"]["probes"], serde_json::json!(["dihedral"]));
}

#[test]
fn a_zero_probe_radius_keeps_only_the_plain_hash_matches() {
    let t = plant();
    // Plain copy of the known image as a control: its plain hash is at distance 0.
    let known = generate(Scene::Landscape, W, H, 71);
    std::fs::write(t.evidence.join("copy.png"), encode_png(&known)).unwrap();
    // A padded JPEG: the trimmed pixels are lossy, so its trim probe is some bits away (a padded
    // PNG can trim back to the exact original pixels, at distance 0).
    let padded = pad(&known, [40, 30, 40, 30], [255, 255, 255]);
    std::fs::write(t.evidence.join("padded-q80.jpg"), encode_jpeg(&padded, 80)).unwrap();
    let (_, r) = scan(&t, "r31.jsonl", &[]);
    assert_eq!(r["padded-q80.jpg"]["disposition"], "matched");
    assert!(
        r["padded-q80.jpg"]["matches"][0]["distance"]
            .as_u64()
            .unwrap()
            > 0
    );
    let (header, r) = scan(&t, "r0.jsonl", &["--probe-max-distance", "0"]);
    assert_eq!(header["sets"][0]["probe_radius"], 0);
    assert_eq!(r["copy.png"]["disposition"], "matched");
    assert_eq!(probe_of(&r["copy.png"]), Some("plain"));
    assert_eq!(r["padded-q80.jpg"]["disposition"], "unmatched");
    // Whatever still matches at probe radius 0 is at distance 0.
    for (f, rec) in &r {
        for m in rec["matches"].as_array().unwrap() {
            assert_eq!(m["distance"], 0, "{f}: {m}");
        }
    }
}

#[test]
fn csv_report_names_the_probe_of_every_match() {
    let t = plant();
    let out = t.root.join("r.csv");
    nearmatch()
        .arg("scan")
        .arg(&t.evidence)
        .arg("--set")
        .arg(&t.set)
        .args(["--quiet", "--format", "csv", "-o"])
        .arg(&out)
        .assert()
        .code(1);
    let mut rdr = csv::Reader::from_path(&out).unwrap();
    let headers = rdr.headers().unwrap().clone();
    let col = |n: &str| headers.iter().position(|h| h == n).unwrap();
    let (path, matches, probes) = (col("path"), col("matches"), col("match_probes"));
    let mut seen = 0;
    for row in rdr.records() {
        let row = row.unwrap();
        if row[path].ends_with("padded.png") {
            assert!(row[matches].contains("probe="), "{:?}", &row[matches]);
            assert!(
                ["trim", "content-box"].contains(&&row[probes]),
                "{:?}",
                &row[probes]
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 1);
    let side: Value =
        serde_json::from_slice(&std::fs::read(t.root.join("r.csv.header.json")).unwrap()).unwrap();
    assert_eq!(side["options"]["probes"], serde_json::json!(["trim"]));
}

#[test]
fn unknown_probe_family_is_a_usage_error_naming_it() {
    let t = plant();
    let a = nearmatch()
        .arg("scan")
        .arg(&t.evidence)
        .arg("--set")
        .arg(&t.set)
        .args(["--probe", "trim,sideways", "--quiet"])
        .assert()
        .code(64);
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    assert!(err.contains("sideways"), "{err}");
}

#[test]
fn hash_probes_feed_match_which_names_the_probe_and_the_file() {
    let t = plant();
    let files: Vec<PathBuf> = ["padded.png", "mirrored.png", "distinct.png"]
        .iter()
        .map(|f| t.evidence.join(f))
        .collect();
    let hashed = |probe: &str| {
        let a = nearmatch()
            .args([
                "hash", "--algo", "pdq", "--format", "jsonl", "--probe", probe,
            ])
            .args(&files)
            .assert()
            .success();
        let text = String::from_utf8(a.get_output().stdout.clone()).unwrap();
        let path = t.root.join(format!("hashes-{probe}.jsonl"));
        std::fs::write(&path, &text).unwrap();
        (path, text)
    };
    let matched = |list: &Path| -> Vec<Value> {
        let a = nearmatch()
            .args(["match", "--set"])
            .arg(&t.set)
            .arg(list)
            .assert();
        let out = String::from_utf8(a.get_output().stdout.clone()).unwrap();
        out.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (none, text) = hashed("none");
    assert!(!text.contains("pdq_probes"), "no probes unless asked for");
    assert!(matched(&none).is_empty(), "plain hashes miss every copy");
    let (probed, text) = hashed("default,dihedral");
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["pdq_probes"][0]["probe"], "plain");
    assert_eq!(first["pdq_probes"][0]["pdq"], first["pdq"]);
    let hits = matched(&probed);
    let by_file: BTreeMap<String, &Value> = hits
        .iter()
        .map(|h| {
            let p = Path::new(h["path"].as_str().unwrap());
            (p.file_name().unwrap().to_str().unwrap().to_string(), h)
        })
        .collect();
    assert_eq!(
        by_file.keys().collect::<Vec<_>>(),
        ["mirrored.png", "padded.png"]
    );
    assert_eq!(by_file["mirrored.png"]["probe"], "plain+flipy");
    let p = by_file["padded.png"]["probe"].as_str().unwrap();
    assert!(p == "trim" || p == "content-box", "{p}");
    assert_eq!(by_file["padded.png"]["entry"], "K1");
}
