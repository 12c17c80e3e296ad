//! Videos (issue #19): `video-hash`, video lists, and videos in a scan. The videos are synthetic
//! (FFmpeg's `testsrc2`, `mandelbrot` and `life` sources: test patterns, fractals, cellular
//! automata), made once per test run by the `ffmpeg` program, a few seconds and a few kB each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

use crate::common::nearmatch;

struct Videos {
    dir: PathBuf,
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg runs (scripts/ensure-build-deps installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The synthetic videos, made once per run.
fn videos() -> &'static Videos {
    static V: OnceLock<Videos> = OnceLock::new();
    V.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("nm-video-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let p = |n: &str| dir.join(n).to_string_lossy().into_owned();
        let x264 = [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
        ];
        // a: the "known" video, 4 s of 25 fps test pattern.
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=4",
        ];
        args.extend(x264);
        let a = p("a.mp4");
        args.push(&a);
        ffmpeg(&args);
        // A re-encoded, resized and trimmed copy of a (MPEG-4 part 2 in AVI, from 1 s on).
        ffmpeg(&[
            "-ss",
            "1",
            "-i",
            &a,
            "-vf",
            "scale=128:96",
            "-c:v",
            "mpeg4",
            "-q:v",
            "4",
            &p("a-copy.avi"),
        ]);
        // b: a different synthetic video.
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "mandelbrot=size=160x120:rate=25",
            "-t",
            "4",
        ];
        args.extend(x264);
        let b = p("b.mp4");
        args.push(&b);
        ffmpeg(&args);
        // Matroska copy of a, for damage that leaves frames to decode.
        ffmpeg(&["-i", &a, "-c", "copy", &p("a.mkv")]);
        // Audio only, and a video track with no frame.
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=duration=1",
            "-c:a",
            "aac",
            &p("audio.m4a"),
        ]);
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48:rate=25",
            "-frames:v",
            "0",
            "-c:v",
            "libx264",
            &p("zero.mp4"),
        ]);
        // Damaged copies: a.mp4 cut in half (its index is at the end), a.mkv bit-flipped.
        let bytes = std::fs::read(&a).unwrap();
        std::fs::write(dir.join("truncated.mp4"), &bytes[..bytes.len() / 2]).unwrap();
        let mut mkv = std::fs::read(dir.join("a.mkv")).unwrap();
        let n = mkv.len();
        for i in (n / 3..n).step_by(97) {
            mkv[i] ^= 0x5a;
        }
        std::fs::write(dir.join("flipped.mkv"), &mkv).unwrap();
        Videos { dir }
    })
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = nearmatch().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The frame count by ffprobe's own decode (an independent count of a's frames).
fn ffprobe_frames(p: &Path) -> u64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ])
        .arg(p)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn video_hash_prints_metas_format_for_the_sampled_frames() {
    let v = videos();
    let a = v.dir.join("a.mp4");
    let (code, out, err) = run(&["video-hash", s(&a)]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    // 100 frames at 25 fps, one per second: frames 0, 25, 50, 75.
    assert_eq!(ffprobe_frames(&a), 100);
    let frames: Vec<&str> = lines.iter().map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(frames, ["0", "25", "50", "75"]);
    let ts: Vec<&str> = lines
        .iter()
        .map(|l| l.rsplit(',').next().unwrap())
        .collect();
    assert_eq!(ts, ["0.000", "1.000", "2.000", "3.000"]);
    for l in &lines {
        let f: Vec<&str> = l.split(',').collect();
        assert_eq!(f.len(), 4);
        assert_eq!(f[2].len(), 64);
        assert!(f[1].parse::<u8>().unwrap() >= 50, "{l}");
    }
    // Every frame with --seconds-per-hash 0; into a directory as <name>.txt.
    let out_dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&[
        "video-hash",
        "--seconds-per-hash",
        "0",
        "-o",
        s(out_dir.path()),
        s(&a),
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(out_dir.path().join("a.txt")).unwrap();
    assert_eq!(text.lines().count(), 100);
    // The sampled lines are the same frames as the every-frame file's.
    for l in &lines {
        assert!(text.lines().any(|t| t == *l), "{l}");
    }
}

#[test]
fn sampled_frames_equal_pdq_of_frames_extracted_by_a_separate_ffmpeg() {
    let v = videos();
    let a = v.dir.join("a.mp4");
    let pngs = tempfile::tempdir().unwrap();
    // Frames 25 and 50 (decode index), written as PNG by an independent ffmpeg command.
    ffmpeg(&[
        "-i",
        s(&a),
        "-vf",
        "select=eq(n\\,25)+eq(n\\,50)",
        "-fps_mode",
        "passthrough",
        &pngs.path().join("f%d.png").to_string_lossy(),
    ]);
    let (_, out, _) = run(&["video-hash", s(&a)]);
    for (png, frame) in [("f1.png", "25"), ("f2.png", "50")] {
        let (code, h, err) = run(&["hash", "--algo", "pdq", s(&pngs.path().join(png))]);
        assert_eq!(code, 0, "{err}");
        let want = pdq_of(&h);
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{frame},")))
            .unwrap();
        assert_eq!(line.split(',').nth(2).unwrap(), want, "frame {frame}");
    }
}

#[test]
fn damaged_silent_and_hostile_videos_fail_cleanly() {
    let v = videos();
    let (code, out, err) = run(&["video-hash", s(&v.dir.join("truncated.mp4"))]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("truncated.mp4") && err.contains("ffmpeg:"),
        "{err}"
    );
    let (code, _, err) = run(&["video-hash", s(&v.dir.join("audio.m4a"))]);
    assert_eq!(code, 2);
    assert!(err.contains("no video stream"), "{err}");
    // A bit-flipped Matroska file still yields what decodes (or a clean error).
    let (code, out, err) = run(&["video-hash", s(&v.dir.join("flipped.mkv"))]);
    assert!(code == 0 || code == 2, "{err}");
    for l in out.lines() {
        assert_eq!(l.split(',').count(), 4, "{l}");
    }
    // A declared frame size over the limit is refused before decoding.
    let (code, _, err) = run(&[
        "video-hash",
        "--video-max-pixels",
        "1000",
        s(&v.dir.join("a.mp4")),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("exceeds the video limit"), "{err}");
    // A stream that never ends (a FIFO nobody writes): ffmpeg is killed at the time limit.
    let fifo = v.dir.join("endless.ts");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, _, err) = run(&["video-hash", "--video-timeout", "1", s(&fifo)]);
    std::fs::remove_file(&fifo).unwrap();
    assert_eq!(code, 2);
    assert!(err.contains("ffmpeg was killed"), "{err}");
}

/// The hex of `pdq=HEX` in `nearmatch hash` output.
fn pdq_of(out: &str) -> String {
    out.split_whitespace()
        .find_map(|w| w.strip_prefix("pdq="))
        .unwrap_or_else(|| panic!("no pdq= in {out:?}"))
        .to_string()
}

fn records(report: &Path) -> Vec<Value> {
    std::fs::read_to_string(report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["record"] == "file")
        .collect()
}

fn by_name<'a>(recs: &'a [Value], suffix: &str) -> &'a Value {
    recs.iter()
        .find(|r| r["path"].as_str().unwrap().ends_with(suffix))
        .unwrap_or_else(|| panic!("no record ending {suffix}"))
}

#[test]
fn scan_matches_frames_against_an_image_list_and_videos_against_a_video_list() {
    let v = videos();
    let work = tempfile::tempdir().unwrap();
    let ev = work.path().join("evidence");
    std::fs::create_dir(&ev).unwrap();
    for f in [
        "a.mp4",
        "a-copy.avi",
        "b.mp4",
        "audio.m4a",
        "zero.mp4",
        "truncated.mp4",
    ] {
        std::fs::copy(v.dir.join(f), ev.join(f)).unwrap();
    }
    // An image list holding frame 50 of a, extracted by ffmpeg and hashed as an image.
    let png = work.path().join("frame50.png");
    ffmpeg(&[
        "-i",
        s(&v.dir.join("a.mp4")),
        "-vf",
        "select=eq(n\\,50)",
        "-fps_mode",
        "passthrough",
        "-frames:v",
        "1",
        s(&png),
    ]);
    let (_, h, _) = run(&["hash", "--algo", "pdq", s(&png)]);
    let hex = pdq_of(&h);
    let list = work.path().join("images.txt");
    std::fs::write(&list, format!("{hex}\n")).unwrap();
    let images = work.path().join("images.nmset");
    let (code, _, err) = run(&["set", "build", "--algo", "pdq", "-o", s(&images), s(&list)]);
    assert_eq!(code, 0, "{err}");
    // A video list from Meta-format hashes of a.
    let hashes = work.path().join("hashes");
    let (code, _, err) = run(&["video-hash", "-o", s(&hashes), s(&v.dir.join("a.mp4"))]);
    assert_eq!(code, 0, "{err}");
    let vids = work.path().join("videos.nmset");
    let (code, out, err) = run(&[
        "set",
        "build",
        "--algo",
        "vpdq",
        "-o",
        s(&vids),
        s(&hashes.join("a.txt")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 videos"), "{out}");
    let report = work.path().join("r.jsonl");
    let (code, _, err) = run(&[
        "scan",
        "--quiet",
        s(&ev),
        "--set",
        s(&images),
        "--set",
        s(&vids),
        "-o",
        s(&report),
    ]);
    // Matches, and files that could not be processed (the truncated video).
    assert_eq!(code, 3, "{err}");
    let recs = records(&report);
    let a = by_name(&recs, "/a.mp4");
    assert_eq!(a["disposition"], "matched");
    assert_eq!(a["video"]["container"], "mp4");
    assert_eq!(a["video"]["codec"], "h264");
    assert_eq!(a["video"]["hashed_frames"], 4);
    assert_eq!(a["video"]["frame_step"], 25);
    let vm: Vec<&Value> = a["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["algorithm"] == "vpdq")
        .collect();
    assert_eq!(vm.len(), 1);
    assert_eq!(vm[0]["entry"], "a");
    assert_eq!(vm[0]["video"]["query_percent"], 100.0);
    // The frame of a in the image list: a child record with its frame number and timestamp.
    let frame = by_name(&recs, "a.mp4!/frame/50");
    assert_eq!(frame["disposition"], "matched");
    assert_eq!(frame["parent"], a["index"]);
    assert_eq!(frame["video"]["frame"], 50);
    assert_eq!(frame["video"]["timestamp"], 2.0);
    assert_eq!(frame["matches"][0]["distance"], 0);
    assert_eq!(frame["hashes"]["pdq"], hex.as_str());
    // The re-encoded, resized, trimmed copy matches the list video above the thresholds.
    let copy = by_name(&recs, "/a-copy.avi");
    let cm = copy["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["algorithm"] == "vpdq")
        .expect("the copy matches a");
    assert!(
        cm["video"]["query_percent"].as_f64().unwrap() >= 80.0,
        "{cm}"
    );
    assert!(
        cm["video"]["compared_percent"].as_f64().unwrap() >= 50.0,
        "{cm}"
    );
    // A different synthetic video does not.
    let b = by_name(&recs, "/b.mp4");
    assert_eq!(b["disposition"], "unmatched", "{b}");
    assert!(!recs
        .iter()
        .any(|r| r["path"].as_str().unwrap().contains("b.mp4!/")));
    // Audio only: not an image, said why; no frame: nothing hashed; truncated: ffmpeg's reason.
    let audio = by_name(&recs, "/audio.m4a");
    assert_eq!(audio["disposition"], "not-image");
    assert!(audio["error"].as_str().unwrap().contains("no video stream"));
    // ffmpeg writes no track at all for a video of zero frames.
    let zero = by_name(&recs, "/zero.mp4");
    assert_eq!(zero["disposition"], "not-image", "{zero}");
    assert!(zero["error"].as_str().unwrap().contains("no video stream"));
    let t = by_name(&recs, "/truncated.mp4");
    assert_eq!(t["disposition"], "error:decode");
    assert!(t["error"].as_str().unwrap().starts_with("ffmpeg: "), "{t}");
    // --no-video: videos are plain files again.
    let report2 = work.path().join("r2.jsonl");
    let (code, _, err) = run(&["scan", "--quiet", "--no-video", s(&ev), "-o", s(&report2)]);
    assert_eq!(code, 0, "{err}");
    let recs2 = records(&report2);
    assert_eq!(by_name(&recs2, "/a.mp4")["disposition"], "not-image");
    assert!(by_name(&recs2, "/a.mp4").get("video").is_none());
}
