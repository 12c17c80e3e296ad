#!/usr/bin/env python3
"""Exact PDQ against the decode floor (issue #23): per image, one core, one run.

Writes synthetic JPEGs made by code (crates/nearmatch/examples/bench_hash.rs `gen`: gradients,
shapes and noise scenes in turn, quality 88) at 640x480, 1024x768 and 4000x3000, then times per
image, pinned to one core (`taskset -c 0` when available), thread CPU time:

  decode (Pillow)      Image.open(p).load(): Pillow's libjpeg-turbo decode alone
  decode (nearmatch)   read + libjpeg-turbo decode in nearmatch (the same library), release build
  nearmatch exact PDQ  read + decode + PDQ (pdqhash profile) through hash_bytes, as `nearmatch
                       hash`/`scan` run it: a JPEG's rows stream into the tent filter, never
                       held as a whole image; release build
  whole-image PDQ      read + whole-image decode, then PDQ of those pixels (the path before rows
                       were streamed, and the one other requests take), same binary
  pdqhash+Pillow       pdqhash.compute(np.asarray(Image.open(p).convert('RGB')))

Each image is run once untimed, then REPEAT times; its time is the median of those runs; a
size's figure is the mean over its images of those medians. Printed ratios, all from this one
run: exact / decode (target <= 1.1 at every size), pdqhash+Pillow / exact (target >= 6 at
1024x768), and whether the exact hashes equal pdqhash's.

Usage: benches/pdq_floor.py [--repeat 5] [--count 20] [--large 5] [--workdir /tmp/nearmatch-pdq-floor]
Requirements: benches/requirements-peers.txt (pinned); cargo on PATH (builds the example in
release; honours CARGO_TARGET_DIR).
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

import numpy as np
import pdqhash
import PIL
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CORE = "0"
SIZES = ((640, 480), (1024, 768), (4000, 3000))
QUALITY = 88


def pinned(cmd: list[str]) -> list[str]:
    return (["taskset", "-c", CORE] + cmd) if shutil.which("taskset") else cmd


def cargo_example() -> Path:
    subprocess.run(
        ["cargo", "build", "--release", "-p", "nearmatch", "--example", "bench_hash"],
        cwd=ROOT, check=True,
    )
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return target / "release" / "examples" / "bench_hash"


def generate(exe: Path, workdir: Path, count: int, w: int, h: int) -> list[str]:
    out = subprocess.run(
        [str(exe), "gen", str(workdir / f"{w}x{h}"), str(count), str(w), str(h), str(QUALITY)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def nearmatch_times(exe: Path, algo: str, repeat: int, files: list[str]) -> dict[str, dict]:
    out = subprocess.run(
        pinned([str(exe), "time", algo, str(repeat)] + files),
        check=True, capture_output=True, text=True, env=dict(os.environ, RAYON_NUM_THREADS="1"),
    )
    return {f["path"]: {"hash": f["hash"], "cpu": f["cpu"]} for f in json.loads(out.stdout)["files"]}


def pillow_decode(path: str) -> str:
    im = Image.open(path)
    im.load()  # the decode itself; these JPEGs are RGB already, so no conversion copy
    return f"{im.width}x{im.height}"


def pdq_peer(path: str) -> str:
    vec, _quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
    return np.packbits(vec.astype(np.uint8)).tobytes().hex()


def python_times(fn, repeat: int, files: list[str]) -> dict[str, dict]:
    out = {}
    for p in files:
        h = fn(p)
        cpu = []
        for _ in range(repeat):
            c0 = time.thread_time()
            fn(p)
            cpu.append(time.thread_time() - c0)
        out[p] = {"hash": h, "cpu": cpu}
    return out


def ms_per_image(times: dict[str, dict]) -> float:
    return 1e3 * statistics.mean(statistics.median(f["cpu"]) for f in times.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5, help="timed runs per image (median taken), >= 5")
    ap.add_argument("--count", type=int, default=20, help="images at 640x480 and 1024x768")
    ap.add_argument("--large", type=int, default=5, help="images at 4000x3000")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-pdq-floor"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:  # the pinned Python side
        groups = json.loads(Path(args.child).read_text())
        print(json.dumps({label: {"decode": python_times(pillow_decode, args.repeat, files),
                                  "pdq": python_times(pdq_peer, args.repeat, files)}
                          for label, files in groups.items()}))
        return

    args.workdir.mkdir(parents=True, exist_ok=True)
    exe = cargo_example()
    groups = {f"{w}x{h}": generate(exe, args.workdir, args.large if w > 2000 else args.count, w, h)
              for w, h in SIZES}
    groups_file = args.workdir / "groups.json"
    groups_file.write_text(json.dumps(groups))

    # Rust and Python sides interleaved per size, so load changes on the shared machine hit both.
    near, peer = {}, {}
    for label, files in groups.items():
        near[label] = {algo: nearmatch_times(exe, algo, args.repeat, files) for algo in ("decode", "pdq", "pdq-whole")}
        one = args.workdir / "group.json"
        one.write_text(json.dumps({label: files}))
        child = subprocess.run(
            pinned([sys.executable, __file__, "--repeat", str(args.repeat), "--child", str(one)]),
            check=True, capture_output=True, text=True,
            env=dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1"),
        )
        peer.update(json.loads(child.stdout))

    print(f"# exact PDQ vs the decode floor, synthetic JPEGs q{QUALITY}, one core "
          f"({'taskset -c ' + CORE if shutil.which('taskset') else 'not pinned'}), thread CPU time, "
          f"median of {args.repeat} runs per image, mean over images")
    print(f"# Python {platform.python_version()}, Pillow {PIL.__version__}, numpy {np.__version__}, pdqhash 0.2.8")
    print(f"{'size':<10} {'n':>3} {'decode Pillow':>13} {'decode nm':>10} {'exact nm':>9} {'pdqhash+PIL':>12}"
          f" {'exact/dec(PIL)':>15} {'exact/dec(nm)':>14} {'peer/exact':>11} {'whole nm':>9} {'whole/dec(nm)':>14}"
          f"  exact = pdqhash")
    for label, files in groups.items():
        dp, dn = ms_per_image(peer[label]["decode"]), ms_per_image(near[label]["decode"])
        en, pp = ms_per_image(near[label]["pdq"]), ms_per_image(peer[label]["pdq"])
        wn = ms_per_image(near[label]["pdq-whole"])
        same = sum(near[label]["pdq"][f]["hash"] == peer[label]["pdq"][f]["hash"]
                   == near[label]["pdq-whole"][f]["hash"] for f in files)
        print(f"{label:<10} {len(files):>3} {dp:10.2f} ms {dn:7.2f} ms {en:6.2f} ms {pp:9.2f} ms"
              f" {en / dp:14.2f}x {en / dn:13.2f}x {pp / en:10.2f}x {wn:6.2f} ms {wn / dn:13.2f}x"
              f"  {same}/{len(files)}")
    print("# targets (issue #23): exact/decode <= 1.10 at every size; peer/exact >= 6 at 1024x768")


if __name__ == "__main__":
    main()
