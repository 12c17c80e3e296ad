//! Writes the demo evidence tree and known lists (`fixtures/demo/`): benign synthetic images only.
//!
//! `cargo run -p nearmatch --example make_demo -- OUTDIR`
//!
//! Layout of `OUTDIR`:
//! - `known-pdq.csv` — `id,pdq,caid,category` of six "known" originals (hashed from their pixels);
//! - `known-md5.txt` — MD5 of two exact files planted in the evidence;
//! - `expected.csv` — what each evidence file is and the disposition a scan should give it;
//! - `evidence/` — re-encoded, resized, mirrored and exact copies of the known images, unrelated
//!   images and hard negatives, a text file, an image with a lying extension, a truncated JPEG,
//!   a nested folder and a hidden file.
//!
//! Rerunning reproduces the same bytes.

use std::path::{Path, PathBuf};

use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch::pixels::{Image, Layout};
use nearmatch::synth::{encode_jpeg, encode_png, generate, generate_variant, Scene};

const W: u32 = 256;
const H: u32 = 192;

fn rgb(img: &Image) -> Vec<u8> {
    img.to_rgb8()
}

fn from_rgb(w: u32, h: u32, data: Vec<u8>) -> Image {
    Image::new(w, h, Layout::Rgb8(data)).expect("buffer matches dimensions")
}

/// Box-filter downscale by an integer factor.
fn shrink(img: &Image, f: u32) -> Image {
    let (w, h) = (img.width() / f, img.height() / f);
    let src = rgb(img);
    let mut out = vec![0u8; (w * h * 3) as usize];
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                let mut s = 0u32;
                for dy in 0..f {
                    for dx in 0..f {
                        let i = (((y * f + dy) * img.width() + x * f + dx) * 3 + c) as usize;
                        s += u32::from(src[i]);
                    }
                }
                out[((y * w + x) * 3 + c) as usize] = (s / (f * f)) as u8;
            }
        }
    }
    from_rgb(w, h, out)
}

/// Left-right mirror.
fn mirror(img: &Image) -> Image {
    let (w, h) = (img.width(), img.height());
    let src = rgb(img);
    let mut out = vec![0u8; src.len()];
    for y in 0..h {
        for x in 0..w {
            let s = ((y * w + x) * 3) as usize;
            let d = ((y * w + (w - 1 - x)) * 3) as usize;
            out[d..d + 3].copy_from_slice(&src[s..s + 3]);
        }
    }
    from_rgb(w, h, out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: make_demo OUTDIR");
        std::process::exit(64);
    };
    std::fs::create_dir_all(&out)?;
    let ev = out.join("evidence");
    if ev.exists() {
        std::fs::remove_dir_all(&ev)?;
    }
    let opts = HashOptions::default();
    let known_scenes = [
        (Scene::Landscape, 11, "1", "landscape"),
        (Scene::Indoor, 12, "2", "indoor"),
        (Scene::Product, 13, "1", "product"),
        (Scene::DeadLeaves, 14, "3", "texture"),
        (Scene::Document, 15, "2", "document"),
        (Scene::Landscape, 16, "1", "landscape"),
    ];
    let known: Vec<Image> = known_scenes
        .iter()
        .map(|&(s, seed, ..)| generate(s, W, H, seed))
        .collect();
    let mut pdq_csv = String::from("id,pdq,caid,category\n");
    for (i, (img, (_, _, caid, cat))) in known.iter().zip(&known_scenes).enumerate() {
        let h = hash_image(img, &[Algorithm::Pdq], &opts);
        let hex = h.get(Algorithm::Pdq).expect("pdq computed");
        pdq_csv.push_str(&format!("K{:03},{hex},{caid},{cat}\n", i + 1));
    }
    std::fs::write(out.join("known-pdq.csv"), pdq_csv)?;

    let mut expected = String::from("path,disposition,why\n");
    let mut md5s = String::from("# MD5 of exact known files\n");
    let mut put = |rel: &str, bytes: &[u8], disp: &str, why: &str| -> std::io::Result<()> {
        let p = ev.join(rel);
        std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(&p, bytes)?;
        expected.push_str(&format!("{rel},{disp},{why}\n"));
        Ok(())
    };
    // Near copies of the known images.
    put(
        "photos/IMG_0001.jpg",
        &encode_jpeg(&known[0], 70),
        "matched",
        "K001 re-encoded JPEG q70",
    )?;
    put(
        "photos/IMG_0002.jpg",
        &encode_jpeg(&shrink(&known[1], 2), 85),
        "matched",
        "K002 resized to half",
    )?;
    put(
        "photos/IMG_0003.jpg",
        &encode_jpeg(&mirror(&known[2]), 90),
        "unmatched",
        "K003 mirrored: matched only with --dihedral",
    )?;
    let exact = encode_png(&known[3]);
    md5s.push_str(&format!("{}\n", hex_md5(&exact)));
    put(
        "photos/texture.png",
        &exact,
        "matched",
        "K004 exact PNG (MD5 list and PDQ)",
    )?;
    put(
        "downloads/backup/texture-copy.png",
        &exact,
        "matched",
        "duplicate of photos/texture.png",
    )?;
    put(
        "photos/scan.txt",
        &encode_jpeg(&known[4], 80),
        "matched",
        "K005 JPEG with a .txt extension",
    )?;
    put(
        "deep/a/b/c/IMG_0006.jpg",
        &encode_jpeg(&known[5], 60),
        "matched",
        "K006 in a nested folder",
    )?;
    put(
        ".cache/.thumb.jpg",
        &encode_jpeg(&shrink(&known[0], 4), 80),
        "matched",
        "K001 thumbnail in a hidden folder",
    )?;
    // Hard negatives: same seed, different foreground objects; unrelated images.
    put(
        "photos/IMG_0101.jpg",
        &encode_jpeg(&generate_variant(Scene::Indoor, W, H, 12, 3), 85),
        "unmatched",
        "variant of K002's scene",
    )?;
    let scenes = [
        Scene::Landscape,
        Scene::Indoor,
        Scene::Product,
        Scene::DeadLeaves,
        Scene::Document,
        Scene::Gradient,
        Scene::Noise,
    ];
    for i in 0..14u64 {
        let s = scenes[i as usize % scenes.len()];
        let img = generate(s, W, H, 1000 + i);
        let (name, bytes) = if i % 3 == 0 {
            (format!("misc/unrelated_{i:02}.png"), encode_png(&img))
        } else {
            (format!("misc/unrelated_{i:02}.jpg"), encode_jpeg(&img, 80))
        };
        let why = format!("unrelated {}", s.name());
        put(&name, &bytes, "unmatched", &why)?;
    }
    // Not images, broken images.
    put(
        "notes.txt",
        b"Case notes: synthetic demo evidence.\n",
        "not-image",
        "plain text",
    )?;
    let truncated = encode_jpeg(&generate(Scene::Product, W, H, 2000), 85);
    put(
        "photos/broken.jpg",
        &truncated[..truncated.len() / 3],
        "error:decode",
        "JPEG cut to a third",
    )?;
    let doc = b"%PDF-1.4\n% synthetic\n";
    put(
        "docs/report.jpg",
        doc,
        "not-image",
        "PDF named .jpg (extension mismatch)",
    )?;
    let notes_md5 = hex_md5(b"Case notes: synthetic demo evidence.\n");
    md5s.push_str(&format!("{notes_md5}\n"));
    // notes.txt is in the MD5 list: an exact match on a non-image.
    expected = expected.replace(
        "notes.txt,not-image,plain text",
        "notes.txt,matched,plain text in the MD5 list",
    );
    std::fs::write(out.join("known-md5.txt"), md5s)?;
    std::fs::write(out.join("expected.csv"), expected)?;
    eprintln!("wrote {}", out.display());
    Ok(())
}

fn hex_md5(bytes: &[u8]) -> String {
    nearmatch::hash::crypto::CryptoHashes::of(bytes).md5_hex()
}
