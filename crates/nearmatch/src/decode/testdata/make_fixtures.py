"""Regenerates the decode fixtures: small synthetic images and the pixels Pillow decodes from them.

Run with the project's Pillow peer (Pillow 13): `python make_fixtures.py` in this folder.
Writes the image files and `expected.tsv`: file, Pillow mode, width, height, the layout nearmatch
must produce (rgb8 = np.asarray(img.convert('RGB')), gray8 = convert('L'), gray16 = the I;16
samples as little-endian u16) and the SHA-256 of those bytes. For JPEGs it also writes
`<file>.pixels`, the raw expected bytes, so the pure-Rust fallback can be checked with a tolerance.
Benign content only: gradients and deterministic noise.
"""
import hashlib, struct, zlib
import numpy as np
from PIL import Image

W, H = 23, 17
rng = np.random.default_rng(20240601)
y, x = np.mgrid[0:H, 0:W]
rgb = np.stack([x * 11, y * 15, (x * 7 + y * 5) % 256], -1).astype(np.uint8)
noise = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
rgb[::3] = noise[::3]  # some high-frequency rows
alpha = ((x * 13 + y * 29) % 256).astype(np.uint8)
alpha[0, :5] = 0
grey = rgb[..., 1]


def png_raw(path, arr, color_type, bit_depth):
    """Minimal PNG writer for the layouts Pillow cannot save (16-bit RGB/LA, 2/4-bit grey)."""
    h, w = arr.shape[:2]
    if bit_depth == 16:
        rows = [b"\0" + arr[r].astype(">u2").tobytes() for r in range(h)]
    elif bit_depth < 8:
        per = 8 // bit_depth
        rows = []
        for r in range(h):
            v = list(arr[r].reshape(-1))
            v += [0] * (-len(v) % per)
            packed = bytes(
                sum(v[i + j] << (8 - bit_depth * (j + 1)) for j in range(per)) for i in range(0, len(v), per)
            )
            rows.append(b"\0" + packed)
    else:
        rows = [b"\0" + arr[r].tobytes() for r in range(h)]

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b"")
    open(path, "wb").write(data)


made = []


def save(img, name, **kw):
    img.save(name, **kw)
    made.append(name)


save(Image.fromarray(rgb, "RGB"), "rgb.png")
save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "rgba.png")
save(Image.fromarray(np.dstack([grey, alpha]), "LA"), "la.png")
save(Image.fromarray(grey, "L"), "l.png")
pal = Image.fromarray(rgb, "RGB").quantize(colors=13, dither=Image.Dither.NONE)
pal.info["transparency"] = 2
save(pal, "p_trns.png", transparency=2)
save(Image.fromarray(grey > 100).convert("1"), "bilevel.png")
save(Image.fromarray(grey.astype(np.uint16) * 250 + (x * 3).astype(np.uint16)), "i16.png")
png_raw("rgb16.png", rgb.astype(np.uint16) * 256 + noise.astype(np.uint16), 2, 16); made.append("rgb16.png")
png_raw("rgba16.png", np.dstack([rgb, alpha]).astype(np.uint16) * 257, 6, 16); made.append("rgba16.png")
png_raw("la16.png", np.dstack([grey, alpha]).astype(np.uint16) * 256 + 77, 4, 16); made.append("la16.png")
png_raw("grey2.png", grey >> 6, 0, 2); made.append("grey2.png")
png_raw("grey4.png", grey >> 4, 0, 4); made.append("grey4.png")

f0 = Image.fromarray(rgb, "RGB").quantize(colors=31, dither=Image.Dither.NONE)
f1 = Image.fromarray(255 - rgb, "RGB").quantize(colors=31, dither=Image.Dither.NONE)
save(f0, "anim.gif", save_all=True, append_images=[f1], duration=100, loop=0, transparency=3)
save(Image.fromarray(grey, "L"), "l.gif")

save(Image.fromarray(rgb, "RGB"), "rgb.bmp")
save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "rgba.bmp")
save(pal.copy(), "p.bmp")
save(Image.fromarray(grey > 100).convert("1"), "bilevel.bmp")

save(Image.fromarray(rgb, "RGB"), "rgb_lzw.tif", compression="tiff_lzw")
save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "rgba_deflate.tif", compression="tiff_adobe_deflate")
save(Image.fromarray(grey, "L"), "l.tif")
save(Image.fromarray(grey.astype(np.uint16) * 257), "i16.tif")
save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA").convert("CMYK"), "cmyk.tif")

save(Image.fromarray(rgb, "RGB"), "rgb_lossless.webp", lossless=True)
save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"), "rgba_lossless.webp", lossless=True)

save(Image.fromarray(rgb, "RGB"), "rgb420.jpg", quality=85)
save(Image.fromarray(rgb, "RGB"), "rgb444_prog.jpg", quality=90, subsampling=0, progressive=True)
save(Image.fromarray(grey, "L"), "l.jpg", quality=80)
save(Image.fromarray(rgb, "RGB").convert("CMYK"), "cmyk.jpg", quality=90)

lines = []
for name in made:
    im = Image.open(name)
    im.load()
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        layout, arr = "gray16", np.asarray(im).astype("<u2")
    elif mode in ("L", "LA", "1") or (mode == "P" and im.palette.mode == "L"):
        layout, arr = "gray8", np.asarray(im.convert("L"))
    else:
        layout, arr = "rgb8", np.asarray(im.convert("RGB"))
    data = arr.tobytes()
    lines.append(f"{name}\t{mode}\t{im.width}\t{im.height}\t{layout}\t{hashlib.sha256(data).hexdigest()}")
    if name.endswith(".jpg"):
        open(name + ".pixels", "wb").write(data)
open("expected.tsv", "w").write("# file\tpillow_mode\twidth\theight\tlayout\tsha256_of_pixels\n" + "\n".join(lines) + "\n")
print("\n".join(lines))
