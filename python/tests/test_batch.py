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
    assert list(df.columns) == ["path", "pdq", "pdq_quality", "error"]
    assert df["pdq_quality"].isna().sum() == 2
    assert df["error"].notna().sum() == 2
    assert "hashed" in capfd.readouterr().err


def test_batch_errors():
    with pytest.raises(ValueError, match="unknown algorithm"):
        nearmatch.hash_files([], algos=("photodna",))
    with pytest.raises(ValueError, match="threads"):
        nearmatch.hash_files([], threads=0)
    assert len(nearmatch.hash_files([])) == 0
