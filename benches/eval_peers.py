#!/usr/bin/env python3
"""The `nearmatch eval` corpus through the peers: do `pdqhash` and `imagehash` give the same
hashes, and so the same distances, as nearmatch?

Runs `nearmatch eval --n N --save-images DIR` (a small corpus: every original, its hard
negatives and its 45 transformed copies, PNG or the JPEG itself for JPEG transforms, plus
manifest.csv with nearmatch's hashes), then hashes every file with the peers, decoded by Pillow
(libjpeg-turbo, like nearmatch):

  PDQ      pdqhash.compute on the pixels as in fixtures/make_reference.py (grey as its own luma)
  pHash    imagehash.phash(img) and phash(img, hash_size=16)
  dHash    imagehash.dhash(img);  aHash imagehash.average_hash(img);  wHash imagehash.whash(img)

and compares, per algorithm: hashes equal, and the distance of every copy to its original
(the eval's positive distances) equal; for PDQ with dihedral probes, the minimum over the peer's
8 `compute_dihedral` hashes against the distances stored in results.json. Prints a table; exits 1 on any difference.

Usage: benches/eval_peers.py [--n 20] [--size 320] [--workdir /tmp/nearmatch-eval-peers]
       [--nearmatch target/release/nearmatch]
Requirements: benches/requirements-eval.txt; cargo on PATH unless --nearmatch is given.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import imagehash
import numpy as np
import pdqhash
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
ALGOS = ["pdq", "phash", "phash16", "dhash", "ahash", "whash"]


def pdq_pixels(img: Image.Image) -> np.ndarray:
    """RGB uint8 for pdqhash; grey images give luma = grey value (fixtures/make_reference.py)."""
    if img.mode in ("L", "LA"):
        g = np.asarray(img.getchannel(0), dtype=np.uint8)
        return np.stack([g] * 3, axis=-1)
    return np.asarray(img.convert("RGB"), dtype=np.uint8)


def peer_hashes(path: Path) -> dict[str, str]:
    img = Image.open(path)
    img.load()
    px = pdq_pixels(img)
    v, q = pdqhash.compute(px)
    dv, _ = pdqhash.compute_dihedral(px)
    return {
        "pdq_dihedral": [np.packbits(np.asarray(x, dtype=np.uint8)).tobytes().hex() for x in dv],
        "pdq": np.packbits(np.asarray(v, dtype=np.uint8)).tobytes().hex(),
        "pdq_quality": str(q),
        "phash": str(imagehash.phash(img)),
        "phash16": str(imagehash.phash(img, hash_size=16)),
        "dhash": str(imagehash.dhash(img)),
        "ahash": str(imagehash.average_hash(img)),
        "whash": str(imagehash.whash(img)),
    }


def dist(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/nearmatch-eval-peers"))
    ap.add_argument("--nearmatch", type=Path, help="the nearmatch binary (default: build release)")
    args = ap.parse_args()

    exe = args.nearmatch
    if exe is None:
        subprocess.run(["cargo", "build", "--release", "--bin", "nearmatch"], cwd=ROOT, check=True)
        exe = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "nearmatch"
    if args.workdir.exists():
        shutil.rmtree(args.workdir)
    images = args.workdir / "images"
    subprocess.run(
        [str(exe), "eval", "--n", str(args.n), "--size", str(args.size), "--seed", str(args.seed),
         "-q", "--save-images", str(images), "-o", str(args.workdir / "out")],
        check=True, stdout=subprocess.DEVNULL,
    )
    with open(images / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))

    ours: dict[str, dict[str, str]] = {}
    theirs: dict[str, dict[str, str]] = {}
    originals: dict[str, str] = {}
    for r in rows:
        ours[r["file"]] = r
        theirs[r["file"]] = peer_hashes(images / r["file"])
        if r["kind"] == "original":
            originals[r["original"]] = r["file"]

    hash_equal = defaultdict(int)
    dist_equal = defaultdict(int)
    copies = defaultdict(int)
    max_dist_diff = defaultdict(int)
    quality_equal = 0
    mismatches = []
    for name, r in ours.items():
        p = theirs[name]
        quality_equal += r["pdq_quality"] == p["pdq_quality"]
        ref = originals[r["original"]]
        for a in ALGOS:
            if r[a] == p[a]:
                hash_equal[a] += 1
            elif len(mismatches) < 10:
                mismatches.append(f"{name} {a}: nearmatch {r[a]} peer {p[a]}")
            if name != ref:
                copies[a] += 1
                d_ours = dist(r[a], ours[ref][a])
                d_peer = dist(p[a], theirs[ref][a])
                dist_equal[a] += d_ours == d_peer
                max_dist_diff[a] = max(max_dist_diff[a], abs(d_ours - d_peer))

    # PDQ with dihedral probes: the peer's 8 dihedral hashes of each copy, minimum distance to
    # the original's plain hash, against the eval's stored positive distances.
    import json
    res = json.load(open(args.workdir / "out" / "results.json"))
    tids = [t["id"] for t in res["transforms"]]
    stored = next(d for d in res["distances"] if d["variant"] == "pdq-dihedral")["positive"]
    dih_equal = dih_total = 0
    for name, r in ours.items():
        if r["kind"] not in tids:
            continue
        ref = theirs[originals[r["original"]]]["pdq"]
        peer = min(dist(h, ref) for h in theirs[name]["pdq_dihedral"])
        dih_total += 1
        dih_equal += peer == stored[tids.index(r["kind"])][int(r["original"])]

    n_files = len(rows)
    print(f"corpus: {args.n} originals, size {args.size}, seed {args.seed}: {n_files} files "
          f"(originals, hard negatives, transformed copies; JPEG transforms as .jpg)")
    print("peers: pdqhash %s, imagehash %s, Pillow %s, numpy %s" % (
        getattr(pdqhash, "__version__", "0.2.8"), imagehash.__version__,
        Image.__version__, np.__version__))
    print()
    print("| algorithm | hashes equal | copy-to-original distances equal | max |distance difference| |")
    print("|---|---:|---:|---:|")
    ok = True
    for a in ALGOS:
        ok &= hash_equal[a] == n_files and dist_equal[a] == copies[a]
        print(f"| {a} | {hash_equal[a]}/{n_files} | {dist_equal[a]}/{copies[a]} | {max_dist_diff[a]} |")
    print(f"| pdq quality | {quality_equal}/{n_files} | | |")
    print(f"| pdq + dihedral probes | | {dih_equal}/{dih_total} | |")
    ok &= quality_equal == n_files and dih_equal == dih_total
    for m in mismatches:
        print("mismatch:", m, file=sys.stderr)
    print("\nall equal" if ok else "\nDIFFERENCES (see stderr)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
