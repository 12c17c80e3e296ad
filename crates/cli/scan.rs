//! `nearmatch scan`: arguments -> [`nearmatch_scan::ScanSettings`], a progress bar, the summary
//! and the exit code. The engine (walk, hashing, matching, journal, reports) is the
//! `nearmatch-scan` library, which Python runs too.

use std::io::{BufWriter, IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use nearmatch::probe::ProbeFamily;
use nearmatch_scan::container::{ContainerLimits, ContainerPolicy};
use nearmatch_scan::{
    Progress, Radii, ReportFormat, ReportPath, Scan, ScanError, ScanErrorKind, ScanSettings,
    Summary,
};

use crate::exit::{usage, CliError, ExitCode};
use crate::hashing::{parse_algos, HashingArgs};

/// Report formats of `scan` and `report convert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// JSON Lines: a header record, one record per file, a summary record.
    Jsonl,
    /// One CSV row per file; the chain of custody goes to `REPORT.header.json`.
    Csv,
    /// Project VIC VICS 2.0 JSON, hash-only (MD5/SHA-1 of image files; no paths, no content).
    Vics,
    /// DFXML 2.0: a fileobject per file; matches, dispositions and PDQ in nearmatch's namespace.
    Dfxml,
    /// CASE/UCO JSON-LD: the scan as an investigative action, matches as relationships.
    Case,
    /// A self-contained HTML case summary (custody, counts, sortable matches, errors).
    Html,
}

impl From<ScanFormat> for ReportFormat {
    fn from(f: ScanFormat) -> Self {
        match f {
            ScanFormat::Jsonl => ReportFormat::Jsonl,
            ScanFormat::Csv => ReportFormat::Csv,
            ScanFormat::Vics => ReportFormat::Vics,
            ScanFormat::Dfxml => ReportFormat::Dfxml,
            ScanFormat::Case => ReportFormat::Case,
            ScanFormat::Html => ReportFormat::Html,
        }
    }
}

/// Arguments of `nearmatch scan`.
#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Evidence files or directories (walked recursively; hidden files included; symbolic links
    /// recorded, never followed).
    #[arg(required = true)]
    pub evidence: Vec<PathBuf>,
    /// A hash set to match against (repeatable). Without any, the scan is an inventory: every
    /// file hashed and accounted for, nothing matched.
    #[arg(long = "set", short = 's')]
    pub sets: Vec<PathBuf>,
    /// An exclusion set of known-good files (repeatable): a set of MD5, SHA-1 or SHA-256 hashes
    /// (e.g. built from NSRL). A file whose hash it holds is recorded `known-good` with the
    /// entry that holds it, not decoded; a match set holding it too wins (the file is examined
    /// and reported matched). Archives it holds are still expanded. A perceptual set is refused.
    #[arg(long = "ignore-set", value_name = "FILE")]
    pub ignore_sets: Vec<PathBuf>,
    /// Decode known-good images anyway, so that perceptual match sets (PDQ, pHash, ...) can
    /// overrule the ignore sets as exact ones always do; one that matches nothing is still
    /// `known-good` (keeps its perceptual hashes). Costs the decoding the ignore set saves.
    #[arg(long, requires = "ignore_sets")]
    pub decode_known_good: bool,
    /// Algorithms every record carries (comma list; default `pdq,md5,sha1`). MD5, SHA-1 and
    /// SHA-256 are computed for every file in any case; the sets' own algorithms are added.
    #[arg(long, short = 'a', value_name = "LIST")]
    pub algo: Option<String>,
    /// Write the report here (default: standard output); repeat for several reports from one
    /// scan. The format comes from the extension (.jsonl, .csv, .vics.json, .dfxml/.xml,
    /// .jsonld, .html; another extension is JSON Lines for a single -o) unless --format is
    /// given. The journal of --resume lives beside the first. Refused inside the evidence.
    #[arg(long, short = 'o')]
    pub output: Vec<PathBuf>,
    /// Report format of the single -o (or of standard output); default: from the extension,
    /// else JSON Lines.
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<ScanFormat>,
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
    #[arg(long = "probe", value_name = "LIST", default_value = "default", value_parser = crate::hashing::parse_probe_list)]
    pub probe: nearmatch::probe::ProbeConfig,
    /// Match radius of the derived probes (trim, crop, ...): each uses min(set radius, R). The
    /// file's own hash and its flips/rotations keep the set radius.
    #[arg(long, value_name = "R", default_value_t = nearmatch::probe::DEFAULT_PROBE_RADIUS)]
    pub probe_max_distance: u32,
    /// Containers to expand into member records (archives: ZIP and the office documents and
    /// EPUBs built on it, TAR, gzip, bzip2, xz, zstd, 7z; PDF images; EXIF thumbnails; animation
    /// frames): `default` (all of them), `all`, or `none` (containers are recorded as files).
    #[arg(long, value_name = "none|default|all", default_value = "default", value_parser = ContainerPolicy::parse)]
    pub containers: ContainerPolicy,
    /// Containers nested deeper than this are recorded, not opened (`skipped:limit`).
    #[arg(long, value_name = "N", default_value_t = ContainerLimits::default().depth)]
    pub max_depth: u32,
    /// Members recorded per container; the rest are not examined (named in the container's error).
    #[arg(long, value_name = "N", default_value_t = ContainerLimits::default().members)]
    pub max_members: u64,
    /// Bytes expanded from one walked file, every level together; past it, `skipped:limit`.
    #[arg(long, value_name = "BYTES", default_value_t = ContainerLimits::default().expanded_bytes)]
    pub max_expanded_bytes: u64,
    /// Expanded bytes per byte of the walked file (checked past 64 MiB expanded): stops bombs.
    #[arg(long, value_name = "RATIO", default_value_t = ContainerLimits::default().ratio)]
    pub max_ratio: u64,
    /// Bytes of one image or container member held in memory; other members stream.
    #[arg(long, value_name = "BYTES", default_value_t = ContainerLimits::default().member_bytes)]
    pub max_member_size: u64,
    /// Frames of an animated GIF, APNG or WebP recorded (`file!/frame/N`); past it, the
    /// animation's error names the limit.
    #[arg(long, value_name = "N", default_value_t = ContainerLimits::default().frames)]
    pub max_frames: u64,
    /// Re-hash the whole medium of every disk image (raw, split or E01) and compare with the
    /// MD5/SHA-1 an E01 stores; both are reported in the header's `disk_images`.
    #[arg(long)]
    pub verify_image: bool,
    /// Carve JPEG, PNG, GIF, BMP and WebP pictures by their signatures from the free space of
    /// disk images (unallocated clusters and blocks, gaps between partitions, partitions and
    /// images with no file system nearmatch reads): records `…!/$Carved/OFFSET.EXT`, `carved:
    /// true`. Needs containers expanded (not with `--containers none`).
    #[arg(long)]
    pub carve: bool,
    /// Skip (unread) files larger than this many bytes.
    #[arg(long, default_value_t = nearmatch_scan::read::DEFAULT_MAX_FILE_SIZE)]
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
    pub debug_stop_after: Option<u64>,
    #[command(flatten)]
    pub hashing: HashingArgs,
    #[command(flatten)]
    pub video: crate::video::VideoArgs,
    #[command(flatten)]
    pub video_match: crate::video::VideoMatchArgs,
}

/// Maps an engine error onto the documented exit codes.
pub fn cli_error(e: ScanError) -> CliError {
    let code = match e.kind() {
        ScanErrorKind::Usage => ExitCode::USAGE,
        ScanErrorKind::BadSet => ExitCode::DATA,
        ScanErrorKind::Output => ExitCode::CANT_WRITE,
        ScanErrorKind::Stopped => ExitCode::STUCK,
        ScanErrorKind::Internal => ExitCode::SOME_FAILED,
    };
    CliError {
        code,
        error: e.into(),
    }
}

/// The engine's settings for these arguments.
fn settings(args: &ScanArgs) -> Result<ScanSettings, CliError> {
    if !(args.decode_timeout.is_finite() && args.decode_timeout >= 0.0) {
        return Err(usage("--decode-timeout must be a number of seconds >= 0"));
    }
    let radii = match &args.max_distance {
        Some(spec) => Radii::parse(spec).map_err(cli_error)?,
        None => Radii::default(),
    };
    let algorithms = match &args.algo {
        Some(list) => parse_algos(list)?,
        None => Vec::new(),
    };
    let probes = args.probe.with(
        ProbeFamily::Dihedral,
        args.probe.has(ProbeFamily::Dihedral) || args.dihedral,
    );
    let mut settings = ScanSettings {
        evidence: args.evidence.clone(),
        sets: args.sets.clone(),
        ignore_sets: args.ignore_sets.clone(),
        decode_known_good: args.decode_known_good,
        algorithms,
        radii,
        probes,
        probe_max_distance: args.probe_max_distance,
        hashing: args.hashing.options(),
        max_file_size: args.max_file_size,
        decode_timeout: Some(Duration::from_secs_f64(args.decode_timeout)),
        threads: args.hashing.threads,
        containers: args.containers,
        container_limits: ContainerLimits {
            depth: args.max_depth,
            members: args.max_members,
            expanded_bytes: args.max_expanded_bytes,
            ratio: args.max_ratio,
            member_bytes: args.max_member_size,
            frames: args.max_frames,
        },
        verify_image: args.verify_image,
        carve: args.carve,
        resume: args.resume,
        count_ahead: show_progress(args),
        stop_after: args.debug_stop_after,
        command_line: std::env::args_os()
            .map(|a| ReportPath::new(Path::new(&a)).display)
            .collect(),
        video: {
            let mut v = args.video.settings()?;
            args.video_match.apply(&mut v)?;
            v
        },
        ..ScanSettings::default()
    };
    settings
        .set_outputs(&args.output, args.format.map(ReportFormat::from))
        .map_err(cli_error)?;
    Ok(settings)
}

fn show_progress(args: &ScanArgs) -> bool {
    !args.quiet && (args.progress || std::io::stderr().is_terminal())
}

/// Runs `nearmatch scan`.
pub fn run_scan(args: ScanArgs) -> Result<ExitCode, CliError> {
    let started = Instant::now();
    let scan = Scan::new(settings(&args)?).map_err(cli_error)?;
    for w in scan.warnings() {
        eprintln!("nearmatch: warning: {w}");
    }
    let bar = if show_progress(&args) {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {msg}, {binary_bytes} at {binary_bytes_per_sec}, ETA {eta}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let done = scan
        .run(&mut |p: &Progress| {
            update_bar(&bar, p);
            ControlFlow::Continue(())
        })
        .map_err(|e| {
            bar.finish_and_clear();
            cli_error(e)
        })?;
    bar.finish_and_clear();
    if !args.quiet {
        print_disk_images(done.header());
    }
    if nearmatch_scan::read::noatime_refused() {
        eprintln!(
            "nearmatch: warning: O_NOATIME refused (not the files' owner): access times may be updated by reads"
        );
    }
    let summary = if args.output.is_empty() {
        done.write_report_to(&mut BufWriter::new(std::io::stdout().lock()))
    } else {
        done.write_report()
    }
    .map_err(cli_error)?;
    done.finish();
    if !args.quiet {
        print_summary(&summary, &scan, started.elapsed());
    }
    Ok(ExitCode::from_outcome(
        summary.matched() > 0,
        summary.failed,
    ))
}

/// One line per disk image read: its format and, with `--verify-image`, the verification.
fn print_disk_images(header: &serde_json::Value) {
    let Some(images) = header["disk_images"].as_array() else {
        return;
    };
    let mut e = std::io::stderr().lock();
    for i in images {
        let path = i["path"].as_str().unwrap_or("?");
        let format = i["format"].as_str().unwrap_or("?");
        let size = i["media_size"].as_u64().unwrap_or(0);
        // What an E01 says of its acquisition, as examiners quote it.
        let acquired: Vec<String> = [
            ("case", "case_number"),
            ("evidence", "evidence_number"),
            ("examiner", "examiner"),
            ("acquired", "acquisition_date"),
        ]
        .iter()
        .filter_map(|(label, key)| {
            i[*key]
                .as_str()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{label} {v}"))
        })
        .collect();
        let acquired = if acquired.is_empty() {
            String::new()
        } else {
            format!(" ({})", acquired.join(", "))
        };
        let _ = writeln!(
            e,
            "nearmatch: disk image {path}: {format}, {size} bytes{acquired}"
        );
        let v = &i["verify"];
        if v.is_null() {
            continue;
        }
        if let Some(err) = v["error"].as_str() {
            let _ = writeln!(
                e,
                "nearmatch: warning: disk image {path}: verification failed: {err}"
            );
            continue;
        }
        for algo in ["md5", "sha1"] {
            let computed = v[format!("computed_{algo}")].as_str().unwrap_or("?");
            match v[format!("stored_{algo}")].as_str() {
                Some(_) if v[format!("{algo}_match")] == true => {
                    let _ = writeln!(e, "  {algo} {computed}: matches the acquisition hash");
                }
                Some(stored) => {
                    let _ = writeln!(
                        e,
                        "nearmatch: warning: disk image {path}: {algo} {computed} differs from the acquisition hash {stored}"
                    );
                }
                None => {
                    let _ = writeln!(e, "  {algo} {computed} (no acquisition hash stored)");
                }
            }
        }
    }
}

/// Moves the bar: bytes when the counting walk has the total, records otherwise.
fn update_bar(bar: &indicatif::ProgressBar, p: &Progress) {
    if let Some(total) = p.total_bytes {
        bar.set_length(total);
    }
    bar.set_position(p.bytes);
    let of = match p.total_items {
        Some(t) => format!("/{t}"),
        None => format!(" of {}+ walked", p.walked),
    };
    let fresh = p.records - p.reused;
    let rate = fresh as f64 / p.elapsed.as_secs_f64().max(1e-3);
    bar.set_message(format!("{}{of} files at {rate:.0} files/s", p.records));
}

/// The closing summary on standard error: dispositions, matches per set and probe family, rates.
fn print_summary(s: &Summary, scan: &Scan, elapsed: Duration) {
    let mut e = std::io::stderr().lock();
    let secs = elapsed.as_secs_f64().max(1e-6);
    let by: Vec<String> = s
        .dispositions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let members = if s.members > 0 {
        format!(" ({} of them container members)", s.members)
    } else {
        String::new()
    };
    let _ = writeln!(
        e,
        "nearmatch: {} files{members}: {}",
        s.files,
        by.join(", ")
    );
    if scan.sets().is_empty() {
        let _ = writeln!(e, "  inventory: no hash set, nothing matched");
    } else {
        let _ = writeln!(
            e,
            "  {} matched files, {} matches{}",
            s.matched(),
            s.matches,
            if s.duplicate_files > 0 {
                format!(", {} duplicate copies", s.duplicate_files)
            } else {
                String::new()
            }
        );
        for set in scan.sets() {
            let n = s.matches_by_set.get(&set.display).copied().unwrap_or(0);
            let _ = writeln!(
                e,
                "  set {} ({}, radius {}): {n} matches",
                set.display,
                set.algorithm(),
                set.radius
            );
        }
        for line in &s.listed_matches {
            let _ = writeln!(e, "    {line}");
        }
        if s.matched() > s.listed_matches.len() as u64 {
            let _ = writeln!(
                e,
                "    ... and {} more matched files (see the report)",
                s.matched() - s.listed_matches.len() as u64
            );
        }
        if !s.matches_by_probe_family.is_empty() {
            let fam: Vec<String> = s
                .matches_by_probe_family
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(e, "  matches by probe family: {}", fam.join(", "));
        }
    }
    for set in scan.ignore_sets() {
        let n = s.known_good_by_set.get(&set.display).copied().unwrap_or(0);
        let _ = writeln!(
            e,
            "  ignore set {} ({}, {} entries): {n} files hold known-good bytes",
            set.display,
            set.algorithm(),
            set.set.effective_len()
        );
    }
    let _ = writeln!(
        e,
        "  {:.1} s, {:.0} files/s, {:.1} MiB/s ({} bytes hashed)",
        secs,
        s.files as f64 / secs,
        s.bytes_hashed as f64 / secs / (1024.0 * 1024.0),
        s.bytes_hashed
    );
}
