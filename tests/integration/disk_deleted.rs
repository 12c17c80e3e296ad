//! Deleted files in FAT12/16/32, exFAT and ext4 images made by independent tools: mtools
//! (`mkfs.vfat`, `mcopy`, `mdel`), `mkfs.exfat` with entry sets deleted as the exFAT
//! specification says (in-use bits and allocation-bitmap bits cleared; `fsck.exfat` checks the
//! image), and `mkfs.ext4 -d` with `debugfs -w -R "rm …"`. Expected values come from the source
//! files (`md5sum`, and their PDQ when the same files are scanned loose), file-system ids from
//! `fls` (The Sleuth Kit, when installed), `debugfs` and the offsets the test wrote, never from
//! the scan under test. A test whose tool is missing says `SKIPPED` on stderr and passes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::disk::{flip, run, scan, tool, tools, ExFatWriter};

/// MD5 of the file at `path`, by `md5sum`.
fn md5sum(path: &Path) -> String {
    let out = run(Command::new("md5sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

/// Writes synthetic pictures into `dir` (created); their paths by name.
fn sources(dir: &Path, files: &[(&str, Vec<u8>)]) -> BTreeMap<String, PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(name, bytes)| {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, bytes).unwrap();
            (name.to_string(), p)
        })
        .collect()
}

/// The PDQ hashes of the files below `src` scanned loose, by path below `src`.
fn loose_pdq(src: &Path) -> BTreeMap<String, Value> {
    let (code, recs) = scan(src);
    assert_eq!(code, Some(0));
    let name = src.file_name().unwrap().to_str().unwrap();
    recs.iter()
        .filter_map(|(p, r)| {
            let rel = p.strip_prefix(name)?.trim_start_matches('/');
            Some((rel.to_string(), r["hashes"]["pdq"].clone()))
        })
        .collect()
}

/// Asserts `r` is a deleted file recovered with the bytes of `src` (MD5 by `md5sum`, PDQ as
/// scanned loose), its recovery named after file system `fs`.
fn assert_recovered(r: &Value, src: &Path, pdq: &Value, fs: &str) {
    assert_eq!(r["deleted"], true, "{r}");
    assert_eq!(r["disposition"], "unmatched", "{r}");
    assert_eq!(r["md5"], md5sum(src), "{r}");
    assert_eq!(r["size"], std::fs::metadata(src).unwrap().len(), "{r}");
    assert_eq!(&r["hashes"]["pdq"], pdq, "{r}");
    assert!(
        r["recovery"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("{fs}:"))),
        "{r}"
    );
}

/// Asserts `r` is a deleted file reported without data because its clusters were reused.
fn assert_reused(r: &Value) {
    assert_eq!(r["deleted"], true, "{r}");
    assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
    assert!(r.get("md5").is_none(), "no bytes hashed: {r}");
    let why = r["error"].as_str().unwrap();
    assert!(why.contains("allocated again"), "{why}");
    assert!(
        r["recovery"].as_str().unwrap().contains("not recovered"),
        "{r}"
    );
}

fn mtools(args: &[&str]) {
    run(Command::new(args[0])
        .args(&args[1..])
        .env("MTOOLS_SKIP_CHECK", "1"));
}

/// Byte offset of the first sector after the FATs (FAT12/16: the root directory).
fn after_fats(img: &[u8]) -> usize {
    let sector = u16::from_le_bytes([img[11], img[12]]) as usize;
    let reserved = u16::from_le_bytes([img[14], img[15]]) as usize;
    let fat = match u16::from_le_bytes([img[22], img[23]]) {
        0 => u32::from_le_bytes(img[36..40].try_into().unwrap()) as usize,
        n => n as usize,
    };
    (reserved + img[16] as usize * fat) * sector
}

/// Checks every `dirent:` id against The Sleuth Kit's inode numbers (`fls`), when installed:
/// TSK numbers FAT directory entries from the first sector after the FATs, from 3.
fn check_with_fls(image: &Path, recs: &BTreeMap<String, Value>, prefix: &str) {
    let Some(fls) = tool("fls") else {
        eprintln!("SKIPPED fs_id check against fls: The Sleuth Kit not installed");
        return;
    };
    let img = std::fs::read(image).unwrap();
    let base = after_fats(&img);
    let listing = run(Command::new(fls).args(["-r", "-p"]).arg(image));
    let tsk: BTreeMap<u64, String> = listing
        .lines()
        .filter_map(|l| {
            let (head, path) = l.split_once('\t')?;
            let inode = head
                .rsplit(' ')
                .next()?
                .trim_end_matches(':')
                .parse()
                .ok()?;
            Some((inode, path.to_string()))
        })
        .collect();
    let mut checked = 0;
    for (p, r) in recs {
        let Some(rel) = p.strip_prefix(prefix) else {
            continue;
        };
        let Some(off) = r["fs_id"].as_str().and_then(|s| s.strip_prefix("dirent:")) else {
            continue;
        };
        let inode = (off.parse::<usize>().unwrap() - base) / 32 + 3;
        let named = tsk
            .get(&(inode as u64))
            .unwrap_or_else(|| panic!("{p}: TSK has no inode {inode}: {listing}"));
        if r.get("deleted").is_none() {
            assert_eq!(named, rel, "{p}: TSK inode {inode}");
        }
        checked += 1;
    }
    assert!(checked >= 2, "{listing}");
}

/// FAT images by mtools: a file deleted in the root (short name only: its first character is
/// lost), one with a long name deleted in a subdirectory, two kept.
fn fat_case(t: &[PathBuf], mkfs: &[&str], mib: u64, label: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let files = sources(
        &src,
        &[
            (
                "keep.jpg",
                encode_jpeg(&generate(Scene::Landscape, 320, 240, 61), 85),
            ),
            (
                "photo.png",
                encode_png(&generate(Scene::Product, 200, 150, 62)),
            ),
            (
                "SUB/a long picture name.png",
                encode_png(&generate(Scene::Document, 240, 180, 63)),
            ),
            (
                "SUB/stay.png",
                encode_png(&generate(Scene::Gradient, 64, 64, 64)),
            ),
        ],
    );
    let pdq = loose_pdq(&src);
    let image = tmp.path().join(format!("{label}.img"));
    std::fs::File::create(&image)
        .unwrap()
        .set_len(mib << 20)
        .unwrap();
    run(Command::new(&t[0]).args(mkfs).arg(&image));
    let i = image.to_str().unwrap();
    mtools(&["mmd", "-i", i, "::SUB"]);
    for (name, path) in &files {
        mtools(&[
            "mcopy",
            "-i",
            i,
            path.to_str().unwrap(),
            &format!("::{name}"),
        ]);
    }
    mtools(&["mdel", "-i", i, "::photo.png"]);
    mtools(&["mdel", "-i", i, "::SUB/a long picture name.png"]);

    let (code, recs) = scan(&image);
    assert_eq!(code, Some(0), "{label}: {recs:?}");
    let p = format!("{label}.img!/");
    let got: Vec<&str> = recs.keys().filter_map(|k| k.strip_prefix(&p)).collect();
    // mtools stored photo.png as the short name PHOTO.PNG with lower-case flags.
    assert_eq!(
        got,
        [
            "SUB/a long picture name.png",
            "SUB/stay.png",
            "_hoto.png",
            "keep.jpg"
        ],
        "{label}"
    );
    assert_recovered(
        &recs[&format!("{p}_hoto.png")],
        &files["photo.png"],
        &pdq["photo.png"],
        "fat",
    );
    let long = "SUB/a long picture name.png";
    assert_recovered(
        &recs[&format!("{p}{long}")],
        &files[long],
        &pdq[long],
        "fat",
    );
    for live in ["keep.jpg", "SUB/stay.png"] {
        let r = &recs[&format!("{p}{live}")];
        assert!(
            r.get("deleted").is_none() && r.get("recovery").is_none(),
            "{r}"
        );
        assert_eq!(r["md5"], md5sum(&files[live]), "{label} {live}");
        assert_eq!(r["hashes"]["pdq"], pdq[live], "{label} {live}");
    }
    check_with_fls(&image, &recs, &p);
}

#[test]
fn deleted_fat12_fat16_fat32_files_are_recovered_with_their_names() {
    let Some(t) = tools(
        "fat deleted",
        &["mkfs.vfat", "mcopy", "mdel", "mmd", "md5sum"],
    ) else {
        return;
    };
    fat_case(&t, &["-F", "12"], 4, "fat12");
    fat_case(&t, &["-F", "16"], 16, "fat16");
    fat_case(&t, &["-F", "32", "-s", "1"], 40, "fat32");
}

#[test]
fn a_deleted_fat_file_whose_clusters_were_reused_is_reported_not_recovered() {
    let Some(t) = tools(
        "fat reused",
        &["mkfs.vfat", "mcopy", "mdel", "mmd", "mrd", "md5sum"],
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = sources(
        &tmp.path().join("src"),
        &[
            (
                "big.png",
                encode_png(&generate(Scene::Indoor, 160, 120, 71)),
            ),
            (
                "other.png",
                encode_png(&generate(Scene::DeadLeaves, 240, 180, 72)),
            ),
        ],
    );
    let image = tmp.path().join("reuse.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new(&t[0]).args(["-F", "16"]).arg(&image));
    let i = image.to_str().unwrap();
    let (big, other) = (
        files["big.png"].to_str().unwrap(),
        files["other.png"].to_str().unwrap(),
    );
    mtools(&["mmd", "-i", i, "::SUB"]);
    // A deleted directory (A/OLD) whose cluster a new directory (NEW, walked after A) took:
    // NEW and its file are read, OLD is reported as reused.
    mtools(&["mmd", "-i", i, "::A"]);
    mtools(&["mmd", "-i", i, "::A/OLD"]);
    mtools(&["mrd", "-i", i, "::A/OLD"]);
    mtools(&["mmd", "-i", i, "::NEW"]);
    mtools(&["mcopy", "-i", i, other, "::NEW/other.png"]);
    mtools(&["mcopy", "-i", i, big, "::big.png"]);
    mtools(&["mdel", "-i", i, "::big.png"]);
    // A new file in another directory: its entry elsewhere, its clusters the freed ones.
    mtools(&["mcopy", "-i", i, other, "::SUB/other.png"]);
    let (code, recs) = scan(&image);
    // A deleted file whose clusters were reused is reported, not a failure: exit 0.
    assert!(matches!(code, Some(0)), "exit {code:?}");
    assert_reused(&recs["reuse.img!/_ig.png"]);
    let r = &recs["reuse.img!/SUB/other.png"];
    assert_eq!(r["md5"], md5sum(&files["other.png"]));
    let r = &recs["reuse.img!/A/_LD"];
    assert_eq!(r["deleted"], true, "{r}");
    assert!(r["error"].as_str().unwrap().contains("reused"), "{r}");
    let r = &recs["reuse.img!/NEW/other.png"];
    assert_eq!(r["md5"], md5sum(&files["other.png"]), "{r}");
    check_with_fls(&image, &recs, "reuse.img!/");
}

/// The offset of the first 32-byte entry in `img[from..from + len]` whose first byte is
/// `first` and whose name bytes 1..11 are `rest`.
fn find_entry(img: &[u8], from: usize, len: usize, first: u8, rest: &[u8]) -> usize {
    (from..from + len)
        .step_by(32)
        .find(|&e| img[e] == first && &img[e + 1..e + 11] == rest)
        .unwrap_or_else(|| panic!("entry {rest:?} not found"))
}

#[test]
fn hostile_deleted_fat_entries_end_in_dispositions() {
    let Some(t) = tools(
        "fat hostile",
        &["mkfs.vfat", "mcopy", "mdel", "mmd", "mdeltree"],
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = sources(
        &tmp.path().join("src"),
        &[(
            "photo.png",
            encode_png(&generate(Scene::Product, 200, 150, 81)),
        )],
    );
    let image = tmp.path().join("h.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new(&t[0]).args(["-F", "16"]).arg(&image));
    let i = image.to_str().unwrap();
    let photo = files["photo.png"].to_str().unwrap();
    mtools(&["mcopy", "-i", i, photo, "::PHOTO.PNG"]);
    mtools(&["mmd", "-i", i, "::LOOP"]);
    mtools(&["mcopy", "-i", i, photo, "::LOOP/X.PNG"]);
    mtools(&["mdel", "-i", i, "::PHOTO.PNG"]);
    mtools(&["mdeltree", "-i", i, "::LOOP"]);
    let pristine = std::fs::read(&image).unwrap();
    let root = after_fats(&pristine);
    let entry = find_entry(&pristine, root, 512 * 32, 0xE5, b"HOTO   PNG");
    let lp = find_entry(&pristine, root, 512 * 32, 0xE5, b"OOP       ");
    let loop_cluster = u16::from_le_bytes([pristine[lp + 26], pristine[lp + 27]]) as usize;
    let cluster = pristine[13] as usize * 512;
    let data = root + 512 * 32;
    let loop_at = data + (loop_cluster - 2) * cluster;
    assert_eq!(&pristine[loop_at..loop_at + 11], b".          ");

    let check = |img: &[u8], name: &str| -> BTreeMap<String, Value> {
        let path = tmp.path().join(name);
        std::fs::write(&path, img).unwrap();
        let (code, recs) = scan(&path);
        assert!(matches!(code, Some(0..=3)), "{name}: exit {code:?}");
        for (p, r) in &recs {
            assert!(r["disposition"].is_string(), "{name}: {p}");
        }
        recs
    };
    // The deleted directory LOOP is walked (its cluster is free and starts with its own `.`);
    // X.PNG inside is recovered.
    let recs = check(&pristine, "pristine.img");
    assert_eq!(
        recs["pristine.img!/_OOP/_.PNG"]["md5"],
        md5sum(&files["photo.png"])
    );

    // An absurd size: the clusters it needs run past the data area.
    let mut img = pristine.clone();
    img[entry + 28..entry + 32].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let r = &check(&img, "size.img")["size.img!/_HOTO.PNG"];
    assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("past the data area"),
        "{r}"
    );

    // A first cluster outside the data area.
    let mut img = pristine.clone();
    img[entry + 26..entry + 28].copy_from_slice(&0xFFF0u16.to_le_bytes());
    let r = &check(&img, "cluster.img")["cluster.img!/_HOTO.PNG"];
    assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("outside the data area"),
        "{r}"
    );

    // The deleted X.PNG inside LOOP made a directory whose first cluster is LOOP's own.
    let mut img = pristine.clone();
    let x = find_entry(&img, loop_at, cluster, 0xE5, b"       PNG");
    img[x + 11] = 0x10;
    img[x + 26..x + 28].copy_from_slice(&(loop_cluster as u16).to_le_bytes());
    let recs = check(&img, "self.img");
    let r = &recs["self.img!/_OOP/_.PNG"];
    assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
    assert!(
        r["error"].as_str().unwrap().contains("shares cluster"),
        "{r}"
    );

    // Random damage to the FATs and the root directory.
    for seed in 0..8u64 {
        let mut img = pristine.clone();
        flip(&mut img, 512..data, 1 + seed as usize % 6, seed);
        check(&img, &format!("r{seed}.img"));
    }
}

/// The offset of the entry set named `name` in the one-cluster exFAT directory at `dir`.
fn exfat_set(w: &ExFatWriter, dir: u32, name: &str) -> usize {
    let base = w.at(dir);
    (0..w.cluster / 32)
        .map(|k| base + k * 32)
        .find(|&e| {
            w.img[e] == 0x85 && {
                let len = w.img[e + 32 + 3] as usize;
                let units: Vec<u16> = (0..len)
                    .map(|k| {
                        let at = e + 64 + (k / 15) * 32 + 2 + (k % 15) * 2;
                        u16::from_le_bytes([w.img[at], w.img[at + 1]])
                    })
                    .collect();
                String::from_utf16_lossy(&units) == name
            }
        })
        .unwrap_or_else(|| panic!("{name} not in directory {dir}"))
}

/// Deletes `name` from directory `dir` as the specification says: the in-use bit of every
/// entry of its set cleared, its clusters freed in the allocation bitmap (its FAT chain left,
/// as Windows leaves it). Returns the offset of its File entry.
fn exfat_delete(w: &mut ExFatWriter, dir: u32, name: &str) -> usize {
    let e = exfat_set(w, dir, name);
    let secondaries = w.img[e + 1] as usize;
    for k in 0..=secondaries {
        w.img[e + k * 32] &= 0x7F;
    }
    let s = e + 32;
    let contiguous = w.img[s + 1] & 2 != 0;
    let mut c = u32::from_le_bytes(w.img[s + 20..s + 24].try_into().unwrap());
    let size = u64::from_le_bytes(w.img[s + 24..s + 32].try_into().unwrap()) as usize;
    for _ in 0..size.div_ceil(w.cluster) {
        let i = (c - 2) as usize;
        w.img[w.bitmap + i / 8] &= !(1 << (i % 8));
        c = if contiguous {
            c + 1
        } else {
            let at = w.fat + c as usize * 4;
            u32::from_le_bytes(w.img[at..at + 4].try_into().unwrap())
        };
    }
    e
}

#[test]
fn deleted_exfat_files_are_recovered_from_free_clusters() {
    let Some(t) = tools("exfat deleted", &["mkfs.exfat", "fsck.exfat", "md5sum"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let files = sources(
        &src,
        &[
            (
                "keep.png",
                encode_png(&generate(Scene::Gradient, 96, 96, 91)),
            ),
            (
                "gone.png",
                encode_png(&generate(Scene::Product, 200, 150, 92)),
            ),
            (
                "chained.jpg",
                encode_jpeg(&generate(Scene::Landscape, 320, 240, 93), 90),
            ),
            (
                "DCIM/inner.png",
                encode_png(&generate(Scene::Document, 160, 120, 94)),
            ),
            (
                "old.png",
                encode_png(&generate(Scene::Indoor, 160, 120, 95)),
            ),
            // Smaller than gone.png: it takes over the first of its clusters only.
            (
                "new.png",
                encode_png(&generate(Scene::Gradient, 48, 48, 96)),
            ),
        ],
    );
    let pdq = loose_pdq(&src);
    let bytes = |n: &str| std::fs::read(&files[n]).unwrap();
    assert!(bytes("new.png").len() < bytes("gone.png").len());
    let image = tmp.path().join("card.img");
    std::fs::File::create(&image)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    run(Command::new(&t[0]).args(["-c", "1024"]).arg(&image));
    let mut w = ExFatWriter::new(std::fs::read(&image).unwrap());
    let root = w.root;
    let put = |w: &mut ExFatWriter, dir: u32, name: &str, b: &[u8], chained: bool| {
        let first = w.store(b, chained);
        let flags = if chained { 0x01 } else { 0x03 };
        let n = b.len() as u64;
        w.entry(dir, name, 0x20, first, n, n, flags);
    };
    put(&mut w, root, "keep.png", &bytes("keep.png"), false);
    put(&mut w, root, "gone.png", &bytes("gone.png"), false);
    put(&mut w, root, "chained.jpg", &bytes("chained.jpg"), true);
    let dcim = w.store(&[], true);
    let c = w.cluster as u64;
    w.entry(root, "DCIM", 0x10, dcim, c, c, 0x01);
    put(&mut w, dcim, "inner.png", &bytes("DCIM/inner.png"), false);
    put(&mut w, root, "old.png", &bytes("old.png"), false);
    let mut at = BTreeMap::new();
    at.insert("gone.png", exfat_delete(&mut w, root, "gone.png"));
    at.insert("chained.jpg", exfat_delete(&mut w, root, "chained.jpg"));
    at.insert("DCIM/inner.png", exfat_delete(&mut w, dcim, "inner.png"));
    at.insert("old.png", exfat_delete(&mut w, root, "old.png"));
    // A new file written over gone.png's first clusters, as a camera reusing free space does.
    let s = at["gone.png"] + 32;
    let first = u32::from_le_bytes(w.img[s + 20..s + 24].try_into().unwrap());
    let b = bytes("new.png");
    for k in 0..b.len().div_ceil(w.cluster) {
        let i = first as usize - 2 + k;
        w.img[w.bitmap + i / 8] |= 1 << (i % 8);
    }
    let o = w.at(first);
    w.img[o..o + b.len()].copy_from_slice(&b);
    let n = b.len() as u64;
    w.entry(root, "new.png", 0x20, first, n, n, 0x03);
    at.insert("new.png", exfat_set(&w, root, "new.png"));
    std::fs::write(&image, &w.img).unwrap();
    let fsck = Command::new(&t[1]).arg("-n").arg(&image).output().unwrap();
    assert!(
        fsck.status.success(),
        "fsck.exfat rejects the test's image: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );

    let (code, recs) = scan(&image);
    assert_eq!(
        code,
        Some(0),
        "an unrecoverable deleted file is not a failure: {recs:?}"
    );
    let r = |n: &str| &recs[&format!("card.img!/{n}")];
    assert_reused(r("gone.png"));
    for n in ["chained.jpg", "DCIM/inner.png", "old.png"] {
        assert_recovered(r(n), &files[n], &pdq[n], "exfat");
    }
    for n in ["keep.png", "new.png"] {
        assert_eq!(r(n)["md5"], md5sum(&files[n]), "{n}");
        assert!(r(n).get("deleted").is_none());
    }
    for (n, off) in &at {
        assert_eq!(r(n)["fs_id"], format!("dirent:{off}"), "{n}");
    }
}

#[test]
fn a_file_deleted_by_debugfs_is_recovered_from_its_ext4_inode() {
    let Some(t) = tools("ext4 deleted", &["mkfs.ext4", "debugfs", "md5sum"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let files = sources(
        &src,
        &[
            (
                "keep.png",
                encode_png(&generate(Scene::Gradient, 96, 96, 101)),
            ),
            (
                "DCIM/x.png",
                encode_png(&generate(Scene::Product, 240, 180, 102)),
            ),
            (
                "DCIM/y.jpg",
                encode_jpeg(&generate(Scene::Landscape, 320, 240, 103), 90),
            ),
        ],
    );
    let pdq = loose_pdq(&src);
    let image = tmp.path().join("e.img");
    let i = image.to_str().unwrap();
    run(Command::new(&t[0]).args(["-q", "-F", "-d", src.to_str().unwrap(), i, "8M"]));
    let inode = |path: &str| -> String {
        let out = run(Command::new(&t[1]).args(["-R", &format!("stat {path}"), i]));
        let n = out
            .split("Inode: ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        format!("inode:{n}")
    };
    let x = inode("/DCIM/x.png");
    let keep = inode("/keep.png");
    run(Command::new(&t[1]).args(["-w", "-R", "rm /DCIM/x.png", i]));
    // What debugfs leaves: links 0, a deletion time, the extent tree.
    let n = x.strip_prefix("inode:").unwrap();
    let stat = run(Command::new(&t[1]).args(["-R", &format!("stat <{n}>"), i]));
    assert!(
        stat.contains("Links: 0") && stat.contains("dtime:"),
        "{stat}"
    );
    assert!(stat.contains("EXTENTS:\n("), "{stat}");

    let (code, recs) = scan(&image);
    assert_eq!(code, Some(0), "{recs:?}");
    let r = &recs["e.img!/DCIM/x.png"];
    assert_recovered(r, &files["DCIM/x.png"], &pdq["DCIM/x.png"], "ext");
    assert_eq!(r["fs_id"], x);
    let k = &recs["e.img!/keep.png"];
    assert_eq!(k["fs_id"], keep);
    assert!(k.get("deleted").is_none());
    assert_eq!(
        recs["e.img!/DCIM/y.jpg"]["md5"],
        md5sum(&files["DCIM/y.jpg"])
    );
}

/// Recomputes the checksum of the (deleted) entry set at `e`, as it was taken while in use.
fn exfat_checksum(w: &mut ExFatWriter, e: usize) {
    let n = 32 * (1 + w.img[e + 1] as usize);
    let mut sum: u16 = 0;
    for i in 0..n {
        if i == 2 || i == 3 {
            continue;
        }
        let b = if i % 32 == 0 {
            w.img[e + i] | 0x80
        } else {
            w.img[e + i]
        };
        sum = sum.rotate_right(1).wrapping_add(b as u16);
    }
    w.img[e + 2..e + 4].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn hostile_deleted_exfat_and_ext_entries_end_in_dispositions() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |img: &[u8], name: &str| -> BTreeMap<String, Value> {
        let path = tmp.path().join(name);
        std::fs::write(&path, img).unwrap();
        let (code, recs) = scan(&path);
        assert!(matches!(code, Some(0..=3)), "{name}: exit {code:?}");
        for (p, r) in &recs {
            assert!(r["disposition"].is_string(), "{name}: {p}");
        }
        recs
    };
    let png = encode_png(&generate(Scene::Product, 200, 150, 111));
    if let Some(t) = tools("exfat hostile", &["mkfs.exfat"]) {
        let image = tmp.path().join("x.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(8 << 20)
            .unwrap();
        run(Command::new(&t[0]).args(["-c", "1024"]).arg(&image));
        let mut w = ExFatWriter::new(std::fs::read(&image).unwrap());
        let root = w.root;
        let first = w.store(&png, false);
        let n = png.len() as u64;
        w.entry(root, "a.png", 0x20, first, n, n, 0x03);
        let d = w.store(&[], false);
        let c = w.cluster as u64;
        w.entry(root, "D", 0x10, d, c, c, 0x03);
        let first = w.store(&png, false);
        w.entry(d, "b.png", 0x20, first, n, n, 0x03);
        let a = exfat_delete(&mut w, root, "a.png");
        let b = exfat_delete(&mut w, d, "b.png");
        exfat_delete(&mut w, root, "D");
        let recs = check(&w.img, "x0.img");
        assert_eq!(recs["x0.img!/D/b.png"]["disposition"], "unmatched");
        assert_eq!(recs["x0.img!/D/b.png"]["deleted"], true);

        // An absurd size, then a first cluster outside the heap (checksums kept valid).
        let mut v = ExFatWriter::new(w.img.clone());
        v.img[a + 32 + 24..a + 32 + 32].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        v.img[a + 32 + 8..a + 32 + 16].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        exfat_checksum(&mut v, a);
        let r = &check(&v.img, "x1.img")["x1.img!/a.png"];
        assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
        assert!(r["error"].as_str().unwrap().contains("cluster heap"), "{r}");
        let mut v = ExFatWriter::new(w.img.clone());
        v.img[a + 32 + 20..a + 32 + 24].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
        exfat_checksum(&mut v, a);
        let r = &check(&v.img, "x2.img")["x2.img!/a.png"];
        assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
        assert!(r["error"].as_str().unwrap().contains("outside"), "{r}");

        // The deleted b.png made a directory whose first cluster is the deleted D's own.
        let mut v = ExFatWriter::new(w.img.clone());
        v.img[b + 4..b + 6].copy_from_slice(&0x10u16.to_le_bytes());
        v.img[b + 32 + 20..b + 32 + 24].copy_from_slice(&d.to_le_bytes());
        exfat_checksum(&mut v, b);
        let r = &check(&v.img, "x3.img")["x3.img!/D/b.png"];
        assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
        assert!(
            r["error"].as_str().unwrap().contains("shares cluster"),
            "{r}"
        );
    }
    if let Some(t) = tools("ext hostile", &["mkfs.ext4", "debugfs"]) {
        let src = tmp.path().join("src");
        sources(
            &src,
            &[("DCIM/x.png", png.clone()), ("keep.png", png.clone())],
        );
        let image = tmp.path().join("e.img");
        let i = image.to_str().unwrap();
        run(Command::new(&t[0]).args(["-q", "-F", "-d", src.to_str().unwrap(), i, "8M"]));
        let stat = run(Command::new(&t[1]).args(["-R", "stat /DCIM/x.png", i]));
        let n = stat
            .split("Inode: ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap();
        let imap = run(Command::new(&t[1]).args(["-R", &format!("imap <{n}>"), i]));
        // "Inode 13 is part of block group 0\n\tlocated at block 1059, offset 0x0c00"
        let block: usize = imap
            .split("located at block ")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let offset =
            usize::from_str_radix(imap.split("offset 0x").nth(1).unwrap().trim(), 16).unwrap();
        run(Command::new(&t[1]).args(["-w", "-R", "rm /DCIM/x.png", i]));
        let pristine = std::fs::read(&image).unwrap();
        let bs =
            1024usize << u32::from_le_bytes(pristine[1024 + 24..1024 + 28].try_into().unwrap());
        let inode = block * bs + offset;
        assert_eq!(
            u16::from_le_bytes([pristine[inode + 40], pristine[inode + 41]]),
            0xF30A,
            "extent header of the deleted inode"
        );
        let recs = check(&pristine, "e0.img");
        assert_eq!(recs["e0.img!/DCIM/x.png"]["deleted"], true);
        // Its first extent starting past the volume, then an absurd size.
        let mut img = pristine.clone();
        img[inode + 60..inode + 64].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        let r = &check(&img, "e1.img")["e1.img!/DCIM/x.png"];
        assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
        assert!(
            r["error"].as_str().unwrap().contains("outside the volume"),
            "{r}"
        );
        // What Linux leaves: an empty extent tree and size 0. Nothing is invented.
        let mut img = pristine.clone();
        img[inode + 42..inode + 44].copy_from_slice(&0u16.to_le_bytes());
        img[inode + 4..inode + 8].copy_from_slice(&0u32.to_le_bytes());
        let r = &check(&img, "e3.img")["e3.img!/DCIM/x.png"];
        assert_eq!(r["disposition"], "skipped:unrecoverable", "{r}");
        assert!(
            r["error"].as_str().unwrap().contains("nothing to recover"),
            "{r}"
        );
        assert!(r.get("md5").is_none(), "{r}");
        let mut img = pristine.clone();
        img[inode + 4..inode + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        img[inode + 108..inode + 112].copy_from_slice(&u32::MAX.to_le_bytes());
        check(&img, "e2.img");
        // Random damage to the group descriptors, bitmaps and inode tables.
        for seed in 0..12u64 {
            let mut img = pristine.clone();
            flip(
                &mut img,
                1024..(block + 8) * bs,
                1 + seed as usize % 8,
                seed,
            );
            check(&img, &format!("r{seed}.img"));
        }
    }
}
