//! `nearmatch hash` and `nearmatch compare`.

use crate::common::nearmatch;

#[test]
fn bad_files_get_their_own_error_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.png");
    let img = nearmatch_synth::generate(nearmatch_synth::Scene::ALL[0], 96, 64, 7);
    std::fs::write(&good, nearmatch_synth::encode_png(&img)).unwrap();
    let jpeg = nearmatch_synth::encode_jpeg(&img, 90);
    let truncated = dir.path().join("truncated.jpg");
    std::fs::write(&truncated, &jpeg[..jpeg.len() / 2]).unwrap();
    let empty = dir.path().join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.path().join("notes.jpg");
    std::fs::write(&text, b"just some text, not a JPEG\n").unwrap();
    let missing = dir.path().join("missing.png");

    let out = nearmatch()
        .args(["hash", "--format", "jsonl"])
        .args([&good, &truncated, &empty, &text, &missing])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "some files failed: exit 2");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 5, "one record per file, in input order");
    let stderr = String::from_utf8(out.stderr).unwrap();

    // The good file: PDQ equals the library's hash of the same pixels; md5 of the bytes.
    let good_bytes = std::fs::read(&good).unwrap();
    let expected_pdq = nearmatch::hash::pdq::hash(&img, Default::default())
        .digest
        .to_hex();
    assert_eq!(records[0]["pdq"], expected_pdq.as_str());
    assert_eq!(
        records[0]["md5"],
        nearmatch::hash::crypto::CryptoHashes::of(&good_bytes)
            .md5_hex()
            .as_str()
    );
    assert!(records[0]["error"].is_null());
    assert!(records[0]["pdq_quality"].is_u64());

    for (i, needle) in [
        (1, "truncated.jpg"),
        (2, "empty.jpg"),
        (3, "notes.jpg"),
        (4, "missing.png"),
    ] {
        let r = &records[i];
        assert!(r["error"].is_string(), "record {i} carries its error: {r}");
        assert!(r["pdq"].is_null());
        assert!(stderr.contains(needle), "stderr names {needle}: {stderr}");
    }
    // Unreadable-as-image files still get their cryptographic hashes; a missing file gets none.
    assert_eq!(records[2]["md5"], "d41d8cd98f00b204e9800998ecf8427e");
    assert!(records[3]["md5"].is_string());
    assert!(records[4]["md5"].is_null());
    assert!(records[2]["error"].as_str().unwrap().contains("empty"));
    assert!(records[3]["error"].as_str().unwrap().contains("text"));
}

#[test]
fn unknown_algorithm_is_a_usage_error() {
    let out = nearmatch()
        .args(["hash", "--algo", "photodna", "x.png"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("photodna"));
}

#[test]
fn compare_reports_zero_for_identical_pixels_in_different_containers() {
    let dir = tempfile::tempdir().unwrap();
    let img = nearmatch_synth::generate(nearmatch_synth::Scene::ALL[1], 80, 60, 3);
    let a = dir.path().join("a.png");
    std::fs::write(&a, nearmatch_synth::encode_png(&img)).unwrap();
    // BMP of the same pixels: different bytes, same image.
    let b = dir.path().join("b.bmp");
    image::RgbImage::from_raw(80, 60, img.to_rgb8())
        .unwrap()
        .save(&b)
        .unwrap();
    let out = nearmatch()
        .args(["compare"])
        .arg(&a)
        .arg(&b)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    for line in text
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("pdq quality"))
    {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[1], "0", "identical pixels differ in {line}");
    }
    assert!(text.contains("byte-identical: no"));
}

/// `fixtures/<name>` CSV as rows of (header -> value).
fn csv_rows(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut rdr =
        csv::Reader::from_path(crate::common::repo_root().join("fixtures").join(name)).unwrap();
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

#[test]
fn exact_and_fast_output_equal_the_stored_references_on_the_committed_fixtures() {
    // The committed fixtures are all small (<= 200 px a side), so `--fast` must not reduce them
    // either: both modes must reproduce the peers' stored hashes exactly.
    let manifest = csv_rows("manifest.csv");
    let pdq: std::collections::HashMap<String, String> = csv_rows("pdq_reference.csv")
        .into_iter()
        .filter(|r| r["profile"] == "pdqhash")
        .map(|r| (r["name"].clone(), r["hash"].clone()))
        .collect();
    let phash: std::collections::HashMap<String, String> = csv_rows("imagehash_reference.csv")
        .into_iter()
        .filter(|r| r["pillow"] == "13")
        .map(|r| (r["name"].clone(), r["phash"].clone()))
        .collect();
    let committed: Vec<_> = manifest.iter().filter(|r| r["committed"] == "1").collect();
    assert!(committed.len() > 100);
    let dir = crate::common::repo_root().join("fixtures/images");
    for flag in ["--exact", "--fast"] {
        let out = nearmatch()
            .args(["hash", flag, "--algo", "pdq,phash", "--format", "jsonl"])
            .args(committed.iter().map(|r| dir.join(&r["file"])))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let recs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), committed.len());
        let mut checked = 0;
        for (row, rec) in committed.iter().zip(&recs) {
            assert_eq!(rec["hash_mode"], "exact", "{flag} {}", row["name"]);
            if let Some(want) = pdq.get(&row["name"]) {
                assert_eq!(rec["pdq"], want.as_str(), "{flag} pdq {}", row["name"]);
                checked += 1;
            }
            if let Some(want) = phash.get(&row["name"]) {
                assert_eq!(rec["phash"], want.as_str(), "{flag} phash {}", row["name"]);
            }
        }
        assert_eq!(
            checked,
            committed.len(),
            "every committed fixture has a reference"
        );
    }
}

#[test]
fn fast_mode_reduces_large_images_and_says_so() {
    use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
    let dir = tempfile::tempdir().unwrap();
    let img = generate(Scene::Product, 1100, 1040, 3);
    let (jpg, png) = (dir.path().join("big.jpg"), dir.path().join("big.png"));
    std::fs::write(&jpg, encode_jpeg(&img, 90)).unwrap();
    std::fs::write(&png, encode_png(&img)).unwrap();
    let run = |flag: &str| -> Vec<serde_json::Value> {
        let out = nearmatch()
            .args(["hash", flag, "--algo", "pdq,md5", "--format", "jsonl"])
            .args([&jpg, &png])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let (fast, exact) = (run("--fast"), run("--exact"));
    // JPEG at 1/4 (275x260; 1/8 would be 138x130), PNG box-averaged by 4 (275x260).
    assert_eq!(fast[0]["hashed_size"], "275x260");
    assert_eq!(fast[1]["hashed_size"], "275x260");
    let pdq = |v: &serde_json::Value| -> nearmatch::Digest256 {
        v["pdq"].as_str().unwrap().parse().unwrap()
    };
    for i in 0..2 {
        assert_eq!(fast[i]["hash_mode"], "fast");
        assert_eq!(exact[i]["hash_mode"], "exact");
        assert!(exact[i].get("hashed_size").is_none());
        assert_eq!(fast[i]["md5"], exact[i]["md5"]);
        // Fast is not exact, but close: far inside PDQ's match radius of 31.
        let d = pdq(&fast[i]).distance(&pdq(&exact[i]));
        assert!(d <= 16, "record {i}: fast PDQ {d} bits from exact");
    }
    // The exact PNG hash is the library's hash of the original pixels.
    let want = nearmatch::hash::pdq::hash(&img, Default::default()).digest;
    assert_eq!(pdq(&exact[1]), want);
    // A text report marks the fast line.
    let out = nearmatch()
        .args(["hash", "--fast", "--algo", "pdq"])
        .arg(&jpg)
        .output()
        .unwrap();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("mode=fast(275x260)"));
}

#[test]
fn files_over_max_file_size_are_refused_unread() {
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small.png");
    let big = tmp.path().join("big.png");
    let img = nearmatch_synth::generate(nearmatch_synth::Scene::Gradient, 64, 48, 3);
    let png = nearmatch_synth::encode_png(&img);
    std::fs::write(&small, &png).unwrap();
    let mut padded = png.clone();
    padded.extend(std::iter::repeat_n(0u8, 4096));
    std::fs::write(&big, &padded).unwrap();
    let limit = (png.len() + 100).to_string();
    let a = nearmatch()
        .args([
            "hash",
            "-a",
            "md5",
            "-f",
            "jsonl",
            "--max-file-size",
            &limit,
        ])
        .arg(&small)
        .arg(&big)
        .assert();
    let out = String::from_utf8_lossy(&a.get_output().stdout).to_string();
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows[0]["error"].is_null(), "{out}");
    let err = rows[1]["error"].as_str().unwrap();
    assert!(
        err.contains(&format!("{} bytes > limit {limit}", padded.len())),
        "{err}"
    );
    assert!(rows[1]["md5"].is_null(), "{out}");
}
