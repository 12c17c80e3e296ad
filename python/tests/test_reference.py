"""nearmatch against the peers' outputs stored in fixtures/ (computed once by
fixtures/make_reference.py with Meta's PDQ via ``pdqhash`` and Python ``imagehash``).

Unlike test_pdq.py and test_imagehash.py (which call the installed peers live), these compare
with the committed tables, so they also hold where the peers are not installed, and they cover
both PDQ profiles and both Pillow generations.

The 128 committed fixtures (fixtures/images/) are always checked. The 14 large ones
(``committed = 0`` in the manifest, 1024x768 up to 4000x3000) are not in git: they are checked
when regenerated into ``target/fixtures-large/`` (or ``$NEARMATCH_FIXTURES_LARGE``) by
``cargo run -p nearmatch-synth --release --example gen_fixtures -- /tmp/fixtures target/fixtures-large``
and skipped otherwise (the Rust test crates/nearmatch/tests/reference.rs regenerates them in
memory on every `cargo test`). Every file's SHA-256 is checked against the manifest first.
"""

from __future__ import annotations

import csv
import hashlib
import os
from pathlib import Path

import pytest

import nearmatch

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
LARGE_DIR = Path(os.environ.get("NEARMATCH_FIXTURES_LARGE", ROOT / "target" / "fixtures-large"))

IMAGEHASH_COLUMNS = ["ahash", "dhash", "phash", "whash", "ahash16", "dhash16", "phash16", "whash16"]
FUNCS = {"ahash": nearmatch.ahash, "dhash": nearmatch.dhash, "phash": nearmatch.phash,
         "whash": nearmatch.whash}


def _read(name: str) -> list[dict[str, str]]:
    with open(FIXTURES / name, newline="") as f:
        return list(csv.DictReader(f))


MANIFEST = _read("manifest.csv")
PDQ_REF = {(r["name"], r["profile"]): r for r in _read("pdq_reference.csv")}
IMAGEHASH_REF = {(r["name"], r["pillow"]): r for r in _read("imagehash_reference.csv")}
COMMITTED = [r for r in MANIFEST if r["committed"] == "1"]
LARGE = [r for r in MANIFEST if r["committed"] != "1"]


def test_tables_cover_the_manifest():
    # One row per fixture and profile / Pillow generation, no stale rows: a test that reads
    # fewer rows than the tables hold could silently check less than it claims.
    names = {r["name"] for r in MANIFEST}
    assert len(names) == len(MANIFEST) >= 140
    assert set(PDQ_REF) == {(n, p) for n in names for p in ("pdqhash", "meta-cpp")}
    assert set(IMAGEHASH_REF) == {(n, p) for n in names for p in ("13", "12")}
    assert len(COMMITTED) == 128 and len(LARGE) == 14
    assert all(not r[c].startswith("ERR:") for r in IMAGEHASH_REF.values() for c in IMAGEHASH_COLUMNS)


def fixture_path(row: dict[str, str]) -> Path:
    """The fixture's file, SHA-256 checked; skips a large fixture that was not regenerated."""
    if row["committed"] == "1":
        path = FIXTURES / "images" / row["file"]
    else:
        path = LARGE_DIR / row["file"]
        if not path.exists():
            pytest.skip(f"large fixture {row['file']} not regenerated in {LARGE_DIR} "
                        "(see this module's docstring)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == row["sha256"], f"{path}: SHA-256 differs from fixtures/manifest.csv"
    return path


def expected_family(name: str, pillow: str) -> dict[str, str]:
    r = IMAGEHASH_REF[(name, pillow)]
    return {c: r[c] for c in IMAGEHASH_COLUMNS}


def ours_family(x, pillow: str) -> dict[str, str]:
    out = {}
    for c in IMAGEHASH_COLUMNS:
        base, size = (c[:-2], 16) if c.endswith("16") else (c, 8)
        out[c] = str(FUNCS[base](x, hash_size=size, pillow=pillow))
    return out


def check_fixture(row: dict[str, str]) -> None:
    path = fixture_path(row)
    name = row["name"]
    for profile in ("pdqhash", "meta-cpp"):
        ref = PDQ_REF[(name, profile)]
        h = nearmatch.pdq(path, profile=profile)
        assert (str(h), h.quality) == (ref["hash"], int(ref["quality"])), f"pdq {profile}"
        dihedral = {o: str(d) for o, d in h.dihedral().items()}
        assert dihedral == {o: ref[o] for o in nearmatch.ORIENTATIONS}, f"pdq {profile} dihedral"
    for pillow in ("13", "12"):
        assert ours_family(path, pillow) == expected_family(name, pillow), f"imagehash pillow {pillow}"


@pytest.mark.parametrize("row", COMMITTED, ids=[r["name"] for r in COMMITTED])
def test_committed_fixture_matches_stored_references(row):
    check_fixture(row)


@pytest.mark.parametrize("row", LARGE, ids=[r["name"] for r in LARGE])
def test_large_fixture_matches_stored_references(row):
    check_fixture(row)


def test_hash_files_matches_stored_references():
    # The batch entry point (one decode per file, every hash, rayon threads) against the same
    # tables, under the default options (pdqhash profile, Pillow 13).
    rows = COMMITTED + [r for r in LARGE if (LARGE_DIR / r["file"]).exists()]
    paths = [fixture_path(r) for r in rows]
    algos = ["pdq"] + IMAGEHASH_COLUMNS
    res = nearmatch.hash_files(paths, algos=algos, threads=2)
    mismatches = []
    for i, r in enumerate(rows):
        pdq_ref = PDQ_REF[(r["name"], "pdqhash")]
        expected = {"pdq": pdq_ref["hash"], "quality": int(pdq_ref["quality"]), "error": None,
                    **expected_family(r["name"], "13")}
        got = {"pdq": res["pdq"][i], "quality": int(res.pdq_quality[i]), "error": res.error[i],
               **{c: res[c][i] for c in IMAGEHASH_COLUMNS}}
        if got != expected:
            mismatches.append((r["name"], {k: (expected[k], got[k]) for k in got
                                           if got[k] != expected[k]}))
    assert not mismatches, mismatches


def test_pil_input_matches_stored_references():
    # PIL.Image.open(path) goes through nearmatch's mode reduction (_pil_to_array) instead of
    # its decoder: every committed fixture, every mode, must still give the stored hashes.
    from PIL import Image

    mismatches = []
    for r in COMMITTED:
        with Image.open(fixture_path(r)) as im:
            im.load()
            h = nearmatch.pdq(im)
            pdq_ref = PDQ_REF[(r["name"], "pdqhash")]
            if (str(h), h.quality) != (pdq_ref["hash"], int(pdq_ref["quality"])):
                mismatches.append((r["name"], "pdq"))
            ours = ours_family(im, "13")
        exp = expected_family(r["name"], "13")
        mismatches += [(r["name"], c) for c in IMAGEHASH_COLUMNS if ours[c] != exp[c]]
    assert not mismatches, mismatches
