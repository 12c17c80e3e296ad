#!/usr/bin/env python3
"""Building hash sets at scale: `nearmatch set build` time, peak memory and file size.

For each N it writes N uniformly random 256-bit PDQ hashes (seeded) as a plain list (one hex
hash per line) and as a CSV list (hash, id, category columns), then builds a set from each with
the release CLI, `--repeat` times, under `/usr/bin/time -v`, and prints per N and format:

  build s       wall-clock seconds (median), and hashes per second
  cpu s         user + system CPU seconds (median): the machine may be shared
  peak RSS      the build's maximum resident set (median), against --memory-budget
  file / raw    the set file's size over the raw digests (N x 32 bytes)

It also runs one build with a budget far below the data (`--small-budget`, default 64M) to show
that memory stays bounded when the list does not fit: the sort then runs on disk.

`--memory-limit SIZE` runs every build inside a memory cgroup of that size (cgroup v1
`memory.limit_in_bytes`, page cache included; needs root and a writable /sys/fs/cgroup/memory):
a build that needed more would be killed, so finishing is the proof that memory stayed bounded.

Usage: benches/set_build.py [--sizes 1000000 10000000] [--repeat 3] [--budget 1G]
       [--small-budget 64M] [--memory-limit 1G] [--formats plain csv]
       [--workdir /tmp/nearmatch-set-build]
Requirements: numpy (benches/requirements-search.txt); /usr/bin/time (Debian: time); cargo.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_lists(n: int, workdir: Path, seed: int = 1, csv_too: bool = True) -> dict[str, Path]:
    """A plain and a CSV list of `n` random PDQ hashes (written in blocks: bounded memory)."""
    plain, csv = workdir / f"pdq-{n}.txt", workdir / f"pdq-{n}.csv"
    if plain.exists() and (csv.exists() or not csv_too):
        return {"plain": plain, "csv": csv}
    rng = np.random.default_rng(seed)
    block = 1_000_000
    with open(plain, "wb") as fp, open(csv if csv_too else os.devnull, "wb") as fc:
        fc.write(b"hash,id,category\n")
        for start in range(0, n, block):
            m = min(block, n - start)
            raw = rng.integers(0, 256, size=(m, 32), dtype=np.uint8)
            hexes = np.frombuffer(raw.tobytes().hex().encode(), dtype="S64")
            fp.write(b"\n".join(hexes.tolist()) + b"\n")
            ids = np.arange(start, start + m)
            cats = ids % 3 + 1
            if csv_too:
                fc.write(b"".join(b"%s,m%d,%d\n" % (h, i, c)
                                  for h, i, c in zip(hexes.tolist(), ids.tolist(), cats.tolist())))
    return {"plain": plain, "csv": csv}


CGROUP = Path("/sys/fs/cgroup/memory/nearmatch-set-build")


def size_bytes(s: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    s = s.strip().upper()
    return int(float(s[:-1]) * units[s[-1]]) if s[-1] in units else int(s)


def timed_build(binary: Path, lst: Path, fmt: str, out: Path, budget: str,
                limit: str | None) -> dict[str, float]:
    cmd = ["/usr/bin/time", "-v", str(binary), "set", "build", "-a", "pdq", "--format", fmt,
           "--memory-budget", budget, "-o", str(out), str(lst)]
    if limit:
        CGROUP.mkdir(exist_ok=True)
        (CGROUP / "memory.limit_in_bytes").write_text(str(size_bytes(limit)))
        # The child joins the cgroup before exec: everything it maps or caches is charged there.
        cmd = ["sh", "-c", f'echo $$ > {CGROUP}/cgroup.procs && exec "$@"', "sh", *cmd]
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"build failed ({r.returncode}): {r.stderr[-2000:]}")
    def field(name: str) -> float:
        m = re.search(rf"{re.escape(name)}: ([0-9.]+)", r.stderr)
        return float(m.group(1)) if m else float("nan")
    return {
        "wall": wall,
        "cpu": field("User time (seconds)") + field("System time (seconds)"),
        "rss": field("Maximum resident set size (kbytes)") * 1024,
        "bytes": out.stat().st_size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", default="1G")
    ap.add_argument("--small-budget", default="64M")
    ap.add_argument("--memory-limit", default=None, help="run the builds in a memory cgroup of this size")
    ap.add_argument("--formats", nargs="+", default=["plain", "csv"], choices=["plain", "csv"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-set-build"))
    ap.add_argument("--binary", type=Path, default=None,
                    help="the nearmatch binary (default: build and use target/release/nearmatch)")
    args = ap.parse_args()
    if shutil.which("/usr/bin/time") is None:
        sys.exit("/usr/bin/time not found (Debian package: time)")
    binary = args.binary
    if binary is None:
        subprocess.run(["cargo", "build", "--release", "--locked", "--bin", "nearmatch"], cwd=ROOT, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
        binary = target / "release" / "nearmatch"
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores (shared); nearmatch {binary}")
    print(f"{'N':>11} {'format':>6} {'budget':>6} {'build s':>8} {'hashes/s':>10} {'cpu s':>7} "
          f"{'peak RSS':>9} {'file/raw':>8}")
    for n in args.sizes:
        lists = write_lists(n, args.workdir, csv_too="csv" in args.formats)
        out = args.workdir / f"pdq-{n}.nmset"
        runs = [(fmt, args.budget, args.repeat) for fmt in args.formats]
        if args.small_budget != "none":
            runs.append(("plain", args.small_budget, 1))
        for fmt, budget, repeat in runs:
            rs = [timed_build(binary, lists[fmt], fmt, out, budget, args.memory_limit)
                  for _ in range(repeat)]
            med = {k: statistics.median(r[k] for r in rs) for k in rs[0]}
            print(f"{n:>11} {fmt:>6} {budget:>6} {med['wall']:>8.2f} {n / med['wall']:>10,.0f} "
                  f"{med['cpu']:>7.2f} {med['rss'] / 2**20:>7.0f}MB {med['bytes'] / (32 * n):>8.2f}",
                  flush=True)
        out.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
