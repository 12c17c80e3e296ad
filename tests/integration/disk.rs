//! `nearmatch scan` on file-system images made by independent tools (ntfs-3g's `mkntfs` and
//! `ntfscp`; exfatprogs' `mkfs.exfat`, whose `fsck.exfat` checks the files this test writes into
//! the exFAT image, as no unprivileged tool writes exFAT files). Every assertion compares with the
//! bytes the test put in: paths, sizes, MD5 computed here, PDQ of the same bytes hashed loose.
//! A test whose tool is absent says so on stderr and passes without checking.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nearmatch::hash::crypto::CryptoHashes;
use nearmatch::hash::file::{hash_bytes, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::nearmatch;

/// The path of `tool` (also in the sbin directories, where mkfs tools live), if installed.
fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/sbin", "/usr/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Every tool in `names`, or `None` after saying which one is missing.
fn tools(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Option<Vec<PathBuf>> = names.iter().map(|n| tool(n)).collect();
    if found.is_none() {
        eprintln!("SKIPPED {test}: needs {names:?} (ntfs-3g / exfatprogs), not all installed");
    }
    found
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Scans `image` (PDQ, no set); the exit code and the file records by path.
fn scan(image: &Path) -> (Option<i32>, BTreeMap<String, Value>) {
    let out = image.with_extension("jsonl");
    let a = nearmatch()
        .arg("scan")
        .arg(image)
        .args(["--algo", "pdq", "-o"])
        .arg(&out)
        .assert();
    let code = a.get_output().status.code();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let recs = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["record"] == "file")
        .map(|r| {
            // Named from the image's own name, without the temporary directory.
            let p = r["path"].as_str().unwrap();
            let dir = image.parent().unwrap().to_str().unwrap();
            let rel = p.strip_prefix(dir).unwrap_or(p).trim_start_matches('/');
            (rel.to_string(), r)
        })
        .collect();
    (code, recs)
}

/// Asserts the members below `prefix` are exactly `want` (name -> bytes put in), each with its
/// size, MD5 and PDQ of the same bytes hashed loose.
fn assert_members(recs: &BTreeMap<String, Value>, prefix: &str, want: &BTreeMap<&str, Vec<u8>>) {
    let got: Vec<&str> = recs
        .keys()
        .filter_map(|k| k.strip_prefix(prefix))
        .collect();
    let names: Vec<&str> = want.keys().copied().collect();
    assert_eq!(got, names, "members of {prefix}");
    for (name, bytes) in want {
        let r = &recs[&format!("{prefix}{name}")];
        assert_eq!(r["size"], bytes.len() as u64, "{name}");
        assert_eq!(r["md5"], CryptoHashes::of(bytes).md5_hex(), "{name}");
        let loose = hash_bytes(bytes, &[Algorithm::Pdq], &HashOptions::default());
        assert_eq!(r["hashes"]["pdq"], loose.get(Algorithm::Pdq).unwrap(), "{name}");
        assert_eq!(r["disposition"], "unmatched", "{name}");
    }
}

struct NtfsImage {
    _tmp: tempfile::TempDir,
    image: PathBuf,
    files: BTreeMap<&'static str, Vec<u8>>,
}

/// A 16 MiB NTFS image: a JPEG with a PNG in its alternate data stream `hidden`, a PNG, and a
/// tiny PNG that stays resident in its MFT record (checked with `ntfsinfo`).
fn ntfs_image(t: &[PathBuf]) -> NtfsImage {
    let (mkntfs, ntfscp, ntfsinfo) = (&t[0], &t[1], &t[2]);
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("vol.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new(mkntfs).args(["-F", "-Q", "-q"]).arg(&image));
    let mut files = BTreeMap::new();
    files.insert(
        "photo.jpg",
        encode_jpeg(&generate(Scene::Landscape, 320, 240, 41), 85),
    );
    files.insert(
        "photo.jpg:hidden",
        encode_png(&generate(Scene::Indoor, 160, 120, 42)),
    );
    files.insert(
        "scan.png",
        encode_png(&generate(Scene::Document, 200, 150, 43)),
    );
    files.insert("tiny.png", encode_png(&generate(Scene::Gradient, 4, 4, 44)));
    assert!(files["tiny.png"].len() < 500, "tiny.png must fit in the MFT record");
    for (name, bytes) in &files {
        let src = tmp.path().join(name.replace(':', "_"));
        std::fs::write(&src, bytes).unwrap();
        let mut cmd = Command::new(ntfscp);
        cmd.arg("-q");
        match name.split_once(':') {
            Some((file, stream)) => cmd.args(["-N", stream]).arg(&image).arg(&src).arg(file),
            None => cmd.arg(&image).arg(&src).arg(name),
        };
        run(&mut cmd);
    }
    let info = run(Command::new(ntfsinfo).args(["-F", "tiny.png"]).arg(&image));
    let data = info.split("$DATA (0x80)").nth(1).expect("tiny.png has $DATA");
    assert!(
        data.lines().take(4).any(|l| l.contains("Resident:") && l.contains("Yes")),
        "tiny.png resident: {data}"
    );
    NtfsImage {
        _tmp: tmp,
        image,
        files,
    }
}

#[test]
fn ntfs_files_streams_and_resident_files_are_members() {
    let Some(t) = tools("ntfs", &["mkntfs", "ntfscp", "ntfsinfo"]) else {
        return;
    };
    let n = ntfs_image(&t);
    let (code, recs) = scan(&n.image);
    assert_eq!(code, Some(0));
    let top = &recs["vol.img"];
    assert_eq!(top["container"], "ntfs");
    assert_eq!(top["disposition"], "container");
    assert_members(&recs, "vol.img!/", &n.files);
    // One file record, two streams: the same MFT reference.
    let id = |p: &str| recs[&format!("vol.img!/{p}")]["fs_id"].clone();
    assert_eq!(id("photo.jpg"), id("photo.jpg:hidden"));
    assert_ne!(id("photo.jpg"), id("scan.png"));
    let fs_id = id("scan.png");
    let (rec, seq) = fs_id.as_str().unwrap().split_once('-').unwrap();
    assert!(rec.parse::<u64>().unwrap() >= 24 && seq.parse::<u16>().is_ok());
    for p in ["photo.jpg", "tiny.png"] {
        let r = &recs[&format!("vol.img!/{p}")];
        for t in ["mtime", "atime", "ctime", "created"] {
            assert!(r[t].as_str().unwrap().ends_with('Z'), "{p} {t}: {}", r[t]);
        }
    }
}

/// The MFT record of `name` in `image` (`ntfsinfo` gives its number; the boot sector the MFT's
/// cluster), as an offset in the image, checked to start with `FILE`.
fn mft_record(ntfsinfo: &Path, image: &Path, name: &str) -> usize {
    let info = run(Command::new(ntfsinfo).args(["-F", name]).arg(image));
    let number: usize = info
        .split("mft record ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .expect("ntfsinfo names the MFT record");
    let img = std::fs::read(image).unwrap();
    let cluster = u16::from_le_bytes([img[11], img[12]]) as usize * img[13] as usize;
    let mft = u64::from_le_bytes(img[48..56].try_into().unwrap()) as usize * cluster;
    let at = mft + number * 1024;
    assert_eq!(&img[at..at + 4], b"FILE", "record {number} of {name}");
    at
}

/// The offset of the unnamed `$DATA` attribute in the MFT record at `rec`.
fn data_attribute(img: &[u8], rec: usize) -> usize {
    let mut at = rec + u16::from_le_bytes([img[rec + 20], img[rec + 21]]) as usize;
    loop {
        let ty = u32::from_le_bytes(img[at..at + 4].try_into().unwrap());
        assert_ne!(ty, 0xFFFF_FFFF, "no $DATA");
        if ty == 0x80 && img[at + 9] == 0 {
            return at;
        }
        at += u32::from_le_bytes(img[at + 4..at + 8].try_into().unwrap()) as usize;
    }
}

#[test]
fn ntfs_damage_ends_in_dispositions_never_a_crash() {
    let Some(t) = tools("ntfs hostile", &["mkntfs", "ntfscp", "ntfsinfo"]) else {
        return;
    };
    let n = ntfs_image(&t);
    let pristine = std::fs::read(&n.image).unwrap();

    // A compressed stream (the flag set on photo.jpg's $DATA) is reported, not read as raw bytes;
    // a record without its FILE magic (tiny.png) is a member error; the rest still reads.
    let mut img = pristine.clone();
    let photo = data_attribute(&img, mft_record(&t[2], &n.image, "photo.jpg"));
    img[photo + 12] |= 0x01;
    let tiny = mft_record(&t[2], &n.image, "tiny.png");
    img[tiny..tiny + 4].copy_from_slice(b"BAAD");
    let damaged = n.image.with_file_name("damaged.img");
    std::fs::write(&damaged, &img).unwrap();
    let (code, recs) = scan(&damaged);
    assert!(matches!(code, Some(0..=3)), "exit {code:?}");
    let photo = &recs["damaged.img!/photo.jpg"];
    assert_eq!(photo["disposition"], "skipped:unsupported");
    assert!(photo["error"].as_str().unwrap().contains("NTFS-compressed"));
    assert_eq!(recs["damaged.img!/tiny.png"]["disposition"], "error:corrupt");
    let scan_png = &recs["damaged.img!/scan.png"];
    assert_eq!(scan_png["md5"], CryptoHashes::of(&n.files["scan.png"]).md5_hex());
    assert_eq!(
        recs["damaged.img!/photo.jpg:hidden"]["md5"],
        CryptoHashes::of(&n.files["photo.jpg:hidden"]).md5_hex()
    );

    // A boot sector with 0 bytes per sector: the volume is an error, nothing more.
    let mut img = pristine.clone();
    img[11] = 0;
    img[12] = 0;
    let boot = n.image.with_file_name("boot.img");
    std::fs::write(&boot, &img).unwrap();
    let (code, recs) = scan(&boot);
    assert!(matches!(code, Some(0..=3)), "exit {code:?}");
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs["boot.img"]["disposition"], "error:corrupt");

    // Truncated: the first 3 MiB (the MFT of a 16 MiB mkntfs volume lies past that).
    for cut in [3 << 20, 12 << 20, pristine.len() - 4096] {
        let short = n.image.with_file_name(format!("cut{cut}.img"));
        std::fs::write(&short, &pristine[..cut]).unwrap();
        let (code, recs) = scan(&short);
        assert!(matches!(code, Some(0..=3)), "cut {cut}: exit {code:?}");
        for (p, r) in &recs {
            assert!(r["disposition"].is_string(), "cut {cut}: {p}");
            if r["disposition"] == "unmatched" {
                let name = p.split_once("!/").unwrap().1;
                assert_eq!(r["md5"], CryptoHashes::of(&n.files[name]).md5_hex(), "{p}");
            }
        }
    }
}
