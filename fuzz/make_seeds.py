#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora into fuzz/seeds/<target>/: small benign synthetic inputs.

Images are gradients and rectangles drawn here (Pillow), one per supported format and mode;
lists are hand-written examples of each importer's format; set files are built from those lists
by the `nearmatch` binary (pass its path, default target/debug/nearmatch). Deterministic: rerun
after a format change and commit the result.

    python3 fuzz/make_seeds.py [path/to/nearmatch]
    python3 fuzz/make_seeds.py --containers      # only the container targets' seeds
    python3 fuzz/make_seeds.py --disks           # only the disk targets' seeds

Disk seeds are file systems and partition tables made by the independent tools the disk tests
use (mkfs.vfat + mcopy + mdel, mkfs.exfat, mkfs.ext4 -d + debugfs, mkntfs + ntfscp, sfdisk);
each holds small synthetic pictures and one deleted file, and is cut after its last non-zero
byte (a seed need not be a whole volume: reads past the end are part of what is fuzzed).
"""

import io
import os
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


def run(*cmd: str, stdin: bytes | None = None) -> None:
    subprocess.run(cmd, input=stdin, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def trimmed(data: bytes, align: int = 512) -> bytes:
    """`data` without its trailing zero bytes (kept `align`-byte aligned)."""
    end = len(data.rstrip(b"\0"))
    return data[: -(-end // align) * align]


def exfat_entry_set(name: str, first_cluster: int, size: int, in_use: bool) -> bytes:
    """A file's directory entry set (file, stream extension, file name), checksummed as the
    exFAT specification says; the in-use bit cleared for a deleted file."""
    units = name.encode("utf-16-le")
    names = [units[i : i + 30].ljust(30, b"\0") for i in range(0, len(units), 30)]
    file = bytearray(32)
    file[0] = 0x85
    file[1] = 1 + len(names)
    file[4:6] = (0x20).to_bytes(2, "little")  # archive
    stamp = ((2020 - 1980) << 25) | (1 << 21) | (2 << 16) | (3 << 11) | (4 << 5)
    for o in (8, 12, 16):
        file[o : o + 4] = stamp.to_bytes(4, "little")
    stream = bytearray(32)
    stream[0] = 0xC0
    stream[1] = 0x03  # allocation possible, no FAT chain (contiguous)
    stream[3] = len(name)
    name_hash = 0
    for b in name.upper().encode("utf-16-le"):
        name_hash = (((name_hash & 1) << 15) | (name_hash >> 1)) + b & 0xFFFF
    stream[4:6] = name_hash.to_bytes(2, "little")
    stream[8:16] = size.to_bytes(8, "little")
    stream[20:24] = first_cluster.to_bytes(4, "little")
    stream[24:32] = size.to_bytes(8, "little")
    entries = [file, stream] + [bytearray(b"\xc1\0" + n) for n in names]
    blob = b"".join(entries)
    check = 0
    for i, b in enumerate(blob):
        if i in (2, 3):
            continue
        check = (((check & 1) << 15) | (check >> 1)) + b & 0xFFFF
    entries[0][2:4] = check.to_bytes(2, "little")
    if not in_use:
        for e in entries:
            e[0] &= 0x7F
    return b"".join(entries)


def exfat_image(tmp: Path, files: dict, deleted: dict) -> bytes:
    """mkfs.exfat's volume with `files` and `deleted` written into its root directory as
    contiguous runs (no tool writes exFAT without mounting); deleted files' clusters stay free."""
    img = tmp / "x.img"
    img.write_bytes(b"")
    os.truncate(img, 4 << 20)
    run("mkfs.exfat", "-c", "512", "-b", "4096", str(img))
    b = bytearray(img.read_bytes())
    u32 = lambda o: int.from_bytes(b[o : o + 4], "little")
    sector = 1 << b[108]
    cluster = sector << b[109]
    heap, count, root = u32(88) * sector, u32(92), u32(96)
    at = lambda c: heap + (c - 2) * cluster
    # The allocation bitmap: the root directory's 0x81 entry.
    bitmap = next(at(u32(at(root) + i + 20)) for i in range(0, cluster, 32) if b[at(root) + i] == 0x81)
    used = lambda c: b[bitmap + (c - 2) // 8] >> ((c - 2) % 8) & 1
    c = 2
    while used(c):
        c += 1
    slot = next(i for i in range(0, cluster, 32) if b[at(root) + i] == 0)
    for name, data in list(files.items()) + list(deleted.items()):
        n = -(-len(data) // cluster)
        b[at(c) : at(c) + len(data)] = data
        live = name in files
        if live:
            for k in range(c, c + n):
                b[bitmap + (k - 2) // 8] |= 1 << ((k - 2) % 8)
        entry = exfat_entry_set(name, c, len(data), live)
        b[at(root) + slot : at(root) + slot + len(entry)] = entry
        slot += len(entry)
        c += n
    assert c < count
    return bytes(b)


def ntfs_delete(img: bytearray, name: str) -> None:
    """Clears the in-use flag of the MFT record naming `name` (what Windows leaves)."""
    key = name.encode("utf-16-le")
    for o in range(0, len(img), 1024):
        if img[o : o + 4] == b"FILE" and key in img[o : o + 1024] and img[o + 0x16] & 1:
            img[o + 0x16] &= ~1
            return
    raise RuntimeError(f"no MFT record for {name}")


def disks() -> None:
    """Seeds for the disk targets: FAT12/16/32, exFAT, ext4, NTFS, and MBR (extended
    partitions) and GPT tables over small file systems."""
    png = encode(picture(16, 12), "PNG")
    jpg = encode(picture(24, 16), "JPEG", quality=70)
    big = encode(picture(64, 48), "PNG")  # spans several clusters
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name, data in (("a.png", png), ("b.jpg", jpg), ("big.png", big), ("gone.png", png)):
            (tmp / name).write_bytes(data)

        def fat(args: list, kib: int) -> bytes:
            img = tmp / "f.img"
            img.write_bytes(b"")
            os.truncate(img, kib << 10)
            run("mkfs.vfat", *args, "-n", "SEED", str(img))
            env = ["-i", str(img)]
            run("mmd", *env, "::/DIR")
            run("mcopy", *env, str(tmp / "a.png"), "::/a.png")
            run("mcopy", *env, str(tmp / "b.jpg"), "::/DIR/b.jpg")
            run("mcopy", *env, str(tmp / "big.png"), "::/DIR/A long name.png")
            run("mcopy", *env, str(tmp / "gone.png"), "::/gone.png")
            run("mdel", *env, "::/gone.png")
            return img.read_bytes()

        fat12 = fat(["-F", "12", "-s", "1"], 128)
        write("disk_fat", "fat12.img", trimmed(fat12))
        write("disk_fat", "fat16.img", trimmed(fat(["-F", "16", "-s", "1", "-r", "32"], 4200)))
        write("disk_fat", "fat32.img", trimmed(fat(["-F", "32", "-s", "1", "-f", "1"], 33 << 10)))

        write("disk_exfat", "exfat.img", trimmed(exfat_image(tmp, {"a.png": png, "A longer name.jpg": jpg, "big.png": big}, {"gone.png": png})))

        src = tmp / "ext"
        (src / "dir").mkdir(parents=True)
        (src / "a.png").write_bytes(png)
        (src / "dir" / "b.jpg").write_bytes(jpg)
        (src / "big.png").write_bytes(big)
        (src / "gone.png").write_bytes(png)
        img = tmp / "e.img"
        img.write_bytes(b"")
        os.truncate(img, 160 << 10)
        run("mkfs.ext4", "-q", "-F", "-b", "1024", "-N", "32", "-O", "^has_journal", "-d", str(src), str(img))
        run("debugfs", "-w", "-R", "rm /gone.png", str(img))
        ext4 = img.read_bytes()
        # Whole: ext4-view reads a group's tables in large pieces, a cut volume fails early.
        write("disk_ext", "ext4.img", ext4)

        img = tmp / "n.img"
        img.write_bytes(b"")
        os.truncate(img, 2 << 20)
        run("mkntfs", "-F", "-Q", "-q", "-c", "512", str(img))
        for name in ("a.png", "big.png", "gone.png"):
            run("ntfscp", "-q", str(img), str(tmp / name), name)
        run("ntfscp", "-q", "-N", "hidden", str(img), str(tmp / "b.jpg"), "a.png")
        ntfs = bytearray(img.read_bytes())
        ntfs_delete(ntfs, "gone.png")
        # $LogFile is 0xFF filler nearmatch never reads: zeroed, so the seed trims short.
        for o in range(0, len(ntfs), 4096):
            if ntfs[o : o + 4096] == b"\xff" * 4096:
                ntfs[o : o + 4096] = bytes(4096)
        ntfs[-512:] = bytes(512)  # the backup boot sector
        write("disk_ntfs", "ntfs.img", trimmed(bytes(ntfs)))

        # Partition tables over small file systems: an MBR with a primary FAT12 partition and an
        # extended one holding two logical partitions (FAT12 in each; ext is disk_ext's), and a GPT with one FAT12.
        small_fat = trimmed(fat(["-F", "12", "-s", "1"], 64))
        disk = tmp / "mbr.img"
        disk.write_bytes(b"")
        os.truncate(disk, 2 << 20)
        table = "label: dos\nstart=32, size=128, type=1\nstart=160, size=1400, type=5\nstart=162, size=128, type=1\nstart=292, size=128, type=e\n"
        run("sfdisk", "-q", str(disk), stdin=table.encode())
        d = bytearray(disk.read_bytes())
        for start, fs in ((32, small_fat), (162, small_fat), (292, small_fat)):
            d[start * 512 : start * 512 + len(fs)] = fs
        write("disk_volumes", "mbr-extended.img", trimmed(bytes(d)))
        disk = tmp / "gpt.img"
        disk.write_bytes(b"")
        os.truncate(disk, 256 << 10)
        table = "label: gpt\nfirst-lba: 34\nstart=40, size=128, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, name=\"seed\"\n"
        run("sfdisk", "-q", str(disk), stdin=table.encode())
        d = bytearray(disk.read_bytes())
        d[40 * 512 : 40 * 512 + len(small_fat)] = small_fat
        # The backup header at the end is left out: nearmatch reads the primary only.
        write("disk_volumes", "gpt.img", trimmed(bytes(d[: 200 * 512])))
        write("disk_volumes", "superfloppy.img", trimmed(fat12))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--containers"]:
        containers()
        print(f"container seeds written under {SEEDS}")
        sys.exit(0)
    if sys.argv[1:2] == ["--disks"]:
        disks()
        print(f"disk seeds written under {SEEDS}")
        sys.exit(0)
    images()
    lists()
    containers()
    disks()
    sets(sys.argv[1] if len(sys.argv) > 1 else str(ROOT.parent / "target/debug/nearmatch"))
    print(f"seeds written under {SEEDS}")
