"""read_report on a handwritten scan report."""

from __future__ import annotations

import json

import pytest

import nearmatch

pd = pytest.importorskip("pandas")


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_read_report(tmp_path):
    p = tmp_path / "scan.jsonl"
    write(p, [
        {"record": "header", "tool": "nearmatch 0.1.0", "sets": [{"path": "k.nmset", "sha256": "ab"}]},
        {"record": "file", "path": "a.png", "disposition": "matched",
         "hashes": {"pdq": "00" * 32, "md5": "11" * 16}, "pdq_quality": 100,
         "matches": [{"set": "k.nmset", "distance": 3, "id": "e1", "orientation": "orig"}]},
        {"record": "file", "path": "b.txt", "disposition": "not-image", "hashes": {"md5": "22" * 16}},
        {"record": "file", "path": "c.jpg", "disposition": "error:decode", "error": "truncated"},
        {"record": "summary", "files": 3, "matched": 1},
    ])
    df = nearmatch.read_report(p)
    assert list(df["path"]) == ["a.png", "b.txt", "c.jpg"]
    assert list(df["disposition"]) == ["matched", "not-image", "error:decode"]
    assert df.loc[0, "hashes.pdq"] == "00" * 32
    assert pd.isna(df.loc[1, "hashes.pdq"])
    assert df.loc[0, "matches"][0]["id"] == "e1"
    assert df.attrs["header"]["tool"] == "nearmatch 0.1.0"
    assert df.attrs["summary"] == {"files": 3, "matched": 1}
    assert "record" not in df.columns


def test_read_report_interrupted_and_bad(tmp_path):
    p = tmp_path / "partial.jsonl"
    write(p, [{"record": "header"}, {"record": "file", "path": "x"}])
    df = nearmatch.read_report(p)
    assert len(df) == 1 and df.attrs["summary"] is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"record": "header"}\nnot json\n')
    with pytest.raises(ValueError, match=":2:"):
        nearmatch.read_report(bad)
    bad.write_text('{"path": "x"}\n')
    with pytest.raises(ValueError, match="record"):
        nearmatch.read_report(bad)
    with pytest.raises(FileNotFoundError):
        nearmatch.read_report(tmp_path / "missing.jsonl")


def _cli() -> str | None:
    """The nearmatch binary: $NEARMATCH_BIN, the workspace's target/, or PATH."""
    import os
    import shutil
    from pathlib import Path

    if os.environ.get("NEARMATCH_BIN"):
        return os.environ["NEARMATCH_BIN"]
    root = Path(__file__).resolve().parents[2] / "target"
    for profile in ("debug", "release"):
        exe = root / profile / "nearmatch"
        if exe.exists():
            return str(exe)
    return shutil.which("nearmatch")


@pytest.mark.skipif(_cli() is None, reason="no nearmatch binary (cargo build, or set NEARMATCH_BIN)")
def test_read_report_of_a_real_scan(tmp_path):
    # The CLI's own JSON Lines, not a handwritten imitation: a set built from Python, a scan of
    # a known image, a flipped copy, an unknown image and a text file.
    import subprocess

    import numpy as np
    from PIL import Image

    from conftest import noise, shapes

    evidence = tmp_path / "evidence"
    evidence.mkdir()
    known = shapes(150, 200, 4)
    Image.fromarray(known).save(evidence / "a_known.png")
    Image.fromarray(np.ascontiguousarray(np.fliplr(known))).save(evidence / "b_flipped.png")
    Image.fromarray(noise(90, 120, 1)).save(evidence / "c_other.png")
    (evidence / "d_notes.txt").write_text("not an image")
    s = nearmatch.HashSet.build(tmp_path / "known.nmset", [nearmatch.pdq(known)],
                                metadata=[{"id": "K1", "labels": {"caid": "2"}}])
    report = tmp_path / "scan.jsonl"
    run = subprocess.run([_cli(), "scan", str(evidence), "--set", s.path, "--dihedral", "-q",
                          "-o", str(report)], capture_output=True, text=True)
    assert run.returncode == 1, run.stderr  # 1: completed, matches found
    df = nearmatch.read_report(report)
    assert [p.rsplit("/", 1)[-1] for p in df["path"]] == [
        "a_known.png", "b_flipped.png", "c_other.png", "d_notes.txt"]
    assert list(df["disposition"]) == ["matched", "matched", "unmatched", "not-image"]
    for i in range(3):
        assert df.loc[i, "hashes.pdq"] == str(nearmatch.pdq(df.loc[i, "path"]))
        assert df.loc[i, "pdq_quality"] == nearmatch.pdq(df.loc[i, "path"]).quality
    hit = df.loc[1, "matches"][0]
    assert (hit["entry"], hit["orientation"], hit["labels"]) == (
        "K1", "flipy", [{"scheme": "caid", "value": "2"}])
    assert df.loc[0, "matches"][0]["distance"] == 0
    assert df.attrs["header"] is not None and df.attrs["summary"] is not None
