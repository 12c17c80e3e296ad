//! vPDQ, Meta's video PDQ: the pure parts. Which frames are hashed, the per-frame record
//! (frame number, quality, PDQ hash, timestamp), Meta's text format, and video-vs-video matching.
//!
//! Decoding frames is not done here (the core crate has no process or I/O policy): the scan crate
//! runs the `ffmpeg` program and hands the RGB24 frames to [`hash_frame`].
//!
//! What Meta's reference does (ThreatExchange `vpdq/cpp`, python-threatexchange `extensions/vpdq`):
//! - frames are numbered from 0 in decode order; frame `n` is hashed when `n % step == 0` with
//!   `step = max(1, int(seconds_per_hash × fps))` (29.97 fps at 1 s: every 29th frame);
//! - each hashed frame is converted to RGB24 at its native size and hashed with PDQ at full
//!   resolution (the `pdqhash` profile: no 512 px pre-resize);
//! - timestamp = frame / fps, computed in `f32` as the C++ does; one text line per frame,
//!   `frame,quality,hash,timestamp` with 3 decimals.
//!
//! Matching two videos ([`match_videos`]) follows python-threatexchange's brute-force matcher:
//! drop frames below the quality threshold, deduplicate by exact hash, and count on each side the
//! frames that have a frame of the other side within the distance (`<=`). The percentages are of
//! each side's unique, filtered frames; a side with no frame left gives 0 % (the Python matcher
//! divides by zero there, the C++ returns 0).
//!
//! ```
//! use nearmatch::hash::vpdq;
//! assert_eq!(vpdq::frame_step(1.0, 29.97), 29);
//! assert_eq!(vpdq::frame_step(1.0, 0.5), 1);
//! let line = format!("0,100,{},0.000", "f".repeat(64));
//! let f = vpdq::VpdqFrame::parse_line(&line).unwrap();
//! assert_eq!(f.to_line(), line);
//! ```

use crate::digest::Digest256;
use crate::error::Error;
use crate::hash::pdq::{PdqHasher, Profile};
use crate::pixels::Image;

/// Seconds between hashed frames in Meta's library, Python binding and python-threatexchange
/// (Meta's C++ command-line tool defaults to 0: every frame).
pub const DEFAULT_SECONDS_PER_HASH: f64 = 1.0;
/// Two frames match when their PDQ hashes differ in at most this many bits (Meta: 31).
pub const DEFAULT_DISTANCE: u32 = 31;
/// Frames below this PDQ quality are dropped before matching (Meta: 50).
pub const DEFAULT_QUALITY: u8 = 50;
/// A list video matches when at least this share of the query's frames match it
/// (python-threatexchange's `VPDQ_QUERY_MATCH_THRESHOLD_PERCENT`).
pub const DEFAULT_QUERY_PERCENT: f64 = 80.0;
/// ... and at least this share of the list video's frames match the query
/// (python-threatexchange's `VPDQ_INDEX_MATCH_THRESHOLD_PERCENT`).
pub const DEFAULT_COMPARED_PERCENT: f64 = 0.0;

/// The sampling step: hash every `step`-th frame, `max(1, int(seconds_per_hash × fps))` as
/// Meta's C++ (`seconds_per_hash` 0, or a frame rate below one per interval, hashes every frame).
pub fn frame_step(seconds_per_hash: f64, fps: f64) -> u64 {
    let s = seconds_per_hash * fps;
    if s.is_finite() && s >= 1.0 {
        // `static_cast<int>` truncates toward zero.
        (s as i64).max(1) as u64
    } else {
        1
    }
}

/// Whether frame `frame` (0-based, decode order) is hashed at this step.
pub fn is_sampled(frame: u64, step: u64) -> bool {
    frame.is_multiple_of(step.max(1))
}

/// The timestamp Meta's C++ gives frame `frame`: `float(frame) / float(fps)` in seconds.
pub fn timestamp(frame: u64, fps: f64) -> f64 {
    (frame as f32 / fps as f32) as f64
}

/// One hashed frame: what one line of Meta's vPDQ text format holds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VpdqFrame {
    /// Frame number, 0-based, in decode order.
    pub frame: u64,
    /// PDQ quality, 0–100.
    pub quality: u8,
    /// The frame's PDQ hash.
    pub hash: Digest256,
    /// Seconds from the start (frame / fps).
    pub timestamp: f64,
}

/// A line of a vPDQ file that is not `frame,quality,hash,timestamp`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a vPDQ line (frame,quality,hash,timestamp): {0}")]
pub struct VpdqLineError(pub String);

impl VpdqFrame {
    /// The line in Meta's format: `frame,quality,hash,timestamp` (timestamp with 3 decimals).
    pub fn to_line(&self) -> String {
        format!(
            "{},{},{},{:.3}",
            self.frame,
            self.quality,
            self.hash.to_hex(),
            self.timestamp
        )
    }

    /// Parses one line of Meta's format (surrounding whitespace allowed).
    pub fn parse_line(line: &str) -> Result<VpdqFrame, VpdqLineError> {
        let bad = |why: &str| VpdqLineError(format!("{why} in {:?}", truncate(line)));
        let parts: Vec<&str> = line.trim().split(',').map(str::trim).collect();
        if parts.len() != 4 {
            return Err(bad(&format!("{} fields, not 4", parts.len())));
        }
        let frame = parts[0]
            .parse::<u64>()
            .map_err(|_| bad("frame number is not a non-negative integer"))?;
        let quality = parts[1]
            .parse::<u8>()
            .ok()
            .filter(|q| *q <= 100)
            .ok_or_else(|| bad("quality is not 0-100"))?;
        let hash = Digest256::from_hex(parts[2]).map_err(|e| bad(&e.to_string()))?;
        let timestamp = parts[3]
            .parse::<f64>()
            .ok()
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| bad("timestamp is not a non-negative number"))?;
        Ok(VpdqFrame {
            frame,
            quality,
            hash,
            timestamp,
        })
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Hashes one decoded frame as vPDQ does: PDQ of the full-size RGB frame (the `pdqhash` profile),
/// with its frame number and timestamp.
pub fn hash_frame(hasher: &mut PdqHasher, image: &Image, frame: u64, fps: f64) -> VpdqFrame {
    let h = hasher.hash(image, Profile::Pdqhash);
    VpdqFrame {
        frame,
        quality: h.quality,
        hash: h.digest,
        timestamp: timestamp(frame, fps),
    }
}

/// A whole video's hash in Meta's text format, one line per frame, sorted by frame number.
pub fn to_text(frames: &[VpdqFrame]) -> String {
    let mut sorted: Vec<&VpdqFrame> = frames.iter().collect();
    sorted.sort_by_key(|f| f.frame);
    let mut s = String::with_capacity(frames.len() * 80);
    for f in sorted {
        s.push_str(&f.to_line());
        s.push('\n');
    }
    s
}

/// Parses a vPDQ file (Meta's text format): one frame per line; blank lines and lines starting
/// with `#` are skipped. A bad line is an error naming its line number.
pub fn parse(text: &str) -> Result<Vec<VpdqFrame>, Error> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let f = VpdqFrame::parse_line(t)
            .map_err(|e| Error::InvalidArgument(format!("line {}: {e}", i + 1)))?;
        out.push(f);
    }
    Ok(out)
}

/// Thresholds of video-vs-video matching; [`Default`] gives Meta's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchOptions {
    /// Frames match at Hamming distance `<=` this.
    pub distance: u32,
    /// Frames below this quality are dropped on both sides.
    pub quality: u8,
    /// The query video's matched share must reach this (percent).
    pub query_percent: f64,
    /// The compared (list) video's matched share must reach this (percent).
    pub compared_percent: f64,
}

impl Default for MatchOptions {
    fn default() -> Self {
        MatchOptions {
            distance: DEFAULT_DISTANCE,
            quality: DEFAULT_QUALITY,
            query_percent: DEFAULT_QUERY_PERCENT,
            compared_percent: DEFAULT_COMPARED_PERCENT,
        }
    }
}

/// The outcome of comparing two videos.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VideoMatch {
    /// The query's frames after the quality filter and deduplication.
    pub query_frames: usize,
    /// Of those, the ones with a compared frame within the distance.
    pub query_matched: usize,
    /// The compared video's frames after the quality filter and deduplication.
    pub compared_frames: usize,
    /// Of those, the ones with a query frame within the distance.
    pub compared_matched: usize,
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

impl VideoMatch {
    /// Share of the query's frames that match, in percent (0 when none are left).
    pub fn query_percent(&self) -> f64 {
        percent(self.query_matched, self.query_frames)
    }

    /// Share of the compared video's frames that match, in percent (0 when none are left).
    pub fn compared_percent(&self) -> f64 {
        percent(self.compared_matched, self.compared_frames)
    }

    /// Whether both shares reach the thresholds and at least one frame matched.
    pub fn is_match(&self, opts: &MatchOptions) -> bool {
        self.query_matched > 0
            && self.query_percent() >= opts.query_percent
            && self.compared_percent() >= opts.compared_percent
    }
}

/// The hashes matching uses: frames of at least `quality`, first occurrence of each hash kept.
pub fn prepare(frames: &[VpdqFrame], quality: u8) -> Vec<Digest256> {
    let mut seen = std::collections::HashSet::new();
    frames
        .iter()
        .filter(|f| f.quality >= quality)
        .filter(|f| seen.insert(f.hash))
        .map(|f| f.hash)
        .collect()
}

/// Compares two videos as python-threatexchange does (see the module documentation).
pub fn match_videos(
    query: &[VpdqFrame],
    compared: &[VpdqFrame],
    opts: &MatchOptions,
) -> VideoMatch {
    let q = prepare(query, opts.quality);
    let c = prepare(compared, opts.quality);
    let mut c_hit = vec![false; c.len()];
    let mut query_matched = 0;
    for a in &q {
        let mut any = false;
        for (j, b) in c.iter().enumerate() {
            if a.distance(b) <= opts.distance {
                any = true;
                c_hit[j] = true;
            }
        }
        query_matched += usize::from(any);
    }
    VideoMatch {
        query_frames: q.len(),
        query_matched,
        compared_frames: c.len(),
        compared_matched: c_hit.iter().filter(|h| **h).count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(n: u64, q: u8, hex_digit: char) -> VpdqFrame {
        VpdqFrame {
            frame: n,
            quality: q,
            hash: Digest256::from_hex(&hex_digit.to_string().repeat(64)).unwrap(),
            timestamp: n as f64,
        }
    }

    #[test]
    fn sampling_truncates_as_the_cpp() {
        assert_eq!(frame_step(1.0, 30.0), 30);
        assert_eq!(frame_step(1.0, 30000.0 / 1001.0), 29);
        assert_eq!(frame_step(1.0, 24000.0 / 1001.0), 23);
        assert_eq!(frame_step(0.0, 25.0), 1);
        assert_eq!(frame_step(2.0, 25.0), 50);
        assert_eq!(frame_step(1.0, f64::NAN), 1);
        assert!(is_sampled(0, 29) && is_sampled(58, 29) && !is_sampled(1, 29));
        // f32 arithmetic: 29 / 29.97 in f32, printed with 3 decimals.
        assert_eq!(format!("{:.3}", timestamp(29, 30000.0 / 1001.0)), "0.968");
        assert_eq!(timestamp(50, 25.0), 2.0);
    }

    #[test]
    fn lines_round_trip_and_reject_garbage() {
        let text = format!(
            "# comment\n\n5,49,{h},0.200\n0,100,{h},0.000\n",
            h = "a".repeat(64)
        );
        let frames = parse(&text).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            to_text(&frames),
            format!("0,100,{h},0.000\n5,49,{h},0.200\n", h = "a".repeat(64))
        );
        for bad in [
            "1,2,3",
            "x,100,00,0.0",
            &format!("0,101,{},0.0", "a".repeat(64)),
            &format!("0,100,{},-1", "a".repeat(64)),
            &format!("0,100,{},0.0", "g".repeat(64)),
        ] {
            assert!(VpdqFrame::parse_line(bad).is_err(), "{bad}");
        }
        let err = parse("0,100,zz,0\n").unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
    }

    #[test]
    fn matching_filters_dedupes_and_counts_both_sides() {
        // 0 and 1 differ in 64 bits (one per hex digit), far apart; "3" vs "1": 64 bits too.
        let q = vec![
            frame(0, 100, '0'),
            frame(1, 100, '0'), // duplicate hash: counted once
            frame(2, 100, '1'),
            frame(3, 10, '3'), // low quality: dropped
        ];
        let c = vec![frame(0, 100, '0'), frame(1, 100, '7'), frame(2, 100, 'f')];
        let m = match_videos(&q, &c, &MatchOptions::default());
        assert_eq!(
            m,
            VideoMatch {
                query_frames: 2,
                query_matched: 1,
                compared_frames: 3,
                compared_matched: 1
            }
        );
        assert_eq!(m.query_percent(), 50.0);
        assert!(!m.is_match(&MatchOptions::default()));
        let loose = MatchOptions {
            query_percent: 50.0,
            ..MatchOptions::default()
        };
        assert!(m.is_match(&loose));
        // Nothing left after filtering: 0 %, no division by zero, no match.
        let empty = match_videos(&[frame(0, 1, '0')], &c, &MatchOptions::default());
        assert_eq!(empty.query_percent(), 0.0);
        assert!(!empty.is_match(&MatchOptions {
            query_percent: 0.0,
            ..MatchOptions::default()
        }));
    }
}
