//! `nearmatch scan --carve`: pictures found by signature in the free space of disk images made
//! by independent tools (`mkfs.vfat` + `mcopy`/`mdel`, `mkfs.ext4 -d` with `debugfs ffb` naming
//! free blocks, `mkntfs` + `ntfscp`/`ntfsrm`, `sfdisk`, `ewfacquire`). Synthetic pictures are
//! written into space the file system (or the partition table) leaves free, at offsets the test
//! chooses; expected values are those offsets, `md5sum` of the files, and the records of the same
//! files scanned loose, never the scan under test. A test whose tool is missing says `SKIPPED`
//! on stderr and passes.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use image::ImageFormat;
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::nearmatch;
use crate::disk::{run, tool, tools, ExFatWriter};

/// MD5 of the file at `path`, by `md5sum`.
fn md5sum(path: &Path) -> String {
    let out = run(Command::new("md5sum").arg(path));
    out.split_whitespace().next().unwrap().to_string()
}

/// A synthetic picture re-encoded by the `image` crate as `format` (GIF, BMP, WebP).
fn reencoded(scene: Scene, w: u32, h: u32, seed: u64, format: ImageFormat) -> Vec<u8> {
    let png = encode_png(&generate(scene, w, h, seed));
    let img = image::load_from_memory(&png).unwrap();
    let mut out = Cursor::new(Vec::new());
    match format {
        ImageFormat::Gif => img.to_rgba8().write_to(&mut out, format).unwrap(),
        _ => img.to_rgb8().write_to(&mut out, format).unwrap(),
    }
    out.into_inner()
}

/// The pictures carving tests put in: (file name, bytes).
fn pictures() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "a.jpg",
            encode_jpeg(&generate(Scene::Landscape, 320, 240, 81), 85),
        ),
        ("b.png", encode_png(&generate(Scene::Product, 200, 150, 82))),
        (
            "c.gif",
            reencoded(Scene::Document, 160, 120, 83, ImageFormat::Gif),
        ),
        (
            "d.bmp",
            reencoded(Scene::Gradient, 97, 61, 84, ImageFormat::Bmp),
        ),
        (
            "e.webp",
            reencoded(Scene::Landscape, 150, 100, 85, ImageFormat::WebP),
        ),
    ]
}

/// Writes `files` into `dir`; their paths by name.
fn write_all(dir: &Path, files: &[(&str, Vec<u8>)]) -> BTreeMap<String, PathBuf> {
    std::fs::create_dir_all(dir).unwrap();
    files
        .iter()
        .map(|(n, b)| {
            let p = dir.join(n);
            std::fs::write(&p, b).unwrap();
            (n.to_string(), p)
        })
        .collect()
}

/// Scans `what` with `extra` arguments (PDQ); the exit code and the records by path relative to
/// `what`'s directory.
fn scan(what: &Path, extra: &[&str]) -> (Option<i32>, BTreeMap<String, Value>) {
    let out = what.with_extension("jsonl");
    let a = nearmatch()
        .arg("scan")
        .arg(what)
        .args(["--algo", "pdq", "-o"])
        .arg(&out)
        .args(extra)
        .assert();
    let code = a.get_output().status.code();
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let dir = what.parent().unwrap().to_str().unwrap().to_string();
    let recs = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["record"] == "file")
        .map(|r| {
            let p = r["path"].as_str().unwrap();
            let rel = p.strip_prefix(&dir).unwrap_or(p).trim_start_matches('/');
            (rel.to_string(), r)
        })
        .collect();
    (code, recs)
}

/// PDQ of the files in `dir` scanned loose, by file name.
fn loose_pdq(dir: &Path) -> BTreeMap<String, Value> {
    let (code, recs) = scan(dir, &[]);
    assert_eq!(code, Some(0));
    let name = dir.file_name().unwrap().to_str().unwrap();
    recs.iter()
        .filter_map(|(p, r)| {
            let rel = p.strip_prefix(name)?.trim_start_matches('/');
            Some((rel.to_string(), r["hashes"]["pdq"].clone()))
        })
        .collect()
}

/// The carved records (`carved: true`) by their offset.
fn carved(recs: &BTreeMap<String, Value>) -> BTreeMap<u64, (String, Value)> {
    recs.iter()
        .filter(|(_, r)| r["carved"] == true)
        .map(|(p, r)| (r["offset"].as_u64().unwrap(), (p.clone(), r.clone())))
        .collect()
}

/// Asserts the carved record `(path, r)` is the file `src` put in at `offset`: named after the
/// offset and the file's type below `prefix`, same MD5 (by `md5sum`), size and PDQ as loose.
fn assert_carved(got: &(String, Value), prefix: &str, offset: u64, src: &Path, pdq: &Value) {
    let (path, r) = got;
    let ext = src.extension().unwrap().to_str().unwrap();
    assert_eq!(path, &format!("{prefix}$Carved/{offset}.{ext}"), "{r}");
    assert_eq!(r["offset"], offset, "{r}");
    assert_eq!(r["carved"], true, "{r}");
    assert_eq!(r["md5"], md5sum(src), "{path}: {r}");
    assert_eq!(r["size"], std::fs::metadata(src).unwrap().len(), "{r}");
    assert_eq!(&r["hashes"]["pdq"], pdq, "{path}: {r}");
    assert!(
        matches!(r["disposition"].as_str(), Some("unmatched")),
        "{r}"
    );
}

/// Deterministic noise (xorshift), the background of a raw image.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// Signatures that are not pictures: `FF D8 FF` with junk after it, a `BM` with an absurd
/// header, a PNG cut short, and a JPEG whose structure holds but whose frame header is damaged
/// (its decoder refuses it).
fn false_positives(jpeg: &[u8], png: &[u8]) -> Vec<Vec<u8>> {
    let mut junk_jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
    junk_jpeg.extend(noise(4000, 7));
    let mut bmp = b"BM".to_vec();
    bmp.extend(0xFFFF_FFF0u32.to_le_bytes());
    bmp.extend([0u8; 4]);
    bmp.extend(54u32.to_le_bytes());
    bmp.extend(40u32.to_le_bytes());
    bmp.extend(1_000_000i32.to_le_bytes());
    bmp.extend(1_000_000i32.to_le_bytes());
    bmp.extend([1, 0, 24, 0]);
    bmp.extend([0u8; 24]);
    let cut = png[..png.len() / 2].to_vec();
    let mut bad_frame = jpeg.to_vec();
    let sof = bad_frame
        .windows(2)
        .position(|w| w == [0xFF, 0xC0])
        .expect("baseline JPEG");
    // The component count: 9 components in a frame header sized for 3.
    bad_frame[sof + 9] = 9;
    vec![junk_jpeg, bmp, cut, bad_frame]
}

/// The record of the image (or volume) itself.
fn summary(recs: &BTreeMap<String, Value>, path: &str) -> Value {
    recs.get(path)
        .unwrap_or_else(|| panic!("no record {path}: {:?}", recs.keys()))["carve"]
        .clone()
}

#[test]
fn a_raw_image_with_no_layout_is_carved_whole_and_its_e01_gives_the_same_records() {
    let tmp = tempfile::tempdir().unwrap();
    let files = pictures();
    let src = write_all(&tmp.path().join("src"), &files);
    let pdq = loose_pdq(&tmp.path().join("src"));
    let mut img = noise(4 << 20, 3);
    let at: BTreeMap<&str, u64> = [
        ("a.jpg", 100_000),
        ("b.png", 1_000_003),
        ("c.gif", 2 << 20),
        ("d.bmp", (5 << 20) / 2),
        ("e.webp", 3 << 20),
    ]
    .into();
    for (name, bytes) in &files {
        let o = at[name] as usize;
        img[o..o + bytes.len()].copy_from_slice(bytes);
    }
    let fp = false_positives(&files[0].1, &files[1].1);
    for (i, f) in fp.iter().enumerate() {
        let o = 3_400_000 + i * 100_000;
        img[o..o + f.len()].copy_from_slice(f);
    }
    let dir = tmp.path().join("ev");
    std::fs::create_dir_all(&dir).unwrap();
    let raw = dir.join("blob.dd");
    std::fs::write(&raw, &img).unwrap();

    // Without --carve, a raw file with no layout is just a file.
    let (code, recs) = scan(&raw, &[]);
    assert_eq!(code, Some(0));
    assert!(carved(&recs).is_empty());
    assert_eq!(recs["blob.dd"]["disposition"], "not-image");

    let (code, recs) = scan(&raw, &["--carve"]);
    assert_eq!(code, Some(0), "false positives do not change the exit code");
    let got = carved(&recs);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        at.values().copied().collect::<Vec<_>>(),
        "{got:?}"
    );
    for (name, o) in &at {
        assert_carved(&got[o], "blob.dd!/", *o, &src[*name], &pdq[*name]);
    }
    for r in recs.values() {
        let d = r["disposition"].as_str().unwrap();
        assert!(!d.starts_with("error"), "no failure records: {r}");
    }
    let image = &recs["blob.dd"];
    assert_eq!(image["disposition"], "container", "{image}");
    let s = summary(&recs, "blob.dd");
    assert_eq!(s["carved"], 5, "{s}");
    assert_eq!(s["scanned_bytes"], 4 << 20, "{s}");
    let candidates = s["candidates"].as_u64().unwrap();
    // The absurd BMP header is not even a candidate; the other three are rejected.
    assert!(candidates >= 5 + 3, "{s}");
    assert!(
        s["note"].as_str().unwrap().contains("all of it carved"),
        "{s}"
    );
    assert_eq!(s["rejected"].as_u64().unwrap(), candidates - 5, "{s}");

    // CSV, DFXML and CASE carry the flag.
    for (format, carved_says) in [
        ("csv", ",true,,,,"),
        ("dfxml", "<nm:carved>1</nm:carved>"),
        ("case", "\"nearmatch:carved\""),
    ] {
        let out = tmp.path().join(format!("r.{format}"));
        let a = nearmatch()
            .arg("scan")
            .arg(&raw)
            .args(["--carve", "--format", format, "-o"])
            .arg(&out)
            .assert();
        assert_eq!(a.get_output().status.code(), Some(0));
        let text = std::fs::read_to_string(&out).unwrap();
        if format == "csv" {
            // `carved` is the last column but four; `carve`, `exif_orientation` and the two
            // known-good columns are empty on a carved member.
            let head = text.lines().next().unwrap();
            assert!(
                head.ends_with(",carved,carve,exif_orientation,known_good_count,known_good"),
                "{head}"
            );
            let rows = text.lines().filter(|l| l.ends_with(carved_says)).count();
            assert_eq!(rows, 5, "{text}");
        } else {
            assert_eq!(text.matches(carved_says).count(), 5, "{format}: {text}");
        }
        if format == "dfxml" {
            assert_eq!(text.matches("<alloc>0</alloc>").count(), 5);
        }
    }

    // The same medium as an E01 gives the same carved records.
    let Some(ewf) = tool("ewfacquire") else {
        eprintln!("SKIPPED carving an E01: ewfacquire not installed");
        return;
    };
    let e01_dir = tmp.path().join("e01");
    std::fs::create_dir_all(&e01_dir).unwrap();
    run(Command::new(ewf)
        .args(["-u", "-q", "-t"])
        .arg(e01_dir.join("blob"))
        .args(["-c", "fast", "-f", "encase6", "-S", "2MiB"])
        .arg(&raw));
    let e01 = e01_dir.join("blob.E01");
    let (code, erecs) = scan(&e01, &["--carve"]);
    assert_eq!(code, Some(0));
    let egot = carved(&erecs);
    assert_eq!(egot.len(), got.len(), "{egot:?}");
    for (o, (p, r)) in &got {
        let (ep, er) = &egot[o];
        assert_eq!(
            ep,
            &p.replace("blob.dd!/", "blob.E01!/"),
            "E01 record of {p}"
        );
        for k in ["md5", "sha256", "size", "hashes", "type", "offset"] {
            assert_eq!(er[k], r[k], "{k} of {p}");
        }
    }
    assert_eq!(summary(&erecs, "blob.E01")["carved"], 5);
}

#[test]
fn carve_without_containers_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("x.dd");
    std::fs::write(&raw, noise(64 << 10, 1)).unwrap();
    let a = nearmatch()
        .arg("scan")
        .arg(&raw)
        .args(["--carve", "--containers", "none", "-o"])
        .arg(tmp.path().join("out.jsonl"))
        .assert();
    assert_eq!(a.get_output().status.code(), Some(64));
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("--carve") && err.contains("--containers none"),
        "{err}"
    );
}

/// Byte offset in a FAT volume of cluster `n`, from its boot sector.
fn fat_cluster(vol: &[u8], n: u64) -> u64 {
    let u16_at = |i: usize| u16::from_le_bytes([vol[i], vol[i + 1]]) as u64;
    let sector = u16_at(11);
    let per = vol[13] as u64;
    let fat = match u16_at(22) {
        0 => u32::from_le_bytes(vol[36..40].try_into().unwrap()) as u64,
        n => n,
    };
    let root = (u16_at(17) * 32).div_ceil(sector);
    let data = u16_at(14) + vol[16] as u64 * fat + root;
    (data + (n - 2) * per) * sector
}

/// Where `needle` starts in `hay` (each test file is found once).
fn find(hay: &[u8], needle: &[u8]) -> u64 {
    let at: Vec<usize> = hay
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(at.len(), 1, "found {} times", at.len());
    at[0] as u64
}

fn mtools(args: &[&str]) {
    run(Command::new(args[0])
        .args(&args[1..])
        .env("MTOOLS_SKIP_CHECK", "1"));
}

/// An MBR disk: a FAT16 partition holding files (one deleted), pictures written into its free
/// clusters (one a copy of an allocated file), a gap between the partitions holding a picture,
/// and a second partition with no file system holding one.
#[test]
fn fat_free_clusters_partition_gaps_and_unreadable_partitions_are_carved() {
    let Some(t) = tools("carve fat", &["mkfs.vfat", "mcopy", "mdel", "sfdisk"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = pictures();
    let src = write_all(&tmp.path().join("src"), &files);
    let pdq = loose_pdq(&tmp.path().join("src"));
    let bytes = |n: &str| files.iter().find(|f| f.0 == n).unwrap().1.clone();

    // The FAT16 volume: keep.jpg allocated, gone.png deleted by mdel.
    let vol = tmp.path().join("vol.img");
    std::fs::File::create(&vol)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    run(Command::new(&t[0]).args(["-F", "16", "-s", "2"]).arg(&vol));
    let v = vol.to_str().unwrap();
    mtools(&[
        "mcopy",
        "-i",
        v,
        src["a.jpg"].to_str().unwrap(),
        "::KEEP.JPG",
    ]);
    mtools(&[
        "mcopy",
        "-i",
        v,
        src["b.png"].to_str().unwrap(),
        "::GONE.PNG",
    ]);
    mtools(&["mdel", "-i", v, "::GONE.PNG"]);
    let mut fs = std::fs::read(&vol).unwrap();
    // Free clusters, far after what mcopy allocated (from cluster 2 on): 1 KiB clusters.
    let in_vol: BTreeMap<&str, u64> = [
        ("c.gif", fat_cluster(&fs, 1000)),
        ("d.bmp", fat_cluster(&fs, 1100)),
        ("copy", fat_cluster(&fs, 1200)),
    ]
    .into();
    fs[in_vol["c.gif"] as usize..][..files[2].1.len()].copy_from_slice(&files[2].1);
    fs[in_vol["d.bmp"] as usize..][..files[3].1.len()].copy_from_slice(&files[3].1);
    let a = bytes("a.jpg");
    fs[in_vol["copy"] as usize..][..a.len()].copy_from_slice(&a);
    let keep_in_vol = find(&fs[..in_vol["c.gif"] as usize], &a);
    let gone_in_vol = find(&fs, &bytes("b.png"));

    // The disk: p1 at 1 MiB (the volume), a gap, p2 at 12 MiB with no file system.
    let disk_dir = tmp.path().join("ev");
    std::fs::create_dir_all(&disk_dir).unwrap();
    let disk = disk_dir.join("disk.img");
    let mut img = vec![0u8; 16 << 20];
    img[1 << 20..(1 << 20) + fs.len()].copy_from_slice(&fs);
    let gap = (10 << 20) + 512;
    let webp = bytes("e.webp");
    img[gap..gap + webp.len()].copy_from_slice(&webp);
    let in_p2 = (13 << 20) + 4096;
    let p2_png = bytes("b.png");
    img[in_p2..in_p2 + p2_png.len()].copy_from_slice(&p2_png);
    std::fs::write(&disk, &img).unwrap();
    let mut child = Command::new(&t[3])
        .args(["-q"])
        .arg(&disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"label: dos\nstart=2048, size=16384, type=6\nstart=24576, size=8192, type=83\n")
        .unwrap();
    assert!(child.wait().unwrap().success());

    let (code, recs) = scan(&disk, &["--carve"]);
    assert_eq!(code, Some(0), "{recs:?}");
    let got = carved(&recs);
    let p1 = 1u64 << 20;
    let want: Vec<u64> = vec![
        p1 + gone_in_vol,
        p1 + in_vol["c.gif"],
        p1 + in_vol["d.bmp"],
        p1 + in_vol["copy"],
        gap as u64,
        in_p2 as u64,
    ];
    let mut sorted = want.clone();
    sorted.sort();
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), sorted, "{got:?}");
    assert!(
        !got.contains_key(&(p1 + keep_in_vol)),
        "an allocated file is not carved"
    );
    assert_carved(
        &got[&(p1 + in_vol["c.gif"])],
        "disk.img!/p1/",
        p1 + in_vol["c.gif"],
        &src["c.gif"],
        &pdq["c.gif"],
    );
    assert_carved(
        &got[&(p1 + in_vol["d.bmp"])],
        "disk.img!/p1/",
        p1 + in_vol["d.bmp"],
        &src["d.bmp"],
        &pdq["d.bmp"],
    );
    assert_carved(
        &got[&(gap as u64)],
        "disk.img!/",
        gap as u64,
        &src["e.webp"],
        &pdq["e.webp"],
    );
    assert_carved(
        &got[&(in_p2 as u64)],
        "disk.img!/p2/",
        in_p2 as u64,
        &src["b.png"],
        &pdq["b.png"],
    );
    // The copy of an allocated file, and the deleted file's clusters, are duplicates of the
    // records met first: the allocated file, the deleted file recovered from its entry.
    let copy = &got[&(p1 + in_vol["copy"])];
    assert_eq!(
        copy.0,
        format!("disk.img!/p1/$Carved/{}.jpg", p1 + in_vol["copy"])
    );
    assert_eq!(copy.1["md5"], md5sum(&src["a.jpg"]));
    let keep = recs.keys().find(|k| k.ends_with("KEEP.JPG")).unwrap();
    assert!(
        copy.1["duplicate_of"]
            .as_str()
            .unwrap()
            .ends_with("disk.img!/p1/KEEP.JPG"),
        "{} vs {keep}",
        copy.1
    );
    let gone = &got[&(p1 + gone_in_vol)].1;
    assert_eq!(gone["md5"], md5sum(&src["b.png"]));
    let deleted = recs
        .iter()
        .find(|(_, r)| r["deleted"] == true)
        .map(|(p, _)| p.clone())
        .unwrap();
    assert!(
        gone["duplicate_of"].as_str().unwrap().ends_with(&deleted),
        "{gone}"
    );
    // Each place says what carving met there.
    assert_eq!(summary(&recs, "disk.img!/p1")["carved"], 4);
    assert_eq!(summary(&recs, "disk.img!/p2")["carved"], 1);
    assert_eq!(summary(&recs, "disk.img")["carved"], 1);
    assert_eq!(
        summary(&recs, "disk.img")["scanned_bytes"],
        (16u64 << 20) - (8 << 20) - (4 << 20),
        "the image minus its partitions"
    );
    // p2 was carved whole: a container, not a failure.
    let p2 = &recs["disk.img!/p2"];
    assert_eq!(p2["disposition"], "container", "{p2}");
    assert!(summary(&recs, "disk.img!/p2")["note"]
        .as_str()
        .unwrap()
        .starts_with("no file system nearmatch reads"));
    // Without --carve: no carved records, the same files, and p2 unsupported (exit code 2).
    let (code, plain) = scan(&disk, &[]);
    assert_eq!(code, Some(2));
    assert_eq!(plain["disk.img!/p2"]["disposition"], "skipped:unsupported");
    assert!(carved(&plain).is_empty());
    let files_of = |r: &BTreeMap<String, Value>| {
        r.keys()
            .filter(|k| !k.contains("$Carved"))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(files_of(&plain), files_of(&recs));
}

/// ext4 by `mkfs.ext4 -d`: pictures written into blocks `debugfs` reports free (`ffb`), and an
/// allocated file that is not carved.
#[test]
fn ext4_free_blocks_are_carved() {
    let Some(t) = tools("carve ext4", &["mkfs.ext4", "debugfs"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = pictures();
    let src = write_all(&tmp.path().join("src"), &files);
    let pdq = loose_pdq(&tmp.path().join("src"));
    let root = tmp.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(&src["a.jpg"], root.join("keep.jpg")).unwrap();
    let dir = tmp.path().join("ev");
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("card.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    run(Command::new(&t[0])
        .args(["-q", "-F", "-b", "4096", "-E", "root_owner=0:0", "-d"])
        .arg(&root)
        .arg(&img));
    // Free blocks, by debugfs: the first free block at or after 1200.
    let ffb = run(Command::new(&t[1]).args(["-R", "ffb 1 1200"]).arg(&img));
    let block: u64 = ffb
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .next_back()
        .unwrap_or_else(|| panic!("debugfs ffb: {ffb}"));
    let mut bytes = std::fs::read(&img).unwrap();
    let keep = find(&bytes, &files[0].1);
    let at = [(block * 4096, "b.png"), ((block + 40) * 4096, "c.gif")];
    for (o, n) in at {
        let b = &files.iter().find(|f| f.0 == n).unwrap().1;
        bytes[o as usize..][..b.len()].copy_from_slice(b);
    }
    std::fs::write(&img, &bytes).unwrap();
    // debugfs agrees the blocks written are still free (the test wrote no metadata).
    let test = run(Command::new(&t[1])
        .args(["-R", &format!("testb {} 60", block)])
        .arg(&img));
    assert!(!test.contains("marked in use"), "{test}");

    let (code, recs) = scan(&img, &["--carve"]);
    assert_eq!(code, Some(0), "{recs:?}");
    let got = carved(&recs);
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        vec![at[0].0, at[1].0],
        "{got:?}"
    );
    assert!(!got.contains_key(&keep));
    for (o, n) in at {
        assert_carved(&got[&o], "card.img!/", o, &src[n], &pdq[n]);
    }
}

/// NTFS by `mkntfs` + `ntfscp`: pictures written into clusters `$Bitmap` leaves free (no file's
/// data runs reach them, by `ntfscluster`) are carved; a live file is not.
#[test]
fn ntfs_free_clusters_are_carved() {
    let Some(t) = tools("carve ntfs", &["mkntfs", "ntfscp", "ntfscluster"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = pictures();
    let src = write_all(&tmp.path().join("src"), &files);
    let pdq = loose_pdq(&tmp.path().join("src"));
    let dir = tmp.path().join("ev");
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("vol.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(16 << 20)
        .unwrap();
    run(Command::new(&t[0])
        .args(["-F", "-Q", "-q", "-c", "4096"])
        .arg(&img));
    run(Command::new(&t[1])
        .arg("-q")
        .arg(&img)
        .arg(&src["a.jpg"])
        .arg("keep.jpg"));
    let mut bytes = std::fs::read(&img).unwrap();
    let keep = find(&bytes, &files[0].1);
    let clusters = [(3000u64, "d.bmp"), (3100, "e.webp")];
    for (c, _) in clusters {
        let owners = run(Command::new(&t[2])
            .args(["-c", &format!("{c}-{}", c + 40)])
            .arg(&img));
        assert!(!owners.contains("Inode"), "cluster {c} in use: {owners}");
    }
    for (c, n) in clusters {
        let b = &files.iter().find(|f| f.0 == n).unwrap().1;
        bytes[(c * 4096) as usize..][..b.len()].copy_from_slice(b);
    }
    std::fs::write(&img, &bytes).unwrap();

    let (code, recs) = scan(&img, &["--carve"]);
    assert_eq!(code, Some(0), "{recs:?}");
    let got = carved(&recs);
    assert!(!got.contains_key(&keep), "{got:?}");
    assert_eq!(
        got.keys().copied().collect::<Vec<_>>(),
        vec![3000 * 4096, 3100 * 4096],
        "{got:?}"
    );
    for (c, n) in clusters {
        assert_carved(&got[&(c * 4096)], "vol.img!/", c * 4096, &src[n], &pdq[n]);
    }
}

/// exFAT by `mkfs.exfat`, a file written as the specification says (`fsck.exfat` checks the
/// image): pictures written into clusters the allocation bitmap shows free are carved, the
/// allocated file is not.
#[test]
fn exfat_clusters_free_in_the_allocation_bitmap_are_carved() {
    let Some(t) = tools("carve exfat", &["mkfs.exfat", "fsck.exfat"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let files = pictures();
    let src = write_all(&tmp.path().join("src"), &files);
    let pdq = loose_pdq(&tmp.path().join("src"));
    let dir = tmp.path().join("ev");
    std::fs::create_dir_all(&dir).unwrap();
    let img = dir.join("stick.img");
    std::fs::File::create(&img)
        .unwrap()
        .set_len(8 << 20)
        .unwrap();
    run(Command::new(&t[0]).arg(&img));
    let mut w = ExFatWriter::new(std::fs::read(&img).unwrap());
    let keep = &files[0].1;
    let first = w.store(keep, false);
    let root = w.root;
    w.entry(
        root,
        "keep.jpg",
        0x20,
        first,
        keep.len() as u64,
        keep.len() as u64,
        0x03,
    );
    // Clusters near the end of the heap, free in the bitmap.
    let place = [(w.count - 60, "b.png"), (w.count - 20, "c.gif")];
    for (c, n) in place {
        for k in c..c + 10 {
            let i = (k - 2) as usize;
            assert_eq!(
                w.img[w.bitmap + i / 8] & (1 << (i % 8)),
                0,
                "cluster {k} free"
            );
        }
        let b = &files.iter().find(|f| f.0 == n).unwrap().1;
        let at = w.at(c);
        w.img[at..at + b.len()].copy_from_slice(b);
    }
    std::fs::write(&img, &w.img).unwrap();
    let fsck = Command::new(&t[1]).arg("-n").arg(&img).output().unwrap();
    assert!(
        fsck.status.success(),
        "{}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    let keep_at = w.at(first) as u64;

    let (code, recs) = scan(&img, &["--carve"]);
    assert_eq!(code, Some(0), "{recs:?}");
    let got = carved(&recs);
    assert!(!got.contains_key(&keep_at), "{got:?}");
    let want: Vec<u64> = place.iter().map(|(c, _)| w.at(*c) as u64).collect();
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), want, "{got:?}");
    for (c, n) in place {
        let o = w.at(c) as u64;
        assert_carved(&got[&o], "stick.img!/", o, &src[n], &pdq[n]);
    }
    assert_eq!(summary(&recs, "stick.img")["carved"], 2);
}
