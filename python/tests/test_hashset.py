"""HashSet build/open/search/knn against a brute-force numpy popcount reference."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import nearmatch
from conftest import IMAGES

POP = np.array([bin(i).count("1") for i in range(256)], dtype=np.int32)


def brute_distances(queries: np.ndarray, entries: np.ndarray) -> np.ndarray:
    """(Q, E) Hamming distances between uint8 rows, by table popcount of the XOR."""
    return POP[queries[:, None, :] ^ entries[None, :, :]].sum(axis=2)


def clustered(rng, n: int, nbytes: int, centres: int = 20, flips: int = 24) -> np.ndarray:
    """Digests near a few centres (so radius searches hit), as uint8 rows."""
    base = rng.integers(0, 256, (centres, nbytes), dtype=np.uint8)
    bits = np.unpackbits(base[rng.integers(0, centres, n)], axis=1)
    for row in bits:
        row[rng.integers(0, nbytes * 8, rng.integers(0, flips))] ^= 1
    return np.packbits(bits, axis=1)


@pytest.fixture(scope="module")
def pdq_set(tmp_path_factory):
    rng = np.random.default_rng(42)
    rows = clustered(rng, 3000, 32)
    meta = [{"id": f"e{i}", "labels": {"caid": str(i % 3)}, "note": f"n{i}"} for i in range(len(rows))]
    path = tmp_path_factory.mktemp("sets") / "known.nmset"
    s = nearmatch.HashSet.build(path, rows, metadata=meta, algo="pdq")
    return s, rows, rng


def test_build_and_open(pdq_set):
    s, rows, _ = pdq_set
    assert len(s) == len(rows)
    assert (s.algorithm, s.bits) == ("pdq", 256)
    again = nearmatch.HashSet.open(s.path)
    assert len(again) == len(s)
    # Entries are sorted by hash; ids trace them back to the input rows.
    stored = again.hashes()
    ids = [int(again.entry(i)["id"][1:]) for i in range(len(again))]
    assert np.array_equal(stored, rows[ids])
    e = again.entry(0)
    assert e["labels"] == [("caid", str(ids[0] % 3))] and e["note"] == f"n{ids[0]}"
    assert again.provenance()["entries"] == len(rows)
    assert nearmatch.HashSet.open(s.path, mmap=False).hashes().tobytes() == stored.tobytes()


@pytest.mark.parametrize("engine", ["auto", "scan", "mih"])
@pytest.mark.parametrize("radius", [0, 10, 31, 70])
def test_search_equals_brute_force(pdq_set, radius, engine):
    s, rows, rng = pdq_set
    stored = s.hashes()
    queries = np.concatenate([clustered(rng, 40, 32), rows[:5]])
    q, e, d = s.search(queries, max_distance=radius, engine=engine)
    dist = brute_distances(queries, stored)
    eq, ee = np.nonzero(dist <= radius)
    assert np.array_equal(q, eq) and np.array_equal(e, ee)
    assert np.array_equal(d, dist[eq, ee])


def test_query_forms_agree(pdq_set):
    s, rows, _ = pdq_set
    hexes = [r.tobytes().hex() for r in rows[:7]]
    a = s.search(rows[:7])
    b = s.search(hexes)
    c = s.search([nearmatch.Hash.from_hex(h) for h in hexes])
    for x, y in ((a, b), (a, c)):
        for u, v in zip(x, y):
            assert np.array_equal(u, v)
    single = s.search(hexes[0])
    assert np.all(single.query_index == 0) and len(single) >= 1


def test_knn_equals_brute_force(pdq_set):
    s, _, rng = pdq_set
    stored = s.hashes()
    queries = rng.integers(0, 256, (25, 32), dtype=np.uint8)
    k = 5
    q, e, d = s.knn(queries, k=k)
    dist = brute_distances(queries, stored)
    for i in range(len(queries)):
        order = np.lexsort((np.arange(len(stored)), dist[i]))[:k]
        sel = q == i
        assert np.array_equal(e[sel], order)
        assert np.array_equal(d[sel], dist[i, order])


def test_dihedral_search_finds_rotated_images(tmp_path):
    imgs = [a for _, a in IMAGES if min(a.shape[:2]) >= 40]
    known = [nearmatch.pdq(a) for a in imgs]
    s = nearmatch.HashSet.build(tmp_path / "k.nmset", known,
                                metadata=[{"id": str(i)} for i in range(len(known))])
    query = [nearmatch.pdq(np.rot90(imgs[2])), nearmatch.pdq(np.fliplr(imgs[4]))]
    plain = s.search(query, max_distance=31)
    res = s.search(query, max_distance=31, dihedral=True)
    q, e, d, p = res
    df = res.to_pandas()
    hit = {(r.query_index, r.id): (r.orientation, r.distance) for r in df.itertuples()}
    # Flips and rotations are not bit-exact in PDQ (the decimation grid is not symmetric), but
    # the right probe lands well inside the radius while the unrotated hash is far away.
    assert hit[(0, "2")][0] == "rot270" and hit[(0, "2")][1] <= 31
    assert hit[(1, "4")][0] == "flipy" and hit[(1, "4")][1] <= 31
    plain_pairs = set(zip(plain.query_index.tolist(), plain.entry_index.tolist()))
    entry_of = {s.entry(i)["id"]: i for i in range(len(s))}
    assert (0, entry_of["2"]) not in plain_pairs and (1, entry_of["4"]) not in plain_pairs
    # Brute force over the 8 probes: the reported distance is the minimum over orientations.
    stored = s.hashes()
    for qi, h in enumerate(query):
        probes = np.array([list(bytes(x)) for x in h.dihedral().values()], dtype=np.uint8)
        best = brute_distances(probes, stored).min(axis=0)
        sel = q == qi
        assert np.array_equal(e[sel], np.nonzero(best <= 31)[0])
        assert np.array_equal(d[sel], best[best <= 31])


def test_dihedral_needs_image_hashes(pdq_set):
    s, rows, _ = pdq_set
    with pytest.raises(ValueError, match="computed from images"):
        s.search([rows[0].tobytes().hex()], dihedral=True)
    with pytest.raises(ValueError, match="computed from images"):
        s.search(rows[:2], dihedral=True)


def test_search_input_errors(pdq_set):
    s, _, _ = pdq_set
    with pytest.raises(ValueError, match="bits"):
        s.search(["0" * 16])
    with pytest.raises(ValueError, match="shape"):
        s.search(np.zeros((2, 8), np.uint8))
    with pytest.raises(TypeError):
        s.search([3])


def test_64bit_set_with_metadata_mapping(tmp_path):
    rng = np.random.default_rng(7)
    rows = clustered(rng, 500, 8, flips=6)
    meta = {"id": [f"x{i}" for i in range(500)], "labels": [[("src", "t")]] * 500}
    s = nearmatch.HashSet.build(tmp_path / "p.nmset", rows, meta, algo="phash")
    q, e, d = s.search(rows[:30])  # default radius 8 for 64-bit hashes
    dist = brute_distances(rows[:30], s.hashes())
    eq, ee = np.nonzero(dist <= 8)
    assert np.array_equal(q, eq) and np.array_equal(e, ee)
    df = s.search(rows[:1]).to_pandas()
    assert set(df.columns) >= {"query_index", "entry_index", "distance", "hash", "id", "labels", "note"}
    assert all(lbl == [("src", "t")] for lbl in df["labels"])
    with pytest.raises(ValueError, match="is a pdq hash"):
        nearmatch.HashSet.build(tmp_path / "bad.nmset", [nearmatch.pdq(IMAGES[0][1])], algo="phash")


def test_large_set_uses_index_and_stays_exact(tmp_path):
    # 40k entries: "auto" picks the multi-index stored in the set file.
    rng = np.random.default_rng(3)
    rows = clustered(rng, 40000, 32, centres=200, flips=40)
    s = nearmatch.HashSet.build(tmp_path / "big.nmset", rows)
    queries = clustered(rng, 80, 32, centres=200, flips=40)
    auto = s.search(queries, max_distance=31)
    mih = s.search(queries, max_distance=31, engine="mih")
    scan = s.search(queries, max_distance=31, engine="scan")
    for a, b, c in zip(auto, mih, scan):
        assert np.array_equal(a, c) and np.array_equal(b, c)
    # Spot-check against brute force for a few queries (the full table would be 80 x 40k).
    dist = brute_distances(queries[:4], s.hashes())
    eq, ee = np.nonzero(dist <= 31)
    sel = auto.query_index < 4
    assert np.array_equal(auto.query_index[sel], eq) and np.array_equal(auto.entry_index[sel], ee)


def test_crypto_set_exact(tmp_path):
    import hashlib

    digests = [hashlib.md5(bytes([i])).hexdigest() for i in range(50)]
    s = nearmatch.HashSet.build(tmp_path / "m.nmset", digests, algo="md5")
    assert (s.algorithm, s.bits) == ("md5", 128)
    q, e, d = s.search(np.frombuffer(bytes.fromhex(digests[7]), np.uint8).reshape(1, 16))
    assert len(q) == 1 and s.entry(int(e[0]))["id"] == "7"


def test_small_memory_budget_builds_the_same_set(tmp_path):
    """A budget that forces the sort onto disk (and the index into mapped files) gives the same
    entries and the same search results as the default budget."""
    rng = np.random.default_rng(7)
    rows = clustered(rng, 4000, 32)
    rows = np.concatenate([rows, rows[:1500]])  # duplicates, many of them in later runs
    small = nearmatch.HashSet.build(tmp_path / "small.nmset", rows, algo="pdq", memory_budget=50_000)
    big = nearmatch.HashSet.build(tmp_path / "big.nmset", rows, algo="pdq")
    assert len(small) == len(big) == 5500  # ids (positions) differ, so no record repeats
    assert np.array_equal(small.hashes(), big.hashes())
    assert [small.entry(i) for i in range(0, 5500, 97)] == [big.entry(i) for i in range(0, 5500, 97)]
    q = rows[:50]
    for x, y in zip(small.search(q, max_distance=31), big.search(q, max_distance=31)):
        assert np.array_equal(x, y)
    # And both equal brute force over the stored hashes.
    qq, ee, dd = small.search(q, max_distance=31)
    dist = brute_distances(q, small.hashes())
    eq, ex = np.nonzero(dist <= 31)
    assert np.array_equal(qq, eq) and np.array_equal(ee, ex) and np.array_equal(dd, dist[eq, ex])
    with pytest.raises(ValueError, match="memory_budget"):
        nearmatch.HashSet.build(tmp_path / "x.nmset", rows, algo="pdq", memory_budget=0)


def test_out_of_memory_is_a_memory_error_not_an_abort(tmp_path):
    """With the address space capped, a build whose budget exceeds it raises MemoryError and the
    interpreter lives on (before, a failed allocation aborted the whole process)."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import resource, numpy as np, nearmatch
        rows = np.random.default_rng(1).integers(0, 256, (6_000_000, 32), dtype=np.uint8)
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + 400 * 2**20, resource.RLIM_INFINITY))
        try:
            nearmatch.HashSet.build({str(tmp_path / "oom.nmset")!r}, rows, algo="pdq",
                                    memory_budget=64 * 2**30)
            print("built")
        except MemoryError as e:
            print("MemoryError:", e)
        print("alive")
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "MemoryError: out of memory" in r.stdout and "alive" in r.stdout, r.stdout + r.stderr[-2000:]


def test_a_delta_layer_is_refused_naming_its_parent(tmp_path):
    """A delta alone would miss its base: opening it is a clear error, never a partial search."""
    root = Path(__file__).resolve().parents[2]
    cli = shutil.which("nearmatch") or str(root / "target" / "debug" / "nearmatch")
    if not os.path.exists(cli):
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    rows = clustered(np.random.default_rng(7), 12, 32)
    nearmatch.HashSet.build(tmp_path / "base.nmset", rows, algo="pdq")
    (tmp_path / "removed.txt").write_text(rows[0].tobytes().hex() + "\n")
    subprocess.run(
        [cli, "set", "delta", "--base", str(tmp_path / "base.nmset"),
         "--remove", str(tmp_path / "removed.txt"), "-o", str(tmp_path / "v2.nmset")],
        check=True, capture_output=True,
    )
    for mmap in (True, False):
        with pytest.raises(ValueError, match=r'delta layer on top of "base.nmset"'):
            nearmatch.HashSet.open(tmp_path / "v2.nmset", mmap=mmap)
    # The compacted stack is an ordinary set, one entry short.
    subprocess.run(
        [cli, "set", "compact", str(tmp_path / "v2.nmset"), "-o", str(tmp_path / "flat.nmset")],
        check=True, capture_output=True,
    )
    flat = nearmatch.HashSet.open(tmp_path / "flat.nmset")
    assert len(flat) == len(np.unique(rows, axis=0)) - 1
