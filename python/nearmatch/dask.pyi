"""Type stubs for nearmatch.dask (runtime: nearmatch/dask.py; needs the "dask" extra)."""

import os
from typing import Any, Iterable, Literal, Sequence

import pandas as pd

from . import HashSet, _Mode, _PillowVersion, _Probes, _QueryInput

__all__: list[str]

def match_partition(
    paths: Sequence[str | os.PathLike[str]],
    hashset: str | os.PathLike[str] | HashSet,
    algos: Iterable[str] | str | None = None,
    *,
    max_distance: int | None = None,
    dihedral: bool = False,
    threads: int | None = 1,
    profile: str = "pdqhash",
    pillow: _PillowVersion = "13",
    start: int = 0,
    probes: _Probes = None,
    probe_max_distance: int | None = None,
    mode: _Mode = "exact",
    ignore_sets: Sequence[str | os.PathLike[str]] | None = None,
) -> pd.DataFrame: ...
def match_files(
    paths: Iterable[str | os.PathLike[str]],
    hashset: str | os.PathLike[str] | HashSet,
    algos: Iterable[str] | str | None = None,
    *,
    max_distance: int | None = None,
    dihedral: bool = False,
    files_per_partition: int = 256,
    threads: int | None = 1,
    profile: str = "pdqhash",
    pillow: _PillowVersion = "13",
    probes: _Probes = None,
    probe_max_distance: int | None = None,
    mode: _Mode = "exact",
    ignore_sets: Sequence[str | os.PathLike[str]] | None = None,
) -> Any:
    """A dask.dataframe.DataFrame indexed by file_index; ``hashset`` may also be the
    shards.json manifest of a sharded set (the same result; each partition scanned once)."""
def shard_placement(manifest: dict[str, Any], client: Any) -> dict[int, str]:
    """The worker address each shard's tasks go to."""
def match_sharded(
    manifest: str | os.PathLike[str],
    queries: _QueryInput,
    max_distance: int | None = None,
    dihedral: bool = False,
    *,
    client: Any = None,
    batch_size: int = 65536,
    verify: Literal["sha256", "header"] = "sha256",
    engine: Literal["auto", "scan", "mih"] = "auto",
) -> pd.DataFrame:
    """Searches a sharded set on a Dask cluster; equals the unsharded set's search as pandas."""
