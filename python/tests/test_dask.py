"""nearmatch.dask: hashing + search partitioned over a 2-worker LocalCluster equals a local run,
and both equal a brute force over the single-image API."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import IMAGES, noise, shapes

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")
import nearmatch.dask as nmd  # noqa: E402  (needs pandas, which dask brings)

POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    """23 files: images, rotated/flipped copies of known ones, a text file and a missing path;
    and a PDQ set of 6 known images (ids k0..k5) among 300 random entries."""
    d = tmp_path_factory.mktemp("dask")
    arrays = [a for _, a in IMAGES] + [shapes(120, 160, 30 + i) for i in range(4)] + \
             [noise(90, 70, 40 + i) for i in range(3)]
    known = arrays[:6]
    arrays += [np.rot90(known[2]), np.fliplr(known[5]), np.ascontiguousarray(known[4][::-1])]
    paths = []
    for i, a in enumerate(arrays):
        p = d / f"f{i:02}.png"
        Image.fromarray(np.ascontiguousarray(a)).save(p)
        paths.append(str(p))
    (d / "notes.txt").write_text("not an image")
    paths += [str(d / "notes.txt"), str(d / "missing.jpg")]
    rng = np.random.default_rng(5)
    rows = np.concatenate([np.array([list(bytes(nearmatch.pdq(a))) for a in known], np.uint8),
                           rng.integers(0, 256, (300, 32), dtype=np.uint8)])
    meta = [{"id": f"k{i}" if i < 6 else f"r{i}", "labels": {"caid": str(i % 3)}, "note": f"n{i}"}
            for i in range(len(rows))]
    s = nearmatch.HashSet.build(d / "known.nmset", rows, metadata=meta)
    return paths, s


def brute_force(paths, s, radius=31):
    """Expected (file_index, entry_index, distance) triples, each file's closest probe among its
    8 orientations (re-oriented pixels, as scans compute them)."""
    stored = s.hashes()
    out = set()
    for i, p in enumerate(paths):
        try:
            h = nearmatch.pdq(p, probes="dihedral")
        except (nearmatch.DecodeError, FileNotFoundError):
            continue
        probes = np.array([list(bytes(x)) for x in [h, *h.probes().values()]], np.uint8)
        best = POP[probes[:, None, :] ^ stored[None, :, :]].sum(axis=2).min(axis=0)
        out |= {(i, int(e), int(best[e])) for e in np.nonzero(best <= radius)[0]}
    return out


def test_local_cluster_equals_local_run_and_brute_force(evidence):
    paths, s = evidence
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        ddf = nmd.match_files(paths, s.path, algos=("md5",), dihedral=True, files_per_partition=4)
        assert ddf.npartitions == 6 and ddf.known_divisions
        got = ddf.compute()
        # Both workers did some of the partitions.
        workers = client.run(lambda: len(nmd._OPEN_SETS))
        assert len(workers) == 2 and all(n >= 1 for n in workers.values()), workers
    local = nmd.match_partition(paths, s.path, ("md5",), dihedral=True)
    import pandas as pd

    pd.testing.assert_frame_equal(got, local)

    # Every file appears; matches as the brute force finds them.
    assert sorted(set(got.index)) == list(range(len(paths)))
    hits = got[got.entry_index.notna()]
    triples = set(zip(hits.index, hits.entry_index.astype(int), hits.distance.astype(int)))
    assert triples == brute_force(paths, s)
    by_id = {(f, i): o for f, i, o in zip(hits.index, hits.id, hits.orientation)}
    n = len(IMAGES) + 7
    assert by_id[(n, "k2")] == "rot270" and by_id[(n + 1, "k5")] == "flipy"
    assert all(by_id[(k, f"k{k}")] == "orig" for k in range(6))
    first = hits[hits.id == "k0"].iloc[0]
    assert json.loads(first.labels) == [["caid", "0"]] and first.note == "n0"
    # Per-file columns: hashes as the single-image API gives them, errors as values.
    per_file = got[~got.index.duplicated()]
    for i, p in enumerate(paths[:-2]):
        assert per_file.loc[i, "pdq"] == str(nearmatch.pdq(p))
        assert per_file.loc[i, "md5"] == hashlib.md5(open(p, "rb").read()).hexdigest()
        assert pd.isna(per_file.loc[i, "error"])
        assert per_file.loc[i, "disposition"] in ("matched", "unmatched")
    assert per_file.loc[len(paths) - 2, "disposition"] == "not-image"
    assert pd.isna(per_file.loc[len(paths) - 2, "pdq"]) and pd.isna(per_file.loc[len(paths) - 2, "pdq_quality"])
    assert per_file.loc[len(paths) - 1, "disposition"] == "error:walk"
    assert "No such file" in per_file.loc[len(paths) - 1, "error"]


def test_match_partition_crypto_set_and_errors(evidence, tmp_path):
    paths, s = evidence
    digests = [hashlib.md5(open(p, "rb").read()).hexdigest() for p in paths[3:6]]
    m = nearmatch.HashSet.build(tmp_path / "m.nmset", digests, algo="md5")
    df = nmd.match_partition(paths, m.path, start=100)
    assert list(df.columns[:4]) == ["path", "md5", "error", "disposition"]
    hits = df[df.entry_index.notna()]
    assert sorted(hits.index) == [103, 104, 105] and set(hits.distance) == {0}
    assert sorted(hits.id) == ["0", "1", "2"]
    assert len(df) == len(paths)
    with pytest.raises(ValueError, match="PDQ set"):
        nmd.match_files(paths, m.path, dihedral=True)
    with pytest.raises(FileNotFoundError):
        nmd.match_files(paths, tmp_path / "nope.nmset")
    empty = nmd.match_files([], s.path).compute()
    assert len(empty) == 0 and "entry_index" in empty.columns


def test_ignore_sets_reach_the_workers(evidence, tmp_path):
    """Files an ignore set holds are known-good on the cluster as in a local scan: not decoded,
    so not matched against the perceptual set even when they are known images (f03-f05)."""
    paths, s = evidence
    sha1 = [hashlib.sha1(open(p, "rb").read()).hexdigest() for p in paths[3:8]]
    ignore = nearmatch.HashSet.build(tmp_path / "good.nmset", sha1, algo="sha1")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        got = nmd.match_files(paths, s.path, ignore_sets=[ignore.path],
                              files_per_partition=5).compute()
    per_file = got[~got.index.duplicated()]
    local = nearmatch.scan(paths, [s.path], ignore_sets=[ignore.path], missing_ok=True)
    want = {r["path"]: r["disposition"] for r in local if r.get("parent") is None}
    assert dict(zip(per_file.path, per_file.disposition)) == want
    assert [want[p] for p in paths[3:8]] == ["known-good"] * 5
    assert "matched" in want.values()
    with pytest.raises(ValueError, match="ignore set"):
        nmd.match_files(paths, s.path, ignore_sets=[s.path])


def test_dask_run_and_cli_scan_of_the_demo_evidence_give_the_same_matches(tmp_path):
    """The demo evidence through nearmatch.dask (2 workers) and through the CLI binary: the same
    files match the same entries at the same distances with the same probes."""
    import os
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cli = shutil.which("nearmatch") or str(root / "target" / "debug" / "nearmatch")
    if not os.path.exists(cli):
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    demo = root / "fixtures" / "demo"
    pdq_set = tmp_path / "known-pdq.nmset"
    subprocess.run([cli, "set", "build", "-o", str(pdq_set), "--algo", "pdq",
                    str(demo / "known-pdq.csv")], check=True, capture_output=True)
    report = tmp_path / "r.jsonl"
    r = subprocess.run([cli, "scan", str(demo / "evidence"), "--set", str(pdq_set),
                        "-o", str(report), "--quiet"], capture_output=True)
    assert r.returncode in (1, 3), r.stderr
    cli_recs = [json.loads(line) for line in report.read_text().splitlines()]
    cli_recs = [x for x in cli_recs if x["record"] == "file"]
    # Links are recorded but never followed; archive members come with their archive.
    walked = [x for x in cli_recs if x["kind"] == "file" and "parent" not in x]
    want = {(x["path"], m["entry"], m["distance"], m["probe"])
            for x in cli_recs for m in x["matches"]}
    assert len(want) >= 10 and any("!/" in w[0] for w in want)
    paths = [x["path"] for x in walked]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        got = nmd.match_files(paths, pdq_set, probes="default", files_per_partition=50).compute()
    hits = got[got.entry_index.notna()]
    assert {(p, i, int(d), pr) for p, i, d, pr in
            zip(hits.path, hits.id, hits.distance, hits.probe)} == want
    per_file = got[~got.index.duplicated()]
    assert list(per_file.disposition) == [x["disposition"] for x in walked]


# --------------------------------------------------------------------------------------------
# Sharded sets (issue #25, item 6)
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster_client():
    """One 2-worker LocalCluster (processes, as above) for the sharded-set tests."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _flip(row, n, rng):
    """``row`` (32 uint8) with ``n`` distinct bits flipped."""
    out = row.copy()
    for b in rng.choice(256, size=n, replace=False):
        out[b // 8] ^= np.uint8(0x80 >> (b % 8))
    return out


@pytest.fixture(scope="module")
def pdq_sharded(tmp_path_factory):
    """A PDQ set of 3,000 random digests plus near copies (distance 1..20) of 200 of them, with
    metadata, cut into 4 shards; and queries: near copies at distances 0..31 of 96 entries and
    48 random ones."""
    d = tmp_path_factory.mktemp("pdqshards")
    rng = np.random.default_rng(2506)
    rows = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    rows = np.concatenate([rows, np.array([_flip(rows[i], 1 + i % 20, rng) for i in range(200)])])
    meta = [{"id": f"e{i}", "labels": {"caid": str(i % 3)}, "note": f"n{i}"}
            for i in range(len(rows))]
    s = nearmatch.HashSet.build(d / "known.nmset", rows, metadata=meta)
    manifest = s.shard(d / "shards", 4)
    stored = s.hashes()
    picks = rng.choice(len(stored), size=96, replace=False)
    queries = np.concatenate([
        np.array([_flip(stored[e], k % 32, rng) for k, e in enumerate(picks)]),
        rng.integers(0, 256, (48, 32), dtype=np.uint8)])
    return s, d / "shards" / "shards.json", manifest, queries


def brute_force_rows(queries, stored, radius):
    """Every (query, entry, distance) within ``radius``, by numpy popcount."""
    dist = POP[queries[:, None, :] ^ stored[None, :, :]].sum(axis=2)
    q, e = np.nonzero(dist <= radius)
    return {(int(a), int(b), int(dist[a, b])) for a, b in zip(q, e)}


def test_shard_manifest_and_shards_partition_the_set(pdq_sharded):
    s, mpath, manifest, _ = pdq_sharded
    assert manifest == nearmatch.read_shard_manifest(mpath)
    assert (manifest["algorithm"], manifest["shards"], manifest["prefix_bits"]) == ("pdq", 4, 2)
    assert manifest["source"]["entries"] == len(s) == sum(f["entries"] for f in manifest["files"])
    stored = s.hashes()
    for f in manifest["files"]:
        sh = nearmatch.HashSet.open_shard(mpath, f["index"])
        assert len(sh) == f["entries"] > 500
        h = sh.hashes()
        assert set(h[:, 0] >> 6) == {f["index"]}
        first = f["first_entry"]
        assert (h == stored[first:first + len(sh)]).all()
        assert sh.entry(5) == s.entry(first + 5)
        assert sh.provenance()["shard"]["first_entry"] == first


def test_sharded_pdq_search_equals_single_set_and_brute_force(pdq_sharded, cluster_client):
    s, mpath, manifest, queries = pdq_sharded
    got = nmd.match_sharded(mpath, queries, client=cluster_client, batch_size=50)
    single = s.search(queries).to_pandas()
    import pandas as pd

    pd.testing.assert_frame_equal(got, single)
    triples = set(zip(got.query_index, got.entry_index, got.distance))
    assert triples == brute_force_rows(queries, s.hashes(), 31)
    assert {int(q) for q, _, _ in triples} >= set(range(96)), "every planted copy is found"
    assert sorted({d for _, _, d in triples}) == list(range(32))
    # A tighter radius through the same path.
    got5 = nmd.match_sharded(mpath, queries, 5, client=cluster_client)
    pd.testing.assert_frame_equal(got5, s.search(queries, 5).to_pandas())
    # One shard per worker: each shard was opened (checked, mapped) on exactly one worker.
    opened = cluster_client.run(lambda: sorted(
        os.path.basename(k[0]) for k in nmd._OPEN_SHARDS if str(mpath.parent) in k[0]))
    names = sorted(n for per in opened.values() for n in per)
    assert names == sorted(f["file"] for f in manifest["files"]), opened
    assert all(len(per) == 2 for per in opened.values()), opened
    # No queries: the same (empty) frame as a single-set search.
    empty = nmd.match_sharded(mpath, queries[:0], client=cluster_client)
    pd.testing.assert_frame_equal(empty, s.search(queries[:0]).to_pandas())


def test_sharded_search_of_image_hashes_with_dihedral(evidence, tmp_path, cluster_client):
    """File level: the evidence images hashed (dihedral), searched against the known-image set
    cut into 4 shards, equal the unsharded set's search; the rotated/flipped copies match."""
    paths, s = evidence
    res = nearmatch.hash_files(paths, algos=("pdq",), dihedral=True)
    hashes = [h for h in res.hashes("pdq") if h is not None]
    assert len(hashes) >= 15
    s.shard(tmp_path / "sh", 4)
    got = nmd.match_sharded(tmp_path / "sh" / "shards.json", hashes, dihedral=True,
                            client=cluster_client)
    import pandas as pd

    pd.testing.assert_frame_equal(got, s.search(hashes, dihedral=True).to_pandas())
    assert {"k0", "k1", "k2", "k3", "k4", "k5"} <= set(got.id)
    assert {"rot270", "flipy"} <= set(got.orientation)


def test_sharded_exact_set_routes_each_query_to_its_prefix_shard(tmp_path, cluster_client):
    rng = np.random.default_rng(7)
    digests = [bytes(r).hex() for r in rng.integers(0, 256, (600, 32), dtype=np.uint8)]
    meta = [{"id": f"s{i}", "labels": [("kind", "x")]} for i in range(600)]
    s = nearmatch.HashSet.build(tmp_path / "sha.nmset", digests, metadata=meta, algo="sha256")
    m = s.shard(tmp_path / "sh", 4)
    # Present digests of the first two prefixes only (00..., 01...), absent ones anywhere.
    present = [h for h in digests if int(h[0], 16) < 8][:120]
    absent = [bytes(r).hex() for r in rng.integers(0, 256, (40, 32), dtype=np.uint8)]
    absent = [h for h in absent if int(h[0], 16) < 8]
    queries = present[:60] + absent + present[60:]
    got = nmd.match_sharded(tmp_path / "sh" / "shards.json", queries, client=cluster_client)
    import pandas as pd

    want = s.lookup(queries).to_pandas()
    pd.testing.assert_frame_equal(got, want)
    pd.testing.assert_frame_equal(want, s.search(queries).to_pandas())
    assert len(got) == 120 and set(got.distance) == {0}
    # Shards 2 and 3 hold none of the queries' prefixes: never asked, never opened.
    opened = cluster_client.run(lambda: sorted(
        os.path.basename(k[0]) for k in nmd._OPEN_SHARDS if str(tmp_path) in k[0]))
    assert sorted(n for per in opened.values() for n in per) == \
        [m["files"][0]["file"], m["files"][1]["file"]], opened
    with pytest.raises(ValueError, match="matched exactly"):
        nmd.match_sharded(tmp_path / "sh" / "shards.json", queries, 3, client=cluster_client)


def test_tampered_shard_is_a_clear_error(evidence, tmp_path, cluster_client):
    _, s = evidence
    m = s.shard(tmp_path / "sh", 2)
    mpath = tmp_path / "sh" / "shards.json"
    shard1 = tmp_path / "sh" / m["files"][1]["file"]
    data = bytearray(shard1.read_bytes())
    data[-1] ^= 1  # the last section's last byte: the header still checks out
    shard1.write_bytes(bytes(data))
    nearmatch.HashSet.open_shard(mpath, 1, verify="header")
    with pytest.raises(ValueError, match=f"{shard1.name}.*SHA-256"):
        nearmatch.HashSet.open_shard(mpath, 1)
    q = s.hashes()[:3]
    with pytest.raises(ValueError, match=f"{shard1.name}.*shards.json.*SHA-256"):
        nmd.match_sharded(mpath, q, client=cluster_client)
    with pytest.raises(ValueError, match="power of two"):
        s.shard(tmp_path / "bad", 3)


def test_delta_layer_is_refused_by_set_shard(evidence, tmp_path):
    """A delta layer cannot be sharded (its shards would miss the base): the CLI says to run
    `set compact` first, and so does Python's HashSet.shard (the stack opens and searches)."""
    import shutil
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cli = shutil.which("nearmatch") or str(root / "target" / "debug" / "nearmatch")
    if not os.path.exists(cli):
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    _, s = evidence
    base = tmp_path / "known.nmset"
    shutil.copy(s.path, base)
    add = tmp_path / "add.txt"
    add.write_text("ab" * 32 + "\n")
    subprocess.run([cli, "set", "delta", "--base", str(base), "--add", str(add), "-o",
                    str(tmp_path / "known-v2.nmset")], check=True, capture_output=True)
    r = subprocess.run([cli, "set", "shard", "--shards", "2", "--out", str(tmp_path / "sh"),
                        str(tmp_path / "known-v2.nmset")], capture_output=True, text=True)
    assert r.returncode == 65 and "set compact" in r.stderr, r.stderr
    stack = nearmatch.HashSet.open(tmp_path / "known-v2.nmset")
    with pytest.raises(ValueError, match="known-v2.nmset is a delta layer on known.nmset.*set compact"):
        stack.shard(tmp_path / "sh-py", 2)


# --------------------------------------------------------------------------------------------
# match_files over a sharded set: the unsharded run is the reference
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def evidence_plus(evidence, tmp_path_factory):
    """The evidence files plus a damaged PNG (truncated), a ZIP holding a rotated known image
    and a text file, and an empty ZIP: every disposition a file-level run can give; and the
    evidence's PDQ set plus two more known images (k6, k7), whose hashes start with a 1 bit, so
    that matches fall in more than one shard."""
    import zipfile

    paths, s0 = evidence
    d = tmp_path_factory.mktemp("dask-more")
    whole = open(paths[0], "rb").read()
    (d / "damaged.png").write_bytes(whole[:len(whole) // 2])
    with zipfile.ZipFile(d / "inside.zip", "w") as z:
        z.write(paths[len(IMAGES) + 7], "dir/rotated.png")  # rot90 of known image k2
        z.writestr("readme.txt", "not an image")
    zipfile.ZipFile(d / "empty.zip", "w").close()
    extra = [str(d / "damaged.png"), str(d / "inside.zip"), str(d / "empty.zip")]
    rows = np.concatenate([s0.hashes(), np.array([list(bytes(nearmatch.pdq(p)))
                                                  for p in paths[6:8]], np.uint8)])
    meta = [{k: s0.entry(i)[k] for k in ("id", "labels", "note")} for i in range(len(s0))] + [
        {"id": f"k{6 + i}", "labels": {"caid": "1"}, "note": ""} for i in range(2)]
    s = nearmatch.HashSet.build(d / "known.nmset", rows, metadata=meta)
    return paths[:-2] + extra + paths[-2:], s


def _sharded(s, out, k):
    s.shard(out, k)
    return out / "shards.json"


@pytest.mark.parametrize("shards", [2, 4])
def test_match_files_over_shards_equals_the_unsharded_set(evidence_plus, tmp_path, shards,
                                                          cluster_client):
    """A PDQ set cut into K shards, given to match_files as its manifest: the same frame as the
    unsharded set (columns, dtypes, rows, order, entry numbers, dispositions, metadata), plain,
    with dihedral and with probes."""
    import pandas as pd

    paths, s = evidence_plus
    manifest = _sharded(s, tmp_path / "sh", shards)
    runs = [dict(), dict(algos=("md5",), dihedral=True), dict(probes="default"),
            dict(probes="default", dihedral=True, max_distance=20, probe_max_distance=12)]
    for kw in runs:
        single = nmd.match_files(paths, s.path, files_per_partition=5, **kw)
        want = single.compute()
        ddf = nmd.match_files(paths, manifest, files_per_partition=5, **kw)
        assert ddf.npartitions == single.npartitions == -(-len(paths) // 5)
        assert ddf.divisions == single.divisions
        got = ddf.compute()
        pd.testing.assert_frame_equal(got, want, obj=f"sharded run {kw}")
        assert len(got[got.entry_index.notna()]) >= 6, kw
    # What the runs covered: every kind of file, and a container member matching.
    per_file = want[~want.index.duplicated()]
    assert {"matched", "unmatched", "not-image", "container", "error:decode", "error:walk"} <= \
        set(per_file.disposition)
    assert any(p.endswith("inside.zip!/dir/rotated.png") for p in want.path)
    assert {"rot270", "flipy"} <= set(want.orientation.dropna())
    # The whole set's entry numbers, not a shard's: each names its entry in the unsharded set.
    hits = got[got.entry_index.notna()]
    assert all(s.entry(int(e))["id"] == i for e, i in zip(hits.entry_index, hits.id))
    assert {f"k{k}" for k in range(8)} <= set(hits.id)
    firsts = [f["first_entry"] for f in nearmatch.read_shard_manifest(manifest)["files"]]
    in_shard = set(np.searchsorted(firsts, hits.entry_index.astype(int), side="right") - 1)
    assert len(in_shard) >= 2 and max(in_shard) == shards - 1, in_shard


def _count_hashing(client):
    """Wraps nearmatch.scan and nearmatch.hash_files on every worker to count, per path, how
    often each hashed it."""
    def install():
        from collections import Counter

        import nearmatch as nm

        nm._counted = (nm.scan, nm.hash_files)
        nm._counts = {"scan": Counter(), "hash_files": Counter()}

        def scan(evidence, *a, **k):
            nm._counts["scan"].update(str(p) for p in evidence)
            return nm._counted[0](evidence, *a, **k)

        def hash_files(paths, *a, **k):
            paths = list(paths)
            nm._counts["hash_files"].update(str(p) for p in paths)
            return nm._counted[1](paths, *a, **k)

        nm.scan, nm.hash_files = scan, hash_files

    client.run(install)


def _hashing_counts(client):
    """The per-path counts summed over the workers, and the original functions restored."""
    from collections import Counter

    def collect():
        import nearmatch as nm

        nm.scan, nm.hash_files = nm._counted
        return nm._counts

    totals = {"scan": Counter(), "hash_files": Counter()}
    for counts in client.run(collect).values():
        for k in totals:
            totals[k].update(counts[k])
    return totals


def test_match_files_over_shards_hashes_each_file_once(evidence_plus, tmp_path, cluster_client):
    """With 4 shards on 2 workers every file is scanned exactly once (not once per shard); with
    probes the decoded images are hashed once more for their probe hashes, and only they."""
    paths, s = evidence_plus
    manifest = _sharded(s, tmp_path / "sh", 4)
    _count_hashing(cluster_client)
    try:
        got = nmd.match_files(paths, manifest, algos=("md5",), files_per_partition=4).compute()
    finally:
        counts = _hashing_counts(cluster_client)
    assert got.entry_index.notna().sum() >= 6
    assert counts["scan"] == {p: 1 for p in paths}, counts
    assert not counts["hash_files"], counts

    _count_hashing(cluster_client)
    try:
        got = nmd.match_files(paths, manifest, probes="default", dihedral=True,
                              files_per_partition=4).compute()
    finally:
        counts = _hashing_counts(cluster_client)
    assert counts["scan"] == {p: 1 for p in paths}, counts
    per_file = got[~got.index.duplicated()]
    with_images = set(per_file.path[per_file.pdq.notna()])
    with_images.add(next(p for p in paths if p.endswith("inside.zip")))  # holds an image
    assert len(with_images) >= 17
    assert counts["hash_files"] == {p: 1 for p in with_images}, counts


def test_match_files_over_crypto_shards_equals_the_unsharded_set(evidence_plus, tmp_path,
                                                                 cluster_client):
    """An MD5 set (digests of some evidence files, of the ZIP's text member, and random ones)
    in 4 shards: the same frame as the unsharded set, with extra columns and with an ignore
    set; the refused combination says why."""
    import pandas as pd

    paths, _ = evidence_plus
    rng = np.random.default_rng(11)
    digests = [hashlib.md5(open(p, "rb").read()).hexdigest() for p in paths[2:9]]
    inside = next(p for p in paths if p.endswith("inside.zip"))
    digests += [hashlib.md5(b"not an image").hexdigest(),  # the ZIP's text member
                hashlib.md5(open(inside, "rb").read()).hexdigest()]
    digests += [bytes(r).hex() for r in rng.integers(0, 256, (400, 16), dtype=np.uint8)]
    meta = [{"id": f"m{i}", "labels": [("kind", str(i % 2))], "note": "" if i % 2 else f"n{i}"}
            for i in range(len(digests))]
    m = nearmatch.HashSet.build(tmp_path / "m.nmset", digests, metadata=meta, algo="md5")
    manifest = _sharded(m, tmp_path / "sh", 4)
    good = nearmatch.HashSet.build(
        tmp_path / "good.nmset", [hashlib.sha1(open(p, "rb").read()).hexdigest()
                                  for p in paths[6:12]], algo="sha1")
    for kw in (dict(), dict(algos=("pdq", "sha1")), dict(ignore_sets=[good.path])):
        want = nmd.match_files(paths, m.path, files_per_partition=4, **kw).compute()
        got = nmd.match_files(paths, manifest, files_per_partition=4, **kw).compute()
        pd.testing.assert_frame_equal(got, want, obj=f"sharded run {kw}")
        hits = got[got.entry_index.notna()]
        assert len(hits) == 10 and set(hits.distance) == {0}, kw
    assert "known-good" in set(got.disposition)
    assert any(p.endswith("inside.zip!/readme.txt") for p in hits.path)
    with pytest.raises(ValueError, match=r"ignore_sets.*\['pdq'\].*sharded md5 set"):
        nmd.match_files(paths, manifest, algos=("pdq",), ignore_sets=[good.path])
    with pytest.raises(ValueError, match="dihedral=True needs a PDQ set.*shards.json"):
        nmd.match_files(paths, manifest, dihedral=True)


def test_match_files_over_a_tampered_shard_is_a_clear_error(evidence, tmp_path, cluster_client):
    import pandas as pd

    paths, s = evidence
    m = s.shard(tmp_path / "sh", 2)
    manifest = tmp_path / "sh" / "shards.json"
    # No files: the same empty frame as the unsharded set.
    pd.testing.assert_frame_equal(nmd.match_files([], manifest).compute(),
                                  nmd.match_files([], s.path).compute())
    shard1 = tmp_path / "sh" / m["files"][1]["file"]
    data = bytearray(shard1.read_bytes())
    data[-1] ^= 1  # the header still checks out; the SHA-256 does not
    shard1.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{shard1.name}.*shards.json.*SHA-256"):
        nmd.match_files(paths, manifest, files_per_partition=8).compute()
    # Not a manifest at all: named, not taken for a set.
    bad = tmp_path / "bad.json"
    bad.write_text('{"shards": 2}')
    with pytest.raises(ValueError, match="bad.json.*not a manifest"):
        nmd.match_files(paths, bad)
