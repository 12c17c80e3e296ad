//! `nearmatch video-hash`, the video options of `scan`, and `set build --algo vpdq`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use nearmatch::hash::vpdq;
use nearmatch::hashset::vpdq::VideoListWriter;
use nearmatch_scan::video::{self, VideoSettings};

use crate::exit::{usage, CliError, ExitCode, WithCode};

/// Arguments of `video-hash`.
#[derive(Args, Debug)]
pub struct VideoHashArgs {
    /// Write one `<video name>.txt` per video into this directory (Meta's vpdq-hash-video layout)
    /// instead of printing to standard output.
    #[arg(long, short = 'o', value_name = "DIR")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub video: VideoArgs,
    /// Video files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// How videos are hashed and matched (shared by `video-hash` and `scan`).
#[derive(Args, Debug, Clone)]
pub struct VideoArgs {
    /// Seconds between hashed frames: frame n is hashed when n % int(SECS × fps) == 0
    /// (Meta's library default 1; 0 hashes every frame, as Meta's C++ tool does by default).
    #[arg(long, value_name = "SECS", default_value_t = vpdq::DEFAULT_SECONDS_PER_HASH)]
    pub seconds_per_hash: f64,
    /// Budget in seconds for probing and decoding one video; ffmpeg is killed past it.
    #[arg(long, value_name = "SECS", default_value_t = VideoSettings::default().timeout.as_secs_f64())]
    pub video_timeout: f64,
    /// Hashed frames per video, at most (the record says when a video was cut short).
    #[arg(long, value_name = "N", default_value_t = VideoSettings::default().max_frames)]
    pub video_max_frames: u64,
    /// Pixels per frame, at most: a larger declared frame size is refused before decoding.
    #[arg(long, value_name = "N", default_value_t = VideoSettings::default().max_pixels)]
    pub video_max_pixels: u64,
}

/// Video-list matching thresholds of `scan` (Meta's defaults).
#[derive(Args, Debug, Clone)]
pub struct VideoMatchArgs {
    /// Do not hash videos: record them like any other non-image file.
    #[arg(long)]
    pub no_video: bool,
    /// Two frames match at PDQ distance <= this (Meta: 31).
    #[arg(long, value_name = "BITS", default_value_t = vpdq::DEFAULT_DISTANCE)]
    pub vpdq_distance: u32,
    /// Frames below this PDQ quality are dropped before video matching (Meta: 50).
    #[arg(long, value_name = "Q", default_value_t = vpdq::DEFAULT_QUALITY)]
    pub vpdq_quality: u8,
    /// A list video matches when at least this percentage of the scanned video's frames match
    /// it (python-threatexchange: 80).
    #[arg(long, value_name = "PCT", default_value_t = vpdq::DEFAULT_QUERY_PERCENT)]
    pub vpdq_query_percent: f64,
    /// ... and at least this percentage of the list video's frames match the scanned video
    /// (python-threatexchange: 0; Meta's README example uses 80 here and 0 above).
    #[arg(long, value_name = "PCT", default_value_t = vpdq::DEFAULT_COMPARED_PERCENT)]
    pub vpdq_compared_percent: f64,
}

impl VideoArgs {
    /// The engine's video settings for these arguments.
    pub fn settings(&self) -> Result<VideoSettings, CliError> {
        if !(self.seconds_per_hash.is_finite() && self.seconds_per_hash >= 0.0) {
            return Err(usage("--seconds-per-hash must be a number of seconds >= 0"));
        }
        if !(self.video_timeout.is_finite() && self.video_timeout > 0.0) {
            return Err(usage("--video-timeout must be a number of seconds > 0"));
        }
        Ok(VideoSettings {
            seconds_per_hash: self.seconds_per_hash,
            timeout: Duration::from_secs_f64(self.video_timeout),
            max_frames: self.video_max_frames,
            max_pixels: self.video_max_pixels,
            ..VideoSettings::default()
        })
    }
}

impl VideoMatchArgs {
    /// Applies the thresholds (and `--no-video`) to `s`.
    pub fn apply(&self, s: &mut VideoSettings) -> Result<(), CliError> {
        for (name, v) in [
            ("--vpdq-query-percent", self.vpdq_query_percent),
            ("--vpdq-compared-percent", self.vpdq_compared_percent),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err(usage(format!("{name} must be between 0 and 100")));
            }
        }
        if self.vpdq_distance > 256 || self.vpdq_quality > 100 {
            return Err(usage(
                "--vpdq-distance must be 0-256 and --vpdq-quality 0-100",
            ));
        }
        s.enabled = !self.no_video;
        s.matching = vpdq::MatchOptions {
            distance: self.vpdq_distance,
            quality: self.vpdq_quality,
            query_percent: self.vpdq_query_percent,
            compared_percent: self.vpdq_compared_percent,
        };
        Ok(())
    }
}

/// Runs `video-hash`: Meta's text format per video; exit 2 when a video could not be hashed.
pub fn run_video_hash(args: VideoHashArgs) -> Result<ExitCode, CliError> {
    let settings = args.video.settings()?;
    if let Some(dir) = &args.output {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create {}", dir.display()))
            .code(ExitCode::CANT_WRITE)?;
    }
    let mut failed = false;
    let many = args.files.len() > 1;
    let mut stdout = std::io::stdout().lock();
    for f in &args.files {
        let vh = match video::hash_file(f, &settings) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("nearmatch: {}: {e}", f.display());
                failed = true;
                continue;
            }
        };
        let text = vpdq::to_text(&vh.frames);
        if let Some(w) = &vh.warnings {
            eprintln!("nearmatch: {}: ffmpeg: {w}", f.display());
        }
        if vh.truncated {
            eprintln!(
                "nearmatch: {}: stopped at --video-max-frames {}",
                f.display(),
                settings.max_frames
            );
        }
        match &args.output {
            Some(dir) => {
                let name = f
                    .file_name()
                    .map(|n| Path::new(n).with_extension("txt"))
                    .unwrap_or_else(|| PathBuf::from("video.txt"));
                let out = dir.join(name);
                std::fs::write(&out, text)
                    .with_context(|| format!("cannot write {}", out.display()))
                    .code(ExitCode::CANT_WRITE)?;
                eprintln!(
                    "{}: {} frames hashed ({} fps, every {} frames) -> {}",
                    f.display(),
                    vh.frames.len(),
                    vh.info.rate,
                    vh.step,
                    out.display()
                );
            }
            None => {
                let r = (|| {
                    if many {
                        writeln!(stdout, "# {}", f.display())?;
                    }
                    stdout.write_all(text.as_bytes())
                })();
                r.context("cannot write to standard output")
                    .code(ExitCode::CANT_WRITE)?;
            }
        }
    }
    Ok(if failed {
        ExitCode::SOME_FAILED
    } else {
        ExitCode::OK
    })
}

/// `set build --algo vpdq`: each list is one of Meta's per-video vPDQ files (the video's id is
/// the file name without extension).
pub fn build_video_list(
    output: &Path,
    lists: &[PathBuf],
    as_json: bool,
) -> Result<ExitCode, CliError> {
    let mut w = VideoListWriter::create(output)
        .with_context(|| format!("cannot create {}", output.display()))
        .code(ExitCode::CANT_WRITE)?;
    for l in lists {
        let n = w
            .import_file(l, None, &[])
            .with_context(|| format!("cannot import {}", l.display()))
            .code(ExitCode::DATA)?;
        eprintln!("{}: vpdq format, {n} frames", l.display());
    }
    let videos = w.videos();
    let summary = w
        .finish()
        .with_context(|| format!("cannot write {}", output.display()))
        .code(ExitCode::CANT_WRITE)?;
    let mut out = std::io::stdout().lock();
    let line = if as_json {
        serde_json::json!({
            "path": summary.path.display().to_string(),
            "entries": summary.entries,
            "videos": videos,
            "bytes": summary.bytes,
            "provenance": summary.provenance,
        })
        .to_string()
    } else {
        format!(
            "wrote {}: video list, {videos} videos, {} frame entries, {} bytes",
            summary.path.display(),
            summary.entries,
            summary.bytes
        )
    };
    writeln!(out, "{line}").code(ExitCode::CANT_WRITE)?;
    Ok(ExitCode::OK)
}
