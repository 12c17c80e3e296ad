"""The imagehash family against the real imagehash package (same Pillow as installed)."""

from __future__ import annotations

import io
import json
import os
import subprocess

import imagehash
import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import IMAGES

FAMILY = [
    (nearmatch.ahash, imagehash.average_hash),
    (nearmatch.dhash, imagehash.dhash),
    (nearmatch.phash, imagehash.phash),
    (nearmatch.whash, imagehash.whash),
]
FAMILY_IDS = ["ahash", "dhash", "phash", "whash"]


@pytest.mark.parametrize("hash_size", [8, 16])
@pytest.mark.parametrize("ours,peer", FAMILY, ids=FAMILY_IDS)
def test_pil_rgb_matches_imagehash(image, ours, peer, hash_size):
    pil = Image.fromarray(image)
    expected = str(peer(pil, hash_size=hash_size))
    h = ours(pil, hash_size=hash_size)
    assert str(h) == expected
    assert h.hex == expected
    assert len(h) == hash_size * hash_size


@pytest.mark.parametrize("ours,peer", FAMILY, ids=FAMILY_IDS)
def test_numpy_grey_and_rgb_match_imagehash(image, ours, peer):
    grey = np.asarray(Image.fromarray(image).convert("L"))
    assert str(ours(grey)) == str(peer(Image.fromarray(grey)))
    assert str(ours(image)) == str(peer(Image.fromarray(image)))


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "1", "CMYK", "I;16"])
def test_pil_modes_match_imagehash(mode):
    base = Image.fromarray(IMAGES[5][1])  # shapes
    if mode == "I;16":
        arr = (np.asarray(base.convert("L")).astype(np.uint16) * 3) // 2  # some values > 255
        img = Image.fromarray(arr.astype(np.uint16))
        assert img.mode == "I;16"
    elif mode == "RGBA":
        a = np.dstack([np.asarray(base), np.arange(base.width * base.height, dtype=np.uint32)
                       .reshape(base.height, base.width).astype(np.uint8)])
        img = Image.fromarray(a, "RGBA")
    else:
        img = base.convert(mode)
    for ours, peer in FAMILY:
        assert str(ours(img)) == str(peer(img)), f"{mode} {peer.__name__}"


def test_path_and_bytes_inputs(tmp_path):
    arr = IMAGES[2][1]
    p = tmp_path / "noise.png"
    Image.fromarray(arr).save(p)
    expected = str(imagehash.phash(Image.open(p)))
    assert str(nearmatch.phash(p)) == expected  # PathLike
    assert str(nearmatch.phash(str(p))) == expected
    assert str(nearmatch.phash(p.read_bytes())) == expected
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="BMP")
    assert str(nearmatch.phash(buf.getvalue())) == expected


def test_hamming_distance_matches_imagehash_subtraction():
    pils = [Image.fromarray(a) for _, a in IMAGES]
    for ours, peer in FAMILY:
        for a, b in zip(pils, pils[1:] + pils[:1]):
            assert ours(a) - ours(b) == peer(a) - peer(b)
            assert ours(a, hash_size=16) - ours(b, hash_size=16) == (
                peer(a, hash_size=16) - peer(b, hash_size=16))


def test_hash_object_protocol():
    pil = Image.fromarray(IMAGES[3][1])
    h, ref = nearmatch.phash(pil), imagehash.phash(pil)
    assert np.array_equal(h.bits, ref.hash.flatten())
    assert np.array_equal(h.hash, ref.hash)
    assert bytes(h) == bytes.fromhex(str(ref))
    assert int(h) == int(str(ref), 16)
    assert h == nearmatch.hex_to_hash(str(ref)) == nearmatch.Hash.from_hex(str(ref).upper())
    assert len({h, nearmatch.Hash.from_hex(str(ref))}) == 1
    assert h != nearmatch.phash(Image.fromarray(IMAGES[4][1]))
    assert nearmatch.Hash.from_bytes(bytes(h)) == h
    assert h.algorithm == "phash" and h.quality is None
    assert nearmatch.average_hash is nearmatch.ahash
    with pytest.raises(TypeError):
        _ = h - nearmatch.phash(pil, hash_size=16)
    with pytest.raises(TypeError):
        _ = h - str(h)
    import pickle
    assert pickle.loads(pickle.dumps(h)) == h


def test_pillow12_option_differs_only_where_pass_order_matters():
    # Pillow 12 and 13 resize in the same order when the height shrinks less than twice the
    # width: those hashes must be equal. (Pillow 12 parity itself is tested in the core.)
    pil = Image.fromarray(IMAGES[5][1])  # 200x150: horizontal first in both
    assert nearmatch.phash(pil, pillow="12") == nearmatch.phash(pil, pillow=13)
    with pytest.raises(ValueError, match="pillow"):
        nearmatch.phash(pil, pillow="11")


def test_bad_hash_size():
    with pytest.raises(ValueError, match="hash_size"):
        nearmatch.phash(IMAGES[0][1], hash_size=12)


PILLOW12_PYTHON = os.environ.get("NEARMATCH_PILLOW12_PYTHON", "/work/venvs/py12/bin/python")


@pytest.mark.skipif(not os.path.exists(PILLOW12_PYTHON),
                    reason="no interpreter with Pillow 12 + imagehash (set NEARMATCH_PILLOW12_PYTHON)")
def test_pillow12_option_matches_imagehash_under_pillow12(tmp_path):
    # Tall images: Pillow 13 resizes them vertically first, Pillow 12 horizontally first.
    names = ["gradient_tall", "noise_tall", "stripes_odd", "shapes_200x150"]
    paths = []
    for name, arr in IMAGES:
        if name in names:
            p = tmp_path / f"{name}.png"
            Image.fromarray(arr).save(p)
            paths.append(p)
    script = (
        "import sys, json, imagehash, PIL; from PIL import Image\n"
        "assert PIL.__version__.split('.')[0] == '12', PIL.__version__\n"
        "out = {}\n"
        "for p in sys.argv[1:]:\n"
        "    im = Image.open(p)\n"
        "    out[p] = [str(f(im, hash_size=s)) for f in (imagehash.average_hash, imagehash.dhash,"
        " imagehash.phash, imagehash.whash) for s in (8, 16)]\n"
        "print(json.dumps(out))\n"
    )
    ref = json.loads(subprocess.run([PILLOW12_PYTHON, "-c", script, *map(str, paths)],
                                    check=True, capture_output=True, text=True).stdout)
    differs = 0
    for p in paths:
        ours = [str(f(p, hash_size=s, pillow="12")) for f in (nearmatch.ahash, nearmatch.dhash,
                nearmatch.phash, nearmatch.whash) for s in (8, 16)]
        assert ours == ref[str(p)], p.name
        new = [str(f(p, hash_size=s)) for f in (nearmatch.ahash, nearmatch.dhash,
               nearmatch.phash, nearmatch.whash) for s in (8, 16)]
        differs += ours != new
    assert differs > 0, "the tall images should exercise the Pillow 12/13 difference"


@pytest.mark.parametrize("algo", ["pdq", "ahash", "dhash", "phash", "whash", "phash16"])
def test_every_input_kind_gives_the_same_hash(tmp_path, algo):
    # One image as a path (str and PathLike), encoded bytes (bytes, bytearray, memoryview),
    # a PIL image (RGB and the decoded file) and numpy arrays (RGB and RGBA).
    fn, size = (getattr(nearmatch, algo.rstrip("16")), 16 if algo.endswith("16") else 8)
    arr = IMAGES[5][1]
    p = tmp_path / "shapes.png"
    Image.fromarray(arr).save(p)
    data = p.read_bytes()

    def h(x):
        return fn(x) if algo == "pdq" else fn(x, hash_size=size)

    expected = h(p)
    inputs = {"str": str(p), "bytes": data, "bytearray": bytearray(data),
              "memoryview": memoryview(data), "PIL": Image.fromarray(arr), "PIL file": Image.open(p),
              "numpy": arr, "numpy RGBA": np.dstack([arr, np.full(arr.shape[:2], 255, np.uint8)])}
    got = {k: str(h(x)) for k, x in inputs.items()}
    assert got == {k: str(expected) for k in inputs}
    if algo != "pdq":
        peer = {"ahash": imagehash.average_hash, "dhash": imagehash.dhash,
                "phash": imagehash.phash, "whash": imagehash.whash}[algo.rstrip("16")]
        assert str(expected) == str(peer(Image.open(p), hash_size=size))


@pytest.mark.parametrize("mode", ["YCbCr", "CMYK", "HSV", "P", "PA", "LA", "I", "F"])
def test_pil_images_of_other_modes_hash_as_imagehash_does(mode):
    # imagehash starts from Pillow's convert("L"); for YCbCr that is the Y channel, not the
    # luma of Pillow's RGB, so PIL images of modes nearmatch does not reduce natively are given
    # to the family through convert("L") (PDQ still through convert("RGB")).
    for _, rgb in IMAGES:
        im = Image.fromarray(rgb)
        im = im.convert("L").convert(mode) if mode in ("I", "F", "LA") else im.convert(mode)
        for ours, ref in [(nearmatch.phash, imagehash.phash), (nearmatch.dhash, imagehash.dhash),
                          (nearmatch.ahash, imagehash.average_hash),
                          (nearmatch.whash, imagehash.whash)]:
            assert str(ours(im)) == str(ref(im)), (mode, ours.__name__)
        assert str(nearmatch.phash(im, hash_size=16)) == str(imagehash.phash(im, hash_size=16))
