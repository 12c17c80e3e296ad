//! The corpus: originals from the synthetic generator, their hard-negative families, every
//! transform of every original, all hashed. Parallel over originals (rayon).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nearmatch_synth::{self as synth, Scene};
use rayon::prelude::*;
use serde::Serialize;

use crate::transform::{self, mix64, Transform};
use crate::variant::{ImageHashes, ALGORITHMS};
use crate::{Config, Error};

/// Aspect ratios (width, height) the originals cycle through, so every scene gets each shape.
const ASPECTS: [(u32, u32); 4] = [(4, 3), (3, 4), (1, 1), (16, 9)];

/// One original: what the generator is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct OriginalSpec {
    /// Position in the corpus.
    pub index: usize,
    /// The scene kind.
    #[serde(serialize_with = "scene_name")]
    pub scene: Scene,
    /// The generator seed.
    pub seed: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

fn scene_name<S: serde::Serializer>(s: &Scene, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.name())
}

impl OriginalSpec {
    /// The original's pixels.
    pub fn generate(&self) -> image::RgbImage {
        self.generate_variant(0)
    }

    /// Variant `v` of the original (same background and layout, other objects); 0 is itself.
    pub fn generate_variant(&self, v: u32) -> image::RgbImage {
        let img = synth::generate_variant(self.scene, self.width, self.height, self.seed, v);
        transform::to_rgb_image(&img)
    }
}

/// The originals of a run: scenes in turn, aspect ratios in turn, seeds derived from the run
/// seed, long side uniform in [0.8, 1.25] × `size`.
pub fn originals(cfg: &Config) -> Vec<OriginalSpec> {
    (0..cfg.n)
        .map(|i| {
            let scene = Scene::ALL[i % Scene::ALL.len()];
            let (aw, ah) = ASPECTS[(i / Scene::ALL.len()) % ASPECTS.len()];
            let seed = mix64(cfg.seed ^ mix64(i as u64 + 1));
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
                scene,
                seed,
                width,
                height,
            }
        })
        .collect()
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
}

/// One line of the `--save-images` manifest.
struct ManifestRow {
    file: String,
    original: usize,
    kind: String,
    hashes: ImageHashes,
}

/// Generates, transforms and hashes the whole corpus. `progress` is called once per finished
/// original (from worker threads).
pub fn build(cfg: &Config, progress: &(dyn Fn() + Sync)) -> Result<Corpus, Error> {
    let specs = originals(cfg);
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
    let mut corpus = Corpus {
        specs,
        originals: Vec::with_capacity(cfg.n),
        hard: Vec::with_capacity(cfg.n),
        queries: Vec::with_capacity(cfg.n),
    };
    for (o, h, q) in per_original {
        corpus.originals.push(o);
        corpus.hard.push(h);
        corpus.queries.push(q);
    }
    Ok(corpus)
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
    let original = spec.generate();
    let core_original = transform::to_image(original.clone());
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
        let img = transform::to_image(spec.generate_variant(v));
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
