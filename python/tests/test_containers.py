"""Images inside containers: archives made here with independent tools (zipfile, tarfile, gzip,
bz2, lzma, zstandard, py7zr) from synthetic images; every member is a record with a virtual path
and its parent, hashed as the references hash the original bytes (hashlib, pdqhash)."""

from __future__ import annotations

import base64
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import shutil
import struct
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import gradient, noise, shapes

pdqhash = pytest.importorskip("pdqhash")
py7zr = pytest.importorskip("py7zr")
zstandard = pytest.importorskip("zstandard")

ROOT = Path(__file__).resolve().parents[2]


def png(a: np.ndarray) -> bytes:
    b = io.BytesIO()
    Image.fromarray(a).save(b, format="PNG")
    return b.getvalue()


def jpeg(a: np.ndarray, q: int = 90) -> bytes:
    b = io.BytesIO()
    Image.fromarray(a).save(b, format="JPEG", quality=q)
    return b.getvalue()


def ref_pdq(data: bytes) -> str:
    """Meta's reference PDQ (the pdqhash package) of an image's pixels (decoded by Pillow), as
    hex: the bit vector read four bits to a digit, first bit first."""
    rgb = np.ascontiguousarray(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    v, _ = pdqhash.compute(rgb)
    bits = "".join("1" if b else "0" for b in v)
    return "".join(f"{int(bits[i:i + 4], 2):x}" for i in range(0, 256, 4))


def tar_bytes(members: dict[str, bytes]) -> bytes:
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_600_000_000
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()


def zip_bytes(members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> bytes:
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", compression=method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return b.getvalue()


IMG = {
    "a.png": png(shapes(120, 160, 80)),
    "b.jpg": jpeg(shapes(100, 130, 81)),
    "c.png": png(gradient(90, 70)),
    "d.jpg": jpeg(noise(64, 64, 82)),
}


def by_path(res) -> dict[str, dict]:
    return {r["path"]: r for r in res}


def check_member(rec: dict, data: bytes) -> None:
    assert rec["md5"] == hashlib.md5(data).hexdigest(), rec["path"]
    assert rec["sha1"] == hashlib.sha1(data).hexdigest()
    assert rec["sha256"] == hashlib.sha256(data).hexdigest()
    if "hashes" in rec:
        assert rec["hashes"]["pdq"] == ref_pdq(data), rec["path"]


def test_members_of_every_archive_format_are_records_with_virtual_paths(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    inner_zip = zip_bytes({"deep/c.png": IMG["c.png"]}, zipfile.ZIP_STORED)
    (ev / "x.tar.gz").write_bytes(gzip.compress(tar_bytes({"y.zip": inner_zip, "b.jpg": IMG["b.jpg"]})))
    (ev / "a.zip").write_bytes(zip_bytes({"dir/a.png": IMG["a.png"], "notes.txt": b"hello\n"}))
    (ev / "bz.zip").write_bytes(zip_bytes({"a.png": IMG["a.png"]}, zipfile.ZIP_BZIP2))
    (ev / "lz.zip").write_bytes(zip_bytes({"a.png": IMG["a.png"]}, zipfile.ZIP_LZMA))
    (ev / "t.tar").write_bytes(tar_bytes({"d.jpg": IMG["d.jpg"]}))
    (ev / "t.tar.bz2").write_bytes(bz2.compress(tar_bytes({"d.jpg": IMG["d.jpg"]})))
    (ev / "t.tar.xz").write_bytes(lzma.compress(tar_bytes({"d.jpg": IMG["d.jpg"]})))
    (ev / "t.tar.zst").write_bytes(zstandard.ZstdCompressor().compress(tar_bytes({"d.jpg": IMG["d.jpg"]})))
    # Two gzip members concatenated: one tar stream split across them.
    t = tar_bytes({"a.png": IMG["a.png"], "c.png": IMG["c.png"]})
    (ev / "multi.tgz").write_bytes(gzip.compress(t[:1024]) + gzip.compress(t[1024:]))
    (ev / "lone.png.gz").write_bytes(gzip.compress(IMG["c.png"]))
    with py7zr.SevenZipFile(ev / "s.7z", "w") as z:
        z.writestr(IMG["b.jpg"], "pics/b.jpg")
        z.writestr(IMG["a.png"], "pics/a.png")
    # An office document is a ZIP; so is a self-extracting archive behind its stub.
    (ev / "report.docx").write_bytes(zip_bytes({"word/document.xml": b"<w/>", "word/media/image1.png": IMG["c.png"]}))
    (ev / "setup.exe").write_bytes(b"MZ" + bytes(4000) + zip_bytes({"payload/d.jpg": IMG["d.jpg"]}))

    res = nearmatch.scan(ev)
    recs = list(res)
    got = by_path(recs)
    e = str(ev)
    expect = {
        f"{e}/a.zip!/dir/a.png": IMG["a.png"],
        f"{e}/bz.zip!/a.png": IMG["a.png"],
        f"{e}/lz.zip!/a.png": IMG["a.png"],
        f"{e}/x.tar.gz!/b.jpg": IMG["b.jpg"],
        f"{e}/x.tar.gz!/y.zip!/deep/c.png": IMG["c.png"],
        f"{e}/t.tar!/d.jpg": IMG["d.jpg"],
        f"{e}/t.tar.bz2!/d.jpg": IMG["d.jpg"],
        f"{e}/t.tar.xz!/d.jpg": IMG["d.jpg"],
        f"{e}/t.tar.zst!/d.jpg": IMG["d.jpg"],
        f"{e}/multi.tgz!/a.png": IMG["a.png"],
        f"{e}/multi.tgz!/c.png": IMG["c.png"],
        f"{e}/lone.png.gz!/lone.png": IMG["c.png"],
        f"{e}/s.7z!/pics/b.jpg": IMG["b.jpg"],
        f"{e}/s.7z!/pics/a.png": IMG["a.png"],
        f"{e}/report.docx!/word/media/image1.png": IMG["c.png"],
        f"{e}/setup.exe!/payload/d.jpg": IMG["d.jpg"],
    }
    for path, data in expect.items():
        assert path in got, (path, sorted(got))
        rec = got[path]
        assert rec["disposition"] == "unmatched", rec
        check_member(rec, data)
        parent = recs[rec["parent"]]
        assert path.startswith(parent["path"] + "!/")
        assert parent["disposition"] == "container"
        assert rec["index"] > parent["index"]
    assert got[f"{e}/x.tar.gz!/y.zip!/deep/c.png"]["depth"] == 2
    assert got[f"{e}/x.tar.gz!/y.zip"]["container"] == "zip"
    assert got[f"{e}/a.zip!/notes.txt"]["disposition"] == "not-image"
    # Every record of a container follows it, and it counts them.
    for i, r in enumerate(recs):
        if r.get("descendants"):
            below = recs[i + 1:i + 1 + r["descendants"]]
            assert all(x["path"].startswith(r["path"] + "!/") for x in below)
    # The walked files reconcile: records = walked + members.
    assert res.summary["files_walked"] == len(list(ev.iterdir()))
    assert res.summary["files_reported"] == len(recs)
    assert res.summary["container_members"] == sum(1 for r in recs if "parent" in r)
    none = list(nearmatch.scan(ev, containers="none"))
    assert len(none) == len(list(ev.iterdir())) and all("parent" not in r for r in none)


def test_known_images_inside_archives_match_by_pdq_and_md5(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "holiday.zip").write_bytes(zip_bytes({"1.png": IMG["a.png"], "2.jpg": IMG["b.jpg"]}))
    s_pdq = nearmatch.HashSet.build(tmp_path / "p.nmset", [ref_pdq(IMG["a.png"])],
                                    metadata=[{"id": "K-A"}])
    s_md5 = nearmatch.HashSet.build(tmp_path / "m.nmset", [hashlib.md5(IMG["b.jpg"]).hexdigest()],
                                    algo="md5", metadata=[{"id": "K-B"}])
    got = by_path(nearmatch.scan(ev, [s_pdq.path, s_md5.path]))
    a, b = got[f"{ev}/holiday.zip!/1.png"], got[f"{ev}/holiday.zip!/2.jpg"]
    assert a["disposition"] == "matched" and a["matches"][0]["entry"] == "K-A"
    assert b["disposition"] == "matched" and b["matches"][0]["entry"] == "K-B"
    assert got[f"{ev}/holiday.zip"]["disposition"] == "container"


def _encrypted_flag(z: bytes) -> bytes:
    """Sets the 'encrypted' bit of every entry's general-purpose flags (local and central)."""
    out = bytearray(z)
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = out.find(sig)
        while i >= 0:
            flags = struct.unpack_from("<H", out, i + off)[0] | 1
            struct.pack_into("<H", out, i + off, flags)
            i = out.find(sig, i + 4)
    return bytes(out)


def test_hostile_containers_end_in_dispositions_with_reasons(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    good = zip_bytes({"a.png": IMG["a.png"], "b.jpg": IMG["b.jpg"], "c.png": IMG["c.png"]},
                     zipfile.ZIP_STORED)
    (ev / "truncated.zip").write_bytes(good[: len(IMG["a.png"]) + len(IMG["b.jpg"]) + 200])
    flipped = bytearray(good)
    flipped[len(IMG["a.png"]) // 2 + 40] ^= 0xFF
    (ev / "flipped.zip").write_bytes(bytes(flipped))
    (ev / "locked.zip").write_bytes(_encrypted_flag(zip_bytes({"secret.png": IMG["c.png"]}, zipfile.ZIP_STORED)))
    (ev / "names.tar").write_bytes(tar_bytes({"../../x.png": IMG["c.png"], "/abs/y.png": IMG["c.png"]}))
    (ev / "arch.rar").write_bytes(b"Rar!\x1a\x07\x01\x00" + bytes(100))
    # Nested deeper than the depth limit.
    z = IMG["d.jpg"]
    for i in range(5):
        z = zip_bytes({f"level{i}.zip" if i else "d.jpg": z})
    (ev / "deep.zip").write_bytes(z)
    # A bomb: 300 MB of zeros in a 300 KB member, and a zip of ten of those.
    zeros = zip_bytes({"zeros.bin": bytes(300 << 20)})
    (ev / "bomb.zip").write_bytes(zip_bytes({f"b{i}.zip": zeros for i in range(10)}, zipfile.ZIP_STORED))
    res = nearmatch.scan(ev, container_limits={"depth": 3, "expanded_bytes": 500 << 20})
    recs = list(res)
    got = by_path(recs)
    e = str(ev)
    t = got[f"{e}/truncated.zip"]
    assert t["disposition"] == "container" and "central directory" in t["error"], t
    assert got[f"{e}/truncated.zip!/a.png"]["disposition"] == "unmatched"
    assert got[f"{e}/flipped.zip!/a.png"]["disposition"] == "error:crc", got[f"{e}/flipped.zip!/a.png"]
    assert got[f"{e}/flipped.zip!/b.jpg"]["disposition"] == "unmatched"
    lk = got[f"{e}/locked.zip!/secret.png"]
    assert lk["disposition"] == "skipped:encrypted" and lk["size"] == len(IMG["c.png"])
    assert lk["crc32"] == f"{zlib.crc32(IMG['c.png']):08x}"
    assert got[f"{e}/names.tar!/../../x.png"]["disposition"] == "unmatched"
    assert got[f"{e}/names.tar!//abs/y.png"]["disposition"] == "unmatched"
    assert got[f"{e}/arch.rar"]["disposition"] == "skipped:unsupported" and "RAR" in got[f"{e}/arch.rar"]["error"]
    limited = [r for r in recs if r["path"].startswith(f"{e}/deep.zip") and r["disposition"] == "skipped:limit"]
    assert len(limited) == 1 and "depth limit" in limited[0]["error"] and limited[0]["depth"] == 3
    bomb = [r for r in recs if r["path"].startswith(f"{e}/bomb.zip!/")]
    assert any(r["disposition"] == "skipped:limit" and "expanded-bytes" in r["error"] for r in bomb), bomb
    # The inner archives stop expanding once the walked file's budget is spent, and say so.
    inner = [r for r in bomb if r["path"].endswith(".zip")]
    assert len(inner) == 10 and all("budget" in r.get("error", "") for r in inner), inner
    assert res.failed and res.exit_code == 2


def test_a_resume_in_the_middle_of_the_archives_equals_an_uninterrupted_scan(tmp_path):
    cli = shutil.which("nearmatch") or str(ROOT / "target" / "debug" / "nearmatch")
    if not os.path.exists(cli):
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    ev = tmp_path / "ev"
    ev.mkdir()
    for i in range(6):
        (ev / f"z{i}.zip").write_bytes(zip_bytes({f"m{j}.png": png(shapes(40, 50, 90 + i * 7 + j)) for j in range(4)}))
    out = tmp_path / "r.jsonl"

    def run(*extra):
        return subprocess.run([cli, "scan", str(ev), "-o", str(out), "-q", "--threads", "2", *extra],
                              capture_output=True)

    assert run("--debug-stop-after", "3").returncode == 70
    assert (tmp_path / "r.jsonl.partial").exists()
    assert run("--resume").returncode == 0
    resumed = [json.loads(x) for x in out.read_text().splitlines()]
    out.unlink()
    assert run().returncode == 0
    clean = [json.loads(x) for x in out.read_text().splitlines()]

    def strip(rs):
        for r in rs:
            for k in ("started_utc", "finished_utc", "elapsed_seconds", "resumed", "command_line", "atime"):
                r.pop(k, None)
        return rs

    assert strip(resumed) == strip(clean)
    assert sum(1 for r in clean if r.get("parent") is not None) == 24


def test_an_exif_thumbnail_is_a_record_of_its_own(tmp_path):
    """An edited photo whose EXIF thumbnail still shows the known original: the thumbnail is a
    child record (photo.jpg!/exif-thumbnail) that matches; the main image does not."""
    piexif = pytest.importorskip("piexif")
    known = shapes(120, 160, 95)
    thumb = jpeg(known[::1, ::1], 90)
    edited = noise(240, 320, 96)
    ev = tmp_path / "ev"
    ev.mkdir()
    exif = piexif.dump({"0th": {piexif.ImageIFD.Make: b"synthetic"}, "1st": {}, "thumbnail": thumb})
    b = io.BytesIO()
    Image.fromarray(edited).save(b, format="JPEG", quality=90, exif=exif)
    (ev / "photo.jpg").write_bytes(b.getvalue())
    # piexif stores the thumbnail without its APP segments: the embedded bytes, as piexif reads
    # them back, are the reference.
    thumb = piexif.load(b.getvalue())["thumbnail"]
    # The same photo inside a ZIP: its thumbnail is found there too.
    (ev / "album.zip").write_bytes(zip_bytes({"photo.jpg": b.getvalue()}))
    s = nearmatch.HashSet.build(tmp_path / "k.nmset", [ref_pdq(thumb)], metadata=[{"id": "K-T"}])
    recs = list(nearmatch.scan(ev, s.path))
    got = by_path(recs)
    for main in (f"{ev}/photo.jpg", f"{ev}/album.zip!/photo.jpg"):
        t = got[main + "!/exif-thumbnail"]
        assert t["disposition"] == "matched" and t["matches"][0]["entry"] == "K-T", t
        check_member(t, thumb)
        assert recs[t["parent"]]["path"] == main
        assert got[main]["disposition"] == "unmatched" and got[main]["descendants"] == 1
    none = by_path(nearmatch.scan(ev, s.path, containers="none"))
    assert f"{ev}/photo.jpg!/exif-thumbnail" not in none


def ref_pdq_pixels(img: Image.Image) -> str:
    """pdqhash of a Pillow image's RGB pixels (Pillow's own conversion from its mode)."""
    rgb = np.ascontiguousarray(np.asarray(img.convert("RGB")))
    v, _ = pdqhash.compute(rgb)
    bits = "".join("1" if b else "0" for b in v)
    return "".join(f"{int(bits[i:i + 4], 2):x}" for i in range(0, 256, 4))


def _members(recs, parent_path: str) -> list[dict]:
    return [r for r in recs if r["path"].startswith(parent_path + "!/")]


def test_pdf_images_are_members_jpegs_verbatim_raw_images_rebuilt(tmp_path):
    """img2pdf embeds a JPEG verbatim (DCTDecode: the member's MD5 is the original file's) and
    PNGs as Flate streams with PNG predictors (RGB, grey, palette): each is a member record
    whose PDQ is pdqhash's of the original image."""
    img2pdf = pytest.importorskip("img2pdf")
    ev = tmp_path / "ev"
    ev.mkdir()
    jpg = IMG["b.jpg"]
    rgb = IMG["a.png"]
    grey = png(np.asarray(Image.fromarray(shapes(70, 90, 83)).convert("L")))
    pal_img = Image.fromarray(shapes(60, 80, 84)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    b = io.BytesIO()
    pal_img.save(b, format="PNG")
    pal = b.getvalue()
    (ev / "doc.pdf").write_bytes(img2pdf.convert([jpg, rgb, grey, pal]))
    recs = list(nearmatch.scan(ev))
    doc = by_path(recs)[f"{ev}/doc.pdf"]
    assert doc["disposition"] == "container" and doc["container"] == "pdf", doc
    members = _members(recs, f"{ev}/doc.pdf")
    assert doc["members"] == 4 and len(members) == 4, members
    assert all(m["path"].split("!/")[1].startswith("object/") for m in members)
    assert all(m["disposition"] == "unmatched" for m in members), members
    by_md5 = {m["md5"]: m for m in members}
    assert hashlib.md5(jpg).hexdigest() in by_md5, "the JPEG is embedded verbatim"
    check_member(by_md5[hashlib.md5(jpg).hexdigest()], jpg)
    pdqs = sorted(m["hashes"]["pdq"] for m in members)
    want = sorted([ref_pdq(jpg), ref_pdq(rgb), ref_pdq(grey), ref_pdq_pixels(Image.open(io.BytesIO(pal)))])
    assert pdqs == want


def _raw_image(pdf, data: bytes, w: int, h: int, cs, bpc: int = 8, **extra):
    import pikepdf

    s = pikepdf.Stream(pdf, zlib.compress(data))
    s.Type = pikepdf.Name.XObject
    s.Subtype = pikepdf.Name.Image
    s.Width, s.Height, s.BitsPerComponent = w, h, bpc
    s.Filter = pikepdf.Name.FlateDecode
    if cs is not None:
        s.ColorSpace = cs
    for k, v in extra.items():
        s[f"/{k}"] = v
    return pdf.make_indirect(s)


def test_pdf_raw_colour_spaces_forms_encryption_and_damage(tmp_path):
    """CMYK (Pillow's conversion), an indexed image inside a Form XObject, a 1-bit stencil mask,
    a JPEG 2000 stream (unsupported, named), an owner-only encrypted PDF (read with the empty
    user password), a user-password PDF (skipped:encrypted) and a broken xref (rebuilt)."""
    pikepdf = pytest.importorskip("pikepdf")
    ev = tmp_path / "ev"
    ev.mkdir()
    cmyk = np.random.default_rng(85).integers(0, 256, size=(48, 64, 4), dtype=np.uint8)
    cmyk[8:30, 10:40] = [0, 200, 30, 10]
    pal_rgb = shapes(40, 56, 86)
    pal_img = Image.fromarray(pal_rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    palette = bytes(pal_img.getpalette()[: 32 * 3])
    mask_bits = np.packbits(np.asarray(Image.fromarray(shapes(32, 48, 87)).convert("1")), axis=1)
    mask_img = Image.fromarray(np.unpackbits(mask_bits, axis=1)[:, :48] * 255).convert("L")

    def build(path, **save):
        pdf = pikepdf.new()
        page = pdf.add_blank_page(page_size=(200, 200))
        jpx = pikepdf.Stream(pdf, b"\x00\x00\x00\x0cjP  \r\n\x87\n")
        jpx.Type, jpx.Subtype, jpx.Filter = pikepdf.Name.XObject, pikepdf.Name.Image, pikepdf.Name.JPXDecode
        jpx.Width = jpx.Height = 4
        imgs = {
            "Cm": _raw_image(pdf, cmyk.tobytes(), 64, 48, pikepdf.Name.DeviceCMYK),
            "Mk": _raw_image(pdf, mask_bits.tobytes(), 48, 32, None, 1, ImageMask=True),
            "Jp": pdf.make_indirect(jpx),
        }
        # The palette image is drawn only through a Form XObject.
        indexed = pikepdf.Array([pikepdf.Name.Indexed, pikepdf.Name.DeviceRGB, 31, pikepdf.String(palette)])
        form = {"Ix": _raw_image(pdf, pal_img.tobytes(), 56, 40, indexed)}
        fs = pikepdf.Stream(pdf, b"q 50 0 0 50 0 0 cm /Ix Do Q\n")
        fs.Type, fs.Subtype, fs.BBox = pikepdf.Name.XObject, pikepdf.Name.Form, [0, 0, 200, 200]
        fs.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({f"/{k}": v for k, v in form.items()}))
        imgs["Fm0"] = pdf.make_indirect(fs)
        page.Resources = pikepdf.Dictionary(XObject=pikepdf.Dictionary({f"/{k}": v for k, v in imgs.items()}))
        page.Contents = pdf.make_indirect(pikepdf.Stream(pdf, b"q /Fm0 Do Q /Cm Do /Mk Do /Jp Do\n"))
        pdf.save(path, **save)

    build(ev / "plain.pdf")
    build(ev / "owner.pdf", encryption=pikepdf.Encryption(owner="o-secret", user="", R=6))
    build(ev / "locked.pdf", encryption=pikepdf.Encryption(owner="o-secret", user="u-secret", R=4))
    damaged = bytearray((ev / "plain.pdf").read_bytes())
    at = damaged.rfind(b"startxref")
    damaged[at + 10:at + 14] = b"9999"
    (ev / "badxref.pdf").write_bytes(bytes(damaged))
    recs = list(nearmatch.scan(ev))
    got = by_path(recs)
    want = {
        ref_pdq_pixels(Image.frombytes("CMYK", (64, 48), cmyk.tobytes())),
        ref_pdq_pixels(pal_img),
        ref_pdq_pixels(mask_img),
    }
    for name in ("plain.pdf", "owner.pdf", "badxref.pdf"):
        members = _members(recs, f"{ev}/{name}")
        assert got[f"{ev}/{name}"]["disposition"] == "container", got[f"{ev}/{name}"]
        hashed = {m["hashes"]["pdq"] for m in members if m["disposition"] == "unmatched"}
        assert hashed == want, (name, members)
        jpx = [m for m in members if m["disposition"] == "skipped:unsupported"]
        assert len(jpx) == 1 and "JPXDecode" in jpx[0]["error"], members
    locked = got[f"{ev}/locked.pdf"]
    assert locked["disposition"] == "skipped:encrypted" and "password" in locked["error"], locked


def _animation(fmt: str, frames: list[np.ndarray], **save) -> bytes:
    b = io.BytesIO()
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(b, format=fmt, save_all=True, append_images=ims[1:], duration=100, loop=0, **save)
    return b.getvalue()


def _tiny_gif(frames: int) -> bytes:
    """A 2x2 GIF of `frames` identical frames, written byte by byte (Pillow would take minutes)."""
    head = b"GIF89a\x02\x00\x02\x00\x80\x00\x00" + bytes([0, 0, 0, 255, 255, 255])
    frame = bytes([0x21, 0xF9, 4, 0, 1, 0, 0, 0]) + bytes([0x2C, 0, 0, 0, 0, 2, 0, 2, 0, 0, 2, 2, 0x84, 0x51, 0])
    return head + frame * frames + b"\x3b"


def test_animation_frames_are_records_and_a_known_frame_matches(tmp_path):
    """Every frame after the first of an animated GIF, APNG and WebP is a child record
    (`anim.gif!/frame/N`) hashed as pdqhash hashes Pillow's frame N; a known picture shown in one
    frame of a GIF inside a ZIP matches; a 100,000-frame GIF stops at the frames limit."""
    ev = tmp_path / "ev"
    ev.mkdir()
    frames = [shapes(64, 80, 100 + i) for i in range(4)]
    anims = {
        "anim.gif": _animation("GIF", frames),
        "anim.png": _animation("PNG", frames),
        "anim.webp": _animation("WEBP", frames, lossless=True),
    }
    for name, data in anims.items():
        (ev / name).write_bytes(data)
    (ev / "still.gif").write_bytes(_animation("GIF", frames[:1]))
    (ev / "chat.zip").write_bytes(zip_bytes({"media/anim.gif": anims["anim.gif"]}))
    (ev / "endless.gif").write_bytes(_tiny_gif(100_000))
    known = Image.open(io.BytesIO(anims["anim.gif"]))
    known.seek(2)
    s = nearmatch.HashSet.build(tmp_path / "k.nmset", [ref_pdq_pixels(known)], metadata=[{"id": "K-F"}])
    res = nearmatch.scan(ev, s.path)
    recs = list(res)
    got = by_path(recs)
    for name, data in anims.items():
        ref = Image.open(io.BytesIO(data))
        assert getattr(ref, "n_frames", 1) == 4, name
        for n in range(1, 4):
            ref.seek(n)
            rec = got[f"{ev}/{name}!/frame/{n}"]
            assert rec["hashes"]["pdq"] == ref_pdq_pixels(ref), (name, n)
            assert recs[rec["parent"]]["path"] == f"{ev}/{name}" and "md5" not in rec
        assert f"{ev}/{name}!/frame/0" not in got and got[f"{ev}/{name}"]["descendants"] == 3
    assert not [p for p in got if p.startswith(f"{ev}/still.gif!/")]
    for where in (f"{ev}/anim.gif!/frame/2", f"{ev}/chat.zip!/media/anim.gif!/frame/2"):
        assert got[where]["disposition"] == "matched" and got[where]["matches"][0]["entry"] == "K-F"
    endless = [r for r in recs if r["path"].startswith(f"{ev}/endless.gif!/")]
    assert len(endless) == 1000 and endless[-1]["path"].endswith("/frame/1000")
    assert endless[-1]["disposition"] == "skipped:limit" and "frames limit" in endless[-1]["error"]
    few = [r for r in nearmatch.scan(ev, container_limits={"frames": 3}) if "!/frame/" in r["path"]]
    assert {r["path"].rsplit("/", 1)[1] for r in few if r["disposition"] == "skipped:limit"} == {"3"}


def test_csv_and_vics_reports_carry_virtual_paths_and_parents(tmp_path):
    import csv

    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "x.tar").write_bytes(tar_bytes({"in.zip": zip_bytes({"d/a.png": IMG["a.png"]})}))
    out_csv, out_vics = tmp_path / "r.csv", tmp_path / "r.vics.json"
    res = nearmatch.scan(ev, output=[out_csv, out_vics])
    recs = list(res)
    rows = list(csv.DictReader(out_csv.open(newline="")))
    assert [r["path"] for r in rows] == [r["path"] for r in recs]
    by = {r["path"]: r for r in rows}
    leaf = by[f"{ev}/x.tar!/in.zip!/d/a.png"]
    mid = by[f"{ev}/x.tar!/in.zip"]
    assert leaf["parent"] == mid["index"] and mid["parent"] == by[f"{ev}/x.tar"]["index"]
    assert (leaf["depth"], mid["depth"], by[f"{ev}/x.tar"]["parent"]) == ("2", "1", "")
    assert (mid["container"], by[f"{ev}/x.tar"]["container"], mid["members"]) == ("zip", "tar", "1")
    assert leaf["crc32"] == f"{zlib.crc32(IMG['a.png']):08x}"
    vics = json.loads(out_vics.read_text())
    media = [m for v in vics["value"] for m in v["Media"]] if "value" in vics else vics["Media"]
    files = [f for m in media for f in m["MediaFiles"]]
    png_file = [f for f in files if f["MD5"] == hashlib.md5(IMG["a.png"]).hexdigest().upper()]
    assert png_file and png_file[0]["FileName"] == "a.png"
    assert png_file[0]["FilePath"] == f"{ev}/x.tar!/in.zip!/d"


def test_mpf_images_of_a_jpeg_are_records_of_their_own(tmp_path):
    """A multi-picture JPEG (Pillow writes the MPF index, as cameras do for previews): the second
    image is `photo.jpg!/mpf/1`, hashed as pdqhash hashes it, its MD5 that of its bytes."""
    ev = tmp_path / "ev"
    ev.mkdir()
    first, second = Image.fromarray(noise(96, 128, 110)), Image.fromarray(shapes(96, 128, 111))
    b = io.BytesIO()
    first.save(b, format="MPO", save_all=True, append_images=[second], quality=90)
    (ev / "photo.jpg").write_bytes(b.getvalue())
    ref = Image.open(io.BytesIO(b.getvalue()))
    assert ref.n_frames == 2
    ref.seek(1)
    recs = list(nearmatch.scan(ev))
    got = by_path(recs)
    m = got[f"{ev}/photo.jpg!/mpf/1"]
    assert m["disposition"] == "unmatched" and m["hashes"]["pdq"] == ref_pdq_pixels(ref)
    # The entry's bytes, found independently: the second SOI after the first image's EOI.
    data = b.getvalue()
    start = data.index(b"\xff\xd8", data.index(b"\xff\xd9") + 2)
    assert m["md5"] == hashlib.md5(data[start:start + m["size"]]).hexdigest()
    assert recs[m["parent"]]["path"] == f"{ev}/photo.jpg"


def _overlapping_zip(member: bytes, copies: int) -> bytes:
    """A ZIP whose central directory lists `copies` entries that all point at one local header
    (the overlap David Fifield's non-recursive bombs use)."""
    z = zip_bytes({"a.png": member}, zipfile.ZIP_DEFLATED)
    cd = z.index(b"PK\x01\x02")
    eocd = z.index(b"PK\x05\x06")
    entry = z[cd:eocd]
    name_len = struct.unpack_from("<H", entry, 28)[0]
    entries = []
    for i in range(copies):
        name = f"c{i:03d}.png".encode()
        e = bytearray(entry[:46]) + name + entry[46 + name_len:]
        struct.pack_into("<H", e, 28, len(name))
        entries.append(bytes(e))
    body = z[:cd]
    central = b"".join(entries)
    end = bytearray(z[eocd:eocd + 22])
    struct.pack_into("<HHII", end, 8, copies, copies, len(central), len(body))
    return body + central + bytes(end)


def _renamed(z: bytes, old: bytes, new: bytes) -> bytes:
    """The ZIP with the member name `old` replaced (same length) in its local and central headers."""
    assert len(old) == len(new)
    return z.replace(old, new)


def test_overlapping_entries_odd_names_and_damaged_tar_and_7z_end_in_dispositions(tmp_path):
    ev = tmp_path / "ev"
    ev.mkdir()
    (ev / "overlap.zip").write_bytes(_overlapping_zip(IMG["a.png"], 40))
    names = zip_bytes({"nul_x.png": IMG["c.png"], "bad_y.png": IMG["a.png"]}, zipfile.ZIP_STORED)
    names = _renamed(_renamed(names, b"nul_x.png", b"nul\x00x.png"), b"bad_y.png", b"bad\xffy.png")
    (ev / "names.zip").write_bytes(names)
    t = tar_bytes({"a.png": IMG["a.png"], "b.jpg": IMG["b.jpg"], "c.png": IMG["c.png"]})
    (ev / "cut.tar").write_bytes(t[: 512 + len(IMG["a.png"]) + 700])
    flipped = bytearray(gzip.compress(t))
    flipped[len(flipped) // 2] ^= 0x55
    (ev / "flipped.tar.gz").write_bytes(bytes(flipped))
    with py7zr.SevenZipFile(ev / "s.7z", "w") as z:
        z.writestr(IMG["b.jpg"], "b.jpg")
        z.writestr(IMG["a.png"], "a.png")
    seven = (ev / "s.7z").read_bytes()
    (ev / "s.7z").unlink()
    (ev / "cut.7z").write_bytes(seven[: len(seven) // 2])
    bad7 = bytearray(seven)
    bad7[40] ^= 0xFF
    (ev / "flipped.7z").write_bytes(bytes(bad7))
    res = nearmatch.scan(ev)
    recs = list(res)
    got = by_path(recs)
    e = str(ev)
    # 40 entries over one local header: each is a member with the member's bytes.
    over = _members(recs, f"{e}/overlap.zip")
    assert len(over) == 40 and all(m["md5"] == hashlib.md5(IMG["a.png"]).hexdigest() for m in over), over[:2]
    # Names as stored: NUL and a non-UTF-8 byte, the raw bytes in path_b64.
    odd = _members(recs, f"{e}/names.zip")
    raw = {base64.b64decode(m["path_b64"]).split(b"!/")[1] if "path_b64" in m else m["path"].split("!/")[1].encode()
           for m in odd}
    assert raw == {b"nul\x00x.png", b"bad\xffy.png"}, odd
    assert all(m["disposition"] == "unmatched" for m in odd)
    cut = got[f"{e}/cut.tar"]
    assert cut["disposition"] == "container" and cut.get("error"), cut
    assert got[f"{e}/cut.tar!/a.png"]["disposition"] == "unmatched"
    for name in ("flipped.tar.gz", "cut.7z", "flipped.7z"):
        r = got[f"{e}/{name}"]
        assert r["disposition"] in ("container", "error:corrupt") and r.get("error"), r
        for m in _members(recs, f"{e}/{name}"):
            assert m["disposition"] in ("unmatched", "error:corrupt", "error:crc"), m
    # Every record is accounted for in the summary.
    assert sum(res.summary["dispositions"].values()) == len(recs)


def test_hash_files_sees_members_when_asked(tmp_path):
    """hash_files(containers="default"): each file's members follow its row with virtual paths,
    hashed as the references hash the original bytes; the default stays one row per path."""
    z = tmp_path / "a.zip"
    z.write_bytes(zip_bytes({"x/a.png": IMG["a.png"], "b.jpg": IMG["b.jpg"], "n.txt": b"text"}))
    loose = tmp_path / "c.png"
    loose.write_bytes(IMG["c.png"])
    plain = nearmatch.hash_files([z, loose], algos=("pdq", "md5"))
    assert plain.path == [str(z), str(loose)]
    res = nearmatch.hash_files([z, loose], algos=("pdq", "md5"), containers="default")
    assert res.path == [str(z), f"{z}!/x/a.png", f"{z}!/b.jpg", f"{z}!/n.txt", str(loose)]
    for i, data in ((1, IMG["a.png"]), (2, IMG["b.jpg"]), (4, IMG["c.png"])):
        assert res["pdq"][i] == ref_pdq(data) and res["md5"][i] == hashlib.md5(data).hexdigest()
        assert res.error[i] is None
    assert res["md5"][0] == hashlib.md5(z.read_bytes()).hexdigest() and res["pdq"][0] is None
    assert res.error[0] and res.error[3], "the archive and the text member are not images"
    assert res["md5"][3] == hashlib.md5(b"text").hexdigest()
    df = res.to_pandas()
    assert len(df) == 5
    with pytest.raises(ValueError, match="container policy"):
        nearmatch.hash_files([z], containers="everything")
