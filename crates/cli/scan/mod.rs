//! `nearmatch scan`: walk evidence, hash every file once, match against hash sets, and write a
//! report whose every walked path ends in exactly one disposition.
//!
//! Pipeline: the walk is collected first (deterministic order: roots as given, siblings by raw
//! name bytes); files are then processed in chunks, read and hashed by rayon workers, matched
//! per chunk with one batched search per set, and appended in walk order to a journal
//! (`REPORT.partial`, fsynced per chunk). The final report is rendered from the journal, so a
//! `--resume` after a crash reuses the completed prefix and produces the same records.
//!
//! Memory is bounded per stage: the walk list costs about a path plus 150 bytes per entry; at
//! most one chunk (`CHUNK` records and probes) is in flight; at most one file per worker thread
//! is held in memory (images whole, up to `--max-file-size`; other files stream in 1 MiB
//! blocks); each image decode runs on a supervised thread under `--decode-timeout`, and at most
//! `process::MAX_ABANDONED` timed-out decodes may linger before the scan stops.

mod custody;
mod process;
mod record;
mod report;
mod sets;
mod walk;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;
use nearmatch::hash::file::HashOptions;
use nearmatch::hash::Algorithm;
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::exit::{usage, CliError, ExitCode, WithCode};
use crate::hashing::{thread_pool, HashingArgs};
use crate::paths::ReportPath;
use record::FileRecord;
use report::ScanFormat;

/// Files per processing chunk: bounds memory (one chunk's records and probes) and sets how often
/// the journal is synced.
const CHUNK: usize = 64;

/// Arguments of `nearmatch scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Evidence files or directories (walked recursively; hidden files included; symbolic links
    /// recorded, never followed).
    #[arg(required = true)]
    pub evidence: Vec<PathBuf>,
    /// A hash set to match against (repeatable).
    #[arg(long = "set", short = 's', required = true)]
    pub sets: Vec<PathBuf>,
    /// Write the report here (default: standard output). Refused inside the evidence.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Report format.
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormat::Jsonl)]
    pub format: ScanFormat,
    /// Match radius: `R` for every perceptual set, or `ALGO=R[,ALGO=R]` (default per algorithm:
    /// 31 for PDQ, 8 for 64-bit hashes; exact sets always 0).
    #[arg(long, value_name = "R|ALGO=R,...")]
    pub max_distance: Option<String>,
    /// Also match the 8 flipped/rotated PDQ variants (reports the orientation that hit); an
    /// alias adding `dihedral` to `--probe`.
    #[arg(long)]
    pub dihedral: bool,
    /// PDQ query probes: `default` (trim), `none` (the file's own hash only), `all`,
    /// or a comma list of `trim`, `content-box`, `crop`, `rotate`, `dihedral` (`default,crop`
    /// adds to the default). A file matches when any probe is within range; every match names
    /// its probe. Only PDQ sets use probes: other algorithms and exact sets match the file's
    /// own hash.
    #[arg(long = "probe", value_name = "LIST", default_value = "default", value_parser = sets::parse_probes)]
    pub probe: nearmatch::probe::ProbeConfig,
    /// Match radius of the derived probes (trim, crop, ...): each uses min(set radius, R). The
    /// file's own hash and its flips/rotations keep the set radius.
    #[arg(long, value_name = "R", default_value_t = nearmatch::probe::DEFAULT_PROBE_RADIUS)]
    pub probe_max_distance: u32,
    /// Skip (unread) files larger than this many bytes.
    #[arg(long, default_value_t = 2 << 30)]
    pub max_file_size: u64,
    /// Per-file budget in seconds for decoding and hashing an image; a file over it is recorded
    /// as `error:timeout` and the scan goes on (0: no budget). After 4 such decodes, which keep
    /// running in the background, the scan stops (resume with `--resume`).
    #[arg(long, value_name = "SECS", default_value_t = 60.0)]
    pub decode_timeout: f64,
    /// Continue an interrupted scan from `OUTPUT.partial` (needs `-o`).
    #[arg(long)]
    pub resume: bool,
    /// Show progress even when standard error is not a terminal.
    #[arg(long)]
    pub progress: bool,
    /// No progress bar and no summary on standard error.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Testing aid: stop after this many files, leaving the journal as a crash would.
    #[arg(long, hide = true)]
    pub debug_stop_after: Option<usize>,
    #[command(flatten)]
    pub hashing: HashingArgs,
}

/// Runs `nearmatch scan`.
pub fn run_scan(args: ScanArgs) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    let started_utc = custody::now_utc();
    if args.resume && args.output.is_none() {
        return Err(usage(
            "--resume needs -o REPORT (the journal lives beside the report)",
        ));
    }
    if args.format == ScanFormat::Csv && args.output.is_none() {
        return Err(usage(
            "--format csv needs -o REPORT (the chain of custody goes to REPORT.header.json)",
        ));
    }
    let mut roots = Vec::new();
    for e in &args.evidence {
        let canon = std::fs::canonicalize(e)
            .with_context(|| format!("evidence {}", e.display()))
            .code(ExitCode::USAGE)?;
        roots.push(canon);
    }
    let out_paths = args.output.as_deref().map(OutputPaths::new).transpose()?;
    if let Some(o) = &out_paths {
        for (given, root) in args.evidence.iter().zip(&roots) {
            for p in o.all() {
                if p.starts_with(root) {
                    return Err(usage(format!(
                        "output {} is inside the evidence {}: refusing to write to evidence",
                        p.display(),
                        given.display()
                    )));
                }
            }
        }
    }
    let mut warnings = Vec::new();
    let evidence_custody: Vec<Value> = args
        .evidence
        .iter()
        .zip(&roots)
        .map(|(given, root)| {
            let mount = custody::mount_of(root);
            if let Some((mp, true)) = &mount {
                warnings.push(format!(
                    "evidence {} is on a read-write mount ({mp}); mount it read-only or use a write blocker",
                    given.display()
                ));
            }
            json!({
                "path": ReportPath::new(given).display,
                "canonical": ReportPath::new(root).display,
                "mount": mount.as_ref().map(|m| &m.0),
                "read_write": mount.map(|m| m.1),
            })
        })
        .collect();

    if !(args.decode_timeout.is_finite() && args.decode_timeout >= 0.0) {
        return Err(usage("--decode-timeout must be a number of seconds >= 0"));
    }
    let decode_timeout = (args.decode_timeout > 0.0)
        .then(|| std::time::Duration::from_secs_f64(args.decode_timeout));
    let radii = sets::parse_radii(args.max_distance.as_deref())?;
    let sets = sets::load_sets(&args.sets, radii, args.probe_max_distance)?;
    let searchers = sets::searchers(&sets)?;
    let pool = thread_pool(args.hashing.threads)?;

    // PDQ always (the interchange hash reports carry), plus whatever the sets need.
    let mut algos = vec![Algorithm::Pdq];
    for s in &sets {
        let a = s.algorithm();
        if !a.is_cryptographic() && !algos.contains(&a) {
            algos.push(a);
        }
    }
    let probes = args.probe.with(
        nearmatch::probe::ProbeFamily::Dihedral,
        args.probe.dihedral || args.dihedral,
    );
    let opts = HashOptions {
        probes: sets::probes_needed(&sets, probes),
        ..args.hashing.options()
    };
    let options = json!({
        "algorithms": algos.iter().map(|a| a.name()).collect::<Vec<_>>(),
        "radii": sets.iter().map(|s| json!({"set": s.display, "algorithm": s.algorithm().name(), "radius": s.radius, "probe_radius": s.probe_radius})).collect::<Vec<_>>(),
        "hash_mode": args.hashing.mode().name(),
        "pdq_profile": args.hashing.pdq_profile.name(),
        "pillow": format!("{:?}", args.hashing.pillow),
        "dihedral": probes.dihedral,
        "probes": probes.families().iter().map(|f| f.name()).collect::<Vec<_>>(),
        "probe_max_distance": args.probe_max_distance,
        "max_file_size": args.max_file_size,
        "decode_timeout": args.decode_timeout,
        "decode_limits": format!("{:?}", opts.limits),
    });
    // A resume may change the decode budget (a scan stopped by stuck decodes is resumed with a
    // larger one): every other option must match.
    let mut resumable = options.clone();
    resumable
        .as_object_mut()
        .expect("options is an object")
        .remove("decode_timeout");
    let fingerprint = json!({
        "evidence": roots.iter().map(|r| ReportPath::new(r).display).collect::<Vec<_>>(),
        "sets": sets.iter().map(|s| &s.sha256).collect::<Vec<_>>(),
        "options": resumable,
    });
    let ctx = process::Context {
        algos,
        opts,
        max_file_size: args.max_file_size,
        decode_timeout,
    };

    for w in &warnings {
        eprintln!("nearmatch: warning: {w}");
    }
    let (items, walk_stats) = walk::walk(&args.evidence);

    // The journal: beside the report, or an anonymous temporary file for standard output.
    let mut journal = Journal::open(
        out_paths.as_ref(),
        args.resume,
        &fingerprint,
        &started_utc,
        &items,
    )?;
    let show_progress = !args.quiet && (args.progress || std::io::stderr().is_terminal());
    // The bar counts bytes to read (ETA follows the real work when file sizes vary); the message
    // carries the file count and rate.
    let bytes_of = |item: &walk::Item| match (&item.kind, &item.meta) {
        (walk::Kind::File, Some(m)) if m.len <= args.max_file_size => m.len,
        _ => 0,
    };
    let bar = if show_progress {
        let total: u64 = items.iter().map(bytes_of).sum();
        let b = indicatif::ProgressBar::new(total);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {msg}, {binary_bytes}/{binary_total_bytes} at {binary_bytes_per_sec}, ETA {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        b.set_position(items[..journal.done].iter().map(bytes_of).sum());
        b.set_message(format!("{}/{} files", journal.done, items.len()));
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let run_started = Instant::now();
    let start_at = journal.done;
    let stop = args
        .debug_stop_after
        .map_or(items.len(), |n| n.clamp(start_at, items.len()));
    for (ci, chunk) in items[start_at..stop].chunks(CHUNK).enumerate() {
        let base = start_at + ci * CHUNK;
        let processed: Vec<process::Processed> = pool.install(|| {
            chunk
                .par_iter()
                .enumerate()
                .map(|(i, item)| process::process((base + i) as u64, item, &ctx))
                .collect()
        });
        // Files not started because too many decodes are stuck: journal only what came before.
        let stopped_at = processed.iter().position(|p| p.stopped);
        let mut processed = processed;
        if let Some(k) = stopped_at {
            processed.truncate(k);
        }
        let probes: Vec<&sets::Probes> = processed.iter().map(|p| &p.probes).collect();
        let hits = pool.install(|| sets::match_chunk(&sets, &searchers, &probes))?;
        let processed_len = processed.len();
        let mut lines = String::new();
        for (mut p, m) in processed.into_iter().zip(hits) {
            if !m.is_empty() {
                p.record.matches = m;
                p.record.disposition = "matched".into();
            }
            journal.note_duplicate(&mut p.record, &items);
            lines.push_str(&serde_json::to_string(&p.record).expect("records serialize"));
            lines.push('\n');
        }
        journal.append(lines.as_bytes())?;
        let done = base + processed_len;
        if stopped_at.is_some() || (process::abandoned() >= process::MAX_ABANDONED && done < stop) {
            bar.finish_and_clear();
            return Err(CliError {
                code: ExitCode::STUCK,
                error: anyhow::anyhow!(
                    "stopped after {done} of {} files: {} decodes exceeded --decode-timeout and are still running (each holds memory); the files so far are journaled (timed-out ones as error:timeout): rerun with --resume to continue, or skip the culprits",
                    items.len(),
                    process::abandoned()
                ),
            });
        }
        bar.inc(chunk.iter().map(bytes_of).sum());
        if show_progress {
            // Rate over this run only: a resumed prefix was not read now.
            let done = base + chunk.len();
            let rate = (done - start_at) as f64 / run_started.elapsed().as_secs_f64().max(1e-3);
            bar.set_message(format!("{done}/{} files at {rate:.0} files/s", items.len()));
        }
    }
    bar.finish_and_clear();
    journal.sync()?;
    if stop < items.len() {
        return Err(CliError {
            code: ExitCode::STUCK,
            error: anyhow::anyhow!("stopped after {stop} files (--debug-stop-after)"),
        });
    }

    let header = json!({
        "record": "header",
        "tool": "nearmatch",
        "version": env!("CARGO_PKG_VERSION"),
        "git_commit": env!("NEARMATCH_GIT_COMMIT"),
        "git_dirty": match env!("NEARMATCH_GIT_DIRTY") {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Null,
        },
        "command_line": std::env::args_os().map(|a| ReportPath::new(Path::new(&a)).display).collect::<Vec<_>>(),
        "started_utc": journal.started_utc,
        "resumed": journal.resumed.then(|| json!({"resumed_utc": started_utc, "files_reused": start_at})),
        "host": custody::host_name(),
        "user": custody::user(),
        "evidence": evidence_custody,
        "sets": sets.iter().map(|s| s.custody()).collect::<Vec<_>>(),
        "options": options,
        "warnings": warnings,
        "noatime_refused": process::noatime_refused(),
    });
    let walked = items.len() as u64;
    let summary_of = |s: &report::Summary| {
        json!({
            "record": "summary",
            "files_walked": walked,
            "directories": walk_stats.directories,
            "files_reported": s.files,
            "dispositions": s.dispositions,
            "by_class": s.by_class,
            "matched_files": s.matched(),
            "matches": s.matches,
            "matches_by_set": s.matches_by_set,
            "low_quality": s.low_quality,
            "extension_mismatch": s.extension_mismatch,
            "duplicate_files": s.duplicate_files,
            "bytes_hashed": s.bytes_hashed,
            "probe_hashes": s.probe_hashes,
            "matches_by_probe": s.matches_by_probe,
            "finished_utc": custody::now_utc(),
            "elapsed_seconds": started.elapsed().as_secs_f64(),
        })
    };

    let summary = render(&args, out_paths.as_ref(), &mut journal, &header, summary_of)?;
    // The reconciliation the design promises: every walked path has exactly one record.
    let dispositions: u64 = summary.dispositions.values().sum();
    if summary.files != walked || dispositions != walked {
        return Err(CliError {
            code: ExitCode::SOME_FAILED,
            error: anyhow::anyhow!(
                "internal error: {walked} files walked but {} records / {dispositions} dispositions",
                summary.files
            ),
        });
    }
    journal.remove();
    if !args.quiet {
        let by: Vec<String> = summary
            .dispositions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        eprintln!(
            "nearmatch: {walked} files: {}; {} matches{}",
            by.join(", "),
            summary.matches,
            if summary.duplicate_files > 0 {
                format!(", {} duplicate copies", summary.duplicate_files)
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::from_outcome(
        summary.matched() > 0,
        summary.failed,
    ))
}

/// Renders the final report from the journal: to a temporary file renamed into place, or to
/// standard output.
fn render(
    args: &ScanArgs,
    out: Option<&OutputPaths>,
    journal: &mut Journal,
    header: &Value,
    summary_of: impl FnOnce(&report::Summary) -> Value,
) -> Result<report::Summary, CliError> {
    let cant = |e: anyhow::Error| CliError {
        code: ExitCode::CANT_WRITE,
        error: e.context("cannot write the report"),
    };
    let mut reader = journal.reader()?;
    let write = |w: &mut dyn Write| -> anyhow::Result<report::Summary> {
        let s = match args.format {
            ScanFormat::Jsonl => report::write_jsonl(w, header, &mut reader, summary_of)?,
            ScanFormat::Csv => {
                let s = report::write_csv(w, &mut reader)?;
                if let Some(o) = out {
                    let mut side = header.clone();
                    side["summary"] = summary_of(&s);
                    let tmp = o.tmp(&o.sidecar);
                    std::fs::write(&tmp, serde_json::to_vec_pretty(&side)?)?;
                    std::fs::rename(&tmp, &o.sidecar)?;
                }
                s
            }
            ScanFormat::Vics => report::write_vics(w, &mut reader, env!("CARGO_PKG_VERSION"))?,
        };
        w.flush()?;
        Ok(s)
    };
    match out {
        None => write(&mut BufWriter::new(std::io::stdout().lock())).map_err(cant),
        Some(o) => {
            let tmp = o.tmp(&o.report);
            let f = File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))
                .map_err(cant)?;
            let mut w = BufWriter::new(f);
            let s = write(&mut w).map_err(cant)?;
            let f = w.into_inner().map_err(|e| cant(e.into_error().into()))?;
            f.sync_all().map_err(|e| cant(e.into()))?;
            std::fs::rename(&tmp, &o.report)
                .with_context(|| {
                    format!("cannot rename {} to {}", tmp.display(), o.report.display())
                })
                .map_err(cant)?;
            // Hashed from the renamed files, so the sidecar vouches for exactly what is on disk.
            let mut covered = vec![&o.report];
            if args.format == ScanFormat::Csv {
                covered.push(&o.sidecar);
            }
            write_checksums(o, &covered).map_err(cant)?;
            Ok(s)
        }
    }
}

/// Writes `REPORT.sha256` in `sha256sum` format (`<hex>  <file name>`, one line per file), via a
/// temporary file renamed into place.
fn write_checksums(o: &OutputPaths, files: &[&PathBuf]) -> anyhow::Result<()> {
    let mut text = String::new();
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy();
        text.push_str(&format!("{}  {name}\n", crate::sets::file_sha256(f)?));
    }
    let tmp = o.tmp(&o.checksums);
    let mut file =
        File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, &o.checksums).with_context(|| {
        format!(
            "cannot rename {} to {}",
            tmp.display(),
            o.checksums.display()
        )
    })?;
    Ok(())
}

/// The report and the files written beside it, with canonical parents.
struct OutputPaths {
    report: PathBuf,
    journal: PathBuf,
    sidecar: PathBuf,
    /// `REPORT.sha256`: digests of the finished report (and CSV header sidecar).
    checksums: PathBuf,
}

impl OutputPaths {
    fn new(p: &Path) -> Result<Self, CliError> {
        let name = p
            .file_name()
            .ok_or_else(|| usage(format!("-o {}: not a file name", p.display())))?;
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir = std::fs::canonicalize(parent)
            .with_context(|| format!("output directory {}", parent.display()))
            .code(ExitCode::CANT_WRITE)?;
        let with = |suffix: &str| {
            let mut n = name.to_os_string();
            n.push(suffix);
            dir.join(n)
        };
        Ok(OutputPaths {
            report: dir.join(name),
            journal: with(".partial"),
            sidecar: with(".header.json"),
            checksums: with(".sha256"),
        })
    }

    fn all(&self) -> [&Path; 4] {
        [&self.report, &self.journal, &self.sidecar, &self.checksums]
    }

    fn tmp(&self, p: &Path) -> PathBuf {
        let mut n = p.as_os_str().to_os_string();
        n.push(".tmp");
        PathBuf::from(n)
    }
}

/// The binary SHA-256 of a record's hex digest.
fn sha256_key(hex_digest: &str) -> Option<[u8; 32]> {
    let mut k = [0u8; 32];
    hex::decode_to_slice(hex_digest, &mut k).ok()?;
    Some(k)
}

/// The append-only record journal, and the duplicate index over the records in it.
struct Journal {
    file: File,
    path: Option<PathBuf>,
    /// Files already complete (a prefix of the walk).
    done: usize,
    resumed: bool,
    started_utc: String,
    /// SHA-256 -> walk index of the first file with that content (the path comes from the
    /// walk: ~50 bytes per distinct file where hex and path strings took ~185).
    first_of: HashMap<[u8; 32], u64>,
}

impl Journal {
    fn open(
        out: Option<&OutputPaths>,
        resume: bool,
        fingerprint: &Value,
        started_utc: &str,
        items: &[walk::Item],
    ) -> Result<Self, CliError> {
        let cant = |e: std::io::Error, p: &Path| CliError {
            code: ExitCode::CANT_WRITE,
            error: anyhow::Error::from(e).context(format!("cannot write journal {}", p.display())),
        };
        let first_line =
            json!({"record": "journal", "fingerprint": fingerprint, "started_utc": started_utc});
        let Some(out) = out else {
            let mut file =
                tempfile::tempfile().map_err(|e| cant(e, Path::new("(temporary file)")))?;
            writeln!(file, "{first_line}").map_err(|e| cant(e, Path::new("(temporary file)")))?;
            return Ok(Journal {
                file,
                path: None,
                done: 0,
                resumed: false,
                started_utc: started_utc.into(),
                first_of: HashMap::new(),
            });
        };
        let p = &out.journal;
        if resume && p.exists() {
            if let Some(mut j) = Self::reopen(p, fingerprint, items)? {
                j.resumed = true;
                return Ok(j);
            }
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(p)
            .map_err(|e| cant(e, p))?;
        writeln!(file, "{first_line}").map_err(|e| cant(e, p))?;
        Ok(Journal {
            file,
            path: Some(p.clone()),
            done: 0,
            resumed: false,
            started_utc: started_utc.into(),
            first_of: HashMap::new(),
        })
    }

    /// Reuses the longest prefix of complete records that still lines up with the walk, and
    /// truncates anything after it (a torn last line, or records of paths that changed).
    ///
    /// `None` when not even the journal's first line was completed (a crash right after it was
    /// created): there is nothing to resume, and the scan starts afresh.
    fn reopen(
        p: &Path,
        fingerprint: &Value,
        items: &[walk::Item],
    ) -> Result<Option<Self>, CliError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(p)
            .with_context(|| format!("cannot open journal {}", p.display()))
            .code(ExitCode::CANT_WRITE)?;
        let mut reader = BufReader::new(&file);
        let mut line = String::new();
        reader.read_line(&mut line).code(ExitCode::CANT_WRITE)?;
        if !line.ends_with('\n') {
            return Ok(None);
        }
        let head: Value = serde_json::from_str(line.trim_end()).unwrap_or(Value::Null);
        if head.get("fingerprint") != Some(fingerprint) {
            return Err(usage(format!(
                "{} was written by a scan with other evidence, sets or options; remove it or rerun without --resume",
                p.display()
            )));
        }
        let started_utc = head["started_utc"].as_str().unwrap_or("").to_string();
        let mut keep = line.len() as u64;
        let mut done = 0usize;
        let mut first_of = HashMap::new();
        loop {
            line.clear();
            let n = reader.read_line(&mut line).code(ExitCode::CANT_WRITE)?;
            if n == 0 || !line.ends_with('\n') {
                break;
            }
            let Ok(rec) = serde_json::from_str::<FileRecord>(line.trim_end()) else {
                break;
            };
            let Some(item) = items.get(done) else { break };
            let rp = ReportPath::new(&item.path);
            if rec.index != done as u64 || rec.path != rp.display || rec.path_b64 != rp.raw_b64 {
                break;
            }
            if let Some(h) = rec.sha256.as_deref().and_then(sha256_key) {
                first_of.entry(h).or_insert(rec.index);
            }
            keep += n as u64;
            done += 1;
        }
        drop(reader);
        let mut file = file;
        file.set_len(keep).code(ExitCode::CANT_WRITE)?;
        file.seek(SeekFrom::End(0)).code(ExitCode::CANT_WRITE)?;
        Ok(Some(Journal {
            file,
            path: Some(p.to_path_buf()),
            done,
            resumed: false,
            started_utc,
            first_of,
        }))
    }

    /// Marks `rec` as a copy of the first file with the same SHA-256, or records it as first.
    fn note_duplicate(&mut self, rec: &mut FileRecord, items: &[walk::Item]) {
        let Some(h) = rec.sha256.as_deref().and_then(sha256_key) else {
            return;
        };
        match self.first_of.get(&h) {
            Some(&i) => {
                rec.duplicate_of = Some(ReportPath::new(&items[i as usize].path).display);
                rec.duplicate_of_index = Some(i);
            }
            None => {
                self.first_of.insert(h, rec.index);
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) -> Result<(), CliError> {
        self.file.write_all(bytes).code(ExitCode::CANT_WRITE)?;
        self.sync()
    }

    fn sync(&mut self) -> Result<(), CliError> {
        if self.path.is_some() {
            self.file.sync_data().code(ExitCode::CANT_WRITE)?;
        }
        Ok(())
    }

    fn reader(&mut self) -> Result<BufReader<File>, CliError> {
        let mut f = self.file.try_clone().code(ExitCode::CANT_WRITE)?;
        f.seek(SeekFrom::Start(0)).code(ExitCode::CANT_WRITE)?;
        Ok(BufReader::new(f))
    }

    /// Deletes the journal once the report is complete.
    fn remove(self) {
        if let Some(p) = self.path {
            let _ = std::fs::remove_file(p);
        }
    }
}
