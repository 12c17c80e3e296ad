"""Images inside containers: archives made here with independent tools (zipfile, tarfile, gzip,
bz2, lzma, zstandard, py7zr) from synthetic images; every member is a record with a virtual path
and its parent, hashed as the references hash the original bytes (hashlib, pdqhash)."""

from __future__ import annotations

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
