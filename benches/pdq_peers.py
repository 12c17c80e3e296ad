#!/usr/bin/env python3
"""Single-thread hashing speed: nearmatch against pdqhash + Pillow and imagehash + Pillow, in one run.

Writes synthetic JPEGs (crates/nearmatch/examples/bench_hash.rs: 20 at 1024x768 and 5 at
4000x3000 by default, scenes in turn, quality 90), then times, per image and pinned to one core
(`taskset -c 0` when available), the whole job from the file on disk to the hash:

  nearmatch PDQ     read + decode (libjpeg-turbo) + PDQ (pdqhash profile), release build
  nearmatch PDQ fast  the same with the fast decode (`--fast`: scaled IDCT to a short side >= 256)
  pdqhash+Pillow    pdqhash.compute(np.asarray(Image.open(p).convert('RGB')))
  nearmatch pHash   read + decode + imagehash phash (hash_size 8, Pillow 13 order)
  nearmatch pHash fast  the same with the fast decode
  imagehash+Pillow  imagehash.phash(Image.open(p))

Each image is hashed once untimed, then REPEAT times; its time is the median of those runs; a
size's images/s is (number of images) / (sum of their medians). Times are the thread's CPU time
(the machine may be shared, and waiting for a core is not work); wall-clock figures are printed
beside them. Both sides' hashes are compared (exact PDQ and pHash must agree exactly on these
JPEGs, since both decode with libjpeg-turbo; for the fast mode the mean and max Hamming distance
to the peer's hash are printed instead).

Usage: benches/pdq_peers.py [--repeat 5] [--small 20] [--large 5] [--workdir /tmp/nearmatch-pdq-bench]
Requirements: benches/requirements-peers.txt; cargo on PATH (builds the example in release).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
import PIL
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORE = "0"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pinned(cmd: list[str]) -> list[str]:
    return (["taskset", "-c", CORE] + cmd) if shutil.which("taskset") else cmd


def cargo_example() -> Path:
    """Builds the bench_hash example in release and returns its path."""
    subprocess.run(
        ["cargo", "build", "--release", "-p", "nearmatch", "--example", "bench_hash"],
        cwd=ROOT, check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "bench_hash"


def generate(exe: Path, workdir: Path, count: int, w: int, h: int) -> list[str]:
    out = subprocess.run(
        [str(exe), "gen", str(workdir / f"{w}x{h}"), str(count), str(w), str(h), "90"],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def nearmatch_times(exe: Path, algo: str, repeat: int, files: list[str]) -> dict[str, dict]:
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    out = subprocess.run(
        pinned([str(exe), "time", algo, str(repeat)] + files),
        check=True, capture_output=True, text=True, env=env,
    )
    return {f["path"]: f for f in json.loads(out.stdout)["files"]}


def pdq_peer(path: str) -> str:
    vec, _quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
    return np.packbits(vec.astype(np.uint8)).tobytes().hex()


def phash_peer(path: str) -> str:
    return str(imagehash.phash(Image.open(path)))


def python_times(fn, repeat: int, files: list[str]) -> dict[str, dict]:
    out = {}
    for p in files:
        h = fn(p)
        wall, cpu = [], []
        for _ in range(repeat):
            c0, t0 = time.thread_time(), time.perf_counter()
            h2 = fn(p)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.thread_time() - c0)
            assert h2 == h, "nondeterministic hash"
        out[p] = {"hash": h, "wall": wall, "cpu": cpu}
    return out


def python_side(args, groups) -> dict:
    """Runs in a child process pinned to the same core (see main)."""
    res = {}
    for label, files in groups.items():
        res[label] = {
            "pdq": python_times(pdq_peer, args.repeat, files),
            "phash": python_times(phash_peer, args.repeat, files),
        }
    return res


def rate(times: dict[str, dict], key: str) -> float | None:
    """Images per second from the per-image medians."""
    meds = []
    for f in times.values():
        xs = f[key]
        if xs is None or any(x is None for x in xs):
            return None
        meds.append(statistics.median(xs))
    return len(meds) / sum(meds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per image (median taken)")
    ap.add_argument("--small", type=int, default=20, help="number of 1024x768 JPEGs")
    ap.add_argument("--large", type=int, default=5, help="number of 4000x3000 JPEGs")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-pdq-bench"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:  # the pinned Python measurement process
        groups = json.loads(Path(args.child).read_text())
        print(json.dumps(python_side(args, groups)))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    exe = cargo_example()
    groups = {
        "1024x768": generate(exe, args.workdir, args.small, 1024, 768),
        "4000x3000": generate(exe, args.workdir, args.large, 4000, 3000),
    }
    groups_file = args.workdir / "groups.json"
    groups_file.write_text(json.dumps(groups))

    near = {label: {algo: nearmatch_times(exe, algo, args.repeat, files)
                    for algo in ("pdq", "pdq-fast", "phash", "phash-fast")}
            for label, files in groups.items()}
    child = subprocess.run(
        pinned([sys.executable, __file__, "--repeat", str(args.repeat), "--child", str(groups_file)]),
        check=True, capture_output=True, text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"),
    )
    peer = json.loads(child.stdout)

    print("# single-thread hashing speed, file on disk -> hash (incl. JPEG decode), quality-90 synthetic JPEGs")
    print(f"# {cpu_model()}, Python {platform.python_version()}, "
          f"Pillow {PIL.__version__}, pdqhash {getattr(pdqhash, '__version__', '0.2.8')}, "
          f"imagehash {imagehash.__version__}, numpy {np.__version__}; "
          f"{'pinned to CPU ' + CORE if shutil.which('taskset') else 'not pinned (no taskset)'}; "
          f"median of {args.repeat} runs per image")
    header = f"{'size':<10} {'hash':<11} {'n':>3} {'nearmatch img/s':>16} {'peer img/s':>11} {'ratio':>6} " \
             f"{'(wall: nm':>10} {'peer':>7} {'ratio)':>7}  agreement with the peer"
    print(header)
    for label, files in groups.items():
        for algo, peer_name in (("pdq", "pdqhash+Pillow"), ("pdq-fast", "pdqhash+Pillow"),
                                ("phash", "imagehash+Pillow"), ("phash-fast", "imagehash+Pillow")):
            n, p = near[label][algo], peer[label][algo.removesuffix("-fast")]
            dists = [hamming(n[f]["hash"], p[f]["hash"]) for f in files]
            if algo.endswith("-fast"):
                agree = f"distance mean {statistics.mean(dists):.1f} max {max(dists)} bits"
            else:
                agree = f"{dists.count(0)}/{len(files)} identical"
            ncpu, pcpu = rate(n, "cpu"), rate(p, "cpu")
            nw, pw = rate(n, "wall"), rate(p, "wall")
            cpu_cols = (f"{ncpu:16.1f} {pcpu:11.1f} {ncpu / pcpu:5.2f}x" if ncpu
                        else f"{'n/a':>16} {pcpu:11.1f} {'n/a':>6}")
            print(f"{label:<10} {algo:<11} {len(files):>3} {cpu_cols} {nw:10.1f} {pw:7.1f} {nw / pw:6.2f}x"
                  f"  {agree} (vs {peer_name})")
    print("# ratio = nearmatch images/s / peer images/s (higher is better for nearmatch); "
          "img/s from thread CPU time, wall-clock in parentheses")
    print("# targets (issue #8): exact pdq >= 2x at 1024x768; pdq-fast >= 5x at 4000x3000")


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


if __name__ == "__main__":
    main()
