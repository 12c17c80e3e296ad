#!/usr/bin/env python3
"""HEIC hashing (issue #21): nearmatch against pillow-heif + pdqhash, one core, one run.

Writes COUNT synthetic HEIC photos (gradients, shapes and noise, WxH, quality 85) with
pillow-heif, then times per image, pinned to one core (`taskset` when available), process CPU
time, each image once untimed and then REPEAT times (median per image, mean over images):

  nearmatch       nearmatch.pdq(path): read + libheif decode (system libheif) + PDQ
  pillow-heif     pdqhash.compute(np.asarray(Image.open(path).convert("RGB"))) with
                  pillow-heif's bundled libheif registered as Pillow's HEIF opener

and prints images per CPU-second of each, their ratio, and the PDQ distance distribution
between the two (the two libheif versions round YCbCr → RGB differently by one level).

Usage: benches/heif_peers.py [--count 12] [--repeat 5] [--size 1024x768]
Requirements: benches/requirements-heif.txt; nearmatch installed (pip install ./python).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from collections import Counter

import numpy as np
import pdqhash
import pillow_heif
from PIL import Image

import nearmatch

pillow_heif.register_heif_opener()


def synthetic(i: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 255 // w), (y * 255 // h), ((x * 3 + y * 5 + i * 40) % 256)], -1)
    for _ in range(12):
        x0, y0 = rng.integers(0, w - 20), rng.integers(0, h - 20)
        img[y0:y0 + rng.integers(10, h // 3), x0:x0 + rng.integers(10, w // 3)] = rng.integers(0, 256, 3)
    if i % 3 == 2:
        img = img + rng.integers(-20, 21, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def cpu_median(f, repeat: int) -> float:
    f()
    times = []
    for _ in range(repeat):
        t = time.process_time()
        f()
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", default="1024x768")
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i in range(a.count):
            p = os.path.join(d, f"IMG_{i:04}.HEIC")
            Image.fromarray(synthetic(i, h, w)).save(p, quality=85)
            paths.append(p)

        def ours(p):
            return nearmatch.pdq(p, probes=None)

        def peer(p):
            rgb = np.ascontiguousarray(np.asarray(Image.open(p).convert("RGB")))
            return pdqhash.compute(rgb)

        t_ours = statistics.mean(cpu_median(lambda p=p: ours(p), a.repeat) for p in paths)
        t_peer = statistics.mean(cpu_median(lambda p=p: peer(p), a.repeat) for p in paths)
        dist = Counter(int(np.count_nonzero(ours(p).bits != peer(p)[0].astype(bool))) for p in paths)
    print(f"{a.count} synthetic HEIC {w}x{h} q85, one core, CPU time, median of {a.repeat} per image")
    print(f"  decoders: nearmatch the system's libheif, the peer its bundled libheif {pillow_heif.libheif_info()['libheif']}")
    print(f"  nearmatch         {1 / t_ours:8.1f} images/CPU-s  ({t_ours * 1e3:.1f} ms)")
    print(f"  pillow-heif+pdqhash {1 / t_peer:6.1f} images/CPU-s  ({t_peer * 1e3:.1f} ms)")
    print(f"  ratio (peer time / nearmatch time): {t_peer / t_ours:.2f}x")
    print(f"  PDQ distance nearmatch vs peer: {dict(sorted(dist.items()))}")


if __name__ == "__main__":
    main()
