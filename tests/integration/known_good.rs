//! `nearmatch scan --ignore-set`: known-good exclusion. The ignore sets are built from the output
//! of `md5sum` and `sha256sum` run on the planted files, so which files are known-good is decided
//! by an independent tool, never by the scanner; the other files are compared with a scan of the
//! same tree without the ignore sets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::{nearmatch, parse, Report};

const W: u32 = 160;
const H: u32 = 120;

/// Runs a tool and returns its standard output; panics with its standard error on failure.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn build_set(out: &Path, algo: &str, list: &Path) {
    nearmatch()
        .args(["set", "build", "-o"])
        .arg(out)
        .args(["--algo", algo])
        .arg(list)
        .assert()
        .success();
}

struct Tree {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    ev: PathBuf,
    /// Ignore set from `md5sum` output (entry note: the path md5sum printed).
    md5_ignore: PathBuf,
    /// Ignore set from a CSV of `sha256sum` digests with a `product` label column.
    sha256_ignore: PathBuf,
    /// An exact match set (MD5) holding one file the ignore set holds too.
    md5_match: PathBuf,
    /// A perceptual match set (PDQ) holding the picture of `kg/a.png`, which the ignore set
    /// holds too.
    pdq_match: PathBuf,
    /// What `md5sum` printed for each file of the md5 ignore list: digest -> path.
    md5sum_lines: BTreeMap<String, String>,
    /// Whether the `zip` program was there to make `pkg.zip`.
    zipped: bool,
}

fn write(p: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

fn plant() -> Tree {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let ev = root.join("evidence");
    let img = |scene, seed| generate(scene, W, H, seed);
    let a_img = img(Scene::Product, 1);
    let a_png = encode_png(&a_img);
    let a_pdq = hash_image(&a_img, &[Algorithm::Pdq], &HashOptions::default())
        .get(Algorithm::Pdq)
        .unwrap();
    std::fs::write(root.join("pdq.csv"), format!("id,pdq\nKA,{a_pdq}\n")).unwrap();
    write(&ev.join("kg/a.png"), &a_png);
    write(&ev.join("kg/sub/a-copy.png"), &a_png);
    write(
        &ev.join("kg/b.jpg"),
        &encode_jpeg(&img(Scene::Indoor, 2), 85),
    );
    write(&ev.join("kg/readme.txt"), b"an installer's readme\n");
    write(&ev.join("both.png"), &encode_png(&img(Scene::Document, 3)));
    write(
        &ev.join("other/c.png"),
        &encode_png(&img(Scene::Landscape, 4)),
    );
    write(
        &ev.join("other/d.jpg"),
        &encode_jpeg(&img(Scene::DeadLeaves, 5), 80),
    );
    write(&ev.join("other/notes.txt"), b"case notes, not known\n");
    // An archive the ignore list holds, with a known-good member and an unknown one.
    let staging = root.join("staging");
    write(&staging.join("readme.txt"), b"an installer's readme\n");
    write(&staging.join("a.png"), &a_png);
    write(
        &staging.join("inner.png"),
        &encode_png(&img(Scene::Gradient, 6)),
    );
    let zipped = Command::new("zip")
        .current_dir(&staging)
        .args([
            "-q",
            "-X",
            "-0",
            "../evidence/pkg.zip",
            "readme.txt",
            "a.png",
            "inner.png",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !zipped {
        eprintln!("SKIPPED the known-good archive: the zip program is not installed");
    }

    // The ignore lists, by independent tools.
    let mut listed = vec!["kg/a.png", "kg/b.jpg", "kg/readme.txt", "both.png"];
    if zipped {
        listed.push("pkg.zip");
    }
    let md5sums = run(Command::new("md5sum").current_dir(&ev).args(&listed));
    std::fs::write(root.join("nsrl-md5.txt"), &md5sums).unwrap();
    let md5sum_lines: BTreeMap<String, String> = md5sums
        .lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (h.to_string(), p.to_string())
        })
        .collect();
    let sha = run(Command::new("sha256sum").current_dir(&ev).arg("kg/b.jpg"));
    let sha = sha.split_whitespace().next().unwrap();
    std::fs::write(
        root.join("vendor.csv"),
        format!("sha256,product\n{sha},SyntheticSuite 1.0\n"),
    )
    .unwrap();
    let both = run(Command::new("md5sum").current_dir(&ev).arg("both.png"));
    std::fs::write(root.join("bad-md5.txt"), &both).unwrap();
    let (md5_ignore, sha256_ignore, md5_match) = (
        root.join("nsrl.nmset"),
        root.join("vendor.nmset"),
        root.join("bad.nmset"),
    );
    build_set(&md5_ignore, "md5", &root.join("nsrl-md5.txt"));
    build_set(&sha256_ignore, "sha256", &root.join("vendor.csv"));
    build_set(&md5_match, "md5", &root.join("bad-md5.txt"));
    let pdq_match = root.join("pdq.nmset");
    build_set(&pdq_match, "pdq", &root.join("pdq.csv"));
    Tree {
        _tmp: tmp,
        root,
        ev,
        md5_ignore,
        sha256_ignore,
        md5_match,
        pdq_match,
        md5sum_lines,
        zipped,
    }
}

/// Scans the tree with the match set and `extra` arguments; (exit code, report, stderr).
fn scan(t: &Tree, out: &Path, extra: &[&std::ffi::OsStr]) -> (i32, Report, String) {
    let a = nearmatch()
        .arg("scan")
        .arg(&t.ev)
        .arg("--set")
        .arg(&t.md5_match)
        .arg("-o")
        .arg(out)
        .args(extra)
        .assert();
    let o = a.get_output();
    let text = std::fs::read_to_string(out).unwrap();
    (
        o.status.code().unwrap(),
        parse(&text),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The record's path relative to the evidence root.
fn rel(t: &Tree, r: &Value) -> String {
    let p = r["path"].as_str().unwrap();
    p.strip_prefix(&format!("{}/", t.ev.display()))
        .unwrap_or(p)
        .to_string()
}

fn by_path(t: &Tree, rep: &Report) -> BTreeMap<String, Value> {
    rep.files.iter().map(|r| (rel(t, r), r.clone())).collect()
}

/// A record without what legitimately differs between two scans of the same tree.
fn comparable(r: &Value) -> Value {
    let mut r = r.clone();
    let o = r.as_object_mut().unwrap();
    o.remove("atime");
    o.remove("index");
    o.remove("parent");
    o.remove("duplicate_of_index");
    r
}

#[test]
fn ignore_set_marks_exactly_the_listed_files_known_good_and_a_match_wins() {
    let t = plant();
    let plain_out = t.root.join("plain.jsonl");
    let (plain_code, plain, _) = scan(&t, &plain_out, &[]);
    let out = t.root.join("kg.jsonl");
    let (code, rep, stderr) = scan(
        &t,
        &out,
        &[
            "--ignore-set".as_ref(),
            t.md5_ignore.as_os_str(),
            "--ignore-set".as_ref(),
            t.sha256_ignore.as_os_str(),
        ],
    );
    // Exit codes keep their meaning: both.png is matched in both runs, nothing failed.
    assert_eq!(plain_code, 1, "{stderr}");
    assert_eq!(code, 1, "{stderr}");

    let recs = by_path(&t, &rep);
    let plain_recs = by_path(&t, &plain);
    assert_eq!(
        recs.keys().collect::<Vec<_>>(),
        plain_recs.keys().collect::<Vec<_>>(),
        "the same records, known-good ones included"
    );

    // Known-good: exactly the files whose MD5 md5sum put in the list (the copy of a.png too),
    // and the listed members of the archive; never decoded.
    let mut want_known: Vec<&str> =
        vec!["kg/a.png", "kg/b.jpg", "kg/readme.txt", "kg/sub/a-copy.png"];
    if t.zipped {
        want_known.extend(["pkg.zip!/a.png", "pkg.zip!/readme.txt"]);
    }
    let known: Vec<&str> = recs
        .iter()
        .filter(|(_, r)| r["disposition"] == "known-good")
        .map(|(k, _)| k.as_str())
        .collect();
    want_known.sort();
    assert_eq!(known, want_known);
    for k in &want_known {
        let r = &recs[*k];
        let p = &plain_recs[*k];
        assert!(r.get("hashes").is_none(), "{k} was hashed: {r}");
        assert!(
            r.get("width").is_none() && r.get("pdq_quality").is_none(),
            "{r}"
        );
        // Its crypto hashes are those of the plain scan (and md5sum's).
        for h in ["md5", "sha1", "sha256"] {
            assert_eq!(r[h], p[h], "{k} {h}");
        }
        let md5 = r["md5"].as_str().unwrap();
        let hits = r["known_good"].as_array().unwrap();
        assert_eq!(hits[0]["set"], t.md5_ignore.display().to_string(), "{r}");
        assert_eq!(hits[0]["algorithm"], "md5");
        assert_eq!(hits[0]["distance"], 0);
        // The entry's note is the file name md5sum printed for that digest.
        assert_eq!(hits[0]["note"], t.md5sum_lines[md5].as_str(), "{r}");
        assert!(r["matches"].as_array().unwrap().is_empty());
        assert_eq!(r.get("type"), p.get("type"), "{k}");
    }
    // b.jpg is in both ignore sets: two hits, in set order, the second with its label.
    let b = &recs["kg/b.jpg"]["known_good"];
    assert_eq!(b.as_array().unwrap().len(), 2, "{b}");
    assert_eq!(b[1]["set"], t.sha256_ignore.display().to_string());
    assert_eq!(b[1]["algorithm"], "sha256");
    assert_eq!(b[1]["labels"][0]["scheme"], "product");
    assert_eq!(b[1]["labels"][0]["value"], "SyntheticSuite 1.0");

    // A match wins: both.png is in the ignore list and the match set; it is decoded, matched,
    // and the ignore-set hit is noted.
    let both = &recs["both.png"];
    assert_eq!(both["disposition"], "matched", "{both}");
    assert_eq!(both["matches"][0]["set"], t.md5_match.display().to_string());
    assert_eq!(
        both["known_good"][0]["set"],
        t.md5_ignore.display().to_string()
    );
    assert_eq!(both["hashes"], plain_recs["both.png"]["hashes"]);
    assert!(both["hashes"]["pdq"].is_string());

    // The known-good archive is still expanded: a container, the hit noted, and its member
    // that no list holds hashed as in the plain scan.
    if t.zipped {
        let z = &recs["pkg.zip"];
        assert_eq!(z["disposition"], "container", "{z}");
        assert_eq!(z["members"], 3);
        assert_eq!(z["known_good"][0]["note"], "pkg.zip");
        assert_eq!(recs["pkg.zip!/inner.png"]["disposition"], "unmatched");
    }

    // Every other record is exactly what the scan without ignore sets says.
    for (k, r) in &recs {
        if want_known.contains(&k.as_str()) || k == "both.png" || k == "pkg.zip" {
            continue;
        }
        assert!(r.get("known_good").is_none(), "{k}: {r}");
        assert_eq!(comparable(r), comparable(&plain_recs[k]), "{k}");
    }

    // The counts add up: every walked file has one record, known-good counted, not failed.
    let s = &rep.summary;
    let dispositions: u64 = s["dispositions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(dispositions, rep.files.len() as u64);
    assert_eq!(s["files_reported"], rep.files.len() as u64);
    assert_eq!(s["files_walked"], plain.summary["files_walked"]);
    assert_eq!(s["dispositions"]["known-good"], want_known.len() as u64);
    let holding = recs
        .values()
        .filter(|r| r.get("known_good").is_some())
        .count() as u64;
    // known-good files + both.png + pkg.zip
    assert_eq!(holding, want_known.len() as u64 + 1 + u64::from(t.zipped));
    assert_eq!(s["known_good_hits"], holding);
    assert_eq!(
        s["known_good_by_set"][t.md5_ignore.display().to_string()],
        holding
    );
    assert_eq!(
        s["known_good_by_set"][t.sha256_ignore.display().to_string()],
        1
    );
    assert_eq!(s["matched_files"], 1);
    assert!(plain.summary.get("known_good_hits").is_none());

    // The custody block names the ignore sets with their own SHA-256 (by sha256sum).
    let sets = rep.header["ignore_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 2);
    for (set, path) in sets.iter().zip([&t.md5_ignore, &t.sha256_ignore]) {
        assert_eq!(set["path"], path.display().to_string());
        let digest = run(Command::new("sha256sum").arg(path));
        assert_eq!(set["sha256"], digest.split_whitespace().next().unwrap());
    }
    assert_eq!(rep.header["ignore_sets"][0]["algorithm"], "md5");
    assert!(stderr.contains("known-good"), "{stderr}");
}

#[test]
fn known_good_reaches_every_report_format() {
    let t = plant();
    let outs: Vec<PathBuf> = ["r.csv", "r.dfxml", "r.jsonld", "r.html", "r.vics.json"]
        .iter()
        .map(|n| t.root.join(n))
        .collect();
    let mut cmd = nearmatch();
    cmd.arg("scan")
        .arg(&t.ev)
        .arg("--set")
        .arg(&t.md5_match)
        .arg("--ignore-set")
        .arg(&t.md5_ignore)
        .arg("-o")
        .arg(t.root.join("r.jsonl"));
    for o in &outs {
        cmd.arg("-o").arg(o);
    }
    let a = cmd.assert();
    assert_eq!(a.get_output().status.code(), Some(1));
    let read = |n: &str| std::fs::read_to_string(t.root.join(n)).unwrap();
    let jsonl = parse(&read("r.jsonl"));
    let known: Vec<&Value> = jsonl
        .files
        .iter()
        .filter(|r| r["disposition"] == "known-good")
        .collect();
    assert!(!known.is_empty());
    let set = t.md5_ignore.display().to_string();

    let csv = read("r.csv");
    let head: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let (d, kc, kg) = (
        head.iter().position(|c| *c == "disposition").unwrap(),
        head.iter().position(|c| *c == "known_good_count").unwrap(),
        head.iter().position(|c| *c == "known_good").unwrap(),
    );
    let rows: Vec<Vec<&str>> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let csv_known: Vec<&Vec<&str>> = rows.iter().filter(|r| r[d] == "known-good").collect();
    assert_eq!(csv_known.len(), known.len());
    for r in &csv_known {
        assert_eq!(r[kc], "1");
        assert!(r[kg].contains(&format!("@{set}(md5)")), "{r:?}");
    }

    let dfxml = read("r.dfxml");
    assert_eq!(
        dfxml
            .matches("<nm:disposition>known-good</nm:disposition>")
            .count(),
        known.len()
    );
    assert!(dfxml.contains("<nm:known_good "), "{dfxml}");

    let case: Value = serde_json::from_str(&read("r.jsonld")).unwrap();
    let graph = case["@graph"].as_array().unwrap();
    let case_known: Vec<&Value> = graph
        .iter()
        .filter(|n| n["nearmatch:disposition"] == "known-good")
        .collect();
    assert_eq!(case_known.len(), known.len());
    assert!(case_known
        .iter()
        .all(|n| n["nearmatch:knownGood"][0]["nearmatch:hashSetPath"] == set.as_str()));

    let html = read("r.html");
    assert!(html.contains("data-disposition=\"known-good\""), "{html}");
    assert!(html.contains("id=\"ignore-sets\""));

    // VICS exports examined media only: no known-good file's MD5 appears.
    let vics = read("r.vics.json");
    for r in &known {
        let md5 = r["md5"].as_str().unwrap().to_uppercase();
        assert!(!vics.contains(&md5), "{} exported", r["path"]);
    }
    let matched = jsonl
        .files
        .iter()
        .find(|r| r["disposition"] == "matched")
        .unwrap();
    assert!(vics.contains(&matched["md5"].as_str().unwrap().to_uppercase()));
}

#[test]
fn known_good_archive_without_expansion_is_known_good() {
    let t = plant();
    if !t.zipped {
        return;
    }
    let out = t.root.join("none.jsonl");
    let (code, rep, _) = scan(
        &t,
        &out,
        &[
            "--containers".as_ref(),
            "none".as_ref(),
            "--ignore-set".as_ref(),
            t.md5_ignore.as_os_str(),
        ],
    );
    assert_eq!(code, 1);
    let recs = by_path(&t, &rep);
    assert_eq!(recs["pkg.zip"]["disposition"], "known-good");
    assert!(!recs.keys().any(|k| k.starts_with("pkg.zip!")));
}

#[test]
fn a_perceptual_ignore_set_is_a_usage_error_naming_the_file() {
    let t = plant();
    let csv = t.root.join("perceptual.csv");
    std::fs::write(&csv, format!("pdq\n{}\n", "ab".repeat(32))).unwrap();
    let pdq = t.root.join("perceptual.nmset");
    build_set(&pdq, "pdq", &csv);
    // A perceptual set is a usage error (64); a missing ignore set is a bad set (65). Both
    // name the file.
    let missing = t.root.join("missing.nmset");
    for (set, code, why) in [
        (&pdq, 64, Some("MD5, SHA-1 or SHA-256")),
        (&missing, 65, None),
    ] {
        let a = nearmatch()
            .arg("scan")
            .arg(&t.ev)
            .arg("--ignore-set")
            .arg(set)
            .arg("-o")
            .arg(t.root.join("x.jsonl"))
            .assert();
        let o = a.get_output();
        assert_eq!(o.status.code(), Some(code), "{}", set.display());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&set.display().to_string()), "{err}");
        if let Some(why) = why {
            assert!(err.contains(why), "{err}");
        }
    }
}

#[test]
fn resume_keeps_known_good_records_and_refuses_other_ignore_sets() {
    let t = plant();
    let ignore = ["--ignore-set".as_ref(), t.md5_ignore.as_os_str()];
    let (_, full, _) = scan(&t, &t.root.join("full.jsonl"), &ignore);
    let out = t.root.join("resumed.jsonl");
    let stop = [&ignore[..], &["--debug-stop-after".as_ref(), "4".as_ref()]].concat();
    let code = nearmatch()
        .arg("scan")
        .arg(&t.ev)
        .arg("--set")
        .arg(&t.md5_match)
        .arg("-o")
        .arg(&out)
        .args(&stop)
        .assert()
        .get_output()
        .status
        .code();
    assert_eq!(code, Some(70));
    // Another ignore set (or none) is another scan: refused.
    for other in [
        vec![
            "--resume".as_ref(),
            "--ignore-set".as_ref(),
            t.sha256_ignore.as_os_str(),
        ],
        vec!["--resume".as_ref()],
    ] {
        let a = nearmatch()
            .arg("scan")
            .arg(&t.ev)
            .arg("--set")
            .arg(&t.md5_match)
            .arg("-o")
            .arg(&out)
            .args(&other)
            .assert();
        assert_eq!(a.get_output().status.code(), Some(64), "{other:?}");
    }
    let resume = [&ignore[..], &["--resume".as_ref()]].concat();
    let (code, resumed, _) = scan(&t, &out, &resume);
    assert_eq!(code, 1);
    let strip = |r: &Report| r.files.iter().map(comparable).collect::<Vec<_>>();
    assert_eq!(strip(&full), strip(&resumed));
    assert_eq!(resumed.header["resumed"]["files_reused"], 4);
    assert_eq!(
        resumed.summary["dispositions"],
        full.summary["dispositions"]
    );
}

#[test]
fn perceptual_match_sets_overrule_the_ignore_set_only_with_decode_known_good() {
    let t = plant();
    let run = |name: &str, extra: &[&str]| {
        let out = t.root.join(name);
        let a = nearmatch()
            .arg("scan")
            .arg(&t.ev)
            .arg("--set")
            .arg(&t.pdq_match)
            .arg("--ignore-set")
            .arg(&t.md5_ignore)
            .arg("-o")
            .arg(&out)
            .args(extra)
            .assert();
        let code = a.get_output().status.code().unwrap();
        let rep = parse(&std::fs::read_to_string(&out).unwrap());
        (code, by_path(&t, &rep), rep)
    };
    // By default a known-good picture is not decoded: the PDQ set cannot see it (documented).
    let (code, recs, _) = run("default.jsonl", &[]);
    assert_eq!(code, 0);
    assert_eq!(recs["kg/a.png"]["disposition"], "known-good");
    // With --decode-known-good the PDQ set's picture is matched, the ignore-set hit noted; its
    // byte copy too; known-good pictures the PDQ set does not hold stay known-good, hashed.
    let (code, recs, rep) = run("decoded.jsonl", &["--decode-known-good"]);
    assert_eq!(code, 1);
    for k in ["kg/a.png", "kg/sub/a-copy.png"] {
        let r = &recs[k];
        assert_eq!(r["disposition"], "matched", "{r}");
        assert_eq!(r["matches"][0]["entry"], "KA");
        assert_eq!(
            r["known_good"][0]["set"],
            t.md5_ignore.display().to_string()
        );
    }
    let b = &recs["kg/b.jpg"];
    assert_eq!(b["disposition"], "known-good", "{b}");
    assert!(b["hashes"]["pdq"].is_string(), "decoded: {b}");
    assert_eq!(recs["kg/readme.txt"]["disposition"], "known-good");
    assert_eq!(rep.header["options"]["decode_known_good"], true);
    // Without an ignore set the flag is a usage error.
    let a = nearmatch()
        .arg("scan")
        .arg(&t.ev)
        .arg("--decode-known-good")
        .arg("-o")
        .arg(t.root.join("x.jsonl"))
        .assert();
    assert_eq!(a.get_output().status.code(), Some(64));
}
