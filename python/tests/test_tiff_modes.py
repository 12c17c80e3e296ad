"""TIFF modes the `image` crate refuses (issue #21): grey+alpha, palette (with and without alpha
or transparency), YCbCr (raw and compressed), 32-bit integer and float grey. Each is written by
Pillow from a synthetic image, opened back by Pillow, and hashed by the references (`pdqhash` on
`convert("RGB")`, `imagehash` on the Pillow image) and by nearmatch from the file's bytes: bit
for bit; JPEG-in-TIFF (grey, RGB, YCbCr, subsampled or not) likewise. CIELab, which Pillow
converts only through LittleCMS, and JPEG-compressed grey+alpha are refused with a precise
error."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image

import nearmatch
from conftest import IMAGES

COMPRESSIONS = [None, "tiff_lzw", "tiff_adobe_deflate", "packbits"]
SOURCES = [IMAGES[1], IMAGES[2], IMAGES[5], IMAGES[8]]  # gradient, noise, shapes, stripes


def _vec_hex(v: np.ndarray) -> str:
    bits = "".join("1" if b else "0" for b in v)
    return "".join(f"{int(bits[i:i + 4], 2):x}" for i in range(0, 256, 4))


def _in_mode(rgb: np.ndarray, mode: str) -> Image.Image:
    im = Image.fromarray(rgb)
    grey = np.asarray(im.convert("L")).astype(np.float64)
    if mode == "LA":
        alpha = Image.fromarray(255 - np.asarray(im.convert("L")))
        return Image.merge("LA", (im.convert("L"), alpha))
    if mode in ("P", "Ptrns"):
        p = im.convert("P", palette=Image.Palette.ADAPTIVE, colors=200)
        if mode == "Ptrns":
            p.info["transparency"] = 3
        return p
    if mode == "PA":
        return im.convert("P", palette=Image.Palette.ADAPTIVE, colors=200).convert("PA")
    if mode.startswith("I/"):
        scale, offset = {"I/lo": (1, 0), "I/mid": (2.3, -40), "I/hi": (257, 0)}[mode]
        return Image.fromarray((grey * scale + offset).astype(np.int32))
    if mode.startswith("F/"):
        scale, offset = {"F/lo": (1, 0), "F/mid": (1.7, -20.5), "F/hi": (257, 0.25)}[mode]
        return Image.fromarray((grey * scale + offset).astype(np.float32))
    return im.convert(mode)


def _roundtrip(im: Image.Image, compression: str | None) -> tuple[bytes, Image.Image]:
    buf = io.BytesIO()
    im.save(buf, "TIFF", **({"compression": compression} if compression else {}))
    data = buf.getvalue()
    back = Image.open(io.BytesIO(data))
    back.load()
    return data, back


def _check(data: bytes, back: Image.Image) -> None:
    v, q = pdqhash.compute(np.ascontiguousarray(np.asarray(back.convert("RGB"))))
    h = nearmatch.pdq(data)
    assert (str(h), h.quality) == (_vec_hex(v), q), "pdq"
    for name, ours, ref in [
        ("phash", nearmatch.phash, imagehash.phash),
        ("dhash", nearmatch.dhash, imagehash.dhash),
        ("ahash", nearmatch.ahash, imagehash.average_hash),
        ("whash", nearmatch.whash, imagehash.whash),
    ]:
        assert str(ours(data)) == str(ref(back)), name


MODES = ["LA", "P", "Ptrns", "PA", "YCbCr", "I/lo", "I/mid", "I/hi", "F/lo", "F/mid", "F/hi"]


@pytest.mark.parametrize("compression", COMPRESSIONS, ids=lambda c: c or "raw")
@pytest.mark.parametrize("mode", MODES)
def test_tiff_mode_matches_references(mode, compression):
    for name, rgb in SOURCES:
        data, back = _roundtrip(_in_mode(rgb, mode), compression)
        # The modes Pillow opens: compressed YCbCr comes back as RGB (libtiff converts it).
        expected = {"Ptrns": "P", "YCbCr": "RGB" if compression else "YCbCr"}.get(
            mode, mode.split("/")[0])
        assert back.mode == expected, name
        _check(data, back)


@pytest.mark.parametrize("mode,subsampling", [("RGB", None), ("L", None), ("YCbCr", None),
                                               ("YCbCr", (2, 1))])
def test_jpeg_in_tiff_matches_references(mode, subsampling):
    # JPEG-in-TIFF: libtiff hands each strip to libjpeg for Pillow (YCbCr converted to RGB by
    # libjpeg, chroma upsampled by it); nearmatch decodes each strip with libjpeg-turbo too.
    # The noise images make any difference in the IDCT, upsampling or colour tables show.
    for name, rgb in IMAGES:
        buf = io.BytesIO()
        kw = {"tiffinfo": {530: subsampling}} if subsampling else {}
        Image.fromarray(rgb).convert(mode).save(buf, "TIFF", compression="jpeg", **kw)
        data = buf.getvalue()
        back = Image.open(io.BytesIO(data))
        back.load()
        assert back.mode == ("L" if mode == "L" else "RGB"), name
        if subsampling:
            assert back.tag_v2[530] == subsampling
        _check(data, back)


def test_jpeg_grey_alpha_is_refused_precisely():
    data, back = _roundtrip(_in_mode(IMAGES[5][1], "LA"), "jpeg")
    assert back.mode == "LA"
    with pytest.raises(nearmatch.DecodeError, match="JPEG-compressed grey\\+alpha"):
        nearmatch.pdq(data)


def test_ycbcr_every_chroma_pair():
    # Every (Cb, Cr) pair once, with a Y ramp: the two YCbCr -> RGB conversions (Pillow's for
    # raw files, libtiff's for compressed ones) over their whole table range.
    cb, cr = np.mgrid[0:256, 0:256]
    y = (cb * 7 + cr * 13) % 256
    im = Image.frombytes("YCbCr", (256, 256),
                         np.dstack([y, cb, cr]).astype(np.uint8).tobytes())
    for compression in (None, "tiff_lzw", "jpeg"):
        data, back = _roundtrip(im, compression)
        _check(data, back)


def test_cielab_is_refused_precisely():
    rgb = IMAGES[5][1]
    for compression in (None, "tiff_lzw"):
        data, back = _roundtrip(Image.fromarray(rgb).convert("LAB"), compression)
        assert back.mode == "LAB"
        with pytest.raises(nearmatch.DecodeError, match="unsupported tiff feature: CIELab"):
            nearmatch.pdq(data)
        with pytest.raises(nearmatch.DecodeError, match="CIELab"):
            nearmatch.phash(data)


def test_truncated_palette_tiff_is_an_error():
    data, _ = _roundtrip(_in_mode(IMAGES[5][1], "P"), None)
    for cut in (len(data) // 2, 200, 40):
        with pytest.raises(nearmatch.DecodeError):
            nearmatch.pdq(data[:cut])


def test_scan_records_refused_tiffs_as_skipped_unsupported(tmp_path):
    # A feature refused on purpose is not a damaged file: skipped:unsupported, with the reason;
    # the palette TIFF next to it is hashed as pdqhash hashes Pillow's pixels.
    rgb = IMAGES[5][1]
    lab, _ = _roundtrip(Image.fromarray(rgb).convert("LAB"), None)
    pal, back = _roundtrip(_in_mode(rgb, "P"), "tiff_lzw")
    (tmp_path / "lab.tif").write_bytes(lab)
    (tmp_path / "pal.tif").write_bytes(pal)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in nearmatch.scan(tmp_path, algos=("pdq",))}
    assert by_name["lab.tif"]["disposition"] == "skipped:unsupported"
    assert "CIELab" in by_name["lab.tif"]["error"]
    assert by_name["pal.tif"]["disposition"] == "unmatched"
    v, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(back.convert("RGB"))))
    assert by_name["pal.tif"]["hashes"]["pdq"] == _vec_hex(v)
