#!/usr/bin/env python3
"""Batch hashing from Python: nearmatch.hash_files against pdqhash and imagehash with Pillow, in one run.

Writes 1,000 synthetic JPEGs with this repository's generator (crates/nearmatch/examples/
bench_hash.rs `gen`: the seven scenes in turn, 1024x768, quality 90; reused if already there),
then hashes all of them, from the file on disk to the hex digest, with 1 and 2 workers:

  nearmatch pdq        nearmatch.hash_files(paths, algos=("pdq",), threads=T)
  nearmatch phash      nearmatch.hash_files(paths, algos=("phash",), threads=T)
  nearmatch pdq+phash  both from one decode (what a scan computes)
  pdqhash+Pillow       pdqhash.compute(np.asarray(Image.open(p).convert("RGB")))
  imagehash+Pillow     str(imagehash.phash(Image.open(p)))

T = 1: the peers run in this process; T = 2: in a pool of 2 worker processes (started and
warmed before timing, 20 files per task), the usual way to use two cores from Python.
nearmatch runs its own threads (rayon) with the GIL released.

Each configuration runs REPEAT times (rounds interleave the configurations, so a burst of load
from other users of the machine hits all of them alike); the tables give the median. images/s
is 1000 / wall time; img/CPU-s is 1000 / CPU time (user + system of this process and of the pool's workers, read
from /proc) and measures efficiency per core, independent of how busy the machine was; ratio
is nearmatch over the peer at the same number of workers. Hashes are compared file by file
(both sides decode JPEG with libjpeg-turbo, so PDQ and pHash must agree exactly).

Usage: benches/hash_files_peers.py [--count 1000] [--size 1024x768] [--repeat 3]
       [--workdir /tmp/nearmatch-hash-files-bench]
Requirements: benches/requirements-hash-files.txt, nearmatch installed from the release wheel
(`pip install ./python`); cargo on PATH (builds the generator example in release).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
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

import nearmatch

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 20


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def generate(workdir: Path, count: int, w: int, h: int) -> list[str]:
    """The benchmark's JPEGs (generated once by the bench_hash example, then reused)."""
    d = workdir / f"{w}x{h}-q90"
    listing = d / "paths.json"
    if listing.exists():
        paths = json.loads(listing.read_text())
        if len(paths) == count and all(os.path.exists(p) for p in paths):
            return paths
    subprocess.run(["cargo", "build", "--release", "-p", "nearmatch", "--example", "bench_hash"],
                   cwd=ROOT, check=True)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    exe = target / "release" / "examples" / "bench_hash"
    out = subprocess.run([str(exe), "gen", str(d), str(count), str(w), str(h), "90"],
                         check=True, capture_output=True, text=True)
    paths = json.loads(out.stdout)
    listing.write_text(json.dumps(paths))
    return paths


def pdq_peer(path: str) -> str:
    vec, _quality = pdqhash.compute(np.asarray(Image.open(path).convert("RGB")))
    return np.packbits(vec.astype(np.uint8)).tobytes().hex()


def phash_peer(path: str) -> str:
    return str(imagehash.phash(Image.open(path)))


PEERS = {"pdqhash+Pillow": pdq_peer, "imagehash+Pillow": phash_peer}


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn, pids: list[int]):
    """(result, wall seconds, CPU seconds of this process and of `pids`)."""
    c0 = time.process_time() + sum(proc_cpu(p) for p in pids)
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    cpu = time.process_time() + sum(proc_cpu(p) for p in pids) - c0
    return out, wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--size", default="1024x768", help="WIDTHxHEIGHT of the JPEGs")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per configuration (median)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-hash-files-bench"))
    args = ap.parse_args()
    w, h = (int(x) for x in args.size.lower().split("x"))
    args.workdir.mkdir(parents=True, exist_ok=True)
    paths = generate(args.workdir, args.count, w, h)
    mb = sum(os.path.getsize(p) for p in paths) / 1e6

    pool = mp.get_context("fork").Pool(2)
    pool_pids = [p.pid for p in pool._pool]  # noqa: SLF001  (CPU time of the workers)
    for fn in PEERS.values():  # imports, first-call set-up and page cache, untimed
        pool.map(fn, paths[:40], chunksize=CHUNK)
    nearmatch.hash_files(paths, algos=("pdq", "phash"), threads=2)

    configs = []
    for t in (1, 2):
        for algos in (("pdq",), ("phash",), ("pdq", "phash")):
            configs.append((f"nearmatch {'+'.join(algos)}", t,
                            lambda a=algos, t=t: nearmatch.hash_files(paths, algos=a, threads=t), []))
        for name, fn in PEERS.items():
            if t == 1:
                configs.append((name, 1, lambda fn=fn: [fn(p) for p in paths], []))
            else:
                configs.append((name, 2, lambda fn=fn: pool.map(fn, paths, chunksize=CHUNK), pool_pids))

    runs: dict[tuple[str, int], list[tuple[float, float]]] = {}
    hashes: dict[tuple[str, int], list[str]] = {}
    for r in range(args.repeat):
        for name, t, fn, pids in configs:
            out, wall, cpu = timed(fn, pids)
            runs.setdefault((name, t), []).append((wall, cpu))
            if isinstance(out, nearmatch.HashResults):
                assert not any(out.error), [e for e in out.error if e][:3]
                for a in out.algos:
                    hashes[(f"nearmatch {a}", t)] = out[a]
            else:
                hashes[(name, t)] = out
        print(f"# round {r + 1}/{args.repeat} done", file=sys.stderr)
    pool.close()
    pool.join()

    def med(name: str, t: int) -> tuple[float, float]:
        xs = runs[(name, t)]
        return (statistics.median(args.count / x[0] for x in xs),
                statistics.median(args.count / x[1] for x in xs))

    print(f"# nearmatch.hash_files vs peers: {args.count} synthetic JPEGs {w}x{h} q90 "
          f"({mb:.0f} MB), file on disk -> hex digest, median of {args.repeat} runs")
    print(f"# {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"nearmatch {nearmatch.__version__}, Pillow {PIL.__version__}, pdqhash 0.2.8, "
          f"imagehash {imagehash.__version__}, numpy {np.__version__}")
    print(f"{'hash':<10} {'workers':>7}  {'nearmatch':>20} {'images/s':>9} {'img/CPU-s':>9}  "
          f"{'peer':<17} {'images/s':>9} {'img/CPU-s':>9}  {'ratio':>6} {'per CPU':>7}  agree")
    for algo, peer in (("pdq", "pdqhash+Pillow"), ("phash", "imagehash+Pillow")):
        for t in (1, 2):
            for nm in (f"nearmatch {algo}", "nearmatch pdq+phash"):
                nw, nc = med(nm, t)
                pw, pc = med(peer, t)
                ours = hashes[(f"nearmatch {algo}", t)]
                agree = sum(a == b for a, b in zip(ours, hashes[(peer, t)]))
                print(f"{algo:<10} {t:>7}  {nm:>20} {nw:9.1f} {nc:9.1f}  {peer:<17} {pw:9.1f} {pc:9.1f}  "
                      f"{nw / pw:5.2f}x {nc / pc:6.2f}x  {agree}/{len(paths)}")
    for name in [c[0] for c in configs[:3]] + list(PEERS):
        w1, _ = med(name, 1)
        w2, _ = med(name, 2)
        print(f"# scaling 1 -> 2 workers, {name}: {w2 / w1:.2f}x")
    print("# ratio = nearmatch images/s / peer images/s at the same number of workers (wall clock); "
          "per CPU = the same from CPU time (per-core efficiency). 'nearmatch pdq+phash' computes "
          "both hashes from one decode and is compared with each peer computing one.")


if __name__ == "__main__":
    main()
