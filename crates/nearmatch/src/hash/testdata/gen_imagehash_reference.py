#!/usr/bin/env python3
"""Reference values for nearmatch's imagehash family (ahash, dhash, phash, whash).

Run once per Pillow version, from this directory:

    /work/venvs/py13/bin/python gen_imagehash_reference.py --write-images   # Pillow 13.0.0
    /work/venvs/py12/bin/python gen_imagehash_reference.py                  # Pillow 12.3.0

Pinned peers: ImageHash 4.3.2, numpy 2.x, scipy (pocketfft DCT), PyWavelets. The images are benign
synthetic patterns (gradients, stripes, shapes, noise) drawn with numpy from fixed seeds; they are
written once (--write-images) and every run hashes the PNGs read back from disk, exactly as an analyst
would (`imagehash.phash(PIL.Image.open(path))`).

Outputs (for Pillow major version M):
  imagehash_reference_pillowM.csv  file,mode,width,height,algorithm,hash_size,hex
  resize_reference_pillowM.csv     seed,in_w,in_h,out_w,out_h,hex of the L plane after Image.resize(LANCZOS)
  dct_reference.csv                (Pillow-independent) seed,n,N,hex of the f64 bits of
                                   scipy.fftpack.dct(dct(P, axis=0), axis=1)[:n,:n], row-major
"""
import csv
import os
import struct
import sys

import imagehash
import numpy as np
import PIL
import scipy
from PIL import Image
from scipy import fftpack

HERE = os.path.dirname(os.path.abspath(__file__))
IMG_DIR = os.path.join(HERE, "imagehash")


def lcg_plane(seed, w, h):
    """Deterministic u8 plane, reproduced bit for bit by the Rust tests (same LCG)."""
    x = seed & 0x7FFFFFFF
    out = np.empty(w * h, dtype=np.uint8)
    for i in range(w * h):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return out.reshape(h, w)


def smooth(w, h, fx, fy, phase=0.0):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    return 0.5 + 0.5 * np.sin(2 * np.pi * (fx * x / w + fy * y / h) + phase)


def u8(a):
    return np.clip(np.round(a * 255.0), 0, 255).astype(np.uint8)


def make_images():
    rng = np.random.default_rng(20240607)
    imgs = {}

    def rgb(arr):
        return Image.fromarray(arr, "RGB")

    def gray(arr):
        return Image.fromarray(arr, "L")

    # Flat images: every DCT/wavelet coefficient but DC ties.
    imgs["flat_l_32x32"] = gray(np.full((32, 32), 128, np.uint8))
    imgs["flat_rgb_100x37"] = rgb(np.full((37, 100, 3), (200, 30, 90), np.uint8))
    # Gradients.
    g = np.linspace(0, 1, 300)[None, :].repeat(200, 0)
    imgs["grad_h_rgb_300x200"] = rgb(np.stack([u8(g), u8(1 - g), u8(g * 0.5)], -1))
    yy, xx = np.mgrid[0:64, 0:64]
    imgs["grad_diag_l_64x64"] = gray(u8((xx + yy) / 126.0))  # symmetric: P == P.T
    imgs["grad_v_l_16x16"] = gray(u8(np.linspace(0, 1, 16)[:, None].repeat(16, 1)))
    # Stripes and checkers.
    imgs["stripes_v_l_100x37"] = gray(((np.arange(100) // 7) % 2 * 255).astype(np.uint8)[None, :].repeat(37, 0))
    cb = ((np.add.outer(np.arange(8), np.arange(9)) % 2) * 255).astype(np.uint8)
    imgs["checker_rgb_9x8"] = rgb(np.stack([cb, cb // 2, 255 - cb], -1))
    cb17 = ((np.add.outer(np.arange(16) // 2, np.arange(17) // 3) % 2) * 200 + 20).astype(np.uint8)
    imgs["checker_l_17x16"] = gray(cb17)
    # Noise (small only: it does not compress).
    imgs["noise_rgb_7x5"] = rgb(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8))
    imgs["noise_l_8x8"] = gray(rng.integers(0, 256, (8, 8), dtype=np.uint8))
    imgs["noise_l_32x32"] = gray(rng.integers(0, 256, (32, 32), dtype=np.uint8))
    imgs["noise_rgba_64x64"] = Image.fromarray(rng.integers(0, 256, (64, 64, 4), dtype=np.uint8), "RGBA")
    # Palette, LA, 1-bit, 16-bit.
    pal_idx = (rng.integers(0, 6, (37 // 3 + 1, 100 // 5 + 1)).repeat(3, 0).repeat(5, 1)[:37, :100]).astype(np.uint8)
    p = Image.fromarray(pal_idx, "P")
    p.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 250, 250, 0, 17, 17, 17, 130, 60, 200])
    imgs["palette_p_100x37"] = p
    la = np.stack([u8(smooth(32, 32, 1.0, 2.0)), rng.integers(0, 256, (32, 32), dtype=np.uint8)], -1)
    imgs["smooth_la_32x32"] = Image.fromarray(la, "LA")
    circ = ((xx - 30) ** 2 + (yy - 20) ** 2 < 300)
    imgs["circle_1_64x64"] = Image.fromarray(circ).convert("1")
    g16 = (np.linspace(0, 1000, 300)[None, :] * np.linspace(0.2, 1, 200)[:, None]).astype(np.uint16)
    imgs["grad_i16_300x200"] = Image.fromarray(g16)
    g16b = (np.linspace(0, 300, 64)[None, :] + np.linspace(0, 40, 48)[:, None]).astype(np.uint16)
    imgs["grad_i16_64x48"] = Image.fromarray(g16b)
    # Tall images (phone aspect): Pillow 13 resizes vertically first here.
    s = smooth(346, 768, 1.3, 2.7, 0.4) * 0.6 + smooth(346, 768, -0.7, 1.1) * 0.4
    imgs["tall_smooth_l_346x768"] = gray(u8(s))
    yy2, xx2 = np.mgrid[0:768, 0:346]
    shapes = np.zeros((768, 346, 3), np.uint8)
    shapes[..., 0] = u8(yy2 / 767.0)
    shapes[..., 1] = u8(xx2 / 345.0)
    shapes[((xx2 - 170) ** 2 + (yy2 - 300) ** 2) < 90 ** 2] = (250, 240, 30)
    shapes[500:620, 40:300] = (20, 60, 200)
    imgs["tall_shapes_rgb_346x768"] = rgb(shapes)
    imgs["tall_stripes_l_346x768"] = gray(u8(0.5 + 0.5 * np.sign(np.sin(yy2 / 9.0 + xx2 / 23.0))))
    imgs["narrow_l_20x300"] = gray(u8(smooth(20, 300, 0.5, 3.2)))
    imgs["tall_l_100x250"] = gray(u8(smooth(100, 250, 1.7, 1.9, 1.0)))
    # Wide images.
    imgs["wide_smooth_l_768x346"] = gray(u8(s.T))
    yy3, xx3 = np.mgrid[0:200, 0:1000]
    wide = np.zeros((200, 1000, 3), np.uint8)
    wide[..., 0] = u8(xx3 / 999.0)
    wide[..., 2] = u8(1 - yy3 / 199.0)
    wide[((xx3 - 600) ** 2 + (yy3 - 90) ** 2) < 70 ** 2] = (255, 255, 255)
    imgs["wide_shapes_rgb_1000x200"] = rgb(wide)
    return imgs


def write_images():
    os.makedirs(IMG_DIR, exist_ok=True)
    for name, img in make_images().items():
        img.save(os.path.join(IMG_DIR, name + ".png"), optimize=True)


def hash_images(major):
    rows = []
    for fn in sorted(os.listdir(IMG_DIR)):
        if not fn.endswith(".png"):
            continue
        img = Image.open(os.path.join(IMG_DIR, fn))
        for size in (8, 16):
            for algo, fn_ in (("ahash", imagehash.average_hash), ("dhash", imagehash.dhash),
                              ("phash", imagehash.phash), ("whash", imagehash.whash)):
                rows.append([fn, img.mode, img.width, img.height, algo, size, str(fn_(img, hash_size=size))])
    with open(os.path.join(HERE, f"imagehash_reference_pillow{major}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["file", "mode", "width", "height", "algorithm", "hash_size", "hex"])
        w.writerows(rows)
    return len(rows)


RESIZE_CASES = [
    # seed, in_w, in_h, out_w, out_h
    (1, 37, 23, 8, 8),
    (2, 37, 23, 9, 8),
    (3, 37, 23, 32, 32),
    (4, 7, 5, 32, 32),      # upscale both
    (5, 20, 70, 8, 8),      # tall: vertical first in Pillow 13
    (6, 20, 70, 32, 32),    # width up, height down: vertical first in Pillow 13
    (7, 64, 9, 16, 9),      # horizontal pass only
    (8, 9, 64, 9, 16),      # vertical pass only
    (9, 300, 11, 64, 64),
    (10, 13, 200, 8, 8),
]


def resize_reference(major):
    with open(os.path.join(HERE, f"resize_reference_pillow{major}.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["seed", "in_w", "in_h", "out_w", "out_h", "hex"])
        for seed, iw, ih, ow, oh in RESIZE_CASES:
            img = Image.fromarray(lcg_plane(seed, iw, ih), "L")
            out = np.asarray(img.resize((ow, oh), Image.Resampling.LANCZOS))
            w.writerow([seed, iw, ih, ow, oh, out.tobytes().hex()])


def dct_reference():
    with open(os.path.join(HERE, "dct_reference.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["seed", "n", "N", "hex"])
        for seed, n in ((11, 8), (12, 8), (13, 16), (14, 16), (0, 8), (0, 16)):
            N = 4 * n
            if seed == 0:  # symmetric plane: P == P.T, ties in exact arithmetic
                a = lcg_plane(99, N, N).astype(np.int32)
                p = ((a + a.T) // 2).astype(np.uint8)
            else:
                p = lcg_plane(seed, N, N)
            d = fftpack.dct(fftpack.dct(p, axis=0), axis=1)[:n, :n]
            hexs = "".join(struct.pack(">d", v).hex() for v in d.ravel())
            w.writerow([seed, n, N, hexs])


def main():
    major = int(PIL.__version__.split(".")[0])
    assert imagehash.__version__ == "4.3.2", imagehash.__version__
    if "--write-images" in sys.argv:
        write_images()
        dct_reference()
    n = hash_images(major)
    resize_reference(major)
    print(f"Pillow {PIL.__version__}, scipy {scipy.__version__}: {n} hashes")


if __name__ == "__main__":
    main()
