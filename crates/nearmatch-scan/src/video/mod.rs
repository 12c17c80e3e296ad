//! Video: containers sniffed by magic bytes, frames decoded by the `ffmpeg` program, vPDQ hashes.
//!
//! The pure vPDQ rules (sampling, frame records, Meta's text format, video matching) live in the
//! core crate ([`nearmatch::hash::vpdq`]); this module owns the process side. `ffprobe` reports
//! the first video stream (size, frame rate as Meta reads it: the average rate, else the nominal
//! one); `ffmpeg` decodes every frame of that stream, keeps every `step`-th by its decode index
//! (`select=not(mod(n,step))`, frames neither dropped nor duplicated: `-fps_mode passthrough`,
//! no auto-rotation, as Meta's libav code), converts to RGB24 at the stream's size with area
//! scaling, and writes raw frames to a pipe. Decoding happens in the child while this process
//! hashes, and the hashing of a batch of frames runs in parallel.

mod ffmpeg;
pub mod scan;
pub mod vset;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nearmatch::hash::pdq::PdqHasher;
use nearmatch::hash::vpdq::{self, VpdqFrame};
use nearmatch::pixels::{Image, Layout};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The video container formats recognised by magic bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VideoKind {
    /// ISO base media file (`ftyp` box): MP4, M4V.
    Mp4,
    /// QuickTime (`ftyp` brand `qt  `, or a leading `moov`/`mdat`/`wide` atom).
    Mov,
    /// 3GPP/3GPP2 (`ftyp` brand `3gp*`/`3g2*`).
    ThreeGp,
    /// Matroska and WebM (EBML header).
    Matroska,
    /// AVI (`RIFF....AVI `).
    Avi,
    /// Flash video (`FLV\x01`).
    Flv,
    /// MPEG transport stream (sync byte 0x47 every 188 bytes; 192 for M2TS).
    MpegTs,
    /// MPEG program stream (pack header `00 00 01 BA`).
    MpegPs,
    /// ASF: WMV and WMA (the ASF header GUID).
    Asf,
}

/// The ASF header object's GUID.
const ASF_GUID: [u8; 16] = [
    0x30, 0x26, 0xB2, 0x75, 0x8E, 0x66, 0xCF, 0x11, 0xA6, 0xD9, 0x00, 0xAA, 0x00, 0x62, 0xCE, 0x6C,
];

/// `ftyp` brands of still images (HEIF, AVIF, JPEG 2000 family): not videos.
const IMAGE_BRANDS: [&[u8; 4]; 12] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis",
    b"jp2 ", b"jpx ",
];

impl VideoKind {
    /// The name records carry (`mp4`, `mov`, `3gp`, `matroska`, `avi`, `flv`, `mpeg-ts`,
    /// `mpeg-ps`, `asf`).
    pub fn name(self) -> &'static str {
        match self {
            VideoKind::Mp4 => "mp4",
            VideoKind::Mov => "mov",
            VideoKind::ThreeGp => "3gp",
            VideoKind::Matroska => "matroska",
            VideoKind::Avi => "avi",
            VideoKind::Flv => "flv",
            VideoKind::MpegTs => "mpeg-ts",
            VideoKind::MpegPs => "mpeg-ps",
            VideoKind::Asf => "asf",
        }
    }

    /// The container of bytes starting with `head` (give the first 1 KiB or more: a transport
    /// stream needs several 188-byte packets), by magic bytes only.
    ///
    /// ```
    /// use nearmatch_scan::video::VideoKind;
    /// assert_eq!(VideoKind::sniff(b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom"), Some(VideoKind::Mp4));
    /// assert_eq!(VideoKind::sniff(b"\x1a\x45\xdf\xa3\x01\0\0\0"), Some(VideoKind::Matroska));
    /// assert_eq!(VideoKind::sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"), None);
    /// assert_eq!(VideoKind::sniff(b"plain text"), None);
    /// ```
    pub fn sniff(head: &[u8]) -> Option<VideoKind> {
        let starts = |m: &[u8]| head.starts_with(m);
        if head.len() >= 12 && &head[4..8] == b"ftyp" {
            let brand: &[u8; 4] = head[8..12].try_into().expect("4 bytes");
            if IMAGE_BRANDS.contains(&brand) {
                return None;
            }
            return Some(match brand {
                b"qt  " => VideoKind::Mov,
                [b'3', b'g', ..] => VideoKind::ThreeGp,
                _ => VideoKind::Mp4,
            });
        }
        if head.len() >= 8 && matches!(&head[4..8], b"moov" | b"mdat" | b"wide" | b"free") {
            let size = u32::from_be_bytes(head[0..4].try_into().expect("4 bytes"));
            // An atom size of at least its header: a bare QuickTime file.
            if size >= 8 || size == 1 {
                return Some(VideoKind::Mov);
            }
        }
        if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
            return Some(VideoKind::Matroska);
        }
        if head.len() >= 12 && starts(b"RIFF") && &head[8..12] == b"AVI " {
            return Some(VideoKind::Avi);
        }
        if starts(b"FLV\x01") {
            return Some(VideoKind::Flv);
        }
        if starts(&ASF_GUID) {
            return Some(VideoKind::Asf);
        }
        if starts(&[0, 0, 1, 0xBA]) {
            return Some(VideoKind::MpegPs);
        }
        for (offset, stride) in [(0usize, 188usize), (4, 192)] {
            let packets = (head.len().saturating_sub(offset) / stride).min(5);
            if packets >= 2 && (0..packets).all(|k| head[offset + k * stride] == 0x47) {
                return Some(VideoKind::MpegTs);
            }
        }
        None
    }
}

/// How videos are hashed; [`Default`] gives Meta's sampling and nearmatch's safety limits.
#[derive(Clone, Debug, PartialEq)]
pub struct VideoSettings {
    /// Hash video files found by the scan (else they are recorded like any other non-image).
    pub enabled: bool,
    /// Seconds between hashed frames (Meta's default 1; 0 hashes every frame).
    pub seconds_per_hash: f64,
    /// Wall-clock budget for probing and decoding one video; the child is killed past it.
    pub timeout: Duration,
    /// Hashed frames per video, at most (decoding stops there; the record says so).
    pub max_frames: u64,
    /// Pixels per frame, at most (a larger declared size is refused before decoding).
    pub max_pixels: u64,
    /// The `ffmpeg` program.
    pub ffmpeg: PathBuf,
    /// The `ffprobe` program.
    pub ffprobe: PathBuf,
    /// Video-vs-video match thresholds.
    pub matching: vpdq::MatchOptions,
}

impl Default for VideoSettings {
    fn default() -> Self {
        let tool = |var: &str, name: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(name))
        };
        VideoSettings {
            enabled: true,
            seconds_per_hash: vpdq::DEFAULT_SECONDS_PER_HASH,
            timeout: Duration::from_secs(600),
            max_frames: 100_000,
            max_pixels: 64 << 20,
            ffmpeg: tool("NEARMATCH_FFMPEG", "ffmpeg"),
            ffprobe: tool("NEARMATCH_FFPROBE", "ffprobe"),
            matching: vpdq::MatchOptions::default(),
        }
    }
}

/// Why a video could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// `ffmpeg` or `ffprobe` is not installed.
    #[error("{0}")]
    ToolMissing(String),
    /// A child process could not be started.
    #[error("{0}")]
    Spawn(String),
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The video.
        path: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file has no video stream (audio only, or not a media file).
    #[error("no video stream{}", .0.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())]
    NoVideoStream(Option<String>),
    /// ffmpeg could not read or decode it (ffmpeg's own message).
    #[error("ffmpeg: {0}")]
    Ffmpeg(String),
    /// Probing and decoding took longer than the budget: the child was killed.
    #[error("video decoding took longer than {}s; ffmpeg was killed", .0.as_secs_f64())]
    Timeout(Duration),
    /// The declared frame size is over the limit: not decoded.
    #[error("{0}")]
    Limit(String),
}

/// What `ffprobe` says about the first video stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamInfo {
    /// Codec name (`h264`, `hevc`, `vp9`, `mpeg4`, ...).
    pub codec: String,
    /// Coded width in pixels.
    pub width: u32,
    /// Coded height in pixels.
    pub height: u32,
    /// Frames per second as Meta reads it (average rate, else nominal rate).
    pub fps: f64,
    /// The rate as a fraction, as the stream states it (`30000/1001`).
    pub rate: String,
    /// The container as FFmpeg names it (`mov,mp4,m4a,3gp,3g2,mj2`, `matroska,webm`, ...).
    pub format: String,
    /// Duration in seconds, when the container states one.
    pub duration: Option<f64>,
}

/// A hashed video: its stream, the sampling step and the hashed frames in frame order.
#[derive(Clone, Debug)]
pub struct VideoHash {
    /// The stream that was decoded.
    pub info: StreamInfo,
    /// Every `step`-th frame was hashed.
    pub step: u64,
    /// The hashed frames, in frame order.
    pub frames: Vec<VpdqFrame>,
    /// Decoding stopped at [`VideoSettings::max_frames`].
    pub truncated: bool,
    /// What ffmpeg reported while decoding when frames were still produced (damaged data).
    pub warnings: Option<String>,
}

/// A decoded frame (its number and RGB pixels) with its vPDQ record.
pub type HashedFrame = ((u64, Image), VpdqFrame);

/// Opens `path` read-only (without updating its access time where allowed).
pub fn open(path: &Path) -> Result<std::fs::File, VideoError> {
    crate::read::open_evidence(path).map_err(|e| VideoError::Io {
        path: path.display().to_string(),
        source: e,
    })
}

fn parse_rate(s: &str) -> Option<f64> {
    let (n, d) = s.split_once('/').unwrap_or((s, "1"));
    let (n, d): (f64, f64) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
    (n > 0.0 && d > 0.0)
        .then(|| n / d)
        .filter(|r| r.is_finite())
}

/// Probes the first video stream of an open file with `ffprobe`.
pub fn probe(
    file: &std::fs::File,
    settings: &VideoSettings,
    deadline: Instant,
) -> Result<StreamInfo, VideoError> {
    let args: Vec<String> = [
        "-v",
        "error",
        "-hide_banner",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=codec_name,width,height,avg_frame_rate,r_frame_rate:format=format_name,duration",
        "-of",
        "json",
        "file:/dev/fd/3",
    ]
    .map(String::from)
    .to_vec();
    let (out, ended) = ffmpeg::run(
        &settings.ffprobe,
        &args,
        file,
        deadline,
        ffmpeg::read_capped,
    )?;
    if ended.timed_out {
        return Err(VideoError::Timeout(settings.timeout));
    }
    if ended.code != Some(0) {
        return Err(VideoError::Ffmpeg(ended.reason()));
    }
    let out = out.map_err(|e| VideoError::Ffmpeg(format!("reading ffprobe output: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| VideoError::Ffmpeg(format!("unreadable ffprobe output: {e}")))?;
    let format = v["format"]["format_name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let duration = v["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse::<f64>().ok());
    let Some(s) = v["streams"].as_array().and_then(|a| a.first()) else {
        return Err(VideoError::NoVideoStream(
            (!format.is_empty()).then(|| format!("container {format}")),
        ));
    };
    let dim = |k: &str| s[k].as_u64().unwrap_or(0);
    let (w, h) = (dim("width"), dim("height"));
    if w == 0 || h == 0 {
        return Err(VideoError::Ffmpeg(format!(
            "the video stream declares no frame size ({w}x{h})"
        )));
    }
    if w.saturating_mul(h) > settings.max_pixels || w > u32::MAX as u64 || h > u32::MAX as u64 {
        return Err(VideoError::Limit(format!(
            "declared frame size {w}x{h} exceeds the video limit of {} pixels",
            settings.max_pixels
        )));
    }
    let avg = s["avg_frame_rate"].as_str().unwrap_or("0/0");
    let nominal = s["r_frame_rate"].as_str().unwrap_or("0/0");
    let (fps, rate) = match (parse_rate(avg), parse_rate(nominal)) {
        (Some(f), _) => (f, avg),
        (None, Some(f)) => (f, nominal),
        (None, None) => {
            return Err(VideoError::Ffmpeg(
                "the video stream declares no frame rate".into(),
            ))
        }
    };
    Ok(StreamInfo {
        codec: s["codec_name"].as_str().unwrap_or("unknown").to_string(),
        width: w as u32,
        height: h as u32,
        fps,
        rate: rate.to_string(),
        format,
        duration,
    })
}

/// The `ffmpeg` arguments that write every `step`-th frame of the first video stream as raw
/// RGB24 at `width`×`height` to standard output.
pub fn decode_args(step: u64, width: u32, height: u32) -> Vec<String> {
    let filter =
        format!("select=not(mod(n\\,{step})),scale={width}:{height}:flags=area,format=rgb24");
    [
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-noautorotate",
        "-i",
        "file:/dev/fd/3",
        "-map",
        "0:v:0",
        "-an",
        "-sn",
        "-dn",
        "-fps_mode",
        "passthrough",
        "-vf",
        &filter,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "pipe:1",
    ]
    .map(String::from)
    .to_vec()
}

/// Frames held at once for parallel hashing, at most (and at most 64 MiB of them).
const BATCH_FRAMES: usize = 16;
const BATCH_BYTES: usize = 64 << 20;

/// Decodes the sampled frames of an open video and hands each to `on_frame` (frame number and
/// RGB pixels), in frame order, batch by batch. Returns whether the frame limit cut decoding
/// short and the ffmpeg messages of a decode that still produced frames.
pub fn decode_sampled(
    file: &std::fs::File,
    info: &StreamInfo,
    step: u64,
    settings: &VideoSettings,
    deadline: Instant,
    on_batch: &mut dyn FnMut(Vec<(u64, Image)>),
) -> Result<(bool, Option<String>), VideoError> {
    let frame_bytes = info.width as usize * info.height as usize * 3;
    let args = decode_args(step, info.width, info.height);
    let mut produced = 0u64;
    let mut truncated = false;
    let read = |out: &mut std::process::ChildStdout| -> std::io::Result<()> {
        let mut batch: Vec<(u64, Image)> = Vec::new();
        loop {
            if produced >= settings.max_frames {
                // One more byte means the limit cut the video short.
                let mut probe = [0u8; 1];
                truncated = out.read(&mut probe)? > 0;
                break;
            }
            let mut buf = vec![0u8; frame_bytes];
            let n = ffmpeg::read_exact_or_eof(out, &mut buf)?;
            if n < frame_bytes {
                break;
            }
            let img = Image::new(info.width, info.height, Layout::Rgb8(buf))
                .expect("buffer sized to the frame");
            batch.push((produced * step, img));
            produced += 1;
            if batch.len() >= BATCH_FRAMES || batch.len() * frame_bytes >= BATCH_BYTES {
                on_batch(std::mem::take(&mut batch));
            }
        }
        if !batch.is_empty() {
            on_batch(batch);
        }
        Ok(())
    };
    let (res, ended) = ffmpeg::run(&settings.ffmpeg, &args, file, deadline, read)?;
    if ended.timed_out {
        return Err(VideoError::Timeout(settings.timeout));
    }
    res.map_err(|e| VideoError::Ffmpeg(format!("reading decoded frames: {e}")))?;
    let messages = ended.stderr.trim();
    if produced == 0 && ended.code != Some(0) && !truncated {
        return Err(VideoError::Ffmpeg(ended.reason()));
    }
    let warnings = (!messages.is_empty() && !truncated).then(|| ended.reason());
    Ok((truncated, warnings))
}

/// Hashes the frames of one batch in parallel (PDQ of each full-size frame).
pub fn hash_batch(batch: &[(u64, Image)], fps: f64) -> Vec<VpdqFrame> {
    batch
        .par_iter()
        .map_init(PdqHasher::new, |h, (n, img)| {
            vpdq::hash_frame(h, img, *n, fps)
        })
        .collect()
}

/// vPDQ of the video at `path`: probe, decode the sampled frames, hash them.
pub fn hash_file(path: &Path, settings: &VideoSettings) -> Result<VideoHash, VideoError> {
    let file = open(path)?;
    hash_open_file(&file, settings, &mut |_| {})
}

/// vPDQ of an open video; `on_batch` also sees each batch of decoded frames (with its hashes
/// computed from it) before it is dropped.
pub fn hash_open_file(
    file: &std::fs::File,
    settings: &VideoSettings,
    on_batch: &mut dyn FnMut(&[HashedFrame]),
) -> Result<VideoHash, VideoError> {
    let deadline = Instant::now() + settings.timeout;
    let info = probe(file, settings, deadline)?;
    let step = vpdq::frame_step(settings.seconds_per_hash, info.fps);
    let mut frames = Vec::new();
    let mut each = |batch: Vec<(u64, Image)>| {
        let hashed = hash_batch(&batch, info.fps);
        frames.extend_from_slice(&hashed);
        let joined: Vec<HashedFrame> = batch.into_iter().zip(hashed).collect();
        on_batch(&joined);
    };
    let (truncated, warnings) = decode_sampled(file, &info, step, settings, deadline, &mut each)?;
    Ok(VideoHash {
        info,
        step,
        frames,
        truncated,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_the_container() {
        let mut ts = vec![0u8; 188 * 3];
        for k in 0..3 {
            ts[k * 188] = 0x47;
        }
        assert_eq!(VideoKind::sniff(&ts), Some(VideoKind::MpegTs));
        let mut m2ts = vec![0u8; 192 * 3 + 4];
        for k in 0..3 {
            m2ts[4 + k * 192] = 0x47;
        }
        assert_eq!(VideoKind::sniff(&m2ts), Some(VideoKind::MpegTs));
        // One sync byte is not a stream.
        assert_eq!(VideoKind::sniff(&ts[..188]), None);
        assert_eq!(
            VideoKind::sniff(b"RIFF\0\0\0\0AVI LIST"),
            Some(VideoKind::Avi)
        );
        assert_eq!(VideoKind::sniff(b"RIFF\0\0\0\0WEBPVP8 "), None);
        assert_eq!(VideoKind::sniff(b"FLV\x01\x05"), Some(VideoKind::Flv));
        assert_eq!(VideoKind::sniff(&ASF_GUID), Some(VideoKind::Asf));
        assert_eq!(
            VideoKind::sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"),
            Some(VideoKind::Mov)
        );
        assert_eq!(
            VideoKind::sniff(b"\0\0\0\x14ftyp3gp4\0\0\0\0"),
            Some(VideoKind::ThreeGp)
        );
        assert_eq!(VideoKind::sniff(b"\0\0\0\x14ftypavif\0\0\0\0"), None);
        assert_eq!(
            VideoKind::sniff(b"\0\0\x01\xba\x44\0"),
            Some(VideoKind::MpegPs)
        );
    }

    #[test]
    fn rates_parse_as_fractions() {
        assert_eq!(parse_rate("25/1"), Some(25.0));
        assert_eq!(parse_rate("30000/1001"), Some(30000.0 / 1001.0));
        assert_eq!(parse_rate("0/0"), None);
        assert_eq!(parse_rate("x"), None);
    }
}
