"""PDQ against Meta's reference as packaged on PyPI (pdqhash)."""

from __future__ import annotations

import numpy as np
import pdqhash
import pytest

import nearmatch
from conftest import IMAGES


def vec_hex(v: np.ndarray) -> str:
    bits = "".join("1" if b else "0" for b in v)
    return "".join(f"{int(bits[i:i + 4], 2):x}" for i in range(0, 256, 4))


def test_pdq_matches_pdqhash(image):
    v, q = pdqhash.compute(image)
    h = nearmatch.pdq(image)
    assert str(h) == vec_hex(v)
    assert h.quality == q
    assert h.algorithm == "pdq"
    assert np.array_equal(h.bits, v.astype(bool))


def test_dihedral_matches_pdqhash(image):
    vs, q = pdqhash.compute_dihedral(image)
    h = nearmatch.pdq(image)
    d = h.dihedral()
    assert list(d) == list(nearmatch.ORIENTATIONS)
    assert [str(x) for x in d.values()] == [vec_hex(v) for v in vs]
    assert all(x.quality == q for x in d.values())


def test_pdq_from_pil_grey_and_path(tmp_path):
    from PIL import Image

    grey = np.asarray(Image.fromarray(IMAGES[5][1]).convert("L"))
    v, q = pdqhash.compute(np.ascontiguousarray(np.dstack([grey] * 3)))
    assert str(nearmatch.pdq(grey)) == vec_hex(v)
    p = tmp_path / "g.png"
    Image.fromarray(grey).save(p)
    h = nearmatch.pdq(p)
    assert (str(h), h.quality) == (vec_hex(v), q)
    assert str(nearmatch.pdq(Image.open(p))) == vec_hex(v)


def test_rgba_array_drops_alpha():
    rgb = IMAGES[2][1]
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 7, np.uint8)])
    assert nearmatch.pdq(rgba) == nearmatch.pdq(rgb)


def test_profile_option():
    img = IMAGES[0][1]
    assert nearmatch.pdq(img, profile="meta-cpp").algorithm == "pdq"
    with pytest.raises(ValueError, match="profile"):
        nearmatch.pdq(img, profile="nope")


def test_non_pdq_has_no_dihedral():
    with pytest.raises(ValueError, match="dihedral"):
        nearmatch.phash(IMAGES[0][1]).dihedral()
    with pytest.raises(ValueError, match="dihedral"):
        nearmatch.Hash.from_hex("0" * 64).dihedral()
