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
