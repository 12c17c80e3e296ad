//! `nearmatch set build|info|verify|merge|delta|compact|shard` and `nearmatch match`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context as _};
use clap::{Args, Subcommand, ValueEnum};
use nearmatch::hash::Algorithm;
use nearmatch::hashset::{shard, BuildSummary, DeltaWriter, HashSet, LayeredSet, SetWriter};
use nearmatch::import::{Format as ListFormat, ImportOptions};
use nearmatch::search::{Engine, ProbeRadii, ProbeRadius, QueryProbe};
use nearmatch::{AnyDigest, Digest256, Digest64};
use serde_json::{json, Value};

use crate::exit::{usage, CliError, ExitCode, WithCode};
use crate::hashing::csv_line;
use crate::output::open_output;

/// `nearmatch set …` subcommands.
#[derive(Subcommand, Debug)]
pub enum SetCommand {
    /// Build a hash-set file from hash lists (plain, CSV/TSV, ThreatExchange, VICS JSON, NSRL RDS).
    Build(BuildArgs),
    /// Show a set's header, entry count and build provenance.
    Info(InfoArgs),
    /// Check every section checksum and record of a set.
    Verify(VerifyArgs),
    /// Merge sets of one algorithm into a new set.
    Merge(MergeArgs),
    /// Build a delta layer (additions, removals) on top of a set or stack, without rebuilding.
    Delta(DeltaArgs),
    /// Fold a stack of delta layers into one ordinary set.
    Compact(CompactArgs),
    /// Cut a set by digest prefix into 2^k shard sets and a manifest, one shard per worker.
    Shard(ShardArgs),
}

/// List formats accepted by `set build --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormatArg {
    /// One hex hash per line.
    Plain,
    /// CSV or TSV with a header row.
    Csv,
    /// Meta ThreatExchange PDQ text.
    Threatexchange,
    /// Project VIC VICS JSON 1.2, 1.3, 2.0.
    Vics,
    /// NIST NSRL RDS v3 SQLite database (read-only; one entry per distinct digest).
    NsrlRds,
    /// NIST NSRL RDS 2.x legacy NSRLFile.txt (one entry per distinct digest).
    NsrlLegacy,
}

impl From<ListFormatArg> for ListFormat {
    fn from(f: ListFormatArg) -> Self {
        match f {
            ListFormatArg::Plain => ListFormat::Plain,
            ListFormatArg::Csv => ListFormat::Csv,
            ListFormatArg::Threatexchange => ListFormat::ThreatExchange,
            ListFormatArg::Vics => ListFormat::Vics,
            ListFormatArg::NsrlRds => ListFormat::NsrlRds,
            ListFormatArg::NsrlLegacy => ListFormat::NsrlLegacy,
        }
    }
}

/// Arguments of `set build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The set file to write (written to a temporary file, then renamed).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// The algorithm of the hashes: pdq, phash, …, md5, sha1, sha256; or vpdq for a video list
    /// built from Meta's per-video vPDQ files (one video per file, its name the video's id).
    #[arg(long, short = 'a')]
    pub algo: String,
    /// Force the list format instead of detecting it.
    #[arg(long, value_enum)]
    pub format: Option<ListFormatArg>,
    /// Treat any rejected record (bad hex, wrong length, duplicate, empty-file hash) as an error
    /// (an NSRL digest repeated across packages is counted, never an error).
    #[arg(long)]
    pub strict: bool,
    /// Store digests only (no id, labels or note): enough for an ignore set such as the NSRL,
    /// and a smaller file.
    #[arg(long)]
    pub no_metadata: bool,
    /// Print the build summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Memory the build may use for sorting and indexing (bytes, or with a K, M, G or T
    /// suffix, powers of 1024). Larger lists are sorted in runs on disk next to the output; the
    /// set written is the same whatever the budget.
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub memory_budget: usize,
    /// Hash lists to import.
    #[arg(required = true)]
    pub lists: Vec<PathBuf>,
}

/// Arguments of `set info`.
#[derive(Args, Debug)]
pub struct InfoArgs {
    /// The set file.
    pub set: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `set verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Set files to verify.
    #[arg(required = true)]
    pub sets: Vec<PathBuf>,
}

/// Arguments of `set merge`.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The merged set file to write.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Memory the merge may use for sorting and indexing (as `set build --memory-budget`).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub memory_budget: usize,
    /// Sets to merge (same algorithm).
    #[arg(required = true)]
    pub sets: Vec<PathBuf>,
}

/// Parses a byte count: `1073741824`, `512M`, `1G`, `1.5G` (K, M, G, T are powers of 1024).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => {
                    return Err(format!(
                        "{s:?}: unknown size suffix {c:?} (use K, M, G or T)"
                    ))
                }
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 512M, 2G)"))?;
    if !v.is_finite() || v < 1.0 {
        return Err(format!("{s:?}: a size must be at least 1 byte"));
    }
    Ok((v * mult as f64).min(usize::MAX as f64) as usize)
}

/// Arguments of `set delta`.
#[derive(Args, Debug)]
pub struct DeltaArgs {
    /// The set (or top delta of a stack) the new layer goes on.
    #[arg(long)]
    pub base: PathBuf,
    /// Lists of hashes to add (any format `set build` reads).
    #[arg(long, num_args = 1.., value_name = "LIST")]
    pub add: Vec<PathBuf>,
    /// Lists of hashes to remove from every layer below (any format; plain hex is usual).
    #[arg(long, num_args = 1.., value_name = "LIST")]
    pub remove: Vec<PathBuf>,
    /// The full new version of the list: additions and removals are computed against the stack.
    #[arg(long, num_args = 1.., value_name = "LIST", conflicts_with_all = ["add", "remove"])]
    pub from_full: Vec<PathBuf>,
    /// Force the format of the --add / --from-full lists instead of detecting it.
    #[arg(long, value_enum)]
    pub format: Option<ListFormatArg>,
    /// Treat any rejected record as an error.
    #[arg(long)]
    pub strict: bool,
    /// The delta file to write, in the base's directory (a delta names its parent by file name).
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `set compact`.
#[derive(Args, Debug)]
pub struct CompactArgs {
    /// The top delta of the stack.
    pub set: PathBuf,
    /// The ordinary set file to write.
    #[arg(long, short = 'o')]
    pub output: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `set shard`.
#[derive(Args, Debug)]
pub struct ShardArgs {
    /// The set to cut (an ordinary set: fold a delta stack with `set compact` first).
    pub set: PathBuf,
    /// Number of shards, a power of two (1, 2, 4, ... 65536).
    #[arg(long)]
    pub shards: u32,
    /// Directory to write the shards and `shards.json` into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Memory each shard's build may use (as `set build --memory-budget`).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    pub memory_budget: usize,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Opens a set and, if it is a delta, every layer below it; failures exit 65 naming the file.
pub fn open_stack(path: &Path) -> Result<LayeredSet, CliError> {
    LayeredSet::open(path)
        .with_context(|| format!("cannot open hash set {}", path.display()))
        .code(ExitCode::DATA)
}

/// Opens a set, mapping failures to exit code 65 with the file named.
pub fn open_set(path: &Path) -> Result<HashSet, CliError> {
    HashSet::open(path)
        .with_context(|| format!("cannot open hash set {}", path.display()))
        .code(ExitCode::DATA)
}

/// Refuses to overwrite one of the inputs (a set or list being read).
fn refuse_output_among_inputs(output: &Path, inputs: &[PathBuf]) -> Result<(), CliError> {
    let out = std::fs::canonicalize(output).ok();
    for i in inputs {
        if out.is_some() && std::fs::canonicalize(i).ok() == out {
            return Err(usage(format!(
                "output {} is also an input",
                output.display()
            )));
        }
    }
    Ok(())
}

/// Runs a `set` subcommand.
pub fn run_set(cmd: SetCommand) -> Result<ExitCode, CliError> {
    match cmd {
        SetCommand::Build(a) => build(a),
        SetCommand::Info(a) => info(a),
        SetCommand::Verify(a) => verify(a),
        SetCommand::Merge(a) => merge_sets(a),
        SetCommand::Delta(a) => delta(a),
        SetCommand::Compact(a) => compact(a),
        SetCommand::Shard(a) => shard_cmd(a),
    }
}

fn build(args: BuildArgs) -> Result<ExitCode, CliError> {
    if args.algo.trim().eq_ignore_ascii_case("vpdq") {
        refuse_output_among_inputs(&args.output, &args.lists)?;
        if args.format.is_some() {
            return Err(usage(
                "--format does not apply to --algo vpdq (Meta's vPDQ files)",
            ));
        }
        if args.no_metadata {
            return Err(usage(
                "--no-metadata does not apply to --algo vpdq (a video list)",
            ));
        }
        return crate::video::build_video_list(&args.output, &args.lists, args.json);
    }
    let algo: Algorithm = args.algo.parse().map_err(usage)?;
    refuse_output_among_inputs(&args.output, &args.lists)?;
    let mut opts = ImportOptions::new(algo);
    opts.format = args.format.map(Into::into);
    opts.strict = args.strict;
    opts.digests_only = args.no_metadata;
    let mut writer = SetWriter::create(&args.output, algo)
        .with_context(|| format!("cannot create {}", args.output.display()))
        .code(ExitCode::CANT_WRITE)?;
    writer.set_memory_budget(args.memory_budget);
    let mut rejected_at_import = 0;
    for list in &args.lists {
        let report = writer
            .import_file(list, &opts)
            .with_context(|| format!("cannot import {}", list.display()))
            .code(ExitCode::DATA)?;
        rejected_at_import += report.rejected_total();
        report_import(&list.display().to_string(), &report);
    }
    let runs = writer.sorted_runs();
    let summary = finish(writer, &args.output)?;
    let rejected: u64 = summary
        .provenance
        .sources
        .iter()
        .map(|s| s.rejected_total())
        .sum();
    if rejected > rejected_at_import {
        // Duplicates whose first copy was in an earlier sorted run.
        eprintln!(
            "{} more duplicate records found while merging {} sorted runs (counted in each \
             list's provenance; see `nearmatch set info`)",
            rejected - rejected_at_import,
            runs + 1
        );
    }
    print_summary(&summary, args.json)?;
    Ok(ExitCode::OK)
}

/// Finishes a build: a strict-mode duplicate found in the merge is a bad list (65), anything
/// else an output problem (74) or, when memory ran out, 71.
fn finish(writer: SetWriter, output: &Path) -> Result<BuildSummary, CliError> {
    writer.finish().map_err(|e| {
        let code = match &e {
            nearmatch::Error::Import { .. } => ExitCode::DATA,
            _ => ExitCode::CANT_WRITE,
        };
        CliError {
            code,
            error: anyhow::Error::new(e).context(format!("cannot write {}", output.display())),
        }
    })
}

fn print_summary(summary: &BuildSummary, as_json: bool) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    if as_json {
        let v = json!({
            "path": summary.path.display().to_string(),
            "entries": summary.entries,
            "bytes": summary.bytes,
            "provenance": summary.provenance,
        });
        writeln!(out, "{v}").code(ExitCode::CANT_WRITE)?;
    } else {
        writeln!(
            out,
            "wrote {}: {} {} entries, {} bytes",
            summary.path.display(),
            summary.entries,
            summary.provenance.algorithm,
            summary.bytes
        )
        .code(ExitCode::CANT_WRITE)?;
    }
    Ok(())
}

fn info(args: InfoArgs) -> Result<ExitCode, CliError> {
    let stack = open_stack(&args.set)?;
    let set = stack.top();
    let prov = set
        .provenance()
        .with_context(|| format!("cannot read provenance of {}", args.set.display()))
        .code(ExitCode::DATA)?;
    let sha = file_sha256(&args.set).code(ExitCode::DATA)?;
    let indexed = set
        .section(nearmatch::hashset::SectionKind::MihIds)
        .is_some();
    let layers = layer_rows(&stack)?;
    let compacted = set
        .compacted_from()
        .with_context(|| format!("cannot read {}", args.set.display()))
        .code(ExitCode::DATA)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let mut v = json!({
            "path": args.set.display().to_string(),
            "sha256": sha,
            "algorithm": set.algorithm().name(),
            "bits": set.bits(),
            "entries": stack.effective_len(),
            "multi_index": indexed,
            "provenance": prov,
        });
        // Only stacks and compacted sets get these keys: an ordinary set's JSON is unchanged.
        if stack.is_layered() {
            v["layers"] = layers.iter().map(|l| l.json.clone()).collect();
        }
        if let Some(c) = &compacted {
            v["compacted_from"] = json!(c);
        }
        writeln!(out, "{v}").code(ExitCode::CANT_WRITE)?;
        return Ok(ExitCode::OK);
    }
    let mut lines = vec![
        format!("file:        {}", args.set.display()),
        format!("sha256:      {sha}"),
        format!("algorithm:   {} ({} bits)", set.algorithm(), set.bits()),
        if stack.is_layered() {
            format!(
                "entries:     {} (a stack of {} layers: {} entries, {} hidden by removals and \
                 re-additions)",
                stack.effective_len(),
                stack.layers().len(),
                stack.len(),
                stack.len() - stack.effective_len()
            )
        } else {
            format!("entries:     {}", set.len())
        },
        format!(
            "index:       {}",
            if indexed {
                "multi-index"
            } else if set.algorithm().is_cryptographic() {
                "sorted (exact lookup)"
            } else {
                "none (linear scan)"
            }
        ),
        format!("built:       {} by {}", prov.built_utc, prov.tool),
    ];
    for (i, s) in prov.sources.iter().enumerate() {
        // Sources of a compacted set or of a delta computed from a full version carry entries
        // over from other sets: their lists' identities are in the layer records below.
        let identity = if s.sha256.is_empty() {
            "entries carried over".to_string()
        } else {
            format!("{} format, sha256 {}", s.format, s.sha256)
        };
        lines.push(format!(
            "source {i}:    {} ({identity}): {}",
            s.name,
            import_counts(s)
        ));
    }
    for m in &prov.merged_from {
        lines.push(format!(
            "merged from: {} ({} entries, built {})",
            m.path, m.entries, m.built_utc
        ));
    }
    if let Some(sh) = &prov.shard {
        // The sources above are the whole set's lists: their counts are not this shard's.
        lines.push(format!(
            "shard:        {} of {} (digests starting with the {}-bit prefix {}) of {} \
             ({} entries, sha256 {}), from its entry {}",
            sh.index,
            sh.shards,
            sh.prefix_bits,
            sh.index,
            sh.set,
            sh.set_entries,
            sh.set_sha256,
            sh.first_entry
        ));
    }
    if stack.is_layered() {
        lines.extend(layers.iter().map(|l| l.text.clone()));
    }
    for k in 0..stack.layers().len() {
        for f in stack.info(k).map_or(&[][..], |i| &i.from_full[..]) {
            lines.push(format!(
                "layer {k} diffed from full version {} ({} format, sha256 {}): {} records",
                f.name, f.format, f.sha256, f.imported
            ));
        }
    }
    if let Some(c) = &compacted {
        for (k, l) in c.layers.iter().enumerate() {
            lines.push(format!(
                "compacted from layer {k}: {} (built {}, {} entries, {} hidden)",
                l.path, l.provenance.built_utc, l.provenance.entries, l.hidden
            ));
        }
    }
    for l in lines {
        writeln!(out, "{l}").code(ExitCode::CANT_WRITE)?;
    }
    Ok(ExitCode::OK)
}

fn verify(args: VerifyArgs) -> Result<ExitCode, CliError> {
    let mut bad = false;
    for path in &args.sets {
        // A delta is verified with every layer below it (and its parents' identities).
        let result = LayeredSet::open(path)
            .and_then(|s| s.verify().map(|()| (s.effective_len(), s.layers().len())));
        match result {
            Ok((n, 1)) => println!("{}: ok ({n} entries)", path.display()),
            Ok((n, k)) => println!("{}: ok ({n} entries, {k} layers)", path.display()),
            Err(e) => {
                bad = true;
                println!("{}: FAILED: {e}", path.display());
                eprintln!("nearmatch: {}: {e}", path.display());
            }
        }
    }
    Ok(if bad { ExitCode::DATA } else { ExitCode::OK })
}

fn merge_sets(args: MergeArgs) -> Result<ExitCode, CliError> {
    refuse_output_among_inputs(&args.output, &args.sets)?;
    let sets = args
        .sets
        .iter()
        .map(|p| open_set(p))
        .collect::<Result<Vec<_>, _>>()?;
    let Some(first) = sets.first() else {
        return Err(usage("set merge needs at least one set"));
    };
    let mut writer = SetWriter::create(&args.output, first.algorithm())
        .with_context(|| format!("cannot create {}", args.output.display()))
        .code(ExitCode::CANT_WRITE)?;
    writer.set_memory_budget(args.memory_budget);
    for (set, path) in sets.iter().zip(&args.sets) {
        writer
            .add_set(set)
            .with_context(|| {
                format!(
                    "cannot merge {} into {}",
                    path.display(),
                    args.output.display()
                )
            })
            .code(ExitCode::DATA)?;
    }
    let summary = finish(writer, &args.output)?;
    print_summary(&summary, false)?;
    Ok(ExitCode::OK)
}

/// One layer of a stack as `set info` shows it.
struct LayerRow {
    text: String,
    json: Value,
}

/// Every layer of a stack, base first: path, SHA-256, additions, removals, build time.
fn layer_rows(stack: &LayeredSet) -> Result<Vec<LayerRow>, CliError> {
    if !stack.is_layered() {
        return Ok(Vec::new());
    }
    let hidden = stack.hidden_per_layer();
    let mut rows = Vec::new();
    for (k, l) in stack.layers().iter().enumerate() {
        let sha = file_sha256(l.path()).code(ExitCode::DATA)?;
        let prov = l
            .provenance()
            .with_context(|| format!("cannot read provenance of {}", l.path().display()))
            .code(ExitCode::DATA)?;
        let info = stack.info(k);
        let text = match info {
            None => format!(
                "layer {k}:     {} (base): {} entries ({} hidden above), built {}, sha256 {sha}",
                l.path().display(),
                l.len(),
                hidden[k],
                prov.built_utc
            ),
            Some(i) => format!(
                "layer {k}:     {} (delta on {}): +{} entries ({} hidden above), -{} removals \
                 ({} requested, {} not present below), built {}, sha256 {sha}",
                l.path().display(),
                i.parent.file,
                l.len(),
                hidden[k],
                i.removals,
                i.removals_requested,
                i.removals_not_present,
                prov.built_utc
            ),
        };
        let json = json!({
            "path": l.path().display().to_string(),
            "sha256": sha,
            "built_utc": prov.built_utc,
            "entries": l.len(),
            "hidden": hidden[k],
            "removals": l.removal_count(),
            "layer": info,
            "sources": prov.sources,
        });
        rows.push(LayerRow { text, json });
    }
    Ok(rows)
}

/// `N imported, M rejected (reason n, ...)`: a list's counts as `set build` and `set info` print them.
fn import_counts(report: &nearmatch::import::ImportReport) -> String {
    let rejects: Vec<String> = report
        .rejected
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect();
    format!(
        "{} imported, {} rejected{}",
        report.imported,
        report.rejected_total(),
        if rejects.is_empty() {
            String::new()
        } else {
            format!(" ({})", rejects.join(", "))
        }
    )
}

/// Prints what a list import did (its counts and reject examples) on standard error.
fn report_import(label: &str, report: &nearmatch::import::ImportReport) {
    eprintln!(
        "{label}: {} format, {}",
        report.format,
        import_counts(report)
    );
    // An RDS v3 database has rows, not lines: its examples carry the FILE rowid.
    let unit = if report.format == ListFormat::NsrlRds {
        "FILE rowid"
    } else {
        "line"
    };
    for ex in &report.examples {
        eprintln!("  {unit} {}: {}: {}", ex.line, ex.reason, ex.detail);
    }
}

/// Maps a library error while building a delta: bad lists and sets are 65, an output that
/// cannot be placed or written 74, a misplaced output (a usage problem) 64.
fn delta_err(e: nearmatch::Error, what: String) -> CliError {
    let code = match &e {
        nearmatch::Error::InvalidArgument(_) => ExitCode::USAGE,
        nearmatch::Error::Io { .. } => ExitCode::CANT_WRITE,
        _ => ExitCode::DATA,
    };
    CliError {
        code,
        error: anyhow::Error::from(e).context(what),
    }
}

fn delta(args: DeltaArgs) -> Result<ExitCode, CliError> {
    if args.add.is_empty() && args.remove.is_empty() && args.from_full.is_empty() {
        return Err(usage(
            "set delta needs --add LIST, --remove LIST or --from-full LIST",
        ));
    }
    let inputs: Vec<PathBuf> = [&args.add, &args.remove, &args.from_full]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    refuse_output_among_inputs(&args.output, &inputs)?;
    let stack = open_stack(&args.base)?;
    let algo = stack.algorithm();
    let mut opts = ImportOptions::new(algo);
    opts.format = args.format.map(Into::into);
    opts.strict = args.strict;
    // Removal lists are detected on their own (usually plain hex, whatever the additions are).
    let mut rm_opts = ImportOptions::new(algo);
    rm_opts.strict = args.strict;
    let mut d = DeltaWriter::create(&stack, &args.output)
        .map_err(|e| delta_err(e, format!("cannot create {}", args.output.display())))?;
    // A list that cannot be read is a bad input (65) whatever the underlying error.
    let list_err = |list: &Path, e: nearmatch::Error| CliError {
        code: ExitCode::DATA,
        error: anyhow::Error::from(e).context(format!("cannot import {}", list.display())),
    };
    for list in &args.add {
        let r = d.add_list(list, &opts).map_err(|e| list_err(list, e))?;
        report_import(&format!("{} (additions)", list.display()), &r);
    }
    for list in &args.remove {
        let r = d
            .remove_list(list, &rm_opts)
            .map_err(|e| list_err(list, e))?;
        report_import(&format!("{} (removals)", list.display()), &r);
    }
    if !args.from_full.is_empty() {
        let reports = d.diff_full(&args.from_full, &opts).map_err(|e| match e {
            nearmatch::Error::Io { ref path, .. } if args.from_full.contains(path) => CliError {
                code: ExitCode::DATA,
                error: anyhow::Error::from(e).context("cannot read the new list version"),
            },
            nearmatch::Error::Import { .. } => CliError {
                code: ExitCode::DATA,
                error: anyhow::Error::from(e).context("cannot import the new list version"),
            },
            e => delta_err(
                e,
                "cannot compare the new list version with the stack".into(),
            ),
        })?;
        for (list, r) in args.from_full.iter().zip(&reports) {
            report_import(&format!("{} (full version)", list.display()), r);
        }
    }
    let summary = d
        .finish()
        .map_err(|e| delta_err(e, format!("cannot write {}", args.output.display())))?;
    let stack = open_stack(&args.output)?;
    let l = &summary.layer;
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = json!({
            "path": args.output.display().to_string(),
            "parent": l.parent.file,
            "depth": l.depth,
            "additions": l.additions,
            "removals": l.removals,
            "removals_requested": l.removals_requested,
            "removals_not_present": l.removals_not_present,
            "bytes": summary.build.bytes,
            "stack_entries": stack.effective_len(),
            "layer": l,
            "provenance": summary.build.provenance,
        });
        writeln!(out, "{v}").code(ExitCode::CANT_WRITE)?;
    } else {
        writeln!(
            out,
            "wrote {}: delta {} on {}: {} additions, {} removals ({} requested, {} not present \
             below); the stack of {} layers holds {} entries",
            args.output.display(),
            l.depth,
            l.parent.file,
            l.additions,
            l.removals,
            l.removals_requested,
            l.removals_not_present,
            stack.layers().len(),
            stack.effective_len()
        )
        .code(ExitCode::CANT_WRITE)?;
    }
    Ok(ExitCode::OK)
}

fn compact(args: CompactArgs) -> Result<ExitCode, CliError> {
    let stack = open_stack(&args.set)?;
    stack
        .verify()
        .with_context(|| format!("{} failed verification", args.set.display()))
        .code(ExitCode::DATA)?;
    let summary = stack
        .compact(&args.output)
        .map_err(|e| delta_err(e, format!("cannot write {}", args.output.display())))?;
    if !args.json {
        eprintln!(
            "folded {} layers ({} entries, {} hidden)",
            stack.layers().len(),
            stack.len(),
            stack.len() - summary.entries as usize
        );
    }
    print_summary(&summary, args.json)?;
    Ok(ExitCode::OK)
}

fn shard_cmd(args: ShardArgs) -> Result<ExitCode, CliError> {
    if args.shards == 0 || !args.shards.is_power_of_two() || args.shards > shard::MAX_SHARDS {
        return Err(usage(format!(
            "--shards must be a power of two from 1 to {}, got {}",
            shard::MAX_SHARDS,
            args.shards
        )));
    }
    // Opened as a layer too, so a delta gets the sharding-specific advice rather than the
    // generic one.
    let set = HashSet::open_layer(&args.set)
        .with_context(|| format!("cannot open hash set {}", args.set.display()))
        .code(ExitCode::DATA)?;
    if set.is_layer() {
        return Err(CliError {
            code: ExitCode::DATA,
            error: anyhow!(
                "{} is a delta layer, not a complete set: fold its stack first \
                 (`nearmatch set compact {} -o flat.nmset`), then shard that",
                args.set.display(),
                args.set.display()
            ),
        });
    }
    if (args.shards.trailing_zeros() as usize) > set.bits() {
        return Err(usage(format!(
            "{} shards need {} prefix bits; {} digests have {}",
            args.shards,
            args.shards.trailing_zeros(),
            set.algorithm(),
            set.bits()
        )));
    }
    if args.out.exists() && !args.out.is_dir() {
        return Err(usage(format!(
            "--out {} exists and is not a directory",
            args.out.display()
        )));
    }
    let manifest = shard::shard_set(&set, &args.out, args.shards, Some(args.memory_budget))
        .map_err(|e| {
            let code = match &e {
                nearmatch::Error::InvalidSet { .. } => ExitCode::DATA,
                nearmatch::Error::OutOfMemory { .. } => ExitCode::OUT_OF_MEMORY,
                _ => ExitCode::CANT_WRITE,
            };
            CliError {
                code,
                error: anyhow::Error::new(e).context(format!(
                    "cannot shard {} into {}",
                    args.set.display(),
                    args.out.display()
                )),
            }
        })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::to_string(&manifest).expect("manifest serialises");
        writeln!(out, "{v}").code(ExitCode::CANT_WRITE)?;
    } else {
        for f in &manifest.files {
            writeln!(
                out,
                "{}: {} entries from entry {}, {} bytes, sha256 {}",
                args.out.join(&f.file).display(),
                f.entries,
                f.first_entry,
                f.bytes,
                f.sha256
            )
            .code(ExitCode::CANT_WRITE)?;
        }
        writeln!(
            out,
            "wrote {}: {} {} shards by the first {} digest bits, {} entries",
            args.out.join(shard::MANIFEST_NAME).display(),
            manifest.shards,
            manifest.algorithm,
            manifest.prefix_bits,
            manifest.entries
        )
        .code(ExitCode::CANT_WRITE)?;
    }
    Ok(ExitCode::OK)
}

/// SHA-256 (lower-case hex) of a file's bytes, streamed: identifies sets in `set info`.
pub fn file_sha256(path: &Path) -> anyhow::Result<String> {
    nearmatch_scan::custody::file_sha256(path)
        .with_context(|| format!("cannot read {}", path.display()))
}

/// Report formats of `nearmatch match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MatchFormat {
    /// One JSON object per match.
    Jsonl,
    /// One CSV row per match, with a header.
    Csv,
}

/// Arguments of `nearmatch match`.
#[derive(Args, Debug)]
pub struct MatchArgs {
    /// The hash set to search.
    #[arg(long, short = 's')]
    pub set: PathBuf,
    /// Largest Hamming distance that counts as a match (default per algorithm: 31 for PDQ,
    /// 8 for 64-bit hashes, 0 for exact sets).
    #[arg(long, short = 'r')]
    pub max_distance: Option<u32>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = MatchFormat::Jsonl)]
    pub format: MatchFormat,
    /// Write to this file instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Match radius of derived PDQ probes (trim, crop, ...; from `nearmatch hash --probe` JSON
    /// Lines input): each uses min(--max-distance, R). The plain hash and its flips/rotations
    /// keep --max-distance.
    #[arg(long, value_name = "R", default_value_t = nearmatch::probe::DEFAULT_PROBE_RADIUS)]
    pub probe_max_distance: u32,
    /// File of query hashes, one hex hash per line (`#` comments and blank lines skipped), or
    /// the JSON Lines of `nearmatch hash -f jsonl` (the set's algorithm's field, the `path`, and
    /// for PDQ sets the `pdq_probes` of `hash --probe`); `-` or nothing reads standard input.
    pub hashes: Option<PathBuf>,
}

/// One query: its line, hex hash, the file it came from and its PDQ probes (name, hex).
struct Query {
    line: usize,
    hex: String,
    path: Option<String>,
    probes: Vec<(String, String)>,
}

/// Reads one `nearmatch hash -f jsonl` record: `None` when it has no hash of `algo` (a file
/// that could not be hashed).
fn json_query(
    line: usize,
    text: &str,
    algo: Algorithm,
    name: &str,
) -> Result<Option<Query>, CliError> {
    let bad = |m: String| CliError {
        code: ExitCode::DATA,
        error: anyhow!("{name}, line {line}: {m}"),
    };
    let v: Value = serde_json::from_str(text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Some(obj) = v.as_object() else {
        return Err(bad("not a JSON object".into()));
    };
    if !obj.contains_key(algo.name()) {
        return Err(bad(format!(
            "no {:?} field (hash the files with --algo {})",
            algo.name(),
            algo.name()
        )));
    }
    let Some(hex) = obj[algo.name()].as_str() else {
        return Ok(None);
    };
    let mut probes = Vec::new();
    if algo == Algorithm::Pdq {
        for p in obj
            .get("pdq_probes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match (p["probe"].as_str(), p["pdq"].as_str()) {
                (Some(n), Some(h)) => probes.push((n.to_string(), h.to_string())),
                _ => return Err(bad("a pdq_probes item without probe and pdq".into())),
            }
        }
    }
    Ok(Some(Query {
        line,
        hex: hex.to_string(),
        path: obj.get("path").and_then(Value::as_str).map(str::to_string),
        probes,
    }))
}

/// Reads the queries; JSON records without a hash of `algo` are counted, not queried.
fn read_queries(path: Option<&Path>, algo: Algorithm) -> Result<(Vec<Query>, usize), CliError> {
    let reader: Box<dyn BufRead> = match path {
        None => Box::new(std::io::stdin().lock()),
        Some(p) if p == Path::new("-") => Box::new(std::io::stdin().lock()),
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p)
                .with_context(|| format!("cannot read {}", p.display()))
                .code(ExitCode::DATA)?,
        )),
    };
    let name = path.map_or("standard input".to_string(), |p| p.display().to_string());
    let mut out = Vec::new();
    let mut without = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line
            .with_context(|| format!("cannot read {name}"))
            .code(ExitCode::DATA)?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with('{') {
            match json_query(i + 1, t, algo, &name)? {
                Some(q) => out.push(q),
                None => without += 1,
            }
            continue;
        }
        // Accept `hex` or `hex<whitespace|comma>anything` (md5sum output, CSV rows).
        let hex = t
            .split(|c: char| c.is_whitespace() || c == ',')
            .next()
            .unwrap_or(t);
        out.push(Query {
            line: i + 1,
            hex: hex.to_string(),
            path: None,
            probes: Vec::new(),
        });
    }
    Ok((out, without))
}

/// The radius of a probe by its report name: the file's own hash and its flips/rotations
/// (`plain`, `plain+<orientation>`) keep the set's radius; derived probes (trim, crop, ...) use
/// the probe radius.
fn probe_radius(name: &str) -> ProbeRadius {
    if name == "plain" || name.starts_with("plain+") {
        ProbeRadius::Set
    } else {
        ProbeRadius::Derived
    }
}

/// Runs `nearmatch match`.
pub fn run_match(args: MatchArgs) -> Result<ExitCode, CliError> {
    // A delta is searched with every layer below it (hidden entries never match).
    let set = open_stack(&args.set)?;
    let algo = set.algorithm();
    let radius = args.max_distance.unwrap_or_else(|| algo.default_radius());
    let (queries, without) = read_queries(args.hashes.as_deref(), algo)?;
    let src_name = args
        .hashes
        .as_ref()
        .map_or("standard input".to_string(), |p| p.display().to_string());
    let bad_line = |line: usize, e: &dyn std::fmt::Display| CliError {
        code: ExitCode::DATA,
        error: anyhow!("{src_name}, line {line}: not a {} hash: {e}", algo.name()),
    };

    // (query index, entry index, distance, probe name)
    let mut hits: Vec<(usize, usize, u32, Option<String>)> = Vec::new();
    if algo.is_cryptographic() {
        let want = algo.bits() / 4;
        for (qi, Query { line, hex, .. }) in queries.iter().enumerate() {
            let bytes = match hex::decode(hex) {
                Ok(b) if b.len() * 2 == want => b,
                Ok(b) => {
                    return Err(bad_line(
                        *line,
                        &format!("{} hex digits, expected {want}", b.len() * 2),
                    ))
                }
                Err(e) => return Err(bad_line(*line, &e)),
            };
            for e in set.lookup_exact(&bytes) {
                hits.push((qi, e, 0, None));
            }
        }
    } else {
        // Per query: the plain hash, then the record's probes (`hash --probe`): the plain hash's
        // flips and rotations (`plain+<orientation>`) at the set radius, derived probes at
        // min(radius, --probe-max-distance); `match_probes` keeps the closest per entry.
        let wpd = set.words_per_digest();
        let mut lists: Vec<Vec<QueryProbe>> = Vec::with_capacity(queries.len());
        for q in &queries {
            let plain: AnyDigest = match wpd {
                1 => q
                    .hex
                    .parse::<Digest64>()
                    .map_err(|e| bad_line(q.line, &e))?
                    .into(),
                4 => q
                    .hex
                    .parse::<Digest256>()
                    .map_err(|e| bad_line(q.line, &e))?
                    .into(),
                w => {
                    return Err(CliError {
                        code: ExitCode::DATA,
                        error: anyhow!("unsupported digest width {} bits", 64 * w),
                    })
                }
            };
            let mut list = vec![QueryProbe::plain(plain)];
            for (name, hex) in &q.probes {
                let p: Digest256 = hex.parse().map_err(|e| bad_line(q.line, &e))?;
                list.push(QueryProbe {
                    digest: p.into(),
                    radius: probe_radius(name),
                });
            }
            lists.push(list);
        }
        let searcher = set
            .searcher()
            .with_context(|| format!("cannot search {}", args.set.display()))
            .code(ExitCode::DATA)?;
        let radii = ProbeRadii {
            set: radius,
            derived: args.probe_max_distance,
        };
        let lists: Vec<&[QueryProbe]> = lists.iter().map(Vec::as_slice).collect();
        let found = searcher
            .match_probes(&lists, radii, Engine::Auto)
            .with_context(|| format!("search of {} failed", args.set.display()))
            .code(ExitCode::DATA)?;
        hits.extend(found.into_iter().map(|m| {
            // Probe 0 is the plain hash, probe i the record's probe i - 1.
            let name = match m.probe {
                0 => "plain".to_string(),
                i => queries[m.query].probes[i - 1].0.clone(),
            };
            (m.query, m.entry, m.distance, Some(name))
        }));
    }
    hits.sort_unstable();

    // Each layer numbers its own sources: an entry's source is looked up in its layer's.
    let provs: Vec<Option<nearmatch::hashset::Provenance>> =
        set.layers().iter().map(|l| l.provenance().ok()).collect();
    let mut out = open_output(args.output.as_deref())?;
    let write_err = |e: std::io::Error| CliError {
        code: ExitCode::CANT_WRITE,
        error: anyhow::Error::from(e).context("cannot write output"),
    };
    if args.format == MatchFormat::Csv {
        let header = [
            "query",
            "query_index",
            "path",
            "probe",
            "entry",
            "hash",
            "distance",
            "source",
            "labels",
            "note",
        ]
        .map(String::from);
        writeln!(out, "{}", csv_line(&header)).map_err(write_err)?;
    }
    for (qi, ei, d, probe) in &hits {
        let (qi, ei, d) = (*qi, *ei, *d);
        let meta = set
            .entry(ei)
            .with_context(|| format!("entry {ei} of {}", args.set.display()))
            .code(ExitCode::DATA)?;
        let hash = set.digest_hex(ei).unwrap_or_default();
        let source = set
            .locate(ei)
            .and_then(|(k, _)| provs[k].as_ref())
            .and_then(|p| p.sources.get(meta.source as usize))
            .map_or(String::new(), |s| s.name.clone());
        let query = queries[qi].hex.to_ascii_lowercase();
        let path = queries[qi].path.clone();
        match args.format {
            MatchFormat::Jsonl => {
                let labels: Vec<Value> = meta
                    .labels
                    .iter()
                    .map(|l| json!({"scheme": l.scheme, "value": l.value}))
                    .collect();
                let mut v = json!({
                    "query": query,
                    "query_index": qi,
                    "entry": meta.id,
                    "entry_index": ei,
                    "hash": hash,
                    "distance": d,
                    "algorithm": algo.name(),
                    "source": source,
                    "labels": labels,
                    "note": meta.note,
                });
                if let Some(p) = probe {
                    v["probe"] = p.clone().into();
                }
                if let Some(p) = &path {
                    v["path"] = p.clone().into();
                }
                writeln!(out, "{v}").map_err(write_err)?;
            }
            MatchFormat::Csv => {
                let labels: Vec<String> = meta
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.scheme, l.value))
                    .collect();
                let row = [
                    query,
                    qi.to_string(),
                    path.unwrap_or_default(),
                    probe.clone().unwrap_or_default(),
                    meta.id.to_string(),
                    hash,
                    d.to_string(),
                    source,
                    labels.join(";"),
                    meta.note.to_string(),
                ];
                writeln!(out, "{}", csv_line(&row)).map_err(write_err)?;
            }
        }
    }
    out.flush().map_err(write_err)?;
    eprintln!(
        "{} queries, {} matches within distance {radius}{}",
        queries.len(),
        hits.len(),
        if without > 0 {
            format!(" ({without} records without a {algo} hash skipped)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::from_outcome(!hits.is_empty(), false))
}
