//! The corpus: originals from the synthetic generator (or a reviewer's folder of images, with
//! `--images`), their hard-negative families, every transform of every original, all hashed.
//! Parallel over originals (rayon).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nearmatch::Image;
use nearmatch_synth::{self as synth, Scene};
use rayon::prelude::*;
use serde::Serialize;

use crate::transform::{self, mix64, Transform};
use crate::variant::{ImageHashes, ALGORITHMS};
use crate::{Config, CorpusKind, Error};

/// Aspect ratios (width, height) the originals cycle through, so every scene gets each shape.
const ASPECTS: [(u32, u32); 4] = [(4, 3), (3, 4), (1, 1), (16, 9)];

/// The largest image file `--images` reads (a reviewer's folder may hold anything).
const MAX_IMAGE_FILE: u64 = 256 << 20;

/// One original: what the generator is asked for, or the file it is read from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OriginalSpec {
    /// Position in the corpus.
    pub index: usize,
    /// The scene kind (synthetic originals).
    #[serde(serialize_with = "scene_name", skip_serializing_if = "Option::is_none")]
    pub scene: Option<Scene>,
    /// The image file (originals from `--images`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
    /// The seed its transforms' seeds derive from (and the generator's, for synthetic ones).
    pub seed: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The JPEG quality of the camera's encode the original went through (photo-like
    /// originals), none for pixels kept as generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub camera_jpeg: Option<u8>,
}

/// The picture after a camera's JPEG encode at quality `q` and a decode: photographs arrive
/// with a JPEG history (block structure, ringing, chroma loss), which changes what a crop or a
/// pad does to them.
fn camera_jpeg(img: &Image, q: u8) -> Result<Image, Error> {
    let jpeg = synth::encode_jpeg(img, q);
    nearmatch::decode::decode(&jpeg, &nearmatch::decode::Limits::default())
        .map(|d| d.image)
        .map_err(|e| Error::Config(format!("decoding a generated JPEG failed: {e}")))
}

fn scene_name<S: serde::Serializer>(s: &Option<Scene>, ser: S) -> Result<S::Ok, S::Error> {
    match s {
        Some(s) => ser.serialize_str(s.name()),
        None => ser.serialize_none(),
    }
}

impl OriginalSpec {
    /// The original's pixels: generated, or decoded from its file (as the pipeline decodes it,
    /// then as RGB for the transforms).
    pub fn pixels(&self) -> Result<(Image, image::RgbImage), Error> {
        match &self.file {
            Some(path) => {
                let img = decode_file(path)?;
                let rgb = transform::to_rgb_image(&img);
                Ok((img, rgb))
            }
            None => {
                let rgb = self.generate_variant(0)?;
                Ok((transform::to_image(rgb.clone()), rgb))
            }
        }
    }

    /// Variant `v` of a synthetic original (same background and layout, other objects); 0 is
    /// itself. Originals read from files have no variants.
    pub fn generate_variant(&self, v: u32) -> Result<image::RgbImage, Error> {
        let Some(scene) = self.scene else {
            return Err(Error::Config(format!(
                "original {} is a file: it has no generator variants",
                self.index
            )));
        };
        let img = synth::generate_variant(scene, self.width, self.height, self.seed, v);
        let img = match self.camera_jpeg {
            Some(q) => camera_jpeg(&img, q)?,
            None => img,
        };
        Ok(transform::to_rgb_image(&img))
    }
}

/// Decodes one image file of `--images` / `--negatives` as the scan would (default limits).
pub fn decode_file(path: &Path) -> Result<Image, Error> {
    let bad = |why: String| Error::Image {
        path: path.to_path_buf(),
        why,
    };
    let len = fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if len > MAX_IMAGE_FILE {
        return Err(bad(format!(
            "{len} bytes, larger than the {} MiB an eval image may have",
            MAX_IMAGE_FILE >> 20
        )));
    }
    let bytes = fs::read(path).map_err(|e| Error::io(path, e))?;
    let decoded = nearmatch::decode::decode(&bytes, &nearmatch::decode::Limits::default())
        .map_err(|e| bad(e.to_string()))?;
    Ok(decoded.image)
}

/// The seed of original number `i` of a run: synthetic scenes and image files alike, so that the
/// same pixels at the same position get the same transforms.
fn original_seed(run_seed: u64, i: usize) -> u64 {
    mix64(run_seed ^ mix64(i as u64 + 1))
}

/// The originals of a synthetic run: scenes in turn, aspect ratios in turn, seeds derived from
/// the run seed, long side uniform in [0.8, 1.25] × `size`.
pub fn originals(cfg: &Config) -> Vec<OriginalSpec> {
    let scenes: &[Scene] = match cfg.corpus {
        CorpusKind::Classic => &Scene::ALL,
        CorpusKind::Photo => &[Scene::Photo],
    };
    (0..cfg.n)
        .map(|i| {
            let scene = scenes[i % scenes.len()];
            let (aw, ah) = ASPECTS[(i / scenes.len()) % ASPECTS.len()];
            let seed = original_seed(cfg.seed, i);
            // Most photographs were a camera's JPEG (quality 75–95); some were kept lossless.
            let camera_jpeg = (cfg.corpus == CorpusKind::Photo).then(|| {
                let h = mix64(seed ^ 0xCA_3E8A);
                (h % 10 < 8).then(|| 75 + ((h >> 8) % 21) as u8)
            });
            // Long side uniform in [0.8, 1.25] x size: real files come in every size, and some
            // hash steps depend on it (PDQ's box-filter and decimation phases decide whether
            // its dihedral hashes are exactly those of the mirrored image).
            let u = (mix64(seed ^ 0x51_2E) >> 11) as f64 / (1u64 << 53) as f64;
            let long = ((f64::from(cfg.size) * (0.8 + 0.45 * u)).round() as u32).max(16);
            let (width, height) = if aw >= ah {
                (long, (long * ah / aw).max(1))
            } else {
                ((long * aw / ah).max(1), long)
            };
            OriginalSpec {
                index: i,
                scene: Some(scene),
                file: None,
                seed,
                width,
                height,
                camera_jpeg: camera_jpeg.flatten(),
            }
        })
        .collect()
}

/// The regular files directly in `dir` and below it, sorted by path (hidden ones included: a
/// reviewer's folder is read whole, and what is not an image is reported, not skipped).
pub fn image_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A file of `--images` or `--negatives` left out of the run, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// The file.
    pub file: PathBuf,
    /// Why it is not in the run (it did not decode, or is too large).
    pub reason: String,
}

/// The seed of transform number `ti` (its position in the run's list) of an original.
pub fn transform_seed(spec: &OriginalSpec, ti: usize) -> u64 {
    mix64(spec.seed ^ mix64(0x7A5F_0000 + ti as u64))
}

/// Everything hashed for one run.
#[derive(Debug)]
pub struct Corpus {
    /// The originals.
    pub specs: Vec<OriginalSpec>,
    /// Hashes of each original (what a list holds).
    pub originals: Vec<ImageHashes>,
    /// Hashes of each original's hard negatives, variants 1..=K.
    pub hard: Vec<Vec<ImageHashes>>,
    /// Hashes of each transform of each original: `queries[original][transform]`.
    pub queries: Vec<Vec<ImageHashes>>,
    /// Hashes of the unrelated images of `--negatives` (never transformed; negatives only).
    pub distractors: Vec<ImageHashes>,
    /// The files of `--negatives`, in `distractors` order.
    pub distractor_files: Vec<PathBuf>,
    /// Files of `--images` / `--negatives` that could not be used.
    pub skipped: Vec<SkippedFile>,
}

/// One line of the `--save-images` manifest.
struct ManifestRow {
    file: String,
    original: usize,
    kind: String,
    hashes: ImageHashes,
}

/// Generates (or reads), transforms and hashes the whole corpus. `progress` is called once per
/// finished original (from worker threads).
pub fn build(cfg: &Config, progress: &(dyn Fn() + Sync)) -> Result<Corpus, Error> {
    let mut skipped = Vec::new();
    let specs = match &cfg.images {
        Some(dir) => file_originals(dir, cfg.seed, &mut skipped)?,
        None => originals(cfg),
    };
    if let Some(dir) = &cfg.save_images {
        fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let manifest = Mutex::new(Vec::<ManifestRow>::new());
    let per_original: Vec<(ImageHashes, Vec<ImageHashes>, Vec<ImageHashes>)> = specs
        .par_iter()
        .map(|spec| {
            let r = one_original(cfg, spec, &cfg.transforms, &manifest);
            progress();
            r
        })
        .collect::<Result<_, Error>>()?;
    if let Some(dir) = &cfg.save_images {
        write_manifest(dir, manifest.into_inner().expect("no panics hold the lock"))?;
    }
    let (distractor_files, distractors) = match &cfg.negatives {
        Some(dir) => negatives(cfg, dir, &mut skipped)?,
        None => (Vec::new(), Vec::new()),
    };
    let mut corpus = Corpus {
        originals: Vec::with_capacity(specs.len()),
        hard: Vec::with_capacity(specs.len()),
        queries: Vec::with_capacity(specs.len()),
        specs,
        distractors,
        distractor_files,
        skipped,
    };
    for (o, h, q) in per_original {
        corpus.originals.push(o);
        corpus.hard.push(h);
        corpus.queries.push(q);
    }
    Ok(corpus)
}

/// The originals of an `--images` run: every file under `dir` that decodes, in path order;
/// the others go to `skipped`.
fn file_originals(
    dir: &Path,
    run_seed: u64,
    skipped: &mut Vec<SkippedFile>,
) -> Result<Vec<OriginalSpec>, Error> {
    let files = image_files(dir)?;
    // Decoded whole here so that every file that cannot be used is known (and reported) before
    // the run; the pixels are decoded again, one original at a time, so that a folder of large
    // photographs is never all in memory.
    let probed: Vec<Result<(u32, u32), String>> = files
        .par_iter()
        .map(|f| {
            decode_file(f)
                .map(|i| (i.width(), i.height()))
                .map_err(|e| e.to_string())
        })
        .collect();
    let mut specs = Vec::new();
    for (file, dims) in files.into_iter().zip(probed) {
        match dims {
            Ok((width, height)) => {
                let index = specs.len();
                specs.push(OriginalSpec {
                    index,
                    scene: None,
                    file: Some(file),
                    seed: original_seed(run_seed, index),
                    width,
                    height,
                    camera_jpeg: None,
                });
            }
            Err(reason) => skipped.push(SkippedFile { file, reason }),
        }
    }
    Ok(specs)
}

/// The hashes of every image under `dir` (`--negatives`), in path order; the others go to
/// `skipped`.
fn negatives(
    cfg: &Config,
    dir: &Path,
    skipped: &mut Vec<SkippedFile>,
) -> Result<(Vec<PathBuf>, Vec<ImageHashes>), Error> {
    let families = crate::variant::probe_families(&cfg.variants);
    let files = image_files(dir)?;
    let hashed: Vec<Result<ImageHashes, String>> = files
        .par_iter()
        .map(|f| {
            decode_file(f)
                .map(|img| ImageHashes::with_probes(&img, families))
                .map_err(|e| e.to_string())
        })
        .collect();
    let (mut kept, mut hashes) = (Vec::new(), Vec::new());
    for (file, h) in files.into_iter().zip(hashed) {
        match h {
            Ok(h) => {
                kept.push(file);
                hashes.push(h);
            }
            Err(reason) => skipped.push(SkippedFile { file, reason }),
        }
    }
    Ok((kept, hashes))
}

type Hashed = (ImageHashes, Vec<ImageHashes>, Vec<ImageHashes>);

fn one_original(
    cfg: &Config,
    spec: &OriginalSpec,
    transforms: &[Transform],
    manifest: &Mutex<Vec<ManifestRow>>,
) -> Result<Hashed, Error> {
    let save = cfg.save_images.as_deref();
    let families = crate::variant::probe_families(&cfg.variants);
    let stem = format!("o{:05}", spec.index);
    let mut rows = Vec::new();
    let (core_original, original) = spec.pixels()?;
    let hashes = ImageHashes::with_probes(&core_original, families);
    if let Some(dir) = save {
        let file = format!("{stem}.png");
        write(dir, &file, &synth::encode_png(&core_original))?;
        rows.push(ManifestRow {
            file,
            original: spec.index,
            kind: "original".into(),
            hashes: hashes.clone(),
        });
    }
    let mut hard = Vec::with_capacity(cfg.hard_negatives as usize);
    for v in 1..=cfg.hard_negatives {
        let img = transform::to_image(spec.generate_variant(v)?);
        let h = ImageHashes::with_probes(&img, families);
        if let Some(dir) = save {
            let file = format!("{stem}-hard{v}.png");
            write(dir, &file, &synth::encode_png(&img))?;
            rows.push(ManifestRow {
                file,
                original: spec.index,
                kind: format!("hard{v}"),
                hashes: h.clone(),
            });
        }
        hard.push(h);
    }
    let mut queries = Vec::with_capacity(transforms.len());
    for (ti, tr) in transforms.iter().enumerate() {
        let seed = transform_seed(spec, ti);
        let out = transform::apply(tr.op, &original, seed)
            .map_err(|e| Error::Transform(format!("{} of original {}: {e}", tr.id, spec.index)))?;
        let h = match &out.jpeg {
            Some(j) => ImageHashes::of_jpeg(&out.image, j, families).map_err(|e| {
                Error::Transform(format!(
                    "fast decode of {} of original {}: {e}",
                    tr.id, spec.index
                ))
            })?,
            None => ImageHashes::with_probes(&out.image, families),
        };
        if let Some(dir) = save {
            let (file, bytes) = match &out.jpeg {
                Some(j) => (format!("{stem}-{}.jpg", tr.id), j.clone()),
                None => (
                    format!("{stem}-{}.png", tr.id),
                    synth::encode_png(&out.image),
                ),
            };
            write(dir, &file, &bytes)?;
            rows.push(ManifestRow {
                file,
                original: spec.index,
                kind: tr.id.clone(),
                hashes: h.clone(),
            });
        }
        queries.push(h);
    }
    if save.is_some() {
        manifest
            .lock()
            .expect("no panics hold the lock")
            .extend(rows);
    }
    Ok((hashes, hard, queries))
}

fn write(dir: &Path, file: &str, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(file);
    fs::write(&path, bytes).map_err(|e| Error::io(&path, e))
}

/// `manifest.csv`: file, original, kind, and nearmatch's hashes of it (for the peers script).
fn write_manifest(dir: &Path, mut rows: Vec<ManifestRow>) -> Result<(), Error> {
    rows.sort_by(|a, b| (a.original, &a.file).cmp(&(b.original, &b.file)));
    let path: PathBuf = dir.join("manifest.csv");
    let mut out = String::from("file,original,kind,pdq_quality");
    for a in ALGORITHMS {
        out.push(',');
        out.push_str(a.name());
    }
    out.push('\n');
    for r in rows {
        out.push_str(&format!(
            "{},{},{},{}",
            r.file,
            r.original,
            r.kind,
            r.hashes
                .pdq_quality
                .map(|q| q.to_string())
                .unwrap_or_default()
        ));
        for a in ALGORITHMS {
            out.push(',');
            if let Some(d) = r.hashes.digest(a) {
                out.push_str(&d.to_hex());
            }
        }
        out.push('\n');
    }
    let mut f = fs::File::create(&path).map_err(|e| Error::io(&path, e))?;
    f.write_all(out.as_bytes()).map_err(|e| Error::io(&path, e))
}
