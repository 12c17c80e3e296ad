//! Videos in a scan: the video's record gets its vPDQ summary (and its matches against video
//! lists); each sampled frame that matches an image list (PDQ with the scan's probes, or any
//! perceptual set) becomes a child record `video.mp4!/frame/N` with its frame number and
//! timestamp. Unmatched frames make no record: the video's summary counts them.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nearmatch::hash::file::{hash_image, HashOptions};
use nearmatch::hash::pdq::{Profile, MIN_QUALITY};
use nearmatch::hash::vpdq::VpdqFrame;
use nearmatch::hash::Algorithm;
use nearmatch::hashset::LayeredSet;
use nearmatch::pixels::Image;
use serde::{Deserialize, Serialize};

use super::{VideoError, VideoKind, VideoSettings};
use crate::path::ReportPath;
use crate::process::{Context, Processed};
use crate::record::{Disposition, ErrorReason, FileRecord, MatchRec, SkipReason};
use crate::sets::{self, Digests, LoadedSet};
use crate::video::vset::VideoSet;

/// The video part of a record: a video's vPDQ summary, or a frame's place in its video.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoRec {
    /// The container by magic bytes (`mp4`, `matroska`, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub container: Option<String>,
    /// The codec of the first video stream (`h264`, `vp9`, ...).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub codec: Option<String>,
    /// Frames per second (average rate, else nominal), as vPDQ uses it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fps: Option<f64>,
    /// Duration in seconds, as the container states it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration: Option<f64>,
    /// Every `frame_step`-th frame was hashed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frame_step: Option<u64>,
    /// Frames hashed (the vPDQ hash's length).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub hashed_frames: Option<u64>,
    /// Hashed frames below PDQ quality 50 (dropped by video matching).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub low_quality_frames: Option<u64>,
    /// Hashed frames that matched an image list (each has a child record).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub matched_frames: Option<u64>,
    /// Decoding stopped at the frame limit.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub truncated: Option<bool>,
    /// What ffmpeg reported about damaged data while still producing frames.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ffmpeg_messages: Option<String>,
    /// A frame record: its frame number (0-based, decode order).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub frame: Option<u64>,
    /// A frame record: its timestamp in seconds (frame / fps).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp: Option<f64>,
}

/// How a video matched a video-list entry (Meta's two shares).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VideoMatchRec {
    /// Share of the scanned video's (filtered, unique) frames that match the list video.
    pub query_percent: f64,
    /// Share of the list video's (filtered, unique) frames that match the scanned video.
    pub compared_percent: f64,
    /// The scanned video's frames after the quality filter and deduplication.
    pub query_frames: u64,
    /// The list video's frames after the quality filter and deduplication.
    pub compared_frames: u64,
}

// The shares are finite percentages (never NaN), so equality is an equivalence.
impl Eq for VideoMatchRec {}

/// What the scan needs for videos: settings and the sets frames and videos are matched against.
pub struct VideoContext {
    /// How videos are decoded and hashed.
    pub settings: VideoSettings,
    /// Perceptual image sets (frames are matched against them, with the scan's radii).
    pub image_sets: Vec<LoadedSet>,
    /// Video lists (vPDQ sets).
    pub video_sets: Vec<(LoadedSet, VideoSet)>,
}

impl VideoContext {
    /// The context for a scan matching `sets`: perceptual image sets are reopened (a mapping is
    /// cheap; the scan has verified them), vPDQ sets are read as video lists.
    pub fn new(settings: VideoSettings, sets: &[LoadedSet]) -> Result<Self, crate::ScanError> {
        let mut image_sets = Vec::new();
        let mut video_sets = Vec::new();
        for s in sets {
            if s.algorithm().is_cryptographic() {
                continue;
            }
            let reopen = || {
                LayeredSet::open(s.set.path()).map_err(|e| crate::ScanError::Set {
                    path: s.display.clone(),
                    reason: e.to_string(),
                })
            };
            let copy = LoadedSet {
                display: s.display.clone(),
                set: reopen()?,
                sha256: s.sha256.clone(),
                layer_sha256: s.layer_sha256.clone(),
                radius: s.radius,
                probe_radius: s.probe_radius,
            };
            if s.set.layers().iter().any(VideoSet::is_video_set) {
                if s.set.is_layered() {
                    return Err(crate::ScanError::Set {
                        path: s.display.clone(),
                        reason: "a video list with delta layers: video lists are not layered \
                                 (rebuild it, or `nearmatch set compact` the stack)"
                            .into(),
                    });
                }
                let v = VideoSet::read(copy.set.top(), settings.matching.quality).map_err(|e| {
                    crate::ScanError::Set {
                        path: s.display.clone(),
                        reason: e.to_string(),
                    }
                })?;
                video_sets.push((copy, v));
            } else {
                image_sets.push(copy);
            }
        }
        Ok(VideoContext {
            settings,
            image_sets,
            video_sets,
        })
    }
}

/// Hashes the video `file` (whose record is `rec`, already holding its crypto hashes) and adds
/// the records of its matching frames to `members`.
pub(crate) fn add_video(
    rec: &mut FileRecord,
    members: &mut Vec<Processed>,
    file: &std::fs::File,
    kind: VideoKind,
    path: &Path,
    vctx: &VideoContext,
    ctx: &Context,
) {
    let mut summary = VideoRec {
        container: Some(kind.name().into()),
        ..VideoRec::default()
    };
    if rec.file_type.as_deref().is_none_or(|t| t == "unknown") {
        rec.file_type = Some(kind.name().into());
    }
    // Frames are hashed as vPDQ does (full resolution); probes as the scan asks.
    let mut opts: HashOptions = ctx.opts.clone();
    opts.pdq_profile = Profile::Pdqhash;
    opts.pdq_dihedral = false;
    let algos: Vec<Algorithm> = ctx
        .algos
        .iter()
        .copied()
        .filter(|a| !a.is_cryptographic())
        .collect();
    let searchers = match sets::searchers(&vctx.image_sets) {
        Ok(s) => s,
        Err(e) => {
            rec.disposition = Disposition::Error(ErrorReason::Resources);
            rec.error = Some(e.to_string());
            return;
        }
    };
    let outer = path.as_os_str().as_bytes().to_vec();
    let mut frame_records: Vec<Processed> = Vec::new();
    let mut on_batch = |batch: &[super::HashedFrame]| {
        if vctx.image_sets.is_empty() {
            return;
        }
        let digests: Vec<Digests> = batch
            .iter()
            .map(|((_, img), _)| {
                let h = hash_image(img, &algos, &opts);
                Digests {
                    crypto: None,
                    perceptual: h.perceptual,
                    pdq_probes: h.pdq_probes,
                }
            })
            .collect();
        let refs: Vec<&Digests> = digests.iter().collect();
        let Ok(hits) = sets::match_chunk(&vctx.image_sets, &searchers, &refs) else {
            return;
        };
        for ((((_, img), f), d), m) in batch.iter().zip(&digests).zip(hits) {
            if m.is_empty() {
                continue;
            }
            frame_records.push(frame_record(&outer, img, f, d, m));
        }
    };
    let result = super::hash_open_file(file, &vctx.settings, &mut on_batch);
    let vh = match result {
        Ok(vh) => vh,
        Err(e) => {
            let (d, keep_not_image) = match &e {
                VideoError::ToolMissing(_) => {
                    (Disposition::Skipped(SkipReason::Unsupported), false)
                }
                VideoError::NoVideoStream(_) => (Disposition::NotImage, true),
                VideoError::Timeout(_) => (Disposition::Error(ErrorReason::Timeout), false),
                VideoError::Limit(_) => (Disposition::Skipped(SkipReason::Dimensions), false),
                VideoError::Io { .. } => (Disposition::Error(ErrorReason::Read), false),
                VideoError::Spawn(_) => (Disposition::Error(ErrorReason::Resources), false),
                VideoError::Ffmpeg(_) => (Disposition::Error(ErrorReason::Decode), false),
            };
            rec.disposition = d;
            rec.error = Some(e.to_string());
            if !keep_not_image {
                rec.video = Some(summary);
            }
            return;
        }
    };
    summary.codec = Some(vh.info.codec.clone());
    summary.fps = Some(vh.info.fps);
    summary.duration = vh.info.duration;
    summary.frame_step = Some(vh.step);
    summary.hashed_frames = Some(vh.frames.len() as u64);
    summary.low_quality_frames =
        Some(vh.frames.iter().filter(|f| f.quality < MIN_QUALITY).count() as u64);
    summary.matched_frames = (!vctx.image_sets.is_empty()).then_some(frame_records.len() as u64);
    summary.truncated = vh.truncated.then_some(true);
    summary.ffmpeg_messages = vh.warnings.clone();
    rec.width = Some(vh.info.width);
    rec.height = Some(vh.info.height);
    rec.disposition = Disposition::Unmatched;
    for (s, v) in &vctx.video_sets {
        match v.match_video(s, &vh.frames, &vctx.settings.matching) {
            Ok(m) => rec.matches.extend(m),
            Err(e) => rec.error = Some(format!("video list {}: {e}", s.display)),
        }
    }
    if !rec.matches.is_empty() || !frame_records.is_empty() {
        // A matching frame makes its video a match too: the frame records say which.
        rec.disposition = Disposition::Matched;
    }
    rec.video = Some(summary);
    rec.descendants = (!frame_records.is_empty()).then_some(frame_records.len() as u64);
    members.extend(frame_records);
}

/// The child record of a frame that matched: its place in the video, hashes and matches.
fn frame_record(
    outer: &[u8],
    img: &Image,
    f: &VpdqFrame,
    d: &Digests,
    matches: Vec<MatchRec>,
) -> Processed {
    let mut p = outer.to_vec();
    p.extend_from_slice(format!("!/frame/{}", f.frame).as_bytes());
    let mut rec = FileRecord::new(
        0,
        ReportPath::new(Path::new(std::ffi::OsStr::from_bytes(&p))),
    );
    rec.depth = Some(1);
    rec.file_type = Some("video-frame".into());
    rec.width = Some(img.width());
    rec.height = Some(img.height());
    for (a, dg) in &d.perceptual {
        rec.hashes.insert(a.name().to_string(), dg.to_hex());
    }
    rec.pdq_quality = Some(f.quality);
    if f.quality < MIN_QUALITY {
        rec.low_quality = Some(true);
    }
    rec.probe_hashes = (!d.pdq_probes.is_empty()).then_some(d.pdq_probes.len() as u32);
    rec.video = Some(VideoRec {
        frame: Some(f.frame),
        timestamp: Some(f.timestamp),
        ..VideoRec::default()
    });
    rec.matches = matches;
    rec.disposition = Disposition::Matched;
    // Matched here: the scan's own matching pass must not see its digests again.
    Processed::plain(rec, Some(0))
}
