"""TIFF modes the `image` crate refuses (issue #21): grey+alpha, palette (with and without alpha
or transparency), YCbCr (raw and compressed), 32-bit integer and float grey. Each is written by
Pillow from a synthetic image, opened back by Pillow, and hashed by the references (`pdqhash` on
`convert("RGB")`, `imagehash` on the Pillow image) and by nearmatch from the file's bytes: bit
for bit; JPEG-in-TIFF (grey, RGB, YCbCr, subsampled or not) likewise. JPEG-compressed grey+alpha
and tiled JPEG-in-TIFF likewise, and arithmetic-coded JPEG. CIELab, which Pillow converts to RGB
through LittleCMS, likewise (with the system's LittleCMS). Multi-page TIFFs: every page a child
record, hashed as Pillow's `seek(n)`."""

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


def test_jpeg_grey_alpha_matches_references():
    # Grey+alpha as a 2-component JPEG: libtiff has libjpeg decode it without colour
    # conversion for Pillow (mode LA); nearmatch decodes it the same way and keeps the grey.
    for name, rgb in IMAGES:
        data, back = _roundtrip(_in_mode(rgb, "LA"), "jpeg")
        assert back.mode == "LA" and back.tag_v2[259] == 7, name
        _check(data, back)


def _tiled_jpeg_tiff(im: Image.Image, tile: tuple[int, int], photometric: int,
                     **jpeg) -> bytes:
    """A little-endian TIFF of JPEG tiles, assembled here: each tile (edge tiles padded by
    repeating the last row and column, as libtiff's writers pad) is a whole JPEG written by
    Pillow, so libtiff (through Pillow) and nearmatch both decode the same streams."""
    import struct
    tw, th = tile
    w, h = im.size
    arr = np.asarray(im)
    tiles = []
    for y0 in range(0, h, th):
        for x0 in range(0, w, tw):
            part = arr[y0:y0 + th, x0:x0 + tw]
            pad = [(0, th - part.shape[0]), (0, tw - part.shape[1])] + [(0, 0)] * (part.ndim - 2)
            buf = io.BytesIO()
            Image.fromarray(np.pad(part, pad, mode="edge")).save(buf, "JPEG", **jpeg)
            tiles.append(buf.getvalue())
    spp = 1 if im.mode == "L" else 3
    n = len(tiles)
    tags = [(256, 4, [w]), (257, 4, [h]), (258, 3, [8] * spp), (259, 3, [7]),
            (262, 3, [photometric]), (277, 3, [spp]), (284, 3, [1]), (322, 4, [tw]),
            (323, 4, [th]), (324, 4, [0] * n), (325, 4, [len(t) for t in tiles])]
    if photometric == 6:
        tags.append((530, 3, list(jpeg.pop("tiff_subsampling"))))
    tags.sort()
    ifd_len = 2 + 12 * len(tags) + 4
    extra_at = 8 + ifd_len
    extra = bytearray()
    entries = bytearray()
    data_at = extra_at + sum(len(v) * (2 if t == 3 else 4) for _, t, v in tags
                             if len(v) * (2 if t == 3 else 4) > 4)
    offsets = []
    at = data_at
    for t in tiles:
        offsets.append(at)
        at += len(t)
    for tag, typ, vals in tags:
        if tag == 324:
            vals = offsets
        raw = b"".join(struct.pack("<H" if typ == 3 else "<I", v) for v in vals)
        if len(raw) <= 4:
            entries += struct.pack("<HHI", tag, typ, len(vals)) + raw.ljust(4, b"\0")
        else:
            entries += struct.pack("<HHII", tag, typ, len(vals), extra_at + len(extra))
            extra += raw
    out = b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", len(tags)) + bytes(entries)
    out += b"\0\0\0\0" + bytes(extra)
    assert len(out) == data_at
    return out + b"".join(tiles)


@pytest.mark.parametrize("kind", ["ycbcr420", "ycbcr444", "rgb", "grey"])
def test_tiled_jpeg_in_tiff_matches_references(kind):
    # Tiled JPEG-in-TIFF: libtiff has libjpeg decode each whole tile (padding included) for
    # Pillow, which crops it; nearmatch decodes each tile with libjpeg-turbo and crops it too.
    for name, rgb in IMAGES:
        im = Image.fromarray(rgb)
        if kind == "grey":
            data = _tiled_jpeg_tiff(im.convert("L"), (32, 16), 1, quality=85)
        elif kind == "rgb":
            data = _tiled_jpeg_tiff(im, (48, 32), 2, quality=85, keep_rgb=True)
        else:
            sub = {"ycbcr420": (2, 2), "ycbcr444": (1, 1)}[kind]
            data = _tiled_jpeg_tiff(im, (64, 32), 6, quality=85,
                                    subsampling={"ycbcr420": 2, "ycbcr444": 0}[kind],
                                    tiff_subsampling=sub)
        back = Image.open(io.BytesIO(data))
        assert 322 in back.tag_v2 and back.tag_v2[259] == 7, name
        back.load()
        assert back.size == im.size and back.mode == ("L" if kind == "grey" else "RGB")
        _check(data, back)


def test_arithmetic_coded_jpeg_matches_references(tmp_path):
    # Arithmetic-coded JPEG (SOF9-SOF11): Pillow's libjpeg-turbo decodes it, and so does
    # nearmatch's. Pillow cannot write it: jpegtran (Debian's libjpeg-turbo-progs) recodes a
    # Pillow-written JPEG losslessly with arithmetic coding.
    import shutil
    import subprocess
    jpegtran = shutil.which("jpegtran")
    if jpegtran is None:
        pytest.skip("jpegtran (libjpeg-turbo-progs) not installed")
    n = 0
    for name, rgb in IMAGES:
        for kw in ({"quality": 90}, {"quality": 75, "subsampling": 0},
                   {"quality": 80, "progressive": True}):
            src = tmp_path / "in.jpg"
            Image.fromarray(rgb).save(src, "JPEG", **kw)
            data = subprocess.run([jpegtran, "-arithmetic", str(src)], check=True,
                                  capture_output=True).stdout
            assert any(data[i:i + 2] in (b"\xff\xc9", b"\xff\xca") for i in range(len(data) - 1))
            back = Image.open(io.BytesIO(data))
            back.load()
            _check(data, back)
            n += 1
    assert n == 3 * len(IMAGES)


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


@pytest.mark.parametrize("compression", COMPRESSIONS)
def test_cielab_hashes_as_pillow_converts_it_through_littlecms(compression):
    # Pillow opens an 8-bit CIELab TIFF as mode LAB and converts it to RGB with LittleCMS
    # (ImageCms: its Lab D50 and sRGB profiles, perceptual intent): the references hash that.
    # imagehash cannot hash a LAB image at all (Pillow has no LAB to L conversion), so the
    # imagehash family is checked on the same RGB conversion, the picture Pillow shows.
    for _, rgb in SOURCES:
        data, back = _roundtrip(Image.fromarray(rgb).convert("LAB"), compression)
        assert back.mode == "LAB"
        with pytest.raises(ValueError):
            back.convert("L")
        shown = back.convert("RGB")
        v, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(shown)))
        assert str(nearmatch.pdq(data)) == _vec_hex(v), compression
        assert str(nearmatch.phash(data)) == str(imagehash.phash(shown))
        assert str(nearmatch.dhash(data)) == str(imagehash.dhash(shown))


def test_icc_and_itu_lab_are_refused_precisely():
    # PhotometricInterpretation 9 (ICC Lab) and 10 (ITU Lab): Pillow does not open them
    # (no mode for them), so nearmatch refuses them by name rather than guess.
    data, _ = _roundtrip(Image.fromarray(IMAGES[5][1]).convert("LAB"), None)
    ifd = int.from_bytes(data[4:8], "little")
    n = int.from_bytes(data[ifd:ifd + 2], "little")
    for value, name in ((9, "ICC Lab"), (10, "ITU Lab")):
        patched = bytearray(data)
        for k in range(n):
            e = ifd + 2 + 12 * k
            if int.from_bytes(data[e:e + 2], "little") == 262:
                patched[e + 8:e + 10] = value.to_bytes(2, "little")
        with pytest.raises(Exception):
            Image.open(io.BytesIO(bytes(patched))).load()
        with pytest.raises(nearmatch.DecodeError, match=f"unsupported tiff feature: {name}"):
            nearmatch.pdq(bytes(patched))


def test_truncated_palette_tiff_is_an_error():
    data, _ = _roundtrip(_in_mode(IMAGES[5][1], "P"), None)
    for cut in (len(data) // 2, 200, 40):
        with pytest.raises(nearmatch.DecodeError):
            nearmatch.pdq(data[:cut])


def test_scan_records_refused_tiffs_as_skipped_unsupported(tmp_path):
    # A feature refused on purpose is not a damaged file: skipped:unsupported, with the reason
    # (a 12-bit JPEG, which Pillow refuses too); the CIELab and palette TIFFs next to it are
    # hashed as pdqhash hashes Pillow's pixels.
    rgb = IMAGES[5][1]
    lab, lab_back = _roundtrip(Image.fromarray(rgb).convert("LAB"), None)
    pal, back = _roundtrip(_in_mode(rgb, "P"), "tiff_lzw")
    (tmp_path / "lab.tif").write_bytes(lab)
    (tmp_path / "pal.tif").write_bytes(pal)
    # A JPEG whose frame header claims 12-bit samples (SOF0 precision byte).
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG")
    jpeg = bytearray(buf.getvalue())
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 4] = 12
    (tmp_path / "deep.jpg").write_bytes(bytes(jpeg))
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in nearmatch.scan(tmp_path, algos=("pdq",))}
    assert by_name["deep.jpg"]["disposition"] == "skipped:unsupported"
    assert "12-bit" in by_name["deep.jpg"]["error"]
    assert by_name["lab.tif"]["disposition"] == "unmatched"
    v, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(lab_back.convert("RGB"))))
    assert by_name["lab.tif"]["hashes"]["pdq"] == _vec_hex(v)
    assert by_name["pal.tif"]["disposition"] == "unmatched"
    v, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(back.convert("RGB"))))
    assert by_name["pal.tif"]["hashes"]["pdq"] == _vec_hex(v)


# Multi-page TIFFs (issue #21 item 3): every page after the first is a child record
# `doc.tif!/page/N`, N being Pillow's `seek` index, hashed as pdqhash hashes Pillow's page N.

PAGE_MODES = ["RGB", "L", "1", "P", "LA", "RGBA", "CMYK", "I;16", "YCbCr", "PA", "F/mid"]


def _pages(compression: str | None) -> list[Image.Image]:
    out = []
    for k, mode in enumerate(PAGE_MODES):
        rgb = IMAGES[k % len(IMAGES)][1]
        if compression == "jpeg" and mode not in ("RGB", "L", "YCbCr"):
            continue  # libtiff's JPEG codec takes 8-bit grey, RGB and YCbCr only
        if mode == "I;16":
            im = Image.fromarray((np.asarray(Image.fromarray(rgb).convert("L")).astype(np.uint16) * 3))
        else:
            im = _in_mode(rgb, mode)
        out.append(im)
    return out


def _multipage(pages: list[Image.Image], compression: str | None) -> bytes:
    buf = io.BytesIO()
    pages[0].save(buf, "TIFF", save_all=True, append_images=pages[1:],
                  **({"compression": compression} if compression else {}))
    return buf.getvalue()


def _pdq_of_page(data: bytes, n: int) -> str:
    im = Image.open(io.BytesIO(data))
    im.seek(n)
    v, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(im.convert("RGB"))))
    return _vec_hex(v)


def _ifd_offsets(data: bytes) -> list[tuple[int, int]]:
    """(IFD offset, offset of its next-IFD field) along a little-endian classic TIFF's chain,
    read with struct (independent of both Pillow and nearmatch)."""
    import struct
    assert data[:4] == b"II*\0"
    out, at = [], struct.unpack_from("<I", data, 4)[0]
    while at and len(out) < 100:
        n = struct.unpack_from("<H", data, at)[0]
        nxt = at + 2 + 12 * n
        out.append((at, nxt))
        at = struct.unpack_from("<I", data, nxt)[0]
    return out


@pytest.mark.parametrize("compression", COMPRESSIONS + ["jpeg"], ids=lambda c: c or "raw")
def test_tiff_pages_are_child_records_hashed_as_pillow_seeks(tmp_path, compression):
    pages = _pages(compression)
    data = _multipage(pages, compression)
    ref = Image.open(io.BytesIO(data))
    assert ref.n_frames == len(pages)
    (tmp_path / "doc.tif").write_bytes(data)
    recs = list(nearmatch.scan(tmp_path, algos=("pdq",)))
    got = {r["path"].rsplit("/doc.tif", 1)[1]: r for r in recs}
    assert sorted(got) == [""] + sorted(f"!/page/{n}" for n in range(1, len(pages))), sorted(got)
    assert got[""]["descendants"] == len(pages) - 1 and "error" not in got[""]
    exact = 0
    for n in range(len(pages)):
        rec = got[f"!/page/{n}" if n else ""]
        ref.seek(n)
        assert (rec["width"], rec["height"]) == ref.size, n
        assert rec["hashes"]["pdq"] == _pdq_of_page(data, n), (n, ref.mode)
        exact += 1
        if n:
            assert rec["type"] == "tiff-page" and recs[rec["parent"]]["path"].endswith("/doc.tif")
            assert rec["depth"] == 1 and "md5" not in rec
    assert exact == len(pages)
    none = list(nearmatch.scan(tmp_path, algos=("pdq",), containers="none"))
    assert [r["path"] for r in none] == [str(tmp_path / "doc.tif")]


def test_tiff_pages_in_reports_limits_loops_and_damage(tmp_path):
    from test_reports import case_graph, csv_rows, dfxml_files

    ev = tmp_path / "ev"
    ev.mkdir()
    pages = [Image.fromarray(rgb) for _, rgb in IMAGES[:6]]
    data = _multipage(pages, "tiff_lzw")
    (ev / "doc.tif").write_bytes(data)
    ifds = _ifd_offsets(data)
    assert len(ifds) == 6
    # Page 3's next-IFD offset points back at page 1: Pillow stops after page 3, so do we,
    # and the loop is the file's error.
    looped = bytearray(data)
    looped[ifds[3][1]:ifds[3][1] + 4] = ifds[1][0].to_bytes(4, "little")
    (ev / "loop.tif").write_bytes(bytes(looped))
    assert Image.open(io.BytesIO(bytes(looped))).n_frames == 4
    # Page 1 pointing at itself.
    selfish = bytearray(data)
    selfish[ifds[1][1]:ifds[1][1] + 4] = ifds[1][0].to_bytes(4, "little")
    (ev / "self.tif").write_bytes(bytes(selfish))
    # Page 2's strip offsets point past the end: that page is a decode error record, the
    # others are hashed. Pillow cannot read it either.
    broken = bytearray(data)
    at, _ = ifds[2]
    import struct
    for k in range(struct.unpack_from("<H", data, at)[0]):
        e = at + 2 + 12 * k
        if struct.unpack_from("<H", data, e)[0] == 273:
            typ, count, value = struct.unpack_from("<HII", data, e + 2)
            assert typ == 4 and count == 1
            broken[e + 8:e + 12] = (len(data) + 10_000).to_bytes(4, "little")
    (ev / "broken.tif").write_bytes(bytes(broken))
    bad = Image.open(io.BytesIO(bytes(broken)))
    bad.seek(2)
    with pytest.raises(Exception):
        bad.load()
    # A known page inside a ZIP matches.
    import zipfile
    with zipfile.ZipFile(ev / "docs.zip", "w") as z:
        z.writestr("scans/doc.tif", data)
    s = nearmatch.HashSet.build(tmp_path / "k.nmset", [_pdq_of_page(data, 4)],
                                metadata=[{"id": "K-P4"}])
    outs = [tmp_path / n for n in ("r.jsonl", "r.csv", "r.dfxml", "r.jsonld")]
    recs = list(nearmatch.scan(ev, s.path, algos=("pdq",), output=outs))
    got = {r["path"].split("/ev/", 1)[1]: r for r in recs}
    for where in ("doc.tif!/page/4", "docs.zip!/scans/doc.tif!/page/4"):
        assert got[where]["disposition"] == "matched", got[where]
        assert got[where]["matches"][0]["entry"] == "K-P4"
    assert [p for p in got if p.startswith("loop.tif!/")] == [f"loop.tif!/page/{n}" for n in (1, 2, 3)]
    assert "IFD loop" in got["loop.tif"]["error"] and got["loop.tif"]["disposition"] == "unmatched"
    assert [p for p in got if p.startswith("self.tif!/")] == ["self.tif!/page/1"]
    assert "IFD loop" in got["self.tif"]["error"]
    assert got["broken.tif!/page/2"]["disposition"] == "error:decode", got["broken.tif!/page/2"]
    assert "page 2" in got["broken.tif!/page/2"]["error"]
    for n in (1, 3, 4, 5):
        assert got[f"broken.tif!/page/{n}"]["hashes"]["pdq"] == _pdq_of_page(data, n)
    # Every report carries the page as the other children: path, parent, type.
    rows = {r["path"].split("/ev/", 1)[1]: r for r in csv_rows(outs[1])}
    page = rows["doc.tif!/page/4"]
    assert page["parent"] == str(got["doc.tif"]["index"]) and page["disposition"] == "matched"
    _, fos = dfxml_files(outs[2])
    fo = {f["raw"].decode().split("/ev/", 1)[1]: f for f in fos}
    assert fo["doc.tif!/page/4"]["parent"] == got["doc.tif"]["index"]
    assert fo["doc.tif!/page/4"]["matches"] == 1
    files, rels, _ = case_graph(outs[3])
    ids = {f["nearmatch:recordIndex"]: f["@id"] for f in files}
    child = ids[got["doc.tif!/page/4"]["index"]]
    def ref_ids(v):
        return {x["@id"] for x in (v if isinstance(v, list) else [v])}

    assert any(r["uco-core:kindOfRelationship"] == "Contained_Within"
               and child in ref_ids(r["uco-core:source"])
               and ids[got["doc.tif"]["index"]] in ref_ids(r["uco-core:target"]) for r in rels)
    # The frames limit: past it, one skipped:limit record names it.
    few = [r for r in nearmatch.scan(ev / "doc.tif", algos=("pdq",), container_limits={"frames": 3})]
    assert [r["path"].rsplit("/", 1)[1] for r in few[1:]] == ["1", "2", "3"]
    assert few[-1]["disposition"] == "skipped:limit" and "frames limit" in few[-1]["error"]
