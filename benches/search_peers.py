#!/usr/bin/env python3
"""Exact Hamming-radius search: nearmatch (scan, multi-index) against faiss-cpu, in one run.

For each N and set kind (uniform random; clustered: half the entries near-duplicates of 2,000
centres, as real hash lists are) it writes a 256-bit set and 10,000 queries, 1,000 of them
planted near-duplicates of set entries at distances 0-31, then measures per core (one thread,
pinned):

  nearmatch scan    blocked popcount scan (crates/nearmatch/examples/search_bench.rs)
  nearmatch MIH     multi-index hashing, parameters chosen from N
  faiss flat        IndexBinaryFlat.range_search
  faiss multihash   IndexBinaryMultiHash(256, 16 tables, 16 bits), nflip=1 (exact for r <= 31)

queries/s per CPU-second (process CPU time, not wall time: the machine may be shared), recall
of the planted pairs, build time (one thread; nearmatch MIH also on two threads: "2 thr s"),
open time (nearmatch: map the files and create the searcher, as `HashSet::searcher` does;
faiss: read_index_binary) and memory; then ratios. The
exhaustive engines run on a prefix of the queries (planted pairs are spread uniformly, so the
prefix holds its share of them) to keep the run short, as does faiss multihash at 10M; queries/s does not depend on the count.

Usage: benches/search_peers.py [--sizes 1000000 10000000] [--kinds random clustered]
       [--radius 31] [--repeat 3] [--workdir /tmp/nearmatch-search-bench]
Requirements: benches/requirements-search.txt; cargo on PATH (runs the example in release).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORDS = 4  # 256-bit digests
N_QUERIES = 10_000
N_PLANTED = 1_000
CORE = 0


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def flip_bits(words: np.ndarray, rows: np.ndarray, positions: np.ndarray) -> None:
    """Flip bit `positions[i]` (0 = MSB of word 0) of `words[rows[i]]`, in place."""
    w = positions // 64
    b = (63 - positions % 64).astype(np.uint64)
    np.bitwise_xor.at(words, (rows, w), np.left_shift(np.uint64(1), b))


def make_data(n: int, kind: str, radius: int, seed: int = 1):
    rng = np.random.default_rng(seed)
    s = rng.integers(0, 2**64, size=(n, WORDS), dtype=np.uint64)
    if kind == "clustered":
        centres = rng.integers(0, 2**64, size=(2_000, WORDS), dtype=np.uint64)
        rows = np.flatnonzero(rng.random(n) < 0.5)
        s[rows] = centres[rng.integers(0, len(centres), size=len(rows))]
        flips = rng.integers(0, 13, size=len(rows))
        for k in range(12):
            sel = rows[flips > k]
            flip_bits(s, sel, rng.integers(0, 256, size=len(sel)))
    q = rng.integers(0, 2**64, size=(N_QUERIES, WORDS), dtype=np.uint64)
    planted_q = rng.permutation(N_QUERIES)[:N_PLANTED]
    planted_e = rng.integers(0, n, size=N_PLANTED)
    for i, (qi, e) in enumerate(zip(planted_q, planted_e)):
        d = i % (radius + 1)
        q[qi] = s[e]
        if d:
            flip_bits(q, np.full(d, qi), rng.choice(256, size=d, replace=False))
    return s, q, list(zip(planted_q.tolist(), planted_e.tolist()))


def recall(pairs: set, planted, nq: int) -> float:
    want = [(q, e) for q, e in planted if q < nq]
    return sum((q, e) in pairs for q, e in want) / max(1, len(want))


def run_nearmatch(workdir: Path, engine: str, radius: int, nq: int, repeat: int):
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    cmd = ["taskset", "-c", str(CORE), str(ROOT / "target/release/examples/search_bench"),
           str(workdir), engine, str(radius), str(nq), str(repeat)]
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    res = json.loads(out)
    raw = np.fromfile(workdir / f"nearmatch_{engine}.pairs", dtype="<u4").reshape(-1, 2)
    res["pairs"] = set(map(tuple, raw.tolist()))
    res["memory_bytes"] = res["raw_bytes"] + res["index_bytes"]
    return res


def run_faiss(kind: str, s: np.ndarray, q: np.ndarray, radius: int, nq: int, repeat: int,
              workdir: Path):
    import faiss

    faiss.omp_set_num_threads(1)
    xb = np.ascontiguousarray(s).view(np.uint8).reshape(len(s), 32)
    xq = np.ascontiguousarray(q[:nq]).view(np.uint8).reshape(nq, 32)
    before = rss_bytes()
    t = time.perf_counter()
    if kind == "flat":
        index = faiss.IndexBinaryFlat(256)
    else:
        index = faiss.IndexBinaryMultiHash(256, 16, 16)
        index.nflip = 1
    index.add(xb)
    build = time.perf_counter() - t
    memory = rss_bytes() - before
    path = workdir / f"faiss_{kind}.index"
    open_s = None
    try:
        faiss.write_index_binary(index, str(path))
        t = time.perf_counter()
        reopened = faiss.read_index_binary(str(path))
        open_s = time.perf_counter() - t
        del reopened
        path.unlink()
    except RuntimeError as e:  # not every binary index type is serialisable
        print(f"  faiss {kind}: no serialisation ({e})", file=sys.stderr)
    times = []
    for _ in range(repeat):
        t = time.process_time()
        lims, _, ids = index.range_search(xq, radius + 1)  # faiss keeps distance < radius
        times.append(time.process_time() - t)
    pairs = set()
    for i in range(nq):
        for e in ids[lims[i]:lims[i + 1]].tolist():
            pairs.add((i, e))
    med = statistics.median(times)
    return {"engine": f"faiss {kind}", "queries": nq, "search_s": med, "qps": nq / med,
            "comparisons_per_s": nq * len(s) / med, "build_s": build, "open_s": open_s,
            "memory_bytes": memory, "matches": len(pairs), "pairs": pairs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--kinds", nargs="+", default=["random", "clustered"])
    ap.add_argument("--radius", type=int, default=31)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-build", action="store_true", help="skip `cargo build` of the driver")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-search-bench"))
    args = ap.parse_args()

    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "nearmatch", "--example",
                        "search_bench"], cwd=ROOT, check=True)
    os.sched_setaffinity(0, {CORE})
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"per core (1 thread, pinned to CPU {CORE}), 256-bit digests, r = {args.radius}, "
          f"{N_QUERIES} queries with {N_PLANTED} planted near-duplicates; medians of {args.repeat}; "
          "q/s per CPU-second")
    summary = []
    for n in args.sizes:
        # Exhaustive engines: a prefix of the queries, about 10-20 s each at most.
        exhaustive_q = max(200, min(N_QUERIES, int(2e9 / n)))
        for kind in args.kinds:
            s, q, planted = make_data(n, kind, args.radius)
            s.astype("<u8").tofile(args.workdir / "set.u64")
            q.astype("<u8").tofile(args.workdir / "queries.u64")
            rows = [
                run_nearmatch(args.workdir, "scan", args.radius, exhaustive_q * 4, args.repeat),
                run_nearmatch(args.workdir, "mih", args.radius, N_QUERIES, args.repeat),
                run_faiss("flat", s, q, args.radius, exhaustive_q, args.repeat, args.workdir),
                run_faiss("multihash", s, q, args.radius, min(N_QUERIES, 5 * exhaustive_q),
                          args.repeat, args.workdir),
            ]
            # Exactness cross-check on the common prefix: every engine must agree.
            common = min(r["queries"] for r in rows)
            ref = {p for p in rows[0]["pairs"] if p[0] < common}
            print(f"\nN = {n:,} {kind}  (raw hashes {n * 32 / 2**20:.0f} MiB)")
            print(f"  {'engine':18} {'queries':>7} {'q/s':>10} {'Gcmp/s':>7} {'recall':>7} "
                  f"{'build s':>8} {'2 thr s':>8} {'open s':>8} {'mem MiB':>8}  agrees  params")
            for r in rows:
                r["recall"] = recall(r["pairs"], planted, r["queries"])
                mine = {p for p in r["pairs"] if p[0] < common}
                r["agrees"] = mine == ref
                open_s = "-" if r["open_s"] is None else f"{r['open_s']:.4f}"
                build2 = f"{r['build_2t_s']:.2f}" if r.get("build_2t_s") else "-"
                print(f"  {r['engine']:18} {r['queries']:>7} {r['qps']:>10.1f} "
                      f"{r['comparisons_per_s'] / 1e9:>7.2f} {100 * r['recall']:>6.1f}% "
                      f"{r['build_s']:>8.2f} {build2:>8} {open_s:>8} "
                      f"{r['memory_bytes'] / 2**20:>8.0f}  "
                      f"{'yes' if r['agrees'] else 'NO':>6}  {r.get('params') or ''}")
            scan, mih, flat, mh = rows
            ratios = {
                "mih/faiss_flat": mih["qps"] / flat["qps"],
                "mih/faiss_multihash": mih["qps"] / mh["qps"],
                "scan/faiss_flat": scan["qps"] / flat["qps"],
                "mih_index/raw": mih["index_bytes"] / mih["raw_bytes"],
            }
            print("  ratios: " + ", ".join(f"{k} = {v:.2f}x" for k, v in ratios.items()))
            summary.append({"n": n, "kind": kind, "ratios": ratios,
                            "rows": [{k: v for k, v in r.items() if k != "pairs"} for r in rows]})
    (args.workdir / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"\nfull results: {args.workdir / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
