"""EXIF orientation (``orientation="exif"``) against Pillow's ``ImageOps.exif_transpose`` feeding
Meta's ``pdqhash`` and Python ``imagehash``; the default (``"stored"``) against the same
references on the untransposed pixels.

Images are synthetic (gradient plus shapes), written by Pillow with the Orientation tag set
through ``Image.Exif()``.
"""

from __future__ import annotations

import io
import pickle
import struct

import imagehash
import numpy as np
import pdqhash
import pytest
from PIL import Image, ImageOps

import nearmatch
from conftest import gradient, shapes

ORIENTATION = 0x0112

#: (format, save options): lossless or Pillow-decoded-identically encodings only, so that the
#: pixels nearmatch decodes are Pillow's (JPEG through libjpeg-turbo on both sides).
FORMATS = [
    ("JPEG", {"quality": 95}),
    ("PNG", {}),
    ("WEBP", {"lossless": True}),
    ("TIFF", {}),
]


def picture() -> Image.Image:
    """A 120x80 picture with no symmetry: a gradient with shapes over its left half."""
    g = gradient(80, 120)
    g[:, :60] = shapes(80, 60, 11)
    return Image.fromarray(g)


def write(tmp_path, fmt: str, opts: dict, tag: int | None) -> str:
    img = picture()
    exif = Image.Exif()
    if tag is not None:
        exif[ORIENTATION] = tag
    path = tmp_path / f"o{tag}.{fmt.lower()}"
    img.save(path, fmt, exif=exif, **opts)
    return str(path)


def opened(path: str, fmt: str) -> tuple[Image.Image, Image.Image]:
    """(stored, displayed) pixels of a written file, as Pillow gives them.

    Pillow (``TiffImagePlugin.load_end``, Pillow 13) applies a TIFF's Orientation tag itself
    when it loads the file, so ``Image.open`` never shows a TIFF's stored pixels: for TIFF the
    stored picture is the lossless one that was written.
    """
    with Image.open(path) as im:
        shown = ImageOps.exif_transpose(im)
        if fmt == "TIFF":
            return picture(), shown
        im.load()
        return im.copy(), shown


def pdq_hex(img: Image.Image) -> str:
    v, _ = pdqhash.compute(np.ascontiguousarray(np.asarray(img.convert("RGB"))))
    bits = "".join("1" if b else "0" for b in v)
    return "".join(f"{int(bits[i:i + 4], 2):x}" for i in range(0, 256, 4))


@pytest.mark.parametrize("fmt,opts", FORMATS, ids=[f for f, _ in FORMATS])
@pytest.mark.parametrize("tag", range(1, 9))
def test_pdq_exif_matches_pillow_exif_transpose(tmp_path, fmt, opts, tag):
    path = write(tmp_path, fmt, opts, tag)
    with Image.open(path) as im:
        # The file really carries the tag (else the test proves nothing).
        assert im.getexif().get(ORIENTATION) == tag
    stored, shown = opened(path, fmt)
    if tag >= 5:
        assert shown.size == stored.size[::-1]
    h = nearmatch.pdq(path, orientation="exif")
    assert str(h) == pdq_hex(shown), (fmt, tag)
    assert h.exif_orientation == tag
    assert pickle.loads(pickle.dumps(h)).exif_orientation == tag
    assert nearmatch.pdq(path).exif_orientation is None
    # The default ignores the tag, as pdqhash on Image.open(path) does.
    assert str(nearmatch.pdq(path)) == pdq_hex(stored), (fmt, tag)
    assert str(nearmatch.pdq(path, orientation="stored")) == pdq_hex(stored)
    # Bytes and a PIL image (transposed by Pillow itself) agree.
    with open(path, "rb") as f:
        assert str(nearmatch.pdq(f.read(), orientation="exif")) == str(h)
    with Image.open(path) as im:
        assert str(nearmatch.pdq(im, orientation="exif")) == str(h)
    if fmt == "TIFF":
        # Pillow itself shows TIFFs as displayed: the reference hash of Image.open(tiff) is
        # the `exif` one, whatever the caller intended.
        with Image.open(path) as im:
            assert pdq_hex(im) == str(h)


IMAGEHASH = [
    ("phash", nearmatch.phash, imagehash.phash),
    ("dhash", nearmatch.dhash, imagehash.dhash),
    ("ahash", nearmatch.ahash, imagehash.average_hash),
    ("whash", nearmatch.whash, imagehash.whash),
]


@pytest.mark.parametrize("fmt,opts", FORMATS, ids=[f for f, _ in FORMATS])
@pytest.mark.parametrize("tag", range(1, 9))
def test_imagehash_family_exif_matches_imagehash_on_transposed(tmp_path, fmt, opts, tag):
    path = write(tmp_path, fmt, opts, tag)
    stored, shown = opened(path, fmt)
    for name, ours, theirs in IMAGEHASH:
        for size in (8, 16):
            assert str(ours(path, size, orientation="exif")) == str(theirs(shown, size)), \
                (name, size, fmt, tag)
            assert str(ours(path, size)) == str(theirs(stored, size)), (name, size, fmt, tag)
    # The options path (non-default imagehash options) applies it too.
    h = nearmatch.phash(path, highfreq_factor=2, orientation="exif")
    assert str(h) == str(imagehash.phash(shown, highfreq_factor=2))
    assert h.exif_orientation == tag


def test_hash_files_and_invalid_values(tmp_path):
    paths = [write(tmp_path, "PNG", {}, t) for t in (6, 8)]
    res = nearmatch.hash_files(paths, ("pdq", "phash"), orientation="exif")
    for p, hx, ph in zip(paths, res["pdq"], res["phash"]):
        assert hx == str(nearmatch.pdq(p, orientation="exif"))
        assert ph == str(nearmatch.phash(p, orientation="exif"))
    assert res["pdq"] != nearmatch.hash_files(paths, ("pdq",))["pdq"]
    # The column says which tag was applied: the ones written, none for an untagged file or
    # when orientation is left stored.
    plain = write(tmp_path, "JPEG", {"quality": 90}, None)
    res = nearmatch.hash_files(paths + [plain], ("pdq",), orientation="exif")
    assert res.exif_orientation == [6, 8, None]
    assert nearmatch.hash_files(paths, ("pdq",)).exif_orientation == [None, None]
    df = res.to_pandas()
    assert df["exif_orientation"].tolist()[:2] == [6, 8]
    assert df["exif_orientation"].isna().tolist() == [False, False, True]
    with pytest.raises(ValueError, match="orientation"):
        nearmatch.pdq(paths[0], orientation="displayed")
    with pytest.raises(ValueError, match="numpy array"):
        nearmatch.pdq(np.asarray(picture()), orientation="exif")
    # Out-of-range tags (0, 9, 255) are ignored, as by Pillow.
    for tag in (0, 9, 255):
        p = write(tmp_path, "PNG", {}, tag)
        with Image.open(p) as im:
            assert str(nearmatch.pdq(p, orientation="exif")) == pdq_hex(ImageOps.exif_transpose(im))
        assert str(nearmatch.pdq(p, orientation="exif")) == str(nearmatch.pdq(p))


def jpeg_with_app1(payload: bytes) -> bytes:
    buf = io.BytesIO()
    picture().save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


@pytest.mark.parametrize("payload", [
    # IFD0 pointing at itself, claiming 65535 entries.
    b"Exif\0\0II*\0\x08\0\0\0\xff\xff" + b"\x12\x01\x03\0\xff\xff\xff\xff\x10\0\0\0",
    # A huge count whose data lies far past the block.
    b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x12\0\x03\xff\xff\xff\xff\x7f\xff\xff\xf0\0\0\0\0",
    # Truncated inside the entry.
    b"Exif\0\0II*\0\x08\0\0\0\x01\0\x12\x01\x03",
    # IFD0 offset past the end.
    b"Exif\0\0II*\0\xff\xff\xff\x7f",
])
def test_hostile_exif_blocks_are_ignored(payload):
    data = jpeg_with_app1(payload)
    assert str(nearmatch.pdq(data, orientation="exif")) == str(nearmatch.pdq(data))


def test_scan_records_say_which_orientation_was_applied(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    write(ev, "JPEG", {"quality": 90}, 6)
    write(ev, "PNG", {}, None)
    res = nearmatch.scan(ev, algos="pdq", orientation="exif")
    assert res.header["options"]["orientation"] == "exif"
    recs = {r["path"].rsplit("/", 1)[-1]: r for r in res.records()}
    assert recs["o6.jpeg"]["exif_orientation"] == 6
    assert "exif_orientation" not in recs["oNone.png"]
    # Width and height stay those stored.
    assert (recs["o6.jpeg"]["width"], recs["o6.jpeg"]["height"]) == (120, 80)
    assert recs["o6.jpeg"]["hashes"]["pdq"] == str(
        nearmatch.pdq(str(ev / "o6.jpeg"), orientation="exif"))
    default = nearmatch.scan(ev, algos="pdq")
    assert default.header["options"]["orientation"] == "stored"
    assert all("exif_orientation" not in r for r in default.records())


def test_exif_orientation_in_every_report_format(tmp_path):
    """The field is where each format keeps optional per-file facts, and the reports stay
    valid (DFXML schema, CASE ``case_validate``)."""
    import csv
    import subprocess

    from test_reports import _schema, _tool

    ev = tmp_path / "ev"
    ev.mkdir()
    write(ev, "JPEG", {"quality": 90}, 8)
    outs = [tmp_path / n for n in ("r.jsonl", "r.csv", "r.dfxml", "r.jsonld")]
    nearmatch.scan(ev, algos="pdq", orientation="exif", output=outs)
    rows = list(csv.DictReader(open(outs[1], newline="")))
    assert [r["exif_orientation"] for r in rows] == ["8"]
    dfxml = outs[2].read_text()
    assert 'exif_orientation="8"' in dfxml
    assert '"nearmatch:exifOrientation":8' in outs[3].read_text()
    schema_path = _schema()
    if schema_path is not None:
        import xmlschema

        errors = list(xmlschema.XMLSchema(str(schema_path)).iter_errors(str(outs[2])))
        assert not errors, errors[:3]
    tool = _tool("case_validate")
    if tool is not None:
        run = subprocess.run([tool, "--allow-info", str(outs[3])], capture_output=True,
                             text=True, timeout=900)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]


# --- XMP: Pillow's getexif falls back to the XMP packet's tiff:Orientation when the Exif block
# has no Orientation entry; exif_transpose then turns the picture by it.

def xmp_packet(value: int, element: bool) -> str:
    inner = (f"<tiff:Orientation>{value}</tiff:Orientation>" if element
             else "")
    attr = "" if element else f' tiff:Orientation="{value}"'
    return ('<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>'
            '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
            '<rdf:Description rdf:about="" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
            f' tiff:Make="ACME"{attr}>{inner}</rdf:Description>'
            '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>')


def write_xmp(tmp_path, fmt: str, packet: str, exif_tag: int | None | str = None,
              png_chunk: str = "itxt") -> str:
    """`picture()` with `packet` as its XMP; `exif_tag`: an Exif Orientation to add too, or
    "make" for an Exif block without one."""
    img = picture()
    kwargs: dict = {}
    if exif_tag is not None:
        exif = Image.Exif()
        exif[0x010F] = "ACME"
        if exif_tag != "make":
            exif[ORIENTATION] = exif_tag
        kwargs["exif"] = exif
    path = tmp_path / f"x.{fmt.lower()}"
    if fmt == "PNG":
        from PIL.PngImagePlugin import PngInfo
        info = PngInfo()
        key = "XML:com.adobe.xmp"
        if png_chunk == "text":
            info.add_text(key, packet)
        elif png_chunk == "ztxt":
            info.add_text(key, packet, zip=True)
        elif png_chunk == "itxt":
            info.add_itxt(key, packet)
        else:  # compressed iTXt
            info.add_itxt(key, packet, zip=True)
        img.save(path, "PNG", pnginfo=info, **kwargs)
    elif fmt == "TIFF":
        # Pillow's TIFF writer takes XMP as tag 700 (it ignores `xmp=`), and the other tags of
        # IFD0 beside it in `tiffinfo` (where the file's own Orientation lives).
        tags = {700: packet.encode()}
        if exif_tag is not None:
            tags[0x010F] = "ACME"
            if exif_tag != "make":
                tags[ORIENTATION] = exif_tag
        img.save(path, fmt, tiffinfo=tags)
    else:
        opts = dict(FORMATS)[fmt]
        img.save(path, fmt, xmp=packet.encode(), **opts, **kwargs)
    return str(path)


def check_against_pillow(path: str, fmt: str, want_tag: int | None):
    with Image.open(path) as im:
        # Pillow sees the value we expect (else the case proves nothing).
        got = im.getexif().get(ORIENTATION)
        assert got == want_tag, (path, got)
        shown = ImageOps.exif_transpose(im)
    h = nearmatch.pdq(path, orientation="exif")
    assert str(h) == pdq_hex(shown), (fmt, want_tag)
    applied = want_tag if want_tag in range(1, 9) else None
    assert h.exif_orientation == applied
    with open(path, "rb") as f:
        assert str(nearmatch.pdq(f.read(), orientation="exif")) == str(h)
    if fmt != "TIFF":  # Pillow turns a TIFF on load (see `opened`)
        with Image.open(path) as im:
            im.load()
            assert str(nearmatch.pdq(path)) == pdq_hex(im)
    for ours, theirs in ((nearmatch.phash, imagehash.phash), (nearmatch.dhash, imagehash.dhash)):
        assert str(ours(path, 8, orientation="exif")) == str(theirs(shown, 8)), (fmt, want_tag)


@pytest.mark.parametrize("fmt", [f for f, _ in FORMATS])
@pytest.mark.parametrize("element", [False, True], ids=["attribute", "element"])
@pytest.mark.parametrize("value", [3, 6, 7, 8])
def test_xmp_orientation_is_applied_as_pillow_does(tmp_path, fmt, element, value):
    path = write_xmp(tmp_path, fmt, xmp_packet(value, element))
    check_against_pillow(path, fmt, value)


@pytest.mark.parametrize("chunk", ["text", "ztxt", "itxt", "itxt-zip"])
def test_xmp_orientation_in_every_png_text_chunk(tmp_path, chunk):
    path = write_xmp(tmp_path, "PNG", xmp_packet(6, False), png_chunk=chunk)
    check_against_pillow(path, "PNG", 6)


@pytest.mark.parametrize("fmt", [f for f, _ in FORMATS])
def test_exif_orientation_hides_xmp_and_xmp_fills_in_for_a_missing_entry(tmp_path, fmt):
    packet = xmp_packet(6, False)
    # An Exif Orientation of 1 wins over the XMP packet's 6: nothing is turned.
    check_against_pillow(write_xmp(tmp_path, fmt, packet, exif_tag=1), fmt, 1)
    # An Exif block without an Orientation entry: the XMP value applies.
    check_against_pillow(write_xmp(tmp_path, fmt, packet, exif_tag="make"), fmt, 6)
    # An XMP value outside 1..8 turns nothing.
    check_against_pillow(write_xmp(tmp_path, fmt, xmp_packet(9, True)), fmt, 9)
