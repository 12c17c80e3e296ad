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
//!   hidden folder; archives, a PDF, an EXIF thumbnail and an animation with known images
//!   inside; and seized media (`seized/`): a raw memory-card image and an EWF (E01) drive image
//!   with FAT file systems holding known images. About 2 MB.
//!
//! The E01 is made from a raw image by `ewfacquire` (ewf-tools, installed by
//! `scripts/ensure-build-deps`), the independent tool examiners use; it stores the acquisition
//! date, so that one file differs between runs.
//!
//! Rerunning reproduces the same bytes (but for the E01's acquisition date).

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
        "error:corrupt",
        "a PDF's first line only, named .jpg (extension mismatch): no document to read",
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
    let pdf_photo = encode_jpeg(&known[3], 80);
    let pdf = pdf_with_jpeg(&pdf_photo, W, H);
    let export = zip_of(&[
        ("export/photos.tar", &tar),
        ("export/report.docx", &docx),
        ("export/readme.txt", b"synthetic export\n".as_slice()),
        ("export/scan.pdf", &pdf),
    ])?;
    put(
        "archives/export.zip",
        &export,
        "container",
        "ZIP export holding a TAR, a DOCX and a PDF",
    )?;
    // An edited photo whose EXIF thumbnail still shows the known original (K007): the main
    // image matches nothing, its thumbnail record does.
    let edited = encode_jpeg(&generate(Scene::Indoor, W, H, 2200), 85);
    let thumbnail = encode_jpeg(&resize(&known[6], 160, 120), 90);
    put(
        "photos/edited/IMG_3001.jpg",
        &with_exif_thumbnail(&edited, &thumbnail),
        "unmatched",
        "edited photo: the main image is another picture",
    )?;
    let members = String::from(
        "photos/edited/IMG_3001.jpg!/exif-thumbnail,matched,K007 left behind as the EXIF thumbnail\n",
    );
    // An animated GIF whose second frame is a known image (K006).
    let frames = [
        generate(Scene::Gradient, W, H, 2300),
        known[5].clone(),
        generate(Scene::Product, W, H, 2301),
    ];
    put(
        "chat/media/animation.gif",
        &animated_gif(&frames)?,
        "unmatched",
        "animated GIF: its first frame is unrelated",
    )?;
    for (n, disp, why) in [
        (1, "matched", "K006 shown as frame 1 of an animated GIF"),
        (2, "unmatched", "unrelated frame"),
    ] {
        expected.push_str(&format!(
            "chat/media/animation.gif!/frame/{n},{disp},{why}\n"
        ));
    }
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
        (
            "archives/export.zip!/export/scan.pdf",
            "container",
            "PDF in the ZIP",
        ),
        (
            "archives/export.zip!/export/scan.pdf!/object/4",
            "matched",
            "K004 as a JPEG image inside a PDF (its MD5 is the JPEG's)",
        ),
    ] {
        expected.push_str(&format!("{rel},{disp},{why}\n"));
    }
    expected.push_str(&members);
    expected.push_str(&seized_media(&ev, &known)?);
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

/// A one-page PDF whose page shows `jpeg` (embedded verbatim, `DCTDecode`) as object 4.
fn pdf_with_jpeg(jpeg: &[u8], w: u32, h: u32) -> Vec<u8> {
    let content = format!("q {w} 0 0 {h} 0 0 cm /Im1 Do Q\n");
    let stream = |dict: String, data: &[u8]| {
        [
            dict.as_bytes(),
            b"\nstream\n".as_slice(),
            data,
            b"\nendstream".as_slice(),
        ]
        .concat()
    };
    let objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] \
             /Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>"
        )
        .into_bytes(),
        stream(
            format!(
                "<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceRGB \
                 /BitsPerComponent 8 /Filter /DCTDecode /Length {} >>",
                jpeg.len()
            ),
            jpeg,
        ),
        stream(
            format!("<< /Length {} >>", content.len()),
            content.as_bytes(),
        ),
    ];
    let mut out = b"%PDF-1.4\n%synthetic\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for o in offsets {
        out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// `jpeg` with an EXIF block (APP1) whose IFD1 holds `thumb` as its JPEG thumbnail.
fn with_exif_thumbnail(jpeg: &[u8], thumb: &[u8]) -> Vec<u8> {
    // Little-endian TIFF: header, an empty IFD0 pointing to IFD1 at 14, IFD1 with the thumbnail's
    // offset and length, then the thumbnail (offsets count from the TIFF header).
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend_from_slice(&0u16.to_le_bytes());
    tiff.extend_from_slice(&14u32.to_le_bytes());
    tiff.extend_from_slice(&2u16.to_le_bytes());
    let at = 14 + 2 + 2 * 12 + 4;
    for (tag, value) in [(0x0201u16, at as u32), (0x0202, thumb.len() as u32)] {
        tiff.extend_from_slice(&tag.to_le_bytes());
        tiff.extend_from_slice(&4u16.to_le_bytes()); // LONG
        tiff.extend_from_slice(&1u32.to_le_bytes());
        tiff.extend_from_slice(&value.to_le_bytes());
    }
    tiff.extend_from_slice(&0u32.to_le_bytes());
    tiff.extend_from_slice(thumb);
    let len = u16::try_from(2 + 6 + tiff.len()).expect("thumbnail fits in one APP1 segment");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// An animated GIF of `frames` (a tenth of a second each, looping).
fn animated_gif(frames: &[Image]) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use image::codecs::gif::{GifEncoder, Repeat};
    let mut out = Vec::new();
    {
        let mut enc = GifEncoder::new_with_speed(&mut out, 10);
        enc.set_repeat(Repeat::Infinite)?;
        for f in frames {
            let rgba: Vec<u8> = rgb(f)
                .chunks_exact(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect();
            let buf = image::RgbaImage::from_raw(f.width(), f.height(), rgba).expect("sizes agree");
            let delay = image::Delay::from_numer_denom_ms(100, 1);
            enc.encode_frame(image::Frame::from_parts(buf, 0, 0, delay))?;
        }
    }
    Ok(out)
}

/// A fixed clock for the demo's FAT volumes, so rerunning writes the same bytes.
#[derive(Debug)]
struct DemoClock;

impl fatfs::TimeProvider for DemoClock {
    fn get_current_date(&self) -> fatfs::Date {
        fatfs::Date {
            year: 2024,
            month: 5,
            day: 17,
        }
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        fatfs::DateTime {
            date: self.get_current_date(),
            time: fatfs::Time {
                hour: 14,
                min: 32,
                sec: 6,
                millis: 0,
            },
        }
    }
}

/// A disk image: an MBR with one partition of `fat_type` starting at sector 63, holding `files`
/// (paths with `/`, folders created as needed).
fn fat_disk(
    fat_type: fatfs::FatType,
    sectors: u32,
    label: &[u8; 11],
    files: &[(&str, &[u8])],
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use std::io::Write;
    static CLOCK: DemoClock = DemoClock;
    const START: u32 = 63;
    let mut volume = std::io::Cursor::new(vec![0u8; sectors as usize * 512]);
    fatfs::format_volume(
        &mut volume,
        fatfs::FormatVolumeOptions::new()
            .fat_type(fat_type)
            .volume_id(0x2024_0517)
            .volume_label(*label),
    )?;
    {
        let fs =
            fatfs::FileSystem::new(&mut volume, fatfs::FsOptions::new().time_provider(&CLOCK))?;
        let root = fs.root_dir();
        for (path, bytes) in files {
            let parts: Vec<&str> = path.split('/').collect();
            let mut dir = root.clone();
            for d in &parts[..parts.len() - 1] {
                dir = dir.create_dir(d)?;
            }
            let mut f = dir.create_file(parts[parts.len() - 1])?;
            f.truncate()?;
            f.write_all(bytes)?;
        }
    }
    let volume = volume.into_inner();
    let mut disk = vec![0u8; START as usize * 512];
    let entry = &mut disk[446..462];
    entry[4] = match fat_type {
        fatfs::FatType::Fat12 => 0x01,
        fatfs::FatType::Fat16 => 0x06,
        fatfs::FatType::Fat32 => 0x0c,
    };
    entry[8..12].copy_from_slice(&START.to_le_bytes());
    entry[12..16].copy_from_slice(&sectors.to_le_bytes());
    disk[510] = 0x55;
    disk[511] = 0xaa;
    disk.extend_from_slice(&volume);
    Ok(disk)
}

/// Writes `seized/`: a memory card as a raw image and a drive as an E01, both FAT, with known
/// images among unrelated ones; returns their lines of `expected.csv`.
fn seized_media(ev: &Path, known: &[Image]) -> Result<String, Box<dyn std::error::Error>> {
    let dir = ev.join("seized");
    std::fs::create_dir_all(&dir)?;
    let mut expected = String::new();
    let mut row = |rel: &str, disp: &str, why: &str| {
        expected.push_str(&format!("seized/{rel},{disp},{why}\n"));
    };
    // The card: a camera folder with a known image re-encoded and two unrelated photos.
    let card_known = encode_jpeg(&known[7], 72);
    let other1 = encode_jpeg(&generate(Scene::Landscape, W, H, 2400), 85);
    let other2 = encode_jpeg(&generate(Scene::Product, W, H, 2401), 85);
    let card = fat_disk(
        fatfs::FatType::Fat12,
        2048,
        b"CARD       ",
        &[
            ("DCIM/100CANON/IMG_0412.JPG", &card_known),
            ("DCIM/100CANON/IMG_0413.JPG", &other1),
            ("DCIM/100CANON/IMG_0414.JPG", &other2),
        ],
    )?;
    std::fs::write(dir.join("sdcard.dd"), &card)?;
    row("sdcard.dd", "container", "raw image of a memory card (MBR)");
    row(
        "sdcard.dd!/p1",
        "container",
        "its FAT12 partition at sector 63",
    );
    row(
        "sdcard.dd!/p1/DCIM/100CANON/IMG_0412.JPG",
        "matched",
        "K008 re-encoded, on the card",
    );
    row(
        "sdcard.dd!/p1/DCIM/100CANON/IMG_0413.JPG",
        "unmatched",
        "unrelated photo on the card",
    );
    row(
        "sdcard.dd!/p1/DCIM/100CANON/IMG_0414.JPG",
        "unmatched",
        "unrelated photo on the card",
    );
    // The drive: a user's pictures with a known image under a long name, a ZIP holding another
    // known image, and a text file; acquired into an E01 by ewfacquire.
    let drive_known = encode_jpeg(&resize(&known[1], W * 3 / 4, H * 3 / 4), 80);
    let zipped = encode_jpeg(&known[0], 65);
    let archive = zip_of(&[("saved/pic.jpg", &zipped)])?;
    let drive = fat_disk(
        fatfs::FatType::Fat16,
        8192,
        b"LAPTOP     ",
        &[
            ("Users/alex/Pictures/scan of letter.jpg", &drive_known),
            (
                "Users/alex/Pictures/beach.jpg",
                &encode_jpeg(&generate(Scene::Landscape, W, H, 2402), 85),
            ),
            ("Users/alex/Downloads/backup.zip", &archive),
            (
                "Users/alex/Documents/todo.txt",
                b"buy milk\nrenew passport\n",
            ),
        ],
    )?;
    let work = tempdir_in(ev)?;
    let raw = work.join("drive.raw");
    std::fs::write(&raw, &drive)?;
    let target = dir.join("laptop");
    let _ = std::fs::remove_file(target.with_extension("E01"));
    let status = std::process::Command::new("ewfacquire")
        .args(["-u", "-q", "-c", "best", "-f", "encase6", "-d", "sha1"])
        .args([
            "-C",
            "DEMO-2024-017",
            "-D",
            "synthetic laptop drive",
            "-E",
            "EV-02",
        ])
        .args([
            "-e",
            "Demo Examiner",
            "-N",
            "synthetic demo evidence, benign images only",
        ])
        .arg("-t")
        .arg(&target)
        .arg(&raw)
        .stdout(std::process::Stdio::null())
        .status()
        .map_err(|e| format!("ewfacquire: {e} (scripts/ensure-build-deps installs ewf-tools)"))?;
    std::fs::remove_dir_all(&work)?;
    if !status.success() {
        return Err(format!("ewfacquire failed: {status}").into());
    }
    row("laptop.E01", "container", "EWF image of a drive (MBR)");
    row(
        "laptop.E01!/p1",
        "container",
        "its FAT16 partition at sector 63",
    );
    row(
        "laptop.E01!/p1/Users/alex/Pictures/scan of letter.jpg",
        "matched",
        "K002 resized to 3/4, on a drive in an E01 (long file name)",
    );
    row(
        "laptop.E01!/p1/Users/alex/Pictures/beach.jpg",
        "unmatched",
        "unrelated photo on the drive",
    );
    row(
        "laptop.E01!/p1/Users/alex/Downloads/backup.zip",
        "container",
        "ZIP on the drive",
    );
    row(
        "laptop.E01!/p1/Users/alex/Downloads/backup.zip!/saved/pic.jpg",
        "matched",
        "K001 re-encoded, in a ZIP on a FAT volume in an E01",
    );
    row(
        "laptop.E01!/p1/Users/alex/Documents/todo.txt",
        "not-image",
        "text on the drive",
    );
    Ok(expected)
}

/// A fresh scratch folder beside (not inside) the evidence tree.
fn tempdir_in(ev: &Path) -> std::io::Result<PathBuf> {
    let d = ev
        .parent()
        .unwrap_or(Path::new("."))
        .join(format!(".make_demo-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

fn hex_md5(bytes: &[u8]) -> String {
    nearmatch::hash::crypto::CryptoHashes::of(bytes).md5_hex()
}
