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
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/sbin", "/usr/sbin", "/usr/local/sbin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found
}

/// Every tool in `names`, or `None` after saying which one is missing.
pub(crate) fn tools(test: &str, names: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Option<Vec<PathBuf>> = names.iter().map(|n| tool(n)).collect();
    if found.is_none() {
        eprintln!("SKIPPED {test}: needs {names:?} (ntfs-3g / exfatprogs), not all installed");
    }
    found
}

pub(crate) fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("tool runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Scans `image` (PDQ, no set); the exit code and the file records by path.
pub(crate) fn scan(image: &Path) -> (Option<i32>, BTreeMap<String, Value>) {
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
    let got: Vec<&str> = recs.keys().filter_map(|k| k.strip_prefix(prefix)).collect();
    let names: Vec<&str> = want.keys().copied().collect();
    assert_eq!(got, names, "members of {prefix}");
    for (name, bytes) in want {
        let r = &recs[&format!("{prefix}{name}")];
        assert_eq!(r["size"], bytes.len() as u64, "{name}");
        assert_eq!(r["md5"], CryptoHashes::of(bytes).md5_hex(), "{name}");
        let loose = hash_bytes(bytes, &[Algorithm::Pdq], &HashOptions::default());
        assert_eq!(
            r["hashes"]["pdq"],
            loose.get(Algorithm::Pdq).unwrap(),
            "{name}"
        );
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
    assert!(
        files["tiny.png"].len() < 500,
        "tiny.png must fit in the MFT record"
    );
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
    let data = info
        .split("$DATA (0x80)")
        .nth(1)
        .expect("tiny.png has $DATA");
    assert!(
        data.lines()
            .take(4)
            .any(|l| l.contains("Resident:") && l.contains("Yes")),
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

#[test]
fn ntfs_in_an_mbr_partition_is_named_below_it() {
    let Some(t) = tools(
        "ntfs partition",
        &["mkntfs", "ntfscp", "ntfsinfo", "sfdisk"],
    ) else {
        return;
    };
    let n = ntfs_image(&t);
    let volume = std::fs::read(&n.image).unwrap();
    let disk = n.image.with_file_name("disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(volume.len() as u64 + (2 << 20))
        .unwrap();
    let mut sfdisk = Command::new(&t[3])
        .arg("-q")
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let table = format!("start=2048, size={}, type=7\n", volume.len() / 512);
    std::io::Write::write_all(sfdisk.stdin.as_mut().unwrap(), table.as_bytes()).unwrap();
    assert!(sfdisk.wait().unwrap().success());
    let mut img = std::fs::read(&disk).unwrap();
    img[1 << 20..(1 << 20) + volume.len()].copy_from_slice(&volume);
    std::fs::write(&disk, &img).unwrap();
    let (code, recs) = scan(&disk);
    assert_eq!(code, Some(0));
    assert_eq!(recs["disk.img!/p1"]["container"], "ntfs");
    assert_eq!(recs["disk.img!/p1"]["offset"], 1 << 20);
    assert_members(&recs, "disk.img!/p1/", &n.files);
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
    // scan.png's valid data length cut to 1000 bytes: the rest reads as zeros, as on Windows.
    let scan_png = data_attribute(&img, mft_record(&t[2], &n.image, "scan.png"));
    assert_eq!(img[scan_png + 8], 1, "scan.png is non-resident");
    assert!(
        (scan_png + 56) % 512 <= 502,
        "field clear of the fixup bytes"
    );
    img[scan_png + 56..scan_png + 64].copy_from_slice(&1000u64.to_le_bytes());
    let mut cut = n.files["scan.png"][..1000].to_vec();
    cut.resize(n.files["scan.png"].len(), 0);
    let damaged = n.image.with_file_name("damaged.img");
    std::fs::write(&damaged, &img).unwrap();
    let (code, recs) = scan(&damaged);
    assert!(matches!(code, Some(0..=3)), "exit {code:?}");
    let photo = &recs["damaged.img!/photo.jpg"];
    assert_eq!(photo["disposition"], "skipped:unsupported");
    assert!(photo["error"].as_str().unwrap().contains("NTFS-compressed"));
    assert_eq!(
        recs["damaged.img!/tiny.png"]["disposition"],
        "error:corrupt"
    );
    let scan_png = &recs["damaged.img!/scan.png"];
    assert_eq!(scan_png["md5"], CryptoHashes::of(&cut).md5_hex());
    assert_eq!(scan_png["size"], cut.len() as u64);
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

/// Writes files into an exFAT image made by `mkfs.exfat`, by the specification (allocation
/// bitmap, FAT, entry sets with name hash and checksum); `fsck.exfat` then checks the result.
pub(crate) struct ExFatWriter {
    pub(crate) img: Vec<u8>,
    pub(crate) cluster: usize,
    pub(crate) fat: usize,
    pub(crate) heap: usize,
    pub(crate) count: u32,
    pub(crate) root: u32,
    pub(crate) bitmap: usize,
}

impl ExFatWriter {
    pub(crate) fn new(img: Vec<u8>) -> Self {
        let u32_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
        let sector = 1usize << img[108];
        let cluster = sector << img[109];
        let mut w = ExFatWriter {
            cluster,
            fat: u32_at(&img, 80) as usize * sector,
            heap: u32_at(&img, 88) as usize * sector,
            count: u32_at(&img, 92),
            root: u32_at(&img, 96),
            bitmap: 0,
            img,
        };
        let root = w.at(w.root);
        let e = (0..cluster / 32)
            .map(|i| root + i * 32)
            .find(|&e| w.img[e] == 0x81)
            .expect("allocation bitmap entry");
        w.bitmap = w.at(u32_at(&w.img, e + 20));
        w
    }

    pub(crate) fn at(&self, cluster: u32) -> usize {
        self.heap + (cluster as usize - 2) * self.cluster
    }

    fn used(&self, c: u32) -> bool {
        let i = (c - 2) as usize;
        self.img[self.bitmap + i / 8] & (1 << (i % 8)) != 0
    }

    /// `n` free contiguous clusters, marked used.
    fn alloc(&mut self, n: u32) -> u32 {
        let first = (2..self.count + 2 - n)
            .find(|&c| (c..c + n).all(|k| !self.used(k)))
            .expect("free space");
        for c in first..first + n {
            let i = (c - 2) as usize;
            self.img[self.bitmap + i / 8] |= 1 << (i % 8);
        }
        first
    }

    pub(crate) fn set_fat(&mut self, c: u32, next: u32) {
        let at = self.fat + c as usize * 4;
        self.img[at..at + 4].copy_from_slice(&next.to_le_bytes());
    }

    /// Stores `bytes` (on-disk content: what lies past the valid length too); the first cluster.
    /// A chained stream's clusters are linked in reverse order, so only the FAT finds them.
    pub(crate) fn store(&mut self, bytes: &[u8], chained: bool) -> u32 {
        let n = bytes.len().div_ceil(self.cluster).max(1) as u32;
        let run = self.alloc(n);
        let order: Vec<u32> = if chained {
            (run..run + n).rev().collect()
        } else {
            (run..run + n).collect()
        };
        for (k, &c) in order.iter().enumerate() {
            let part = &bytes
                [(k * self.cluster).min(bytes.len())..((k + 1) * self.cluster).min(bytes.len())];
            let at = self.at(c);
            self.img[at..at + self.cluster].fill(0);
            self.img[at..at + part.len()].copy_from_slice(part);
            if chained {
                let next = order.get(k + 1).copied().unwrap_or(0xFFFF_FFFF);
                self.set_fat(c, next);
            }
        }
        order[0]
    }

    /// Adds the entry set of `name` to the (one-cluster) directory at `dir`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn entry(
        &mut self,
        dir: u32,
        name: &str,
        attr: u16,
        first: u32,
        size: u64,
        valid: u64,
        flags: u8,
    ) {
        // 2024-03-05 14:30:22 local time at UTC+02:00 (8 steps of 15 minutes, valid bit set).
        let stamp: u32 = (44 << 25) | (3 << 21) | (5 << 16) | (14 << 11) | (30 << 5) | 11;
        let units: Vec<u16> = name.encode_utf16().collect();
        let names = units.len().div_ceil(15);
        let mut set = vec![0u8; 32 * (2 + names)];
        set[0] = 0x85;
        set[1] = (1 + names) as u8;
        set[4..6].copy_from_slice(&attr.to_le_bytes());
        for t in [8, 12, 16] {
            set[t..t + 4].copy_from_slice(&stamp.to_le_bytes());
        }
        set[22..25].fill(0x80 | 8);
        set[32] = 0xC0;
        set[33] = flags;
        set[35] = units.len() as u8;
        let mut hash: u16 = 0;
        for u in name.to_ascii_uppercase().encode_utf16() {
            for b in u.to_le_bytes() {
                hash = hash.rotate_right(1).wrapping_add(b as u16);
            }
        }
        set[36..38].copy_from_slice(&hash.to_le_bytes());
        set[40..48].copy_from_slice(&valid.to_le_bytes());
        set[52..56].copy_from_slice(&first.to_le_bytes());
        set[56..64].copy_from_slice(&size.to_le_bytes());
        for (k, u) in units.iter().enumerate() {
            let at = 64 + (k / 15) * 32;
            set[at] = 0xC1;
            set[at + 2 + (k % 15) * 2..at + 4 + (k % 15) * 2].copy_from_slice(&u.to_le_bytes());
        }
        let mut sum: u16 = 0;
        for (i, &b) in set.iter().enumerate() {
            if i != 2 && i != 3 {
                sum = sum.rotate_right(1).wrapping_add(b as u16);
            }
        }
        set[2..4].copy_from_slice(&sum.to_le_bytes());
        let base = self.at(dir);
        let slot = (0..self.cluster / 32)
            .map(|i| base + i * 32)
            .find(|&e| self.img[e] == 0)
            .expect("room in the directory");
        self.img[slot..slot + set.len()].copy_from_slice(&set);
    }
}

#[test]
fn exfat_files_in_a_tree_with_fat_chains_and_contiguous_runs_are_members() {
    let Some(t) = tools("exfat", &["mkfs.exfat", "fsck.exfat"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let image = tmp.path().join("card.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    // 1 KiB clusters: the synthetic pictures span several.
    run(Command::new(&t[0]).args(["-c", "1024"]).arg(&image));
    let mut w = ExFatWriter::new(std::fs::read(&image).unwrap());
    let mut files = BTreeMap::new();
    let a = encode_png(&generate(Scene::Product, 240, 180, 51));
    let b = encode_jpeg(&generate(Scene::Landscape, 320, 240, 52), 90);
    let long = encode_png(&generate(Scene::DeadLeaves, 96, 96, 53));
    assert!(
        a.len() > 2 * w.cluster && b.len() > 2 * w.cluster && long.len() > 2 * w.cluster,
        "multi-cluster files: {} {} {} bytes in {}-byte clusters",
        a.len(),
        b.len(),
        long.len(),
        w.cluster
    );
    let first = w.store(&a, false);
    let root = w.root;
    w.entry(
        root,
        "a.png",
        0x20,
        first,
        a.len() as u64,
        a.len() as u64,
        0x03,
    );
    let name = "a name longer than fifteen units.png";
    let first = w.store(&long, true);
    w.entry(
        root,
        name,
        0x20,
        first,
        long.len() as u64,
        long.len() as u64,
        0x01,
    );
    let dcim = w.store(&[], true);
    let c = w.cluster as u64;
    w.entry(root, "DCIM", 0x10, dcim, c, c, 0x01);
    let b_first = w.store(&b, true);
    w.entry(
        dcim,
        "b.jpg",
        0x20,
        b_first,
        b.len() as u64,
        b.len() as u64,
        0x01,
    );
    // 3000 bytes of which 1000 are valid: what lies on disk past them reads as zeros.
    let mut on_disk = vec![0x5au8; 3000];
    on_disk[..1000].fill(7);
    let first = w.store(&on_disk, false);
    w.entry(root, "partial.bin", 0x20, first, 3000, 1000, 0x03);
    std::fs::write(&image, &w.img).unwrap();
    let fsck = Command::new(&t[1]).arg("-n").arg(&image).output().unwrap();
    assert!(
        fsck.status.success(),
        "fsck.exfat rejects the test's image: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    files.insert("DCIM/b.jpg", b);
    files.insert("a.png", a);
    files.insert(name, long);

    let (code, mut recs) = scan(&image);
    assert_eq!(code, Some(0));
    assert_eq!(recs["card.img"]["container"], "exfat");
    let partial = recs.remove("card.img!/partial.bin").expect("partial.bin");
    let mut want = vec![7u8; 1000];
    want.resize(3000, 0);
    assert_eq!(partial["md5"], CryptoHashes::of(&want).md5_hex());
    assert_members(&recs, "card.img!/", &files);
    let r = &recs["card.img!/DCIM/b.jpg"];
    assert_eq!(r["mtime"], "2024-03-05T12:30:22Z");
    assert_eq!(r["created"], "2024-03-05T12:30:22Z");

    // A loop in b.jpg's chain (its first cluster links to itself; a link after the last cluster
    // the size needs is never followed): that member is an error, the others still read.
    let mut img = w.img.clone();
    let at = w.fat + b_first as usize * 4;
    img[at..at + 4].copy_from_slice(&b_first.to_le_bytes());
    let looped = tmp.path().join("loop.img");
    std::fs::write(&looped, &img).unwrap();
    let (code, recs) = scan(&looped);
    assert!(matches!(code, Some(0..=3)), "exit {code:?}");
    let r = &recs["loop.img!/DCIM/b.jpg"];
    assert_eq!(r["disposition"], "error:corrupt");
    assert!(r["error"].as_str().unwrap().contains("loops"), "{r}");
    assert_eq!(recs["loop.img!/a.png"]["disposition"], "unmatched");

    // A boot sector whose cluster heap lies past the volume: an error, no members.
    let mut img = w.img.clone();
    img[92..96].copy_from_slice(&u32::MAX.to_le_bytes());
    let bad = tmp.path().join("boot.img");
    std::fs::write(&bad, &img).unwrap();
    let (code, recs) = scan(&bad);
    assert!(matches!(code, Some(0..=3)), "exit {code:?}");
    assert_eq!(recs.len(), 1);
    assert_eq!(recs["boot.img"]["disposition"], "error:corrupt");

    // Random damage to the FAT and the first clusters (bitmap, up-case table, directories).
    for seed in 0..16u64 {
        let mut img = w.img.clone();
        flip(
            &mut img,
            w.fat..w.heap + 16 * w.cluster,
            1 + seed as usize % 6,
            seed,
        );
        let path = tmp.path().join(format!("r{seed}.img"));
        std::fs::write(&path, &img).unwrap();
        let (code, recs) = scan(&path);
        assert!(matches!(code, Some(0..=3)), "seed {seed}: exit {code:?}");
        for (p, r) in &recs {
            assert!(r["disposition"].is_string(), "seed {seed}: {p}");
        }
    }
}

#[test]
fn a_deleted_ntfs_file_is_recovered_and_marked_deleted() {
    let Some(t) = tools("ntfs deleted", &["mkntfs", "ntfscp", "ntfsinfo"]) else {
        return;
    };
    let n = ntfs_image(&t);
    // Deleting as Windows does it leaves the record with its in-use flag cleared: clear it on
    // scan.png's record (its directory entry stays; a stale entry is not a live file).
    let mut img = std::fs::read(&n.image).unwrap();
    let rec = mft_record(&t[2], &n.image, "scan.png");
    assert_eq!(img[rec + 0x16] & 1, 1, "in use before");
    img[rec + 0x16] &= !1;
    let gone = n.image.with_file_name("gone.img");
    std::fs::write(&gone, &img).unwrap();
    let (code, recs) = scan(&gone);
    assert_eq!(code, Some(0));
    assert_members(&recs, "gone.img!/", &n.files);
    let deleted: Vec<&String> = recs
        .iter()
        .filter(|(_, r)| r["deleted"] == true)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(deleted, ["gone.img!/scan.png"]);
    // Live files carry no deleted field at all.
    assert!(recs["gone.img!/photo.jpg"].get("deleted").is_none());
}

/// Flips `n` bytes of `img` in `range`, chosen by a fixed-seed generator (reproducible).
pub(crate) fn flip(img: &mut [u8], range: std::ops::Range<usize>, n: usize, seed: u64) {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for _ in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let at = range.start + (x >> 33) as usize % range.len();
        img[at] ^= (x >> 13) as u8 | 1;
    }
}

#[test]
fn randomly_damaged_ntfs_metadata_never_crashes_the_scan() {
    let Some(t) = tools("ntfs random damage", &["mkntfs", "ntfscp", "ntfsinfo"]) else {
        return;
    };
    let n = ntfs_image(&t);
    let pristine = std::fs::read(&n.image).unwrap();
    // The MFT's first cluster, from the boot sector.
    let cluster = u16::from_le_bytes([pristine[11], pristine[12]]) as usize * pristine[13] as usize;
    let first = u64::from_le_bytes(pristine[48..56].try_into().unwrap()) as usize * cluster;
    for seed in 0..24u64 {
        let mut img = pristine.clone();
        // The MFT records 0..72 (metafiles, root directory, the test's files).
        flip(
            &mut img,
            first..first + 72 * 1024,
            1 + seed as usize % 8,
            seed,
        );
        let path = n.image.with_file_name(format!("r{seed}.img"));
        std::fs::write(&path, &img).unwrap();
        let (code, recs) = scan(&path);
        assert!(matches!(code, Some(0..=3)), "seed {seed}: exit {code:?}");
        assert!(!recs.is_empty(), "seed {seed}: no records");
        for (p, r) in &recs {
            assert!(r["disposition"].is_string(), "seed {seed}: {p}");
        }
    }
}
