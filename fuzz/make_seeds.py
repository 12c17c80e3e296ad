#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into fuzz/seeds/<target>/: small benign synthetic inputs.

Images are gradients and rectangles drawn here (Pillow), one per supported format and mode;
lists are hand-written examples of each importer's format; set files are built from those lists
by the `nearmatch` binary (pass its path, default target/debug/nearmatch). Deterministic: rerun
after a format change and commit the result.

    python3 fuzz/make_seeds.py [path/to/nearmatch]
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


if __name__ == "__main__":
    images()
    lists()
    sets(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "target/debug/nearmatch"))
    print(f"seeds written under {SEEDS}")
