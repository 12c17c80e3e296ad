"""Benign synthetic test images, made with numpy (gradients, noise, shapes, stripes)."""

from __future__ import annotations

import numpy as np
import pytest


def gradient(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(w - 1, 1)).astype(np.uint8)
    g = (y * 255 // max(h - 1, 1)).astype(np.uint8)
    b = ((x + y) * 127 // max(h + w - 2, 1)).astype(np.uint8)
    return np.dstack([r, g, b])


def noise(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def shapes(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    for _ in range(6):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        rad = rng.integers(max(h, w) // 10, max(h, w) // 3)
        color = rng.integers(0, 256, 3)
        if rng.random() < 0.5:
            img[(y - cy) ** 2 + (x - cx) ** 2 < rad**2] = color
        else:
            img[(abs(y - cy) < rad) & (abs(x - cx) < rad // 2)] = color
    return img


def stripes(h: int, w: int, period: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    v = (((x // period) + (y // (2 * period))) % 2 * 200 + 30).astype(np.uint8)
    return np.dstack([v, v // 2, 255 - v])


#: (name, RGB uint8 array): varied sizes, aspect ratios (tall ones exercise Pillow 13's
#: vertical-first resize), and content.
IMAGES = [
    ("gradient_64x48", gradient(48, 64)),
    ("gradient_tall", gradient(301, 77)),
    ("noise_120x90", noise(90, 120, 1)),
    ("noise_small", noise(13, 17, 2)),
    ("noise_tall", noise(257, 40, 3)),
    ("shapes_200x150", shapes(150, 200, 4)),
    ("shapes_wide", shapes(60, 333, 5)),
    ("stripes_128", stripes(128, 128, 7)),
    ("stripes_odd", stripes(99, 141, 5)),
]


@pytest.fixture(params=IMAGES, ids=[n for n, _ in IMAGES])
def image(request: pytest.FixtureRequest) -> np.ndarray:
    return request.param[1]
