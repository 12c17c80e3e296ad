"""Errors surface as the Python exceptions a caller expects."""

from __future__ import annotations

import numpy as np
import pytest

import nearmatch


def test_missing_file_is_file_not_found(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError) as e:
        nearmatch.pdq(missing)
    assert e.value.filename == str(missing)
    with pytest.raises(FileNotFoundError):
        nearmatch.HashSet.open(tmp_path / "nope.nmset")


def test_undecodable_is_decode_error(tmp_path):
    assert issubclass(nearmatch.DecodeError, ValueError)
    with pytest.raises(nearmatch.DecodeError, match="not a supported image"):
        nearmatch.phash(b"plain text, not an image")
    truncated = tmp_path / "t.png"
    from PIL import Image

    Image.fromarray(np.zeros((40, 40), np.uint8) + 9).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    with pytest.raises(nearmatch.DecodeError):
        nearmatch.pdq(truncated)


def test_bad_hex_and_sizes():
    with pytest.raises(ValueError, match="hex"):
        nearmatch.Hash.from_hex("zz" * 8)
    with pytest.raises(ValueError, match="16 hex digits"):
        nearmatch.Hash.from_hex("abc")
    with pytest.raises(ValueError):
        nearmatch.Hash.from_hex("0" * 16, algorithm="pdq")
    with pytest.raises(ValueError):
        nearmatch.Hash.from_bytes(b"\x00" * 5)


def test_bad_arrays():
    with pytest.raises(ValueError, match="dtype"):
        nearmatch.pdq(np.zeros((8, 8), np.float32))
    with pytest.raises(ValueError, match="channels"):
        nearmatch.pdq(np.zeros((8, 8, 5), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        nearmatch.pdq(np.zeros((0, 8), np.uint8))
    with pytest.raises(TypeError):
        nearmatch.pdq(12345)


def test_non_contiguous_array_is_accepted():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 80, 3), dtype=np.uint8)
    view = a[:, ::-1]
    assert nearmatch.pdq(view) == nearmatch.pdq(np.ascontiguousarray(view))
    assert nearmatch.pdq(view) != nearmatch.pdq(a)
