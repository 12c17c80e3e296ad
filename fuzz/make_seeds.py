#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into fuzz/seeds/<target>/: small benign synthetic inputs.

Images are gradients and rectangles drawn here (Pillow), one per supported format and mode;
lists are hand-written examples of each importer's format; set files are built from those lists
by the `nearmatch` binary (pass its path, default target/debug/nearmatch). Deterministic: rerun
after a format change and commit the result.

    python3 fuzz/make_seeds.py [path/to/nearmatch]
    python3 fuzz/make_seeds.py --containers      # only the container targets' seeds
"""

import io
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"


def picture(w: int, h: int, mode: str = "RGB") -> Image.Image:
    """A horizontal gradient with two rectangles: structure for every hash, nothing depicted."""
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x ^ y) & 255)
    d = ImageDraw.Draw(img)
    d.rectangle([w // 5, h // 4, w // 2, h // 2], fill=(20, 200, 90))
    d.rectangle([w // 2, h // 2, w - 2, h - 2], outline=(250, 250, 10))
    return img.convert(mode) if mode != "RGB" else img


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def write(target: str, name: str, data: bytes) -> None:
    d = SEEDS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def images() -> None:
    p = picture(40, 30)
    write("decode_hash", "rgb.png", encode(p, "PNG"))
    write("decode_hash", "rgba.png", encode(picture(24, 24, "RGBA"), "PNG"))
    write("decode_hash", "palette.png", encode(picture(24, 16, "P"), "PNG"))
    write("decode_hash", "gray16.png", encode(picture(16, 16, "L").convert("I;16"), "PNG"))
    write("decode_hash", "baseline.jpg", encode(p, "JPEG", quality=80))
    write("decode_hash", "progressive.jpg", encode(p, "JPEG", quality=60, progressive=True))
    write("decode_hash", "gray.jpg", encode(picture(32, 32, "L"), "JPEG", quality=75))
    write("decode_hash", "444.jpg", encode(p, "JPEG", quality=90, subsampling=0))
    write("decode_hash", "anim.gif", encode(picture(20, 20, "P"), "GIF"))
    write("decode_hash", "rgb.tiff", encode(picture(20, 12), "TIFF"))
    write("decode_hash", "lzw.tiff", encode(picture(20, 12), "TIFF", compression="tiff_lzw"))
    write("decode_hash", "lossless.webp", encode(picture(20, 20), "WEBP", lossless=True))
    write("decode_hash", "lossy.webp", encode(picture(20, 20), "WEBP", quality=50))
    write("decode_hash", "rgb.bmp", encode(picture(9, 7), "BMP"))
    write("decode_hash", "not-an-image.txt", b"plain text, not an image\n")


PDQ = [
    "228de1dacb0ee695d1c03c1b8c711cf93c5ac304638fe30ee78ef3cdda603c71",
    "b0e462db6e33b9a4b3bc7ad338cc1cac5cf314e994205d324659c738e536965c",
]
MD5 = ["5f2442abaab07cc8c8535fe625432b47", "d41d8cd98f00b204e9800998ecf8427e"]

LISTS = {
    "import_plain": {
        "pdq.txt": f"# known PDQ hashes\n{PDQ[0]}\n\n{PDQ[1].upper()}\n{PDQ[0]}\nzz\n",
        "md5.txt": "\n".join(MD5 + ["0123"]) + "\n",
        "phash.txt": "8f373714acfcf4d0\nffff\n",
    },
    "import_csv": {
        "known.csv": f"id,pdq,caid,category\nK1,{PDQ[0]},1,landscape\nK2,{PDQ[1]},2,\n",
        "known.tsv": f"hash\tnote\n{MD5[0]}\tone\n{MD5[1]}\tempty file\n",
        "quoted.csv": f'"ID";"MD5";"SHA1"\n"a";"{MD5[0]}";""\n',
    },
    "import_threatexchange": {
        "te.txt": f"hash={PDQ[0]},quality=100,id=1\n{PDQ[1]},90,2\n",
    },
    "import_vics": {
        "v12.json": '{"odata.metadata":"http://github.com/ICSE-Forensics/ProjectVic/DataModels/1.2.xml/'
        '$metadata#Cases","value":[{"CaseID":"c","Media":[{"MediaID":1,"Category":1,"MD5":"'
        + MD5[0].upper()
        + '","SHA1":"0123456789abcdef0123456789abcdef01234567","PhotoDNA":"AAECAw==",'
        '"IsPrecategorized":true,"VictimIdentified":"false"}]}]}',
        "v13.json": '{"odata.metadata":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/1.3.xml/US/'
        '$metadata#Cases","value":[{"Media":[{"MediaID":"m","Category":"3","MD5":"'
        + MD5[0]
        + '","VictimIdentified":"True"}]}]}',
        "v20.json": '{"@odata.context":"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/'
        '$metadata#Cases","value":[{"Media":[{"MediaID":"a","Category":"1","MediaFiles":[{"FileName":'
        '"one.jpg","MD5":"' + MD5[0] + '","SHA1":"0123456789abcdef0123456789abcdef01234567"}]}]}]}',
    },
}


def lists() -> None:
    for target, files in LISTS.items():
        for name, text in files.items():
            write(target, name, text.encode())


def sets(nearmatch: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "pdq.csv").write_text(LISTS["import_csv"]["known.csv"])
        (t / "md5.txt").write_text(MD5[0] + "\n")
        (t / "ph.txt").write_text("8f373714acfcf4d0\n0f373714acfcf4d1\n")
        for algo, src in [("pdq", "pdq.csv"), ("md5", "md5.txt"), ("phash", "ph.txt")]:
            out = t / f"{algo}.nmset"
            subprocess.run(
                [nearmatch, "set", "build", "-o", str(out), "--algo", algo, str(t / src)],
                check=True,
                stdout=subprocess.DEVNULL,
            )
            write("hashset_open", f"{algo}.nmset", out.read_bytes())


def containers() -> None:
    """Archives, PDFs and animations made with independent tools (zipfile, tarfile, gzip, bz2,
    lzma, zstandard, py7zr, img2pdf), each holding small synthetic images."""
    import bz2
    import gzip
    import lzma
    import tarfile
    import zipfile

    png = encode(picture(16, 12), "PNG")
    jpg = encode(picture(16, 16), "JPEG", quality=70)

    def zipped(members: dict, method=zipfile.ZIP_DEFLATED) -> bytes:
        b = io.BytesIO()
        with zipfile.ZipFile(b, "w", compression=method) as z:
            for name, data in members.items():
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 2, 3, 4, 6))
                z.writestr(info, data, compress_type=method)
        return b.getvalue()

    def tarred(members: dict) -> bytes:
        b = io.BytesIO()
        with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size, info.mtime = len(data), 1_600_000_000
                t.addfile(info, io.BytesIO(data))
        return b.getvalue()

    write("container_zip", "deflate.zip", zipped({"a.png": png, "d/b.jpg": jpg, "t.txt": b"x"}))
    write("container_zip", "stored-nested.zip", zipped({"in.zip": zipped({"a.png": png})}, zipfile.ZIP_STORED))
    write("container_zip", "bzip2.zip", zipped({"a.png": png}, zipfile.ZIP_BZIP2))
    write("container_zip", "lzma.zip", zipped({"b.jpg": jpg}, zipfile.ZIP_LZMA))
    write("container_zip", "sfx.zip", b"MZ" + bytes(200) + zipped({"a.png": png}))
    t = tarred({"a.png": png, "b.jpg": jpg, "in.zip": zipped({"c.png": png})})
    # container_tar's first byte picks the compression: 0 tar, 1 gzip, 2 bzip2, 3 xz, 4 zstd.
    write("container_tar", "plain.tar", b"\x00" + t)
    write("container_tar", "gzip.tar.gz", b"\x01" + gzip.compress(t, mtime=0))
    write("container_tar", "bzip2.tar.bz2", b"\x02" + bz2.compress(t))
    write("container_tar", "xz.tar.xz", b"\x03" + lzma.compress(t))
    try:
        import zstandard

        write("container_tar", "zstd.tar.zst", b"\x04" + zstandard.ZstdCompressor().compress(t))
    except ImportError:
        print("zstandard not installed: no zstd seed", file=sys.stderr)
    try:
        import py7zr

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.7z"
            with py7zr.SevenZipFile(path, "w") as z:
                z.writestr(png, "a.png")
                z.writestr(jpg, "d/b.jpg")
            write("container_7z", "lzma2.7z", path.read_bytes())
    except ImportError:
        print("py7zr not installed: no 7z seed", file=sys.stderr)
    try:
        import img2pdf

        gray = encode(picture(12, 10, "L"), "PNG")
        pal = encode(picture(12, 10, "P"), "PNG")
        write("container_pdf", "img2pdf.pdf", img2pdf.convert([jpg, png, gray, pal]))
    except ImportError:
        print("img2pdf not installed: no PDF seed", file=sys.stderr)
    frames = [picture(12 + i, 10) for i in range(3)]
    frames = [f.resize((12, 10)) for f in frames]
    for fmt, ext, kw in (("GIF", "gif", {}), ("PNG", "png", {}), ("WEBP", "webp", {"lossless": True})):
        b = io.BytesIO()
        frames[0].save(b, fmt, save_all=True, append_images=frames[1:], duration=50, loop=0, **kw)
        write("image_frames", f"anim.{ext}", b.getvalue())
    try:
        import piexif

        exif = piexif.dump({"0th": {}, "1st": {}, "thumbnail": jpg})
        write("image_frames", "thumb.jpg", encode(picture(32, 24), "JPEG", quality=70, exif=exif))
    except ImportError:
        print("piexif not installed: no EXIF seed", file=sys.stderr)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--containers"]:
        containers()
        print(f"container seeds written under {SEEDS}")
        sys.exit(0)
    images()
    lists()
    containers()
    sets(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "target/debug/nearmatch"))
    print(f"seeds written under {SEEDS}")
