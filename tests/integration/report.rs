//! Reports: several from one scan, `report convert` giving each back byte for byte, the format
//! chosen by extension or `--format`, and the usage and input errors of both. (Schema and
//! `case_validate` conformance, hostile names and the HTML in a browser: python/tests.)

use std::path::{Path, PathBuf};

use nearmatch::hash::crypto::CryptoHashes;
use serde_json::Value;

use crate::common::nearmatch;
use crate::scan::{plant, scan};

/// One report of each format, named so that the extension picks it.
const OUTPUTS: [&str; 6] = [
    "r.jsonl",
    "r.csv",
    "r.vics.json",
    "r.dfxml",
    "r.jsonld",
    "r.html",
];

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// JSON Lines records without what differs between two runs (times, the command line).
fn comparable(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            let o = v.as_object_mut().unwrap();
            for k in [
                "started_utc",
                "finished_utc",
                "elapsed_seconds",
                "command_line",
            ] {
                o.remove(k);
            }
            v
        })
        .collect()
}

#[test]
fn several_reports_from_one_scan_equal_their_conversions() {
    let p = plant();
    let paths: Vec<PathBuf> = OUTPUTS.iter().map(|n| p.root.join(n)).collect();
    let mut extra = vec!["--quiet"];
    for q in &paths[1..] {
        extra.extend(["-o", q.to_str().unwrap()]);
    }
    let (code, jsonl) = scan(&p, &paths[0], &extra);
    assert_eq!(code, 3, "matches and a corrupt file");
    // The JSON Lines of a scan with several outputs is the one a scan with one writes.
    let (_, alone) = scan(&p, &p.root.join("alone.jsonl"), &["--quiet"]);
    assert_eq!(comparable(&jsonl), comparable(&alone));
    let summary: Value = serde_json::from_str(jsonl.lines().last().unwrap()).unwrap();
    assert_eq!(summary["files_reported"], p.expected.len() as u64);

    for (name, report) in OUTPUTS.iter().zip(&paths) {
        let bytes = read(report);
        let sums = String::from_utf8(read(&with_suffix(report, ".sha256"))).unwrap();
        let digest = CryptoHashes::of(&bytes).sha256_hex();
        assert_eq!(
            sums.lines().next(),
            Some(format!("{digest}  {name}").as_str())
        );
        let converted = p.root.join(format!("converted-{name}"));
        nearmatch()
            .args(["report", "convert", "-q"])
            .arg(&paths[0])
            .arg("-o")
            .arg(&converted)
            .assert()
            .success();
        assert!(
            read(&converted) == bytes,
            "{name}: the conversion differs from the scan's report"
        );
        if *name == "r.csv" {
            assert_eq!(
                read(&with_suffix(&converted, ".header.json")),
                read(&with_suffix(report, ".header.json"))
            );
        }
    }
    let head = |n: &str| String::from_utf8_lossy(&read(&p.root.join(n))[..40]).into_owned();
    assert!(head("r.dfxml").starts_with("<?xml"));
    assert!(head("r.html").starts_with("<!DOCTYPE html>"));
    assert!(head("r.jsonld").starts_with("{\n\"@context\""));
    assert!(head("r.vics.json").starts_with("{\"@odata.context\""));
    assert!(head("r.csv").starts_with("index,path,"));
}

#[test]
fn formats_by_extension_or_flag_and_what_is_refused() {
    let p = plant();
    let code = |args: &[&str]| {
        let mut c = nearmatch();
        c.arg("scan").arg(&p.evidence).args(["--quiet"]).args(args);
        c.assert().get_output().status.code().unwrap()
    };
    let at = |n: &str| p.root.join(n).to_str().unwrap().to_string();
    // One -o: the extension picks the format, --format overrides it, anything else is JSON Lines.
    assert_eq!(code(&["-o", &at("one.html")]), 2);
    assert!(String::from_utf8(read(&p.root.join("one.html")))
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
    code(&["-o", &at("forced.html"), "--format", "dfxml"]);
    assert!(read(&p.root.join("forced.html")).starts_with(b"<?xml"));
    code(&["-o", &at("plain.out")]);
    let first: Value = serde_json::from_slice(
        read(&p.root.join("plain.out"))
            .split(|&b| b == b'\n')
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["record"], "header");
    // Standard output in any format but CSV.
    let out = nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .args(["--quiet", "--format", "dfxml"])
        .output()
        .unwrap();
    assert!(out.stdout.starts_with(b"<?xml") && out.stdout.ends_with(b"</dfxml>\n"));
    // Usage errors (64): an unknown extension among several, --format with several, a name
    // twice, an output inside the evidence, CSV on standard output.
    let inside = p.evidence.join("r.html");
    for args in [
        vec!["-o", &at("a.jsonl"), "-o", &at("b.txt")],
        vec![
            "-o",
            &at("a.jsonl"),
            "-o",
            &at("b.html"),
            "--format",
            "html",
        ],
        vec!["-o", &at("a.jsonl"), "-o", &at("a.jsonl")],
        vec!["-o", &at("a.jsonl"), "-o", inside.to_str().unwrap()],
        vec!["--format", "csv"],
    ] {
        assert_eq!(code(&args), 64, "{args:?}");
    }
    assert!(!p.root.join("a.jsonl").exists() && !inside.exists());

    // report convert: a report without its summary (an interrupted scan) is bad input (65) and
    // leaves nothing behind; so is a missing one; an unknown extension without --to is a usage
    // error; an unwritable output is 74.
    let report = p.root.join("plain.out");
    let text = String::from_utf8(read(&report)).unwrap();
    let cut = p.root.join("cut.jsonl");
    let keep = text.lines().count() - 1;
    let lines: Vec<&str> = text.lines().take(keep).collect();
    std::fs::write(&cut, lines.join("\n") + "\n").unwrap();
    let convert = |src: &Path, args: &[&str]| {
        nearmatch()
            .args(["report", "convert"])
            .arg(src)
            .args(args)
            .assert()
            .get_output()
            .status
            .code()
            .unwrap()
    };
    assert_eq!(convert(&cut, &["-o", &at("cut.dfxml")]), 65);
    assert!(!p.root.join("cut.dfxml").exists() && !p.root.join("cut.dfxml.tmp").exists());
    assert_eq!(
        convert(&p.root.join("missing.jsonl"), &["-o", &at("m.html")]),
        65
    );
    assert_eq!(convert(&report, &["-o", &at("x.unknown")]), 64);
    assert_eq!(
        convert(&report, &["-o", &at("x.unknown"), "--to", "case"]),
        0
    );
    assert!(read(&p.root.join("x.unknown")).starts_with(b"{\n\"@context\""));
    assert_eq!(convert(&report, &["-o", &at("no/such/dir/x.html")]), 74);
}
