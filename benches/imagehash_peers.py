#!/usr/bin/env python3
"""nearmatch.imagehash against imagehash 4.3.2 + Pillow, every function, in one run, per core.

Writes COUNT benign synthetic images (numpy: gradients, discs and bars, mild noise; half JPEG
quality 90, half PNG; reused if already there), then for every function hashes every file, from
the file on disk to the hash, three ways:

  imagehash   imagehash.F(Image.open(p))                           Pillow decodes, imagehash hashes
  drop-in     nearmatch.imagehash.F(Image.open(p))                 Pillow decodes, nearmatch hashes
  hash_files  nearmatch.imagehash.hash_files(paths, F, threads=1)  nearmatch decodes and hashes

and, to show what Pillow's decode costs, the hash alone of images decoded beforehand
(imagehash.F(img) vs nearmatch.imagehash.F(img)).

Per core: the process is pinned to one CPU, rayon runs one thread, and the measure is the CPU
time of the whole process (user + system, time.process_time: the rayon worker included), so
other users of the machine cost wall time, not these figures. Each configuration runs REPEAT
times, rounds interleaving the configurations; the table gives the median. img/CPU-s is files
per CPU-second; a ratio is nearmatch over imagehash. Every hash is compared with imagehash's.

Usage: benches/imagehash_peers.py [--count 60] [--size 1024x768] [--repeat 3]
       [--workdir /tmp/nearmatch-imagehash-bench] [--functions average_hash,phash,...]
       [--formats jpeg,png]
Requirements: benches/requirements-imagehash.txt; nearmatch from the release wheel
(`pip install ./python`).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")

import imagehash  # noqa: E402
import numpy as np  # noqa: E402
import PIL  # noqa: E402
from PIL import Image  # noqa: E402

import nearmatch  # noqa: E402
import nearmatch.imagehash as nmih  # noqa: E402

#: label -> (imagehash callable, nearmatch.imagehash callable).
FUNCTIONS = {
    "average_hash": (imagehash.average_hash, nmih.average_hash),
    "phash": (imagehash.phash, nmih.phash),
    "phash_simple": (imagehash.phash_simple, nmih.phash_simple),
    "dhash": (imagehash.dhash, nmih.dhash),
    "dhash_vertical": (imagehash.dhash_vertical, nmih.dhash_vertical),
    "whash": (imagehash.whash, nmih.whash),
    "whash-db4": (functools.partial(imagehash.whash, mode="db4"),
                  functools.partial(nmih.whash, mode="db4")),
    "colorhash": (imagehash.colorhash, nmih.colorhash),
    "phash-16": (functools.partial(imagehash.phash, hash_size=16),
                 functools.partial(nmih.phash, hash_size=16)),
    "crop_resistant_hash": (imagehash.crop_resistant_hash, nmih.crop_resistant_hash),
}
#: imagehash's crop_resistant_hash takes ~0.3 s per 1024x768 image: at most this many files.
SLOW = {"crop_resistant_hash": 12}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def synthetic(h: int, w: int, seed: int) -> np.ndarray:
    """A benign synthetic picture: a two-colour gradient, discs and bars, mild noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = (x / w * rng.random() + y / h * (1 - rng.random()))[..., None]
    img = c0 * (1 - t) + c1 * t
    for _ in range(int(rng.integers(3, 9))):
        cy, cx, r = rng.random() * h, rng.random() * w, (0.05 + 0.2 * rng.random()) * min(h, w)
        mask = ((y - cy) ** 2 + (x - cx) ** 2 < r * r) if rng.random() < 0.6 else (
            (abs(y - cy) < r) & (abs(x - cx) < r / 3))
        img[mask] = rng.integers(0, 256, 3)
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def generate(workdir: Path, count: int, w: int, h: int) -> list[str]:
    d = workdir / f"{w}x{h}"
    listing = d / "paths.json"
    if listing.exists():
        paths = json.loads(listing.read_text())
        if len(paths) == count and all(os.path.exists(p) for p in paths):
            return paths
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        img = Image.fromarray(synthetic(h, w, i))
        p = d / (f"{i:04d}.jpg" if i % 2 == 0 else f"{i:04d}.png")
        img.save(p, quality=90) if p.suffix == ".jpg" else img.save(p)
        paths.append(str(p))
    listing.write_text(json.dumps(paths))
    return paths


def cpu_seconds(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def measure(name: str, paths: list[str], repeat: int):
    """One function on the files: (files, medians per configuration, equal drop-in, equal batch)."""
    peer, ours = FUNCTIONS[name]
    files = paths[: SLOW.get(name, len(paths))]
    n = len(files)
    decoded = []
    for p in files:
        im = Image.open(p)
        im.load()
        decoded.append(im)
    want = [str(peer(Image.open(p))) for p in files]
    got_dropin = [str(ours(Image.open(p))) for p in files]
    got_batch = [str(x) for x in nmih.hash_files(files, ours, threads=1)]
    times: dict[str, list[float]] = {k: [] for k in
                                      ("peer", "dropin", "batch", "peer_hash", "ours_hash")}
    for _ in range(repeat):
        times["peer"].append(cpu_seconds(lambda: [peer(Image.open(p)) for p in files]))
        times["dropin"].append(cpu_seconds(lambda: [ours(Image.open(p)) for p in files]))
        times["batch"].append(cpu_seconds(lambda: nmih.hash_files(files, ours, threads=1)))
        times["peer_hash"].append(cpu_seconds(lambda: [peer(im) for im in decoded]))
        times["ours_hash"].append(cpu_seconds(lambda: [ours(im) for im in decoded]))
    med = {k: statistics.median(v) for k, v in times.items()}
    return (n, med, sum(a == b for a, b in zip(want, got_dropin)),
            sum(a == b for a, b in zip(want, got_batch)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=60)
    ap.add_argument("--size", default="1024x768")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/nearmatch-imagehash-bench")
    ap.add_argument("--functions", default=",".join(FUNCTIONS))
    ap.add_argument("--cpu", type=int, default=None, help="CPU to pin to (default: the first allowed)")
    ap.add_argument("--formats", default="jpeg,png",
                    help="which of the generated files to hash, one table row per format")
    args = ap.parse_args()
    w, h = map(int, args.size.lower().split("x"))
    cpus = sorted(os.sched_getaffinity(0))
    cpu = args.cpu if args.cpu is not None else cpus[0]
    os.sched_setaffinity(0, {cpu})
    formats = [(f.strip(), {"jpeg": ".jpg", "png": ".png"}[f.strip()])
               for f in args.formats.split(",") if f.strip()]
    paths = generate(Path(args.workdir), args.count, w, h)
    funcs = [f.strip() for f in args.functions.split(",") if f.strip()]
    warnings.simplefilter("ignore")  # PyWavelets' level warning for db4, on both sides

    print(f"# nearmatch.imagehash vs imagehash {imagehash.__version__} + Pillow {PIL.__version__}")
    print(f"# {len(paths)} synthetic {w}x{h} images (half JPEG q90, half PNG; a table row per format); pinned to CPU {cpu} "
          f"({cpu_model()}); RAYON_NUM_THREADS={os.environ['RAYON_NUM_THREADS']}; "
          f"median of {args.repeat}; nearmatch {nearmatch.__version__}, numpy {np.__version__}, "
          f"Python {platform.python_version()}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rows = []
    for fmt, suffix in formats:
        fmt_paths = [p for p in paths if p.endswith(suffix)]
        for name in funcs:
            rows.append((fmt, name) + measure(name, fmt_paths, args.repeat))

    print()
    print("| function | files | imagehash+Pillow img/CPU-s | drop-in img/CPU-s | drop-in ratio "
          "| hash_files img/CPU-s | hash_files ratio | hash only (decoded) ratio "
          "| equal (drop-in / batch) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    worst: tuple[float, str] | None = None
    for fmt, name, n, med, eq_d, eq_b in rows:
        r_d = med["peer"] / med["dropin"]
        r_b = med["peer"] / med["batch"]
        r_h = med["peer_hash"] / med["ours_hash"]
        best = max(r_d, r_b)
        if worst is None or best < worst[0]:
            worst = (best, f"{name} ({fmt})")
        print(f"| {name} ({fmt}) | {n} | {n / med['peer']:.1f} | {n / med['dropin']:.1f} "
              f"| {r_d:.2f}x | {n / med['batch']:.1f} | {r_b:.2f}x | {r_h:.2f}x "
              f"| {eq_d}/{n} / {eq_b}/{n} |")
    print()
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"lowest per-function speed-up (best of drop-in and hash_files): {worst[0]:.2f}x, "
          f"{worst[1]} (target >= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
