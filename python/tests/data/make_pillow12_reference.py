#!/usr/bin/env python3
"""imagehash 4.3.2 under Pillow 12 on the synthetic test images: the reference for
nearmatch.imagehash with ``pillow_version = "12"`` (Pillow 13 changed the resize pass order).

    /path/to/venv-with-pillow-12/bin/python make_pillow12_reference.py   # from this directory

Pinned: Pillow 12.3.0, ImageHash 4.3.2, numpy 2.4.6, scipy 1.17.1, PyWavelets 1.9.0 (and pytest,
which conftest.py imports). Writes
imagehash_pillow12.json: {image: {case: str(hash)}}. The images come from ../conftest.py
(numpy, fixed seeds), so the test regenerates exactly these pixels.
"""
import json
import os
import sys
import warnings

import imagehash
import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from conftest import IMAGES  # noqa: E402

assert PIL.__version__.split(".")[0] == "12", PIL.__version__


def cases():
    """(case id, function) pairs; the test rebuilds the same list."""
    out = []
    for n in (2, 3, 5, 8, 13, 16, 32):
        out += [(f"average_hash/{n}", lambda im, n=n: imagehash.average_hash(im, n)),
                (f"average_hash_median/{n}", lambda im, n=n: imagehash.average_hash(im, n, np.median)),
                (f"phash/{n}", lambda im, n=n: imagehash.phash(im, n)),
                (f"phash_hf3/{n}", lambda im, n=n: imagehash.phash(im, n, 3)),
                (f"phash_simple/{n}", lambda im, n=n: imagehash.phash_simple(im, n)),
                (f"dhash/{n}", lambda im, n=n: imagehash.dhash(im, n)),
                (f"dhash_vertical/{n}", lambda im, n=n: imagehash.dhash_vertical(im, n))]
    for n in (2, 4, 8, 16):
        out += [(f"whash/{n}", lambda im, n=n: imagehash.whash(im, n)),
                (f"whash_db4/{n}", lambda im, n=n: imagehash.whash(im, n, mode="db4")),
                (f"whash_keep_ll/{n}", lambda im, n=n: imagehash.whash(im, n, remove_max_haar_ll=False)),
                (f"whash_scale64/{n}", lambda im, n=n: imagehash.whash(im, n, image_scale=64))]
    out += [("colorhash/3", lambda im: imagehash.colorhash(im)),
            ("crop_resistant", lambda im: imagehash.crop_resistant_hash(im, min_segment_size=50)),
            ("crop_resistant_phash", lambda im: imagehash.crop_resistant_hash(
                im, imagehash.phash, segmentation_image_size=120, min_segment_size=20))]
    return out


NAMES = ["gradient_tall", "noise_tall", "stripes_odd", "shapes_wide"]

if __name__ == "__main__":
    ref = {}
    for name, arr in IMAGES:
        if name not in NAMES:
            continue
        im = Image.fromarray(arr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref[name] = {case: str(f(im)) for case, f in cases()}
    with open(os.path.join(HERE, "imagehash_pillow12.json"), "w") as f:
        json.dump(ref, f, indent=0, sort_keys=True)
    print(sum(len(v) for v in ref.values()), "hashes")
