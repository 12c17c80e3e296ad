"""nearmatch: perceptual image hashes (PDQ, the imagehash family) and exact search in hash sets.

Hash an image (a path, encoded bytes, a numpy array or a PIL image)::

    import nearmatch
    h = nearmatch.pdq("photo.png")          # Hash: str(h) is hex, h.quality 0..100
    p = nearmatch.phash("photo.png")        # same hex as imagehash.phash(Image.open(...))
    p - nearmatch.phash("other.png")        # Hamming distance

Hash many files in parallel (the GIL is released)::

    res = nearmatch.hash_files(paths, algos=("pdq", "phash"))
    df = res.to_pandas()

Search a hash set::

    s = nearmatch.HashSet.open("known.nmset")
    hits = s.search([h], max_distance=31, dihedral=True)
    hits.to_pandas()

Query-side probes (PDQ): a PDQ hash of an image carries extra probe hashes (by default of the
border-trimmed and the content-box picture), so padded, letterboxed or screenshotted copies
match; every match names its probe::

    h = nearmatch.pdq("padded.png")                     # probes="default": trim, content-box
    s.search([h], probes="default").to_pandas()         # probe column: "plain", "trim", ...
    h = nearmatch.pdq("x.jpg", probes="all")            # + crop, rotate, dihedral

Scan evidence as the CLI does (same engine: every file accounted for, several sets, probes,
limits, decode budget), with the GIL released::

    res = nearmatch.scan(["/mnt/evidence"], sets=["known.nmset"], output="report.jsonl")
    res.summary["matched_files"], res.exit_code
    df = res.to_pandas()                     # one row per record
    for rec in res: ...                      # records as dicts, read one at a time

A drop-in for Python ``imagehash`` (its whole API, every size and option, same hex; also
colorhash and crop_resistant_hash) is :mod:`nearmatch.imagehash`::

    import nearmatch.imagehash as imagehash

Scale out over a Dask cluster (``pip install "nearmatch[dask]"``): :mod:`nearmatch.dask`.

Requires CPython >= 3.10 (one abi3 wheel per platform).
"""

from __future__ import annotations

import json
import os
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from . import _native
from ._native import DecodeError, Hash

__version__: str = _native.__version__

__all__ = [
    "ORIENTATIONS",
    "PROBE_FAMILIES",
    "DEFAULT_PROBE_RADIUS",
    "DecodeError",
    "Hash",
    "HashResults",
    "HashSet",
    "SearchResult",
    "__version__",
    "ahash",
    "average_hash",
    "dhash",
    "hash_files",
    "hex_to_hash",
    "pdq",
    "phash",
    "convert_report",
    "read_report",
    "read_shard_manifest",
    "scan",
    "ScanResult",
    "VpdqHash",
    "vpdq",
    "whash",
]

#: The 8 dihedral orientations, in the order of ``Hash.dihedral()`` and of search probes.
ORIENTATIONS: tuple[str, ...] = (
    "orig",
    "rot90",
    "rot180",
    "rot270",
    "flipx",
    "flipy",
    "flipplus1",
    "flipminus1",
)

#: The probe families a probe list can name (plus "default", "none" and "all").
PROBE_FAMILIES: tuple[str, ...] = tuple(_native.PROBE_FAMILIES)

#: Match radius of derived probes (trim, crop, ...) unless ``probe_max_distance`` says otherwise;
#: each uses ``min(max_distance, probe_max_distance)``. The plain hash keeps ``max_distance``.
DEFAULT_PROBE_RADIUS: int = _native.DEFAULT_PROBE_RADIUS

_MODES = ("exact", "fast")


def _probe_spec(probes: Any) -> str | None:
    """A probe list as the core parses it: None, "default", "none", "all", family names, or a
    sequence of those."""
    if probes is None or probes is False:
        return None
    if probes is True:
        return "default"
    if isinstance(probes, str):
        spec = probes
    else:
        items = list(probes)
        for p in items:
            if not isinstance(p, str):
                raise TypeError(f"probe families are strings, got {type(p).__name__}")
        spec = ",".join(items) if items else "none"
    _native.probe_families(spec)  # a ValueError naming an unknown family
    return spec


def _mode(mode: str) -> str:
    m = str(mode).strip().lower()
    if m not in _MODES:
        raise ValueError(f"mode must be \"exact\" or \"fast\", got {mode!r}")
    return m


#: Hash width in bits of every algorithm a set can hold.
_ALGO_BITS = {
    "pdq": 256, "ahash": 64, "dhash": 64, "phash": 64, "whash": 64,
    "ahash16": 256, "dhash16": 256, "phash16": 256, "whash16": 256,
    "md5": 128, "sha1": 160, "sha256": 256,
}


# --------------------------------------------------------------------------------------------
# Single images
# --------------------------------------------------------------------------------------------

def _pil_to_array(img: Any, grey: bool = False) -> np.ndarray:
    """Pixels of a PIL image reduced as nearmatch's decoder reduces files.

    RGB and L are used as they are; alpha is dropped without compositing (RGBA -> RGB,
    LA -> L); 16-bit grey stays 16-bit; palette, CMYK and other modes go through Pillow's own
    conversion to RGB (bilevel to L). With ``grey`` (the imagehash family, which starts from
    ``convert("L")``) those other modes go through Pillow's ``convert("L")`` instead: for
    YCbCr that is the Y channel, not the luma of Pillow's RGB.
    """
    mode = img.mode
    if mode in ("RGB", "L"):
        return np.asarray(img)
    if mode in ("RGBA", "RGBX", "RGBa"):
        return np.asarray(img)[..., :3]
    if mode in ("LA", "La"):
        return np.asarray(img)[..., 0]
    if mode == "1":
        return np.asarray(img.convert("L"))
    if mode.startswith("I;16"):
        return np.asarray(img).astype(np.uint16, copy=False)
    if mode == "I":
        # 16-bit grey PNGs open as "I" in some Pillow versions; wider values are clipped.
        return np.clip(np.asarray(img), 0, 65535).astype(np.uint16)
    if mode == "F":
        # What both references see: Pillow reduces F to L (truncating, clipped to 0..255)
        # for convert("RGB") and convert("L") alike.
        return np.asarray(img.convert("L"))
    if grey and mode not in ("P", "PA"):
        return np.asarray(img.convert("L"))
    return np.asarray(img.convert("RGB"))


def _is_pil(x: Any) -> bool:
    mod = type(x).__module__
    return mod.startswith("PIL.") and hasattr(x, "mode") and hasattr(x, "size")


def _orientation(orientation: str) -> str:
    o = str(orientation).strip().lower()
    if o not in ("stored", "exif"):
        raise ValueError(f'orientation must be "stored" or "exif", got {orientation!r}')
    return o


def _displayed(x: Any, orientation: str) -> Any:
    """A PIL image turned as its EXIF Orientation tag displays it (``orientation="exif"``);
    numpy arrays carry no tag, so asking to apply one is an error rather than a silent no-op."""
    if orientation != "exif":
        return x
    if isinstance(x, np.ndarray):
        raise ValueError('orientation="exif" needs a path, bytes or a PIL image: a numpy array '
                         "has no EXIF Orientation tag")
    if _is_pil(x):
        from PIL import ImageOps
        return ImageOps.exif_transpose(x)
    return x


def _hash(x: Any, algorithm: str, profile: str = "pdqhash", pillow: str | int = "13",
          mode: str = "exact", probes: Any = None, orientation: str = "stored") -> Hash:
    pillow = str(pillow)
    mode = _mode(mode)
    spec = _probe_spec(probes)
    orientation = _orientation(orientation)
    if isinstance(x, (str, os.PathLike)):
        return _native.hash_path(os.fspath(x), algorithm, profile, pillow, mode, spec,
                                 orientation)
    if isinstance(x, (bytes, bytearray, memoryview)):
        return _native.hash_encoded(bytes(x), algorithm, profile, pillow, mode, spec,
                                    orientation)
    x = _displayed(x, orientation)
    if isinstance(x, np.ndarray):
        arr = x
    elif _is_pil(x):
        arr = _pil_to_array(x, grey=algorithm.rstrip("0123456789") in _FAMILY)
    else:
        raise TypeError(
            "expected a path (str or os.PathLike), encoded image bytes, a numpy uint8 array or a "
            f"PIL.Image.Image, got {type(x).__name__}"
        )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    # Pixels are already decoded: there is no reduced decode to do, so the hash is exact.
    return _native.hash_array(np.ascontiguousarray(arr), algorithm, profile, pillow, mode, spec)


#: The imagehash-family algorithms: they start from Pillow's ``convert("L")``.
_FAMILY = ("phash", "dhash", "ahash", "whash")


def _source(x: Any, orientation: str = "stored") -> tuple[Any, str]:
    """(value, kind) of an image input for the native options path (the imagehash family with
    options): a path, bytes, or a numpy array (PIL images as arrays, reduced as for the other
    functions, grey as the family starts from)."""
    if isinstance(x, (str, os.PathLike)):
        return os.fspath(x), "path"
    if isinstance(x, (bytes, bytearray, memoryview)):
        return bytes(x), "bytes"
    x = _displayed(x, orientation)
    if isinstance(x, np.ndarray):
        arr = x
    elif _is_pil(x):
        arr = _pil_to_array(x, grey=True)
    else:
        raise TypeError(
            "expected a path (str or os.PathLike), encoded image bytes, a numpy uint8 array or a "
            f"PIL.Image.Image, got {type(x).__name__}"
        )
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8) * 255
    return np.ascontiguousarray(arr), "array"


def _hash_spec(x: Any, spec: tuple[Any, ...], pillow: str | int, mode: str,
               orientation: str = "stored") -> Hash:
    """An imagehash function with non-default options (the result must be 64 or 256 bits)."""
    orientation = _orientation(orientation)
    value, kind = _source(x, orientation)
    return _native.hash_imagehash(value, kind, spec, str(pillow), _mode(mode), orientation)


#: Wavelet names someone might pass as ``mode`` (imagehash's meaning of it).
_WAVELETS = ("haar", "db1", "db2", "db3", "db4", "db5", "db6", "db7", "db8", "sym2", "sym4",
             "coif1", "bior1.3")


def _family(name: str, hash_size: int) -> str:
    if hash_size == 8:
        return name
    if hash_size == 16:
        return name + "16"
    raise ValueError(f"hash_size must be 8 or 16, got {hash_size!r}")


_MODE_DOC = """``mode="exact"`` (the default) hashes the full-resolution pixels (reference-identical);
    ``mode="fast"`` decodes large files reduced (JPEG at 1/2-1/8 DCT scale, other formats
    box-averaged to a short side >= 256): several times faster on photos, a few bits from the
    exact hash. Fast mode needs the encoded file (a path or bytes): numpy arrays and PIL images
    are already decoded, so they are always hashed exactly. ``Hash.mode`` says which mode
    produced the hash (``"exact"`` also for files too small to reduce).

    ``orientation="stored"`` (the default) hashes the pixels as stored, ignoring the EXIF
    Orientation tag, as ``pdqhash`` and ``imagehash`` on ``Image.open(f)`` do;
    ``orientation="exif"`` hashes the picture as displayed, as after Pillow's
    ``ImageOps.exif_transpose`` (JPEG, PNG, WebP and TIFF tags; HEIF is always decoded as
    displayed; a PIL image is transposed by Pillow itself; a numpy array has no tag and is
    refused). PDQ's dihedral probes match across both conventions."""


def pdq(x: Any, profile: str = "pdqhash", *, mode: str = "exact", probes: Any = "default",
        orientation: str = "stored") -> Hash:
    """PDQ hash (256 bits) of an image, with ``.quality``, ``.dihedral()`` and ``.probes()``.

    ``x`` is a path, encoded bytes, a numpy uint8 array ((H, W), (H, W, 3) RGB, (H, W, 4) RGBA)
    or a PIL image. ``profile="pdqhash"`` reproduces the ``pdqhash`` package (and
    ThreatExchange); ``"meta-cpp"`` Meta's C++ command-line hasher.

    ``probes`` picks the query-side probe hashes the Hash carries for
    :meth:`HashSet.search` (``probes=``): ``"default"`` (trim), ``"none"``,
    ``"all"``, or family names (``["trim", "crop"]``, ``"default,rotate"``; families:
    :data:`PROBE_FAMILIES`). The hash itself (``str(h)``) is always the plain PDQ hash.
    """
    return _hash(x, "pdq", profile=profile, mode=mode, probes=probes, orientation=orientation)


def phash(x: Any, hash_size: int = 8, *, highfreq_factor: int = 4, pillow: str | int = "13",
          mode: str = "exact", orientation: str = "stored") -> Hash:
    """``imagehash.phash`` (same hex). ``pillow="12"`` reproduces hashes made with Pillow <= 12.

    ``highfreq_factor`` is imagehash's (the DCT runs on ``hash_size * highfreq_factor`` square);
    other values than the default 4 give hashes without an ``algorithm`` name (hash sets of
    ``phash`` hold the default). Any other ``hash_size`` than 8 and 16, and every other
    imagehash function and option: :mod:`nearmatch.imagehash`.
    """
    if highfreq_factor != 4:
        _family("phash", hash_size)
        if highfreq_factor < 1:
            raise ValueError(f"highfreq_factor must be >= 1, got {highfreq_factor!r}")
        spec = ("phash", int(hash_size), int(highfreq_factor), "mean", None, "haar", None, True)
        return _hash_spec(x, spec, pillow, mode, orientation)
    return _hash(x, _family("phash", hash_size), pillow=pillow, mode=mode,
                 orientation=orientation)


def dhash(x: Any, hash_size: int = 8, *, pillow: str | int = "13", mode: str = "exact",
          orientation: str = "stored") -> Hash:
    """``imagehash.dhash`` (same hex). ``pillow="12"`` reproduces hashes made with Pillow <= 12.
    """
    return _hash(x, _family("dhash", hash_size), pillow=pillow, mode=mode,
                 orientation=orientation)


def ahash(x: Any, hash_size: int = 8, *, pillow: str | int = "13", mode: str = "exact",
          orientation: str = "stored") -> Hash:
    """``imagehash.average_hash`` (same hex). ``pillow="12"`` for hashes made with Pillow <= 12.
    """
    return _hash(x, _family("ahash", hash_size), pillow=pillow, mode=mode,
                 orientation=orientation)


def whash(x: Any, hash_size: int = 8, *, image_scale: int | None = None,
          remove_max_haar_ll: bool = True, pillow: str | int = "13",
          mode: str = "exact", orientation: str = "stored") -> Hash:
    """``imagehash.whash`` (haar, same hex). ``pillow="12"`` for hashes made with Pillow <= 12.

    ``image_scale`` and ``remove_max_haar_ll`` are imagehash's; hashes with other values than
    the defaults carry no ``algorithm`` name. ``mode`` is nearmatch's (``"exact"`` or
    ``"fast"``), not imagehash's wavelet: for ``mode="db4"`` (a hash of another size) use
    ``nearmatch.imagehash.whash(image, mode="db4")``.
    """
    if isinstance(mode, str) and mode.strip().lower() in _WAVELETS:
        raise ValueError(
            f"mode={mode!r} looks like an imagehash wavelet: in nearmatch.whash, mode is "
            '"exact" or "fast" (how the file is decoded). Use nearmatch.imagehash.whash('
            f"image, mode={mode!r}) for imagehash's wavelet hashes.")
    if image_scale is not None or not remove_max_haar_ll:
        n = 8 if _family("whash", hash_size) == "whash" else 16
        if image_scale is not None and (image_scale < n or image_scale & (image_scale - 1)):
            raise ValueError(f"image_scale must be a power of two >= hash_size, got {image_scale!r}")
        spec = ("whash", n, 4, "mean", None if image_scale is None else int(image_scale),
                "haar", None, bool(remove_max_haar_ll))
        return _hash_spec(x, spec, pillow, mode, orientation)
    return _hash(x, _family("whash", hash_size), pillow=pillow, mode=mode,
                 orientation=orientation)


for _f in (pdq, phash, dhash, ahash, whash):
    _f.__doc__ = (_f.__doc__ or "").rstrip() + "\n\n    " + _MODE_DOC + "\n"
del _f

#: imagehash's name for :func:`ahash`.
average_hash = ahash


def hex_to_hash(s: str) -> Hash:
    """imagehash's name for :meth:`Hash.from_hex`."""
    return Hash.from_hex(s)


# --------------------------------------------------------------------------------------------
# Batch
# --------------------------------------------------------------------------------------------

class HashResults:
    """Columnar result of :func:`hash_files`: one row per input path, in input order.

    Attributes: ``path`` (list of str), one list of hex strings (or None) per algorithm (also
    reachable as ``res["pdq"]``), ``pdq_quality`` (numpy int16, -1 where PDQ was not computed),
    ``error`` (list of None or a message), ``hash_mode`` (per file ``"exact"``, ``"fast"`` or
    None when no perceptual hash was computed), ``hashed_size`` (per file None or the
    ``(width, height)`` a fast-mode hash was computed from), with ``dihedral=True``
    ``pdq_dihedral`` (per file None or the 8 dihedral PDQ hex strings in :data:`ORIENTATIONS`
    order), with ``probes=`` ``pdq_probes`` (per file None or a dict probe name -> hex), and
    ``exif_orientation`` (per file the EXIF Orientation tag 1-8 that ``orientation="exif"``
    applied, else None).
    """

    def __init__(self, path: list[str], algos: tuple[str, ...], columns: list[list[str | None]],
                 pdq_quality: np.ndarray, error: list[str | None],
                 pdq_dihedral: list[list[str] | None] | None = None,
                 hash_mode: list[str | None] | None = None,
                 hashed_size: list[tuple[int, int] | None] | None = None,
                 probe_sets: list[Any] | None = None,
                 exif_orientation: list[int | None] | None = None) -> None:
        self.path = path
        self.algos = algos
        self.columns = dict(zip(algos, columns))
        self.pdq_quality = pdq_quality
        self.error = error
        self.pdq_dihedral = pdq_dihedral
        self.hash_mode = hash_mode if hash_mode is not None else [None] * len(path)
        self.hashed_size = hashed_size if hashed_size is not None else [None] * len(path)
        self._probe_sets = probe_sets
        self.exif_orientation = (exif_orientation if exif_orientation is not None
                                 else [None] * len(path))

    @property
    def pdq_probes(self) -> list[dict[str, str] | None] | None:
        """Per file None or {probe name: hex} (plain first), when computed with ``probes=``."""
        if self._probe_sets is None:
            return None
        return [None if ps is None else {p[0]: p[3] for p in ps[1]} for ps in self._probe_sets]

    def hashes(self, algo: str) -> list[Hash | None]:
        """One algorithm's column as :class:`Hash` objects (None where it is missing).

        Hashes carry their mode; PDQ hashes carry their quality, their dihedral hashes when
        ``hash_files`` was called with ``dihedral=True`` and their probes with ``probes=``, so
        they can be searched with ``dihedral=True`` / ``probes=``. Cryptographic
        columns (md5, sha1, sha256) are not Hash values: use the hex strings.
        """
        algo = algo.strip().lower()
        if algo not in self.columns:
            raise KeyError(f"{algo!r} was not computed (algos: {list(self.algos)})")
        if algo in ("md5", "sha1", "sha256"):
            raise ValueError(f"{algo} is a cryptographic hash, not a nearmatch.Hash: use res[{algo!r}]")
        out: list[Hash | None] = []
        for i, hexdigest in enumerate(self.columns[algo]):
            if hexdigest is None:
                out.append(None)
            elif algo == "pdq":
                dih = self.pdq_dihedral[i] if self.pdq_dihedral is not None else None
                ps = self._probe_sets[i] if self._probe_sets is not None else None
                out.append(Hash._restore(hexdigest, algo, int(self.pdq_quality[i]), dih,
                                         self.hash_mode[i], self.hashed_size[i], ps))
            else:
                out.append(Hash._restore(hexdigest, algo, None, None, self.hash_mode[i],
                                         self.hashed_size[i], None))
        return out

    def digests(self, algo: str) -> tuple[np.ndarray, np.ndarray]:
        """One algorithm's column as numpy: ``(rows, present)``, where ``rows`` is a uint8 array
        (N, bits/8) of big-endian hash bytes (zeros where missing) and ``present`` a bool array
        (N,). ``rows[present]`` is a query array for :meth:`HashSet.search`.
        """
        algo = algo.strip().lower()
        if algo not in self.columns:
            raise KeyError(f"{algo!r} was not computed (algos: {list(self.algos)})")
        column = self.columns[algo]
        nbytes = _ALGO_BITS[algo] // 8
        present = np.fromiter((h is not None for h in column), dtype=bool, count=len(column))
        rows = np.zeros((len(column), nbytes), dtype=np.uint8)
        if present.any():
            packed = bytes.fromhex("".join(h for h in column if h is not None))
            rows[present] = np.frombuffer(packed, dtype=np.uint8).reshape(-1, nbytes)
        return rows, present

    def __len__(self) -> int:
        return len(self.path)

    def __getitem__(self, algo: str) -> list[str | None]:
        return self.columns[algo]

    def __getattr__(self, name: str) -> list[str | None]:
        columns = self.__dict__.get("columns", {})
        if name in columns:
            return columns[name]
        raise AttributeError(name)

    def __repr__(self) -> str:
        failed = sum(e is not None for e in self.error)
        return f"HashResults({len(self)} files, algos={list(self.algos)}, {failed} errors)"

    def to_pandas(self) -> Any:
        """A DataFrame: path, one column per algorithm, pdq_quality (nullable Int16), hash_mode,
        exif_orientation (nullable UInt8, with perceptual hashes), error."""
        import pandas as pd

        data: dict[str, Any] = {"path": self.path}
        for a in self.algos:
            data[a] = self.columns[a]
        if "pdq" in self.algos:
            q = self.pdq_quality
            data["pdq_quality"] = pd.array(np.where(q < 0, 0, q), dtype="Int16")
            data["pdq_quality"][q < 0] = pd.NA
        if any(a not in ("md5", "sha1", "sha256") for a in self.algos):
            data["hash_mode"] = self.hash_mode
            data["exif_orientation"] = pd.array(self.exif_orientation, dtype="UInt8")
        data["error"] = self.error
        return pd.DataFrame(data)


def hash_files(
    paths: Iterable[str | os.PathLike[str]],
    algos: Sequence[str] | str = ("pdq",),
    threads: int | None = None,
    progress: bool = False,
    *,
    profile: str = "pdqhash",
    pillow: str | int = "13",
    dihedral: bool = False,
    mode: str = "exact",
    probes: Any = None,
    containers: str = "none",
    orientation: str = "stored",
) -> HashResults:
    """Hashes files in parallel in Rust (GIL released), decoding each file once.

    ``algos`` names any of pdq, ahash, dhash, phash, whash (and the 16 variants), md5, sha1,
    sha256. ``threads=None`` uses every core. A file that cannot be read or decoded gets a
    message in ``error`` (its hash columns are None); no exception is raised for it.
    ``dihedral=True`` also keeps the 8 dihedral PDQ hashes of each file (``pdq_dihedral``,
    and in :meth:`HashResults.hashes`), computed from the same DCT. ``probes`` (None, the
    default: none; ``"default"``, ``"all"`` or family names as for :func:`pdq`) keeps the PDQ
    probes of each file (``pdq_probes``, and in :meth:`HashResults.hashes` for
    ``HashSet.search(..., probes=...)``). ``mode="fast"`` decodes large images reduced (see
    :func:`pdq`); ``hash_mode`` says per file which mode produced its hashes.
    ``containers="default"`` (or ``"all"``) also hashes what is inside each file as
    :func:`scan` does (archive members, PDF images, EXIF/MPF previews, animation frames): each
    member is a row right after its file's, ``path`` its virtual path (``a.zip!/b.jpg``).
    ``orientation="exif"`` hashes each image as its EXIF Orientation tag displays it (see
    :func:`pdq`); the default ``"stored"`` hashes the pixels as stored.
    """
    if isinstance(algos, str):
        algos = (algos,)
    algos = tuple(a.strip().lower() for a in algos)
    path_list = [os.fsdecode(os.fspath(p)) for p in paths]
    (columns, quality, errors, dihedrals, modes, sizes, probe_sets, expanded,
     orientations) = _native.hash_files(
        path_list, list(algos), threads, progress, profile, str(pillow), bool(dihedral),
        _mode(mode), _probe_spec(probes), containers, _orientation(orientation),
    )
    if expanded is not None:
        path_list = expanded
    return HashResults(path_list, algos, columns, quality, errors, dihedrals, modes, sizes,
                       probe_sets, orientations)


# --------------------------------------------------------------------------------------------
# Hash sets
# --------------------------------------------------------------------------------------------

class SearchResult:
    """Matches of a search: parallel numpy arrays, sorted by query then entry (knn: by distance).

    Unpacks as ``(query_index, entry_index, distance)``, with the probe appended when the
    search used probes: for ``dihedral=True`` its index in :data:`ORIENTATIONS` (``probe``),
    for ``probes=`` searches its name (``probe_name``). ``probe_name`` names the probe that hit
    (``"plain"``, ``"trim"``, ``"crop-l5"``, ``"plain+flipy"``, ...) and ``orientation``
    its orientation (``"orig"``, ``"flipy"``, ...) in both kinds of search.
    """

    def __init__(self, hashset: HashSet, query_index: np.ndarray, entry_index: np.ndarray,
                 distance: np.ndarray, probe: np.ndarray | None,
                 probe_name: np.ndarray | None = None,
                 orientation: np.ndarray | None = None) -> None:
        self.hashset = hashset
        self.query_index = query_index
        self.entry_index = entry_index
        self.distance = distance
        self.probe = probe
        if probe is not None and probe_name is None:
            orientation = np.asarray(ORIENTATIONS, dtype=object)[probe]
            probe_name = np.asarray(["plain" if o == "orig" else f"plain+{o}" for o in orientation],
                                    dtype=object)
        self.probe_name = probe_name
        self._orientation = orientation

    @property
    def orientation(self) -> np.ndarray | None:
        """Orientation name of the matching probe (searches with dihedral=True or probes=)."""
        return self._orientation

    def _tuple(self) -> tuple[np.ndarray, ...]:
        t = (self.query_index, self.entry_index, self.distance)
        if self.probe is not None:
            return t + (self.probe,)
        return t if self.probe_name is None else t + (self.probe_name,)

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self._tuple())

    def __len__(self) -> int:
        return len(self.query_index)

    def __repr__(self) -> str:
        queries = len(np.unique(self.query_index))
        return f"SearchResult({len(self)} matches for {queries} queries)"

    def to_pandas(self) -> Any:
        """A DataFrame: query_index, entry_index, distance, [probe (the probe's name),
        orientation,] then the entry's hash, id, labels (list of (scheme, value)) and note."""
        import pandas as pd

        hexes, ids, labels, notes, _ = self.hashset._set.entries(self.entry_index.tolist())
        data: dict[str, Any] = {
            "query_index": self.query_index,
            "entry_index": self.entry_index,
            "distance": self.distance,
        }
        if self.probe_name is not None:
            data["probe"] = self.probe_name
            data["orientation"] = self.orientation
        data.update({"hash": hexes, "id": ids, "labels": labels, "note": notes})
        return pd.DataFrame(data)


def _normalize_labels(labels: Any) -> list[tuple[str, str]]:
    if labels is None:
        return []
    if isinstance(labels, Mapping):
        items = labels.items()
    elif isinstance(labels, str):
        raise TypeError("labels must be a mapping {scheme: value} or a list of (scheme, value)")
    else:
        items = labels
    out = []
    for pair in items:
        scheme, value = pair
        out.append((str(scheme), str(value)))
    return out


def _metadata_columns(metadata: Any, n: int) -> tuple[list[str], list[list[tuple[str, str]]],
                                                      list[str]]:
    if metadata is None:
        # The input position as id: entries are stored sorted by hash, so this is how a match
        # is traced back to the caller's list.
        return [str(i) for i in range(n)], [[] for _ in range(n)], ["" for _ in range(n)]
    if isinstance(metadata, Mapping):
        unknown = set(metadata) - {"id", "labels", "note"}
        if unknown:
            raise ValueError(f"unknown metadata keys {sorted(unknown)} (known: id, labels, note)")
        cols = {k: list(v) for k, v in metadata.items()}
        for k, v in cols.items():
            if len(v) != n:
                raise ValueError(f"metadata[{k!r}] has {len(v)} values for {n} hashes")
        rows = [{k: cols[k][i] for k in cols} for i in range(n)]
    else:
        rows = list(metadata)
        if len(rows) != n:
            raise ValueError(f"{len(rows)} metadata records for {n} hashes")
    ids, labels, notes = [], [], []
    for i, r in enumerate(rows):
        if r is None:
            r = {}
        if not isinstance(r, Mapping):
            raise TypeError(f"metadata[{i}] must be a dict with id/labels/note, got {type(r).__name__}")
        unknown = set(r) - {"id", "labels", "note"}
        if unknown:
            raise ValueError(f"metadata[{i}] has unknown keys {sorted(unknown)} (known: id, labels, note)")
        ids.append("" if r.get("id") is None else str(r.get("id")))
        labels.append(_normalize_labels(r.get("labels")))
        notes.append("" if r.get("note") is None else str(r.get("note")))
    return ids, labels, notes


def _query_rows(queries: Any, bits: int, dihedral: bool) -> tuple[np.ndarray, list[int] | None]:
    """Queries as big-endian digest rows (plus probe-group offsets for dihedral searches)."""
    nbytes = (bits + 7) // 8
    if isinstance(queries, np.ndarray):
        if dihedral:
            raise ValueError(
                "dihedral=True needs PDQ Hash objects computed from images (nearmatch.pdq(...)); "
                "a numpy array of hashes carries no dihedral hashes"
            )
        arr = queries
        if arr.dtype != np.uint8:
            raise ValueError(f"query arrays must be uint8 (big-endian hash bytes), got {arr.dtype}")
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2 or arr.shape[1] != nbytes:
            raise ValueError(
                f"query array must have shape (N, {nbytes}) for {bits}-bit hashes, got {queries.shape}"
            )
        return np.ascontiguousarray(arr), None
    if isinstance(queries, (Hash, str)):
        queries = [queries]
    elif not isinstance(queries, Sequence):
        queries = list(queries)
    rows, offsets = _native.pack_queries(queries, bits, dihedral)
    return rows, offsets


def _crypto_rows(items: list[Any], bits: int) -> np.ndarray:
    nbytes = bits // 8
    rows = np.zeros((len(items), nbytes), dtype=np.uint8)
    for i, h in enumerate(items):
        text = str(h).strip()
        try:
            b = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"hashes[{i}]: {text!r} is not hex") from None
        if len(b) != nbytes:
            raise ValueError(f"hashes[{i}] has {len(b) * 8} bits, expected {bits}")
        rows[i] = np.frombuffer(b, dtype=np.uint8)
    return rows


def _exact_rows(queries: Any, algorithm: str, bits: int) -> np.ndarray:
    """Queries of an exact lookup as big-endian digest rows (hex strings parsed per algorithm)."""
    if isinstance(queries, np.ndarray):
        rows, _ = _query_rows(queries, bits, False)
        return rows
    items = [queries] if isinstance(queries, (Hash, str)) else list(queries)
    if algorithm in ("md5", "sha1", "sha256"):
        return _crypto_rows(items, bits)
    rows, _ = _native.pack_queries(items, bits, False)
    return rows


def read_shard_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads and checks a ``shards.json`` written by :meth:`HashSet.shard` or ``nearmatch set
    shard``: algorithm, shard count, prefix bits, and per shard its file, entries, first entry,
    size, header CRC-32 and SHA-256."""
    return json.loads(_native.shard_manifest(os.fspath(path)))


class HashSet:
    """A read-only hash-set file (``.nmset``), memory-mapped; search releases the GIL."""

    def __init__(self, native: Any) -> None:
        self._set = native

    @classmethod
    def open(cls, path: str | os.PathLike[str], mmap: bool = True) -> HashSet:
        """Opens a set file, validating it. ``mmap=False`` reads it into memory instead (for sets
        that other programs may rewrite while open).

        A delta layer (``nearmatch set delta``) opens with the whole stack below it, checked as
        the CLI checks it: each parent is looked up by file name next to its delta and must be
        the set the delta was built on (size, entry count, build time, header CRC-32); a missing
        or replaced parent raises ``ValueError`` naming both files. A stack then searches,
        looks up and counts exactly like one set rebuilt from the final list (same hashes, ids,
        labels and notes); only entry numbers differ (they run through the layers from the
        base up, hidden ones skipped). :attr:`layers` lists the layers. :meth:`shard` needs
        one flat set and refuses a stack (fold it with ``nearmatch set compact``)."""
        return cls(_native.Set.open(os.fspath(path), mmap))

    @classmethod
    def build(
        cls,
        path: str | os.PathLike[str],
        hashes: Any,
        metadata: Any = None,
        algo: str = "pdq",
        *,
        memory_budget: int | None = None,
    ) -> HashSet:
        """Writes a set of ``algo`` hashes at ``path`` (atomically) and opens it.

        ``hashes``: Hash objects, hex strings, or a uint8 array (N, bits/8). ``metadata``: None
        (each entry's id is then its position in ``hashes``), a list of dicts with optional
        ``id``, ``labels`` ({scheme: value} or [(scheme, value), ...]) and ``note``, or a mapping
        of those keys to equal-length lists. Entries are stored sorted by hash, so use the ids
        (not positions) to trace matches; exact duplicates (same hash and metadata) are dropped.

        ``memory_budget``: bytes the build may use for sorting and indexing (default 1 GiB);
        larger inputs are sorted in runs on disk next to ``path``, and the file written is the
        same whatever the budget. Running out of memory raises ``MemoryError``.
        """
        algo = algo.strip().lower()
        if algo not in _ALGO_BITS:
            raise ValueError(f"unknown algorithm {algo!r} (known: {', '.join(_ALGO_BITS)})")
        bits = _ALGO_BITS[algo]
        if isinstance(hashes, np.ndarray):
            rows, _ = _query_rows(hashes, bits, False)
        else:
            items = [hashes] if isinstance(hashes, (Hash, str)) else list(hashes)
            for i, h in enumerate(items):
                if isinstance(h, Hash) and h.algorithm is not None and h.algorithm != algo:
                    raise ValueError(f"hashes[{i}] is a {h.algorithm} hash, the set is {algo}")
            if algo in ("md5", "sha1", "sha256"):
                rows = _crypto_rows(items, bits)
            else:
                rows, _ = _native.pack_queries(items, bits, False)
        if memory_budget is not None and int(memory_budget) < 1:
            raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
        if metadata is None:
            # The native builder numbers the entries itself: no N-long Python lists.
            ids = labels = notes = None
        else:
            ids, labels, notes = _metadata_columns(metadata, rows.shape[0])
        _native.Set.build(os.fspath(path), algo, rows, ids, labels, notes, "python",
                          None if memory_budget is None else int(memory_budget))
        return cls.open(path)

    def __len__(self) -> int:
        """Entries; for a stack, the visible ones (what the rebuilt set would hold)."""
        return len(self._set)

    def __repr__(self) -> str:
        layers = self.layers
        more = f", layers={len(layers)}" if len(layers) > 1 else ""
        return (f"HashSet({os.fspath(self.path)!r}, algorithm={self.algorithm!r}, "
                f"entries={len(self)}{more})")

    @property
    def layers(self) -> list[dict[str, Any]]:
        """The layers, base first (one for an ordinary set), as ``nearmatch set info`` lists
        them: ``path``, ``bytes``, ``header_crc``, ``built_utc``, ``entries`` (its own, hidden
        ones included), ``first_entry`` (its entry 0's number in the stack), ``hidden`` (its
        entries that layers above remove or restate) and ``layer`` (None for the base; for a
        delta its parent, depth, additions, removals and removal bookkeeping)."""
        return json.loads(self._set.layers_json())

    @property
    def is_layered(self) -> bool:
        """True for a stack of a base set and delta layers."""
        return len(self.layers) > 1

    @property
    def algorithm(self) -> str:
        """The algorithm of every hash in the set (``pdq``, ``phash``, ``md5``, ...)."""
        return self._set.algorithm

    @property
    def bits(self) -> int:
        """Hash width in bits."""
        return self._set.bits

    @property
    def path(self) -> str:
        """The set file's path."""
        return os.fspath(self._set.path)

    def provenance(self) -> dict[str, Any]:
        """Build provenance: tool, time, every source list with its SHA-256 and counts (for a
        stack, the top delta's; every layer's is in ``nearmatch set info``)."""
        return json.loads(self._set.provenance_json())

    def hashes(self) -> np.ndarray:
        """Every hash as big-endian bytes, a uint8 array of shape (len, bits/8), in entry order.
        For a stack: the visible entries' hashes in hash order, as the rebuilt set holds them
        (their entry numbers: :meth:`entry_numbers`)."""
        return self._set.digests()

    def entry_numbers(self) -> np.ndarray:
        """The entry number of each row of :meth:`hashes` (``arange(len)`` for one set)."""
        return self._set.visible_entries()

    def entry(self, i: int) -> dict[str, Any]:
        """Entry ``i``: its hash (hex), id, labels (list of (scheme, value)) and note
        (``source`` indexes the sources of the provenance of the layer holding it)."""
        hexes, ids, labels, notes, sources = self._set.entries([int(i)])
        return {"hash": hexes[0], "id": ids[0], "labels": labels[0], "note": notes[0],
                "source": sources[0]}

    def search(self, queries: Any, max_distance: int | None = None, dihedral: bool = False,
               *, probes: Any = None, probe_max_distance: int | None = None,
               engine: str = "auto") -> SearchResult:
        """Every (query, entry) pair within ``max_distance`` (default: the algorithm's radius,
        31 for PDQ, 8 for 64-bit hashes), exactly.

        ``queries``: a Hash, a hex string, a list of those, or a uint8 array (N, bits/8).
        ``dihedral=True`` searches the 8 rotations/flips of each PDQ query (Hash objects from
        :func:`pdq` only) and reports the closest probe per (query, entry).
        ``probes`` (PDQ sets): ``"default"``, ``"all"`` or family names (as for :func:`pdq`)
        also searches those probes of each query (Hash objects hashed with those probes); a
        query matches an entry when its plain hash (or, with ``dihedral``, a flip/rotation of
        it) is within ``max_distance`` or a derived probe within ``min(max_distance,
        probe_max_distance)`` (default :data:`DEFAULT_PROBE_RADIUS`). Per (query, entry) the
        closest probe is reported (ties: the earlier one), named in ``probe_name``.
        ``engine``: ``"auto"`` (the set's stored multi-index or a scan, by estimated cost),
        ``"scan"`` or ``"mih"``; all are exact.
        """
        if max_distance is None:
            max_distance = self._set.default_radius
        if max_distance < 0:
            raise ValueError(f"max_distance must be >= 0, got {max_distance}")
        spec = _probe_spec(probes)
        if spec is not None:
            families = list(_native.probe_families(spec))
            dihedral = bool(dihedral) or "dihedral" in families
            families = [f for f in families if f != "dihedral"]
            if probe_max_distance is None:
                probe_max_distance = DEFAULT_PROBE_RADIUS
            if probe_max_distance < 0:
                raise ValueError(f"probe_max_distance must be >= 0, got {probe_max_distance}")
            if isinstance(queries, np.ndarray):
                raise ValueError("probes= needs Hash objects computed from images (they carry the "
                                 "probes); a numpy array of hashes holds plain hashes only")
            if isinstance(queries, (Hash, str)):
                queries = [queries]
            elif not isinstance(queries, Sequence):
                queries = list(queries)
            q, e, d, names, orients = self._set.probe_search(
                queries, families, dihedral, int(max_distance), int(probe_max_distance), engine)
            return SearchResult(self, q, e, d, None, np.asarray(names, dtype=object),
                                np.asarray(orients, dtype=object))
        rows, offsets = _query_rows(queries, self.bits, dihedral)
        q, e, d, p = self._set.search(rows, offsets, int(max_distance), engine)
        return SearchResult(self, q, e, d, p if dihedral else None)

    def shard(self, out_dir: str | os.PathLike[str], shards: int, *,
              memory_budget: int | None = None) -> dict[str, Any]:
        """Cuts the set by digest prefix into ``shards`` (a power of two) set files and a
        ``shards.json`` manifest in ``out_dir``; returns the manifest (see
        :func:`nearmatch.dask.match_sharded`).

        Shard ``i`` holds the entries whose hash's first ``log2(shards)`` bits equal ``i``, with
        their metadata and its own search index; entry ``j`` of shard ``i`` is entry
        ``files[i]["first_entry"] + j`` of this set. ``memory_budget`` bounds each shard's build
        as for :meth:`build`. A stack of delta layers is refused with ``ValueError`` naming its
        parent: fold it into one set first (``nearmatch set compact``)."""
        if memory_budget is not None and int(memory_budget) < 1:
            raise ValueError(f"memory_budget must be a positive number of bytes, got {memory_budget!r}")
        return json.loads(self._set.shard(os.fspath(out_dir), int(shards),
                                          None if memory_budget is None else int(memory_budget)))

    @classmethod
    def open_shard(cls, manifest: str | os.PathLike[str], index: int,
                   verify: str = "sha256") -> HashSet:
        """Opens shard ``index`` of a ``shards.json`` manifest after checking it against the
        manifest (``verify="sha256"``: the whole file's SHA-256; ``"header"``: size, entry count
        and header CRC-32 only); a mismatch raises ``ValueError`` naming the shard file."""
        native, _ = _native.Set.open_shard(os.fspath(manifest), int(index), verify)
        return cls(native)

    def lookup(self, queries: Any) -> SearchResult:
        """Exact matches (distance 0) by binary search in the sorted hashes: the fast path for
        MD5/SHA-1/SHA-256 sets. ``queries`` as for :meth:`search` (hex strings for crypto sets)."""
        rows = _exact_rows(queries, self.algorithm, self.bits)
        q, e = self._set.lookup(rows)
        return SearchResult(self, q, e, np.zeros(len(q), dtype=np.int32), None)

    def knn(self, queries: Any, k: int = 1, dihedral: bool = False) -> SearchResult:
        """The ``k`` nearest entries of each query (by distance, then entry index)."""
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        rows, offsets = _query_rows(queries, self.bits, dihedral)
        q, e, d, p = self._set.knn(rows, offsets, int(k))
        return SearchResult(self, q, e, d, p if dihedral else None)


# --------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------

def read_report(path: str | os.PathLike[str]) -> Any:
    """Reads a ``nearmatch scan`` JSON Lines report into a pandas DataFrame.

    One row per ``"file"`` record (nested objects flattened to ``parent.child`` columns); the
    ``"header"`` and ``"summary"`` records go to ``df.attrs["header"]`` and
    ``df.attrs["summary"]`` (None when missing, e.g. for an interrupted scan).
    """
    header = summary = None
    files: list[dict[str, Any]] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{os.fspath(path)}:{lineno}: not JSON: {e.msg}") from None
            if not isinstance(rec, dict) or "record" not in rec:
                raise ValueError(f"{os.fspath(path)}:{lineno}: not a report record (no \"record\" key)")
            kind = rec.pop("record")
            if kind == "file":
                files.append(rec)
            elif kind == "header":
                header = rec
            elif kind == "summary":
                summary = rec
            # Unknown record kinds come from newer versions: skipped, not fatal.
    return _records_frame(files, header, summary)


def _records_frame(records: Iterable[dict[str, Any]], header: Any, summary: Any) -> Any:
    import pandas as pd

    files = list(records)
    df = pd.json_normalize(files, max_level=1) if files else pd.DataFrame()
    df.attrs["header"] = header
    df.attrs["summary"] = summary
    return df


class ScanResult:
    """The outcome of :func:`scan`: the chain-of-custody ``header``, the ``summary`` (the same
    record a JSON Lines report ends with), and the records, one dict per walked file, read one
    at a time from the scan's journal (iterate the result, or :meth:`to_pandas`)."""

    def __init__(self, native: Any, output: str | list[str] | None) -> None:
        self._native = native
        #: The chain-of-custody header (tool, command line, times, host, evidence, sets, options).
        self.header: dict[str, Any] = json.loads(native.header_json())
        #: Totals: files per disposition, matches per set and per probe, bytes, elapsed time.
        self.summary: dict[str, Any] = json.loads(native.summary_json())
        #: The report written, if ``output`` was given (a list for several reports).
        self.output = output

    @property
    def matched_files(self) -> int:
        """Files with at least one match."""
        return int(self._native.outcome()[0])

    @property
    def failed(self) -> bool:
        """Whether some file could not be processed (an ``error:`` or limit disposition)."""
        return bool(self._native.outcome()[1])

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this outcome: 0 no match, 1 matches, 2 failures, 3 both."""
        matched, failed = self._native.outcome()
        return (1 if matched else 0) | (2 if failed else 0)

    def records(self) -> Iterator[dict[str, Any]]:
        """The records in walk order, as dicts (the JSON Lines report's ``"file"`` records)."""
        for line in self._native.records():
            yield json.loads(line)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.records()

    def __len__(self) -> int:
        return int(self.summary["files_reported"])

    def __repr__(self) -> str:
        return (f"<ScanResult {len(self)} files, {self.matched_files} matched, "
                f"dispositions {self.summary['dispositions']}>")

    def to_pandas(self) -> Any:
        """One row per record (nested objects flattened to ``parent.child`` columns, matches as
        a list column), as :func:`read_report` gives for the JSON Lines report;
        ``df.attrs["header"]`` and ``df.attrs["summary"]`` hold the header and summary."""
        recs = []
        for r in self.records():
            r.pop("record", None)
            recs.append(r)
        return _records_frame(recs, self.header, self.summary)


def _radius_spec(max_distance: Any) -> str | None:
    if max_distance is None:
        return None
    if isinstance(max_distance, Mapping):
        return ",".join(f"{k}={int(v)}" for k, v in max_distance.items())
    if isinstance(max_distance, str):
        return max_distance
    return str(int(max_distance))


def scan(
    evidence: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    sets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
    *,
    output: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    format: str | None = None,
    algos: Iterable[str] | str | None = None,
    max_distance: int | str | Mapping[str, int] | None = None,
    probes: Any = "default",
    probe_max_distance: int | None = None,
    max_file_size: int = 2 << 30,
    decode_timeout: float = 60.0,
    threads: int | None = None,
    mode: str = "exact",
    profile: str = "pdqhash",
    pillow: str | int = "13",
    resume: bool = False,
    progress: Any = None,
    missing_ok: bool = False,
    containers: str = "default",
    container_limits: Mapping[str, int] | None = None,
    orientation: str = "stored",
    ignore_sets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
    decode_known_good: bool = False,
) -> ScanResult:
    """Scans evidence with the CLI's engine (``nearmatch scan``) and returns its records.

    ``evidence``: files or directories (walked recursively; links recorded, never followed).
    ``sets``: hash-set files to match against; none makes an inventory (every file hashed,
    nothing matched). ``output`` writes the report with its ``.sha256`` sidecar, byte-for-byte
    what the CLI writes for the same options: one path, or a list of paths for several reports
    from one scan. A report's format is ``format`` (``"jsonl"``, ``"csv"``, ``"vics"``,
    ``"dfxml"``, ``"case"`` or ``"html"``; a single output only), else the one its extension
    names (``.jsonl``, ``.csv``, ``.vics.json``, ``.dfxml``/``.xml``, ``.jsonld``, ``.html``),
    else JSON Lines for a single output. ``resume=True`` continues an interrupted scan from
    ``OUTPUT.partial`` (beside the first output).
    ``algos``: algorithms every record carries (default PDQ; MD5, SHA-1 and SHA-256 always).
    ``max_distance``: a radius for every perceptual set, ``{"pdq": 20}`` or ``"pdq=20"``.
    ``probes``: PDQ query probes as for the CLI's ``--probe`` (``"default"``, ``"none"``,
    ``"all"``, family names), ``probe_max_distance`` their radius. ``progress``: a callable
    given a dict (records, bytes, walked, total_items, total_bytes, elapsed) about twice a
    second. ``missing_ok``: a missing evidence path becomes an ``error:walk`` record instead of
    an error. ``containers``: ``"default"`` expands archives and compressed files (ZIP and the
    office documents built on it, TAR, gzip, bzip2, xz, zstd, 7z) into member records with
    virtual paths (``a.zip!/dir/b.jpg``) and a ``parent``; ``"none"`` records them as files.
    ``container_limits``: ``depth`` (8), ``members`` (per container), ``expanded_bytes`` (per
    walked file), ``ratio`` (expanded per compressed byte), ``member_bytes`` (held in memory).
    ``orientation``: ``"stored"`` (the default) hashes pixels as stored; ``"exif"`` as the
    EXIF Orientation tag displays them (records then carry ``exif_orientation``), as the CLI's
    ``--orientation``.
    ``ignore_sets``: exclusion sets of known-good files (MD5, SHA-1 or SHA-256 sets, e.g. built
    from NSRL), as the CLI's ``--ignore-set``: a file whose hash one holds gets the disposition
    ``"known-good"`` and a ``known_good`` list of the entries holding it, and is not decoded; a
    match set holding it too wins (the file is examined and reported ``"matched"``); archives
    are still expanded. A perceptual set raises ``ValueError``. ``decode_known_good=True``
    decodes known-good images anyway so perceptual match sets can overrule the ignore sets too
    (the CLI's ``--decode-known-good``).
    The GIL is released while the scan runs; Ctrl-C stops it (resumable).
    """
    if isinstance(evidence, (str, os.PathLike)):
        evidence = [evidence]
    if isinstance(sets, (str, os.PathLike)):
        sets = [sets]
    if isinstance(ignore_sets, (str, os.PathLike)):
        ignore_sets = [ignore_sets]
    if algos is None:
        algos_l: list[str] = []
    elif isinstance(algos, str):
        algos_l = [a.strip() for a in algos.split(",") if a.strip()]
    else:
        algos_l = [str(a) for a in algos]
    spec = _probe_spec(probes) or "none"
    if output is None:
        outs: list[str] = []
    elif isinstance(output, (str, os.PathLike)):
        outs = [os.fspath(output)]
    else:
        outs = [os.fspath(o) for o in output]
    native = _native.scan(
        [os.fspath(e) for e in evidence], [os.fspath(s) for s in sets], algos_l,
        _radius_spec(max_distance), spec,
        DEFAULT_PROBE_RADIUS if probe_max_distance is None else int(probe_max_distance),
        int(max_file_size), float(decode_timeout), threads, _mode(mode), profile, str(pillow),
        outs, format, bool(resume), bool(missing_ok), containers,
        dict(container_limits) if container_limits else None, progress,
        orientation=_orientation(orientation),
        ignore_sets=[os.fspath(s) for s in ignore_sets],
        decode_known_good=bool(decode_known_good))
    return ScanResult(native, outs[0] if len(outs) == 1 else (outs or None))


def convert_report(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    to: str | None = None,
) -> dict[str, Any]:
    """Renders the JSON Lines report of a finished scan in another format, as
    ``nearmatch report convert`` does: ``to`` is ``"dfxml"``, ``"case"`` (CASE/UCO JSON-LD),
    ``"html"``, ``"csv"``, ``"vics"`` or ``"jsonl"`` (default: from the extension of ``dst``).
    The output is byte-for-byte what the scan would have written, with ``DST.sha256`` (and the
    custody sidecar ``DST.header.json`` for CSV). Streams (memory does not grow with the report)
    with the GIL released. Returns the totals recounted from the records, which must equal the
    report's summary record: a report without one (an interrupted scan) or whose records do not
    add up to it raises ``ValueError``."""
    return json.loads(_native.convert_report(os.fspath(src), os.fspath(dst), to))


class VpdqHash:
    """vPDQ hash of a video (Meta's video PDQ): one PDQ hash per sampled frame.

    ``frame`` (uint64), ``quality`` (uint8), ``hash`` (uint8, shape (N, 32), the PDQ bytes
    big-endian as in Meta's hex) and ``timestamp`` (float64, seconds) are numpy arrays in frame
    order; ``hex`` the hashes as 64-digit hex strings; ``fps``, ``step`` (every ``step``-th frame
    was hashed), ``width``, ``height``, ``codec``, ``format`` and ``duration`` describe the stream.
    ``frames`` holds the decoded RGB frames (uint8, (H, W, 3)) when asked for with
    ``keep_frames=True``, else None. ``str()`` / ``to_text()`` give Meta's text format
    (``frame,quality,hash,timestamp``).
    """

    def __init__(self, d: dict[str, Any]) -> None:
        self.frame: np.ndarray = d["frame"]
        self.quality: np.ndarray = d["quality"]
        self.hash: np.ndarray = d["hash"]
        self.timestamp: np.ndarray = d["timestamp"]
        self.hex: list[str] = d["hex"]
        self.fps: float = d["fps"]
        self.rate: str = d["rate"]
        self.step: int = d["step"]
        self.width: int = d["width"]
        self.height: int = d["height"]
        self.codec: str = d["codec"]
        self.format: str = d["format"]
        self.duration: float | None = d["duration"]
        self.truncated: bool = d["truncated"]
        self.warnings: str | None = d["warnings"]
        self.frames: list[np.ndarray] | None = d.get("frames")
        self._text: str = d["text"]

    def __len__(self) -> int:
        return len(self.frame)

    def to_text(self) -> str:
        """Meta's vPDQ text format: one ``frame,quality,hash,timestamp`` line per frame."""
        return self._text

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return (f"VpdqHash({len(self)} frames, {self.width}x{self.height} {self.codec} "
                f"at {self.fps:.3f} fps, every {self.step} frames)")

    def to_pandas(self) -> Any:
        """The frames as a DataFrame: frame, quality, hash (hex), timestamp."""
        import pandas as pd

        return pd.DataFrame({"frame": self.frame, "quality": self.quality, "hash": self.hex,
                             "timestamp": self.timestamp})


def vpdq(path: str | os.PathLike[str], seconds_per_hash: float = 1.0, *, timeout: float = 600.0,
         max_frames: int = 100_000, keep_frames: bool = False) -> VpdqHash:
    """vPDQ hash of a video file, as Meta's vpdq computes it.

    Frames are decoded by the ``ffmpeg`` program (a separate process, killed after ``timeout``
    seconds); frame ``n`` (0-based, decode order) is hashed when ``n % int(seconds_per_hash *
    fps) == 0`` (0 hashes every frame); PDQ of the full-size RGB frame. Raises ValueError for a
    file ffmpeg cannot decode or without a video stream, TimeoutError past ``timeout``,
    RuntimeError when ffmpeg is not installed, FileNotFoundError / OSError for unreadable paths.
    The GIL is released while it runs.
    """
    return VpdqHash(_native.vpdq_path(os.fspath(path), float(seconds_per_hash), float(timeout),
                                      int(max_frames), bool(keep_frames)))
