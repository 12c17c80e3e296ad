#!/usr/bin/env python3
"""Hash sets at national scale, end to end: build, file size, open, exact r=31 search, faiss.

The table of issue #25, re-measured in one run per N. For each N it draws N uniformly random
256-bit PDQ hashes (seeded), writes them as a plain list (one hex hash per line) and then:

  build        `nearmatch set build --format plain` (release CLI, all cores = 2 here) under
               /usr/bin/time: wall seconds, hashes/s, CPU seconds, peak RSS
  file/raw     the set file's size over the raw digests (N x 32 bytes)
  open         `HashSet::open` + `searcher()` on the file (as `nearmatch match` opens a set)
  nearmatch    exact radius search, r = 31, of 10,000 queries (1,000 planted near-duplicates of
               set entries at distances 0..31, every tenth query), one thread pinned to one
               core, queries per CPU-second (median of --repeat after a warm-up pass; the set
               file is then in the page cache), recall of the planted pairs
  bounds       the physical limits on the same mapped file, from the lines a query reads
               (offsets and ids per probed bucket, a digest per candidate): "random" = random
               cache lines per CPU-second this core gets (prefetched, as the search does) over
               those lines; "bandwidth" = sequential bytes per CPU-second over their bytes, a
               ceiling no read order beats (crates/nearmatch/examples/set_search.rs)
  faiss flat   IndexBinaryFlat.range_search on the same hashes, one thread, on a prefix of the
               queries (it is exhaustive: queries/s does not depend on how many), queries per
               CPU-second; its hits must equal nearmatch's on that prefix

Usage: benches/set_scale.py [--sizes 10000000 30000000 100000000] [--repeat 3]
       [--budget 1G] [--workdir /tmp/nearmatch-set-scale] [--keep]
Requirements: benches/requirements-search.txt (numpy, faiss-cpu); /usr/bin/time (Debian: time);
cargo. Disk: about 200 bytes per entry in --workdir (list, set, faiss index), 20 GB at 100M.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from set_build import timed_build  # noqa: E402  (same folder)

ROOT = Path(__file__).resolve().parent.parent
N_QUERIES = 10_000
PLANT_EVERY = 10
RADIUS = 31
CORE = 0
POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def make_data(n: int, workdir: Path, seed: int = 1):
    """The raw hashes (N x 32 bytes, kept for faiss and the checks), their plain list, and the
    queries with the planted (query, entry row, distance) triples."""
    rng = np.random.default_rng(seed)
    raw = np.empty((n, 32), dtype=np.uint8)
    lst = workdir / f"pdq-{n}.txt"
    block = 1_000_000
    with open(lst, "wb") as f:
        for start in range(0, n, block):
            m = min(block, n - start)
            raw[start:start + m] = rng.integers(0, 256, size=(m, 32), dtype=np.uint8)
            hexes = np.frombuffer(raw[start:start + m].tobytes().hex().encode(), dtype="S64")
            f.write(b"\n".join(hexes.tolist()) + b"\n")
    q = rng.integers(0, 256, size=(N_QUERIES, 32), dtype=np.uint8)
    planted = []
    for k, qi in enumerate(range(0, N_QUERIES, PLANT_EVERY)):
        row = int(rng.integers(0, n))
        d = k % (RADIUS + 1)
        q[qi] = raw[row]
        bits = rng.choice(256, size=d, replace=False)
        for b in bits:
            q[qi, b // 8] ^= np.uint8(0x80 >> (b % 8))
        planted.append((qi, row, d))
    return raw, lst, q, planted


def hits_of(path: Path) -> dict[int, dict[bytes, int]]:
    """The driver's hits: query -> {digest bytes: distance}."""
    rec = np.fromfile(path, dtype=np.dtype([("q", "<u4"), ("d", "<u4"), ("w", "=u8", 4)]))
    out: dict[int, dict[bytes, int]] = {}
    for qi, d, w in zip(rec["q"].tolist(), rec["d"].tolist(), rec["w"]):
        out.setdefault(qi, {})[w.astype(">u8").tobytes()] = d
    return out


def run_nearmatch(driver: Path, set_path: Path, q: np.ndarray, workdir: Path, repeat: int):
    qfile = workdir / "queries.u64"
    # The set's word order: each 8 bytes of the digest a big-endian number, stored native.
    q.view(">u8").astype("=u8").tofile(qfile)
    cmd = ["taskset", "-c", str(CORE), str(driver), str(set_path), str(qfile), str(RADIUS),
           str(repeat)]
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    res = json.loads(subprocess.run(cmd, env=env, check=True, capture_output=True,
                                    text=True).stdout)
    res["hits"] = hits_of(Path(f"{qfile}.hits"))
    return res


def run_faiss(raw: np.ndarray, q: np.ndarray, nq: int, repeat: int, workdir: Path):
    import faiss

    faiss.omp_set_num_threads(1)
    index = faiss.IndexBinaryFlat(256)
    index.add(raw)
    path = workdir / "faiss_flat.index"
    faiss.write_index_binary(index, str(path))
    del index
    t = time.perf_counter()
    index = faiss.read_index_binary(str(path))
    open_s = time.perf_counter() - t
    path.unlink()
    xq = np.ascontiguousarray(q[:nq])
    times = []
    for _ in range(repeat):
        t = time.process_time()
        lims, dist, ids = index.range_search(xq, RADIUS + 1)  # faiss keeps distance < radius
        times.append(time.process_time() - t)
    hits: dict[int, dict[bytes, int]] = {}
    for i in range(nq):
        for e, d in zip(ids[lims[i]:lims[i + 1]].tolist(), dist[lims[i]:lims[i + 1]].tolist()):
            hits.setdefault(i, {})[raw[e].tobytes()] = d
    return {"qps": nq / statistics.median(times), "queries": nq, "open_s": open_s,
            "hits": hits}


def check(res: dict, raw: np.ndarray, q: np.ndarray, planted) -> float:
    """Recall of the planted pairs; exits if a reported distance is wrong or beyond r."""
    for qi, found in res["hits"].items():
        for digest, d in found.items():
            true = int(POPCOUNT[np.bitwise_xor(np.frombuffer(digest, np.uint8), q[qi])].sum())
            if true != d or d > RADIUS:
                sys.exit(f"query {qi}: reported distance {d}, true {true} (r = {RADIUS})")
    got = sum(raw[row].tobytes() in res["hits"].get(qi, {}) for qi, row, _ in planted)
    return got / len(planted)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 30_000_000, 100_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--budget", default="1G", help="set build --memory-budget")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-set-scale"))
    ap.add_argument("--keep", action="store_true", help="keep the lists and set files")
    ap.add_argument("--no-build", action="store_true", help="skip the cargo builds")
    ap.add_argument("--driver", type=Path, default=None,
                    help="the set_search example binary (default: target/release/examples)")
    args = ap.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release"
    if not args.no_build:
        for what in (["--bin", "nearmatch"], ["-p", "nearmatch", "--example", "set_search"]):
            subprocess.run(["cargo", "build", "--release", "--locked", *what], cwd=ROOT,
                           check=True)
    binary = target / "nearmatch"
    driver = args.driver or target / "examples" / "set_search"
    args.workdir.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores (shared), {os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE') / 2**30:.0f} GiB; "
          f"random 256-bit PDQ; r = {RADIUS}; {N_QUERIES} queries, {N_QUERIES // PLANT_EVERY} planted; "
          f"search and faiss on one pinned core, q/s per CPU-second, medians of {args.repeat}")
    header = (f"{'N':>11} {'build s':>8} {'hashes/s':>10} {'cpu s':>7} {'peak RSS':>9} "
              f"{'file/raw':>8} {'open ms':>8} {'layout':>14} {'MIH q/s':>9} {'random':>8} {'bandwidth':>9} "
              f"{'recall':>7} {'faiss q/s':>9} {'faiss open s':>12} {'MIH/faiss':>9} agrees")
    rows = []
    for n in args.sizes:
        raw, lst, q, planted = make_data(n, args.workdir)
        set_path = args.workdir / f"pdq-{n}.nmset"
        b = timed_build(binary, lst, "plain", set_path, args.budget, None)
        nm = run_nearmatch(driver, set_path, q, args.workdir, args.repeat)
        recall = check(nm, raw, q, planted)
        nq_faiss = max(20, min(N_QUERIES, int(2e9 / n)))
        fs = run_faiss(raw, q, nq_faiss, args.repeat, args.workdir)
        check(fs, raw, q, [p for p in planted if p[0] < nq_faiss])
        agrees = all(nm["hits"].get(i, {}) == fs["hits"].get(i, {}) for i in range(nq_faiss))
        row = {"n": n, "build_s": b["wall"], "build_cpu_s": b["cpu"], "peak_rss": b["rss"],
               "file_over_raw": b["bytes"] / (32 * n), "open_ms": 1e3 * nm["open_s"],
               "params": nm["params"], "mih_qps": nm["qps"],
               "random_bound_qps": nm["random_bound_qps"],
               "bandwidth_bound_qps": nm["bandwidth_bound_qps"],
               "probes_per_query": nm["probes_per_query"],
               "expected_candidates": nm["expected_candidates"], "recall": recall,
               "faiss_qps": fs["qps"], "faiss_queries": nq_faiss, "faiss_open_s": fs["open_s"],
               "agrees": agrees}
        rows.append(row)
        if len(rows) == 1:
            print(header)
        print(f"{n:>11,} {b['wall']:>8.1f} {n / b['wall']:>10,.0f} {b['cpu']:>7.1f} "
              f"{b['rss'] / 2**20:>7.0f}MB {row['file_over_raw']:>8.2f} {row['open_ms']:>8.2f} "
              f"{nm['params'] or nm['engine']:>14} {nm['qps']:>9,.0f} {nm['random_bound_qps']:>8,.0f} "
              f"{nm['bandwidth_bound_qps']:>9,.0f} "
              f"{100 * recall:>6.1f}% {fs['qps']:>9.1f} {fs['open_s']:>12.2f} "
              f"{nm['qps'] / fs['qps']:>8.0f}x {'yes' if agrees else 'NO'}", flush=True)
        del raw
        if not args.keep:
            lst.unlink()
            set_path.unlink()
    (args.workdir / "summary.json").write_text(json.dumps(rows, indent=1))
    print(f"\nfull results: {args.workdir / 'summary.json'}")
    return 0 if all(r["recall"] == 1.0 and r["agrees"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
