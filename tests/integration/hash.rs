//! `nearmatch hash` and `nearmatch compare`.

use crate::common::nearmatch;

#[test]
fn bad_files_get_their_own_error_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.png");
    let img = nearmatch::synth::generate(nearmatch::synth::Scene::ALL[0], 96, 64, 7);
    std::fs::write(&good, nearmatch::synth::encode_png(&img)).unwrap();
    let jpeg = nearmatch::synth::encode_jpeg(&img, 90);
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
    let img = nearmatch::synth::generate(nearmatch::synth::Scene::ALL[1], 80, 60, 3);
    let a = dir.path().join("a.png");
    std::fs::write(&a, nearmatch::synth::encode_png(&img)).unwrap();
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
