"""hash_files against the single-image functions and the peers."""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import IMAGES


@pytest.fixture
def files(tmp_path):
    paths = []
    for name, arr in IMAGES:
        p = tmp_path / f"{name}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    bad = tmp_path / "notes.txt"
    bad.write_text("not an image")
    missing = tmp_path / "missing.jpg"
    return paths + [bad, missing]


@pytest.mark.parametrize("threads", [None, 1, 3])
def test_batch_equals_single(files, threads):
    res = nearmatch.hash_files(files, algos=("pdq", "phash", "dhash16", "md5"), threads=threads)
    assert len(res) == len(files)
    assert res.path == [str(p) for p in files]
    for i, p in enumerate(files[:-2]):
        h = nearmatch.pdq(p)
        assert res["pdq"][i] == str(h)
        assert res.pdq_quality[i] == h.quality
        assert res.phash[i] == str(imagehash.phash(Image.open(p)))
        assert res["dhash16"][i] == str(imagehash.dhash(Image.open(p), hash_size=16))
        assert res["md5"][i] == hashlib.md5(p.read_bytes()).hexdigest()
        assert res.error[i] is None
    # Not an image: crypto hash present, perceptual missing, an error message; never raises.
    assert res["md5"][-2] == hashlib.md5(b"not an image").hexdigest()
    assert res["pdq"][-2] is None and res.pdq_quality[-2] == -1
    assert "not a supported image" in res.error[-2]
    assert res["md5"][-1] is None and "cannot read" in res.error[-1]


def test_batch_to_pandas_and_progress(files, capfd):
    pytest.importorskip("pandas")
    res = nearmatch.hash_files(files, progress=True)
    df = res.to_pandas()
    assert list(df.columns) == ["path", "pdq", "pdq_quality", "hash_mode", "exif_orientation", "error"]
    # Exact is the default; the two files that are not readable images have no mode.
    assert res.hash_mode == ["exact"] * (len(files) - 2) + [None, None]
    assert df["hash_mode"].isna().sum() == 2
    assert df["pdq_quality"].isna().sum() == 2
    assert df["error"].notna().sum() == 2
    assert "hashed" in capfd.readouterr().err


def test_batch_errors():
    with pytest.raises(ValueError, match="unknown algorithm"):
        nearmatch.hash_files([], algos=("photodna",))
    with pytest.raises(ValueError, match="threads"):
        nearmatch.hash_files([], threads=0)
    assert len(nearmatch.hash_files([])) == 0


def test_batch_hash_objects_and_dihedral(files):
    res = nearmatch.hash_files(files, algos=("pdq", "phash", "md5"), dihedral=True)
    assert res.pdq_dihedral is not None and len(res.pdq_dihedral) == len(files)
    pdq_hashes, phashes = res.hashes("pdq"), res.hashes("phash")
    for i, p in enumerate(files[:-2]):
        single = nearmatch.pdq(p)
        h = pdq_hashes[i]
        assert h == single and h.quality == single.quality and h.algorithm == "pdq"
        # Dihedrals as the single-image API computes them (and Meta's order).
        assert {o: str(x) for o, x in h.dihedral().items()} == {
            o: str(x) for o, x in single.dihedral().items()}
        assert res.pdq_dihedral[i] == [str(x) for x in single.dihedral().values()]
        assert phashes[i] == nearmatch.phash(p) and phashes[i].algorithm == "phash"
    assert pdq_hashes[-2:] == [None, None] and res.pdq_dihedral[-2:] == [None, None]
    with pytest.raises(ValueError, match="cryptographic"):
        res.hashes("md5")
    with pytest.raises(KeyError, match="dhash"):
        res.hashes("dhash")
    # Without dihedral=True, none are kept (and hashes cannot be searched dihedrally).
    plain = nearmatch.hash_files(files[:1], algos=("pdq",))
    assert plain.pdq_dihedral is None and not plain.hashes("pdq")[0].has_dihedral


def test_batch_digest_arrays(files, tmp_path):
    res = nearmatch.hash_files(files, algos=("pdq", "phash", "sha1"))
    rows, present = res.digests("pdq")
    assert rows.shape == (len(files), 32) and rows.dtype == np.uint8
    assert present.tolist() == [True] * (len(files) - 2) + [False, False]
    for i, p in enumerate(files[:-2]):
        assert rows[i].tobytes() == bytes(nearmatch.pdq(p))
    assert not rows[~present].any()
    ph, _ = res.digests("phash")
    assert ph.shape == (len(files), 8) and ph[0].tobytes().hex() == res.phash[0]
    sha, sha_present = res.digests("sha1")
    assert sha.shape == (len(files), 20) and sha_present.tolist() == [True] * (len(files) - 1) + [False]
    assert sha[0].tobytes().hex() == hashlib.sha1(files[0].read_bytes()).hexdigest()
    # The arrays feed a search directly, with the same result as the Hash objects.
    s = nearmatch.HashSet.build(tmp_path / "k.nmset", rows[present][:3])
    a = s.search(rows[present])
    b = s.search([h for h in res.hashes("pdq") if h is not None])
    assert all(np.array_equal(x, y) for x, y in zip(a, b)) and len(a) >= 3
