"""vPDQ throughput: `nearmatch video-hash` vs ffmpeg + pdqhash, in the same run (issue #19).

Makes a synthetic 720p H.264 video (FFmpeg's testsrc2 pattern, 30 fps, SECONDS long), then times
both hashers REPEATS times each, alternating, and prints medians:
- nearmatch: `nearmatch video-hash` (the release binary; ffmpeg decodes in a child process);
- peer: the same ffmpeg frame selection (`select=not(mod(n,step))`, RGB24 on a pipe) read by
  Python and hashed with `pdqhash.compute`, which is what Meta's vpdq does per frame.
Both decode every frame and hash one per second. Reported: sampled frames per second of wall
time, seconds of wall time per minute of video, and CPU seconds (this process's children and
itself) per frame, so the per-core ratio does not depend on how busy the shared machine is.
Both must produce the same hashes (checked: the maximum distance is printed).

    python benches/video_peers.py [--seconds 60] [--repeats 3] [--nearmatch target/release/nearmatch]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pdqhash


def cpu() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def make_video(path: Path, seconds: int) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                    "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}", "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", str(path)], check=True)


def run_nearmatch(binary: str, video: Path) -> list[str]:
    out = subprocess.run([binary, "video-hash", str(video)], check=True, capture_output=True,
                         text=True).stdout
    return [line.split(",")[2] for line in out.splitlines()]


def run_peer(video: Path, step: int, w: int, h: int) -> list[str]:
    cmd = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(video),
           "-map", "0:v:0", "-fps_mode", "passthrough", "-vf",
           f"select=not(mod(n\\,{step})),format=rgb24", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "pipe:1"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE)
    assert p.stdout is not None
    size = w * h * 3
    hashes = []
    while True:
        buf = p.stdout.read(size)
        if len(buf) < size:
            break
        bits, _q = pdqhash.compute(np.frombuffer(buf, np.uint8).reshape(h, w, 3))
        hashes.append(np.packbits(bits.astype(np.uint8)).tobytes().hex())
    p.wait()
    return hashes


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--nearmatch", default=os.environ.get("NEARMATCH", "target/release/nearmatch"))
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        video = Path(d) / "720p.mp4"
        make_video(video, a.seconds)
        step, w, h = 30, 1280, 720
        results: dict[str, list[tuple[float, float, int]]] = {"nearmatch": [], "peer": []}
        hashes: dict[str, list[str]] = {}
        for _ in range(a.repeats):
            for name in ("nearmatch", "peer"):
                c0, t0 = cpu(), time.perf_counter()
                hs = run_nearmatch(a.nearmatch, video) if name == "nearmatch" else run_peer(
                    video, step, w, h)
                t, c = time.perf_counter() - t0, cpu() - c0
                results[name].append((t, c, len(hs)))
                hashes[name] = hs
        worst = max(bin(int(x, 16) ^ int(y, 16)).count("1")
                    for x, y in zip(hashes["nearmatch"], hashes["peer"]))
        print(f"720p H.264, 30 fps, {a.seconds} s, one frame per second; "
              f"{a.repeats} runs each, medians; cores: {os.cpu_count()}")
        rows = {}
        for name, runs in results.items():
            t = statistics.median(r[0] for r in runs)
            c = statistics.median(r[1] for r in runs)
            n = runs[0][2]
            rows[name] = (t, c, n)
            print(f"{name:10s} {n} frames  {n / t:7.2f} sampled frames/s  "
                  f"{t * 60 / a.seconds:6.2f} s per minute of video  "
                  f"{c / n * 1000:7.1f} CPU ms per frame")
        print(f"wall ratio {rows['peer'][0] / rows['nearmatch'][0]:.2f}x, per-core (CPU) ratio "
              f"{(rows['peer'][1] / rows['peer'][2]) / (rows['nearmatch'][1] / rows['nearmatch'][2]):.2f}x; "
              f"same frames: {len(hashes['nearmatch']) == len(hashes['peer'])}, "
              f"max distance {worst}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
