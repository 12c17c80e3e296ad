#!/usr/bin/env python3
"""Reference PDQ values for nearmatch's unit tests, computed by Meta's C++ core.

Run with the pinned peer environment (pdqhash 0.2.8, numpy 2.x):

    /work/venvs/py13/bin/python gen_reference.py      # rewrites reference.csv beside this file

Every test image is synthetic and generated from integer formulas that the Rust test
(`tests.rs`) re-implements; the CSV stores each image's pixel SHA-256 so a generator drift
shows up as its own failure, not as a wrong hash.

Two profiles, as in nearmatch's PDQ spec:

* ``pdqhash``: ``pdqhash.compute`` / ``pdqhash.compute_dihedral`` on the RGB array (grey images
  stacked to RGB, which in pdqhash's f64 luma gives exactly the grey value).
* ``meta-cpp``: what Meta's ``pdq-photo-hasher`` CLI does: nearest-neighbour resize to exactly
  512x512 when a side exceeds 512 (CImg's corner-anchored index rule), f32 luma, then the C++
  core. ``pdqhash`` exposes no float-luma entry point in Python, but its extension module exports
  the C++ functions with default visibility, so this script calls them through ctypes:
  ``fillFloatLumaFromRGB`` / ``fillFloatLumaFromGrey`` for the luma and
  ``pdqHash256FromFloatLuma`` / ``pdqDihedralHash256esFromFloatLuma`` for the core. The harness is
  validated first: fed pdqhash's own f64 luma, it must reproduce ``pdqhash.compute`` exactly.
"""

import csv
import ctypes
import hashlib
import os
import sys

import numpy as np
import pdqhash

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "reference.csv")

MASK = 0xFFFFFFFF
ORIENTATIONS = ["orig", "rot90", "rot180", "rot270", "flipx", "flipy", "flipplus1", "flipminus1"]


# ---------------------------------------------------------------- generators (mirror tests.rs)

def u32(v):
    return np.uint32(v & MASK)


def fmix32(h):
    """MurmurHash3's finaliser on uint32 arrays (wrapping multiplication)."""
    h = h ^ (h >> u32(16))
    h = h * u32(0x85EBCA6B)
    h = h ^ (h >> u32(13))
    h = h * u32(0xC2B2AE35)
    h = h ^ (h >> u32(16))
    return h


def noise_byte(x, y, c, seed):
    h = (x * u32(73856093)) ^ (y * u32(19349663)) ^ (c * u32(83492791)) ^ u32(seed * 2654435761)
    return fmix32(h) >> u32(24)


def generate(pattern, w, h, channels, seed):
    """uint8 array (h, w, channels) of the named pattern; all arithmetic in uint32."""
    y, x, c = np.meshgrid(
        np.arange(h, dtype=np.uint32),
        np.arange(w, dtype=np.uint32),
        np.arange(channels, dtype=np.uint32),
        indexing="ij",
    )
    wm1 = u32(max(w - 1, 1))
    hm1 = u32(max(h - 1, 1))
    if pattern == "gradient":
        gx = x * u32(255) // wm1
        gy = y * u32(255) // hm1
        gxy = (x + y) * u32(255) // u32(max(w + h - 2, 1))
        v = np.where(c == 0, gx, np.where(c == 1, gy, gxy))
    elif pattern == "hgrad":
        v = x * u32(255) // wm1
    elif pattern == "stripes":
        p = u32(seed)
        v = np.where(
            c == 0,
            ((x // p) % u32(2)) * u32(255),
            np.where(c == 1, ((y // p) % u32(2)) * u32(255), (((x + y) // p) % u32(2)) * u32(128)),
        )
    elif pattern == "checker":
        p = u32(seed)
        v = np.where(((x // p + y // p) % u32(2)) == 1, u32(220), u32(35)) + c * u32(10)
    elif pattern == "noise":
        v = noise_byte(x, y, c, seed)
    elif pattern == "blocks":
        v = noise_byte(x // u32(16), y // u32(16), c, seed)
    elif pattern == "rings":
        cx, cy = u32(w // 3), u32(h // 2)
        dx = np.where(x > cx, x - cx, cx - x)
        dy = np.where(y > cy, y - cy, cy - y)
        r2 = dx * dx + dy * dy
        v = ((r2 >> u32(seed)) & u32(1)) * (u32(80) + u32(60) * c)
    elif pattern == "flat":
        v = (u32(seed) >> (u32(8) * c)) & u32(255)
    elif pattern == "mixed":
        g = x * u32(255) // wm1
        v = g * u32(3) // u32(4) + noise_byte(x, y, c, seed) // u32(4)
    else:
        raise ValueError(pattern)
    assert v.max() <= 255
    return v.astype(np.uint8)


# ---------------------------------------------------------------- the C++ core through ctypes

LIB = ctypes.CDLL(pdqhash.bindings.__file__)
F32P = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
U8P = ctypes.c_void_p
HASH = ctypes.c_uint16 * 16

_fill_rgb = LIB._ZN8facebook3pdq7hashing20fillFloatLumaFromRGBEPhS2_S2_iiiiPf
_fill_rgb.argtypes = [U8P, U8P, U8P, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, F32P]
_fill_rgb.restype = None
_fill_grey = LIB._ZN8facebook3pdq7hashing21fillFloatLumaFromGreyEPhiiiiPf
_fill_grey.argtypes = [U8P, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_int, F32P]
_fill_grey.restype = None
_hash = LIB._ZN8facebook3pdq7hashing23pdqHash256FromFloatLumaEPfS2_iiPA64_fS4_PA16_fRNS1_7Hash256ERi
_hash.restype = None
_dih = LIB._ZN8facebook3pdq7hashing33pdqDihedralHash256esFromFloatLumaEPfS2_iiPA64_fS4_PA16_fS6_PNS1_7Hash256ES8_S8_S8_S8_S8_S8_S8_Ri
_dih.restype = ctypes.c_bool


def hash_hex(words):
    """C++ Hash256 -> hex: words 15..0, 4 hex digits each."""
    return "".join("%04x" % words[i] for i in range(15, -1, -1))


def cpp_luma(img):
    img = np.ascontiguousarray(img)
    h, w, ch = img.shape
    out = np.zeros((h, w), dtype=np.float32)
    base = img.ctypes.data
    if ch == 1:
        _fill_grey(base, h, w, w, 1, out)
    else:
        _fill_rgb(base, base + 1, base + 2, h, w, 3 * w, 3, out)
    return out


def cpp_core(luma):
    """(hash hex, quality, [8 dihedral hex], dihedral quality) from f32 luma via the C++ core."""
    h, w = luma.shape
    buf64 = (ctypes.c_float * 4096)()
    buf16x64 = (ctypes.c_float * 1024)()
    buf16 = (ctypes.c_float * 256)()
    aux = (ctypes.c_float * 256)()
    q = ctypes.c_int(-1)
    out = HASH()
    b1 = np.ascontiguousarray(luma, dtype=np.float32).copy()
    b2 = np.zeros_like(b1)
    _hash(b1.ctypes.data_as(ctypes.c_void_p), b2.ctypes.data_as(ctypes.c_void_p), h, w,
          buf64, buf16x64, buf16, ctypes.byref(out), ctypes.byref(q))
    plain, quality = hash_hex(out), q.value

    b1 = np.ascontiguousarray(luma, dtype=np.float32).copy()
    b2 = np.zeros_like(b1)
    hs = [HASH() for _ in range(8)]
    qd = ctypes.c_int(-1)
    _dih(b1.ctypes.data_as(ctypes.c_void_p), b2.ctypes.data_as(ctypes.c_void_p), h, w,
         buf64, buf16x64, buf16, aux, *[ctypes.byref(x) for x in hs], ctypes.byref(qd))
    return plain, quality, [hash_hex(x) for x in hs], qd.value


def nearest_512(img):
    """CImg's default resize (nearest, corner-anchored) to exactly 512x512."""
    h, w, _ = img.shape
    ys = (np.arange(512, dtype=np.int64) * h) // 512
    xs = (np.arange(512, dtype=np.int64) * w) // 512
    return img[ys][:, xs]


def vec_hex(v):
    return np.packbits(np.asarray(v, dtype=np.uint8)).tobytes().hex()


def ref_pdqhash(img):
    rgb = img if img.shape[2] == 3 else np.repeat(img, 3, axis=2)
    rgb = np.ascontiguousarray(rgb)
    v, q = pdqhash.compute(rgb)
    vs, qd = pdqhash.compute_dihedral(rgb)
    assert q == qd
    plain, dih = vec_hex(v), [vec_hex(x) for x in vs]
    # Validate the ctypes harness: pdqhash's own f64 luma through the C++ core must agree.
    r, g, b = (rgb[:, :, i] for i in range(3))
    luma = (r * 0.299 + g * 0.587 + b * 0.114).astype("float32")
    if img.shape[2] == 1:
        assert np.array_equal(luma, img[:, :, 0].astype(np.float32)), "f64 grey luma != v"
    c_plain, c_q, c_dih, c_qd = cpp_core(luma)
    assert (c_plain, c_q, c_dih, c_qd) == (plain, q, dih, q), "ctypes harness disagrees"
    return plain, q, dih


def ref_meta_cpp(img):
    h, w, _ = img.shape
    if w > 512 or h > 512:
        img = nearest_512(img)
    luma = cpp_luma(img)
    if img.shape[2] == 3:
        f = np.float32
        r, g, b = (img[:, :, i].astype(f) for i in range(3))
        mine = (f(0.299) * r + f(0.587) * g) + f(0.114) * b
        assert np.array_equal(mine, luma), "numpy f32 luma != C++ luma"
    plain, q, dih, qd = cpp_core(luma)
    assert q == qd
    return plain, q, dih


# ---------------------------------------------------------------- the cases

CASES = [
    # name, pattern, width, height, channels, seed
    ("tiny4x4", "noise", 4, 4, 3, 1),
    ("tiny5x4", "noise", 5, 4, 3, 2),
    ("tiny4x9", "checker", 4, 9, 3, 2),
    ("thin4x600", "stripes", 4, 600, 3, 7),
    ("min5x5", "noise", 5, 5, 3, 3),
    ("min5x5_grey", "noise", 5, 5, 1, 4),
    ("grad_7x11", "gradient", 7, 11, 3, 0),
    ("noise_64", "noise", 64, 64, 3, 5),
    ("grad_64", "gradient", 64, 64, 3, 0),
    ("checker_64", "checker", 64, 64, 3, 4),
    ("flat_64", "flat", 64, 64, 3, 0x204080),
    ("noise_63x65", "noise", 65, 63, 3, 6),
    ("noise_65x63_grey", "noise", 63, 65, 1, 7),
    ("stripes_127x300", "stripes", 127, 300, 3, 3),
    ("rings_300x127", "rings", 300, 127, 3, 6),
    ("blocks_128", "blocks", 128, 128, 3, 8),
    ("mixed_129x257", "mixed", 129, 257, 3, 9),
    ("grad_200x150", "gradient", 200, 150, 3, 0),
    ("hgrad_256_grey", "hgrad", 256, 256, 1, 0),
    ("flat_333x222", "flat", 333, 222, 3, 0x7F7F7F),
    ("flat_grey_100", "flat", 100, 100, 1, 200),
    ("checker_257x255", "checker", 257, 255, 3, 16),
    ("stripes_1px_320x240", "stripes", 320, 240, 3, 1),
    ("rings_512", "rings", 512, 512, 3, 8),
    ("noise_513x400", "noise", 513, 400, 3, 10),
    ("blocks_600x90", "blocks", 600, 90, 3, 11),
    ("mixed_1030x700", "mixed", 1030, 700, 3, 12),
    ("rings_700x1030_grey", "rings", 700, 1030, 1, 9),
    ("stripes_2000x30", "stripes", 2000, 30, 3, 5),
    ("grad_1030x700", "gradient", 1030, 700, 3, 0),
    ("checker_1500x1100", "checker", 1500, 1100, 3, 37),
]


def find_64_quirk(channels, start):
    """First 64x64 noise seed where pdqhash.compute differs from compute_dihedral()[0]."""
    for seed in range(start, start + 20000):
        img = generate("noise", 64, 64, channels, seed)
        rgb = np.ascontiguousarray(img if channels == 3 else np.repeat(img, 3, axis=2))
        v, _ = pdqhash.compute(rgb)
        vs, _ = pdqhash.compute_dihedral(rgb)
        if vec_hex(v) != vec_hex(vs[0]):
            return seed
    raise RuntimeError("no 64x64 quirk case found")


def main():
    cases = list(CASES)
    cases.append(("quirk64_noise", "noise", 64, 64, 3, find_64_quirk(3, 1000)))
    rows = []
    for name, pattern, w, h, ch, seed in cases:
        img = generate(pattern, w, h, ch, seed)
        assert img.shape == (h, w, ch)
        digest = hashlib.sha256(np.ascontiguousarray(img).tobytes()).hexdigest()
        for profile, fn in (("pdqhash", ref_pdqhash), ("meta-cpp", ref_meta_cpp)):
            plain, q, dih = fn(img)
            rows.append([name, pattern, w, h, ch, seed, digest, profile, q, plain] + dih)
        print(name, file=sys.stderr)
    with open(OUT, "w", newline="") as f:
        wr = csv.writer(f, lineterminator="\n")
        wr.writerow(["name", "pattern", "width", "height", "channels", "seed", "pixels_sha256",
                     "profile", "quality", "hash"] + ORIENTATIONS)
        wr.writerows(rows)


if __name__ == "__main__":
    main()
