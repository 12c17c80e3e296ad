//! `nearmatch eval`: the match-accuracy benchmark on synthetic images, or on a reviewer's own
//! folder of images (nearmatch-eval).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Args;

use crate::exit::{usage, CliError, ExitCode, WithCode};
use crate::hashing::thread_pool;

/// `--corpus`: which generated originals.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CorpusArg {
    /// The calibrated photo-like corpus.
    Photo,
    /// The seven classic scenes.
    Classic,
}

/// Arguments of `nearmatch eval`.
#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Number of synthetic originals (scenes in turn).
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Run seed: the same seed gives the same corpus and the same numbers.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Output directory for results.json, plots/*.svg and report.html (created if missing).
    #[arg(long, short = 'o', default_value = "nearmatch-eval")]
    pub out: PathBuf,
    /// Typical long side of the originals in pixels (each is 0.8–1.25 × this).
    #[arg(long, default_value_t = 320)]
    pub size: u32,
    /// Which generated originals: `photo`, the calibrated photo-like corpus (PDQ behaves on it
    /// as on photographs), or `classic`, the seven scenes of results before it.
    #[arg(long, value_enum, default_value_t = CorpusArg::Photo)]
    pub corpus: CorpusArg,
    /// Hard negatives per original (same scene and background, other foreground objects); 2
    /// for synthetic originals, none with --images.
    #[arg(long)]
    pub hard_negatives: Option<u32>,
    /// Use the image files under DIR as the originals instead of generating them (benign
    /// material you may use; --n and --size do not apply). Files that do not decode are listed
    /// as skipped.
    #[arg(long, value_name = "DIR")]
    pub images: Option<PathBuf>,
    /// Unrelated images under DIR join the negatives (never transformed); needs --images.
    #[arg(long, value_name = "DIR", requires = "images")]
    pub negatives: Option<PathBuf>,
    /// Also write every corpus image (PNG; JPEG for JPEG transforms) and manifest.csv here, for
    /// benches/eval_peers.py.
    #[arg(long, value_name = "DIR")]
    pub save_images: Option<PathBuf>,
    /// Only these transforms (rows): comma-separated ids or families (`crop,rotate-2,flip`).
    #[arg(long, value_name = "LIST")]
    pub transforms: Option<String>,
    /// Only these hash variants (columns): comma-separated ids (`pdq,pdq-probes`).
    #[arg(long, value_name = "LIST")]
    pub variants: Option<String>,
    /// Match radius of the probe variants' extra probes (the plain probe keeps 31).
    #[arg(long, value_name = "R", default_value_t = nearmatch::probe::DEFAULT_PROBE_RADIUS)]
    pub probe_radius: u32,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Show progress even when standard error is not a terminal.
    #[arg(long)]
    pub progress: bool,
    /// No progress bar on standard error.
    #[arg(long, short = 'q', conflicts_with = "progress")]
    pub quiet: bool,
}

/// Runs `nearmatch eval`: the tables go to standard output, the files into `--out`.
pub fn run_eval(args: EvalArgs) -> Result<ExitCode, CliError> {
    if args.images.is_some() && args.hard_negatives.is_some_and(|k| k > 0) {
        return Err(usage(
            "--hard-negatives needs generated originals: with --images, give unrelated images with --negatives DIR"
                .to_string(),
        ));
    }
    for dir in [&args.images, &args.negatives].into_iter().flatten() {
        if !dir.is_dir() {
            return Err(usage(format!("{}: not a folder", dir.display())));
        }
    }
    if args.n < 2 {
        return Err(usage(format!(
            "--n must be at least 2 (negatives are pairs of originals), got {}",
            args.n
        )));
    }
    if args.size < 16 {
        return Err(usage(format!(
            "--size must be at least 16 px, got {}",
            args.size
        )));
    }
    let mut cfg = nearmatch_eval::Config {
        corpus: match args.corpus {
            CorpusArg::Photo => nearmatch_eval::CorpusKind::Photo,
            CorpusArg::Classic => nearmatch_eval::CorpusKind::Classic,
        },
        n: args.n,
        seed: args.seed,
        size: args.size,
        hard_negatives: args
            .hard_negatives
            .unwrap_or(if args.images.is_some() { 0 } else { 2 }),
        save_images: args.save_images.clone(),
        images: args.images.clone(),
        negatives: args.negatives.clone(),
        ..nearmatch_eval::Config::default()
    };
    if let Some(list) = &args.transforms {
        cfg.transforms = nearmatch_eval::transform::select(list).map_err(usage)?;
    }
    if let Some(list) = &args.variants {
        cfg.variants = nearmatch_eval::variant::select(list).map_err(usage)?;
    }
    if args.probe_radius > nearmatch::hash::pdq::MATCH_DISTANCE {
        return Err(usage(format!(
            "--probe-radius {} exceeds PDQ's radius {}",
            args.probe_radius,
            nearmatch::hash::pdq::MATCH_DISTANCE
        )));
    }
    nearmatch_eval::variant::set_probe_radius(&mut cfg.variants, args.probe_radius);
    let pool = thread_pool(args.threads)?;
    let show = !args.quiet && (args.progress || std::io::stderr().is_terminal());
    let bar = if show {
        let total = match &args.images {
            Some(dir) => nearmatch_eval::corpus::image_files(dir).map_or(0, |f| f.len()),
            None => args.n,
        };
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} originals ({per_sec}), ETA {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let tick = || bar.inc(1);
    let results = pool
        .install(|| nearmatch_eval::run(&cfg, &tick))
        .map_err(|e| match e {
            nearmatch_eval::Error::Config(_) => CliError {
                code: ExitCode::USAGE,
                error: anyhow::Error::new(e),
            },
            nearmatch_eval::Error::Io { .. } => CliError {
                code: ExitCode::CANT_WRITE,
                error: e.into(),
            },
            other => CliError {
                code: ExitCode::DATA,
                error: anyhow::Error::new(other).context("eval failed"),
            },
        })?;
    bar.finish_and_clear();
    let path = nearmatch_eval::write_results(&results, &args.out).code(ExitCode::CANT_WRITE)?;
    nearmatch_eval::report::write(&results, &args.out).map_err(|e| CliError {
        code: ExitCode::CANT_WRITE,
        error: anyhow::Error::new(e).context("writing the plots and report.html"),
    })?;
    print!("{}", nearmatch_eval::table::all(&results));
    if !results.skipped_files.is_empty() {
        eprintln!(
            "nearmatch: {} files skipped (not usable images; listed above and in results.json)",
            results.skipped_files.len()
        );
    }
    if !args.quiet {
        eprintln!(
            "nearmatch: eval of {} originals x {} transforms in {:.1} s (+{:.1} s metrics, {} threads); wrote {}",
            results.n,
            results.transforms.len(),
            results.timing.corpus_seconds,
            results.timing.metrics_seconds,
            results.timing.threads,
            path.display()
        );
    }
    Ok(ExitCode::OK)
}
