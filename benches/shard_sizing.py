#!/usr/bin/env python3
"""Sizing sharded sets: bytes per entry of a PDQ shard file, and what a Dask worker needs.

For N random 256-bit PDQ hashes (seeded) in a CSV list (hash, id, category: a typical vendor
list's metadata) it builds a set with the CLI (`set build`), cuts it into each `--shards` count
(`set shard`), and prints per shard count:

  shard bytes/entry   a shard file's size over its entries (digests + multi-index + entry
                      offsets + metadata records + provenance), largest shard
  entries per GiB     2^30 / that: how many entries one GiB of a worker's page cache holds
                      resident (the search touches the whole index, so a shard that does not
                      stay resident is read from disk on every batch)

It then starts a LocalCluster with one worker process per shard (for the smallest count
above 1) and reports each worker's memory before and after `nearmatch.dask.match_sharded` of
`--queries` random queries: RSS, the part of it that is file-backed (page cache: shared,
dropped under pressure; the mapped shard's resident pages are shown apart, the rest is mostly
the extension module's code) and the anonymous rest (the worker itself: Python, numpy, pandas,
Dask, the query batch and the results).

Usage: benches/shard_sizing.py [--n 1000000] [--shards 1 4] [--queries 10000]
       [--cli target/debug/nearmatch] [--workdir /tmp/nearmatch-shard-sizing]
Requirements: numpy, dask[distributed], psutil (the Python test requirements); the nearmatch
CLI (`cargo build`) and Python module (`pip install ./python`). Sizes do not depend on the
build profile; times are not reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def write_csv(n: int, path: Path, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(b"hash,id,category\n")
        block = 1_000_000
        for start in range(0, n, block):
            m = min(block, n - start)
            raw = rng.integers(0, 256, size=(m, 32), dtype=np.uint8)
            hexes = np.frombuffer(raw.tobytes().hex().encode(), dtype="S64").tolist()
            f.write(b"".join(b"%s,m%d,%d\n" % (h, start + i, (start + i) % 3 + 1)
                             for i, h in enumerate(hexes)))


def worker_memory() -> dict[str, int]:
    """This process's RSS, its anonymous and file-backed parts, and the resident pages of its
    mapped shard files (`.nmset` mappings in /proc/self/smaps)."""
    fields = {"shard": 0}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                fields[k] = int(v.split()[0]) * 1024
    in_shard = False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if head and "-" in head[0] and len(head) >= 5:  # a mapping's first line
                in_shard = line.rstrip().endswith(".nmset")
            elif in_shard and line.startswith("Rss:"):
                fields["shard"] += int(head[1]) * 1024
    return fields


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--queries", type=int, default=10_000)
    ap.add_argument("--cli", default=str(ROOT / "target" / "debug" / "nearmatch"))
    ap.add_argument("--workdir", default="/tmp/nearmatch-shard-sizing")
    args = ap.parse_args()
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    lst = work / f"pdq-{args.n}.csv"
    if not lst.exists():
        write_csv(args.n, lst)
    set_path = work / f"pdq-{args.n}.nmset"
    subprocess.run([args.cli, "set", "build", "-a", "pdq", "-o", str(set_path), str(lst)],
                   check=True, stdout=subprocess.DEVNULL)
    size = set_path.stat().st_size
    print(f"set: {args.n:,} entries, {size:,} bytes, {size / args.n:.1f} bytes/entry "
          f"(raw digests 32)")
    manifests = {}
    for k in args.shards:
        out = work / f"shards-{k}"
        subprocess.run([args.cli, "set", "shard", "--shards", str(k), "--out", str(out),
                        str(set_path)], check=True, stdout=subprocess.DEVNULL)
        m = json.loads((out / "shards.json").read_text())
        manifests[k] = out / "shards.json"
        big = max(m["files"], key=lambda f: f["bytes"])
        per = big["bytes"] / big["entries"]
        total = sum(f["bytes"] for f in m["files"])
        print(f"{k} shard(s): largest {big['entries']:,} entries, {big['bytes']:,} bytes, "
              f"{per:.1f} bytes/entry -> {2**30 / per:,.0f} entries per GiB; all shards "
              f"{total:,} bytes ({total / size:.3f} x the set)")

    ks = [k for k in args.shards if k > 1]
    if not ks:
        return 0
    k = min(ks)
    import distributed

    import nearmatch.dask as nmd

    rng = np.random.default_rng(2)
    queries = rng.integers(0, 256, size=(args.queries, 32), dtype=np.uint8)
    with distributed.LocalCluster(n_workers=k, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        before = client.run(worker_memory)
        df = nmd.match_sharded(manifests[k], queries, client=client)
        after = client.run(worker_memory)
    mb = 1 << 20
    print(f"LocalCluster, {k} worker processes, {args.queries:,} random queries at radius 31 "
          f"({len(df)} matches):")
    for w in sorted(before):
        b, a = before[w], after[w]
        print(f"  worker: RSS {b['VmRSS'] / mb:.0f} -> {a['VmRSS'] / mb:.0f} MiB; anonymous "
              f"{b['RssAnon'] / mb:.0f} -> {a['RssAnon'] / mb:.0f} MiB; file-backed "
              f"{b['RssFile'] / mb:.0f} -> {a['RssFile'] / mb:.0f} MiB, of which the mapped "
              f"shard {a['shard'] / mb:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
