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


def test_a_delta_layer_opens_with_its_base(tmp_path):
    """A delta alone would miss its base: opening it opens the whole stack, never a partial
    search, and counts what the compacted set holds."""
    cli = _cli()
    if cli is None:
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    rows = clustered(np.random.default_rng(7), 12, 32)
    nearmatch.HashSet.build(tmp_path / "base.nmset", rows, algo="pdq")
    (tmp_path / "removed.txt").write_text(rows[0].tobytes().hex() + "\n")
    subprocess.run(
        [cli, "set", "delta", "--base", str(tmp_path / "base.nmset"),
         "--remove", str(tmp_path / "removed.txt"), "-o", str(tmp_path / "v2.nmset")],
        check=True, capture_output=True,
    )
    subprocess.run(
        [cli, "set", "compact", str(tmp_path / "v2.nmset"), "-o", str(tmp_path / "flat.nmset")],
        check=True, capture_output=True,
    )
    flat = nearmatch.HashSet.open(tmp_path / "flat.nmset")
    assert len(flat) == len(np.unique(rows, axis=0)) - 1
    for mmap in (True, False):
        stack = nearmatch.HashSet.open(tmp_path / "v2.nmset", mmap=mmap)
        assert len(stack) == len(flat)
        assert len(stack.lookup(rows[:1])) == 0
        assert len(stack.layers) == 2 and "layers=2" in repr(stack)


def _cli() -> str | None:
    """The nearmatch CLI: on PATH, else in the cargo target directory (CARGO_TARGET_DIR too)."""
    root = Path(__file__).resolve().parents[2]
    found = shutil.which("nearmatch")
    if found:
        return found
    targets = [Path(os.environ["CARGO_TARGET_DIR"])] if "CARGO_TARGET_DIR" in os.environ else []
    targets.append(root / "target")
    for t in targets:
        for profile in ("debug", "release"):
            if (t / profile / "nearmatch").exists():
                return str(t / profile / "nearmatch")
    return None


def _records(result, hs) -> list[tuple]:
    """A search result as sorted (query, hash, id, labels, note, distance) tuples: comparable
    across sets whose entry numbers differ."""
    hexes, ids, labels, notes, _ = hs._set.entries(result.entry_index.tolist())
    return sorted(zip(result.query_index.tolist(), hexes, ids, [tuple(map(tuple, l)) for l in labels],
                      notes, result.distance.tolist()))


def _write_delta_lists(tmp: Path, tag: str, adds: list[tuple], removes: list[bytes]) -> None:
    with open(tmp / f"add-{tag}.csv", "w") as f:
        f.write("pdq,id,caid,note\n")
        for h, i, c, n in adds:
            f.write(f"{h},{i},{c},{n}\n")
    (tmp / f"rm-{tag}.txt").write_text("".join(r.hex() + "\n" for r in removes))


@pytest.mark.parametrize("seed", range(6))
def test_a_delta_stack_searches_like_the_rebuilt_set(tmp_path, seed):
    """Random base + two random deltas (additions, restated records, removals present and not):
    the stack opened from its top delta answers every query as `set compact`'s set, as a set
    built from the final list, and as numpy brute force over that list."""
    cli = _cli()
    if cli is None:
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    rng = np.random.default_rng(1000 + seed)
    pool = clustered(rng, 80, 32, centres=6, flips=20)
    pool_hex = [r.tobytes().hex() for r in pool]

    def rand_records(n):
        return [(pool_hex[rng.integers(len(pool))], f"e{rng.integers(25)}", str(rng.integers(3)),
                 "" if rng.random() < 0.7 else f"n{rng.integers(4)}") for _ in range(n)]

    model: dict[tuple, None] = dict.fromkeys(rand_records(150))  # ordered, no repeats
    base = list(model)
    nearmatch.HashSet.build(
        tmp_path / "base.nmset", np.array([np.frombuffer(bytes.fromhex(h), np.uint8) for h, *_ in base]),
        metadata=[{"id": i, "labels": [("caid", c)], "note": n} for _, i, c, n in base], algo="pdq")
    parent = "base.nmset"
    for layer in ("v2", "v3"):
        # Some additions restate records already there; some removals name absent hashes.
        adds = rand_records(30) + list(model)[: rng.integers(0, 4)]
        removes = [pool[i].tobytes() for i in rng.integers(0, len(pool), 8)]
        removes.append(rng.integers(0, 256, 32, dtype=np.uint8).tobytes())
        _write_delta_lists(tmp_path, layer, adds, removes)
        subprocess.run([cli, "set", "delta", "--base", str(tmp_path / parent), "--add",
                        str(tmp_path / f"add-{layer}.csv"), "--remove", str(tmp_path / f"rm-{layer}.txt"),
                        "-o", str(tmp_path / f"{layer}.nmset")], check=True, capture_output=True)
        gone = {r.hex() for r in removes}
        model = {r: None for r in model if r[0] not in gone}
        model.update(dict.fromkeys(adds))
        parent = f"{layer}.nmset"
    final = list(model)
    subprocess.run([cli, "set", "compact", str(tmp_path / "v3.nmset"), "-o", str(tmp_path / "flat.nmset")],
                   check=True, capture_output=True)
    flat = nearmatch.HashSet.open(tmp_path / "flat.nmset")
    final_rows = np.array([np.frombuffer(bytes.fromhex(h), np.uint8) for h, *_ in final]).reshape(-1, 32)
    rebuilt = nearmatch.HashSet.build(
        tmp_path / "rebuilt.nmset", final_rows,
        metadata=[{"id": i, "labels": [("caid", c)], "note": n} for _, i, c, n in final], algo="pdq")

    queries = np.concatenate([
        pool[rng.integers(0, len(pool), 30)],
        clustered(rng, 20, 32, centres=3, flips=40),
        np.packbits(np.unpackbits(pool[rng.integers(0, len(pool), 10)], axis=1)
                    ^ (rng.random((10, 256)) < 0.06), axis=1),
    ])
    dist = brute_distances(queries, final_rows) if len(final) else np.zeros((len(queries), 0), int)
    for mmap in (True, False):
        stack = nearmatch.HashSet.open(tmp_path / "v3.nmset", mmap=mmap)
        assert len(stack) == len(flat) == len(rebuilt) == len(final)
        layers = stack.layers
        assert [Path(l["path"]).name for l in layers] == ["base.nmset", "v2.nmset", "v3.nmset"]
        assert [l["layer"] and l["layer"]["parent"]["file"] for l in layers] == [None, "base.nmset", "v2.nmset"]
        assert sum(l["entries"] - l["hidden"] for l in layers) == len(final)
        assert stack.is_layered and not flat.is_layered
        # hashes(): the visible hashes in hash order, as the rebuilt set holds them.
        assert np.array_equal(stack.hashes(), flat.hashes())
        assert np.array_equal(stack.hashes(), rebuilt.hashes())
        nums = stack.entry_numbers()
        assert [stack.entry(int(g))["hash"] for g in nums] == [r.tobytes().hex() for r in stack.hashes()]
        for r in (0, 10, 31):
            for engine in ("auto", "scan", "mih"):
                got = _records(stack.search(queries, max_distance=r, engine=engine), stack)
                assert got == _records(flat.search(queries, max_distance=r), flat), (r, engine)
                assert got == _records(rebuilt.search(queries, max_distance=r), rebuilt), (r, engine)
            want = sorted((q, h, i, (("caid", c),), n, int(dist[q, e]))
                          for q in range(len(queries)) for e, (h, i, c, n) in enumerate(final)
                          if dist[q, e] <= r)
            assert got == want, r
        got = _records(stack.lookup(queries), stack)
        assert got == _records(flat.lookup(queries), flat)
        assert got == sorted((q, h, i, (("caid", c),), n, 0) for q in range(len(queries))
                             for e, (h, i, c, n) in enumerate(final) if dist[q, e] == 0)
        for k in (1, 4):
            res = stack.knn(queries, k=k)
            per = [sorted(res.distance[res.query_index == q].tolist()) for q in range(len(queries))]
            want_k = [sorted(dist[q].tolist())[:k] for q in range(len(queries))]
            assert per == want_k, k
            hexes = stack._set.entries(res.entry_index.tolist())[0]
            for q, h, d in zip(res.query_index, hexes, res.distance):
                assert POP[queries[q] ^ np.frombuffer(bytes.fromhex(h), np.uint8)].sum() == d
        df = stack.search(queries[:5]).to_pandas()
        assert len(df) == sum(int((dist[q] <= 31).sum()) for q in range(5))


def test_a_delta_stack_checks_its_parents_and_refuses_flat_only_operations(tmp_path):
    """A missing or replaced parent is a ValueError naming both files, as in the CLI (exit 65);
    shard needs one flat set and says how to get it."""
    cli = _cli()
    if cli is None:
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    rng = np.random.default_rng(5)
    rows = clustered(rng, 40, 32)
    nearmatch.HashSet.build(tmp_path / "base.nmset", rows, algo="pdq")
    _write_delta_lists(tmp_path, "v2", [(rows[0].tobytes().hex(), "x", "1", "")], [rows[1].tobytes()])
    subprocess.run([cli, "set", "delta", "--base", str(tmp_path / "base.nmset"), "--add",
                    str(tmp_path / "add-v2.csv"), "--remove", str(tmp_path / "rm-v2.txt"),
                    "-o", str(tmp_path / "v2.nmset")], check=True, capture_output=True)
    stack = nearmatch.HashSet.open(tmp_path / "v2.nmset")
    with pytest.raises(ValueError, match=r"v2\.nmset is a delta layer on base\.nmset.*set compact"):
        stack.shard(tmp_path / "shards", 2)
    # Missing parent.
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(tmp_path / "v2.nmset", lone / "v2.nmset")
    for mmap in (True, False):
        with pytest.raises(ValueError, match=r"v2\.nmset.*base\.nmset.*missing"):
            nearmatch.HashSet.open(lone / "v2.nmset", mmap=mmap)
    # Replaced parent: same name, another set.
    nearmatch.HashSet.build(lone / "base.nmset", rows[:-1], algo="pdq")
    with pytest.raises(ValueError, match=r"v2\.nmset.*base\.nmset.*not the set this delta was built on"):
        nearmatch.HashSet.open(lone / "v2.nmset")
