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

Each partition runs the CLI's scan engine (:func:`nearmatch.scan`), so a Dask run and a
``nearmatch scan`` of the same files agree: the same hashes, dispositions, probes and matches.
The result has one row per (file, matching entry), and one row with empty match columns for
a file that matched nothing or could not be hashed, so every input file appears; rows are in
input order, then by distance and entry, as in scan reports. Within a partition the scan runs
in Rust with the GIL released.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Iterable, Sequence

import pandas as pd

import nearmatch

from . import HashSet

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
    ignore_sets: Sequence[str | os.PathLike[str]] | None = None,
) -> pd.DataFrame:
    """Scans ``paths`` against ``hashset`` in this process with the CLI's scan engine
    (:func:`nearmatch.scan`): one partition of :func:`match_files`, as a pandas DataFrame
    (also usable on its own, without a cluster).

    ``start`` is the position of ``paths[0]`` in the whole file list (the ``file_index`` column).
    ``probes``/``probe_max_distance`` (PDQ sets) and ``mode`` as for :func:`nearmatch.scan`;
    ``dihedral`` adds the 8 flips/rotations to the probes. ``ignore_sets``: MD5/SHA-1/SHA-256
    sets of known-good files (e.g. the NSRL), as ``nearmatch.scan(ignore_sets=...)``: a file
    they hold gets the disposition ``known-good`` and is not decoded.
    """
    s = hashset if isinstance(hashset, HashSet) else _open_set(os.fspath(hashset))
    algo = s.algorithm
    algos_t = _algos_for(algo, algos)
    if dihedral and algo != "pdq":
        raise ValueError(f"dihedral=True needs a PDQ set, this one holds {algo} hashes")
    if probes is not None and algo != "pdq":
        raise ValueError(f"probes= needs a PDQ set, this one holds {algo} hashes")
    path_list = [os.fspath(p) for p in paths]
    for p in path_list:
        if os.path.isdir(p):
            raise ValueError(f"{p} is a directory: nearmatch.dask takes files "
                             "(nearmatch.scan walks directories)")
    families = list(nearmatch._native.probe_families(nearmatch._probe_spec(probes) or "none"))
    if dihedral and "dihedral" not in families:
        families.append("dihedral")
    rows: list[dict[str, Any]] = []
    if path_list:
        res = nearmatch.scan(
            path_list, [s.path], algos=list(algos_t),
            max_distance=max_distance, probes=",".join(families) or "none",
            probe_max_distance=probe_max_distance, threads=threads, mode=mode,
            profile=profile, pillow=pillow, missing_ok=True,
            ignore_sets=[os.fspath(p) for p in ignore_sets or ()])
        for rec in res:
            rows.append(rec)
    return _frame(rows, algos_t, start, with_orientation=dihedral or probes is not None,
                  with_probe=probes is not None)


def _frame(records: list[dict[str, Any]], algos_t: tuple[str, ...], start: int, *,
           with_orientation: bool, with_probe: bool) -> pd.DataFrame:
    """One row per (record, match), and one with empty match columns per walked file without
    one; a container member appears (under its container's file_index, with its virtual path)
    only when it matched."""

    def strings(values: Sequence[str | None]) -> Any:
        return pd.array(list(values), dtype="string")

    cols: dict[str, list[Any]] = {k: [] for k in (
        "file_index", "path", *algos_t, "pdq_quality", "error", "disposition", "entry_index",
        "distance", "hash_mode", "probe", "orientation", "id", "labels", "note")}
    pos = -1
    for rec in records:
        # A walked file's record, then (for a container) its members': members keep the file's
        # index, and appear only when they matched.
        if rec.get("parent") is None:
            pos += 1
        elif not rec.get("matches"):
            continue
        hashes = rec.get("hashes", {})
        per_file = {
            "file_index": start + pos,
            "path": rec["path"],
            "pdq_quality": rec.get("pdq_quality"),
            "error": rec.get("error"),
            "disposition": rec["disposition"],
            "hash_mode": rec.get("hash_mode"),
        }
        for a in algos_t:
            per_file[a] = rec.get(a) if a in _CRYPTO else hashes.get(a)
        matches = rec.get("matches") or [None]
        for m in matches:
            for k, v in per_file.items():
                cols[k].append(v)
            cols["entry_index"].append(None if m is None else m["entry_index"])
            cols["distance"].append(None if m is None else m["distance"])
            cols["probe"].append(None if m is None else m.get("probe"))
            cols["orientation"].append(None if m is None else m.get("orientation"))
            cols["id"].append(None if m is None else m["entry"])
            cols["labels"].append(None if m is None else json.dumps(
                [[lbl["scheme"], lbl["value"]] for lbl in m["labels"]]))
            cols["note"].append(None if m is None else m["note"])
    data: dict[str, Any] = {
        "file_index": pd.array(cols["file_index"], dtype="int64"),
        "path": strings(cols["path"]),
    }
    for a in algos_t:
        data[a] = strings(cols[a])
    if "pdq" in algos_t:
        data["pdq_quality"] = pd.array(cols["pdq_quality"], dtype="Int16")
    data["error"] = strings(cols["error"])
    data["disposition"] = strings(cols["disposition"])
    data["entry_index"] = pd.array(cols["entry_index"], dtype="Int64")
    data["distance"] = pd.array(cols["distance"], dtype="Int32")
    if "pdq" in algos_t:
        data["hash_mode"] = strings(cols["hash_mode"])
    if with_probe:
        data["probe"] = strings(cols["probe"])
    if with_orientation:
        data["orientation"] = strings(cols["orientation"])
    data["id"] = strings(cols["id"])
    data["labels"] = strings(cols["labels"])
    data["note"] = strings(cols["note"])
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
    ignore_sets: Sequence[str | os.PathLike[str]] | None = None,
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
    parallelism). ``ignore_sets``: known-good sets (paths, sent to the workers as absolute
    paths), as for :func:`match_partition`.

    Columns: path, one hex column per algorithm, pdq_quality (with PDQ), error, disposition
    (as in scan reports: ``matched``, ``unmatched``, ``not-image``, ``error:<reason>``, ...),
    entry_index, distance, hash_mode (with PDQ), probe (with probes), orientation (dihedral or
    probes), and the entry's id, labels (JSON list of [scheme, value]) and note; the match
    columns are empty (NA) for a file with no match. Archives are expanded as in scans: a
    matching member gets rows of its own, under its archive's ``file_index`` and with its virtual
    path (``a.zip!/b.jpg``).
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
    ignore = [os.path.abspath(os.fspath(p)) for p in ignore_sets or ()]
    for p in ignore:
        # Opened here too, so a wrong path or a perceptual set fails now, not inside a task.
        if _open_set(p).algorithm not in _CRYPTO:
            raise ValueError(f"ignore set {p} holds {_open_set(p).algorithm} hashes; an ignore set "
                             "must hold MD5, SHA-1 or SHA-256 hashes")
    kwargs: dict[str, Any] = {"hashset": set_path, "algos": algos_t, "max_distance": max_distance,
                              "dihedral": dihedral, "threads": threads, "profile": profile,
                              "pillow": str(pillow), "probes": probes,
                              "probe_max_distance": probe_max_distance, "mode": mode,
                              "ignore_sets": ignore}
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
