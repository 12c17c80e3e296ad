//! Disk images (issue #18): raw, split raw and EWF (E01) images holding MBR and GPT partition
//! tables with FAT and ext4 file systems, all made by independent tools (`mkfs.vfat` + `mtools`,
//! `mkfs.ext4 -d`, `sfdisk`, `split`, `ewfacquire`) from synthetic files, once per test run. No
//! mounting: everything runs unprivileged. Expected values come from the files put in (their
//! `md5sum`, and their records when the same files are scanned loose), never from the scan
//! under test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::nearmatch;

/// The tools the images are made with; the tests skip, saying so, when one is missing.
const TOOLS: [&str; 7] = [
    "mkfs.vfat",
    "mcopy",
    "mmd",
    "mkfs.ext4",
    "sfdisk",
    "ewfacquire",
    "md5sum",
];

/// The loose files put into every file system, their images, and the MD5s of what was put in.
struct Disks {
    dir: PathBuf,
    /// In-image path (`DCIM/IMG_0001.JPG`) → MD5 of the bytes put in.
    files: BTreeMap<String, String>,
    /// MD5 of the whole partitioned raw image (`mbr.img`).
    mbr_md5: String,
}

fn run(cmd: &str, args: &[&str], cwd: &Path) -> String {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (scripts/ensure-build-deps installs it)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn have_tools() -> bool {
    let missing: Vec<&str> = TOOLS
        .iter()
        .copied()
        .filter(|t| {
            Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .map_or(true, |o| !o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "SKIPPED: disk-image tests need {} (run scripts/ensure-build-deps)",
            missing.join(", ")
        );
    }
    missing.is_empty()
}

fn md5sum(path: &Path) -> String {
    let out = run("md5sum", &[path.to_str().unwrap()], Path::new("/"));
    out.split_whitespace().next().unwrap().to_string()
}

/// Writes `n` bytes of `byte` at `offset` of the file at `path`.
fn patch(path: &Path, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// The synthetic files and images, made once per run.
fn disks() -> Option<&'static Disks> {
    static D: OnceLock<Option<Disks>> = OnceLock::new();
    D.get_or_init(|| {
        if !have_tools() {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("nm-disk-")
            .tempdir()
            .unwrap()
            .keep();
        let src = dir.join("src");
        let evidence = dir.join("evidence");
        std::fs::create_dir_all(src.join("DCIM")).unwrap();
        std::fs::create_dir_all(src.join("Documents")).unwrap();
        std::fs::create_dir_all(&evidence).unwrap();
        let img = |seed: u64, scene: Scene| generate(scene, 160, 120, seed);
        let put = |rel: &str, bytes: Vec<u8>| std::fs::write(src.join(rel), bytes).unwrap();
        put(
            "DCIM/IMG_0001.JPG",
            encode_jpeg(&img(1, Scene::DeadLeaves), 90),
        );
        put("DCIM/IMG_0002.PNG", encode_png(&img(2, Scene::Gradient)));
        put("Documents/notes.txt", b"not a picture\n".repeat(40));
        // A ZIP inside the file system: expanded like any container.
        let inner = encode_png(&img(3, Scene::Document));
        std::fs::write(dir.join("inner.png"), &inner).unwrap();
        run(
            "python3",
            &[
                "-c",
                "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],'w'); z.write(sys.argv[2],'inner.png'); z.close()",
                src.join("Documents/album.zip").to_str().unwrap(),
                dir.join("inner.png").to_str().unwrap(),
            ],
            &dir,
        );
        let mut files = BTreeMap::new();
        for rel in [
            "DCIM/IMG_0001.JPG",
            "DCIM/IMG_0002.PNG",
            "Documents/notes.txt",
            "Documents/album.zip",
        ] {
            files.insert(rel.to_string(), md5sum(&src.join(rel)));
        }
        files.insert(
            "Documents/album.zip!/inner.png".into(),
            md5sum(&dir.join("inner.png")),
        );

        // A FAT16 volume (16 MiB) filled with mtools, and an ext4 volume (8 MiB) by mkfs -d.
        let d = dir.to_str().unwrap();
        let fat = format!("{d}/fat.img");
        run("truncate", &["-s", "16M", &fat], &dir);
        run("mkfs.vfat", &["-F", "16", "-n", "CARD", &fat], &dir);
        for sub in ["DCIM", "Documents"] {
            run("mmd", &["-i", &fat, &format!("::{sub}")], &dir);
        }
        for rel in files.keys().filter(|r| !r.contains('!')) {
            let from = src.join(rel);
            run(
                "mcopy",
                &["-i", &fat, from.to_str().unwrap(), &format!("::{rel}")],
                &dir,
            );
        }
        let ext = format!("{d}/ext.img");
        run(
            "mkfs.ext4",
            &["-q", "-F", "-d", src.to_str().unwrap(), &ext, "8M"],
            &dir,
        );
        // A bare FAT volume as a memory-card image.
        std::fs::copy(&fat, evidence.join("card.img")).unwrap();
        // An MBR disk: p1 FAT16 at sector 2048, p2 ext4 after it.
        let mbr = evidence.join("mbr.img");
        let m = mbr.to_str().unwrap();
        run("truncate", &["-s", "28M", m], &dir);
        partition(
            m,
            "label: dos\nstart=2048, size=32768, type=6\nstart=34816, size=16384, type=83\n",
        );
        dd(&fat, m, 2048);
        dd(&ext, m, 34816);
        // A GPT disk with the ext4 volume as its only partition.
        let gpt = evidence.join("gpt.img").to_string_lossy().into_owned();
        run("truncate", &["-s", "10M", &gpt], &dir);
        partition(
            &gpt,
            "label: gpt\nstart=2048, size=16384, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n",
        );
        dd(&ext, &gpt, 2048);
        let mbr_md5 = md5sum(&mbr);
        // The MBR disk split in 10 MiB pieces (split.001, .002, .003) and as a segmented E01
        // (uncompressed, 8 MiB segments: case.E01 … case.E04) with case metadata.
        std::fs::create_dir_all(evidence.join("split")).unwrap();
        run(
            "split",
            &[
                "-b",
                "10M",
                "-d",
                "-a",
                "3",
                "--numeric-suffixes=1",
                m,
                &format!("{}/split/disk.", evidence.display()),
            ],
            &dir,
        );
        std::fs::create_dir_all(evidence.join("e01")).unwrap();
        run(
            "ewfacquire",
            &[
                "-u",
                "-q",
                "-t",
                &format!("{}/e01/case", evidence.display()),
                "-c",
                "none",
                "-f",
                "encase6",
                "-S",
                "8MiB",
                "-d",
                "sha1",
                "-C",
                "C-42",
                "-D",
                "synthetic drive",
                "-E",
                "EV-7",
                "-e",
                "A. Examiner",
                "-N",
                "made by the tests",
                m,
            ],
            &dir,
        );
        Some(Disks {
            dir,
            files,
            mbr_md5,
        })
    })
    .as_ref()
}

fn partition(image: &str, script: &str) {
    use std::io::Write;
    let mut child = Command::new("sfdisk")
        .args(["-q", image])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sfdisk");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "sfdisk {image}");
}

fn dd(from: &str, to: &str, sector: u64) {
    run(
        "dd",
        &[
            &format!("if={from}"),
            &format!("of={to}"),
            "bs=512",
            &format!("seek={sector}"),
            "conv=notrunc",
            "status=none",
        ],
        Path::new("/"),
    );
}

/// Scans `what` as JSONL; returns (exit code, header, records by path).
fn scan(what: &[&Path], extra: &[&str]) -> (i32, Value, BTreeMap<String, Value>) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let a = nearmatch()
        .arg("scan")
        .args(what)
        .args(["--format", "jsonl", "-o"])
        .arg(out.path())
        .args(extra)
        .assert();
    let code = a.get_output().status.code().unwrap();
    let text = std::fs::read_to_string(out.path()).unwrap();
    let mut header = Value::Null;
    let mut recs = BTreeMap::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        match v["record"].as_str() {
            Some("header") => header = v,
            Some("file") => {
                recs.insert(v["path"].as_str().unwrap().to_string(), v);
            }
            _ => {}
        }
    }
    (code, header, recs)
}

/// The records under `prefix` (`…/mbr.img!/p1/`), keyed by the rest of their path.
fn under(recs: &BTreeMap<String, Value>, prefix: &str) -> BTreeMap<String, Value> {
    recs.iter()
        .filter_map(|(p, v)| p.strip_prefix(prefix).map(|r| (r.to_string(), v.clone())))
        .collect()
}

/// Asserts that the files under `prefix` are exactly the files put in, with their MD5s, and
/// that each picture has the PDQ hash the same file has loose.
fn assert_files(
    d: &Disks,
    recs: &BTreeMap<String, Value>,
    prefix: &str,
    loose: &BTreeMap<String, Value>,
) {
    let got = under(recs, prefix);
    let md5s: BTreeMap<String, String> = got
        .iter()
        .filter(|(_, v)| v["kind"] != "partition")
        .map(|(p, v)| (p.clone(), v["md5"].as_str().unwrap_or("").to_string()))
        .collect();
    assert_eq!(md5s, d.files, "files and MD5s under {prefix}");
    for (rel, v) in &got {
        if let Some(l) = loose.get(rel) {
            assert_eq!(v["hashes"], l["hashes"], "{prefix}{rel}: PDQ as loose");
            assert_eq!(v["disposition"], l["disposition"], "{prefix}{rel}");
        }
    }
    assert_eq!(got["DCIM/IMG_0001.JPG"]["type"], "jpeg");
    assert!(got["DCIM/IMG_0001.JPG"]["hashes"]["pdq"].is_string());
}

/// The loose files' records, keyed by their path below `src/`.
fn loose(d: &Disks) -> BTreeMap<String, Value> {
    let src = d.dir.join("src");
    let (code, _, recs) = scan(&[&src], &[]);
    assert_eq!(code, 0);
    let prefix = format!("{}/", src.display());
    under(&recs, &prefix)
}

#[test]
fn partitions_and_file_systems_of_raw_images_are_read_in_place() {
    let Some(d) = disks() else { return };
    let loose = loose(d);
    let ev = d.dir.join("evidence");
    let before = md5sum(&ev.join("mbr.img"));
    let (code, _, recs) = scan(
        &[
            &ev.join("mbr.img"),
            &ev.join("gpt.img"),
            &ev.join("card.img"),
        ],
        &[],
    );
    assert_eq!(code, 0);
    let e = ev.display();
    let mbr = &recs[&format!("{e}/mbr.img")];
    assert_eq!(mbr["disposition"], "container");
    assert_eq!(mbr["container"], "mbr");
    let p1 = &recs[&format!("{e}/mbr.img!/p1")];
    assert_eq!(p1["kind"], "partition");
    assert_eq!(p1["offset"], 2048 * 512);
    assert_eq!(p1["size"], 32768 * 512);
    assert_eq!(p1["container"], "fat");
    let p2 = &recs[&format!("{e}/mbr.img!/p2")];
    assert_eq!(p2["offset"], 34816 * 512);
    assert_eq!(p2["container"], "ext");
    assert_files(d, &recs, &format!("{e}/mbr.img!/p1/"), &loose);
    assert_files(d, &recs, &format!("{e}/mbr.img!/p2/"), &loose);
    assert_files(d, &recs, &format!("{e}/gpt.img!/p1/"), &loose);
    assert_eq!(recs[&format!("{e}/gpt.img")]["container"], "gpt");
    assert_files(d, &recs, &format!("{e}/card.img!/"), &loose);
    // ext4 stores UTC; the in-image file carries its times.
    let t = &recs[&format!("{e}/mbr.img!/p2/DCIM/IMG_0002.PNG")]["mtime"];
    assert!(t.as_str().is_some_and(|t| t.ends_with('Z')), "{t}");
    assert_eq!(
        md5sum(&ev.join("mbr.img")),
        before,
        "the image is unchanged"
    );
}

#[test]
fn split_and_e01_images_read_as_the_raw_image() {
    let Some(d) = disks() else { return };
    let loose = loose(d);
    let ev = d.dir.join("evidence");
    // The folders as an examiner receives them: every segment is walked and accounted for.
    let (code, header, recs) = scan(&[&ev.join("split"), &ev.join("e01")], &["--verify-image"]);
    assert_eq!(code, 0, "{header}");
    let e = ev.display();
    let split = format!("{e}/split/disk.001");
    assert_eq!(recs[&split]["disposition"], "container");
    assert_files(d, &recs, &format!("{split}!/p1/"), &loose);
    assert_files(d, &recs, &format!("{split}!/p2/"), &loose);
    for n in ["002", "003"] {
        let seg = &recs[&format!("{e}/split/disk.{n}")];
        assert_eq!(seg["disposition"], "skipped:segment", "{seg}");
        assert!(seg["md5"].is_string(), "segments keep their own hashes");
    }
    let case = format!("{e}/e01/case.E01");
    assert_eq!(recs[&case]["container"], "mbr");
    assert_files(d, &recs, &format!("{case}!/p1/"), &loose);
    assert_files(d, &recs, &format!("{case}!/p2/"), &loose);
    for n in 2..=4 {
        let seg = &recs[&format!("{e}/e01/case.E0{n}")];
        assert_eq!(seg["disposition"], "skipped:segment", "{seg}");
    }
    // The acquisition metadata and the stored and recomputed hashes, in the header.
    let images = header["disk_images"]
        .as_array()
        .expect("disk_images in the header");
    let ewf = images
        .iter()
        .find(|i| i["format"] == "ewf")
        .unwrap_or_else(|| panic!("{images:?}"));
    assert_eq!(ewf["path"], case.as_str());
    assert_eq!(ewf["case_number"], "C-42");
    assert_eq!(ewf["evidence_number"], "EV-7");
    assert_eq!(ewf["examiner"], "A. Examiner");
    // ewfacquire stores the date as `2026 12 5 8 29 15`; the report gives ISO 8601 (no zone:
    // EWF stores the acquiring machine's local time), today's date, as the tool just ran.
    let date = ewf["acquisition_date"].as_str().unwrap();
    let today = run("date", &["+%Y-%m-%d"], Path::new("/"));
    assert!(
        date.len() == 19 && date.as_bytes()[10] == b'T' && date.starts_with(today.trim()),
        "{date}"
    );
    assert_eq!(ewf["notes"], "made by the tests");
    assert_eq!(ewf["media_size"], 28 << 20);
    assert_eq!(ewf["stored_md5"], d.mbr_md5.as_str());
    assert_eq!(ewf["verify"]["computed_md5"], d.mbr_md5.as_str());
    assert_eq!(ewf["verify"]["md5_match"], true);
    assert_eq!(ewf["verify"]["sha1_match"], true);
    let raw = images.iter().find(|i| i["format"] == "split-raw").unwrap();
    assert_eq!(raw["verify"]["computed_md5"], d.mbr_md5.as_str());
    assert_eq!(raw["segments"].as_array().unwrap().len(), 3);
}

#[test]
fn damaged_images_end_in_dispositions() {
    let Some(d) = disks() else { return };
    let ev = d.dir.join("evidence");
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    // Cut inside p2: p1 is read, p2 says it runs past the end.
    let cut = w.join("cut.img");
    std::fs::copy(ev.join("mbr.img"), &cut).unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&cut)
        .unwrap()
        .set_len(20 << 20)
        .unwrap();
    // An E01 with a segment missing, and one whose data was altered after acquisition.
    std::fs::create_dir_all(w.join("gap")).unwrap();
    std::fs::create_dir_all(w.join("altered")).unwrap();
    for n in 1..=4 {
        let f = format!("case.E0{n}");
        if n != 3 {
            std::fs::copy(ev.join("e01").join(&f), w.join("gap").join(&f)).unwrap();
        }
        std::fs::copy(ev.join("e01").join(&f), w.join("altered").join(&f)).unwrap();
    }
    // Uncompressed chunks: a byte in the middle of segment 2 is media data.
    patch(&w.join("altered/case.E02"), 4 << 20, b"\x5a");
    // A FAT volume whose FAT chains loop: every cluster points at cluster 2.
    let looped = w.join("loop.img");
    std::fs::copy(ev.join("card.img"), &looped).unwrap();
    let reserved = {
        let b = std::fs::read(&looped).unwrap();
        u16::from_le_bytes([b[14], b[15]]) as u64 * 512
    };
    let fat16: Vec<u8> = (0..2048)
        .flat_map(|i| if i < 2 { [0xf8, 0xff] } else { [2, 0] })
        .collect();
    patch(&looped, reserved, &fat16);
    let (code, header, recs) = scan(&[w], &["--verify-image"]);
    assert!(code == 0 || code == 2, "exit {code}");
    let p = w.display();
    let p2 = &recs[&format!("{p}/cut.img!/p2")];
    assert!(
        p2["error"].as_str().unwrap().contains("past the end"),
        "{p2}"
    );
    assert!(recs.contains_key(&format!("{p}/cut.img!/p1/DCIM/IMG_0002.PNG")));
    let gap = &recs[&format!("{p}/gap/case.E01")];
    assert!(
        gap["error"]
            .as_str()
            .is_some_and(|e| e.contains("case.E03")),
        "a missing segment is reported by name: {gap}"
    );
    let images = header["disk_images"].as_array().unwrap();
    let altered = images
        .iter()
        .find(|i| i["path"].as_str().unwrap().ends_with("altered/case.E01"))
        .unwrap();
    assert_eq!(altered["stored_md5"], d.mbr_md5.as_str());
    assert_eq!(altered["verify"]["md5_match"], false, "{altered}");
    // Every record has a disposition; the loop ends in errors, not a hang or a panic.
    for (path, r) in &recs {
        assert!(r["disposition"].is_string(), "{path}: {r}");
    }
    assert!(
        recs.iter()
            .any(|(p, r)| p.contains("loop.img!/") && r["error"].is_string()),
        "looping FAT chains are reported"
    );
}

#[test]
fn reading_an_e01_and_a_split_image_leaves_their_files_untouched() {
    use std::os::unix::fs::MetadataExt;
    let Some(d) = disks() else { return };
    let ev = d.dir.join("evidence");
    // Copies of their own: other tests read the shared images, which would move access times.
    let w = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (sub, names) in [
        ("e01", &["case.E01", "case.E02", "case.E03", "case.E04"][..]),
        ("split", &["disk.001", "disk.002", "disk.003"][..]),
    ] {
        std::fs::create_dir_all(w.path().join(sub)).unwrap();
        for n in names {
            let to = w.path().join(sub).join(n);
            std::fs::copy(ev.join(sub).join(n), &to).unwrap();
            let md5 = md5sum(&to);
            // An access time older than the modification time: relatime would update it on
            // any read that does not use O_NOATIME.
            run(
                "touch",
                &["-a", "-d", "2001-02-03 04:05:06", to.to_str().unwrap()],
                Path::new("/"),
            );
            files.push((to, md5));
        }
    }
    let times = |p: &Path| {
        let m = std::fs::metadata(p).unwrap();
        (
            m.atime(),
            m.atime_nsec(),
            m.mtime(),
            m.mtime_nsec(),
            m.len(),
        )
    };
    let before: Vec<_> = files.iter().map(|(p, _)| times(p)).collect();
    let (code, header, _) = scan(&[w.path()], &["--verify-image"]);
    assert_eq!(code, 0, "{header}");
    let after: Vec<_> = files.iter().map(|(p, _)| times(p)).collect();
    for (((p, md5), b), a) in files.iter().zip(&before).zip(&after) {
        assert_eq!(md5sum(p), *md5, "{}: content unchanged", p.display());
        assert_eq!(
            (b.2, b.3, b.4),
            (a.2, a.3, a.4),
            "{}: mtime and size unchanged",
            p.display()
        );
        if header["noatime_refused"] != true {
            assert_eq!(
                (b.0, b.1),
                (a.0, a.1),
                "{}: access time unchanged",
                p.display()
            );
        }
    }
}
