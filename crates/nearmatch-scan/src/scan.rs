//! The scan: walk evidence, hash every item once, match against hash sets, and journal one
//! record per item, so that a report whose every walked path ends in exactly one disposition can
//! be rendered (or a resumed scan finish the job).
//!
//! Pipeline: a walker thread streams items (deterministic order: roots as given, siblings by raw
//! name bytes) into a bounded queue; the scan takes them in chunks, reads and hashes a chunk on
//! rayon workers, matches it with one batched search per set, and appends its records in order
//! to the journal. The report is rendered from the journal, so a resume after a crash reuses the
//! completed prefix and produces the same records.
//!
//! Memory is bounded per stage and none grows with the number of files: the walk holds the open
//! directories' listings and at most [`QUEUE`] items ahead; at most one chunk ([`CHUNK`] records
//! and their probes) is in flight; at most one file per worker thread is held in memory (images
//! whole, up to `max_file_size`; other files stream in 1 MiB blocks); each image decode runs on a
//! supervised thread under the decode budget, and at most [`process::MAX_ABANDONED`] timed-out
//! decodes may linger before the scan stops. The one structure that grows with the evidence is
//! the duplicate index: about 50 bytes per distinct content.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use nearmatch::hash::file::HashOptions;
use nearmatch::hash::Algorithm;
use nearmatch::probe::{ProbeConfig, ProbeFamily, DEFAULT_PROBE_RADIUS};
use rayon::prelude::*;
use serde_json::{json, Value};

use crate::container::{ContainerLimits, ContainerPolicy};
use crate::custody::{self, ToolInfo};
use crate::error::ScanError;
use crate::journal::{with_duplicate_paths, Journal, Records};
use crate::path::ReportPath;
use crate::process;
use crate::read::{noatime_refused, DEFAULT_MAX_FILE_SIZE};
use crate::record::{Disposition, FileRecord};
use crate::report::{self, OutputSet, ReportFormat, ReportOutput, Summary};
use crate::sets::{self, Digests, LoadedSet, Radii};
use crate::walk::{self, Item, Walk};

/// Items per processing chunk: bounds memory (one chunk's records and probes).
pub const CHUNK: usize = 64;

/// Items the walk may run ahead of hashing.
pub const QUEUE: usize = 4096;

/// Perceptual algorithms an inventory (a scan without sets) computes unless told otherwise;
/// MD5, SHA-1 and SHA-256 are computed for every file in every scan.
pub const INVENTORY_ALGORITHMS: [Algorithm; 1] = [Algorithm::Pdq];

/// Everything a scan needs to know; [`Default`] gives the CLI's defaults with no evidence.
#[derive(Clone, Debug)]
pub struct ScanSettings {
    /// Evidence files or directories (walked recursively; hidden files included; symbolic links
    /// recorded, never followed).
    pub evidence: Vec<PathBuf>,
    /// Hash sets to match against; none makes an inventory (hash everything, match nothing).
    pub sets: Vec<PathBuf>,
    /// Exclusion sets of known-good files (MD5, SHA-1 or SHA-256, e.g. NSRL): a file whose
    /// crypto hash one holds is recorded `known-good` and not decoded, unless an exact match set
    /// holds it too (a match always wins). Members of a known-good archive are still examined.
    pub ignore_sets: Vec<PathBuf>,
    /// Decode known-good images anyway, so perceptual match sets can overrule the ignore sets
    /// as exact ones always do; one that then matches nothing is still `known-good`.
    pub decode_known_good: bool,
    /// Algorithms every record carries besides those the sets need (crypto hashes always).
    /// Empty: PDQ.
    pub algorithms: Vec<Algorithm>,
    /// Match radii per algorithm.
    pub radii: Radii,
    /// PDQ query probes (used only when a PDQ set is scanned).
    pub probes: ProbeConfig,
    /// Radius of derived probes: each uses `min(set radius, this)`.
    pub probe_max_distance: u32,
    /// Hashing options (mode, PDQ profile, Pillow generation, decode limits); probes are set
    /// by the scan from `probes`.
    pub hashing: HashOptions,
    /// Files larger than this are recorded `skipped:max-file-size`, unread.
    pub max_file_size: u64,
    /// Per-file budget for decoding and hashing an image (`None`: no budget).
    pub decode_timeout: Option<Duration>,
    /// Worker threads (`None`: all cores).
    pub threads: Option<usize>,
    /// The report file; its journal (`REPORT.partial`) lives beside it. `None`: an anonymous
    /// journal, for reports written to a stream or records read back in memory.
    pub output: Option<PathBuf>,
    /// The report format ([`Completed::write_report`]).
    pub format: ReportFormat,
    /// Further reports rendered in the same pass as `output` (each with its own `.sha256`); the
    /// journal lives beside `output`, which they need.
    pub more_outputs: Vec<ReportOutput>,
    /// Which containers (archives, compressed streams) to expand into member records.
    pub containers: ContainerPolicy,
    /// Limits on expanding them.
    pub container_limits: ContainerLimits,
    /// Video hashing (vPDQ through the `ffmpeg` program) and video-list matching.
    pub video: crate::video::VideoSettings,
    /// Re-hash every disk image's medium and compare with the hashes an EWF image stores.
    pub verify_image: bool,
    /// Carve pictures from the free space of disk images (unallocated clusters and blocks,
    /// gaps between partitions, unreadable partitions and images); needs containers expanded.
    pub carve: bool,
    /// Continue an interrupted scan from its journal (needs `output`).
    pub resume: bool,
    /// Record an evidence path that does not exist as an `error:walk` record instead of
    /// refusing the scan (for file lists, such as a Dask partition's).
    pub missing_evidence_is_record: bool,
    /// Count the evidence ahead of the scan (a second, stat-only walk) so progress has totals.
    pub count_ahead: bool,
    /// Testing aid: stop after this many records, leaving the journal as a crash would.
    pub stop_after: Option<u64>,
    /// Who runs the scan, for the chain of custody.
    pub tool: ToolInfo,
    /// The command line (or call) that started the scan, for the chain of custody.
    pub command_line: Vec<String>,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            evidence: Vec::new(),
            sets: Vec::new(),
            ignore_sets: Vec::new(),
            decode_known_good: false,
            algorithms: Vec::new(),
            radii: Radii::default(),
            probes: ProbeConfig::default(),
            probe_max_distance: DEFAULT_PROBE_RADIUS,
            hashing: HashOptions::default(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            decode_timeout: Some(Duration::from_secs(60)),
            threads: None,
            output: None,
            format: ReportFormat::Jsonl,
            more_outputs: Vec::new(),
            containers: ContainerPolicy::Default,
            container_limits: ContainerLimits::default(),
            video: crate::video::VideoSettings::default(),
            verify_image: false,
            carve: false,
            resume: false,
            missing_evidence_is_record: false,
            count_ahead: false,
            stop_after: None,
            tool: ToolInfo::default(),
            command_line: Vec::new(),
        }
    }
}

impl ScanSettings {
    /// Sets the reports from a list of files and an optional format, as the CLI's repeatable
    /// `-o` and `--format` (and Python's `output=` and `format=`) give them: no file, the report
    /// goes to a stream in `format` (JSON Lines by default; CSV refused, its custody sidecar needs
    /// a file); one file, in `format`, else the format its extension names
    /// ([`ReportFormat::from_path`]), else JSON Lines; several files, each in the format its
    /// extension names (an unknown extension, or `format`, is refused). The journal lives
    /// beside the first file.
    pub fn set_outputs(
        &mut self,
        files: &[PathBuf],
        format: Option<ReportFormat>,
    ) -> Result<(), ScanError> {
        let (output, format, more) = match files {
            [] => {
                let format = format.unwrap_or(ReportFormat::Jsonl);
                if format == ReportFormat::Csv {
                    return Err(ScanError::Settings(
                        "a CSV report needs an output file (the chain of custody goes to REPORT.header.json)"
                            .into(),
                    ));
                }
                (None, format, Vec::new())
            }
            [one] => {
                let format = format
                    .or_else(|| ReportFormat::from_path(one))
                    .unwrap_or(ReportFormat::Jsonl);
                (Some(one.clone()), format, Vec::new())
            }
            several => {
                if format.is_some() {
                    return Err(ScanError::Settings(format!(
                        "a format applies to a single output; with several, each report's format comes from its extension ({})",
                        report::FORMAT_EXTENSIONS
                    )));
                }
                let mut all = several.iter().map(|p| {
                    ReportFormat::from_path(p)
                        .map(|format| ReportOutput {
                            path: p.clone(),
                            format,
                        })
                        .ok_or_else(|| {
                            ScanError::Settings(format!(
                                "{}: cannot tell the report format from the extension (use {})",
                                p.display(),
                                report::FORMAT_EXTENSIONS
                            ))
                        })
                });
                let first = all.next().expect("several outputs")?;
                let more = all.collect::<Result<Vec<_>, _>>()?;
                (Some(first.path), first.format, more)
            }
        };
        self.output = output;
        self.format = format;
        self.more_outputs = more;
        Ok(())
    }
}

/// Where a scan stands, reported after every chunk.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Progress {
    /// Records complete (reused from a resumed journal included).
    pub records: u64,
    /// Records reused from the journal of an interrupted run.
    pub reused: u64,
    /// Bytes of regular files read (or reused) so far, up to the file-size limit each.
    pub bytes: u64,
    /// Items the walk has yielded so far.
    pub walked: u64,
    /// Whether the walk has finished (then `walked` is the total).
    pub walk_done: bool,
    /// Totals from the counting walk, once it has finished (with `count_ahead`).
    pub total_items: Option<u64>,
    /// Bytes the whole scan will read, once the counting walk has finished.
    pub total_bytes: Option<u64>,
    /// Time since this run started.
    pub elapsed: Duration,
}

/// The report files of a scan with an output path.
#[derive(Clone, Debug)]
pub struct OutputPaths {
    /// The report.
    pub report: PathBuf,
    /// The journal (`REPORT.partial`), removed when the report is complete.
    pub journal: PathBuf,
    /// The chain-of-custody sidecar of a CSV report (`REPORT.header.json`).
    pub sidecar: PathBuf,
    /// `REPORT.sha256`: digests of the finished report (and CSV sidecar).
    pub checksums: PathBuf,
}

impl OutputPaths {
    /// The files of report `p`, with a canonical parent directory.
    pub fn new(p: &Path) -> Result<Self, ScanError> {
        let name = p
            .file_name()
            .ok_or_else(|| ScanError::Settings(format!("-o {}: not a file name", p.display())))?;
        let parent = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let dir = std::fs::canonicalize(parent).map_err(|e| ScanError::output(parent, e))?;
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

    /// `p.tmp`: where a file is written before it is renamed into place.
    pub(crate) fn tmp(p: &Path) -> PathBuf {
        let mut n = p.as_os_str().to_os_string();
        n.push(".tmp");
        PathBuf::from(n)
    }
}

/// A prepared scan: evidence resolved, sets opened and verified, options fixed.
pub struct Scan {
    settings: ScanSettings,
    out: Option<OutputPaths>,
    more: Vec<(OutputPaths, ReportFormat)>,
    sets: Arc<Vec<LoadedSet>>,
    ctx: process::Context,
    options: Value,
    fingerprint: Value,
    evidence_custody: Vec<Value>,
    warnings: Vec<String>,
    pool: rayon::ThreadPool,
}

impl Scan {
    /// Checks the settings, resolves the evidence, refuses an output inside it, and opens and
    /// verifies every set.
    pub fn new(settings: ScanSettings) -> Result<Self, ScanError> {
        let s = &settings;
        if s.evidence.is_empty() {
            return Err(ScanError::Settings("no evidence to scan".into()));
        }
        if s.resume && s.output.is_none() {
            return Err(ScanError::Settings(
                "--resume needs -o REPORT (the journal lives beside the report)".into(),
            ));
        }
        if s.carve && s.containers == ContainerPolicy::None {
            return Err(ScanError::Settings(
                "--carve needs disk images expanded: it cannot be used with --containers none"
                    .into(),
            ));
        }
        if s.threads == Some(0) {
            return Err(ScanError::Settings("--threads must be at least 1".into()));
        }
        let mut roots = Vec::new();
        for e in &s.evidence {
            let canon = match std::fs::canonicalize(e) {
                Ok(c) => c,
                Err(source)
                    if s.missing_evidence_is_record
                        && source.kind() == std::io::ErrorKind::NotFound =>
                {
                    std::path::absolute(e).unwrap_or_else(|_| e.clone())
                }
                Err(source) => {
                    return Err(ScanError::Evidence {
                        path: e.clone(),
                        source,
                    })
                }
            };
            roots.push(canon);
        }
        let out = s.output.as_deref().map(OutputPaths::new).transpose()?;
        if out.is_none() && !s.more_outputs.is_empty() {
            return Err(ScanError::Settings(
                "further outputs need a first output path (its journal)".into(),
            ));
        }
        let more = s
            .more_outputs
            .iter()
            .map(|o| Ok((OutputPaths::new(&o.path)?, o.format)))
            .collect::<Result<Vec<_>, ScanError>>()?;
        let mut seen: Vec<&Path> = Vec::new();
        for o in out.iter().chain(more.iter().map(|(o, _)| o)) {
            for p in o.all() {
                if seen.contains(&p) {
                    return Err(ScanError::Settings(format!(
                        "{} is written twice: give each output its own name",
                        p.display()
                    )));
                }
                seen.push(p);
            }
            for (given, root) in s.evidence.iter().zip(&roots) {
                for p in o.all() {
                    if p.starts_with(root) {
                        return Err(ScanError::Settings(format!(
                            "output {} is inside the evidence {}: refusing to write to evidence",
                            p.display(),
                            given.display()
                        )));
                    }
                }
            }
        }
        let mut warnings = Vec::new();
        let evidence_custody: Vec<Value> = s
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

        let sets = Arc::new(sets::load_sets(&s.sets, &s.radii, s.probe_max_distance)?);
        let ignore_sets = Arc::new(sets::load_ignore_sets(&s.ignore_sets)?);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(s.threads.unwrap_or(0))
            .build()
            .map_err(|e| ScanError::Settings(format!("cannot start worker threads: {e}")))?;

        // PDQ always (the interchange hash reports carry) unless told otherwise, plus whatever
        // the sets need.
        let mut algos: Vec<Algorithm> = Vec::new();
        let wanted = if s.algorithms.is_empty() {
            &INVENTORY_ALGORITHMS[..]
        } else {
            &s.algorithms[..]
        };
        for a in wanted
            .iter()
            .copied()
            .chain(sets.iter().map(LoadedSet::algorithm))
        {
            if !a.is_cryptographic() && !algos.contains(&a) {
                algos.push(a);
            }
        }
        let probes = s.probes;
        let opts = HashOptions {
            probes: sets::probes_needed(&sets, probes),
            ..s.hashing.clone()
        };
        let decode_timeout = s.decode_timeout.map_or(0.0, |d| d.as_secs_f64());
        let mut options = json!({
            "algorithms": algos.iter().map(|a| a.name()).collect::<Vec<_>>(),
            "radii": sets.iter().map(|s| json!({"set": s.display, "algorithm": s.algorithm().name(), "radius": s.radius, "probe_radius": s.probe_radius})).collect::<Vec<_>>(),
            "hash_mode": s.hashing.mode.name(),
            "orientation": s.hashing.orientation.name(),
            "pdq_profile": s.hashing.pdq_profile.name(),
            "pillow": format!("{:?}", s.hashing.pillow),
            "dihedral": probes.has(ProbeFamily::Dihedral),
            "probes": probes.families().iter().map(|f| f.name()).collect::<Vec<_>>(),
            "probe_max_distance": s.probe_max_distance,
            "max_file_size": s.max_file_size,
            "decode_timeout": decode_timeout,
            "decode_limits": format!("{:?}", opts.limits),
            "containers": s.containers.name(),
            "container_limits": {
                "depth": s.container_limits.depth,
                "members": s.container_limits.members,
                "expanded_bytes": s.container_limits.expanded_bytes,
                "ratio": s.container_limits.ratio,
                "member_bytes": s.container_limits.member_bytes,
                "frames": s.container_limits.frames,
            },
            "video": {
                "enabled": s.video.enabled,
                "seconds_per_hash": s.video.seconds_per_hash,
                "timeout": s.video.timeout.as_secs_f64(),
                "max_frames": s.video.max_frames,
                "max_pixels": s.video.max_pixels,
                "distance": s.video.matching.distance,
                "quality": s.video.matching.quality,
                "query_percent": s.video.matching.query_percent,
                "compared_percent": s.video.matching.compared_percent,
            },
        });
        if s.carve {
            options["carve"] = Value::Bool(true);
        }
        if !ignore_sets.is_empty() {
            // Their digests are in the fingerprint and the header's `ignore_sets`.
            options["ignore_sets"] = ignore_sets
                .iter()
                .map(|s| json!({"set": s.display, "algorithm": s.algorithm().name()}))
                .collect();
            options["decode_known_good"] = Value::Bool(s.decode_known_good);
        }
        // A resume may change the decode budget (a scan stopped by stuck decodes is resumed with
        // a larger one): every other option must match.
        let mut resumable = options.clone();
        if let Some(o) = resumable.as_object_mut() {
            o.remove("decode_timeout");
        }
        let mut fingerprint = json!({
            "evidence": roots.iter().map(|r| ReportPath::new(r).display).collect::<Vec<_>>(),
            "sets": sets.iter().map(|s| &s.sha256).collect::<Vec<_>>(),
            "options": resumable,
        });
        if !ignore_sets.is_empty() {
            fingerprint["ignore_sets"] = ignore_sets.iter().map(|s| s.sha256.clone()).collect();
        }
        let ctx = process::Context {
            algos,
            opts,
            max_file_size: s.max_file_size,
            decode_timeout: s.decode_timeout.filter(|d| !d.is_zero()),
            containers: s.containers,
            container_limits: s.container_limits,
            video: if s.video.enabled {
                Some(std::sync::Arc::new(crate::video::scan::VideoContext::new(
                    s.video.clone(),
                    &sets,
                )?))
            } else {
                None
            },
            verify_image: s.verify_image,
            carve: s.carve,
            disk_images: Default::default(),
            ignore_sets,
            match_sets: sets.clone(),
            decode_known_good: s.decode_known_good,
        };
        Ok(Scan {
            settings,
            out,
            more,
            sets,
            ctx,
            options,
            fingerprint,
            evidence_custody,
            warnings,
            pool,
        })
    }

    /// Warnings about the evidence found while preparing (e.g. a read-write mount); they are
    /// also written into the report's chain of custody.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The opened sets.
    pub fn sets(&self) -> &[LoadedSet] {
        &self.sets
    }

    /// The opened ignore sets (`--ignore-set`).
    pub fn ignore_sets(&self) -> &[LoadedSet] {
        &self.ctx.ignore_sets
    }

    /// The report files, when the scan writes to a path.
    pub fn output_paths(&self) -> Option<&OutputPaths> {
        self.out.as_ref()
    }

    /// Runs the scan to the end of the evidence, calling `progress` after every chunk; the
    /// records are in the journal of the returned [`Completed`].
    pub fn run(
        &self,
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<Completed, ScanError> {
        let started = Instant::now();
        let started_utc = custody::now_utc();
        let (mut journal, mut cursor) = Journal::open(
            self.out.as_ref().map(|o| o.journal.as_path()),
            self.settings.resume,
            &self.fingerprint,
            &started_utc,
        )?;
        let searchers = sets::searchers(&self.sets)?;

        // The walk streams through a bounded queue; a second, stat-only walk may count ahead.
        let (tx, rx) = mpsc::sync_channel::<Item>(QUEUE);
        let walked = Arc::new(AtomicU64::new(0));
        let directories = Arc::new(AtomicU64::new(0));
        let walk_done = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let walker = {
            let (roots, walked, directories, walk_done) = (
                self.settings.evidence.clone(),
                walked.clone(),
                directories.clone(),
                walk_done.clone(),
            );
            std::thread::Builder::new()
                .name("nearmatch-walk".into())
                .spawn(move || {
                    let mut w = Walk::new(&roots);
                    while let Some(item) = w.next() {
                        walked.fetch_add(1, Ordering::Relaxed);
                        if tx.send(item).is_err() {
                            break; // the scan stopped early
                        }
                        directories.store(w.directories(), Ordering::Relaxed);
                    }
                    directories.store(w.directories(), Ordering::Relaxed);
                    walk_done.store(true, Ordering::Release);
                })
                .map_err(|e| ScanError::Settings(format!("cannot start the walk: {e}")))?
        };
        let totals = Arc::new((AtomicU64::new(0), AtomicU64::new(0), AtomicBool::new(false)));
        let counter = self.settings.count_ahead.then(|| {
            let (roots, max, totals, stop) = (
                self.settings.evidence.clone(),
                self.settings.max_file_size,
                totals.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                walk::count(&roots, max, &totals.0, &totals.1, &stop);
                totals
                    .2
                    .store(!stop.load(Ordering::Relaxed), Ordering::Release);
            })
        });
        let result = self.pipeline(&rx, &mut journal, &mut cursor, &searchers, &mut |p| {
            let mut p = *p;
            p.walked = walked.load(Ordering::Relaxed);
            p.walk_done = walk_done.load(Ordering::Acquire);
            if totals.2.load(Ordering::Acquire) {
                p.total_items = Some(totals.0.load(Ordering::Relaxed));
                p.total_bytes = Some(totals.1.load(Ordering::Relaxed));
            } else if p.walk_done {
                p.total_items = Some(p.walked);
            }
            p.elapsed = started.elapsed();
            progress(&p)
        });
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        let _ = walker.join();
        if let Some(c) = counter {
            let _ = c.join();
        }
        let (records, reused) = result?;
        journal.sync()?;
        let walked = walked.load(Ordering::Relaxed);
        let directories = directories.load(Ordering::Relaxed);

        // Disk images met in this run, in the order they were read (records of a resumed run's
        // earlier part carry theirs in `disk_image`).
        let disk_images: Vec<Value> = self
            .ctx
            .disk_images
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        let mut warnings = self.warnings.clone();
        for i in &disk_images {
            let v = &i["verify"];
            if v["md5_match"] == false || v["sha1_match"] == false {
                warnings.push(format!(
                    "disk image {}: the medium's hashes differ from those stored at acquisition (see disk_images)",
                    i["path"].as_str().unwrap_or("?")
                ));
            } else if v["error"].is_string() {
                warnings.push(format!(
                    "disk image {}: --verify-image could not read the medium to its end",
                    i["path"].as_str().unwrap_or("?")
                ));
            }
        }
        let header = json!({
            "record": "header",
            "tool": self.settings.tool.name,
            "version": self.settings.tool.version,
            "git_commit": self.settings.tool.git_commit,
            "git_dirty": self.settings.tool.git_dirty,
            "command_line": self.settings.command_line,
            "started_utc": journal.started_utc,
            "resumed": journal.resumed.then(|| json!({"resumed_utc": started_utc, "files_reused": reused})),
            "host": custody::host_name(),
            "user": custody::user(),
            "evidence": self.evidence_custody,
            "sets": self.sets.iter().map(|s| s.custody()).collect::<Vec<_>>(),
            "ignore_sets": self.ctx.ignore_sets.iter().map(|s| s.custody()).collect::<Vec<_>>(),
            "options": self.options,
            "disk_images": disk_images,
            "warnings": warnings,
            "noatime_refused": noatime_refused(),
        });
        Ok(Completed {
            format: self.settings.format,
            out: self.out.clone(),
            more: self.more.clone(),
            journal: Some(journal),
            header,
            walked,
            records,
            directories,
            started,
        })
    }

    /// The scan proper: reuse what a resumed journal holds, then process the rest chunk by
    /// chunk. Returns (records, records reused).
    fn pipeline(
        &self,
        rx: &mpsc::Receiver<Item>,
        journal: &mut Journal,
        cursor: &mut Option<crate::journal::ResumeCursor>,
        searchers: &[Option<nearmatch::hashset::LayeredSearcher<'_>>],
        progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
    ) -> Result<(u64, u64), ScanError> {
        let bytes_of = |item: &Item| match (&item.kind, &item.meta) {
            (walk::Kind::File, Some(m)) if m.len <= self.settings.max_file_size => m.len,
            _ => 0,
        };
        let mut p = Progress::default();
        let mut reused = 0u64;
        let mut carried: Option<Item> = None;
        // Reuse the journal's records while they line up with the walk.
        if let Some(mut c) = cursor.take() {
            for item in rx.iter() {
                if journal.reuse(&mut c, &item)?.is_some() {
                    reused += 1;
                    p.bytes += bytes_of(&item);
                    if reused.is_multiple_of(CHUNK as u64 * 16) {
                        p.records = reused;
                        p.reused = reused;
                        if progress(&p).is_break() {
                            journal.end_resume(c)?;
                            journal.sync()?;
                            return Err(ScanError::Cancelled(reused));
                        }
                    }
                    continue;
                }
                carried = Some(item);
                break;
            }
            journal.end_resume(c)?;
        }
        p.records = journal.next_index();
        p.reused = reused;
        if progress(&p).is_break() {
            journal.sync()?;
            return Err(ScanError::Cancelled(p.records));
        }
        let stop_after = self.settings.stop_after;
        let mut items_done = reused;
        let mut items = carried.into_iter().chain(rx.iter()).peekable();
        loop {
            let room = stop_after.map_or(CHUNK as u64, |n| {
                n.saturating_sub(items_done).min(CHUNK as u64)
            });
            if room == 0 {
                break;
            }
            let chunk: Vec<Item> = items.by_ref().take(room as usize).collect();
            if chunk.is_empty() {
                break;
            }
            let groups: Vec<Vec<process::Processed>> = self.pool.install(|| {
                chunk
                    .par_iter()
                    .map(|item| process::process(0, item, &self.ctx))
                    .collect()
            });
            // Items not finished because too many decodes are stuck: journal only the items
            // before the first of them (a resume processes it again, members and all).
            let stopped_at = groups.iter().position(|g| g.iter().any(|x| x.stopped));
            let mut groups = groups;
            if let Some(k) = stopped_at {
                groups.truncate(k);
            }
            let n = groups.len();
            // Record indices: in order, a container's members right after it.
            let mut processed: Vec<process::Processed> = Vec::new();
            for g in groups {
                let base = journal.next_index() + processed.len() as u64;
                for (j, mut x) in g.into_iter().enumerate() {
                    x.record.index = base + j as u64;
                    x.record.parent = x.parent.map(|q| base + q as u64);
                    processed.push(x);
                }
            }
            let digests: Vec<&Digests> = processed.iter().map(|x| &x.digests).collect();
            let hits = self
                .pool
                .install(|| sets::match_chunk(&self.sets, searchers, &digests))?;
            let records = processed.len() as u64;
            let mut lines = String::new();
            for (mut x, m) in processed.into_iter().zip(hits) {
                if !m.is_empty() {
                    // Extended, not replaced: a video's record arrives with its video-list matches.
                    x.record.matches.extend(m);
                    x.record.disposition = Disposition::Matched;
                } else if x.record.disposition == Disposition::Unmatched
                    && !x.record.known_good.is_empty()
                {
                    // A known-good image decoded under --decode-known-good that matched nothing.
                    x.record.disposition = Disposition::KnownGood;
                }
                journal.note_duplicate(&mut x.record);
                lines.push_str(&serde_json::to_string(&x.record).expect("records serialize"));
                lines.push('\n');
            }
            journal.append(lines.as_bytes(), records)?;
            items_done += n as u64;
            p.bytes += chunk[..n].iter().map(bytes_of).sum::<u64>();
            p.records = journal.next_index();
            if stopped_at.is_some()
                || (process::abandoned() >= process::MAX_ABANDONED && items.peek().is_some())
            {
                journal.sync()?;
                return Err(ScanError::Stuck {
                    done: items_done,
                    abandoned: process::abandoned(),
                });
            }
            if progress(&p).is_break() {
                journal.sync()?;
                return Err(ScanError::Cancelled(items_done));
            }
        }
        if let Some(n) = stop_after {
            if items.peek().is_some() {
                journal.sync()?;
                return Err(ScanError::StoppedEarly(n));
            }
        }
        Ok((journal.next_index(), reused))
    }
}

/// A scan that has run to the end: its records are journaled, ready to be rendered or read.
pub struct Completed {
    format: ReportFormat,
    out: Option<OutputPaths>,
    more: Vec<(OutputPaths, ReportFormat)>,
    journal: Option<Journal>,
    header: Value,
    walked: u64,
    records: u64,
    directories: u64,
    started: Instant,
}

impl Completed {
    /// The chain-of-custody header (tool, command line, times, host, user, evidence, sets,
    /// options, warnings).
    pub fn header(&self) -> &Value {
        &self.header
    }

    /// Items the walk yielded (each has exactly one record).
    pub fn walked(&self) -> u64 {
        self.walked
    }

    fn journal(&self) -> &Journal {
        self.journal
            .as_ref()
            .expect("the journal lives until finish")
    }

    /// Every record in order, `duplicate_of` filled in, one at a time.
    pub fn for_each_record(
        &self,
        f: &mut dyn FnMut(FileRecord) -> Result<(), ScanError>,
    ) -> Result<(), ScanError> {
        with_duplicate_paths(self.journal(), f)
    }

    /// The records in order as an iterator (each read from the journal when asked for).
    pub fn records(&self) -> Result<Records, ScanError> {
        Records::new(self.journal())
    }

    /// Removes the journal file's name but keeps its records readable through this value (for
    /// callers that keep reading records after the report is written).
    pub fn unlink_journal(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.unlink();
        }
    }

    /// Totals over every record.
    pub fn summary(&self) -> Result<Summary, ScanError> {
        let mut s = Summary::default();
        self.for_each_record(&mut |r| {
            s.add(&r);
            Ok(())
        })?;
        self.reconcile(&s)?;
        Ok(s)
    }

    /// The summary record that closes a JSON Lines report.
    pub fn summary_record(&self, s: &Summary) -> Value {
        let mut v = json!({
            "record": "summary",
            "files_walked": self.walked,
            "directories": self.directories,
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
            "elapsed_seconds": self.started.elapsed().as_secs_f64(),
        });
        if s.members > 0 {
            // Records of container members (the rest are the walked files).
            v["container_members"] = s.members.into();
        }
        if !self.header["ignore_sets"]
            .as_array()
            .is_none_or(|a| a.is_empty())
        {
            // Known-good exclusion: records an ignore set holds (the `known-good` disposition
            // counts those not decoded), per set.
            v["known_good_hits"] = s.known_good_hits.into();
            v["known_good_by_set"] = json!(s.known_good_by_set);
        }
        v
    }

    /// The reconciliation the design promises: every walked path has exactly one record.
    fn reconcile(&self, s: &Summary) -> Result<(), ScanError> {
        let dispositions: u64 = s.dispositions.values().sum();
        if s.files - s.members != self.walked || dispositions != s.files || self.records != s.files
        {
            return Err(ScanError::Internal(format!(
                "{} files walked but {} records ({} container members) / {dispositions} dispositions",
                self.walked, s.files, s.members
            )));
        }
        Ok(())
    }

    /// Renders the report in the scan's format to `out` (a stream: no sidecars, and only the
    /// scan's first format).
    pub fn write_report_to(&self, out: &mut dyn Write) -> Result<Summary, ScanError> {
        let stream = || PathBuf::from("(report stream)");
        if self.format == ReportFormat::Csv {
            return Err(ScanError::Settings(
                "a CSV report needs an output path (the chain of custody goes to REPORT.header.json)"
                    .into(),
            ));
        }
        let io = |e| ScanError::output(stream(), e);
        let mut w = report::writer_for(self.format, &mut *out).map_err(io)?;
        w.begin(&self.header).map_err(io)?;
        let mut s = Summary::default();
        for r in self.records()? {
            let r = r?;
            s.add(&r);
            w.record(&r).map_err(io)?;
        }
        w.finish(&self.summary_record(&s)).map_err(io)?;
        self.reconcile(&s)?;
        Ok(s)
    }

    /// Renders every report of the scan (its output and any further outputs) in one pass over
    /// the journal: each to a temporary file renamed into place, the CSV custody sidecar, and a
    /// `REPORT.sha256` over what was written.
    pub fn write_report(&self) -> Result<Summary, ScanError> {
        let o = self
            .out
            .as_ref()
            .ok_or_else(|| ScanError::Settings("the scan has no output path".into()))?;
        let mut outputs = vec![(o.clone(), self.format)];
        outputs.extend(self.more.iter().cloned());
        let mut set = OutputSet::create(&outputs, &self.header)?;
        for r in self.records()? {
            set.record(&r?)?;
        }
        let summary = self.summary_record(set.summary());
        let s = set.finish(&self.header, &summary)?;
        self.reconcile(&s)?;
        Ok(s)
    }

    /// Deletes the journal (call once the report is written).
    pub fn finish(mut self) {
        if let Some(j) = self.journal.take() {
            j.remove();
        }
    }
}
