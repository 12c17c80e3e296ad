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


def _pillow_pdq(img):
    v, q = pdqhash.compute(np.ascontiguousarray(np.asarray(img.convert("RGB"))))
    return vec_hex(v), q


@pytest.mark.parametrize("scale", [1, 2.3, 257])
def test_16bit_grey_hashes_as_pillow_converts_it(tmp_path, scale):
    # Pillow's I;16 -> RGB clips at 255 without rescaling: what pdqhash sees. Scale 1 keeps
    # every sample below 256, 2.3 clips part of the picture, 257 makes it nearly all white.
    from PIL import Image

    grey = np.asarray(Image.fromarray(IMAGES[5][1]).convert("L")).astype(np.float64)
    img = Image.fromarray((grey * scale).astype(np.uint16))
    assert img.mode == "I;16"
    expected = _pillow_pdq(img)
    for fmt in ("png", "tiff"):
        p = tmp_path / f"g16.{fmt}"
        img.save(p)
        h = nearmatch.pdq(p)
        assert (str(h), h.quality) == expected, fmt
    h = nearmatch.pdq(img)
    assert (str(h), h.quality) == expected


def test_int32_and_float_pil_images_hash_as_pillow_converts_them():
    from PIL import Image

    grey = np.asarray(Image.fromarray(IMAGES[5][1]).convert("L")).astype(np.float64)
    for img in (Image.fromarray((grey * 2.3 - 40).astype(np.int32)),
                Image.fromarray((grey * 1.7 - 20.5).astype(np.float32))):
        h = nearmatch.pdq(img)
        assert (str(h), h.quality) == _pillow_pdq(img), img.mode
