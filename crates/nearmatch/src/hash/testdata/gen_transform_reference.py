#!/usr/bin/env python3
"""Bit-exact reference values for the transforms behind imagehash's options at any size.

    python gen_transform_reference.py     # from this directory; numpy 2.x, scipy, PyWavelets

Writes transform_reference.csv: kind,n,seed,sha256 where sha256 is of the big-endian f64 bytes of
  dct   scipy.fftpack.dct(x) (type II, norm=None) of the length-n LCG vector x (seed 0: a
        symmetric, tie-prone vector: x[i] = x[n-1-i], values 0/255),
  haar / db4 / db2
        pywt.dwt(x, wavelet, mode='symmetric')[0] (the approximation band) of x / 255.

  blur / median
        Image.filter(ImageFilter.GaussianBlur()) / MedianFilter() of an n-wide LCG plane in
        mode L (height in the seed column's companion: see FILTER_SIZES), sha256 of the bytes.

The LCG is the one in gen_imagehash_reference.py, reproduced by the Rust tests. Digests keep the
file small; a mismatch names the transform and length.
"""
import hashlib
import os

import numpy as np
import pywt
from PIL import Image, ImageFilter
from scipy import fftpack

HERE = os.path.dirname(os.path.abspath(__file__))


def lcg(seed, n):
    x = seed & 0x7FFFFFFF
    out = np.empty(n, dtype=np.uint8)
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out[i] = (x >> 16) & 0xFF
    return out


def symmetric(n):
    half = lcg(7, (n + 1) // 2) // 128 * 255
    return np.concatenate([half, half[: n // 2][::-1]]).astype(np.uint8)


def digest(values):
    return hashlib.sha256(np.asarray(values, dtype=">f8").tobytes()).hexdigest()


DCT_LENGTHS = list(range(1, 73)) + [75, 76, 77, 80, 81, 84, 88, 91, 96, 98, 99, 100, 104, 112, 120,
                                    121, 125, 128, 132, 143, 144, 169, 176, 180, 187, 189, 192, 200,
                                    221, 240, 243, 256]
DWT_LENGTHS = list(range(1, 20)) + [32, 33, 64, 71, 128, 259]

rows = []
for n in DCT_LENGTHS:
    for seed in (0, n + 1000):
        x = symmetric(n) if seed == 0 else lcg(seed, n)
        rows.append(("dct", n, seed, digest(fftpack.dct(x.astype(np.float64)))))
for wavelet in ("haar", "db2", "db4"):
    for n in DWT_LENGTHS:
        seed = n + 2000
        x = lcg(seed, n) / 255.0
        rows.append((wavelet, n, seed, digest(pywt.dwt(x, wavelet, mode="symmetric")[0])))

# (width, height): tiny planes (the blur radius exceeds them), odd shapes, imagehash's 300.
FILTER_SIZES = [(1, 1), (1, 9), (9, 1), (2, 3), (3, 3), (5, 4), (7, 5), (30, 20), (64, 64), (300, 300)]
for w, h in FILTER_SIZES:
    seed = w * 1000 + h
    img = Image.fromarray(lcg(seed, w * h).reshape(h, w), "L")
    for kind, flt in (("blur", ImageFilter.GaussianBlur()), ("median", ImageFilter.MedianFilter())):
        out = np.asarray(img.filter(flt)).tobytes()
        rows.append((kind, f"{w}x{h}", seed, hashlib.sha256(out).hexdigest()))

with open(os.path.join(HERE, "transform_reference.csv"), "w") as f:
    f.write("kind,n,seed,sha256\n")
    for r in rows:
        f.write(",".join(map(str, r)) + "\n")
print(len(rows), "rows")
