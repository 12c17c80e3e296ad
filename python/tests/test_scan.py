"""nearmatch.scan: the CLI's scan engine from Python. Its records equal the CLI's report for the
same evidence and options, an inventory (no sets) accounts for every file, and errors name
their cause."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import IMAGES, shapes

ROOT = Path(__file__).resolve().parents[2]


def _cli() -> str:
    cli = shutil.which("nearmatch") or str(ROOT / "target" / "debug" / "nearmatch")
    if not os.path.exists(cli):
        pytest.skip("the nearmatch CLI is not built (cargo build)")
    return cli


@pytest.fixture(scope="module")
def evidence(tmp_path_factory):
    """A tree of images (two of them known, one a flipped copy of a known one, one a duplicate),
    a text file and a nested directory; a PDQ set holding the two known images."""
    d = tmp_path_factory.mktemp("scan")
    ev = d / "evidence"
    (ev / "sub" / "deeper").mkdir(parents=True)
    known = [shapes(120, 160, 70), shapes(140, 100, 71)]
    Image.fromarray(known[0]).save(ev / "k0.png")
    Image.fromarray(np.ascontiguousarray(known[1][:, ::-1])).save(ev / "sub" / "k1-mirrored.png")
    Image.fromarray(known[1]).save(ev / "sub" / "deeper" / "k1.png")
    shutil.copy(ev / "k0.png", ev / "sub" / "copy-of-k0.png")
    for i, (name, a) in enumerate(IMAGES[:4]):
        Image.fromarray(a).save(ev / f"other-{name}.png")
    (ev / "notes.txt").write_text("not an image\n")
    s = nearmatch.HashSet.build(d / "known.nmset", [nearmatch.pdq(a) for a in known],
                                metadata=[{"id": "K0", "labels": {"caid": "A"}},
                                          {"id": "K1", "labels": {"caid": "B"}}])
    return ev, Path(s.path), d


def _comparable(records):
    """Records without the access time (reading a file may update it when O_NOATIME is
    refused)."""
    out = []
    for r in records:
        r = dict(r)
        r.pop("atime", None)
        out.append(r)
    return out


def test_scan_records_equal_the_cli_report(evidence, tmp_path):
    ev, set_path, _ = evidence
    cli = _cli()
    report = tmp_path / "cli.jsonl"
    r = subprocess.run([cli, "scan", str(ev), "--set", str(set_path), "--dihedral",
                        "-o", str(report), "--quiet"], capture_output=True)
    assert r.returncode == 1, r.stderr
    lines = [json.loads(x) for x in report.read_text().splitlines()]
    want = [x for x in lines if x["record"] == "file"]
    res = nearmatch.scan(ev, set_path, probes="default,dihedral")
    got = list(res)
    assert _comparable(got) == _comparable(want)
    assert res.exit_code == 1 and res.matched_files == 4 and not res.failed
    assert res.summary["dispositions"] == lines[-1]["dispositions"]
    assert res.header["options"] == lines[0]["options"]
    by_path = {Path(x["path"]).name: x for x in got}
    assert by_path["k1-mirrored.png"]["matches"][0]["orientation"] == "flipy"
    assert by_path["copy-of-k0.png"]["duplicate_of"].endswith("k0.png")
    assert by_path["notes.txt"]["disposition"] == "not-image"


def test_scan_with_output_writes_the_report_and_its_checksum(evidence, tmp_path):
    ev, set_path, _ = evidence
    out = tmp_path / "py.jsonl"
    res = nearmatch.scan([ev], [set_path], output=out)
    text = out.read_text().splitlines()
    assert json.loads(text[0])["record"] == "header" and json.loads(text[-1])["record"] == "summary"
    assert [json.loads(x) for x in text[1:-1]] == list(res)
    digest, name = (tmp_path / "py.jsonl.sha256").read_text().split()
    assert name == "py.jsonl" and digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert not (tmp_path / "py.jsonl.partial").exists()
    df = res.to_pandas()
    assert len(df) == len(res) == res.summary["files_reported"]
    # Without the dihedral probes the mirrored copy does not match.
    assert df.attrs["summary"]["matched_files"] == 3


def test_inventory_without_sets_hashes_and_accounts_for_every_file(evidence):
    ev, _, _ = evidence
    progress = []
    res = nearmatch.scan(ev, algos=("pdq", "phash"), progress=progress.append)
    files = sorted(p for p in ev.rglob("*") if p.is_file())
    recs = list(res)
    assert sorted(Path(r["path"]) for r in recs) == files
    assert res.summary["matches"] == 0 and res.exit_code == 0
    for r in recs:
        p = Path(r["path"])
        data = p.read_bytes()
        assert r["md5"] == hashlib.md5(data).hexdigest()
        assert r["sha1"] == hashlib.sha1(data).hexdigest()
        if p.suffix == ".png":
            assert r["disposition"] == "unmatched"
            assert r["hashes"]["pdq"] == str(nearmatch.pdq(p))
            assert r["hashes"]["phash"] == str(nearmatch.phash(p))
    assert progress and progress[-1]["records"] <= len(recs)


def test_errors_name_their_cause(evidence, tmp_path):
    ev, _, _ = evidence
    with pytest.raises(FileNotFoundError, match="nope"):
        nearmatch.scan(tmp_path / "nope")
    bogus = tmp_path / "bogus.nmset"
    bogus.write_bytes(b"not a set")
    with pytest.raises(ValueError, match="bogus.nmset"):
        nearmatch.scan(ev, bogus)
    with pytest.raises(ValueError, match="inside the evidence"):
        nearmatch.scan(ev, output=ev / "r.jsonl")
    with pytest.raises(ValueError, match="csv"):
        nearmatch.scan(ev, format="csv")
    res = nearmatch.scan([ev / "notes.txt", tmp_path / "missing.png"], missing_ok=True)
    assert [r["disposition"] for r in res] == ["not-image", "error:walk"]
    assert res.failed and res.exit_code == 2


def test_scan_ignore_sets_marks_known_good_files_and_a_match_wins(tmp_path):
    """ignore_sets= as the CLI's --ignore-set: the files whose MD5 (by hashlib) the set holds
    are known-good and not decoded; one the match set holds too is matched; the rest as without
    the ignore set; a perceptual ignore set raises ValueError naming the file."""
    ev = tmp_path / "evidence"
    ev.mkdir()
    names = []
    for i, (name, a) in enumerate(IMAGES[:4]):
        Image.fromarray(a).save(ev / f"img-{name}.png")
        names.append(f"img-{name}.png")
    (ev / "readme.txt").write_text("an installer's readme\n")
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in ev.iterdir()}
    known = [names[0], names[1], "readme.txt"]
    ignore = nearmatch.HashSet.build(
        tmp_path / "nsrl.nmset", [md5[n] for n in known],
        metadata=[{"id": n, "labels": {"product": "Suite"}} for n in known], algo="md5")
    bad = nearmatch.HashSet.build(tmp_path / "bad.nmset", [md5[names[1]]], algo="md5")
    plain = {Path(r["path"]).name: r for r in nearmatch.scan(ev, bad.path)}
    res = nearmatch.scan(ev, bad.path, ignore_sets=ignore.path)
    got = {Path(r["path"]).name: r for r in res}
    assert sorted(n for n, r in got.items() if r["disposition"] == "known-good") == sorted(
        [names[0], "readme.txt"])
    for n in (names[0], "readme.txt"):
        r = got[n]
        assert "hashes" not in r and r["md5"] == md5[n]
        assert r["known_good"][0]["entry"] == n
        assert r["known_good"][0]["labels"] == [{"scheme": "product", "value": "Suite"}]
    # The match wins: decoded, hashed as without the ignore set, the hit noted.
    assert got[names[1]]["disposition"] == "matched"
    assert got[names[1]]["hashes"] == plain[names[1]]["hashes"]
    assert got[names[1]]["known_good"][0]["set"] == ignore.path
    for n in names[2:]:
        assert _comparable([got[n]]) == _comparable([plain[n]])
    assert res.summary["dispositions"]["known-good"] == 2
    assert res.summary["known_good_hits"] == 3
    assert sum(res.summary["dispositions"].values()) == len(got) == 5
    assert res.exit_code == 1 and not res.failed
    assert [s["path"] for s in res.header["ignore_sets"]] == [ignore.path]
    assert res.header["ignore_sets"][0]["sha256"] == hashlib.sha256(
        Path(ignore.path).read_bytes()).hexdigest()
    # decode_known_good=True: known-good images are decoded (hashed as without the ignore set)
    # and still known-good when no match set holds them.
    dec = {Path(r["path"]).name: r for r in nearmatch.scan(
        ev, bad.path, ignore_sets=ignore.path, decode_known_good=True)}
    assert dec[names[0]]["disposition"] == "known-good"
    assert dec[names[0]]["hashes"] == plain[names[0]]["hashes"]
    assert dec["readme.txt"]["disposition"] == "known-good"
    pdq_set = nearmatch.HashSet.build(tmp_path / "pdq.nmset", [nearmatch.pdq(IMAGES[0][1])])
    with pytest.raises(ValueError, match="pdq.nmset"):
        nearmatch.scan(ev, ignore_sets=[pdq_set.path])
