"""Scale-out on a Dask cluster: hash a file list and search a hash set, partitioned by file.

Needs the ``dask`` extra (``pip install "nearmatch[dask]"``)::

    from dask.distributed import Client
    import nearmatch.dask

    client = Client("scheduler:8786")              # or LocalCluster()
    df = nearmatch.dask.match_files(paths, "/shared/known.nmset", algos=("pdq", "md5"),
                                    dihedral=True, files_per_partition=500)
    hits = df[df.entry_index.notna()].compute()   # a pandas DataFrame of the matches

Only file paths, the set's path and options travel to the workers: each worker reads the files
itself and opens the set by path (memory-mapped, once per worker process), so the paths and
the set must be reachable under the same names on every worker (a shared file system).

The result has one row per (file, matching entry), and one row with empty match columns for
a file that matched nothing or could not be hashed, so every input file appears; rows are in
input order, then by entry. Within a partition hashing runs in Rust with the GIL released.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from . import HashSet, hash_files

__all__ = ["match_files", "match_partition"]

_CRYPTO = ("md5", "sha1", "sha256")

#: Sets opened in this process, keyed by (path, inode, size, mtime): workers open each set once.
_OPEN_SETS: dict[tuple[str, int, int, int], HashSet] = {}
_OPEN_LOCK = threading.Lock()


def _open_set(path: str) -> HashSet:
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    with _OPEN_LOCK:
        s = _OPEN_SETS.get(key)
        if s is None:
            if len(_OPEN_SETS) >= 16:  # a replaced set file leaves its old key behind
                _OPEN_SETS.clear()
            s = _OPEN_SETS[key] = HashSet.open(path)
    return s


def _algos_for(set_algorithm: str, algos: Iterable[str] | str | None) -> tuple[str, ...]:
    """The requested algorithms with the set's own first (it is the one searched)."""
    if algos is None:
        algos = ()
    elif isinstance(algos, str):
        algos = (algos,)
    rest = [a.strip().lower() for a in algos]
    return (set_algorithm,) + tuple(dict.fromkeys(a for a in rest if a != set_algorithm))


def match_partition(
    paths: Sequence[str | os.PathLike[str]],
    hashset: str | os.PathLike[str] | HashSet,
    algos: Iterable[str] | str | None = None,
    *,
    max_distance: int | None = None,
    dihedral: bool = False,
    threads: int | None = 1,
    profile: str = "pdqhash",
    pillow: str | int = "13",
    start: int = 0,
    probes: Any = None,
    probe_max_distance: int | None = None,
    mode: str = "exact",
) -> pd.DataFrame:
    """Hashes ``paths`` and searches ``hashset`` in this process: one partition of
    :func:`match_files`, as a pandas DataFrame (also usable on its own, without a cluster).

    ``start`` is the position of ``paths[0]`` in the whole file list (the ``file_index`` column).
    ``probes``/``probe_max_distance`` (PDQ sets) and ``mode`` as for :meth:`HashSet.search` and
    :func:`nearmatch.hash_files`.
    """
    s = hashset if isinstance(hashset, HashSet) else _open_set(os.fspath(hashset))
    algo = s.algorithm
    algos_t = _algos_for(algo, algos)
    if dihedral and algo != "pdq":
        raise ValueError(f"dihedral=True needs a PDQ set, this one holds {algo} hashes")
    if probes is not None and algo != "pdq":
        raise ValueError(f"probes= needs a PDQ set, this one holds {algo} hashes")
    res = hash_files(paths, algos=algos_t, threads=threads, profile=profile, pillow=pillow,
                     dihedral=dihedral, probes=probes, mode=mode)
    n = len(res)
    column = res[algo]
    valid = [i for i in range(n) if column[i] is not None]
    if algo in _CRYPTO:
        nbytes = s.bits // 8
        queries: Any = np.frombuffer(b"".join(bytes.fromhex(column[i]) for i in valid),
                                     dtype=np.uint8).reshape(len(valid), nbytes)
    else:
        hashes = res.hashes(algo)
        queries = [hashes[i] for i in valid]
    if valid:
        hits = s.search(queries, max_distance=max_distance, dihedral=dihedral, probes=probes,
                        probe_max_distance=probe_max_distance)
        q = np.asarray(valid, dtype=np.int64)[hits.query_index]
        entry, dist = hits.entry_index, hits.distance
        names = hits.probe_name if hits.probe_name is not None else np.zeros(0, object)
        orients = hits.orientation if hits.orientation is not None else np.zeros(0, object)
    else:
        q = entry = np.zeros(0, np.int64)
        dist = np.zeros(0, np.int32)
        names = orients = np.zeros(0, object)
    # One row per match, plus one with empty match columns for each file without a match.
    unmatched = np.setdiff1d(np.arange(n, dtype=np.int64), q)
    file_row = np.concatenate([q, unmatched])
    entry_all = np.concatenate([entry, np.full(len(unmatched), -1, np.int64)])
    order = np.lexsort((entry_all, file_row))
    file_row, entry_all = file_row[order], entry_all[order]
    matched = entry_all >= 0
    dist_all = np.concatenate([dist, np.zeros(len(unmatched), np.int32)])[order]

    def strings(values: Sequence[str | None]) -> pd.api.extensions.ExtensionArray:
        return pd.array(list(values), dtype="string")

    def per_file(col: Sequence[Any]) -> list[Any]:
        return [col[i] for i in file_row]

    data: dict[str, Any] = {
        "file_index": pd.array(file_row + start, dtype="int64"),
        "path": strings(per_file(res.path)),
    }
    for a in algos_t:
        data[a] = strings(per_file(res[a]))
    if "pdq" in algos_t:
        qual = res.pdq_quality[file_row] if n else np.zeros(0, np.int16)
        data["pdq_quality"] = pd.array(np.where(qual < 0, 0, qual), dtype="Int16")
        data["pdq_quality"][qual < 0] = pd.NA
    data["error"] = strings(per_file(res.error))
    data["entry_index"] = pd.array(np.where(matched, entry_all, 0), dtype="Int64")
    data["entry_index"][~matched] = pd.NA
    data["distance"] = pd.array(dist_all, dtype="Int32")
    data["distance"][~matched] = pd.NA
    if "pdq" in algos_t:
        data["hash_mode"] = strings(per_file(res.hash_mode))
    if dihedral or probes is not None:
        pad = np.full(len(unmatched), None, object)
        names_all = np.concatenate([np.asarray(names, object), pad])[order]
        orients_all = np.concatenate([np.asarray(orients, object), pad])[order]
        if probes is not None:
            data["probe"] = strings([n if m else None for n, m in zip(names_all, matched)])
        data["orientation"] = strings([o if m else None for o, m in zip(orients_all, matched)])
    hit_entries = entry_all[matched].tolist()
    hexes, ids, labels, notes, _ = s._set.entries(hit_entries)
    ids_all: list[str | None] = [None] * len(file_row)
    notes_all: list[str | None] = [None] * len(file_row)
    labels_all: list[str | None] = [None] * len(file_row)
    for j, row in enumerate(np.nonzero(matched)[0]):
        ids_all[row], notes_all[row] = ids[j], notes[j]
        labels_all[row] = json.dumps([list(lbl) for lbl in labels[j]])
    data["id"] = strings(ids_all)
    data["labels"] = strings(labels_all)
    data["note"] = strings(notes_all)
    return pd.DataFrame(data).set_index("file_index")


def _partition(part: tuple[int, list[str]], **kwargs: Any) -> pd.DataFrame:
    start, paths = part
    return match_partition(paths, start=start, **kwargs)


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
    pillow: str | int = "13",
    probes: Any = None,
    probe_max_distance: int | None = None,
    mode: str = "exact",
) -> Any:
    """Hashes every file and searches the set, partitioned across a Dask cluster; returns a
    lazy ``dask.dataframe.DataFrame`` indexed by ``file_index`` (the file's input position).

    ``hashset``: the set's path (or an open :class:`~nearmatch.HashSet`, of which only the path
    is sent). ``algos``: extra columns to compute besides the set's algorithm (e.g. ``"md5"``).
    ``max_distance`` defaults to the set's radius (31 for PDQ); ``dihedral`` searches the 8
    rotations/flips of each PDQ hash; ``probes`` (``"default"``, ``"all"``, family names)
    also searches the query-side probes of each PDQ hash (``probe_max_distance`` their radius,
    default :data:`nearmatch.DEFAULT_PROBE_RADIUS`); ``mode`` is ``"exact"`` or ``"fast"``.
    ``threads``: hashing threads per task (1: let Dask's worker threads provide the
    parallelism).

    Columns: path, one hex column per algorithm, pdq_quality and hash_mode (with PDQ), error,
    entry_index, distance, probe (with probes), orientation (dihedral or probes), and the
    entry's id, labels (JSON list of
    [scheme, value]) and note; the match columns are empty (NA) for a file with no match.
    """
    import dask.dataframe as dd

    if files_per_partition < 1:
        raise ValueError(f"files_per_partition must be >= 1, got {files_per_partition}")
    set_path = os.path.abspath(os.fspath(hashset.path if isinstance(hashset, HashSet) else hashset))
    # Opened here too (O(1), memory-mapped) so a wrong path fails now, not inside a task, and to
    # know the algorithm for the result's schema.
    local = _open_set(set_path)
    if dihedral and local.algorithm != "pdq":
        raise ValueError(f"dihedral=True needs a PDQ set, this one holds {local.algorithm} hashes")
    algos_t = _algos_for(local.algorithm, algos)
    path_list = [os.fsdecode(os.fspath(p)) for p in paths]
    if probes is not None and local.algorithm != "pdq":
        raise ValueError(f"probes= needs a PDQ set, this one holds {local.algorithm} hashes")
    kwargs: dict[str, Any] = {"hashset": set_path, "algos": algos_t, "max_distance": max_distance,
                              "dihedral": dihedral, "threads": threads, "profile": profile,
                              "pillow": str(pillow), "probes": probes,
                              "probe_max_distance": probe_max_distance, "mode": mode}
    meta = match_partition([], local, algos_t, max_distance=max_distance, dihedral=dihedral,
                           profile=profile, pillow=pillow, probes=probes,
                           probe_max_distance=probe_max_distance, mode=mode)
    if not path_list:
        return dd.from_pandas(meta, npartitions=1)
    parts = [(i, path_list[i:i + files_per_partition])
             for i in range(0, len(path_list), files_per_partition)]
    divisions = tuple(start for start, _ in parts) + (len(path_list) - 1,)
    return dd.from_map(_partition, parts, meta=meta, divisions=divisions,
                       label="nearmatch-match", enforce_metadata=False, **kwargs)
