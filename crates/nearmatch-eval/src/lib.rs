//! nearmatch-eval: the match-accuracy benchmark behind `nearmatch eval`.
//!
//! It generates benign synthetic originals (every scene of [`nearmatch_synth`]) and their
//! hard-negative families (same scene and background, other foreground objects), applies a
//! transform suite with severities ([`transform::suite`]), hashes everything with every hash
//! variant ([`variant::variants`]: PDQ, PDQ with dihedral probes, PDQ with the quality gate,
//! pHash 64/256, dHash, aHash, wHash), stores the distances ([`distances`]) and derives every
//! metric from them ([`metrics`]).
//!
//! Synthetic negatives are lighter-tailed than real photographs (unrelated synthetic images are
//! more different than unrelated real ones), so the false-positive rates measured here are lower
//! bounds; positive distances (robustness to the transforms) are fair.
//!
//! ```
//! let cfg = nearmatch_eval::Config { n: 7, size: 64, ..nearmatch_eval::Config::default() };
//! let results = nearmatch_eval::run(&cfg, &|| {}).unwrap();
//! assert_eq!(results.n, 7);
//! let pdq = &results.metrics[0];
//! assert_eq!(pdq.variant, "pdq");
//! assert_eq!(pdq.transforms.len(), nearmatch_eval::transform::suite().len());
//! ```

pub mod corpus;
pub mod distances;
pub mod fast;
pub mod metrics;
pub mod report;
pub mod stats;
pub mod table;
pub mod transform;
pub mod variant;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use corpus::OriginalSpec;
use distances::VariantDistances;
use metrics::VariantMetrics;
use stats::Proportion;
use transform::Transform;
use variant::HashVariant;

/// Everything that can go wrong in an eval run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A transform could not be applied.
    #[error("transform failed: {0}")]
    Transform(String),
    /// Writing an output file failed.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is unusable.
    #[error("invalid eval configuration: {0}")]
    Config(String),
    /// An image of `--images` / `--negatives` cannot be used.
    #[error("{path}: {why}")]
    Image {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The core library failed.
    #[error(transparent)]
    Core(#[from] nearmatch::Error),
    /// Drawing a plot failed.
    #[error("cannot draw plot: {0}")]
    Plot(String),
    /// Serialising the results failed.
    #[error("cannot serialise results: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Which generated originals a synthetic run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CorpusKind {
    /// The calibrated photo-like corpus ([`nearmatch_synth::Scene::Photo`], each original with
    /// a camera's JPEG history): PDQ behaves on it as on photographs (issue #24).
    #[default]
    Photo,
    /// The seven classic scenes in turn (gradients, textures, clutter, landscapes, rooms,
    /// products, documents), as results before issue #24 used.
    Classic,
}

impl CorpusKind {
    /// The name `--corpus` takes and the results store.
    pub fn name(self) -> &'static str {
        match self {
            CorpusKind::Photo => "photo",
            CorpusKind::Classic => "classic",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Which generated originals (synthetic runs).
    pub corpus: CorpusKind,
    /// Number of originals.
    pub n: usize,
    /// Run seed (originals' seeds derive from it).
    pub seed: u64,
    /// Typical long side of the originals in pixels (each is 0.8–1.25 × this).
    pub size: u32,
    /// Hard negatives per original (variants 1..=K of its scene).
    pub hard_negatives: u32,
    /// The transforms (rows).
    pub transforms: Vec<Transform>,
    /// The hash variants (columns).
    pub variants: Vec<HashVariant>,
    /// Write every image of the corpus here (PNG, or the JPEG for JPEG transforms) with a
    /// `manifest.csv` of nearmatch's hashes, for the peers script.
    pub save_images: Option<PathBuf>,
    /// Read the originals from the image files under this folder instead of generating them
    /// (`n`, `size` and hard negatives do not apply).
    pub images: Option<PathBuf>,
    /// Unrelated images under this folder join the negatives (never transformed).
    pub negatives: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            corpus: CorpusKind::default(),
            n: 2000,
            seed: 1,
            size: 320,
            hard_negatives: 2,
            transforms: transform::suite(),
            variants: variant::variants(),
            save_images: None,
            images: None,
            negatives: None,
        }
    }
}

/// The generator identification stored with the results.
#[derive(Clone, Debug, Serialize)]
pub struct GeneratorInfo {
    /// The generator.
    pub name: &'static str,
    /// Its output version ([`nearmatch_synth::GENERATOR_VERSION`]).
    pub version: u32,
    /// The corpus of a synthetic run (`photo` or `classic`).
    pub corpus: &'static str,
    /// The nearmatch crate version.
    pub nearmatch_version: &'static str,
}

/// A transform as described in the results.
#[derive(Clone, Debug, Serialize)]
pub struct TransformInfo {
    /// Identifier.
    pub id: String,
    /// Family for severity curves.
    pub family: &'static str,
    /// Severity on the family's axis.
    pub severity: Option<f64>,
}

/// The PDQ quality distribution and the share below the gate.
#[derive(Clone, Debug, Serialize)]
pub struct QualityReport {
    /// Originals per quality bucket: `[0,10), [10,20), …, [90,100]`.
    pub originals_histogram: Vec<u64>,
    /// Originals below quality 50, per scene: (scene, below, total).
    pub originals_below_gate_by_scene: Vec<(String, u64, u64)>,
    /// Per transform: copies below quality 50 (or unhashable).
    pub below_gate_by_transform: Vec<(String, Proportion)>,
    /// `originals[i]`: quality of original i.
    pub originals: Vec<Option<u8>>,
    /// `transforms[t][i]`: quality of transform t of original i.
    pub transforms: Vec<Vec<Option<u8>>>,
}

/// Wall-clock seconds of the phases.
#[derive(Clone, Debug, Serialize)]
pub struct Timing {
    /// Generating, transforming and hashing.
    pub corpus_seconds: f64,
    /// Distances and metrics.
    pub metrics_seconds: f64,
    /// rayon threads used.
    pub threads: usize,
}

/// Everything a run produces: `results.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Results {
    /// The tool.
    pub tool: String,
    /// The generator.
    pub generator: GeneratorInfo,
    /// Where the originals come from: `synthetic`, or the folder given to `--images`.
    pub source: String,
    /// The folder of unrelated images given to `--negatives`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub negatives_source: Option<PathBuf>,
    /// The files of `--negatives` used as negatives, in order.
    pub negative_files: Vec<PathBuf>,
    /// Files of `--images` / `--negatives` left out, with the reason.
    pub skipped_files: Vec<corpus::SkippedFile>,
    /// Run seed.
    pub seed: u64,
    /// Number of originals.
    pub n: usize,
    /// Typical long side of synthetic originals (0 for `--images`).
    pub size: u32,
    /// Hard negatives per original.
    pub hard_negatives_per_original: u32,
    /// Definitions of the metrics, in words.
    pub protocol: Vec<&'static str>,
    /// The originals.
    pub originals: Vec<OriginalSpec>,
    /// The transforms (rows).
    pub transforms: Vec<TransformInfo>,
    /// The variants (columns).
    pub variants: Vec<HashVariant>,
    /// Metrics per variant, in variant order.
    pub metrics: Vec<VariantMetrics>,
    /// PDQ quality.
    pub quality: QualityReport,
    /// The distances every metric is computed from, per variant.
    pub distances: Vec<VariantDistances>,
    /// Phase timings.
    pub timing: Timing,
    /// Fast mode against exact mode: exact-vs-fast distances and TPR drops (issue #8).
    pub fast_mode: fast::FastAgreement,
}

/// Words stored with the results so they can be read without this source.
pub const PROTOCOL: [&str; 6] = [
    "positive: each transformed copy against its own original; distance = minimum over the copy's probe digests to the original's plain digest; a copy with no probe (unhashable or below the quality gate) is a miss",
    "TPR at t = copies within t / N originals, per transform, with Clopper-Pearson 95% intervals",
    "negatives: every pair of distinct untransformed originals (i < j; j's probes against i's digest); FPR at t = pairs within t / all pairs; the threshold for target alpha is the largest t with FPR <= alpha, supported when pairs >= 3/alpha",
    "hard negatives: every pair within a family (an original and its generator variants: same scene and background, other foreground objects)",
    "recall at precision >= 99.99% (Thorn's protocol): per copy its positive distance and its distance to the nearest other original; thresholds rise from 0 and stop before precision TP/(TP+FP) first drops below 99.99%; recall = TP/N",
    "synthetic negatives are lighter-tailed than real photographs, so the FPRs here are lower bounds; positive distances (robustness) are fair",
];

/// Runs the whole benchmark; `progress` is called once per finished original.
pub fn run(cfg: &Config, progress: &(dyn Fn() + Sync)) -> Result<Results, Error> {
    if cfg.images.is_none() {
        if cfg.n < 2 {
            return Err(Error::Config(format!(
                "need at least 2 originals (negatives are pairs), got {}",
                cfg.n
            )));
        }
        if cfg.size < 16 {
            return Err(Error::Config(format!(
                "image size {} is too small (at least 16 px: the transforms shrink images 4x)",
                cfg.size
            )));
        }
        if cfg.negatives.is_some() {
            return Err(Error::Config(
                "negatives from a folder need originals from a folder (--images)".into(),
            ));
        }
    } else if cfg.hard_negatives > 0 {
        return Err(Error::Config(
            "originals read from files have no generated hard negatives (set them to 0; give unrelated images as negatives instead)".into(),
        ));
    }
    let t0 = Instant::now();
    let corpus = corpus::build(cfg, progress)?;
    if let Some(dir) = &cfg.images {
        if corpus.specs.len() < 2 {
            return Err(Error::Config(format!(
                "{} holds {} usable image(s): at least 2 are needed (negatives are pairs){}",
                dir.display(),
                corpus.specs.len(),
                match corpus.skipped.first() {
                    Some(s) => format!(
                        "; {} skipped, e.g. {}: {}",
                        corpus.skipped.len(),
                        s.file.display(),
                        s.reason
                    ),
                    None => String::new(),
                }
            )));
        }
    }
    let corpus_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let transform_ids: Vec<String> = cfg.transforms.iter().map(|t| t.id.clone()).collect();
    let mut distances = Vec::with_capacity(cfg.variants.len());
    let mut metrics = Vec::with_capacity(cfg.variants.len());
    for v in &cfg.variants {
        let d = distances::compute(&corpus, v)?;
        metrics.push(metrics::compute(v, &d, &transform_ids));
        distances.push(d);
    }
    let quality = quality_report(&corpus, &transform_ids);
    let fast_mode = fast::compute(&corpus, &transform_ids, &metrics);
    Ok(Results {
        tool: format!("nearmatch-eval {}", env!("CARGO_PKG_VERSION")),
        generator: GeneratorInfo {
            // The generator's name in stored results since it was the core's `synth` module: kept so
            // results stay comparable.
            name: "nearmatch::synth",
            version: nearmatch_synth::GENERATOR_VERSION,
            corpus: cfg.corpus.name(),
            nearmatch_version: nearmatch_version(),
        },
        source: match &cfg.images {
            Some(dir) => dir.display().to_string(),
            None => "synthetic".into(),
        },
        negatives_source: cfg.negatives.clone(),
        negative_files: corpus.distractor_files.clone(),
        skipped_files: corpus.skipped.clone(),
        seed: cfg.seed,
        n: corpus.specs.len(),
        size: if cfg.images.is_some() { 0 } else { cfg.size },
        hard_negatives_per_original: cfg.hard_negatives,
        protocol: PROTOCOL.to_vec(),
        originals: corpus.specs.clone(),
        transforms: cfg
            .transforms
            .iter()
            .map(|t| TransformInfo {
                id: t.id.clone(),
                family: t.family,
                severity: t.severity,
            })
            .collect(),
        variants: cfg.variants.clone(),
        metrics,
        quality,
        distances,
        timing: Timing {
            corpus_seconds,
            metrics_seconds: t1.elapsed().as_secs_f64(),
            threads: rayon::current_num_threads(),
        },
        fast_mode,
    })
}

fn nearmatch_version() -> &'static str {
    // The workspace shares one version.
    env!("CARGO_PKG_VERSION")
}

fn quality_report(corpus: &corpus::Corpus, transform_ids: &[String]) -> QualityReport {
    let gate = nearmatch::hash::pdq::MIN_QUALITY;
    let originals: Vec<Option<u8>> = corpus.originals.iter().map(|h| h.pdq_quality).collect();
    let mut histogram = vec![0u64; 10];
    for q in originals.iter().flatten() {
        histogram[(usize::from(*q) / 10).min(9)] += 1;
    }
    // Per scene for synthetic originals; one row for originals read from files.
    let groups: Vec<(String, Vec<usize>)> = if corpus.specs.iter().all(|o| o.scene.is_none()) {
        vec![("files".into(), (0..corpus.specs.len()).collect())]
    } else {
        nearmatch_synth::Scene::ALL
            .iter()
            .map(|&s| {
                let idx = corpus
                    .specs
                    .iter()
                    .filter(|o| o.scene == Some(s))
                    .map(|o| o.index)
                    .collect();
                (s.name().to_string(), idx)
            })
            .collect()
    };
    let by_scene = groups
        .into_iter()
        .map(|(name, idx)| {
            let below = idx
                .iter()
                .filter(|&&i| originals[i].is_none_or(|q| q < gate))
                .count() as u64;
            (name, below, idx.len() as u64)
        })
        .collect();
    let transforms: Vec<Vec<Option<u8>>> = (0..transform_ids.len())
        .map(|t| corpus.queries.iter().map(|q| q[t].pdq_quality).collect())
        .collect();
    let below_gate_by_transform = transform_ids
        .iter()
        .zip(&transforms)
        .map(|(id, qs)| {
            let below = qs.iter().filter(|q| q.is_none_or(|q| q < gate)).count() as u64;
            (id.clone(), Proportion::new(below, qs.len() as u64))
        })
        .collect();
    QualityReport {
        originals_histogram: histogram,
        originals_below_gate_by_scene: by_scene,
        below_gate_by_transform,
        originals,
        transforms,
    }
}

/// Writes `results.json` into `dir` (created if missing) and returns its path.
pub fn write_results(results: &Results, dir: &Path) -> Result<PathBuf, Error> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join("results.json");
    let json = serde_json::to_vec(results)?;
    std::fs::write(&path, json).map_err(|e| Error::io(&path, e))?;
    Ok(path)
}
