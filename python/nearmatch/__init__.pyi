"""Type stubs for nearmatch (runtime: nearmatch/__init__.py and the nearmatch._native extension)."""

import os
from typing import Any, Callable, Iterable, Iterator, Literal, Mapping, Sequence, TypeAlias

import numpy as np
import numpy.typing as npt

__version__: str
__all__: list[str]

ORIENTATIONS: tuple[str, ...]
PROBE_FAMILIES: tuple[str, ...]
DEFAULT_PROBE_RADIUS: int

_ImageInput: TypeAlias = str | os.PathLike[str] | bytes | bytearray | memoryview | npt.NDArray[Any] | Any
"""A path, encoded image bytes, a numpy uint8/uint16 array ((H, W), (H, W, 3), (H, W, 4)) or a
PIL.Image.Image."""

_QueryInput: TypeAlias = Hash | str | Sequence[Hash | str] | npt.NDArray[np.uint8]
"""A Hash, a hex string, a sequence of those, or a uint8 array (N, bits/8) of big-endian bytes."""

_PillowVersion: TypeAlias = Literal["13", "12", 13, 12]

_Mode: TypeAlias = Literal["exact", "fast"]
_Orientation: TypeAlias = Literal["stored", "exif"]

_ReportFormat: TypeAlias = Literal["jsonl", "csv", "vics", "dfxml", "case", "html"]

_Probes: TypeAlias = str | Sequence[str] | bool | None
"""A probe list: "default" (trim), "none", "all", comma-separated family names
("trim,crop", "default,rotate"), a sequence of those, True ("default") or None/False (none)."""

class DecodeError(ValueError):
    """The data is not a supported image, or could not be decoded."""

class Hash:
    """A perceptual hash: str() is lower-case hex, h1 - h2 the Hamming distance."""

    @staticmethod
    def from_hex(s: str, algorithm: str | None = None) -> Hash: ...
    @staticmethod
    def from_bytes(b: bytes) -> Hash: ...
    @property
    def hex(self) -> str: ...
    @property
    def algorithm(self) -> str | None: ...
    @property
    def quality(self) -> int | None: ...
    @property
    def bits(self) -> npt.NDArray[np.bool_]: ...
    @property
    def hash(self) -> npt.NDArray[np.bool_]: ...
    @property
    def has_dihedral(self) -> bool: ...
    def dihedral(self) -> dict[str, Hash]: ...
    @property
    def mode(self) -> _Mode | None: ...
    @property
    def hashed_size(self) -> tuple[int, int] | None: ...
    @property
    def exif_orientation(self) -> int | None: ...
    @property
    def has_probes(self) -> bool: ...
    @property
    def probe_families(self) -> list[str]: ...
    def probes(self) -> dict[str, Hash]: ...
    def __sub__(self, other: Hash) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...
    def __bytes__(self) -> bytes: ...
    def __int__(self) -> int: ...
    def __len__(self) -> int: ...

def pdq(
    x: _ImageInput,
    profile: Literal["pdqhash", "meta-cpp"] = "pdqhash",
    *,
    mode: _Mode = "exact",
    probes: _Probes = "default",
    orientation: _Orientation = "stored",
) -> Hash: ...
def phash(
    x: _ImageInput, hash_size: Literal[8, 16] = 8, *, highfreq_factor: int = 4,
    pillow: _PillowVersion = "13", mode: _Mode = "exact", orientation: _Orientation = "stored"
) -> Hash: ...
def dhash(
    x: _ImageInput, hash_size: Literal[8, 16] = 8, *, pillow: _PillowVersion = "13", mode: _Mode = "exact",
    orientation: _Orientation = "stored"
) -> Hash: ...
def ahash(
    x: _ImageInput, hash_size: Literal[8, 16] = 8, *, pillow: _PillowVersion = "13", mode: _Mode = "exact",
    orientation: _Orientation = "stored"
) -> Hash: ...
def whash(
    x: _ImageInput, hash_size: Literal[8, 16] = 8, *, image_scale: int | None = None,
    remove_max_haar_ll: bool = True, pillow: _PillowVersion = "13", mode: _Mode = "exact",
    orientation: _Orientation = "stored"
) -> Hash: ...
def average_hash(
    x: _ImageInput, hash_size: Literal[8, 16] = 8, *, pillow: _PillowVersion = "13", mode: _Mode = "exact",
    orientation: _Orientation = "stored"
) -> Hash: ...
def hex_to_hash(s: str) -> Hash: ...

class HashResults:
    """Columnar result of hash_files: one row per path, in input order (with containers
    expanded, each file's members follow its row, ``path`` their virtual paths)."""

    path: list[str]
    algos: tuple[str, ...]
    columns: dict[str, list[str | None]]
    pdq_quality: npt.NDArray[np.int16]
    error: list[str | None]
    pdq_dihedral: list[list[str] | None] | None
    hash_mode: list[_Mode | None]
    hashed_size: list[tuple[int, int] | None]
    exif_orientation: list[int | None]
    @property
    def pdq_probes(self) -> list[dict[str, str] | None] | None: ...
    def hashes(self, algo: str) -> list[Hash | None]: ...
    def digests(self, algo: str) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.bool_]]: ...
    def __len__(self) -> int: ...
    def __getitem__(self, algo: str) -> list[str | None]: ...
    def __getattr__(self, name: str) -> list[str | None]: ...
    def to_pandas(self) -> Any: ...

def hash_files(
    paths: Iterable[str | os.PathLike[str]],
    algos: Sequence[str] | str = ("pdq",),
    threads: int | None = None,
    progress: bool = False,
    *,
    profile: Literal["pdqhash", "meta-cpp"] = "pdqhash",
    pillow: _PillowVersion = "13",
    dihedral: bool = False,
    mode: _Mode = "exact",
    probes: _Probes = None,
    containers: Literal["none", "default", "all"] = "none",
    orientation: _Orientation = "stored",
) -> HashResults: ...

class SearchResult:
    """Matches: parallel arrays; unpacks as (query_index, entry_index, distance[, probe])."""

    hashset: HashSet
    query_index: npt.NDArray[np.int64]
    entry_index: npt.NDArray[np.int64]
    distance: npt.NDArray[np.int32]
    probe: npt.NDArray[np.int32] | None
    probe_name: npt.NDArray[np.object_] | None
    @property
    def orientation(self) -> npt.NDArray[np.object_] | None: ...
    def __iter__(self) -> Iterator[npt.NDArray[Any]]: ...
    def __len__(self) -> int: ...
    def to_pandas(self) -> Any: ...

class HashSet:
    """A read-only, memory-mapped hash-set file."""

    @classmethod
    def open(cls, path: str | os.PathLike[str], mmap: bool = True) -> HashSet: ...
    @classmethod
    def build(
        cls,
        path: str | os.PathLike[str],
        hashes: _QueryInput,
        metadata: Sequence[Mapping[str, Any] | None] | Mapping[str, Sequence[Any]] | None = None,
        algo: str = "pdq",
        *,
        memory_budget: int | None = None,
    ) -> HashSet: ...
    def __len__(self) -> int: ...
    @property
    def algorithm(self) -> str: ...
    @property
    def bits(self) -> int: ...
    @property
    def path(self) -> str: ...
    @property
    def layers(self) -> list[dict[str, Any]]: ...
    @property
    def is_layered(self) -> bool: ...
    def provenance(self) -> dict[str, Any]: ...
    def hashes(self) -> npt.NDArray[np.uint8]: ...
    def entry_numbers(self) -> npt.NDArray[np.int64]: ...
    def entry(self, i: int) -> dict[str, Any]: ...
    def search(
        self,
        queries: _QueryInput,
        max_distance: int | None = None,
        dihedral: bool = False,
        *,
        probes: _Probes = None,
        probe_max_distance: int | None = None,
        engine: Literal["auto", "scan", "mih"] = "auto",
    ) -> SearchResult: ...
    def knn(self, queries: _QueryInput, k: int = 1, dihedral: bool = False) -> SearchResult: ...
    def shard(
        self, out_dir: str | os.PathLike[str], shards: int, *, memory_budget: int | None = None
    ) -> dict[str, Any]:
        """Cuts the set by hash prefix into shard files and a shards.json manifest."""
    @classmethod
    def open_shard(
        cls,
        manifest: str | os.PathLike[str],
        index: int,
        verify: Literal["sha256", "header"] = "sha256",
    ) -> HashSet:
        """Opens one shard of a manifest, checked against it."""
    def lookup(self, queries: _QueryInput) -> SearchResult:
        """Exact matches by binary search (MD5/SHA-1/SHA-256 sets)."""

def read_shard_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Reads and checks a shards.json manifest."""

def read_report(path: str | os.PathLike[str]) -> Any: ...
def convert_report(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    to: _ReportFormat | None = None,
) -> dict[str, Any]: ...

class ScanResult:
    header: dict[str, Any]
    summary: dict[str, Any]
    output: str | list[str] | None
    @property
    def matched_files(self) -> int: ...
    @property
    def failed(self) -> bool: ...
    @property
    def exit_code(self) -> int: ...
    def records(self) -> Iterator[dict[str, Any]]: ...
    def __iter__(self) -> Iterator[dict[str, Any]]: ...
    def __len__(self) -> int: ...
    def to_pandas(self) -> Any: ...

def scan(
    evidence: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    sets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
    *,
    output: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
    format: _ReportFormat | None = None,
    algos: Iterable[str] | str | None = None,
    max_distance: int | str | Mapping[str, int] | None = None,
    probes: _Probes = "default",
    probe_max_distance: int | None = None,
    max_file_size: int = ...,
    decode_timeout: float = 60.0,
    threads: int | None = None,
    mode: _Mode = "exact",
    profile: str = "pdqhash",
    pillow: _PillowVersion = "13",
    resume: bool = False,
    progress: Callable[[dict[str, Any]], object] | None = None,
    missing_ok: bool = False,
    containers: Literal["default", "none", "all"] = "default",
    container_limits: Mapping[str, int] | None = None,
    orientation: _Orientation = "stored",
    ignore_sets: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] = (),
    decode_known_good: bool = False,
) -> ScanResult: ...

class VpdqHash:
    frame: np.ndarray
    quality: np.ndarray
    hash: np.ndarray
    timestamp: np.ndarray
    hex: list[str]
    fps: float
    rate: str
    step: int
    width: int
    height: int
    codec: str
    format: str
    duration: float | None
    truncated: bool
    warnings: str | None
    frames: list[np.ndarray] | None
    def __init__(self, d: dict[str, Any]) -> None: ...
    def __len__(self) -> int: ...
    def to_text(self) -> str: ...
    def to_pandas(self) -> Any: ...

def vpdq(
    path: str | os.PathLike[str],
    seconds_per_hash: float = 1.0,
    *,
    timeout: float = 600.0,
    max_frames: int = 100_000,
    keep_frames: bool = False,
) -> VpdqHash: ...
