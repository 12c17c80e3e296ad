//! Decoding tests. The reference is Pillow: `testdata/expected.tsv` holds the SHA-256 of the
//! pixels Pillow 13 decodes from each fixture (made by `testdata/make_fixtures.py`), and the
//! synthetic cases below know their pixels by construction.

use super::*;
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/decode/testdata")
}

struct Expected {
    file: String,
    mode: String,
    width: u32,
    height: u32,
    layout: String,
    sha256: String,
}

fn expected() -> Vec<Expected> {
    let text = std::fs::read_to_string(testdata().join("expected.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Expected {
                file: f[0].into(),
                mode: f[1].into(),
                width: f[2].parse().unwrap(),
                height: f[3].parse().unwrap(),
                layout: f[4].into(),
                sha256: f[5].into(),
            }
        })
        .collect()
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Our pixels in the fixture's layout. A grey expectation may be met by RGB with equal channels
/// (a 1-bit BMP has a two-colour palette: Pillow calls it mode "1", `image` expands it to RGB),
/// which hashes identically.
fn pixels_as(img: &Image, layout: &str) -> Vec<u8> {
    match (layout, img.layout()) {
        ("gray16", Layout::Gray16(v)) => v.iter().flat_map(|s| s.to_le_bytes()).collect(),
        ("gray8", Layout::Gray8(v)) => v.clone(),
        ("gray8", Layout::Rgb8(v)) => {
            assert!(
                v.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]),
                "RGB for a grey image is not grey"
            );
            v.iter().step_by(3).copied().collect()
        }
        ("rgb8", Layout::Gray16(_)) => panic!("16-bit grey where Pillow gives RGB"),
        ("rgb8", _) => img.to_rgb8(),
        (want, got) => panic!("expected {want}, got {:?}", std::mem::discriminant(got)),
    }
}

fn format_of_name(name: &str) -> Format {
    match name.rsplit('.').next().unwrap() {
        "png" => Format::Png,
        "gif" => Format::Gif,
        "bmp" => Format::Bmp,
        "tif" => Format::Tiff,
        "webp" => Format::WebP,
        "jpg" => Format::Jpeg,
        other => panic!("{other}"),
    }
}

#[test]
fn fixtures_match_pillow_pixels() {
    let all = expected();
    assert!(all.len() >= 25, "fixture manifest incomplete");
    let mut failures = vec![];
    for e in &all {
        let bytes = std::fs::read(testdata().join(&e.file)).unwrap();
        let d =
            decode(&bytes, &Limits::default()).unwrap_or_else(|err| panic!("{}: {err}", e.file));
        assert_eq!(d.format, format_of_name(&e.file), "{}", e.file);
        assert_eq!(
            (d.image.width(), d.image.height()),
            (e.width, e.height),
            "{}",
            e.file
        );
        let px = pixels_as(&d.image, &e.layout);
        let jpeg_fallback = d.format == Format::Jpeg && !cfg!(feature = "turbojpeg");
        if jpeg_fallback {
            // The pure-Rust decoder is close to libjpeg-turbo, not identical.
            let want = std::fs::read(testdata().join(format!("{}.pixels", e.file))).unwrap();
            let max = px
                .iter()
                .zip(&want)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(max <= 8, "{}: max diff {max}", e.file);
        } else if sha(&px) != e.sha256 {
            failures.push(format!("{} (Pillow mode {})", e.file, e.mode));
        }
    }
    assert!(
        failures.is_empty(),
        "pixels differ from Pillow's: {failures:?}"
    );
}

#[cfg(feature = "turbojpeg")]
#[test]
fn pure_rust_jpeg_fallback_is_close_to_libjpeg_turbo() {
    for e in expected().iter().filter(|e| e.file.ends_with(".jpg")) {
        let bytes = std::fs::read(testdata().join(&e.file)).unwrap();
        let img = jpeg::decode_pure(&bytes, 1, &Limits::default()).unwrap();
        let px = pixels_as(&img, &e.layout);
        let want = std::fs::read(testdata().join(format!("{}.pixels", e.file))).unwrap();
        assert_eq!(px.len(), want.len(), "{}", e.file);
        let max = px
            .iter()
            .zip(&want)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap();
        assert!(max <= 8, "{}: max diff {max}", e.file);
    }
}

#[test]
fn sniff_uses_magic_bytes() {
    for e in expected() {
        let bytes = std::fs::read(testdata().join(&e.file)).unwrap();
        assert_eq!(sniff(&bytes), Some(format_of_name(&e.file)), "{}", e.file);
        assert_eq!(describe(&bytes), Some(format_of_name(&e.file).name()));
        let (f, w, h) = probe(&bytes).unwrap();
        assert_eq!((f, w, h), (format_of_name(&e.file), e.width, e.height));
    }
    assert_eq!(sniff(b""), None);
    assert_eq!(sniff(b"BMW is a car brand, not a bitmap"), None);
    assert_eq!(sniff(&[0xFF, 0xD8]), None);
}

#[test]
fn describe_names_common_non_images() {
    assert_eq!(describe(b"%PDF-1.7\n%\xe2\xe3"), Some("pdf"));
    assert!(describe(b"PK\x03\x04\x14\0\0\0")
        .unwrap()
        .starts_with("zip"));
    assert_eq!(describe(b"hello, this is a note\n"), Some("text"));
    assert_eq!(describe("caf\u{e9} na\u{ef}ve".as_bytes()), Some("text"));
    assert_eq!(describe(b"<!DOCTYPE html><html></html>"), Some("html"));
    assert_eq!(
        describe(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
        Some("svg image (unsupported)")
    );
    assert_eq!(describe(b"\0\0\0\x18ftypheic\0\0\0\0"), Some("heif"));
    assert_eq!(
        sniff(b"\0\0\0\x1cftypmif1\0\0\0\0mif1heic\0\0\0\0"),
        Some(Format::Heif)
    );
    assert_eq!(
        describe(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"),
        Some("mp4/quicktime media")
    );
    assert_eq!(describe(b""), Some("empty file"));
    assert_eq!(describe(&[0u8, 1, 2, 3, 200, 201, 0, 7]), None);
}

#[test]
fn not_an_image_is_reported_with_what_it_looks_like() {
    // A text file named photo.jpg: the name plays no part.
    match decode(b"just some text saved as photo.jpg\n", &Limits::default()) {
        Err(Error::NotAnImage(Some(k))) => assert_eq!(k, "text"),
        other => panic!("{other:?}"),
    }
    match decode(b"", &Limits::default()) {
        Err(Error::NotAnImage(Some(k))) => assert_eq!(k, "empty file"),
        other => panic!("{other:?}"),
    }
    let err = decode(b"%PDF-1.4 ...", &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a supported image format (looks like pdf)"
    );
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(testdata().join(name)).unwrap()
}

fn assert_decode_error(bytes: &[u8], format: &str) {
    match decode(bytes, &Limits::default()) {
        Err(Error::Decode { format: f, reason }) => {
            assert_eq!(f, format);
            assert!(!reason.is_empty());
        }
        other => panic!("expected a {format} decode error, got {other:?}"),
    }
}

#[test]
fn truncated_files_are_decode_errors() {
    for name in [
        "rgb420.jpg",
        "rgb444_prog.jpg",
        "l.jpg",
        "rgb.png",
        "anim.gif",
        "rgb_lzw.tif",
        "rgb_lossless.webp",
        "rgb.bmp",
    ] {
        let b = fixture(name);
        let format = format_of_name(name).name();
        for cut in [b.len() * 2 / 3, b.len() / 3, 20] {
            if name == "anim.gif" && cut == b.len() * 2 / 3 {
                // The cut is in the second frame: the first one is whole, and Pillow decodes it
                // too (checked: Pillow 13 loads this cut, fails on the one at 1/3).
                let whole = decode(&b, &Limits::default()).unwrap();
                assert_eq!(decode(&b[..cut], &Limits::default()).unwrap(), whole);
                continue;
            }
            assert_decode_error(&b[..cut], format);
        }
    }
    // Only the magic bytes.
    assert_decode_error(&[0xFF, 0xD8, 0xFF], "jpeg");
    assert_decode_error(b"\x89PNG\r\n\x1a\n", "png");
}

#[test]
fn garbage_inside_a_jpeg_is_an_error_or_an_image_never_a_panic() {
    let b = fixture("rgb420.jpg");
    // Overwrite stretches of entropy-coded data and header bytes with deterministic junk.
    let mut state = 0x2545F491u32;
    for i in 0..60 {
        let mut m = b.clone();
        for _ in 0..(1 + i % 5) {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let at = 2 + (state as usize) % (m.len() - 2);
            m[at] = (state >> 24) as u8;
        }
        let _ = decode(&m, &Limits::default());
    }
}

#[test]
fn jpeg_warnings_do_not_fail_like_in_pillow() {
    // Junk between the last scan and EOI: libjpeg warns "extraneous bytes before marker 0xd9";
    // Pillow decodes the image anyway, and so must we, with the same pixels.
    let b = fixture("rgb420.jpg");
    assert_eq!(&b[b.len() - 2..], &[0xFF, 0xD9]);
    let mut m = b[..b.len() - 2].to_vec();
    m.extend_from_slice(&[0x12, 0x34, 0x56, 0xFF, 0xD9]);
    let d = decode(&m, &Limits::default()).unwrap();
    let clean = decode(&b, &Limits::default()).unwrap();
    assert_eq!(d.image, clean.image);
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header claims `w x h` grey pixels, followed by a tiny IDAT.
fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |ty: &[u8], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut td = ty.to_vec();
        td.extend_from_slice(data);
        out.extend_from_slice(&td);
        out.extend_from_slice(&crc32(&td).to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    out
}

/// A baseline JPEG header (SOF0, SOS) claiming `w x h`, with no entropy-coded data.
fn jpeg_header_only(w: u16, h: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    // DQT: one table of ones.
    out.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    out.extend_from_slice(&[1u8; 64]);
    // SOF0: 8-bit, h, w, 1 component (id 1, 1x1 sampling, table 0).
    out.extend_from_slice(&[0xFF, 0xC0, 0x00, 0x0B, 0x08]);
    out.extend_from_slice(&h.to_be_bytes());
    out.extend_from_slice(&w.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x01, 0x11, 0x00]);
    // SOS (libjpeg reads the header up to the first scan), then EOI without any data.
    out.extend_from_slice(&[0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

#[test]
fn decompression_bombs_are_refused_from_the_header() {
    let bomb = png_header_only(100_000, 100_000);
    assert_eq!(probe(&bomb).unwrap(), (Format::Png, 100_000, 100_000));
    match decode(&bomb, &Limits::default()) {
        Err(Error::LimitExceeded(msg)) => assert!(msg.contains("100000x100000"), "{msg}"),
        other => panic!("{other:?}"),
    }
    let jbomb = jpeg_header_only(65_000, 65_000);
    assert_eq!(probe(&jbomb).unwrap(), (Format::Jpeg, 65_000, 65_000));
    match decode(&jbomb, &Limits::default()) {
        Err(Error::LimitExceeded(msg)) => assert!(msg.contains("65000x65000"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // A 100 MP photo's header passes the default limits (it then fails only for lack of data).
    let photo = jpeg_header_only(11_648, 8_736);
    assert!(Limits::default().check(11_648, 8_736).is_ok());
    assert!(!matches!(
        decode(&photo, &Limits::default()),
        Err(Error::LimitExceeded(_))
    ));
    // Tight custom limits apply to real files too.
    let small = Limits {
        max_pixels: 100,
        ..Limits::default()
    };
    assert!(matches!(
        decode(&fixture("rgb.png"), &small),
        Err(Error::LimitExceeded(_))
    ));
    assert!(matches!(
        decode(&fixture("rgb420.jpg"), &small),
        Err(Error::LimitExceeded(_))
    ));
}

#[test]
fn decoder_panics_become_decode_errors() {
    let r: Result<()> = guarded(Format::Gif, || panic!("index out of bounds: boom"));
    match r {
        Err(Error::Decode { format, reason }) => {
            assert_eq!(format, "gif");
            assert!(reason.contains("boom"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Encodes with the `image` crate: an independent writer whose input pixels we know.
fn encode(img: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn pattern(w: u32, h: u32, channels: usize) -> Vec<u8> {
    (0..w * h)
        .flat_map(|i| {
            (0..channels).map(move |c| ((i * 37 + c as u32 * 91 + i / w * 13) % 256) as u8)
        })
        .collect()
}

#[test]
fn synthetic_layouts_by_construction() {
    let (w, h) = (19, 11);
    let rgba = pattern(w, h, 4);
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let grey: Vec<u8> = rgba.iter().step_by(4).copied().collect();
    let g16: Vec<u16> = (0..w * h).map(|i| (i * 301 % 65536) as u16).collect();
    let rgb16: Vec<u16> = rgb
        .iter()
        .enumerate()
        .map(|(i, &v)| v as u16 * 256 + (i % 251) as u16)
        .collect();

    let rgba_img =
        DynamicImage::ImageRgba8(image::RgbaImage::from_raw(w, h, rgba.clone()).unwrap());
    let rgb_img = DynamicImage::ImageRgb8(image::RgbImage::from_raw(w, h, rgb.clone()).unwrap());
    let la_img = DynamicImage::ImageLumaA8(
        image::GrayAlphaImage::from_raw(w, h, grey.iter().flat_map(|&g| [g, 255 - g]).collect())
            .unwrap(),
    );
    let g16_img =
        DynamicImage::ImageLuma16(image::ImageBuffer::from_raw(w, h, g16.clone()).unwrap());
    let rgb16_img =
        DynamicImage::ImageRgb16(image::ImageBuffer::from_raw(w, h, rgb16.clone()).unwrap());

    let cases: Vec<(DynamicImage, ImageFormat, Layout)> = vec![
        (
            rgba_img.clone(),
            ImageFormat::Png,
            Layout::Rgb8(rgb.clone()),
        ),
        (rgb_img.clone(), ImageFormat::Png, Layout::Rgb8(rgb.clone())),
        (la_img, ImageFormat::Png, Layout::Gray8(grey.clone())),
        (
            g16_img.clone(),
            ImageFormat::Png,
            Layout::Gray16(g16.clone()),
        ),
        (g16_img, ImageFormat::Tiff, Layout::Gray16(g16)),
        (
            rgb16_img.clone(),
            ImageFormat::Png,
            Layout::Rgb8(rgb.clone()),
        ),
        (rgb16_img, ImageFormat::Tiff, Layout::Rgb8(rgb.clone())),
        (rgb_img.clone(), ImageFormat::Bmp, Layout::Rgb8(rgb.clone())),
        (
            rgb_img.clone(),
            ImageFormat::Tiff,
            Layout::Rgb8(rgb.clone()),
        ),
        (rgba_img, ImageFormat::WebP, Layout::Rgb8(rgb.clone())),
        (rgb_img, ImageFormat::WebP, Layout::Rgb8(rgb)),
    ];
    for (img, fmt, want) in cases {
        let what = format!("{:?} {fmt:?}", img.color());
        let bytes = encode(img, fmt);
        let d = decode(&bytes, &Limits::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(d.image, Image::new(w, h, want).unwrap(), "{what}");
    }
}

#[test]
fn scaled_jpeg_decoding() {
    // A flat colour survives DCT scaling unchanged (up to rounding).
    let (w, h) = (77u32, 45u32);
    let flat = DynamicImage::ImageRgb8(image::RgbImage::from_pixel(
        w,
        h,
        image::Rgb([200, 120, 40]),
    ));
    let jpg = encode(flat, ImageFormat::Jpeg);
    let full = decode(&jpg, &Limits::default()).unwrap();
    let [r, g, b] = full.image.rgb_at(10, 10);
    for denom in [1u8, 2, 4, 8] {
        let d = decode_jpeg_scaled(&jpg, denom, &Limits::default()).unwrap();
        let dd = denom as u32;
        assert_eq!(
            (d.image.width(), d.image.height()),
            (w.div_ceil(dd), h.div_ceil(dd)),
            "1/{denom}"
        );
        let p = d.image.rgb_at(1, 1);
        assert!(
            p[0].abs_diff(r) <= 2 && p[1].abs_diff(g) <= 2 && p[2].abs_diff(b) <= 2,
            "1/{denom}: {p:?}"
        );
    }
    assert_eq!(
        decode_jpeg_scaled(&jpg, 1, &Limits::default()).unwrap(),
        full
    );
    assert!(matches!(
        decode_jpeg_scaled(&jpg, 3, &Limits::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        decode_jpeg_scaled(&fixture("rgb.png"), 2, &Limits::default()),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(
        decode_jpeg_scaled(b"text", 2, &Limits::default()),
        Err(Error::NotAnImage(_))
    ));
}

/// A JPEG of `rgb` (`w` x `h`, quality 90, 4:2:0) written by libjpeg-turbo's TurboJPEG API:
/// arithmetic-coded if asked, and at 12 bits a sample (each 8-bit sample times 16) if asked.
#[cfg(feature = "turbojpeg")]
fn tj_compress(rgb: &[u8], w: usize, h: usize, arithmetic: bool, twelve: bool) -> Vec<u8> {
    use std::os::raw::c_int;
    use turbojpeg_sys as tj;
    // SAFETY: a fresh handle, checked; the source buffers hold `w * h * 3` samples with pitch
    // `w * 3`; the output buffer is allocated by TurboJPEG, copied, then freed with tj3Free.
    unsafe {
        let hd = tj::tj3Init(tj::TJINIT_TJINIT_COMPRESS as c_int);
        assert!(!hd.is_null());
        assert_eq!(tj::tj3Set(hd, tj::TJPARAM_TJPARAM_QUALITY as c_int, 90), 0);
        assert_eq!(
            tj::tj3Set(
                hd,
                tj::TJPARAM_TJPARAM_SUBSAMP as c_int,
                tj::TJSAMP_TJSAMP_420 as c_int
            ),
            0
        );
        if arithmetic {
            assert_eq!(
                tj::tj3Set(hd, tj::TJPARAM_TJPARAM_ARITHMETIC as c_int, 1),
                0
            );
        }
        let mut out: *mut u8 = std::ptr::null_mut();
        let mut len: tj::size_t = 0;
        let pf = tj::TJPF_TJPF_RGB as c_int;
        let (wi, hi, pitch) = (w as c_int, h as c_int, (w * 3) as c_int);
        let r = if twelve {
            assert_eq!(
                tj::tj3Set(hd, tj::TJPARAM_TJPARAM_PRECISION as c_int, 12),
                0
            );
            let wide: Vec<i16> = rgb.iter().map(|&v| v as i16 * 16).collect();
            tj::tj3Compress12(hd, wide.as_ptr(), wi, pitch, hi, pf, &mut out, &mut len)
        } else {
            tj::tj3Compress8(hd, rgb.as_ptr(), wi, pitch, hi, pf, &mut out, &mut len)
        };
        assert_eq!(
            r,
            0,
            "{:?}",
            std::ffi::CStr::from_ptr(tj::tj3GetErrorStr(hd))
        );
        let v = std::slice::from_raw_parts(out, len as usize).to_vec();
        tj::tj3Free(out as *mut _);
        tj::tj3Destroy(hd);
        v
    }
}

#[cfg(feature = "turbojpeg")]
#[test]
fn arithmetic_coded_jpeg_decodes_as_its_huffman_twin_and_12_bit_is_refused() {
    let (w, h) = (67usize, 45usize);
    let rgb: Vec<u8> = (0..w * h * 3)
        .map(|i| ((i * 2654435761usize) >> 7) as u8 ^ (i / 3 % w) as u8)
        .collect();
    // Same samples and settings: the same quantised coefficients, only the entropy coding
    // differs, so the pixels must be those of the Huffman-coded file (decoded as Pillow
    // decodes it: the fixtures above).
    let huffman = tj_compress(&rgb, w, h, false, false);
    let arith = tj_compress(&rgb, w, h, true, false);
    assert_ne!(huffman, arith);
    assert!(
        arith.windows(2).any(|m| m == [0xFF, 0xC9]),
        "SOF9: arithmetic"
    );
    let want = decode(&huffman, &Limits::default()).unwrap().image;
    assert_eq!(decode(&arith, &Limits::default()).unwrap().image, want);
    // 12 bits a sample: Pillow refuses it at open ("cannot handle 12-bit layers"), and so
    // does nearmatch, naming it, through every decode path.
    let twelve = tj_compress(&rgb, w, h, false, true);
    assert_eq!(jpeg::frame_precision(&twelve), Some(12));
    assert_eq!(jpeg::frame_precision(&huffman), Some(8));
    for e in [
        decode(&twelve, &Limits::default()).unwrap_err(),
        decode_jpeg_scaled(&twelve, 2, &Limits::default()).unwrap_err(),
    ] {
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("12-bit JPEG"), "{e}");
    }
    let arith12 = tj_compress(&rgb, w, h, true, true);
    assert!(decode(&arith12, &Limits::default())
        .unwrap_err()
        .to_string()
        .contains("12-bit JPEG"));
}
