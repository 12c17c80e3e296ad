"""A drop-in for Python ``imagehash`` 4.3.2, computed by nearmatch's Rust core.

Existing code runs unchanged with one import changed::

    import nearmatch.imagehash as imagehash
    from PIL import Image

    h = imagehash.phash(Image.open("a.png"))           # same hex as imagehash under this Pillow
    h - imagehash.phash(Image.open("b.png"))            # Hamming distance (a numpy integer)
    imagehash.hex_to_hash(str(h)) == h                  # True
    m = imagehash.crop_resistant_hash(Image.open("a.png"))
    m.matches(imagehash.crop_resistant_hash(Image.open("cropped.png")))

Every public name of imagehash 4.3.2 is here with its signature, defaults, return types and
error types: ``average_hash``, ``phash``, ``phash_simple``, ``dhash``, ``dhash_vertical``,
``whash`` (any ``mode`` wavelet: ``'haar'`` and ``'db4'`` built in, others through
PyWavelets' filters), ``colorhash``, ``crop_resistant_hash``, ``ImageHash``,
``ImageMultiHash``, ``hex_to_hash``, ``hex_to_flathash``, ``hex_to_multihash`` and
``old_hex_to_hash``. The hashes are bit-identical to imagehash's (same Pillow conversions and
Lanczos resize, scipy's DCT and PyWavelets' transforms reproduced operation for operation).

Images are ``PIL.Image`` objects, as for imagehash: Pillow decodes them; nearmatch converts,
resizes and hashes their pixels without the GIL. The resize follows the installed Pillow's pass
order (:data:`pillow_version`); set it to ``"12"`` to reproduce hashes made with Pillow <= 12.

Beyond imagehash: :func:`hash_files` hashes many files in parallel (decoded by nearmatch, one
decode for several functions).

``mode`` here is imagehash's: the wavelet of :func:`whash`. nearmatch's own ``mode`` (exact or
fast decoding) belongs to the native API (``nearmatch.whash(path, mode="fast")``); a PIL image is
already decoded, so this module always hashes exactly.
"""

from __future__ import annotations

import functools
import math
import operator
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal

import numpy
import numpy.typing
import PIL
from PIL import Image, ImageFile, ImageFilter  # noqa: F401  (imagehash's namespace has both)

from . import _native

__version__ = "4.3.2"
"""The imagehash version whose API and hashes this module reproduces."""

__all__ = [
    "ANTIALIAS",
    "HashFunc",
    "ImageHash",
    "ImageMultiHash",
    "MeanFunc",
    "NDArray",
    "WhashMode",
    "average_hash",
    "colorhash",
    "crop_resistant_hash",
    "decode_files",
    "dhash",
    "dhash_vertical",
    "hash_files",
    "hex_to_flathash",
    "hex_to_hash",
    "hex_to_multihash",
    "old_hex_to_hash",
    "phash",
    "phash_simple",
    "pillow_version",
    "whash",
]

#: imagehash's name for Pillow's Lanczos filter.
ANTIALIAS = Image.Resampling.LANCZOS

#: The resize pass order reproduced: ``"13"`` for Pillow >= 13 (vertical pass first when the
#: height shrinks more than twice as much as the width), ``"12"`` for Pillow <= 12. Defaults to
#: the installed Pillow's, so hashes equal imagehash's in the same environment.
pillow_version: str = "13" if int(PIL.__version__.split(".")[0]) >= 13 else "12"

WhashMode = Literal["haar", "db4"]
NDArray = numpy.typing.NDArray[numpy.bool_]
MeanFunc = Callable[[NDArray], float]


# --------------------------------------------------------------------------------------------
# Hash objects
# --------------------------------------------------------------------------------------------

def _int_to_bits(value: int, width: int) -> numpy.ndarray:
    """The binary digits of a non-negative int, zero-padded on the left to ``width`` (at least
    one digit, as ``format(value, 'b')`` gives)."""
    length = max(width, value.bit_length(), 1)
    nbytes = (length + 7) // 8
    bits = numpy.unpackbits(numpy.frombuffer(value.to_bytes(nbytes, "big"), dtype=numpy.uint8))
    return bits[bits.size - length:].astype(bool)


def _parse_hex(hexstr: str) -> int:
    value = int(hexstr, 16)
    if value < 0:
        # '{:0>Nb}' of a negative number has a '-' that imagehash then fails to read as a bit.
        raise ValueError("invalid literal for int() with base 10: '-'")
    return value


def _binary_array_to_hex(arr: Any) -> str:
    """imagehash's ``str(h)``: the flattened bits as one integer, lower-case hex, ``ceil(n/4)``
    digits zero-padded on the left."""
    flat = numpy.asarray(arr).ravel()
    if flat.dtype == numpy.bool_ and flat.size:
        pad = (-flat.size) % 4
        if pad:
            flat = numpy.concatenate([numpy.zeros(pad, dtype=bool), flat])
        digits = flat.size // 4
        return numpy.packbits(flat).tobytes().hex()[:digits]
    # Other dtypes: the digits as imagehash reads them (each element printed after `1 * x`).
    bit_string = "".join(str(b) for b in (1 * flat).tolist())
    width = -(-len(bit_string) // 4)
    return format(int(bit_string, 2), f"0{width}x")


class ImageHash:
    """A hash: ``hash`` is its numpy bool array. ``str(h)`` is hex, ``h1 - h2`` the Hamming
    distance (a numpy integer), ``==`` compares the flattened bits, ``len(h)`` is the bit count.
    """

    def __init__(self, binary_array: Any) -> None:
        self.hash = binary_array

    def __str__(self) -> str:
        return _binary_array_to_hex(self.hash.flatten())

    def __repr__(self) -> str:
        return repr(self.hash)

    def __sub__(self, other: ImageHash) -> Any:
        if other is None:
            raise TypeError("Other hash must not be None.")
        if self.hash.size != other.hash.size:
            raise TypeError("ImageHashes must be of the same shape.", self.hash.shape,
                            other.hash.shape)
        return numpy.count_nonzero(self.hash.flatten() != other.hash.flatten())

    def __eq__(self, other: object) -> bool:
        if other is None:
            return False
        # Duck-typed as in imagehash: anything with a `.hash` array (an imagehash.ImageHash
        # too); other objects raise AttributeError.
        return bool(numpy.array_equal(self.hash.flatten(), other.hash.flatten()))  # type: ignore[attr-defined]

    def __ne__(self, other: object) -> bool:
        if other is None:
            return False  # sic: imagehash says a hash is neither equal nor unequal to None
        return not numpy.array_equal(self.hash.flatten(), other.hash.flatten())  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        # imagehash's deliberately weak hash: sum of 2**(i % 8) over the set bits.
        on = numpy.flatnonzero(self.hash.flatten())
        return int((1 << (on % 8)).sum())

    def __len__(self) -> int:
        return int(self.hash.size)


HashFunc = Callable[[Image.Image], ImageHash]


class ImageMultiHash:
    """The segment hashes of :func:`crop_resistant_hash`, compared segment by segment
    (Efficient Cropping-Resistant Robust Image Hashing)."""

    def __init__(self, hashes: list[ImageHash]) -> None:
        self.segment_hashes = hashes

    def __eq__(self, other: object) -> bool:
        if other is None:
            return False
        return self.matches(other)  # type: ignore[arg-type]

    def __ne__(self, other: object) -> bool:
        return not self.matches(other)  # type: ignore[arg-type]

    def __sub__(self, other: ImageMultiHash, hamming_cutoff: float | None = None,
                bit_error_rate: float | None = None) -> float:
        matches, sum_distance = self.hash_diff(other, hamming_cutoff, bit_error_rate)
        segments = len(self.segment_hashes)
        if matches == 0:
            return segments
        score = matches - float(sum_distance) / (matches * len(self.segment_hashes[0]))
        return segments - score

    def __hash__(self) -> int:
        return hash(tuple(hash(segment) for segment in self.segment_hashes))

    def __str__(self) -> str:
        return ",".join(str(h) for h in self.segment_hashes)

    def __repr__(self) -> str:
        return repr(self.segment_hashes)

    def hash_diff(self, other_hash: ImageMultiHash, hamming_cutoff: float | None = None,
                  bit_error_rate: float | None = None) -> tuple[int, int]:
        """(number of segments whose nearest segment in ``other_hash`` is within the cutoff,
        sum of those distances). The cutoff defaults to ``bit_error_rate`` (0.25) of the bits."""
        if hamming_cutoff is None:
            rate = 0.25 if bit_error_rate is None else bit_error_rate
            hamming_cutoff = len(self.segment_hashes[0]) * rate
        kept = []
        for segment in self.segment_hashes:
            nearest = min(segment - other for other in other_hash.segment_hashes)
            if nearest <= hamming_cutoff:
                kept.append(nearest)
        return len(kept), sum(kept)

    def matches(self, other_hash: ImageMultiHash, region_cutoff: int = 1,
                hamming_cutoff: float | None = None,
                bit_error_rate: float | None = None) -> bool:
        """Whether at least ``region_cutoff`` segments match (see :meth:`hash_diff`)."""
        matches, _ = self.hash_diff(other_hash, hamming_cutoff, bit_error_rate)
        return matches >= region_cutoff

    def best_match(self, other_hashes: list[ImageMultiHash], hamming_cutoff: float | None = None,
                   bit_error_rate: float | None = None) -> ImageMultiHash:
        """The hash of ``other_hashes`` closest to this one (by ``-``)."""
        return min(other_hashes,
                   key=lambda other: self.__sub__(other, hamming_cutoff, bit_error_rate))


# --------------------------------------------------------------------------------------------
# Hex conversions
# --------------------------------------------------------------------------------------------

def _rows(bits: numpy.ndarray, width: int) -> numpy.ndarray:
    if bits.size % width:
        raise ValueError(
            "setting an array element with a sequence. The requested array has an inhomogeneous "
            f"shape after 1 dimensions. The detected shape was ({-(-bits.size // width)},) + "
            "inhomogeneous part.")
    return bits.reshape(-1, width)


def hex_to_hash(hexstr: str) -> ImageHash:
    """A hash from ``str(h)``, as a ``n``×``n`` array with ``n = int(sqrt(4 * len(hexstr)))``
    (imagehash's rule: any length is read, a non-square one into that many columns)."""
    side = int(numpy.sqrt(len(hexstr) * 4))
    bits = _int_to_bits(_parse_hex(hexstr), side * side)
    return ImageHash(_rows(bits, side))


def hex_to_flathash(hexstr: str, hashsize: int) -> ImageHash:
    """A flat hash (shape ``(1, n)``) from hex, e.g. a :func:`colorhash` with
    ``hashsize=binbits``."""
    count = int(len(hexstr) * 4 / hashsize)
    bits = _int_to_bits(_parse_hex(hexstr), count * hashsize)
    return ImageHash(bits.reshape(1, -1))


def hex_to_multihash(hexstr: str) -> ImageMultiHash:
    """An :class:`ImageMultiHash` from ``str(m)`` (comma-separated segment hashes)."""
    return ImageMultiHash([hex_to_hash(part) for part in hexstr.split(",")])


def old_hex_to_hash(hexstr: str, hash_size: int = 8) -> ImageHash:
    """A hash from the hex format of imagehash < 4.0 (each byte's bits least significant
    first), as ``hash_size * hash_size // 8`` rows of 8 bits."""
    count = hash_size * (hash_size // 4)
    if len(hexstr) != count:
        raise ValueError(f"Expected hex string size of {count}.")
    rows = []
    for i in range(count // 2):
        byte = int("0x" + hexstr[2 * i:2 * i + 2], 16)
        rows.append([byte >> bit & 1 == 1 for bit in range(8)])
    return ImageHash(numpy.array(rows))


# --------------------------------------------------------------------------------------------
# Pixels: what the core receives from a PIL image
# --------------------------------------------------------------------------------------------

#: Modes whose pixels the core converts itself with Pillow's formulas: (kind, bytes per pixel
#: from ``tobytes()``). Pillow stores the multi-band ones as 4 bytes per pixel, which its Arrow
#: export hands over without a copy.
_RAW_MODES = {"L": ("L", 1), "1": ("L", 1), "P": ("P", 1), "RGB": ("RGB", 3),
              "RGBA": ("RGB", 4), "RGBX": ("RGB", 4), "LA": ("L", 2), "PA": ("P", 2)}


def _check_image(image: Any) -> None:
    if not hasattr(image, "convert"):
        raise AttributeError(f"'{type(image).__name__}' object has no attribute 'convert'")


#: Pillow before 13 crashes (SIGSEGV) exporting an image whose pixels it does not own (numpy
#: arrays through ``Image.fromarray``, memory-mapped BMP files, ``Image.fromarrow``: the
#: ``readonly`` images); Pillow 13 exports them or raises ValueError.
_ARROW_READONLY_OK = int(PIL.__version__.split(".")[0]) >= 13


def _arrow(image: Any) -> tuple[Any, Any] | None:
    """The image's pixels through the Arrow C data interface (Pillow >= 11.2: no copy; None
    when unavailable, e.g. for images stored in several blocks, or borrowed pixels before
    Pillow 13)."""
    export = getattr(image, "__arrow_c_array__", None)
    if export is None or (getattr(image, "readonly", 0) and not _ARROW_READONLY_OK):
        return None
    try:
        return export()
    except (ValueError, TypeError, NotImplementedError):
        return None


_Pixels = tuple[Any, int, int, str, int, "bytes | None"]


def _pixels(image: Any) -> _Pixels:
    """``(data, width, height, kind, stride, palette)`` of a PIL image for the core: ``kind`` is
    ``L`` (grey in byte 0), ``RGB`` or ``P`` (palette index in byte 0, ``palette`` RGB triples),
    ``stride`` bytes per pixel; ``data`` is bytes or an Arrow export of the image."""
    _check_image(image)
    mode = image.mode
    w, h = image.size
    palette = None
    if mode in ("P", "PA"):
        palette = image.getpalette("RGB")
        if palette is None:
            mode = ""  # no palette: Pillow's own conversion below
        else:
            palette = bytes(palette)
    if mode in _RAW_MODES:
        kind, stride = _RAW_MODES[mode]
        image.load()
        arrow = _arrow(image) if w and h else None
        if arrow is not None:
            return arrow, w, h, kind, (1 if stride == 1 else 4), palette
        if mode == "1":
            # tobytes() packs bits; Pillow's L of a bilevel pixel is 0 or 255.
            bits = numpy.asarray(image).astype(numpy.uint8)
            return (bits * numpy.uint8(255)).tobytes(), w, h, "L", 1, None
        return image.tobytes(), w, h, kind, stride, palette
    if mode in ("I", "F") or mode.startswith("I;16"):
        # Pillow clips to 0..255 (F: then truncates); no rescaling.
        arr = numpy.clip(numpy.asarray(image), 0, 255).astype(numpy.uint8)
        return arr.tobytes(), w, h, "L", 1, None
    # Every other mode through Pillow's own conversion (and its errors: LAB, La, ...).
    return _pixels(image.convert("L"))


#: Formats and modes of not-yet-loaded images that nearmatch decodes from their file itself
#: (libjpeg-turbo for JPEG, as Pillow's wheels; PNG is lossless): the pixels are Pillow's, and
#: the hash is computed without Pillow's decode (about twice as fast).
_ENCODED_MODES = {"JPEG": ("L", "RGB"),
                  "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I;16B", "I")}

#: JPEG files are only decoded by nearmatch when Pillow's own JPEG library is libjpeg-turbo (as
#: in Pillow's wheels): another libjpeg could round the decoded pixels differently.
try:
    from PIL import features as _features

    _PILLOW_LIBJPEG_TURBO = bool(_features.check_feature("libjpeg_turbo"))
except Exception:  # noqa: BLE001
    _PILLOW_LIBJPEG_TURBO = False

#: Whether a not-yet-loaded JPEG or PNG image (``Image.open(path)``) is decoded by nearmatch
#: from its file (same pixels as Pillow, which is tested; the image is left unloaded). Set to
#: False to always let Pillow decode.
decode_files: bool = True


def _encoded(image: Any) -> tuple[bytes, int, int, str] | None:
    """``(file bytes, width, height, mode)`` of an image Pillow has opened but not decoded
    (nothing can have changed its pixels), when nearmatch decodes that format itself."""
    if not decode_files:
        return None
    try:
        if not (isinstance(image, ImageFile.ImageFile) and image.tile
                and image.mode in _ENCODED_MODES.get(image.format or "", ())
                and (image.format != "JPEG" or _PILLOW_LIBJPEG_TURBO)
                and not image.decoderconfig and not getattr(image, "is_animated", False)):
            return None
        fp = image.fp
        pos = fp.tell()
        try:
            fp.seek(0)
            data = fp.read()
        finally:
            fp.seek(pos)
        return bytes(data), image.size[0], image.size[1], image.mode
    except Exception:  # noqa: BLE001 - any doubt: let Pillow decode
        return None


def _from_file(image: Any, request: tuple[Any, ...]) -> list[Any] | None:
    """The request's result arrays computed from the image's file, or None (Pillow decodes)."""
    enc = _encoded(image)
    if enc is None:
        return None
    return _native.ih_hash_encoded(*enc, request, pillow_version)


def _hash(image: Any, spec: tuple[Any, ...]) -> ImageHash:
    arrays = _from_file(image, ("spec", spec, None, None))
    if arrays is not None:
        return ImageHash(arrays[0])
    return ImageHash(_native.ih_hash(*_pixels(image), spec, pillow_version))


def _spec(func: str, hash_size: int, highfreq_factor: int = 4, threshold: str = "mean",
          image_scale: int | None = None, wavelet: str = "haar",
          dec_lo: list[float] | None = None, remove_max_haar_ll: bool = True) -> tuple[Any, ...]:
    return (func, hash_size, highfreq_factor, threshold, image_scale, wavelet, dec_lo,
            bool(remove_max_haar_ll))


def _resize_side(value: Any) -> int:
    """A resize dimension as Pillow takes it: an integer (TypeError otherwise), > 0."""
    v = operator.index(value)
    if v <= 0:
        raise ValueError("height and width must be > 0")
    return v


def _min_two(hash_size: Any) -> int:
    if hash_size < 2:
        raise ValueError("Hash size must be greater than or equal to 2")
    return operator.index(hash_size)


# --------------------------------------------------------------------------------------------
# The hash functions
# --------------------------------------------------------------------------------------------

def average_hash(image: Image.Image, hash_size: int = 8,
                 mean: MeanFunc = numpy.mean) -> ImageHash:
    """Average hash: the image resized to ``hash_size`` square (greyscale, Lanczos), each pixel
    compared with ``mean`` of the pixels (``numpy.mean``; ``numpy.median`` also works)."""
    n = _min_two(hash_size)
    if mean is numpy.mean or mean is numpy.median:
        which = "mean" if mean is numpy.mean else "median"
        return _hash(image, _spec("average_hash", n, threshold=which))
    # Any other callable gets the resized pixels, as in imagehash.
    pixels = _native.ih_resized(*_pixels(image), n, n, pillow_version)
    pixels.flags.writeable = False
    return ImageHash(pixels > mean(pixels))


def phash(image: Image.Image, hash_size: int = 8, highfreq_factor: int = 4) -> ImageHash:
    """Perceptual hash: the DCT of the image resized to ``hash_size * highfreq_factor`` square,
    its top-left ``hash_size`` square (DC included) compared with its median."""
    _min_two(hash_size)
    _resize_side(hash_size * highfreq_factor)
    return _hash(image, _spec("phash", operator.index(hash_size), operator.index(highfreq_factor)))


def phash_simple(image: Image.Image, hash_size: int = 8, highfreq_factor: int = 4) -> ImageHash:
    """Simple perceptual hash: the row DCT of the image resized to ``hash_size *
    highfreq_factor`` square, block ``[:hash_size, 1:hash_size + 1]`` against its mean."""
    _resize_side(hash_size * highfreq_factor)
    n = _resize_side(hash_size)
    return _hash(image, _spec("phash_simple", n, operator.index(highfreq_factor)))


def dhash(image: Image.Image, hash_size: int = 8) -> ImageHash:
    """Difference hash: the image resized to ``hash_size + 1`` by ``hash_size``, each pixel
    compared with its left neighbour."""
    return _hash(image, _spec("dhash", _min_two(hash_size)))


def dhash_vertical(image: Image.Image, hash_size: int = 8) -> ImageHash:
    """Vertical difference hash: resized to ``hash_size`` by ``hash_size + 1``, each pixel
    compared with the one above."""
    return _hash(image, _spec("dhash_vertical", _resize_side(hash_size)))


def _wavelet_filter(mode: Any) -> tuple[str, list[float] | None, int]:
    """(name, dec_lo or None for a built-in, dec_len) of whash's ``mode``."""
    if isinstance(mode, str) and mode in ("haar", "db1"):
        return mode, None, 2
    if isinstance(mode, str) and mode == "db4":
        return mode, None, 8
    try:
        import pywt
    except ImportError:
        raise ValueError(f"whash mode {mode!r} needs PyWavelets for its filter "
                         "('haar' and 'db4' are built in)") from None
    w = mode if isinstance(mode, pywt.Wavelet) else pywt.Wavelet(mode)
    return w.name, [float(v) for v in w.dec_lo], int(w.dec_len)


def whash(image: Image.Image, hash_size: int = 8, image_scale: int | None = None,
          mode: WhashMode = "haar", remove_max_haar_ll: bool = True) -> ImageHash:
    """Wavelet hash: the image resized to ``image_scale`` square (default: the largest power
    of two within its smaller side, at least ``hash_size``), optionally without its coarsest
    Haar approximation, then the approximation band of the ``mode`` wavelet (``'haar'``,
    ``'db4'``, or any PyWavelets name) at ``log2(hash_size)`` against its median.

    ``mode`` is imagehash's (the wavelet); nearmatch's exact/fast ``mode`` does not apply to
    images that are already decoded.
    """
    if image_scale is not None:
        assert image_scale & (image_scale - 1) == 0, "image_scale is not power of 2"
    else:
        natural = 2 ** int(numpy.log2(min(image.size)))
        image_scale = max(natural, hash_size)
    ll_max_level = int(numpy.log2(image_scale))
    level = int(numpy.log2(hash_size))
    assert hash_size & (hash_size - 1) == 0, "hash_size is not power of 2"
    assert level <= ll_max_level, "hash_size in a wrong range"
    dwt_level = ll_max_level - level
    name, dec_lo, dec_len = _wavelet_filter(mode)
    # PyWavelets warns when the decomposition is deeper than the filter allows.
    scale = operator.index(image_scale)
    max_level = 0 if scale < dec_len - 1 else int(math.log2(scale // (dec_len - 1)))
    if dwt_level > max_level:
        warnings.warn(f"Level value of {dwt_level} is too high: all coefficients will "
                      "experience boundary effects.", stacklevel=2)
    spec = _spec("whash", 2 ** level, image_scale=scale, wavelet=name, dec_lo=dec_lo,
                 remove_max_haar_ll=remove_max_haar_ll)
    return _hash(image, spec)


def colorhash(image: Image.Image, binbits: int = 3) -> ImageHash:
    """Colour hash: the fractions of black, grey and six hues in faint and bright saturation,
    each in ``binbits`` bits (a 14 × ``binbits`` hash)."""
    if binbits < 1:
        raise ValueError("cannot reshape array of size 0 into shape (0)" if binbits == 0 else
                         "can only specify one unknown dimension")
    bits = operator.index(binbits)
    _check_image(image)
    mode = image.mode
    if (mode in _RAW_MODES or mode in ("1", "I", "F") or mode.startswith("I;16")
            or (mode in ("P", "PA") and image.getpalette("RGB") is not None)):
        # Greyscale modes have no hue or saturation (Pillow converts them to HSV through RGB).
        arrays = _from_file(image, ("colorhash", None, bits, None))
        if arrays is not None:
            return ImageHash(arrays[0])
        return ImageHash(_native.ih_colorhash(*_pixels(image), bits))
    # Pillow's own conversions for the other modes (CMYK, YCbCr, HSV, RGBa, ...).
    lum = image.convert("L").tobytes()
    hue, sat, _ = image.convert("HSV").split()
    return ImageHash(_native.ih_colorhash_planes(lum, hue.tobytes(), sat.tobytes(), bits))


def _threshold(segment_threshold: Any) -> float:
    """The value numpy compares float32 pixels with: a Python number is first cast to
    float32 (NEP 50), a numpy float64 is not."""
    dtype = numpy.result_type(numpy.float32, segment_threshold)
    return float(numpy.asarray(segment_threshold).astype(dtype))


_NATIVE_FUNCS: dict[Any, str] = {}


def _native_spec(hash_func: Any) -> tuple[Any, ...] | None:
    """The spec of a hash function nearmatch computes natively (one of this module's, or a
    ``functools.partial`` of one with keyword options), else None."""
    func, kwargs = hash_func, {}
    if isinstance(hash_func, functools.partial) and not hash_func.args:
        func, kwargs = hash_func.func, dict(hash_func.keywords)
    name = _NATIVE_FUNCS.get(func)
    if name is None:
        return None
    try:
        if name == "average_hash":
            mean = kwargs.pop("mean", numpy.mean)
            if mean is not numpy.mean and mean is not numpy.median:
                return None
            spec = _spec(name, _min_two(kwargs.pop("hash_size", 8)),
                         threshold="mean" if mean is numpy.mean else "median")
        elif name in ("phash", "phash_simple"):
            n, f = kwargs.pop("hash_size", 8), kwargs.pop("highfreq_factor", 4)
            if name == "phash":
                _min_two(n)
            _resize_side(n * f)
            spec = _spec(name, _resize_side(n), operator.index(f))
        elif name == "dhash":
            spec = _spec(name, _min_two(kwargs.pop("hash_size", 8)))
        elif name == "dhash_vertical":
            spec = _spec(name, _resize_side(kwargs.pop("hash_size", 8)))
        elif name == "whash":
            # Haar only: its level never exceeds PyWavelets' limit, so no warning is lost.
            mode = kwargs.pop("mode", "haar")
            if not (isinstance(mode, str) and mode in ("haar", "db1")):
                return None
            hs = operator.index(kwargs.pop("hash_size", 8))
            scale = kwargs.pop("image_scale", None)
            if scale is not None:
                scale = operator.index(scale)
            # Options imagehash refuses raise their own errors through the function itself.
            if hs <= 0 or hs & (hs - 1) or (scale is not None and (
                    scale <= 0 or scale & (scale - 1) or scale < hs)):
                return None
            spec = _spec(name, hs, image_scale=scale, wavelet=mode,
                         remove_max_haar_ll=kwargs.pop("remove_max_haar_ll", True))
        else:
            return None  # colorhash needs the crops' colours
    except (TypeError, ValueError):
        return None  # let the function raise its own error on the first crop
    return None if kwargs else spec


def crop_resistant_hash(image: Image.Image, hash_func: HashFunc | None = dhash,
                        limit_segments: int | None = None, segment_threshold: int = 128,
                        min_segment_size: int = 500,
                        segmentation_image_size: int = 300) -> ImageMultiHash:
    """Crop-resistant hash: bright and dark regions of the image (blurred, median-filtered,
    at ``segmentation_image_size`` square), each region of more than ``min_segment_size``
    pixels hashed over its bounding box in the original image with ``hash_func`` (default
    :func:`dhash`); ``limit_segments`` keeps the largest regions.
    """
    if hash_func is None:
        hash_func = dhash
    _check_image(image)
    size = _resize_side(segmentation_image_size)
    limit = operator.index(limit_segments) if limit_segments else None
    min_size = max(0, math.floor(min_segment_size))
    spec = _native_spec(hash_func)
    threshold = _threshold(segment_threshold)
    w, h = image.size
    if not w or not h:
        # Pillow resizes an empty image to zeros (Pillow 12 refuses a zero width it shrinks
        # vertically): one flat region, whose box is the whole (empty) image.
        if pillow_version == "12" and w == 0 and size < h:
            raise ValueError("height and width must be > 0")
        return ImageMultiHash([hash_func(image.crop((0, 0, w, h)))])
    if spec is not None:
        arrays = _from_file(image, ("crop_resistant", spec, None,
                                    (limit, threshold, min_size, size)))
        if arrays is not None:
            return ImageMultiHash([ImageHash(a) for a in arrays])
    boxes, hashes = _native.ih_crop_resistant(*_pixels(image), limit, threshold, min_size, size,
                                              spec, pillow_version)
    if hashes is not None:
        return ImageMultiHash([ImageHash(a) for a in hashes])
    return ImageMultiHash([hash_func(image.crop(box)) for box in boxes])


for _f in (average_hash, phash, phash_simple, dhash, dhash_vertical, whash, colorhash):
    _NATIVE_FUNCS[_f] = _f.__name__
del _f


# --------------------------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------------------------

def _request(hash_func: Any) -> tuple[Any, ...]:
    """A :func:`hash_files` request for one of this module's functions (or a
    ``functools.partial`` of one with keyword options)."""
    func, kwargs = hash_func, {}
    if isinstance(hash_func, functools.partial) and not hash_func.args:
        func, kwargs = hash_func.func, dict(hash_func.keywords)
    name = _NATIVE_FUNCS.get(func) if func is not crop_resistant_hash else "crop_resistant_hash"
    if name is None:
        raise TypeError(f"hash_files computes nearmatch.imagehash's functions (or partials of "
                        f"them with keyword options), got {hash_func!r}")
    if name == "colorhash":
        binbits = kwargs.pop("binbits", 3)
        if kwargs:
            raise TypeError(f"colorhash() got unexpected options {sorted(kwargs)}")
        if binbits < 1:
            raise ValueError("binbits must be >= 1")
        return ("colorhash", None, operator.index(binbits), None)
    if name == "crop_resistant_hash":
        inner = kwargs.pop("hash_func", None) or dhash
        spec = _native_spec(inner)
        if spec is None:
            raise TypeError(f"hash_files' crop_resistant_hash needs a hash_func nearmatch "
                            f"computes (average_hash, phash, phash_simple, dhash, "
                            f"dhash_vertical), got {inner!r}")
        limit = kwargs.pop("limit_segments", None)
        opts = (operator.index(limit) if limit else None,
                _threshold(kwargs.pop("segment_threshold", 128)),
                max(0, math.floor(kwargs.pop("min_segment_size", 500))),
                _resize_side(kwargs.pop("segmentation_image_size", 300)))
        if kwargs:
            raise TypeError(f"crop_resistant_hash() got unexpected options {sorted(kwargs)}")
        return ("crop_resistant", spec, None, opts)
    if name == "whash":
        hash_size = kwargs.pop("hash_size", 8)
        image_scale = kwargs.pop("image_scale", None)
        mode = kwargs.pop("mode", "haar")
        remove = kwargs.pop("remove_max_haar_ll", True)
        if kwargs:
            raise TypeError(f"whash() got unexpected options {sorted(kwargs)}")
        if image_scale is not None:
            assert image_scale & (image_scale - 1) == 0, "image_scale is not power of 2"
        assert hash_size > 0 and hash_size & (hash_size - 1) == 0, "hash_size is not power of 2"
        wname, dec_lo, _ = _wavelet_filter(mode)
        spec = _spec("whash", operator.index(hash_size),
                     image_scale=None if image_scale is None else operator.index(image_scale),
                     wavelet=wname, dec_lo=dec_lo, remove_max_haar_ll=remove)
        return ("spec", spec, None, None)
    spec = _native_spec(hash_func)
    if spec is None:
        raise TypeError(f"cannot compute {hash_func!r} in a batch (unknown options?)")
    return ("spec", spec, None, None)


def hash_files(paths: Iterable[str | os.PathLike[str]],
               hash_func: Any = None, *, threads: int | None = None,
               on_error: str = "raise", **options: Any) -> list[Any]:
    """Hashes image files in parallel in Rust (GIL released), each file decoded once.

    ``hash_func`` is one of this module's functions (default :func:`phash`) with ``options``
    (``hash_files(paths, phash, hash_size=16)``), or a sequence of functions and
    ``functools.partial`` objects, in which case each result is a tuple with one hash per
    function. :func:`crop_resistant_hash` gives :class:`ImageMultiHash` values. Files are
    decoded by nearmatch (libjpeg-turbo for JPEG, as Pillow): for PNG and JPEG the pixels, and so
    the hashes, are Pillow's. ``on_error="raise"`` raises ``ValueError`` naming the first file
    that cannot be read or decoded; ``on_error="none"`` gives None for it.
    """
    if on_error not in ("raise", "none"):
        raise ValueError(f'on_error must be "raise" or "none", got {on_error!r}')
    if hash_func is None:
        hash_func = phash
    many = isinstance(hash_func, Sequence)
    funcs = list(hash_func) if many else [functools.partial(hash_func, **options)
                                           if options else hash_func]
    if many and options:
        raise TypeError("options apply to a single hash_func; use functools.partial per function")
    requests = [_request(f) for f in funcs]
    path_list = [os.fsdecode(os.fspath(p)) for p in paths]
    rows = _native.ih_hash_files(path_list, requests, threads, pillow_version)
    out: list[Any] = []
    for path, (values, error) in zip(path_list, rows):
        if values is None:
            if on_error == "raise":
                raise ValueError(f"{path}: {error}")
            out.append(None)
            continue
        hashes = []
        for req, arrays in zip(requests, values):
            if req[0] == "crop_resistant":
                hashes.append(ImageMultiHash([ImageHash(a) for a in arrays]))
            else:
                hashes.append(ImageHash(arrays[0]))
        out.append(tuple(hashes) if many else hashes[0])
    return out

