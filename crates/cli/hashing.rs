//! `nearmatch hash` and `nearmatch compare`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use nearmatch::decode::orientation::OrientationMode;
use nearmatch::hash::file::{hash_bytes, FileHashes, HashMode, HashOptions};
use nearmatch::hash::pdq::Profile;
use nearmatch::hash::resample::PillowVersion;
use nearmatch::hash::Algorithm;
use rayon::prelude::*;

use crate::exit::{usage, CliError, ExitCode, WithCode};
use crate::output::{open_output, OutputFormat};
use nearmatch_scan::ReportPath;

/// Options shared by every command that hashes images.
#[derive(Args, Debug, Clone)]
pub struct HashingArgs {
    /// PDQ reference profile: `pdqhash` (Meta's PyPI package, HMA) or `meta-cpp` (the C++ CLI).
    #[arg(long, default_value = "pdqhash", value_parser = parse_profile)]
    pub pdq_profile: Profile,
    /// Pillow generation whose resize the imagehash family reproduces: 13 (current) or 12.
    #[arg(long, default_value = "13", value_parser = parse_pillow)]
    pub pillow: PillowVersion,
    /// Worker threads (default: all cores).
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// Hash the full-resolution pixels: hashes identical to the reference implementations
    /// (the default).
    #[arg(long, conflicts_with = "fast")]
    pub exact: bool,
    /// Decode large images reduced (JPEG at 1/2-1/8 DCT scale, other formats box-averaged to a
    /// short side of at least 256) before hashing: several times faster on photos, hashes a few
    /// bits from the exact ones. Reports mark such hashes `"hash_mode": "fast"`.
    #[arg(long)]
    pub fast: bool,
    /// `stored` (the default) hashes the pixels as the file stores them, ignoring the EXIF
    /// Orientation tag, as pdqhash and imagehash on JPEG, PNG and WebP do (Pillow applies a
    /// TIFF's tag on load); `exif` hashes the picture as displayed
    /// (the tag of JPEG, PNG, WebP and TIFF applied first, as Pillow's `exif_transpose`; HEIF
    /// is always decoded as displayed). Outputs then carry `exif_orientation`. PDQ's dihedral
    /// probes (`--probe dihedral`) match across both.
    #[arg(long, value_name = "stored|exif", default_value = "stored", value_parser = parse_orientation)]
    pub orientation: OrientationMode,
}

impl HashingArgs {
    /// The hash mode the flags select (exact unless `--fast`).
    pub fn mode(&self) -> HashMode {
        if self.fast {
            HashMode::Fast
        } else {
            HashMode::Exact
        }
    }

    /// The library options these flags describe.
    pub fn options(&self) -> HashOptions {
        HashOptions {
            pdq_profile: self.pdq_profile,
            pillow: self.pillow,
            mode: self.mode(),
            orientation: self.orientation,
            ..HashOptions::default()
        }
    }
}

fn parse_orientation(s: &str) -> Result<OrientationMode, String> {
    s.parse::<OrientationMode>().map_err(|e| e.to_string())
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse::<Profile>().map_err(|e| e.to_string())
}

fn parse_pillow(s: &str) -> Result<PillowVersion, String> {
    match s.trim().to_ascii_lowercase().trim_start_matches("pillow") {
        "13" => Ok(PillowVersion::Pillow13),
        "12" => Ok(PillowVersion::Pillow12),
        other => Err(format!("unknown Pillow version {other:?} (use 13 or 12)")),
    }
}

/// Parses a comma-separated algorithm list, keeping order and dropping repeats.
pub fn parse_algos(list: &str) -> Result<Vec<Algorithm>, CliError> {
    let mut out = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let a: Algorithm = name.parse().map_err(usage)?;
        if !out.contains(&a) {
            out.push(a);
        }
    }
    if out.is_empty() {
        return Err(usage("--algo needs at least one algorithm"));
    }
    Ok(out)
}

/// Arguments of `nearmatch hash`.
#[derive(Args, Debug)]
pub struct HashArgs {
    /// Files to hash.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Comma-separated algorithms: pdq, ahash, dhash, phash, whash, ahash16, dhash16, phash16,
    /// whash16, md5, sha1, sha256.
    #[arg(long, short = 'a', default_value = "pdq,md5,sha1")]
    pub algo: String,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Also output PDQ query probes: `none` (the default), `default` (trim), `all`,
    /// or a comma list of `trim`, `content-box`, `crop`, `rotate`, `dihedral`. JSON Lines output
    /// (`pdq_probes`) feeds `nearmatch match`, which then names the probe of every match.
    #[arg(long = "probe", value_name = "LIST", default_value = "none", value_parser = parse_probe_list)]
    pub probe: nearmatch::probe::ProbeConfig,
    /// Refuse (with an error row, unread) files larger than this many bytes.
    #[arg(long, default_value_t = nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// Parses a `--probe` list (`default`, `none`, `all`, or family names).
pub fn parse_probe_list(spec: &str) -> Result<nearmatch::probe::ProbeConfig, String> {
    nearmatch::probe::ProbeConfig::parse(spec).map_err(|e| e.to_string())
}

/// One file's outcome.
struct Row {
    path: ReportPath,
    hashes: FileHashes,
    error: Option<String>,
}

fn hash_one(
    path: &std::path::Path,
    algos: &[Algorithm],
    opts: &HashOptions,
    max_file_size: u64,
) -> Row {
    let report_path = ReportPath::new(path);
    match nearmatch_scan::read::read_capped(path, max_file_size) {
        Ok(bytes) => {
            let hashes = hash_bytes(&bytes, algos, opts);
            let error = hashes.image_error.as_ref().map(|e| e.to_string());
            Row {
                path: report_path,
                hashes,
                error,
            }
        }
        Err(e) => Row {
            path: report_path,
            hashes: FileHashes::default(),
            error: Some(format!("cannot read: {}", e.into_io())),
        },
    }
}

/// Builds a rayon pool of the requested size (all cores when `None`).
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, CliError> {
    if threads == Some(0) {
        return Err(usage("--threads must be at least 1"));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .code(ExitCode::USAGE)
}

/// Runs `nearmatch hash`.
pub fn run_hash(args: HashArgs) -> Result<ExitCode, CliError> {
    let algos = parse_algos(&args.algo)?;
    let probes = args.probe != nearmatch::probe::ProbeConfig::none();
    if probes && !algos.contains(&Algorithm::Pdq) {
        return Err(usage("--probe computes PDQ probes: add pdq to --algo"));
    }
    let opts = HashOptions {
        probes: probes.then_some(args.probe),
        ..args.hashing.options()
    };
    let exif = opts.orientation == OrientationMode::Exif;
    let pool = thread_pool(args.hashing.threads)?;
    let mut out = open_output(args.output.as_deref())?;
    let write_err = |e: std::io::Error| CliError {
        code: ExitCode::CANT_WRITE,
        error: anyhow::Error::from(e).context("cannot write output"),
    };

    if args.format == OutputFormat::Csv {
        let mut header: Vec<String> = vec!["path".into()];
        header.extend(algos.iter().map(|a| a.name().to_string()));
        if algos.contains(&Algorithm::Pdq) {
            header.push("pdq_quality".into());
        }
        header.push("hash_mode".into());
        if probes {
            header.push("pdq_probes".into());
        }
        if exif {
            header.push("exif_orientation".into());
        }
        header.push("error".into());
        writeln!(out, "{}", csv_line(&header)).map_err(write_err)?;
    }

    let mut failed = false;
    // Chunks keep memory bounded on huge file lists while output stays in input order.
    for chunk in args.files.chunks(256) {
        let rows: Vec<Row> = pool.install(|| {
            chunk
                .par_iter()
                .map(|p| hash_one(p, &algos, &opts, args.max_file_size))
                .collect()
        });
        for row in rows {
            if let Some(err) = &row.error {
                failed = true;
                eprintln!("nearmatch: {}: {err}", row.path.display);
            }
            let line = match args.format {
                OutputFormat::Jsonl => jsonl_record(&row, &algos, probes),
                OutputFormat::Csv => csv_record(&row, &algos, probes, exif),
                OutputFormat::Text => text_record(&row, &algos),
            };
            writeln!(out, "{line}").map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;
    Ok(ExitCode::from_outcome(false, failed))
}

fn jsonl_record(row: &Row, algos: &[Algorithm], probes: bool) -> String {
    let mut obj = serde_json::Map::new();
    obj.insert("path".into(), row.path.display.clone().into());
    if let Some(raw) = &row.path.raw_b64 {
        obj.insert("path_b64".into(), raw.clone().into());
    }
    for &a in algos {
        obj.insert(
            a.name().into(),
            row.hashes
                .get(a)
                .map_or(serde_json::Value::Null, Into::into),
        );
        if a == Algorithm::Pdq {
            obj.insert(
                "pdq_quality".into(),
                row.hashes
                    .pdq_quality
                    .map_or(serde_json::Value::Null, Into::into),
            );
        }
    }
    if algos.iter().any(|a| !a.is_cryptographic()) {
        obj.insert(
            "hash_mode".into(),
            row.hashes
                .mode
                .map_or(serde_json::Value::Null, |m| m.name().into()),
        );
        if let Some((w, h)) = row.hashes.hashed_dimensions {
            obj.insert("hashed_size".into(), format!("{w}x{h}").into());
        }
        // Present only when a tag was applied, as `hashed_size` only when reduced.
        if let Some(o) = row.hashes.exif_orientation {
            obj.insert("exif_orientation".into(), o.into());
        }
    }
    if probes {
        let list: Vec<serde_json::Value> = row
            .hashes
            .pdq_probes
            .iter()
            .map(|p| {
                serde_json::json!({
                    "probe": p.name(),
                    "pdq": p.digest.to_hex(),
                    "quality": p.quality,
                })
            })
            .collect();
        obj.insert("pdq_probes".into(), list.into());
    }
    obj.insert(
        "error".into(),
        row.error
            .clone()
            .map_or(serde_json::Value::Null, Into::into),
    );
    serde_json::Value::Object(obj).to_string()
}

fn csv_record(row: &Row, algos: &[Algorithm], probes: bool, exif: bool) -> String {
    let mut fields = vec![row.path.display.clone()];
    for &a in algos {
        fields.push(row.hashes.get(a).unwrap_or_default());
    }
    if algos.contains(&Algorithm::Pdq) {
        fields.push(
            row.hashes
                .pdq_quality
                .map(|q| q.to_string())
                .unwrap_or_default(),
        );
    }
    fields.push(
        row.hashes
            .mode
            .filter(|_| algos.iter().any(|a| !a.is_cryptographic()))
            .map(|m| m.name().to_string())
            .unwrap_or_default(),
    );
    if probes {
        let list: Vec<String> = row
            .hashes
            .pdq_probes
            .iter()
            .map(|p| format!("{}={}", p.name(), p.digest.to_hex()))
            .collect();
        fields.push(list.join(";"));
    }
    if exif {
        fields.push(
            row.hashes
                .exif_orientation
                .map(|o| o.to_string())
                .unwrap_or_default(),
        );
    }
    fields.push(row.error.clone().unwrap_or_default());
    csv_line(&fields)
}

fn text_record(row: &Row, algos: &[Algorithm]) -> String {
    let mut parts = Vec::new();
    for &a in algos {
        if let Some(h) = row.hashes.get(a) {
            parts.push(format!("{}={h}", a.name()));
            if a == Algorithm::Pdq {
                if let Some(q) = row.hashes.pdq_quality {
                    parts.push(format!("quality={q}"));
                }
            }
        }
    }
    // The plain probe is the pdq= hash itself.
    for p in row.hashes.pdq_probes.iter().skip(1) {
        parts.push(format!("probe:{}={}", p.name(), p.digest.to_hex()));
    }
    // Exact is the default and the references' mode: say so only when a hash is not exact.
    if row.hashes.mode == Some(HashMode::Fast) && algos.iter().any(|a| !a.is_cryptographic()) {
        let (w, h) = row.hashes.hashed_dimensions.unwrap_or_default();
        parts.push(format!("mode=fast({w}x{h})"));
    }
    if let Some(e) = &row.error {
        parts.push(format!("error={e:?}"));
    }
    format!("{}  {}", row.path.display, parts.join(" "))
}

pub use nearmatch_scan::report::csv_line;

/// Arguments of `nearmatch compare`.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// First image file.
    pub a: PathBuf,
    /// Second image file.
    pub b: PathBuf,
    /// Comma-separated perceptual algorithms to compare.
    #[arg(
        long,
        short = 'a',
        default_value = "pdq,ahash,dhash,phash,whash,ahash16,dhash16,phash16,whash16"
    )]
    pub algo: String,
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// Runs `nearmatch compare`.
pub fn run_compare(args: CompareArgs) -> Result<ExitCode, CliError> {
    let mut algos = parse_algos(&args.algo)?;
    algos.retain(|a| !a.is_cryptographic());
    algos.push(Algorithm::Sha256);
    let opts = args.hashing.options();
    let hash = |p: &PathBuf| -> Result<FileHashes, CliError> {
        let bytes =
            nearmatch_scan::read::read_capped(p, nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE)
                .map_err(|e| e.into_io())
                .with_context(|| format!("cannot read {}", p.display()))
                .code(ExitCode::SOME_FAILED)?;
        let h = hash_bytes(&bytes, &algos, &opts);
        if let Some(e) = &h.image_error {
            return Err(CliError {
                code: ExitCode::SOME_FAILED,
                error: anyhow::anyhow!("{}: {e}", p.display()),
            });
        }
        Ok(h)
    };
    let (ha, hb) = (hash(&args.a)?, hash(&args.b)?);
    let mut out = std::io::stdout().lock();
    let identical = ha.crypto.map(|c| c.sha256) == hb.crypto.map(|c| c.sha256);
    let mut lines = vec![format!("{:<10} {:>8}  {}", "algorithm", "distance", "bits")];
    for &a in algos.iter().filter(|a| !a.is_cryptographic()) {
        let (Some(da), Some(db)) = (ha.digest(a), hb.digest(a)) else {
            continue;
        };
        let d = da.distance(&db).expect("same algorithm, same width");
        lines.push(format!("{:<10} {:>8}  {}", a.name(), d, da.bits()));
    }
    if let (Some(qa), Some(qb)) = (ha.pdq_quality, hb.pdq_quality) {
        lines.push(format!(
            "pdq quality: {qa} and {qb}{}",
            if qa.min(qb) < 50 {
                " (below 50: unreliable)"
            } else {
                ""
            }
        ));
    }
    lines.push(format!(
        "byte-identical: {}",
        if identical { "yes" } else { "no" }
    ));
    for l in lines {
        writeln!(out, "{l}").code(ExitCode::CANT_WRITE)?;
    }
    Ok(ExitCode::OK)
}
