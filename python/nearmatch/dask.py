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

A set too large for one machine is searched sharded: ``nearmatch set shard known.nmset --shards 8
--out /shared/known-shards`` (or :meth:`nearmatch.HashSet.shard`) cuts it by hash prefix, and
:func:`match_sharded` searches hashes against the shards, one shard per worker::

    df = nearmatch.dask.match_sharded("/shared/known-shards/shards.json", hashes)

or searches files against them, hashing each file once: give :func:`match_files` the manifest
where the set's path goes (``match_files(paths, "/shared/known-shards/shards.json")``).

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
import uuid
from typing import Any, Iterable, Sequence

import pandas as pd

import nearmatch

from . import HashSet

__all__ = ["match_files", "match_partition", "match_sharded", "shard_placement"]

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


def _checked_ignore_sets(ignore_sets: Sequence[str | os.PathLike[str]] | None) -> list[str]:
    """The known-good sets as absolute paths (sent to the workers), each opened here first so
    that a wrong path or a perceptual set fails now, not inside a task."""
    ignore = [os.path.abspath(os.fspath(p)) for p in ignore_sets or ()]
    for p in ignore:
        algorithm = _open_set(p).algorithm
        if algorithm not in _CRYPTO:
            raise ValueError(f"ignore set {p} holds {algorithm} hashes; an ignore set must hold "
                             "MD5, SHA-1 or SHA-256 hashes")
    return ignore


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

    **Sharded sets.** ``hashset`` may instead be the ``shards.json`` manifest of a set cut by
    ``nearmatch set shard`` (recognised by its content: a JSON object, read and checked with
    :func:`nearmatch.read_shard_manifest`; set files start with their binary magic). The result
    is then the one the unsharded set gives, row for row (entry numbers of the whole set), but
    computed differently: each partition is scanned once, on any worker, without a set; its
    hashes go to every shard's worker (:func:`shard_placement`; an MD5/SHA-1/SHA-256 shard
    looks up only the hashes its prefix names and is not opened when none does), and the
    matches come back to the partition, which takes the dispositions a scan against the whole
    set gives. This needs a ``distributed`` client (the current one) and starts at once: the
    returned frame is made of running futures. With ``probes`` or ``dihedral`` the scan's
    records do not carry the probe hashes, so the partition's decoded images are hashed a
    second time (once, not once per shard) by :func:`nearmatch.hash_files`, and each probe
    hash is checked against the scan's. Refused (``ValueError``) over shards: ``ignore_sets``
    with a perceptual column in ``algos`` on an MD5/SHA-1/SHA-256 set, since whether the scan
    decodes a known-good file depends on whether the match set holds it, which only the
    shards know.
    """
    import dask.dataframe as dd

    if files_per_partition < 1:
        raise ValueError(f"files_per_partition must be >= 1, got {files_per_partition}")
    set_path = os.path.abspath(os.fspath(hashset.path if isinstance(hashset, HashSet) else hashset))
    if not isinstance(hashset, HashSet) and _is_shard_manifest(set_path):
        return _match_files_sharded(
            paths, set_path, algos, max_distance=max_distance, dihedral=dihedral,
            files_per_partition=files_per_partition, threads=threads, profile=profile,
            pillow=pillow, probes=probes, probe_max_distance=probe_max_distance, mode=mode,
            ignore_sets=ignore_sets)
    # Opened here too (O(1), memory-mapped) so a wrong path fails now, not inside a task, and to
    # know the algorithm for the result's schema.
    local = _open_set(set_path)
    if dihedral and local.algorithm != "pdq":
        raise ValueError(f"dihedral=True needs a PDQ set, this one holds {local.algorithm} hashes")
    algos_t = _algos_for(local.algorithm, algos)
    path_list = [os.fsdecode(os.fspath(p)) for p in paths]
    if probes is not None and local.algorithm != "pdq":
        raise ValueError(f"probes= needs a PDQ set, this one holds {local.algorithm} hashes")
    ignore = _checked_ignore_sets(ignore_sets)
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


# --------------------------------------------------------------------------------------------
# Sharded sets: scatter-gather over shards placed one per worker
# --------------------------------------------------------------------------------------------

#: Shards opened in this process, keyed by (shard path, manifest SHA-256, inode, size, mtime):
#: each worker checks and maps its shard once, and a replaced file is checked again.
_OPEN_SHARDS: dict[tuple[str, str, int, int, int], HashSet] = {}


def _open_shard(manifest: str, index: int, file: str, sha256: str, verify: str) -> HashSet:
    path = os.path.join(os.path.dirname(manifest), file)
    st = os.stat(path)
    key = (path, sha256, st.st_ino, st.st_size, st.st_mtime_ns)
    with _OPEN_LOCK:
        s = _OPEN_SHARDS.get(key)
        if s is None:
            if len(_OPEN_SHARDS) >= 256:  # replaced shard files leave their old keys behind
                _OPEN_SHARDS.clear()
            # The manifest is read again here, on the worker: the shard is checked against the
            # copy of the manifest next to it, and that copy against the client's.
            m = nearmatch.read_shard_manifest(manifest)
            if m["files"][index]["sha256"] != sha256:
                raise ValueError(
                    f"{manifest} on this worker names SHA-256 {m['files'][index]['sha256']} for "
                    f"shard {index} ({file}), the client's copy {sha256}: the workers see a "
                    "different shard directory than the client")
            s = _OPEN_SHARDS[key] = HashSet.open_shard(manifest, index, verify)
    return s


def _search_shard(manifest: str, index: int, file: str, sha256: str, first_entry: int,
                  rows: Any, offsets: list[int] | None, queries: Any, max_distance: int,
                  dihedral: bool, exact: bool, engine: str, verify: str) -> pd.DataFrame:
    """One (query batch, shard) task: the shard's matches as ``SearchResult.to_pandas`` gives
    them, with query and entry numbers of the whole query list and the whole set."""
    import numpy as np

    from . import SearchResult

    s = _open_shard(manifest, index, file, sha256, verify)
    if exact:
        q, e = s._set.lookup(rows)
        res = SearchResult(s, q, e, np.zeros(len(q), dtype=np.int32), None)
    else:
        q, e, d, p = s._set.search(rows, offsets, int(max_distance), engine)
        res = SearchResult(s, q, e, d, p if dihedral else None)
    df = res.to_pandas()
    df["query_index"] = np.asarray(queries, dtype=np.int64)[df["query_index"].to_numpy()]
    df["entry_index"] = df["entry_index"] + np.int64(first_entry)
    return df


def shard_placement(manifest: dict[str, Any], client: Any) -> dict[int, str]:
    """The worker each shard's tasks go to: shard ``i`` to the ``i % W``-th of the ``W``
    workers (sorted by address), so with as many workers as shards each maps exactly one."""
    workers = sorted(client.nthreads())
    if not workers:
        raise ValueError("the Dask cluster has no workers")
    return {f["index"]: workers[f["index"] % len(workers)] for f in manifest["files"]}


def match_sharded(
    manifest: str | os.PathLike[str],
    queries: Any,
    max_distance: int | None = None,
    dihedral: bool = False,
    *,
    client: Any = None,
    batch_size: int = 65536,
    verify: str = "sha256",
    engine: str = "auto",
) -> pd.DataFrame:
    """Searches ``queries`` against a sharded set (``shards.json`` of ``nearmatch set shard``
    or :meth:`nearmatch.HashSet.shard`) on a Dask cluster; returns the pandas DataFrame that
    ``HashSet.open(<the unsharded set>).search(queries, max_distance, dihedral).to_pandas()``
    gives (PDQ and other perceptual sets) or ``.lookup(queries).to_pandas()`` (MD5, SHA-1,
    SHA-256 sets): the same rows, entry numbers of the unsharded set, in the same order.

    Shard ``i`` is searched on one worker (:func:`shard_placement`), which checks it against
    the manifest (``verify``: ``"sha256"`` or ``"header"``) and maps it once; the workers must
    see the shard directory under the client's path (a shared file system or a copy per
    machine). Perceptual (Hamming-radius) searches send every batch of ``batch_size`` queries
    to every shard, since a near match can lie in any shard; exact sets send each query only to
    the shard its hash prefix names. ``queries``, ``max_distance`` (default: the set's
    radius), ``dihedral`` and ``engine`` as for :meth:`nearmatch.HashSet.search`.
    """
    import numpy as np

    from . import _crypto_rows, _query_rows

    manifest = os.path.abspath(os.fspath(manifest))
    m = nearmatch.read_shard_manifest(manifest)
    algo = m["algorithm"]
    exact = algo in _CRYPTO
    bits = int(m["bits"])
    if verify not in ("sha256", "header"):
        raise ValueError(f'verify must be "sha256" or "header", got {verify!r}')
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_distance is None:
        max_distance = int(m["default_radius"])
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    if exact and (dihedral or max_distance != 0):
        raise ValueError(f"{algo} sets are matched exactly: max_distance must be 0 and "
                         "dihedral False")
    if exact and not isinstance(queries, np.ndarray):
        items = [queries] if isinstance(queries, str) else list(queries)
        rows, offsets = _crypto_rows(items, bits), None
    else:
        rows, offsets = _query_rows(queries, bits, dihedral)
    n = rows.shape[0] if offsets is None else len(offsets) - 1
    if client is None:
        from distributed import get_client

        client = get_client()
    place = shard_placement(m, client)
    futures = []

    def submit(f: dict[str, Any], batch_rows: Any, batch_offsets: list[int] | None,
               qix: Any) -> None:
        futures.append(client.submit(
            _search_shard, manifest, f["index"], f["file"], f["sha256"], f["first_entry"],
            batch_rows, batch_offsets, qix, max_distance, dihedral, exact, engine, verify,
            workers=[place[f["index"]]], allow_other_workers=True, pure=False))

    for start in range(0, n, batch_size):
        end = min(n, start + batch_size)
        qix = np.arange(start, end, dtype=np.int64)
        if offsets is None:
            batch_rows, batch_offsets = rows[start:end], None
        else:
            lo, hi = offsets[start], offsets[end]
            batch_rows = rows[lo:hi]
            batch_offsets = [o - lo for o in offsets[start:end + 1]]
        if exact:
            # The shard a query can be in is the one its leading bits name.
            lead = (batch_rows[:, 0].astype(np.uint32) << 8) | batch_rows[:, 1]
            prefix = lead >> (16 - m["prefix_bits"])
            for f in m["files"]:
                sel = np.nonzero(prefix == f["index"])[0]
                if len(sel) and f["entries"]:
                    submit(f, np.ascontiguousarray(batch_rows[sel]), None, qix[sel])
        else:
            # Sent once to the cluster, then to each shard's worker from there.
            [shared] = client.scatter([batch_rows], hash=False)
            for f in m["files"]:
                if f["entries"]:
                    submit(f, shared, batch_offsets, qix)
    results = client.gather(futures)
    frames = [df for df in results if len(df)]
    if not frames:
        return results[0] if results else _empty_result(dihedral)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["query_index", "entry_index"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# File-level matching over a sharded set: hash each partition once, search it on every shard
# --------------------------------------------------------------------------------------------

def _is_shard_manifest(path: str) -> bool:
    """Whether ``path`` is a ``shards.json`` manifest rather than a set file: set files start
    with their binary magic (``\\x89NMSET``), a manifest with a JSON object."""
    with open(path, "rb") as f:
        head = f.read(64)
    return head.lstrip()[:1] == b"{"


def _probe_hashes(paths: list[str], records: list[dict[str, Any]], spec: str,
                  threads: int | None, profile: str, pillow: str, mode: str) -> dict[int, Any]:
    """PDQ Hash objects carrying their probes, keyed by record position, for every record of
    ``records`` (one partition's scan) with a PDQ hash: the scan's records carry the plain hash
    only, so the files holding such records are hashed again with the probes (containers
    expanded as the scan expands them) and each hash is checked against the scan's."""
    groups: list[list[int]] = []
    for i, rec in enumerate(records):
        if rec.get("parent") is None:
            groups.append([])
        groups[-1].append(i)
    if len(groups) != len(paths):
        raise RuntimeError(f"the scan of {len(paths)} files gave {len(groups)} file records; "
                           "cannot pair them with their probe hashes")
    need = [(k, g) for k, g in enumerate(groups)
            if any(records[i].get("hashes", {}).get("pdq") for i in g)]
    if not need:
        return {}
    res = nearmatch.hash_files([paths[k] for k, _ in need], algos=("pdq",), threads=threads,
                               profile=profile, pillow=pillow, mode=mode, probes=spec,
                               containers="default")
    hashes = res.hashes("pdq")
    # Rows come per file in input order, the file's own row (its path as given) first.
    starts = []
    pos = 0
    for k, _ in need:
        while pos < len(res.path) and res.path[pos] != paths[k]:
            pos += 1
        starts.append(pos)
        pos += 1
    starts.append(len(res.path))
    out: dict[int, Any] = {}
    for (k, g), lo, hi in zip(need, starts, starts[1:]):
        used: set[int] = set()
        for i in g:
            want = records[i].get("hashes", {}).get("pdq")
            if not want:
                continue
            hit = next((j for j in range(lo, hi) if j not in used and res.path[j] ==
                        records[i]["path"] and res.columns["pdq"][j] == want), None)
            if hit is None:
                raise RuntimeError(
                    f"{records[i]['path']}: hashing it again for its probes did not give the "
                    f"scan's PDQ hash {want}; the file changed during the run or the scan and "
                    "nearmatch.hash_files disagree")
            used.add(hit)
            out[i] = hashes[hit]
    return out


def _hash_partition(paths: list[str], set_algo: str, bits: int, algos_t: tuple[str, ...],
                    spec: str | None, threads: int | None, profile: str, pillow: str, mode: str,
                    ignore_sets: list[str]) -> dict[str, Any]:
    """One partition hashed by the scan engine without a set: its records (dispositions before
    matching) and its queries for the shards, as (record positions, digest rows) or, with
    probes, (record positions, PDQ Hash objects)."""
    import numpy as np

    for p in paths:
        if os.path.isdir(p):
            raise ValueError(f"{p} is a directory: nearmatch.dask takes files "
                             "(nearmatch.scan walks directories)")
    records = list(nearmatch.scan(
        paths, [], algos=list(algos_t), probes="none", threads=threads, mode=mode,
        profile=profile, pillow=pillow, missing_ok=True, ignore_sets=ignore_sets))
    if spec is not None:
        found = _probe_hashes(paths, records, spec, threads, profile, pillow, mode)
        index = sorted(found)
        return {"records": records, "queries": (np.asarray(index, dtype=np.int64),
                                                [found[i] for i in index])}
    index, hexes = [], []
    for i, rec in enumerate(records):
        h = rec.get(set_algo) if set_algo in _CRYPTO else rec.get("hashes", {}).get(set_algo)
        if h:
            index.append(i)
            hexes.append(h)
    nbytes = (bits + 7) // 8
    rows = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=np.uint8).reshape(-1, nbytes)
    return {"records": records, "queries": (np.asarray(index, dtype=np.int64), rows.copy())}


def _queries_of(hashed: dict[str, Any]) -> Any:
    # A task of its own so that only the queries, not the records, travel to the shards.
    return hashed["queries"]


_HIT_COLUMNS = ("record", "entry_index", "distance", "probe", "orientation", "id", "labels",
                "note")


def _search_shard_files(manifest: str, shard: dict[str, Any], prefix_bits: int, queries: Any,
                        exact: bool, max_distance: int, spec: str | None,
                        probe_max_distance: int | None, verify: str) -> pd.DataFrame:
    """One (partition, shard) task: the shard's matches for the partition's queries, with
    record positions of the partition and entry numbers of the whole set."""
    import numpy as np

    from . import SearchResult

    index, q = queries
    if exact:
        # Only the hashes this shard's prefix names; none: the shard is not even opened.
        lead = (q[:, 0].astype(np.uint32) << 8) | q[:, 1] if len(q) else np.zeros(0, np.uint32)
        sel = np.nonzero((lead >> (16 - prefix_bits)) == shard["index"])[0]
        index, q = index[sel], np.ascontiguousarray(q[sel])
    if len(index) == 0:
        return pd.DataFrame({c: [] for c in _HIT_COLUMNS})
    s = _open_shard(manifest, shard["index"], shard["file"], shard["sha256"], verify)
    if exact:
        qi, e = s._set.lookup(q)
        res = SearchResult(s, qi, e, np.zeros(len(qi), dtype=np.int32), None)
    elif spec is not None:
        res = s.search(q, max_distance, probes=spec, probe_max_distance=probe_max_distance)
    else:
        res = s.search(q, max_distance)
    df = res.to_pandas()
    n = len(df)
    return pd.DataFrame({
        "record": index[df["query_index"].to_numpy()],
        "entry_index": df["entry_index"].to_numpy(np.int64) + np.int64(shard["first_entry"]),
        "distance": df["distance"].to_numpy(np.int64),
        "probe": df["probe"] if "probe" in df else [None] * n,
        "orientation": df["orientation"] if "orientation" in df else [None] * n,
        "id": df["id"], "labels": df["labels"], "note": df["note"],
    })


def _assemble(hashed: dict[str, Any], hits: list[pd.DataFrame], algos_t: tuple[str, ...],
              start: int, with_orientation: bool, with_probe: bool) -> pd.DataFrame:
    """A partition's frame: its records with the shards' matches, ordered as a scan orders
    them (by distance, then entry) and the disposition a match gives (``matched``)."""
    records = [dict(r) for r in hashed["records"]]
    frames = [h for h in hits if len(h)]
    if frames:
        all_hits = pd.concat(frames, ignore_index=True).sort_values(
            ["record", "distance", "entry_index"], kind="stable")
        for rec_i, group in all_hits.groupby("record", sort=True):
            rec = records[int(rec_i)]
            rec["matches"] = [
                {"entry_index": int(e), "distance": int(d), "probe": p, "orientation": o,
                 "entry": i, "labels": [{"scheme": a, "value": b} for a, b in lbl], "note": nt}
                for e, d, p, o, i, lbl, nt in zip(
                    group.entry_index, group.distance, group.probe, group.orientation, group.id,
                    group.labels, group.note)]
            rec["disposition"] = "matched"
    return _frame(records, algos_t, start, with_orientation=with_orientation,
                  with_probe=with_probe)


def _match_files_sharded(
    paths: Iterable[str | os.PathLike[str]],
    manifest: str,
    algos: Iterable[str] | str | None,
    *,
    max_distance: int | None,
    dihedral: bool,
    files_per_partition: int,
    threads: int | None,
    profile: str,
    pillow: str | int,
    probes: Any,
    probe_max_distance: int | None,
    mode: str,
    ignore_sets: Sequence[str | os.PathLike[str]] | None,
    verify: str = "sha256",
) -> Any:
    """:func:`match_files` over the shards of ``manifest`` (see its docstring)."""
    import dask.dataframe as dd
    from distributed import get_client

    m = nearmatch.read_shard_manifest(manifest)
    algo = m["algorithm"]
    exact = algo in _CRYPTO
    if dihedral and algo != "pdq":
        raise ValueError(f"dihedral=True needs a PDQ set, {manifest} shards a set of {algo} "
                         "hashes")
    if probes is not None and algo != "pdq":
        raise ValueError(f"probes= needs a PDQ set, {manifest} shards a set of {algo} hashes")
    algos_t = _algos_for(algo, algos)
    if max_distance is None:
        max_distance = int(m["default_radius"])
    if max_distance < 0:
        raise ValueError(f"max_distance must be >= 0, got {max_distance}")
    ignore = _checked_ignore_sets(ignore_sets)
    if ignore and exact and any(a not in _CRYPTO for a in algos_t):
        raise ValueError(
            f"ignore_sets with the perceptual algos {[a for a in algos_t if a not in _CRYPTO]} "
            f"cannot be used over the sharded {algo} set {manifest}: the scan decodes a "
            "known-good file the match set also holds, and only the shards know which those "
            "are; drop those algos or search the unsharded set")
    families = list(nearmatch._native.probe_families(nearmatch._probe_spec(probes) or "none"))
    if dihedral and "dihedral" not in families:
        families.append("dihedral")
    spec = ",".join(families) if (probes is not None or dihedral) else None
    with_orientation, with_probe = dihedral or probes is not None, probes is not None
    meta = _frame([], algos_t, 0, with_orientation=with_orientation, with_probe=with_probe)
    path_list = [os.fsdecode(os.fspath(p)) for p in paths]
    if not path_list:
        return dd.from_pandas(meta, npartitions=1)
    client = get_client()
    place = shard_placement(m, client)
    run = uuid.uuid4().hex
    parts = []
    for n, start in enumerate(range(0, len(path_list), files_per_partition)):
        chunk = path_list[start:start + files_per_partition]
        hashed = client.submit(
            _hash_partition, chunk, algo, int(m["bits"]), algos_t, spec, threads, profile,
            str(pillow), mode, ignore, key=f"nearmatch-hash-{run}-{n}")
        queries = client.submit(_queries_of, hashed, key=f"nearmatch-queries-{run}-{n}")
        hits = [client.submit(
            _search_shard_files, manifest, f, m["prefix_bits"], queries, exact, max_distance,
            spec, probe_max_distance, verify, workers=[place[f["index"]]],
            allow_other_workers=True, key=f"nearmatch-shard-{run}-{n}-{f['index']}")
            for f in m["files"] if f["entries"]]
        parts.append(client.submit(_assemble, hashed, hits, algos_t, start, with_orientation,
                                   with_probe, key=f"nearmatch-match-{run}-{n}"))
    divisions = tuple(range(0, len(path_list), files_per_partition)) + (len(path_list) - 1,)
    return dd.from_delayed(parts, meta=meta, divisions=divisions, verify_meta=False)


class _NoEntries:
    """Stands in for a set's native part in an empty SearchResult: no entry is looked up."""

    @staticmethod
    def entries(indices: list[int]) -> tuple[list[str], ...]:
        return [], [], [], [], []


def _empty_result(dihedral: bool) -> pd.DataFrame:
    """The frame of a search with no queries, with the columns and dtypes of any other."""
    import numpy as np

    class _Empty:
        _set = _NoEntries()

    return nearmatch.SearchResult(
        _Empty(), np.zeros(0, np.int64), np.zeros(0, np.int64),  # type: ignore[arg-type]
        np.zeros(0, np.int32), np.zeros(0, np.int32) if dihedral else None).to_pandas()
