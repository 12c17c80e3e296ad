//! Core behaviour on encoded generated images: the fast hashing mode, reduced decoding, and probes
//! of file bytes.
//!
//! Integration tests rather than unit tests: they encode images with `nearmatch_synth`, whose
//! encoders take the `Image` of the ordinary build of this library (a unit-test build of the
//! library is another crate with another `Image`).

use nearmatch::decode::orientation::{exif_orientation, OrientationMode};
use nearmatch::decode::{decode, decode_reduced, Format, Limits};
use nearmatch::digest::{AnyDigest, Digest256};
use nearmatch::hash::file::{hash_bytes, hash_image, HashMode, HashOptions};
use nearmatch::hash::pdq::{self, Profile};
use nearmatch::hash::resample::PillowVersion;
use nearmatch::hash::Algorithm;
use nearmatch::pixels::{Image, Layout};
use nearmatch::probe::{pdq_probes, Probe, ProbeConfig, ProbeKind};
use nearmatch::Error;
use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};

// --- The fast hashing mode (hash::file) ---

fn fast() -> HashOptions {
    HashOptions {
        mode: HashMode::Fast,
        ..HashOptions::default()
    }
}

const ALGOS: [Algorithm; 2] = [Algorithm::Pdq, Algorithm::Phash];
/// Bounds for the agreement test. Measured on 280 mixed images (notes of issue #8): PDQ mean
/// 7.3 bits, max 54 on quality >= 50 images; at 1024x768 max 24. The hard bound is PDQ's
/// match radius: a fast hash must still match its own exact hash.
const FAST_PDQ_MAX: u32 = pdq::MATCH_DISTANCE;
const FAST_PDQ_MEAN_MAX: u32 = 12;
const FAST_PHASH_MAX: u32 = 8;

#[test]
fn fast_mode_hashes_small_images_exactly() {
    // 500x400: halving would give a 200 px side, under FAST_MIN_SIDE.
    let img = generate(Scene::Landscape, 500, 400, 9);
    for bytes in [encode_jpeg(&img, 85), encode_png(&img)] {
        let e = hash_bytes(&bytes, &ALGOS, &HashOptions::default());
        let f = hash_bytes(&bytes, &ALGOS, &fast());
        assert_eq!(f.mode, Some(HashMode::Exact));
        assert_eq!(f.hashed_dimensions, None);
        assert_eq!(f.perceptual, e.perceptual);
        assert_eq!(f.pdq_quality, e.pdq_quality);
    }
}

#[test]
fn exact_mode_hashes_the_full_decode() {
    let img = generate(Scene::Product, 1100, 800, 4);
    let png = encode_png(&img);
    let e = hash_bytes(&png, &ALGOS, &HashOptions::default());
    assert_eq!(e.mode, Some(HashMode::Exact));
    assert_eq!(e.dimensions, Some((1100, 800)));
    assert_eq!(e.hashed_dimensions, None);
    // PNG is lossless: the exact hash is the hash of the generated pixels themselves.
    let want = hash_image(&img, &ALGOS, &HashOptions::default());
    assert_eq!(e.perceptual, want.perceptual);
}

/// An independent bound: fast hashes must stay close to the exact ones on generated images
/// of every scene (quality >= 50 ones: PDQ itself flags the others as unreliable).
#[test]
fn fast_mode_agrees_with_exact_within_a_few_bits() {
    let mut pdq_total = 0;
    let mut n = 0;
    for (i, scene) in Scene::ALL.into_iter().enumerate() {
        let img = generate(scene, 1024, 768, 300 + i as u64);
        // JPEG: IDCT at 1/2 (1/4 would give a 192 px side); PNG: 3x3 boxes (ceil(768/3)).
        let (bytes, reduced) = if i % 3 == 2 {
            (encode_png(&img), (342, 256))
        } else {
            (encode_jpeg(&img, 80), (512, 384))
        };
        let e = hash_bytes(&bytes, &ALGOS, &HashOptions::default());
        let f = hash_bytes(&bytes, &ALGOS, &fast());
        assert_eq!(f.mode, Some(HashMode::Fast), "{scene}");
        assert_eq!(f.dimensions, Some((1024, 768)));
        assert_eq!(f.hashed_dimensions, Some(reduced), "{scene}");
        let d = |a| {
            e.digest(a)
                .unwrap()
                .distance(&f.digest(a).unwrap())
                .unwrap()
        };
        // Smooth images (PDQ quality < 50: gradients) have near-tied coefficients, so any
        // change of pixels flips many bits of either hash; only textured ones are bounded.
        if e.pdq_quality.unwrap() >= pdq::MIN_QUALITY {
            assert!(
                d(Algorithm::Phash) <= FAST_PHASH_MAX,
                "{scene}: phash {}",
                d(Algorithm::Phash)
            );
            assert!(
                d(Algorithm::Pdq) <= FAST_PDQ_MAX,
                "{scene}: pdq {}",
                d(Algorithm::Pdq)
            );
            pdq_total += d(Algorithm::Pdq);
            n += 1;
        }
    }
    assert!(n >= 4, "enough textured scenes");
    assert!(
        pdq_total <= FAST_PDQ_MEAN_MAX * n,
        "mean {}",
        pdq_total as f64 / n as f64
    );
}

// --- Reduced decoding (decode::decode_reduced) ---

#[test]
fn small_images_are_decoded_in_full_and_large_ones_reduced() {
    let small = generate(Scene::Indoor, 400, 300, 5);
    let jpg = encode_jpeg(&small, 90);
    let r = decode_reduced(&jpg, 256, &Limits::default()).unwrap();
    assert_eq!(r.scale, 1);
    assert_eq!(r.decoded, decode(&jpg, &Limits::default()).unwrap());

    let large = generate(Scene::Indoor, 1100, 800, 5);
    let jpg = encode_jpeg(&large, 90);
    let r = decode_reduced(&jpg, 256, &Limits::default()).unwrap();
    assert_eq!((r.scale, r.full_dimensions), (2, (1100, 800)));
    assert_eq!(
        (r.decoded.image.width(), r.decoded.image.height()),
        (550, 400)
    );

    let png = encode_png(&large);
    let r = decode_reduced(&png, 256, &Limits::default()).unwrap();
    assert_eq!(r.scale, 3); // ceil(800/3) = 267 >= 256, ceil(800/4) = 200
    assert_eq!(
        (r.decoded.image.width(), r.decoded.image.height()),
        (367, 267)
    );
    assert_eq!(r.decoded.format, Format::Png);
}

#[test]
fn reduced_decoding_still_applies_limits_and_errors() {
    let jpg = encode_jpeg(&generate(Scene::Noise, 1024, 768, 1), 80);
    let tight = Limits {
        max_width: 300,
        ..Limits::default()
    };
    // 1/2 gives 512 wide: over the limit even reduced.
    assert!(matches!(
        decode_reduced(&jpg, 256, &tight),
        Err(Error::LimitExceeded(_))
    ));
    assert!(matches!(
        decode_reduced(b"plain text", 256, &Limits::default()),
        Err(Error::NotAnImage(_))
    ));
    assert!(decode_reduced(&jpg[..jpg.len() / 3], 256, &Limits::default()).is_err());
}

// --- Probes of file bytes (probe) ---

/// `pic` pasted at (x, y) into a `w`x`h` canvas of `colour`.
fn paste(pic: &Image, w: u32, h: u32, x: u32, y: u32, colour: [u8; 3]) -> Image {
    let mut rgb = colour.repeat((w * h) as usize);
    for py in 0..pic.height() {
        for px in 0..pic.width() {
            let o = (((py + y) * w + px + x) * 3) as usize;
            rgb[o..o + 3].copy_from_slice(&pic.rgb_at(px, py));
        }
    }
    Image::new(w, h, Layout::Rgb8(rgb)).unwrap()
}

fn best(probes: &[Probe], want: &Digest256) -> (u32, Probe) {
    probes
        .iter()
        .map(|p| (p.digest.distance(want), *p))
        .min_by_key(|(d, _)| *d)
        .unwrap()
}

#[test]
fn trim_probe_of_a_padded_jpeg_matches_the_original() {
    for seed in 0..6u64 {
        let scene = Scene::ALL[seed as usize % Scene::ALL.len()];
        let pic = generate(scene, 240, 180, 100 + seed);
        let want = pdq::hash(&pic, Profile::Pdqhash).digest;
        let padded = paste(&pic, 320, 240, 40, 30, [250, 250, 250]);
        let jpeg = encode_jpeg(&padded, 85);
        let img = decode(&jpeg, &Limits::default()).unwrap().image;
        let probes = pdq_probes(&img, Profile::Pdqhash, &ProbeConfig::default());
        let plain = probes[0].digest.distance(&want);
        let (d, p) = best(&probes, &want);
        assert!(
            d <= 31,
            "seed {seed}: best {d} ({}) plain {plain}",
            p.name()
        );
    }
}

#[test]
fn hash_bytes_returns_the_probes_with_the_plain_hash_first() {
    let pic = generate(Scene::DeadLeaves, 200, 150, 3);
    let img = paste(&pic, 260, 230, 37, 41, [255, 255, 255]);
    let png = encode_png(&img);
    let opts = HashOptions {
        probes: Some(ProbeConfig::default()),
        ..HashOptions::default()
    };
    let out = hash_bytes(&png, &[Algorithm::Pdq], &opts);
    let plain = out.digest(Algorithm::Pdq).unwrap();
    assert_eq!(out.pdq_probes[0].kind, ProbeKind::Plain);
    assert_eq!(AnyDigest::D256(out.pdq_probes[0].digest), plain);
    assert_eq!(
        out.pdq_probes,
        pdq_probes(&img, Profile::Pdqhash, &ProbeConfig::default())
    );
    // Without the option: none, and the plain hash unchanged.
    let none = hash_bytes(&png, &[Algorithm::Pdq], &HashOptions::default());
    assert!(none.pdq_probes.is_empty());
    assert_eq!(none.digest(Algorithm::Pdq), Some(plain));
}

// --- Exact PDQ streamed from JPEG rows (hash::file, decode::jpeg_rows) ---

/// `img` as a JPEG: `sampling` of the chroma, progressive or baseline, restart markers every
/// `restart` MCUs (0: none).
fn jpeg_variant(
    img: &Image,
    quality: u8,
    sampling: jpeg_encoder::SamplingFactor,
    progressive: bool,
    restart: u16,
) -> Vec<u8> {
    use jpeg_encoder::{ColorType, Encoder};
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, quality);
    enc.set_sampling_factor(sampling);
    enc.set_progressive(progressive);
    enc.set_restart_interval(restart);
    let (w, h) = (img.width() as u16, img.height() as u16);
    match img.layout() {
        Layout::Rgb8(v) => enc.encode(v, w, h, ColorType::Rgb),
        Layout::Gray8(v) => enc.encode(v, w, h, ColorType::Luma),
        Layout::Gray16(_) => unreachable!("8-bit images only"),
    }
    .expect("encodes");
    out
}

/// What the whole-image path reports for `bytes`: decode, then hash the pixels.
fn whole_image_path(bytes: &[u8], algos: &[Algorithm], opts: &HashOptions) -> String {
    let out = match decode(bytes, &opts.limits) {
        Ok(d) => hash_image(&d.image, algos, opts),
        Err(e) => return format!("error {e}"),
    };
    summary(&out)
}

/// The fields a streamed hash must share with the whole-image path.
fn summary(out: &nearmatch::hash::file::FileHashes) -> String {
    if let Some(e) = &out.image_error {
        return format!("error {e}");
    }
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?}",
        out.perceptual, out.pdq_quality, out.dimensions, out.mode, out.pdq_probes, out.pdq_dihedral
    )
}

#[test]
fn streamed_jpeg_pdq_equals_the_whole_image_path() {
    use jpeg_encoder::SamplingFactor as S;
    let samplings = [S::F_1_1, S::F_2_1, S::F_2_2, S::F_1_2, S::F_4_1, S::F_4_2];
    // Too small to hash, the unblurred 64x64 case, odd sizes, past meta-cpp's 512 pre-resize,
    // past the probe plane's 1024 side, a long thin strip.
    let sizes = [
        (4, 9),
        (5, 5),
        (17, 9),
        (63, 65),
        (64, 64),
        (127, 129),
        (300, 200),
        (513, 300),
        (1030, 24),
        (7, 700),
    ];
    let configs = [None, Some(ProbeConfig::default()), Some(ProbeConfig::all())];
    let mut cases = 0;
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let scene = Scene::ALL[i % Scene::ALL.len()];
        let pic = generate(scene, w, h, 700 + i as u64);
        // A picture with a white pad at its edge: the trim probe needs the plane.
        let padded = paste(&pic, w + 8, h + 6, 4, 0, [255, 255, 255]);
        let grey = Image::new(
            w,
            h,
            Layout::Gray8((0..w * h).map(|p| pic.rgb_at(p % w, p / w)[1]).collect()),
        )
        .unwrap();
        let mut files = Vec::new();
        for (k, &sampling) in samplings.iter().enumerate() {
            let progressive = k % 2 == 1;
            let restart = [0, 1, 3][k % 3];
            files.push(jpeg_variant(&pic, 85, sampling, progressive, restart));
        }
        files.push(jpeg_variant(&padded, 90, S::F_2_2, false, 0));
        // A bar along the top (a phone's status bar): seen in the first row decoded.
        let barred = paste(&pic, w, h + 6, 0, 6, [20, 20, 20]);
        files.push(jpeg_variant(&barred, 90, S::F_2_2, true, 0));
        files.push(jpeg_variant(&grey, 80, S::F_1_1, true, 2));
        for bytes in &files {
            for profile in Profile::ALL {
                for (probes, dihedral) in configs
                    .iter()
                    .map(|c| (*c, false))
                    .chain([(None, true), (Some(ProbeConfig::default()), true)])
                {
                    let opts = HashOptions {
                        pdq_profile: profile,
                        probes,
                        pdq_dihedral: dihedral,
                        ..HashOptions::default()
                    };
                    // Dihedrals alone (no plain PDQ asked for) too.
                    let algos: &[&[Algorithm]] = if dihedral {
                        &[&[Algorithm::Pdq], &[Algorithm::Md5]]
                    } else {
                        &[&[Algorithm::Pdq], &[Algorithm::Pdq, Algorithm::Md5]]
                    };
                    for algos in algos {
                        let got = summary(&hash_bytes(bytes, algos, &opts));
                        let want = whole_image_path(bytes, algos, &opts);
                        assert_eq!(got, want, "{w}x{h} {profile:?} {probes:?} {dihedral}");
                        cases += 1;
                    }
                }
            }
        }
    }
    assert!(cases > 1500, "{cases} cases");
}

/// The imagehash family (alone, with PDQ, with probes) streamed from a JPEG's rows gives what
/// decoding the whole image and hashing it gives: both Pillow pass orders (tall pictures resize
/// vertically first under Pillow 13), pictures smaller than the resize targets, grey JPEGs.
#[test]
fn streamed_jpeg_imagehash_equals_the_whole_image_path() {
    use jpeg_encoder::SamplingFactor as S;
    let sizes = [
        (4, 9),
        (9, 8),
        (33, 31),
        (64, 64),
        (300, 200),
        (200, 300),
        (1030, 24),
        (7, 700),
        (90, 1000),
        (1024, 768),
    ];
    let requests: [&[Algorithm]; 6] = [
        &[Algorithm::Phash],
        &[
            Algorithm::Ahash,
            Algorithm::Dhash,
            Algorithm::Phash,
            Algorithm::Whash,
        ],
        &[
            Algorithm::Ahash16,
            Algorithm::Dhash16,
            Algorithm::Phash16,
            Algorithm::Whash16,
        ],
        &[Algorithm::Pdq, Algorithm::Phash, Algorithm::Md5],
        &[Algorithm::Dhash, Algorithm::Pdq, Algorithm::Whash16],
        &[Algorithm::Whash, Algorithm::Ahash],
    ];
    let mut cases = 0;
    for (i, &(w, h)) in sizes.iter().enumerate() {
        let pic = generate(Scene::ALL[i % Scene::ALL.len()], w, h, 900 + i as u64);
        let grey = Image::new(
            w,
            h,
            Layout::Gray8((0..w * h).map(|p| pic.rgb_at(p % w, p / w)[2]).collect()),
        )
        .unwrap();
        let padded = paste(&pic, w + 8, h + 6, 4, 0, [255, 255, 255]);
        let files = [
            jpeg_variant(&pic, 85, S::F_2_2, false, 0),
            jpeg_variant(&pic, 92, S::F_1_1, true, 3),
            jpeg_variant(&grey, 80, S::F_1_1, false, 0),
            jpeg_variant(&padded, 90, S::F_2_1, false, 0),
        ];
        for bytes in &files {
            for pillow in PillowVersion::ALL {
                for probes in [None, Some(ProbeConfig::default())] {
                    for algos in requests {
                        let opts = HashOptions {
                            pillow,
                            probes,
                            ..HashOptions::default()
                        };
                        let got = hash_bytes(bytes, algos, &opts);
                        let want = whole_image_path(bytes, algos, &opts);
                        assert_eq!(summary(&got), want, "{w}x{h} {pillow} {probes:?} {algos:?}");
                        // Every requested perceptual hash is there (none silently missing).
                        let n = algos.iter().filter(|a| !a.is_cryptographic()).count();
                        assert_eq!(got.perceptual.len(), n, "{w}x{h} {algos:?}");
                        cases += 1;
                    }
                }
            }
        }
    }
    // That the streamed path is the one taken is tests/allocations.rs's to show (no
    // image-sized allocation).
    assert!(cases >= 900, "{cases} cases");
}

#[test]
fn streamed_jpeg_pdq_reports_damaged_files_as_the_whole_image_path() {
    let pic = generate(Scene::Landscape, 160, 120, 77);
    let jpeg = jpeg_variant(&pic, 85, jpeg_encoder::SamplingFactor::F_2_2, false, 0);
    let progressive = jpeg_variant(&pic, 85, jpeg_encoder::SamplingFactor::F_2_2, true, 4);
    let mut files = Vec::new();
    for base in [&jpeg, &progressive] {
        // Cut short at many places (headers, scan data, just before EOI).
        for cut in [20, 200, base.len() / 3, base.len() / 2, base.len() - 2] {
            files.push(base[..cut].to_vec());
        }
        // Garbage in the middle of the scan data, and bytes after the end marker.
        let mut scribbled = base.clone();
        let mid = base.len() / 2;
        scribbled[mid..mid + 16].fill(0xA5);
        files.push(scribbled);
        let mut trailing = base.clone();
        trailing.extend_from_slice(b"trailing bytes");
        files.push(trailing);
    }
    // Over the decode limits.
    let opts = [
        HashOptions::default(),
        HashOptions {
            limits: Limits {
                max_pixels: 100 * 100,
                ..Limits::default()
            },
            ..HashOptions::default()
        },
    ];
    let requests: [&[Algorithm]; 3] = [
        &[Algorithm::Pdq],
        &[Algorithm::Phash, Algorithm::Ahash],
        &[Algorithm::Pdq, Algorithm::Dhash16],
    ];
    for bytes in &files {
        for o in &opts {
            for algos in requests {
                let got = summary(&hash_bytes(bytes, algos, o));
                let want = whole_image_path(bytes, algos, o);
                assert_eq!(got, want, "{} bytes {algos:?}", bytes.len());
            }
        }
    }
}

// --- EXIF orientation (decode::orientation) ---

/// `jpeg` with an APP1 Exif segment holding Orientation `tag` inserted after SOI (big-endian
/// TIFF, as many cameras write it).
fn with_exif_orientation(jpeg: &[u8], tag: u16) -> Vec<u8> {
    let mut tiff = b"MM\0*\0\0\0\x08\0\x01".to_vec();
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1]);
    tiff.extend_from_slice(&tag.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((tiff.len() + 8) as u16).to_be_bytes());
    out.extend_from_slice(b"Exif\0\0");
    out.extend_from_slice(&tiff);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn exif_opts() -> HashOptions {
    HashOptions {
        orientation: OrientationMode::Exif,
        ..HashOptions::default()
    }
}

#[test]
fn exif_orientation_is_applied_only_when_asked() {
    let img = generate(Scene::DeadLeaves, 160, 120, 21);
    let jpeg = encode_jpeg(&img, 90);
    let stored = decode(&jpeg, &Limits::default()).unwrap().image;
    let algos = [Algorithm::Pdq, Algorithm::Phash, Algorithm::Dhash16];
    for tag in 0..=9u16 {
        let bytes = with_exif_orientation(&jpeg, tag);
        assert_eq!(
            exif_orientation(&bytes),
            (1..=8).contains(&tag).then_some(tag as u8)
        );
        // The default hashes the stored pixels, whatever the tag.
        let d = hash_bytes(&bytes, &algos, &HashOptions::default());
        assert_eq!(d.exif_orientation, None);
        assert_eq!(
            d.perceptual,
            hash_image(&stored, &algos, &HashOptions::default()).perceptual
        );
        // `exif` hashes the displayed pixels; invalid tags are ignored.
        let e = hash_bytes(&bytes, &algos, &exif_opts());
        let o = pdq::Orientation::from_exif(tag as u8).unwrap_or(pdq::Orientation::Orig);
        let shown = stored.oriented(o);
        assert_eq!(
            e.exif_orientation,
            (1..=8).contains(&tag).then_some(tag as u8)
        );
        assert_eq!(
            e.perceptual,
            hash_image(&shown, &algos, &HashOptions::default()).perceptual,
            "tag {tag}"
        );
        // The header's dimensions stay those stored.
        assert_eq!(e.dimensions, Some((160, 120)));
    }
}

/// Dihedral probes cover both conventions: a stored-pixel hash of a rotated file still finds
/// the displayed picture's hash, and an `exif` hash still finds the stored picture's hash.
#[test]
fn dihedral_probes_match_across_orientation_modes() {
    let img = generate(Scene::DeadLeaves, 200, 150, 22);
    let png_stored = encode_png(&img);
    let probes = ProbeConfig {
        dihedral: true,
        ..ProbeConfig::none()
    };
    let stored_hash = pdq::hash(&img, Profile::Pdqhash).digest;
    for tag in 2..=8u8 {
        let o = pdq::Orientation::from_exif(tag).unwrap();
        let displayed_hash = pdq::hash(&img.oriented(o), Profile::Pdqhash).digest;
        let jpeg = with_exif_orientation(&encode_jpeg(&img, 95), tag.into());
        let best = |out: &nearmatch::hash::file::FileHashes, want: Digest256| {
            out.pdq_probes
                .iter()
                .map(|p| p.digest.distance(&want))
                .min()
                .unwrap()
        };
        for mode in [OrientationMode::Stored, OrientationMode::Exif] {
            let opts = HashOptions {
                orientation: mode,
                probes: Some(probes),
                ..HashOptions::default()
            };
            let out = hash_bytes(&jpeg, &[Algorithm::Pdq], &opts);
            let AnyDigest::D256(plain) = out.digest(Algorithm::Pdq).unwrap() else {
                panic!("PDQ is 256 bits");
            };
            // The hash the plain probe cannot reach, and the probes can.
            let other = match mode {
                OrientationMode::Stored => displayed_hash,
                OrientationMode::Exif => stored_hash,
            };
            assert!(
                plain.distance(&other) > pdq::MATCH_DISTANCE,
                "tag {tag} {mode}"
            );
            let d = best(&out, other);
            assert!(d <= pdq::MATCH_DISTANCE, "tag {tag} {mode}: best probe {d}");
        }
    }
    // The PNG has no tag: `exif` changes nothing.
    let a = hash_bytes(&png_stored, &[Algorithm::Pdq], &exif_opts());
    assert_eq!(a.exif_orientation, None);
    assert_eq!(a.digest(Algorithm::Pdq), Some(AnyDigest::D256(stored_hash)));
}
