//! nearmatch against the peers' stored outputs for every reference fixture.
//!
//! For each row of `fixtures/manifest.csv` the file bytes are read (committed fixtures) or
//! regenerated in memory (`nearmatch_synth::fixtures::render`, for the large ones), checked against the
//! manifest's SHA-256, decoded with the real pipeline (`decode::decode`) and hashed:
//! - PDQ plain hash, quality and the 8 dihedral hashes under both profiles, against
//!   `fixtures/pdq_reference.csv` (Meta's C++ core through `pdqhash`);
//! - the 8 imagehash algorithms under Pillow 13 and Pillow 12, against
//!   `fixtures/imagehash_reference.csv` (Python `imagehash` on `PIL.Image.open`);
//! - the same through `hash::file::hash_image` (the entry point the CLI and Python use), under
//!   the default profile and Pillow version;
//! - PDQ alone through `hash::file::hash_bytes` under both profiles (JPEGs stream their rows
//!   into the filter there, never decoded whole).
//!
//! Every mismatch is collected and the test fails with one table of them all. Per-check counts
//! are printed (`cargo test -p nearmatch --test reference -- --nocapture`).
//!
//! JPEG: the peers decoded with Pillow, i.e. libjpeg-turbo. With the `turbojpeg` feature
//! (default) nearmatch decodes with libjpeg-turbo too, so JPEG fixtures must match exactly like
//! PNG. Without it (`--no-default-features`, the pure-Rust `jpeg-decoder`) the pixels differ by a
//! few levels, so JPEG mismatches are reported as statistics and only bounded loosely.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use nearmatch::decode::{decode, Limits};
use nearmatch::digest::{AnyDigest, Digest256};
use nearmatch::hash::file::{hash_bytes, hash_image, HashOptions};
use nearmatch::hash::imagehash::{hashes_from_luma, HashSize, ImagehashKind};
use nearmatch::hash::luma::LumaPlane;
use nearmatch::hash::pdq::{self, Orientation, Profile};
use nearmatch::hash::resample::PillowVersion;
use nearmatch::hash::Algorithm;
use nearmatch_synth::fixtures::{render, specs, FixtureSpec};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The imagehash columns of the reference table, in order.
const IMAGEHASH_COLUMNS: [(&str, ImagehashKind, HashSize); 8] = [
    ("ahash", ImagehashKind::Ahash, HashSize::Eight),
    ("dhash", ImagehashKind::Dhash, HashSize::Eight),
    ("phash", ImagehashKind::Phash, HashSize::Eight),
    ("whash", ImagehashKind::Whash, HashSize::Eight),
    ("ahash16", ImagehashKind::Ahash, HashSize::Sixteen),
    ("dhash16", ImagehashKind::Dhash, HashSize::Sixteen),
    ("phash16", ImagehashKind::Phash, HashSize::Sixteen),
    ("whash16", ImagehashKind::Whash, HashSize::Sixteen),
];

/// One manifest row (the columns this test needs).
struct ManifestRow {
    name: String,
    file: String,
    is_jpeg: bool,
    committed: bool,
    sha256: String,
}

/// One PDQ reference row: a fixture under one profile.
struct PdqRef {
    hash: String,
    quality: u8,
    dihedral: [String; 8],
}

/// All reference values, keyed by fixture name.
struct References {
    /// (name, profile name) → row.
    pdq: HashMap<(String, String), PdqRef>,
    /// (name, Pillow major "13"/"12") → the 8 imagehash cells in [`IMAGEHASH_COLUMNS`] order.
    imagehash: HashMap<(String, String), Vec<String>>,
}

fn read_csv(name: &str) -> Vec<csv::StringRecord> {
    let path = fixtures_dir().join(name);
    let mut r = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records()
        .map(|rec| rec.unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .collect()
}

fn load_manifest() -> Vec<ManifestRow> {
    let mut r = csv::Reader::from_path(fixtures_dir().join("manifest.csv")).expect("manifest.csv");
    let headers = r.headers().expect("manifest header").clone();
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .unwrap_or_else(|| panic!("manifest.csv has no column {n}"))
    };
    let (name, file, format, committed, sha) = (
        col("name"),
        col("file"),
        col("format"),
        col("committed"),
        col("sha256"),
    );
    r.records()
        .map(|rec| {
            let rec = rec.expect("manifest row");
            ManifestRow {
                name: rec[name].to_string(),
                file: rec[file].to_string(),
                is_jpeg: &rec[format] == "jpeg",
                committed: &rec[committed] == "1",
                sha256: rec[sha].to_string(),
            }
        })
        .collect()
}

fn load_references() -> References {
    let mut pdq = HashMap::new();
    for rec in read_csv("pdq_reference.csv") {
        assert_eq!(rec.len(), 12, "pdq_reference.csv row {rec:?}");
        let dihedral = std::array::from_fn(|i| rec[4 + i].to_string());
        let row = PdqRef {
            hash: rec[2].to_string(),
            quality: rec[3].parse().expect("PDQ quality"),
            dihedral,
        };
        let key = (rec[0].to_string(), rec[1].to_string());
        assert!(pdq.insert(key, row).is_none(), "duplicate PDQ row {rec:?}");
    }
    let mut imagehash = HashMap::new();
    for rec in read_csv("imagehash_reference.csv") {
        assert_eq!(rec.len(), 10, "imagehash_reference.csv row {rec:?}");
        let key = (rec[0].to_string(), rec[1].to_string());
        let cells = rec.iter().skip(2).map(str::to_string).collect();
        assert!(
            imagehash.insert(key, cells).is_none(),
            "duplicate imagehash row {rec:?}"
        );
    }
    References { pdq, imagehash }
}

/// The outcome of one comparison.
struct Check {
    /// What was compared, e.g. `pdq meta-cpp dihedral` or `imagehash pillow12 phash16`.
    check: String,
    /// Detail of a failure: which value, expected, got, distance. `None` when it matched.
    failure: Option<Failure>,
}

struct Failure {
    what: String,
    expected: String,
    got: String,
    /// Hamming distance (hashes) or absolute difference (quality); `None` if not comparable.
    distance: Option<u32>,
}

/// Collects the checks of one fixture.
#[derive(Default)]
struct Checks(Vec<Check>);

impl Checks {
    /// One check made of several values: it passes only if every value matches.
    fn group(&mut self, check: String, values: &[(String, String, String, Option<u32>)]) {
        let mut failed = false;
        for (what, expected, got, distance) in values {
            if expected != got {
                failed = true;
                self.0.push(Check {
                    check: check.clone(),
                    failure: Some(Failure {
                        what: what.clone(),
                        expected: expected.clone(),
                        got: got.clone(),
                        distance: *distance,
                    }),
                });
            }
        }
        if !failed {
            self.0.push(Check {
                check,
                failure: None,
            });
        }
    }
}

fn hex_distance(expected: &str, got: &AnyDigest) -> Option<u32> {
    match got {
        AnyDigest::D256(g) => Digest256::from_hex(expected).ok().map(|e| e.distance(g)),
        AnyDigest::D64(g) => nearmatch::digest::Digest64::from_hex(expected)
            .ok()
            .map(|e| e.distance(g)),
    }
}

fn pdq_value(what: &str, expected: &str, got: Digest256) -> (String, String, String, Option<u32>) {
    let distance = Digest256::from_hex(expected).ok().map(|e| e.distance(&got));
    (
        what.to_string(),
        expected.to_string(),
        got.to_hex(),
        distance,
    )
}

fn quality_value(what: &str, expected: u8, got: u8) -> (String, String, String, Option<u32>) {
    (
        what.to_string(),
        expected.to_string(),
        got.to_string(),
        Some(expected.abs_diff(got) as u32),
    )
}

fn pillow_major(p: PillowVersion) -> &'static str {
    match p {
        PillowVersion::Pillow13 => "13",
        PillowVersion::Pillow12 => "12",
    }
}

/// The file bytes of one fixture: the committed file, or the in-memory regeneration.
fn fixture_bytes(row: &ManifestRow, spec: Option<&FixtureSpec>) -> Result<Vec<u8>, String> {
    let bytes = if row.committed {
        let path = fixtures_dir().join("images").join(&row.file);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        render(spec.ok_or("not in nearmatch_synth::fixtures::specs()")?)
    };
    let digest = hex::encode(Sha256::digest(&bytes));
    if digest != row.sha256 {
        return Err(format!(
            "SHA-256 {digest} differs from the manifest's {}",
            row.sha256
        ));
    }
    Ok(bytes)
}

/// Every check of one fixture.
fn check_fixture(row: &ManifestRow, spec: Option<&FixtureSpec>, refs: &References) -> Checks {
    let mut out = Checks::default();
    let fatal = |out: &mut Checks, check: &str, what: &str, msg: String| {
        out.0.push(Check {
            check: check.to_string(),
            failure: Some(Failure {
                what: what.to_string(),
                expected: "ok".into(),
                got: msg,
                distance: None,
            }),
        });
    };
    let bytes = match fixture_bytes(row, spec) {
        Ok(b) => b,
        Err(e) => {
            fatal(&mut out, "file", "bytes", e);
            return out;
        }
    };
    let image = match decode(&bytes, &Limits::default()) {
        Ok(d) => d.image,
        Err(e) => {
            fatal(&mut out, "decode", "decode", e.to_string());
            return out;
        }
    };

    // PDQ: both profiles, plain and dihedral entry points.
    for profile in Profile::ALL {
        let key = (row.name.clone(), profile.name().to_string());
        let Some(r) = refs.pdq.get(&key) else {
            fatal(
                &mut out,
                "reference",
                "pdq row",
                format!("no row for {key:?}"),
            );
            continue;
        };
        let plain = pdq::hash(&image, profile);
        let dihedral = pdq::hash_dihedral(&image, profile);
        let p = profile.name();
        out.group(
            format!("pdq {p} hash"),
            &[pdq_value("hash", &r.hash, plain.digest)],
        );
        out.group(
            format!("pdq {p} quality"),
            &[
                quality_value("quality", r.quality, plain.quality),
                quality_value("dihedral quality", r.quality, dihedral.quality),
            ],
        );
        let values: Vec<_> = Orientation::ALL
            .iter()
            .map(|&o| pdq_value(o.name(), &r.dihedral[o.index()], dihedral.get(o)))
            .collect();
        out.group(format!("pdq {p} dihedral (8)"), &values);
    }

    // imagehash: all 8 algorithms under both Pillow generations.
    let requests: Vec<_> = IMAGEHASH_COLUMNS.iter().map(|&(_, k, s)| (k, s)).collect();
    for pillow in PillowVersion::ALL {
        let major = pillow_major(pillow);
        let key = (row.name.clone(), major.to_string());
        let Some(expected) = refs.imagehash.get(&key) else {
            fatal(
                &mut out,
                "reference",
                "imagehash row",
                format!("no row for {key:?}"),
            );
            continue;
        };
        let got =
            LumaPlane::from_image(&image).and_then(|l| hashes_from_luma(&l, &requests, pillow));
        for (i, (col, _, _)) in IMAGEHASH_COLUMNS.iter().enumerate() {
            let check = format!("imagehash pillow{major} {col}");
            let exp = &expected[i];
            let value = match &got {
                Ok(d) => (
                    col.to_string(),
                    exp.clone(),
                    d[i].to_hex(),
                    hex_distance(exp, &d[i]),
                ),
                // The peer failing too counts as agreement (the cell then reads ERR:<exception>).
                Err(_) if exp.starts_with("ERR:") => {
                    (col.to_string(), exp.clone(), exp.clone(), None)
                }
                Err(e) => (col.to_string(), exp.clone(), format!("error: {e}"), None),
            };
            out.group(check, &[value]);
        }
    }

    // The file-level entry point (one decode, every hash) under the default options: it must
    // give the same digests, including the plain-vs-dihedral quirk at exactly 64x64.
    let opts = HashOptions {
        pdq_dihedral: true,
        ..HashOptions::default()
    };
    let algos: Vec<Algorithm> = std::iter::once(Algorithm::Pdq)
        .chain(IMAGEHASH_COLUMNS.iter().map(|&(_, k, s)| k.algorithm(s)))
        .collect();
    let file = hash_image(&image, &algos, &opts);
    let pdq_key = (row.name.clone(), opts.pdq_profile.name().to_string());
    let ih_key = (row.name.clone(), pillow_major(opts.pillow).to_string());
    if let (Some(p), Some(ih)) = (refs.pdq.get(&pdq_key), refs.imagehash.get(&ih_key)) {
        let mut values = Vec::new();
        let got = |a: Algorithm| file.get(a).unwrap_or_else(|| "missing".into());
        values.push(("pdq".to_string(), p.hash.clone(), got(Algorithm::Pdq), None));
        values.push((
            "pdq quality".to_string(),
            p.quality.to_string(),
            file.pdq_quality.map_or("missing".into(), |q| q.to_string()),
            None,
        ));
        if let Some(d) = &file.pdq_dihedral {
            for o in Orientation::ALL {
                values.push(pdq_value(o.name(), &p.dihedral[o.index()], d.get(o)));
            }
        } else {
            values.push(("dihedral".into(), "8 hashes".into(), "missing".into(), None));
        }
        for (i, &(col, k, s)) in IMAGEHASH_COLUMNS.iter().enumerate() {
            if !ih[i].starts_with("ERR:") {
                values.push((col.to_string(), ih[i].clone(), got(k.algorithm(s)), None));
            }
        }
        out.group("file::hash_image (defaults)".into(), &values);
    }

    // PDQ alone from the file's bytes, as `hash`, `scan` and Python's `hash_files` ask for it:
    // a JPEG then streams its rows into the filter without a whole image (hash::file).
    for profile in Profile::ALL {
        let key = (row.name.clone(), profile.name().to_string());
        let Some(r) = refs.pdq.get(&key) else {
            continue;
        };
        let opts = HashOptions {
            pdq_profile: profile,
            ..HashOptions::default()
        };
        let file = hash_bytes(&bytes, &[Algorithm::Pdq], &opts);
        let p = profile.name();
        let got = |v: Option<String>| v.unwrap_or_else(|| "missing".into());
        out.group(
            format!("file::hash_bytes pdq alone ({p})"),
            &[
                (
                    "pdq".to_string(),
                    r.hash.clone(),
                    got(file.get(Algorithm::Pdq)),
                    None,
                ),
                (
                    "pdq quality".to_string(),
                    r.quality.to_string(),
                    got(file.pdq_quality.map(|q| q.to_string())),
                    None,
                ),
            ],
        );
    }
    out
}

/// Per-check pass counts, split by PNG and JPEG: `[png ok, png n, jpeg ok, jpeg n]`.
type Tally = BTreeMap<String, [usize; 4]>;

#[test]
fn every_fixture_matches_the_peer_references() {
    let started = std::time::Instant::now();
    let manifest = load_manifest();
    let refs = load_references();
    let catalogue: HashMap<String, FixtureSpec> =
        specs().into_iter().map(|s| (s.name.clone(), s)).collect();
    assert_eq!(
        manifest.len(),
        catalogue.len(),
        "manifest and catalogue disagree"
    );
    assert!(manifest.len() >= 140, "only {} fixtures", manifest.len());
    assert!(manifest.iter().any(|r| r.is_jpeg && !r.committed));
    // Every reference row belongs to a fixture that is checked (no stale rows).
    assert_eq!(
        refs.pdq.len(),
        2 * manifest.len(),
        "PDQ: one row per fixture and profile"
    );
    assert_eq!(
        refs.imagehash.len(),
        2 * manifest.len(),
        "imagehash: one row per fixture and Pillow"
    );

    // Largest first so the 12 MP fixtures do not end up alone on one core at the end.
    let mut order: Vec<&ManifestRow> = manifest.iter().collect();
    order.sort_by_key(|r| {
        std::cmp::Reverse(
            catalogue
                .get(&r.name)
                .map_or(0, |s| s.width as u64 * s.height as u64),
        )
    });
    let results: Vec<(&ManifestRow, Checks)> = order
        .par_iter()
        .map(|row| (*row, check_fixture(row, catalogue.get(&row.name), &refs)))
        .collect();

    let mut tally = Tally::new();
    let mut failures: Vec<(&str, bool, &str, &Failure)> = Vec::new();
    // Without libjpeg-turbo, JPEG pixels are not Pillow's: their differences are statistics, not
    // failures. Per check, the largest distance of its values on each JPEG that differs.
    let mut fallback: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    // (name, reference quality, PDQ distance) of every JPEG, under the fallback decoder.
    let mut fallback_pdq: Vec<(&str, u8, u32)> = Vec::new();
    let exact_jpeg = cfg!(feature = "turbojpeg");
    let mut by_name: Vec<_> = results.iter().collect();
    by_name.sort_by_key(|(r, _)| manifest.iter().position(|m| m.name == r.name));
    for (row, checks) in &by_name {
        let lenient = row.is_jpeg && !exact_jpeg;
        let mut failed_checks: BTreeMap<&str, u32> = BTreeMap::new();
        for c in &checks.0 {
            if let Some(f) = &c.failure {
                let worst = failed_checks.entry(c.check.as_str()).or_insert_with(|| {
                    let t = tally.entry(c.check.clone()).or_default();
                    t[if row.is_jpeg { 3 } else { 1 }] += 1;
                    0
                });
                *worst = (*worst).max(f.distance.unwrap_or(u32::MAX));
                if !lenient {
                    failures.push((&row.name, row.is_jpeg, &c.check, f));
                }
            } else {
                let t = tally.entry(c.check.clone()).or_default();
                let base = if row.is_jpeg { 2 } else { 0 };
                t[base] += 1;
                t[base + 1] += 1;
            }
        }
        if lenient {
            let q = refs.pdq[&(row.name.clone(), "pdqhash".to_string())].quality;
            let d = failed_checks.get("pdq pdqhash hash").copied().unwrap_or(0);
            fallback_pdq.push((row.name.as_str(), q, d));
            for (check, worst) in failed_checks {
                fallback.entry(check.to_string()).or_default().push(worst);
            }
        }
    }

    let mut report = String::new();
    let n_png = manifest.iter().filter(|r| !r.is_jpeg).count();
    let n_jpeg = manifest.len() - n_png;
    let decoder = if exact_jpeg {
        "libjpeg-turbo"
    } else {
        "jpeg-decoder (pure Rust)"
    };
    let _ = writeln!(
        report,
        "reference fixtures: {} ({n_png} PNG, {n_jpeg} JPEG; JPEG decoder: {decoder}), {:.1?}",
        manifest.len(),
        started.elapsed()
    );
    let _ = writeln!(report, "{:<34} {:>9} {:>9}", "check", "PNG", "JPEG");
    for (check, [po, pn, jo, jn]) in &tally {
        let _ = writeln!(
            report,
            "{check:<34} {:>9} {:>9}",
            format!("{po}/{pn}"),
            format!("{jo}/{jn}")
        );
    }
    if !exact_jpeg {
        let _ = writeln!(
            report,
            "jpeg-decoder fallback: JPEG fixtures differing from the Pillow references (largest \
             distance per image; mean over all {n_jpeg} JPEGs, equal ones counting 0):"
        );
        for (check, d) in &fallback {
            let stats = if d.contains(&u32::MAX) {
                String::new() // a check of several kinds of value: no single distance
            } else {
                let max = d.iter().max().copied().unwrap_or(0);
                let mean = d.iter().map(|&x| x as f64).sum::<f64>() / n_jpeg.max(1) as f64;
                format!(", max {max}, mean {mean:.2}")
            };
            let _ = writeln!(
                report,
                "  {check:<34} {:>2}/{n_jpeg} differ{stats}",
                d.len()
            );
        }
        for (label, good) in [("quality >= 50", true), ("quality < 50", false)] {
            let d: Vec<u32> = fallback_pdq
                .iter()
                .filter(|&&(_, q, _)| (q >= pdq::MIN_QUALITY) == good)
                .map(|&(_, _, d)| d)
                .collect();
            let _ = writeln!(
                report,
                "  PDQ (pdqhash) on JPEGs with reference {label}: {}/{} differ, max {}, mean {:.2}",
                d.iter().filter(|&&x| x > 0).count(),
                d.len(),
                d.iter().max().copied().unwrap_or(0),
                d.iter().sum::<u32>() as f64 / d.len().max(1) as f64
            );
        }
        for (name, q, d) in fallback_pdq.iter().filter(|f| f.2 > 0) {
            let _ = writeln!(report, "    {name:<40} quality {q:>3}  PDQ distance {d}");
        }
    }
    println!("{report}");

    if !failures.is_empty() {
        let mut table = String::new();
        let _ = writeln!(
            table,
            "{} mismatches:\n{:<40} {:<4} {:<34} {:<16} {:>4}  expected / got",
            failures.len(),
            "fixture",
            "fmt",
            "check",
            "value",
            "dist"
        );
        for (name, is_jpeg, check, f) in &failures {
            let _ = writeln!(
                table,
                "{name:<40} {:<4} {check:<34} {:<16} {:>4}  {} / {}",
                if *is_jpeg { "jpg" } else { "png" },
                f.what,
                f.distance.map_or("-".into(), |d| d.to_string()),
                f.expected,
                f.got
            );
        }
        panic!("{report}\n{table}");
    }
    if !exact_jpeg {
        // Loose bound for the fallback decoder: a few levels of pixel difference must stay far
        // inside PDQ's match radius on images PDQ itself calls reliable (quality >= 50; on
        // smooth images many DCT coefficients sit near the median and flip freely).
        for &(name, q, d) in &fallback_pdq {
            assert!(
                q < pdq::MIN_QUALITY || d <= pdq::MATCH_DISTANCE / 2,
                "{name}: fallback JPEG drift {d} bits at quality {q}"
            );
        }
    }
}
