//! Writes the demo evidence tree and known lists (`fixtures/demo/`): benign synthetic images only.
//!
//! `cargo run -p nearmatch --example make_demo -- OUTDIR`
//!
//! Layout of `OUTDIR`:
//! - `known-pdq.csv` — `id,pdq,caid,category` of eight "known" originals (hashed from their
//!   pixels; the originals themselves are not in the evidence);
//! - `known-md5.txt` — MD5 of two exact files planted in the evidence;
//! - `expected.csv` — what each evidence file is and the disposition a default scan should give
//!   it (`why` says "--dihedral" where only a dihedral scan matches, and "--probe none" where
//!   only the default border-trimming probes match);
//! - `evidence/` — a few hundred small files in nested folders: re-encoded, resized, renamed and
//!   flipped, framed and letterboxed copies of every known image, exact copies, unrelated images and a hard negative,
//!   text and other non-image files, an image with a lying extension, corrupt JPEGs and a
//!   hidden folder. About 2 MB.
//!
//! Rerunning reproduces the same bytes.

use std::path::{Path, PathBuf};

use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::Algorithm;
use nearmatch::pixels::{Image, Layout};
use nearmatch_synth::{encode_jpeg, encode_png, generate, generate_variant, Scene};

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

/// Bilinear resize to `w` x `h` (pixel centres aligned).
fn resize(img: &Image, w: u32, h: u32) -> Image {
    let (sw, sh) = (img.width() as usize, img.height() as usize);
    let src = rgb(img);
    let mut out = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        let fy =
            ((f64::from(y) + 0.5) * sh as f64 / f64::from(h) - 0.5).clamp(0.0, (sh - 1) as f64);
        let (y0, ty) = (fy.floor() as usize, fy.fract());
        let y1 = (y0 + 1).min(sh - 1);
        for x in 0..w {
            let fx =
                ((f64::from(x) + 0.5) * sw as f64 / f64::from(w) - 0.5).clamp(0.0, (sw - 1) as f64);
            let (x0, tx) = (fx.floor() as usize, fx.fract());
            let x1 = (x0 + 1).min(sw - 1);
            for c in 0..3 {
                let p = |x: usize, y: usize| f64::from(src[(y * sw + x) * 3 + c]);
                let top = p(x0, y0) * (1.0 - tx) + p(x1, y0) * tx;
                let bot = p(x0, y1) * (1.0 - tx) + p(x1, y1) * tx;
                out.push((top * (1.0 - ty) + bot * ty).round() as u8);
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

/// `img` on a canvas of one colour with margins (left, top, right, bottom).
fn frame(img: &Image, [l, t, r, b]: [u32; 4], colour: [u8; 3]) -> Image {
    let (w, h) = (img.width(), img.height());
    let cw = w + l + r;
    let src = rgb(img);
    let mut out = colour.repeat((cw * (h + t + b)) as usize);
    for y in 0..h {
        let (s, d) = ((y * w * 3) as usize, (((y + t) * cw + l) * 3) as usize);
        out[d..d + (w * 3) as usize].copy_from_slice(&src[s..s + (w * 3) as usize]);
    }
    from_rgb(cw, h + t + b, out)
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
        (Scene::Indoor, 17, "3", "indoor"),
        (Scene::Product, 18, "2", "product"),
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
    // Every known image: re-encoded, resized to half, renamed (same bytes as the re-encode, so
    // also a duplicate) and flipped left-right (matched only with --dihedral).
    for (i, img) in known.iter().enumerate() {
        let k = i + 1;
        let id = format!("K{k:03}");
        let reenc = encode_jpeg(img, 70);
        put(
            &format!("photos/2024-{:02}/IMG_{:04}.jpg", k, 100 + k),
            &reenc,
            "matched",
            &format!("{id} re-encoded JPEG q70"),
        )?;
        put(
            &format!("photos/resized/small_{k:02}.jpg"),
            &encode_jpeg(&resize(img, W * 3 / 4, H * 3 / 4), 85),
            "matched",
            &format!("{id} resized to 3/4"),
        )?;
        put(
            &format!("chat/media/received_{:04}.jpeg", 7000 + k),
            &reenc,
            "matched",
            &format!("{id} renamed copy (duplicate of the re-encode)"),
        )?;
        put(
            &format!("photos/edited/flipped_{k:02}.jpg"),
            &encode_jpeg(&mirror(img), 85),
            "unmatched",
            // The DCT-derived dihedral hashes put the flipped K005 and K006 at 46 and 38 bits
            // (past 31); the dihedral probes of issue #9 hash the re-oriented pixels and match
            // every flipped copy.
            &format!("{id} flipped left-right: matched only with --dihedral"),
        )?;
    }
    // Bordered copies (added with the probes of issue #9; no older file changes its bytes): a
    // white frame of 1/8 of each side, and a letterbox into a square with black bars. Plain PDQ
    // misses both; the default trim probe peels the uniform borders.
    for (i, img) in known.iter().enumerate() {
        let k = i + 1;
        let id = format!("K{k:03}");
        put(
            &format!("photos/edited/framed_{k:02}.jpg"),
            &encode_jpeg(
                &frame(img, [W / 8, H / 8, W / 8, H / 8], [255, 255, 255]),
                85,
            ),
            // K005 is a document with white margins, which a white frame merges with: the
            // first flat-pad round of the trim still finds the page (6 bits from its hash).
            "matched",
            &format!("{id} in a white frame: matched by the trim probes, not with --probe none"),
        )?;
        put(
            &format!("chat/media/square_{k:02}.jpg"),
            &encode_jpeg(&frame(img, [0, (W - H) / 2, 0, (W - H) / 2], [0, 0, 0]), 85),
            "matched",
            &format!(
                "{id} letterboxed to a square: matched by the trim probes, not with --probe none"
            ),
        )?;
    }
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
        &encode_jpeg(&shrink(&known[0], 2), 80),
        "matched",
        "K001 thumbnail in a hidden folder",
    )?;
    // Hard negative: same seed as K002, different foreground objects.
    put(
        "photos/IMG_0101.jpg",
        &encode_jpeg(&generate_variant(Scene::Indoor, W, H, 12, 3), 85),
        "unmatched",
        "variant of K002's scene",
    )?;
    // Unrelated images of every scene and a few sizes, spread over nested folders.
    let scenes = [
        Scene::Landscape,
        Scene::Indoor,
        Scene::Product,
        Scene::DeadLeaves,
        Scene::Document,
        Scene::Gradient,
        Scene::Noise,
    ];
    let sizes = [(96, 72), (112, 84), (128, 96), (144, 108), (90, 120)];
    for i in 0..320u64 {
        let s = scenes[i as usize % scenes.len()];
        let (w, h) = sizes[(i / 7) as usize % sizes.len()];
        let img = generate(s, w, h, 1000 + i);
        let (name, bytes) = if i % 16 == 0 {
            (format!("misc/unrelated_{i:03}.png"), encode_png(&img))
        } else if i < 240 {
            let month = i % 12 + 1;
            (
                format!("camera/2023/{month:02}/DSC_{:05}.jpg", 20000 + i),
                encode_jpeg(&img, 85),
            )
        } else {
            (
                format!("downloads/wallpapers/set_{}/img_{i:03}.jpg", i % 4),
                encode_jpeg(&img, 85),
            )
        };
        let why = format!("unrelated {} {w}x{h}", s.name());
        put(&name, &bytes, "unmatched", &why)?;
    }
    // Not images.
    put(
        "notes.txt",
        b"Case notes: synthetic demo evidence.\n",
        "not-image",
        "plain text",
    )?;
    for i in 0..12 {
        let text = format!(
            "Meeting notes {i}\nAction items:\n- review item {}\n- follow up on {}\n",
            i * 7 % 5,
            i * 3 % 11
        );
        put(
            &format!("docs/notes/note_{i:02}.txt"),
            text.as_bytes(),
            "not-image",
            "plain text",
        )?;
    }
    put(
        "docs/inventory.csv",
        b"item,count\nboxes,3\ncables,12\n",
        "not-image",
        "CSV text",
    )?;
    put(
        "docs/report.jpg",
        b"%PDF-1.4\n% synthetic\n",
        "not-image",
        "PDF named .jpg (extension mismatch)",
    )?;
    put(
        "docs/page.html",
        b"<!DOCTYPE html><html><body><p>synthetic</p></body></html>\n",
        "not-image",
        "HTML page",
    )?;
    // Corrupt JPEGs.
    let truncated = encode_jpeg(&generate(Scene::Product, W, H, 2000), 85);
    put(
        "photos/broken.jpg",
        &truncated[..truncated.len() / 3],
        "error:decode",
        "JPEG cut to a third",
    )?;
    let stub = encode_jpeg(&generate(Scene::Landscape, W, H, 2001), 85);
    put(
        "camera/2023/07/DSC_CORRUPT.jpg",
        &stub[..200],
        "error:decode",
        "JPEG cut after its first 200 bytes",
    )?;
    // Containers (issue #17; added after every older file, which keeps its bytes): a ZIP export
    // holding a TAR of photos and a DOCX whose embedded picture is a known image.
    let tar_photo = encode_jpeg(&known[1], 75);
    let docx_photo = encode_jpeg(&known[2], 80);
    let mut tar = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("IMG_2002.jpg", tar_photo.as_slice()),
        (
            "IMG_2003.jpg",
            &encode_jpeg(&generate(Scene::Gradient, W, H, 2100), 85),
        ),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        tar.append_data(&mut h, name, bytes)?;
    }
    let tar = tar.into_inner()?;
    let docx = zip_of(&[
        ("[Content_Types].xml", b"<Types/>".as_slice()),
        (
            "word/document.xml",
            b"<w:document>synthetic</w:document>".as_slice(),
        ),
        ("word/media/image1.jpeg", &docx_photo),
    ])?;
    let export = zip_of(&[
        ("export/photos.tar", &tar),
        ("export/report.docx", &docx),
        ("export/readme.txt", b"synthetic export\n".as_slice()),
    ])?;
    put(
        "archives/export.zip",
        &export,
        "container",
        "ZIP export holding a TAR and a DOCX",
    )?;
    for (rel, disp, why) in [
        (
            "archives/export.zip!/export/photos.tar",
            "container",
            "TAR inside the ZIP",
        ),
        (
            "archives/export.zip!/export/photos.tar!/IMG_2002.jpg",
            "matched",
            "K002 re-encoded, inside a TAR inside a ZIP",
        ),
        (
            "archives/export.zip!/export/photos.tar!/IMG_2003.jpg",
            "unmatched",
            "unrelated photo in the TAR",
        ),
        (
            "archives/export.zip!/export/report.docx",
            "container",
            "Word document (a ZIP)",
        ),
        (
            "archives/export.zip!/export/report.docx!/[Content_Types].xml",
            "not-image",
            "DOCX part",
        ),
        (
            "archives/export.zip!/export/report.docx!/word/document.xml",
            "not-image",
            "DOCX part",
        ),
        (
            "archives/export.zip!/export/report.docx!/word/media/image1.jpeg",
            "matched",
            "K003 embedded in a Word document",
        ),
        (
            "archives/export.zip!/export/readme.txt",
            "not-image",
            "text in the ZIP",
        ),
    ] {
        expected.push_str(&format!("{rel},{disp},{why}\n"));
    }
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

/// A stored (uncompressed) ZIP of `members`, in order.
fn zip_of(members: &[(&str, &[u8])]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use std::io::Write as _;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .last_modified_time(zip::DateTime::default());
    for (name, bytes) in members {
        z.start_file(*name, opts)?;
        z.write_all(bytes)?;
    }
    Ok(z.finish()?.into_inner())
}

fn hex_md5(bytes: &[u8]) -> String {
    nearmatch::hash::crypto::CryptoHashes::of(bytes).md5_hex()
}
