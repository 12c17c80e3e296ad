//! `nearmatch scan` on evidence trees planted in temporary directories: every assertion compares
//! with what the test planted, never with what the scanner computed.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nearmatch::hash::crypto::CryptoHashes;
use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch::pixels::{Image, Layout};
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::{nearmatch, parse, Report};

const W: u32 = 192;
const H: u32 = 144;

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

fn half(img: &Image) -> Image {
    let (w, h) = (img.width() / 2, img.height() / 2);
    let src = img.to_rgb8();
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let at = |dx: u32, dy: u32| {
                    u32::from(src[(((2 * y + dy) * img.width() + 2 * x + dx) * 3 + c) as usize])
                };
                out.push(((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1)) / 4) as u8);
            }
        }
    }
    Image::new(w, h, Layout::Rgb8(out)).unwrap()
}

/// A planted tree: evidence root, set files, and the expected disposition of every file
/// (relative path bytes -> disposition).
pub(crate) struct Planted {
    _tmp: tempfile::TempDir,
    pub(crate) root: PathBuf,
    pub(crate) evidence: PathBuf,
    pdq_set: PathBuf,
    md5_set: PathBuf,
    pub(crate) expected: BTreeMap<Vec<u8>, &'static str>,
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

pub(crate) fn plant() -> Planted {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let ev = root.join("evidence");
    let known = [
        generate(Scene::Landscape, W, H, 21),
        generate(Scene::Indoor, W, H, 22),
        generate(Scene::Document, W, H, 23),
    ];
    let mut csv = String::from("id,pdq,caid\n");
    for (i, k) in known.iter().enumerate() {
        let h = hash_image(k, &[Algorithm::Pdq], &HashOptions::default())
            .get(Algorithm::Pdq)
            .unwrap();
        csv.push_str(&format!("K{i},{h},{}\n", i + 1));
    }
    std::fs::write(root.join("pdq.csv"), csv).unwrap();
    let mut expected = BTreeMap::new();
    let mut put = |rel: &[u8], bytes: &[u8], disp: &'static str| {
        let p = ev.join(OsStr::from_bytes(rel));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        expected.insert(rel.to_vec(), disp);
    };
    put(b"a/reencoded.jpg", &encode_jpeg(&known[0], 70), "matched");
    put(
        b"a/resized.jpg",
        &encode_jpeg(&half(&known[1]), 85),
        "matched",
    );
    put(
        b"a/mirrored.jpg",
        &encode_jpeg(&mirror(&known[2]), 90),
        "unmatched",
    );
    let exact = encode_png(&generate(Scene::Product, W, H, 24));
    put(b"b/exact.png", &exact, "matched");
    put(b"b/c/.hidden-copy.png", &exact, "matched");
    put(b"b/lying.txt", &encode_jpeg(&known[0], 90), "matched");
    for i in 0..4u64 {
        put(
            format!("u/unrelated{i}.jpg").as_bytes(),
            &encode_jpeg(&generate(Scene::DeadLeaves, W, H, 500 + i), 80),
            "unmatched",
        );
    }
    put(b"notes.txt", b"just text\n", "not-image");
    let t = encode_jpeg(&generate(Scene::Landscape, W, H, 600), 85);
    put(b"truncated.jpg", &t[..t.len() / 3], "error:decode");
    put(
        b"caf\xe9-\xff.jpg",
        &encode_jpeg(&generate(Scene::Gradient, W, H, 601), 85),
        "unmatched",
    );
    std::fs::write(
        root.join("md5.txt"),
        format!("{}\n", CryptoHashes::of(&exact).md5_hex()),
    )
    .unwrap();
    let (pdq_set, md5_set) = (root.join("pdq.nmset"), root.join("md5.nmset"));
    build_set(&pdq_set, "pdq", &root.join("pdq.csv"));
    build_set(&md5_set, "md5", &root.join("md5.txt"));
    Planted {
        _tmp: tmp,
        root,
        evidence: ev,
        pdq_set,
        md5_set,
        expected,
    }
}

fn raw_path(rec: &Value) -> Vec<u8> {
    match rec.get("path_b64").and_then(Value::as_str) {
        Some(b) => base64_decode(b),
        None => rec["path"].as_str().unwrap().as_bytes().to_vec(),
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | A.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

/// Runs a scan writing to `out`; returns (exit code, report text).
pub(crate) fn scan(p: &Planted, out: &Path, extra: &[&str]) -> (i32, String) {
    let a = nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .arg("--set")
        .arg(&p.pdq_set)
        .arg("--set")
        .arg(&p.md5_set)
        .arg("-o")
        .arg(out)
        .args(extra)
        .assert();
    let code = a.get_output().status.code().unwrap();
    (code, std::fs::read_to_string(out).unwrap_or_default())
}

fn rel(p: &Planted, rec: &Value) -> Vec<u8> {
    let raw = raw_path(rec);
    let prefix = p.evidence.as_os_str().as_bytes();
    raw[prefix.len() + 1..].to_vec()
}

/// Bytes and mtimes of every file under `dir`.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut v: Vec<_> = walk(dir)
        .into_iter()
        .filter(|p| std::fs::symlink_metadata(p).unwrap().is_file())
        .map(|p| {
            let m = std::fs::metadata(&p).unwrap().modified().unwrap();
            (p.clone(), std::fs::read(&p).unwrap(), m)
        })
        .collect();
    v.sort();
    v
}

/// Access times (seconds, nanoseconds) of every file under `dir`, by `lstat` only.
fn atimes(dir: &Path) -> Vec<(PathBuf, i64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut v: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(&p).unwrap();
            (p, m.atime(), m.atime_nsec())
        })
        .collect();
    v.sort();
    v
}

/// Sets a file's atime to 2001 (its mtime untouched).
fn age_atime(p: &Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap();
    let times = [
        libc::timespec {
            tv_sec: 1_000_000_000,
            tv_nsec: 0,
        },
        libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
    ];
    // SAFETY: a valid NUL-terminated path and a two-element timespec array, as utimensat needs.
    let r = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) };
    assert_eq!(r, 0, "utimensat {}", p.display());
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn every_planted_file_gets_its_disposition_and_counts_reconcile() {
    let p = plant();
    // Bytes first: reading them may itself move atimes (strictatime, or relatime's first read);
    // the atimes are then taken by stat alone, right around the scan.
    let before = snapshot(&p.evidence);
    // An atime older than the mtime (and than a day) is one relatime would refresh on any
    // ordinary read: this keeps the check able to fail on relatime mounts too.
    for f in walk(&p.evidence) {
        age_atime(&f);
    }
    let atimes_before = atimes(&p.evidence);
    let out = p.root.join("report.jsonl");
    let (code, text) = scan(&p, &out, &["--quiet"]);
    assert_eq!(code, 3, "matches and a failure (the truncated JPEG)");
    assert_eq!(
        atimes(&p.evidence),
        atimes_before,
        "evidence atimes unchanged (O_NOATIME)"
    );
    assert_eq!(
        snapshot(&p.evidence),
        before,
        "evidence bytes and mtimes unchanged"
    );
    let r = parse(&text);
    let got: BTreeMap<Vec<u8>, String> = r
        .files
        .iter()
        .map(|f| (rel(&p, f), f["disposition"].as_str().unwrap().to_string()))
        .collect();
    let want: BTreeMap<Vec<u8>, String> = p
        .expected
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect();
    assert_eq!(got, want);
    // Reconciliation: walked == records == sum of dispositions.
    let n = p.expected.len() as u64;
    assert_eq!(r.summary["files_walked"], n);
    let sum: u64 = r.summary["dispositions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(sum, n);
    let by = |path: &[u8]| r.files.iter().find(|f| rel(&p, f) == path).unwrap().clone();
    // Perceptual matches name the planted entry; the exact copy matches both sets.
    assert_eq!(by(b"a/reencoded.jpg")["matches"][0]["entry"], "K0");
    assert_eq!(by(b"a/resized.jpg")["matches"][0]["entry"], "K1");
    assert_eq!(
        by(b"a/resized.jpg")["matches"][0]["labels"][0]["value"],
        "2"
    );
    let exact = by(b"b/exact.png");
    assert_eq!(exact["matches"].as_array().unwrap().len(), 1);
    assert_eq!(exact["matches"][0]["algorithm"], "md5");
    // Duplicates are grouped, not dropped.
    // Walk order is depth-first with sorted names: b/c/ comes before b/exact.png.
    let first = by(b"b/c/.hidden-copy.png");
    assert_eq!(exact["duplicate_of_index"], first["index"]);
    assert_eq!(exact["duplicate_of"], first["path"]);
    assert!(first.get("duplicate_of").is_none());
    assert_eq!(first["sha256"], exact["sha256"]);
    assert_eq!(r.summary["duplicate_files"], 1);
    // The lying extension is flagged; a truthful one is not.
    assert_eq!(by(b"b/lying.txt")["extension_mismatch"], true);
    assert_eq!(by(b"a/reencoded.jpg")["extension_mismatch"], false);
    assert_eq!(by(b"b/lying.txt")["type"], "jpeg");
    // Chain of custody: set digests are those of the files on disk.
    let sha = |f: &Path| CryptoHashes::of(&std::fs::read(f).unwrap()).sha256_hex();
    assert_eq!(r.header["sets"][0]["sha256"], sha(&p.pdq_set));
    assert_eq!(r.header["sets"][1]["sha256"], sha(&p.md5_set));
    assert_eq!(r.header["options"]["radii"][0]["radius"], 31);
    assert!(
        !p.root.join("report.jsonl.partial").exists(),
        "journal removed after success"
    );
}

#[test]
fn non_utf8_name_round_trips_through_path_b64() {
    let p = plant();
    let (_, text) = scan(&p, &p.root.join("r.jsonl"), &["--quiet"]);
    let r = parse(&text);
    let f = r
        .files
        .iter()
        .find(|f| f.get("path_b64").is_some())
        .expect("the non-UTF-8 name");
    assert!(raw_path(f).ends_with(b"/caf\xe9-\xff.jpg"));
    assert!(f["path"].as_str().unwrap().ends_with("caf\\xe9-\\xff.jpg"));
}

#[test]
fn mirrored_copy_matches_only_with_dihedral() {
    let p = plant();
    let (_, plain) = scan(&p, &p.root.join("plain.jsonl"), &["--quiet"]);
    let (_, dih) = scan(&p, &p.root.join("dih.jsonl"), &["--quiet", "--dihedral"]);
    let find = |t: &str| {
        parse(t)
            .files
            .into_iter()
            .find(|f| rel(&p, f) == b"a/mirrored.jpg")
            .unwrap()
    };
    assert_eq!(find(&plain)["disposition"], "unmatched");
    let m = find(&dih);
    assert_eq!(m["disposition"], "matched");
    assert_eq!(m["matches"][0]["entry"], "K2");
    assert_eq!(m["matches"][0]["orientation"], "flipy");
}

#[test]
fn fifo_is_recorded_not_opened_and_symlinks_are_not_followed() {
    let p = plant();
    let fifo = p.evidence.join("pipe");
    let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let outside = p.root.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(
        outside.join("secret.jpg"),
        encode_jpeg(&generate(Scene::Landscape, W, H, 21), 70),
    )
    .unwrap();
    std::os::unix::fs::symlink(&outside, p.evidence.join("link-out")).unwrap();
    std::os::unix::fs::symlink("notes.txt", p.evidence.join("link-in")).unwrap();
    // Opening the FIFO would block forever: the scan finishing proves it was not opened.
    let (_, text) = scan(&p, &p.root.join("r.jsonl"), &["--quiet"]);
    let r = parse(&text);
    let by = |path: &[u8]| r.files.iter().find(|f| rel(&p, f) == path).cloned();
    let f = by(b"pipe").unwrap();
    assert_eq!(
        (f["kind"].as_str(), f["disposition"].as_str()),
        (Some("fifo"), Some("skipped:special"))
    );
    let l = by(b"link-out").unwrap();
    assert_eq!(l["disposition"], "skipped:symlink");
    assert_eq!(l["link_target_inside_root"], false);
    assert_eq!(by(b"link-in").unwrap()["link_target_inside_root"], true);
    assert!(
        by(b"link-out/secret.jpg").is_none(),
        "the link was followed"
    );
    assert_eq!(r.files.len(), p.expected.len() + 3);
    assert_eq!(r.summary["files_walked"], (p.expected.len() + 3) as u64);
}

#[test]
fn output_inside_the_evidence_is_refused() {
    let p = plant();
    let out = p.evidence.join("a/report.jsonl");
    let (code, _) = scan(&p, &out, &["--quiet"]);
    assert_eq!(code, 64);
    assert!(!out.exists());
    assert!(!p.evidence.join("a/report.jsonl.partial").exists());
}

fn without_times(text: &str) -> (Vec<Value>, Value) {
    let r = parse(text);
    let mut s = r.summary;
    for k in ["finished_utc", "elapsed_seconds"] {
        s.as_object_mut().unwrap().remove(k);
    }
    (r.files, s)
}

#[test]
fn output_is_identical_for_one_and_two_threads() {
    let p = plant();
    let (_, a) = scan(&p, &p.root.join("t1.jsonl"), &["--quiet", "--threads", "1"]);
    let (_, b) = scan(&p, &p.root.join("t2.jsonl"), &["--quiet", "--threads", "2"]);
    assert_eq!(without_times(&a), without_times(&b));
}

#[test]
fn resume_after_a_crash_equals_an_uninterrupted_run() {
    let p = plant();
    let (_, full) = scan(&p, &p.root.join("full.jsonl"), &["--quiet"]);
    let out = p.root.join("resumed.jsonl");
    let (code, _) = scan(&p, &out, &["--quiet", "--debug-stop-after", "5"]);
    assert_eq!(code, 70);
    let journal = p.root.join("resumed.jsonl.partial");
    // A torn last line, as a crash mid-write leaves it.
    let mut j = std::fs::read(&journal).unwrap();
    assert_eq!(
        j.iter().filter(|&&b| b == b'\n').count(),
        6,
        "fingerprint + 5 records"
    );
    j.extend_from_slice(b"{\"record\":\"file\",\"ind");
    std::fs::write(&journal, j).unwrap();
    let (code, resumed) = scan(&p, &out, &["--quiet", "--resume"]);
    assert_eq!(code, 3);
    assert_eq!(without_times(&full), without_times(&resumed));
    assert_eq!(parse(&resumed).header["resumed"]["files_reused"], 5);
    assert!(!journal.exists());
}

#[test]
fn resume_with_other_options_is_refused() {
    let p = plant();
    let out = p.root.join("r.jsonl");
    scan(&p, &out, &["--quiet", "--debug-stop-after", "3"]);
    let (code, _) = scan(&p, &out, &["--quiet", "--resume", "--dihedral"]);
    assert_eq!(code, 64);
}

#[test]
fn exit_codes_for_clean_bad_set_and_usage() {
    let p = plant();
    // Only unrelated images against the sets: 0.
    let (code, _) = {
        let a = nearmatch()
            .arg("scan")
            .arg(p.evidence.join("u"))
            .arg("--set")
            .arg(&p.pdq_set)
            .arg("-o")
            .arg(p.root.join("clean.jsonl"))
            .arg("--quiet")
            .assert();
        (a.get_output().status.code().unwrap(), ())
    };
    assert_eq!(code, 0);
    // A set file that is not a set: 65, naming the file.
    let bogus = p.root.join("bogus.nmset");
    std::fs::write(&bogus, b"not a set").unwrap();
    let a = nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .arg("--set")
        .arg(&bogus)
        .arg("--quiet")
        .assert()
        .code(65);
    assert!(String::from_utf8_lossy(&a.get_output().stderr).contains("bogus.nmset"));
    // --resume without -o: usage.
    nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .arg("--set")
        .arg(&p.pdq_set)
        .arg("--resume")
        .assert()
        .code(64);
    // Output directory that does not exist: 74.
    nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .arg("--set")
        .arg(&p.pdq_set)
        .arg("-o")
        .arg(p.root.join("no/such/dir/r.jsonl"))
        .assert()
        .code(74);
}

#[test]
fn csv_has_a_row_per_file_and_a_custody_sidecar() {
    let p = plant();
    let out = p.root.join("r.csv");
    let (code, text) = scan(&p, &out, &["--quiet", "--format", "csv"]);
    assert_eq!(code, 3);
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), p.expected.len());
    let side: Value =
        serde_json::from_slice(&std::fs::read(p.root.join("r.csv.header.json")).unwrap()).unwrap();
    assert_eq!(side["summary"]["files_walked"], p.expected.len() as u64);
    assert_eq!(side["sets"].as_array().unwrap().len(), 2);
}

#[test]
fn vics_export_names_its_files_and_imports_back() {
    let p = plant();
    let out = p.root.join("r.json");
    scan(&p, &out, &["--quiet", "--format", "vics"]);
    let text = std::fs::read_to_string(&out).unwrap();
    // Each listed file carries its name and folder (no content).
    let v: Value = serde_json::from_str(&text).unwrap();
    let files: Vec<&Value> = v["value"][0]["Media"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["MediaFiles"].as_array().unwrap())
        .collect();
    assert!(!files.is_empty());
    for f in &files {
        let path = format!(
            "{}/{}",
            f["FilePath"].as_str().unwrap(),
            f["FileName"].as_str().unwrap()
        );
        let rel = path.strip_prefix(&format!("{}/", p.evidence.display()));
        // Names that are not UTF-8 show their bytes escaped (`\xe9`): VICS has no raw form.
        let planted = |r: &str| {
            p.expected.contains_key(r.as_bytes())
                || (r.contains("\\x") && p.expected.keys().any(|k| std::str::from_utf8(k).is_err()))
        };
        assert!(rel.is_some_and(planted), "{path} is a planted file");
    }
    let mut sink = nearmatch::import::MemorySink::default();
    let opts = nearmatch::import::ImportOptions::new(Algorithm::Md5);
    let report =
        nearmatch::import::import_reader(text.as_bytes(), "r.json", &opts, &mut sink).unwrap();
    // Distinct decodable-or-image files: every planted image except the later duplicate copy.
    let images = p
        .expected
        .keys()
        .filter(|k| !k.ends_with(b".txt") || k.as_slice() == b"b/lying.txt")
        .count()
        - 1;
    assert_eq!(report.imported as usize, images);
}

/// Parses a `sha256sum`-format file into (hex, file name) pairs.
fn checksum_lines(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let (h, n) = l.split_once("  ").expect("sha256sum format: <hex>  <name>");
            (h.to_string(), n.to_string())
        })
        .collect()
}

#[test]
fn report_checksum_sidecar_matches_the_report_bytes() {
    let p = plant();
    let out = p.root.join("r.jsonl");
    scan(&p, &out, &["--quiet"]);
    let sha = |f: &Path| CryptoHashes::of(&std::fs::read(f).unwrap()).sha256_hex();
    assert_eq!(
        checksum_lines(&p.root.join("r.jsonl.sha256")),
        vec![(sha(&out), "r.jsonl".to_string())]
    );
    // CSV: one line for the rows, one for the chain-of-custody header sidecar.
    let out = p.root.join("r.csv");
    scan(&p, &out, &["--quiet", "--format", "csv"]);
    assert_eq!(
        checksum_lines(&p.root.join("r.csv.sha256")),
        vec![
            (sha(&out), "r.csv".to_string()),
            (
                sha(&p.root.join("r.csv.header.json")),
                "r.csv.header.json".to_string()
            ),
        ]
    );
}

#[test]
fn header_names_the_git_commit_of_the_build() {
    let p = plant();
    let (_, text) = scan(&p, &p.root.join("r.jsonl"), &["--quiet"]);
    let h = parse(&text).header;
    // Independent reference: ask git about the source tree the test was built from.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match head {
        Some(c) => {
            assert_eq!(h["git_commit"], c.as_str());
            assert!(h["git_dirty"].is_boolean());
        }
        None => assert_eq!(h["git_commit"], "unknown"),
    }
}

/// Newline count of a file (0 when it does not exist).
fn line_count(p: &Path) -> usize {
    std::fs::read(p).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

#[test]
fn sigkill_at_several_points_then_resume_equals_an_uninterrupted_run() {
    use std::os::unix::process::ExitStatusExt;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    // Enough files (7 journal chunks of 64) that three kills, each after fresh progress, land
    // before the end; duplicates of early files late in the walk exercise the duplicate index a
    // resumed run rebuilds from the journal.
    const N: u64 = 420;
    let scenes = [
        Scene::Landscape,
        Scene::Indoor,
        Scene::DeadLeaves,
        Scene::Document,
    ];
    let mut csv = String::from("id,pdq\n");
    for i in 0..N {
        let img = generate(scenes[i as usize % scenes.len()], 160, 120, 9000 + i);
        let dir = ev.join(format!("d{:02}", i / 50));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = encode_jpeg(&img, 85);
        std::fs::write(dir.join(format!("f{i:04}.jpg")), &bytes).unwrap();
        if i % 97 == 0 {
            std::fs::write(ev.join(format!("zz-copy-{i}.jpg")), &bytes).unwrap();
            let h = hash_image(&img, &[Algorithm::Pdq], &HashOptions::default())
                .get(Algorithm::Pdq)
                .unwrap();
            csv.push_str(&format!("K{i},{h}\n"));
        }
    }
    std::fs::write(root.join("pdq.csv"), csv).unwrap();
    let set = root.join("pdq.nmset");
    build_set(&set, "pdq", &root.join("pdq.csv"));
    let cmd = |out: &Path| {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_nearmatch"));
        c.arg("scan")
            .arg(&ev)
            .arg("--set")
            .arg(&set)
            .arg("-o")
            .arg(out)
            .args(["--quiet", "--threads", "1", "--resume"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        c
    };
    let full = root.join("full.jsonl");
    assert_eq!(cmd(&full).status().unwrap().code(), Some(1));

    let out = root.join("killed.jsonl");
    let journal = root.join("killed.jsonl.partial");
    let mut kills = 0;
    for round in 0..3 {
        // Kill once the journal has grown past where this run started (a later point each round).
        let start = line_count(&journal);
        let mut child = cmd(&out).spawn().unwrap();
        // A hang guard, not a timing assertion: the child either writes or exits long before.
        let guard = Instant::now() + Duration::from_secs(300);
        loop {
            if line_count(&journal) > start.max(1) + round {
                break;
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > guard {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = child.kill(); // SIGKILL; an error only means it already exited
        let status = child.wait().unwrap();
        if status.signal() == Some(libc::SIGKILL) {
            kills += 1;
            assert!(!out.exists(), "no report from a killed scan");
        }
    }
    eprintln!("SIGKILLs that landed mid-scan: {kills} of 3");
    if kills == 0 {
        // Fallback for a machine fast enough to finish before every kill: interrupt the way a
        // crash would, so the resume below still starts from a partial journal.
        let _ = std::fs::remove_file(&out);
        let mut c = cmd(&out);
        c.args(["--debug-stop-after", "150"]);
        assert_eq!(c.status().unwrap().code(), Some(70));
    }
    let status = cmd(&out).status().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(!journal.exists(), "journal removed after completion");
    let a = without_times(&std::fs::read_to_string(&full).unwrap());
    let b = without_times(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(a.0.len(), (N + 5) as usize);
    assert_eq!(a, b);
}

/// `fixtures/demo/expected.csv` as path -> (disposition, why).
fn demo_expected() -> BTreeMap<String, (String, String)> {
    let text =
        std::fs::read_to_string(crate::common::repo_root().join("fixtures/demo/expected.csv"))
            .unwrap();
    text.lines()
        .skip(1)
        .map(|l| {
            let mut f = l.splitn(3, ',');
            let (p, d, w) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            (p.to_string(), (d.to_string(), w.to_string()))
        })
        .collect()
}

#[test]
fn demo_evidence_gets_the_dispositions_its_generator_intended() {
    let demo = crate::common::repo_root().join("fixtures/demo");
    let tmp = tempfile::tempdir().unwrap();
    let (pdq, md5) = (tmp.path().join("pdq.nmset"), tmp.path().join("md5.nmset"));
    build_set(&pdq, "pdq", &demo.join("known-pdq.csv"));
    build_set(&md5, "md5", &demo.join("known-md5.txt"));
    let expected = demo_expected();
    assert!(expected.len() >= 300, "a few hundred files");
    let ev = demo.join("evidence");
    let canon = std::fs::canonicalize(&ev).unwrap();
    // (extra flags, whether flipped copies match, whether bordered copies match)
    let runs: [(&[&str], bool, bool); 3] = [
        (&[], false, true),
        (&["--dihedral"], true, true),
        (&["--probe", "none"], false, false),
    ];
    for (flags, dihedral, bordered) in runs {
        let out = tmp.path().join(format!("r-{}.jsonl", flags.join("")));
        let mut c = nearmatch();
        c.arg("scan")
            .arg(&ev)
            .arg("--set")
            .arg(&pdq)
            .arg("--set")
            .arg(&md5)
            .arg("-o")
            .arg(&out)
            .arg("--quiet")
            .args(flags);
        c.assert().code(3);
        let r = parse(&std::fs::read_to_string(&out).unwrap());
        let got: BTreeMap<String, String> = r
            .files
            .iter()
            .map(|f| {
                let p = Path::new(f["path"].as_str().unwrap());
                let rel = p
                    .strip_prefix(&ev)
                    .or_else(|_| p.strip_prefix(&canon))
                    .unwrap();
                (
                    rel.to_str().unwrap().to_string(),
                    f["disposition"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        let want: BTreeMap<String, String> = expected
            .iter()
            .map(|(p, (d, why))| {
                let d = if dihedral && why.contains("--dihedral") {
                    "matched"
                } else if !bordered && why.contains("not with --probe none") {
                    "unmatched"
                } else {
                    d.as_str()
                };
                (p.clone(), d.to_string())
            })
            .collect();
        let wrong: Vec<_> = want
            .iter()
            .filter(|(p, d)| got.get(*p) != Some(*d))
            .map(|(p, d)| format!("{p}: want {d}, got {:?}", got.get(p)))
            .collect();
        assert!(wrong.is_empty(), "{flags:?}: {wrong:#?}");
        assert_eq!(got.len(), want.len(), "no unexpected files");
    }
}

/// CRC-32 (IEEE) for hand-made PNG chunks; the test needs no checksum crate for this.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `w`×`h` pixels, with no image data behind it.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&13u32.to_be_bytes());
    png.extend_from_slice(&ihdr);
    png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
    png
}

#[test]
fn oversized_files_and_dimension_bombs_are_skipped_with_their_limit() {
    let p = plant();
    let extra = p.evidence.join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("bomb.png"), png_claiming(100_000, 100_000)).unwrap();
    let big = vec![7u8; 300_000];
    std::fs::write(extra.join("big.bin"), &big).unwrap();
    let out = p.root.join("r.jsonl");
    // 200 kB: big.bin (300 kB) is over it; every planted file is smaller.
    let (code, text) = scan(&p, &out, &["--quiet", "--max-file-size", "200000"]);
    assert_eq!(code, 3, "matches, and files that could not be processed");
    let r = parse(&text);
    let disposition = |name: &str| {
        r.files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .map(|f| f["disposition"].as_str().unwrap().to_string())
    };
    assert_eq!(
        disposition("extra/bomb.png").as_deref(),
        Some("skipped:dimensions")
    );
    assert_eq!(
        disposition("extra/big.bin").as_deref(),
        Some("skipped:max-file-size")
    );
    // Still every file accounted for.
    let walked = walk(&p.evidence).len() as u64;
    assert_eq!(r.summary["files_walked"].as_u64(), Some(walked));
    assert_eq!(r.files.len() as u64, walked);
}

#[test]
fn fast_mode_is_stated_in_the_header_and_per_record_and_still_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    std::fs::create_dir_all(&ev).unwrap();
    // A large image (reduced in fast mode: 1200x900 -> 1/2 = 600x450) and a small one (not).
    let large = generate(Scene::Landscape, 1200, 900, 41);
    let small = generate(Scene::Indoor, W, H, 42);
    std::fs::write(ev.join("large.jpg"), encode_jpeg(&large, 85)).unwrap();
    std::fs::write(ev.join("small.jpg"), encode_jpeg(&small, 85)).unwrap();
    // The known list holds the exact hash of the large image's original pixels.
    let h = hash_image(&large, &[Algorithm::Pdq], &HashOptions::default())
        .get(Algorithm::Pdq)
        .unwrap();
    std::fs::write(root.join("pdq.csv"), format!("id,pdq\nL,{h}\n")).unwrap();
    let set = root.join("pdq.nmset");
    build_set(&set, "pdq", &root.join("pdq.csv"));
    let run = |out: &str, extra: &[&str]| {
        let out = root.join(out);
        let a = nearmatch()
            .arg("scan")
            .arg(&ev)
            .arg("--set")
            .arg(&set)
            .arg("-o")
            .arg(&out)
            .arg("-q")
            .args(extra)
            .assert();
        assert_eq!(
            a.get_output().status.code(),
            Some(1),
            "the large image matches"
        );
        parse(&std::fs::read_to_string(out).unwrap())
    };
    let by_name = |r: &Report, name: &str| -> Value {
        r.files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with(name))
            .unwrap()
            .clone()
    };

    let fast = run("fast.jsonl", &["--fast"]);
    assert_eq!(fast.header["options"]["hash_mode"], "fast");
    let l = by_name(&fast, "large.jpg");
    assert_eq!(l["hash_mode"], "fast");
    assert_eq!(l["hashed_size"], "600x450");
    assert_eq!(
        (l["width"].as_u64(), l["height"].as_u64()),
        (Some(1200), Some(900))
    );
    assert_eq!(l["disposition"], "matched");
    let s = by_name(&fast, "small.jpg");
    assert_eq!(s["hash_mode"], "exact", "small images are hashed exactly");
    assert!(s.get("hashed_size").is_none());

    for (out, extra) in [
        ("default.jsonl", &[][..]),
        ("exact.jsonl", &["--exact"][..]),
    ] {
        let exact = run(out, extra);
        assert_eq!(exact.header["options"]["hash_mode"], "exact");
        for f in &exact.files {
            assert_eq!(f["hash_mode"], "exact", "{f}");
        }
        // Small images: fast mode gave exactly the exact hashes.
        assert_eq!(by_name(&exact, "small.jpg")["hashes"], s["hashes"]);
        assert_eq!(by_name(&exact, "large.jpg")["disposition"], "matched");
    }

    let a = nearmatch()
        .arg("scan")
        .arg(&ev)
        .arg("--set")
        .arg(&set)
        .args(["--fast", "--exact", "-q"])
        .assert();
    assert_eq!(
        a.get_output().status.code(),
        Some(64),
        "--fast and --exact conflict"
    );
}

#[test]
fn inventory_without_a_set_hashes_and_accounts_for_every_file() {
    let p = plant();
    let out = p.root.join("inventory.jsonl");
    let a = nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .args(["--algo", "pdq,phash", "-o"])
        .arg(&out)
        .assert();
    // Nothing can match, one file cannot be decoded: exit 2, not 3.
    assert_eq!(a.get_output().status.code(), Some(2));
    let r = parse(&std::fs::read_to_string(&out).unwrap());
    let got: BTreeMap<Vec<u8>, String> = r
        .files
        .iter()
        .map(|f| (rel(&p, f), f["disposition"].as_str().unwrap().to_string()))
        .collect();
    // Every planted file, each with the disposition it would have without sets.
    let want: BTreeMap<Vec<u8>, String> = p
        .expected
        .iter()
        .map(|(k, v)| {
            let v = if *v == "matched" { "unmatched" } else { v };
            (k.clone(), v.to_string())
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(r.summary["matches"], 0);
    assert_eq!(r.summary["files_walked"], p.expected.len());
    assert_eq!(r.header["sets"], serde_json::json!([]));
    assert_eq!(
        r.header["options"]["algorithms"],
        serde_json::json!(["pdq", "phash"])
    );
    for f in &r.files {
        let bytes = std::fs::read(p.evidence.join(OsStr::from_bytes(&rel(&p, f)))).unwrap();
        let c = CryptoHashes::of(&bytes);
        assert_eq!(f["md5"], c.md5_hex());
        assert_eq!(f["sha1"], c.sha1_hex());
        assert_eq!(f["sha256"], c.sha256_hex());
        if f["disposition"] == "unmatched" {
            let h = nearmatch::hash::file::hash_bytes(
                &bytes,
                &[Algorithm::Pdq, Algorithm::Phash],
                &HashOptions::default(),
            );
            assert_eq!(f["hashes"]["pdq"], h.get(Algorithm::Pdq).unwrap());
            assert_eq!(f["hashes"]["phash"], h.get(Algorithm::Phash).unwrap());
        }
    }
}

#[test]
fn the_summary_on_stderr_reconciles_with_the_report() {
    let p = plant();
    let out = p.root.join("r.jsonl");
    let a = nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .arg("--set")
        .arg(&p.pdq_set)
        .arg("--set")
        .arg(&p.md5_set)
        .arg("-o")
        .arg(&out)
        .assert();
    let err = String::from_utf8_lossy(&a.get_output().stderr).to_string();
    let r = parse(&std::fs::read_to_string(&out).unwrap());
    let by: Vec<String> = r.summary["dispositions"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    assert!(
        err.contains(&format!("{} files: {}", r.files.len(), by.join(", "))),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{} matched files, {} matches",
            r.summary["matched_files"], r.summary["matches"]
        )),
        "{err}"
    );
    // Every matched file is listed with its entries.
    for f in r.files.iter().filter(|f| f["disposition"] == "matched") {
        let path = f["path"].as_str().unwrap();
        let line = err
            .lines()
            .find(|l| l.trim_start().starts_with(path))
            .unwrap_or_else(|| panic!("{path} not listed: {err}"));
        for m in f["matches"].as_array().unwrap() {
            assert!(
                line.contains(&format!("{}@", m["entry"].as_str().unwrap())),
                "{line}"
            );
        }
    }
    assert!(err.contains("files/s"), "{err}");
    // --quiet prints nothing.
    let q = nearmatch()
        .arg("scan")
        .arg(&p.evidence)
        .arg("--set")
        .arg(&p.pdq_set)
        .arg("-q")
        .arg("-o")
        .arg(p.root.join("q.jsonl"))
        .assert();
    let qerr = String::from_utf8_lossy(&q.get_output().stderr).to_string();
    assert!(!qerr.contains("files:"), "{qerr}");
}
