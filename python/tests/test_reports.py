"""Report formats: DFXML against its schema, CASE/UCO through ``case_validate``, the HTML case
summary in a real headless browser (Chromium), hostile file names losslessly through every
format, counts in every format equal to the JSON Lines report, and ``convert_report`` giving
back every report byte for byte. Evidence: part of the synthetic demo tree, and a small tree of
generated images under hostile names."""

from __future__ import annotations

import base64
import csv
import hashlib
import html.parser
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import noise, shapes

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "fixtures" / "demo"
DFXML = "{http://www.forensicswiki.org/wiki/Category:Digital_Forensics_XML}"
NM = "{urn:nearmatch:dfxml:1}"
#: Every report format, by the extension that selects it.
FORMATS = {"jsonl": "r.jsonl", "csv": "r.csv", "vics": "r.vics.json", "dfxml": "r.dfxml",
           "case": "r.jsonld", "html": "r.html"}


def _schema() -> Path | None:
    p = os.environ.get("NEARMATCH_DFXML_XSD")
    if p:
        return Path(p)
    p = ROOT.parent / "shared" / "schemas" / "dfxml" / "dfxml.xsd"
    return p if p.exists() else None


def _tool(name: str) -> str | None:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


# ------------------------------------------------------------------------------------------
# Reading each format back
# ------------------------------------------------------------------------------------------

def jsonl(path: Path) -> tuple[dict, list[dict], dict]:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["record"] == "header" and lines[-1]["record"] == "summary"
    return lines[0], lines[1:-1], lines[-1]


def raw_path(rec: dict) -> bytes:
    if rec.get("path_b64"):
        return base64.b64decode(rec["path_b64"])
    return rec["path"].encode()


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def dfxml_files(path: Path) -> tuple[ET.Element, list[dict]]:
    root = ET.parse(path).getroot()
    out = []
    for fo in root.iter(DFXML + "fileobject"):
        name = fo.find(DFXML + "filename")
        b64 = name.get(NM + "path_b64")
        out.append({
            "index": int(fo.find(DFXML + "id").text),
            "raw": base64.b64decode(b64) if b64 else (name.text or "").encode(),
            "disposition": fo.find(NM + "disposition").text,
            "matches": len(fo.findall(NM + "match")),
            "parent": int(fo.find(NM + "parent").text) if fo.find(NM + "parent") is not None
            else None,
            "md5": next((h.text for h in fo.findall(DFXML + "hashdigest")
                         if h.get("type") == "md5"), None),
        })
    return root, out


def case_graph(path: Path) -> tuple[list[dict], list[dict], dict]:
    g = json.loads(path.read_text(encoding="utf-8"))["@graph"]
    files = [n for n in g if n["@type"] == "uco-observable:File" and "nearmatch:recordIndex" in n]
    rels = [n for n in g if n["@type"] == "uco-observable:ObservableRelationship"]
    action, = [n for n in g if n["@type"] == "case-investigation:InvestigativeAction"]
    return files, rels, action


def case_raw(node: dict) -> bytes:
    if "nearmatch:pathBase64" in node:
        return base64.b64decode(node["nearmatch:pathBase64"])
    facet, = [f for f in node["uco-core:hasFacet"] if f["@type"] == "uco-observable:FileFacet"]
    return facet["uco-observable:filePath"].encode()


class Tables(html.parser.HTMLParser):
    """The rows of every table with an id, as lists of (text, attributes) cells, with the row's
    own attributes; and every tag seen inside a table body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[tuple[dict, list[tuple[str, dict]]]]] = {}
        self.body_tags: Counter[str] = Counter()
        self._table: str | None = None
        self._row: tuple[dict, list] | None = None
        self._cell: list[str] | None = None
        self._cell_attrs: dict = {}
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif self._table and tag == "tr":
            self._row = (a, [])
        elif self._row is not None and tag in ("td", "th"):
            self._cell, self._cell_attrs = [], a
        elif self._cell is not None:
            self.body_tags[tag] += 1
            if a.get("data-b64") and "data-b64" not in self._cell_attrs:
                self._cell_attrs = {**self._cell_attrs, "inner-b64": a["data-b64"]}

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row[1].append(("".join(self._cell), self._cell_attrs))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append(self._row)
            self._row = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def html_tables(text: str) -> Tables:
    t = Tables()
    t.feed(text)
    return t


def html_counts(t: Tables) -> dict:
    return {
        "totals": {a["data-key"]: cells[-1][0] for a, cells in t.tables["totals"]
                   if "data-key" in a},
        "dispositions": {a["data-disposition"]: int(cells[-1][0])
                         for a, cells in t.tables["dispositions"] if "data-disposition" in a},
        "matches": len([1 for a, _ in t.tables["matches-table"] if "data-order" in a]),
        "errors": len([1 for a, _ in t.tables["errors-table"] if "data-disposition" in a]),
    }


def vics_media(path: Path) -> list[dict]:
    return json.loads(path.read_text())["value"][0]["Media"]


def vics_expected(records: list[dict]) -> int:
    """The VICS writer's rule: distinct (first-copy) image or matched files with an MD5."""
    return sum(1 for r in records
               if r.get("duplicate_of_index") is None and r.get("md5")
               and (r.get("width") is not None
                    or r.get("type") in ("jpeg", "png", "gif", "bmp", "tiff", "webp")
                    or r["matches"]))


def check_counts_agree(out: dict[str, Path]) -> None:
    """Every format's totals equal the JSON Lines report's."""
    header, records, summary = jsonl(out["jsonl"])
    dispositions = summary["dispositions"]
    n, matches = summary["files_reported"], summary["matches"]
    assert n == len(records) and sum(dispositions.values()) == n

    rows = csv_rows(out["csv"])
    assert len(rows) == n
    assert Counter(r["disposition"] for r in rows) == Counter(dispositions)
    assert sum(int(r["match_count"]) for r in rows) == matches
    side = json.loads(Path(str(out["csv"]) + ".header.json").read_text())
    assert side["summary"] == summary

    assert len(vics_media(out["vics"])) == vics_expected(records)

    root, fos = dfxml_files(out["dfxml"])
    assert len(fos) == n
    assert Counter(f["disposition"] for f in fos) == Counter(dispositions)
    assert sum(f["matches"] for f in fos) == matches
    s = root.find(NM + "summary")
    assert int(s.get("files_reported")) == n and int(s.get("matches")) == matches
    assert {c.get("key"): int(c.text) for c in s.findall(NM + "count")
            if c.get("group") == "dispositions"} == dispositions

    files, rels, action = case_graph(out["case"])
    assert len(files) == n
    assert Counter(f["nearmatch:disposition"] for f in files) == Counter(dispositions)
    assert sum(1 for r in rels if r["uco-core:kindOfRelationship"] == "Matches") == matches
    assert action["nearmatch:filesReported"] == n and action["nearmatch:matches"] == matches
    assert len(action["uco-action:result"]) == n

    t = html_tables(out["html"].read_text(encoding="utf-8"))
    c = html_counts(t)
    assert c["dispositions"] == dispositions
    assert int(c["totals"]["files_reported"]) == n
    assert int(c["totals"]["matched_files"]) == summary["matched_files"]
    assert c["matches"] == matches
    assert c["errors"] == sum(1 for r in records if r["disposition"].startswith(
        ("error", "skipped")) or (r["disposition"] == "container" and r.get("error")))

    # Container members link to their container in DFXML and CASE.
    parents = {r["index"]: r.get("parent") for r in records}
    assert {f["index"]: f["parent"] for f in fos} == parents
    contained = [r for r in rels if r["uco-core:kindOfRelationship"] == "Contained_Within"
                 and r["uco-core:source"]["@id"].startswith("kb:file-")]
    assert len(contained) == sum(1 for p in parents.values() if p is not None)


# ------------------------------------------------------------------------------------------
# Evidence
# ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_sets(tmp_path_factory) -> list[str]:
    d = tmp_path_factory.mktemp("sets")
    rows = list(csv.DictReader(open(DEMO / "known-pdq.csv", newline="")))
    pdq = nearmatch.HashSet.build(
        d / "known-pdq.nmset", [r["pdq"] for r in rows],
        metadata=[{"id": r["id"], "labels": {"caid": r["caid"], "category": r["category"]}}
                  for r in rows])
    md5s = [x.strip() for x in (DEMO / "known-md5.txt").read_text().splitlines()
            if x.strip() and not x.startswith("#")]
    md5 = nearmatch.HashSet.build(d / "known-md5.nmset", md5s, algo="md5")
    return [pdq.path, md5.path]


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_sets) -> dict[str, Path]:
    """Every format from one scan of three demo folders (matches under flips, trims and
    re-encodings, a corrupt JPEG, documents that are not images)."""
    d = tmp_path_factory.mktemp("demo")
    out = {f: d / name for f, name in FORMATS.items()}
    ev = [DEMO / "evidence" / sub for sub in ("photos", "docs", "chat")]
    res = nearmatch.scan(ev, demo_sets, probes="default,dihedral", output=list(out.values()))
    assert res.exit_code == 3 and res.output == [str(p) for p in out.values()]
    return out


#: Hostile names (bytes): not UTF-8, control characters, markup and CDATA terminators, quotes,
#: a right-to-left override, tab, line feed and carriage return.
HOSTILE = [
    b"caf\xe9-\xff.png",
    b"ctl\x01\x1b[31m.png",
    b"tab\tnew\nline\rcr.png",
    b"]]>cdata.png",
    b"quote\"'s.png",
    b"<&>amp;lt;.png",
    b"<b onmouseover=alert(1)>x.png",
    "rtl\u202egnp.exe".encode(),
]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> dict[str, Path]:
    """Every format from one scan of a tree whose names are hostile: a known image under each
    name (matched) in a plain directory, a corrupt image under each name (error:decode) in a
    directory whose own name is hostile, a link with a hostile target (skipped:symlink), and a
    ZIP archive (container) holding the known image and a text file under hostile names."""
    d = tmp_path_factory.mktemp("hostile")
    ev = d / "evidence"
    known = shapes(150, 200, 8)
    s = nearmatch.HashSet.build(d / "known.nmset", [nearmatch.pdq(known)],
                                metadata=[{"id": "K<1>&\"", "labels": {"caid": "]]>"}}])
    plain = os.path.join(os.fsencode(ev), b"plain")
    sub = os.path.join(os.fsencode(ev), b"dir \x02\xfe")
    os.makedirs(plain)
    os.makedirs(sub)
    Image.fromarray(known).save(d / "k.png")
    Image.fromarray(noise(60, 80, 3)).save(d / "n.png")
    good, broken = (d / "k.png").read_bytes(), (d / "n.png").read_bytes()[:200]
    for name in HOSTILE:
        with open(os.path.join(plain, b"match-" + name), "wb") as f:
            f.write(good)
        with open(os.path.join(sub, b"broken-" + name), "wb") as f:
            f.write(broken)
    os.symlink(b"target \x03<]]>\xfe", os.path.join(sub, b"link\x7f\"'"))
    import zipfile

    with zipfile.ZipFile(os.fsdecode(os.path.join(plain, b"archive <&>.zip")), "w") as z:
        z.writestr("inner ]]> \"q\".png", good)
        z.writestr("notes\u202e.txt", "not an image\n")
    out = {f: d / name for f, name in FORMATS.items()}
    res = nearmatch.scan(ev, [s.path], output=list(out.values()))
    assert res.exit_code == 3
    return out


#: The programs the disk-image fixture is made with (scripts/ensure-build-deps installs them).
DISK_TOOLS = ("sfdisk", "mkfs.vfat", "mcopy", "mkntfs", "ntfscp", "ntfsinfo")


def _disk_tools_missing() -> list[str]:
    return [t for t in DISK_TOOLS if shutil.which(t) is None]


@pytest.fixture(scope="module")
def disk(tmp_path_factory) -> dict[str, Path] | None:
    """Every format from one scan of two disk images made by independent tools, nothing mounted:
    an MBR image with a FAT16 partition (sfdisk, mkfs.vfat, mcopy) and an NTFS volume (mkntfs,
    ntfscp), each holding the known image and an unrelated one. None without the tools."""
    if _disk_tools_missing():
        return None
    d = tmp_path_factory.mktemp("disk")
    ev = d / "evidence"
    ev.mkdir()
    known = shapes(150, 200, 8)
    s = nearmatch.HashSet.build(d / "known.nmset", [nearmatch.pdq(known)],
                                metadata=[{"id": "K1"}])
    Image.fromarray(known).save(d / "known.png")
    Image.fromarray(noise(60, 80, 3)).save(d / "other.png")

    def run(*args: str) -> str:
        return subprocess.run(args, check=True, capture_output=True, text=True).stdout

    fat = ev / "card.img"
    with open(fat, "wb") as f:
        f.truncate(20 << 20)
    subprocess.run(["sfdisk", "-q", str(fat)], input="label: dos\nstart=2048, size=36864, type=6\n",
                   check=True, capture_output=True, text=True)
    run("mkfs.vfat", "-F", "16", "--offset", "2048", str(fat), str(36864 // 2))
    part = f"{fat}@@{2048 * 512}"
    run("mmd", "-i", part, "::DCIM")
    run("mcopy", "-i", part, str(d / "known.png"), "::DCIM/KNOWN.PNG")
    run("mcopy", "-i", part, str(d / "other.png"), "::OTHER.PNG")
    ntfs = ev / "volume.ntfs"
    with open(ntfs, "wb") as f:
        f.truncate(8 << 20)
    run("mkntfs", "-F", "-f", "-Q", str(ntfs))
    run("ntfscp", "-f", str(ntfs), str(d / "known.png"), "known.png")
    run("ntfscp", "-f", str(ntfs), str(d / "other.png"), "other.png")
    out = {f: d / name for f, name in FORMATS.items()}
    res = nearmatch.scan(ev, [s.path], output=list(out.values()))
    assert res.exit_code == 1, res
    out["ntfs"] = ntfs
    return out


# ------------------------------------------------------------------------------------------
# Tests
# ------------------------------------------------------------------------------------------

def test_dfxml_is_valid_against_the_dfxml_schema(demo, hostile, disk):
    schema_path = _schema()
    if schema_path is None:
        pytest.skip("DFXML schema not found (../shared/schemas/dfxml, or set NEARMATCH_DFXML_XSD)")
    import xmlschema

    schema = xmlschema.XMLSchema(str(schema_path))
    reports = [demo["dfxml"], hostile["dfxml"]] + ([disk["dfxml"]] if disk else [])
    for report in reports:
        errors = list(schema.iter_errors(str(report)))
        assert not errors, f"{report}: {errors[:3]}"


def test_case_report_passes_case_validate(demo, hostile, disk):
    tool = _tool("case_validate")
    if tool is None:
        pytest.skip("case_validate not installed (pip install -r python/requirements-test.txt)")
    # One run over all graphs: the ontology is loaded once (the costly part).
    graphs = [str(demo["case"]), str(hostile["case"])] + ([str(disk["case"])] if disk else [])
    run = subprocess.run([tool, "--allow-info", *graphs],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Conforms: True" in run.stdout


def test_counts_in_every_format_equal_the_json_lines_report(demo, hostile, disk):
    check_counts_agree(demo)
    check_counts_agree(hostile)
    if disk:
        check_counts_agree(disk)


def test_disk_image_files_carry_their_file_system_facts_in_every_format(disk):
    if disk is None:
        pytest.skip(f"disk-image tools missing: {', '.join(_disk_tools_missing())} "
                    "(scripts/ensure-build-deps installs them)")
    _, records, _ = jsonl(disk["jsonl"])
    by_path = {r["path"]: r for r in records}
    # The independent reference: ntfsinfo's MFT record number and creation time of each file.
    for name in ("known.png", "other.png"):
        info = subprocess.run(["ntfsinfo", "-F", "/" + name, str(disk["ntfs"])], check=True,
                              capture_output=True, text=True).stdout
        inode = int(info.split("Dumping Inode ", 1)[1].split()[0])
        born = info.split("File Creation Time:", 1)[1].strip().splitlines()[0]
        from datetime import datetime, timezone
        born = datetime.strptime(born.removesuffix(" UTC").strip(), "%a %b %d %H:%M:%S %Y")
        rec = next(r for p, r in by_path.items() if p.endswith("volume.ntfs!/" + name))
        assert rec["fs_id"].split("-")[0] == str(inode)
        created = datetime.fromisoformat(rec["created"].replace("Z", "+00:00"))
        assert created.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0) == born
    fat = [r for p, r in by_path.items() if "card.img!/p1/" in p]
    # Files only: directories are walked, not records (as in a folder scan).
    assert sorted(p.rsplit("!/p1/", 1)[1] for p in (r["path"] for r in fat)) == [
        "DCIM/KNOWN.PNG", "OTHER.PNG"]
    partition = next(r for p, r in by_path.items() if p.endswith("card.img!/p1"))
    assert partition["offset"] == 2048 * 512

    # CSV: the same facts in their columns.
    rows = {r["path"]: r for r in csv_rows(disk["csv"])}
    for path, rec in by_path.items():
        row = rows[path]
        assert row["fs_id"] == rec.get("fs_id", "")
        assert row["created"] == rec.get("created", "")
        assert row["offset"] == str(rec.get("offset", ""))
    # DFXML: allocated files with their inode (the MFT record) and birth time.
    root = ET.parse(disk["dfxml"]).getroot()
    seen = 0
    for fo in root.iter(DFXML + "fileobject"):
        path = fo.findtext(DFXML + "filename")
        rec = by_path[path]
        if "volume.ntfs!/" in path and rec["kind"] == "file":
            assert fo.findtext(DFXML + "alloc") == "1"
            assert fo.findtext(DFXML + "inode") == rec["fs_id"].split("-")[0]
            assert fo.findtext(DFXML + "crtime") == rec["created"]
            assert fo.findtext(NM + "fs_id") == rec["fs_id"]
            seen += 1
    assert seen >= 2


def test_hostile_names_round_trip_losslessly_in_every_format(hostile):
    _, records, summary = jsonl(hostile["jsonl"])
    raw = {r["index"]: raw_path(r) for r in records}
    names = {os.path.basename(p) for p in raw.values()}
    for name in HOSTILE:
        assert b"match-" + name in names and b"broken-" + name in names
    assert summary["dispositions"] == {"matched": len(HOSTILE) + 1, "error:decode": len(HOSTILE),
                                       "skipped:symlink": 1, "container": 1, "not-image": 1}
    members = [r for r in records if r.get("parent") is not None]
    assert sorted(os.path.basename(raw_path(r)) for r in members) == [
        b"inner ]]> \"q\".png", "notes\u202e.txt".encode()]

    for r in csv_rows(hostile["csv"]):
        got = base64.b64decode(r["path_b64"]) if r["path_b64"] else r["path"].encode()
        assert got == raw[int(r["index"])]

    root, fos = dfxml_files(hostile["dfxml"])
    assert {f["index"]: f["raw"] for f in fos} == raw
    text = hostile["dfxml"].read_text(encoding="utf-8")
    assert "]]>" not in text and "\r" not in text
    # Names XML can carry come back from the text alone (tab, line feed, carriage return and
    # markup included); the others carry their bytes in nm:path_b64.
    plain_text = {fo.find(DFXML + "filename").text.encode()
                  for fo in root.iter(DFXML + "fileobject")
                  if fo.find(DFXML + "filename").get(NM + "path_b64") is None}
    for name in (b"tab\tnew\nline\rcr.png", b"]]>cdata.png", b"quote\"'s.png",
                 b"<&>amp;lt;.png", "rtl\u202egnp.exe".encode()):
        assert any(p.endswith(b"match-" + name) for p in plain_text), name

    files, rels, _ = case_graph(hostile["case"])
    assert {f["nearmatch:recordIndex"]: case_raw(f) for f in files} == raw

    page = hostile["html"].read_text(encoding="utf-8")
    t = html_tables(page)
    assert not t.body_tags.get("b"), "a name was rendered as markup"
    cells = {}
    for table in ("matches-table", "errors-table"):
        for a, row in t.tables[table]:
            if len(row) < 2 or not row[0][0].isdigit():
                continue
            text_, attrs = row[1]
            got = base64.b64decode(attrs["data-b64"]) if "data-b64" in attrs else text_.encode()
            cells[int(row[0][0])] = got
    # The summary lists matched files and those not processed (not the container, not the text).
    listed = {r["index"] for r in records
              if r["matches"] or r["disposition"].startswith(("error", "skipped"))}
    assert cells == {i: p for i, p in raw.items() if i in listed}
    # Markup characters show as themselves; control characters visibly.
    shown = [row[1][0] for _, row in t.tables["matches-table"] if len(row) > 1]
    assert any("<b onmouseover=alert(1)>x.png" in s for s in shown)
    assert any("]]>cdata.png" in s for s in shown)
    assert any("quote\"'s.png" in s for s in shown)
    assert any(s.endswith("archive <&>.zip!/inner ]]> \"q\".png") for s in shown)
    # What a person sees of invisible characters: written out, the bytes in data-b64.
    assert any(s.endswith("ctl\\x01\\x1b[31m.png") for s in shown)
    assert any(s.endswith("rtl\\u{202e}gnp.exe") for s in shown)
    assert any(s.endswith("tab\\x09new\\x0aline\\x0dcr.png") for s in shown)

    # VICS carries each listed file's path (the display form: VICS has no field for raw bytes),
    # split into its folder (a member's folder is its container chain) and name.
    by_md5: dict[str, set[str]] = {}
    for r in records:
        if r.get("md5"):
            by_md5.setdefault(r["md5"].upper(), set()).add(r["path"])
    vics = json.loads(hostile["vics"].read_text())
    listed_files = [f for m in vics["value"][0]["Media"] for f in m["MediaFiles"]]
    assert listed_files
    for f in listed_files:
        assert f"{f['FilePath']}/{f['FileName']}" in by_md5[f["MD5"]]


def test_convert_report_gives_back_every_report_byte_for_byte(demo, hostile, tmp_path):
    for name, out in (("demo", demo), ("hostile", hostile)):
        for fmt, report in out.items():
            dst = tmp_path / f"{name}-{report.name}"
            s = nearmatch.convert_report(out["jsonl"], dst, to=fmt)
            assert dst.read_bytes() == report.read_bytes(), f"{name} {fmt}"
            digest, file_name = Path(str(dst) + ".sha256").read_text().splitlines()[0].split()
            assert digest == hashlib.sha256(dst.read_bytes()).hexdigest()
            if fmt == "csv":
                side = Path(str(report) + ".header.json").read_bytes()
                assert Path(str(dst) + ".header.json").read_bytes() == side
            assert s["files"] == jsonl(out["jsonl"])[2]["files_reported"]
    # The format from the extension; an unfinished report is refused.
    nearmatch.convert_report(demo["jsonl"], tmp_path / "by-ext.html")
    assert (tmp_path / "by-ext.html").read_bytes() == demo["html"].read_bytes()
    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(demo["jsonl"].read_text().splitlines(keepends=True)[:-1]))
    with pytest.raises(ValueError, match="no summary record"):
        nearmatch.convert_report(cut, tmp_path / "cut.dfxml")
    assert not (tmp_path / "cut.dfxml").exists()
    with pytest.raises(FileNotFoundError):
        nearmatch.convert_report(tmp_path / "missing.jsonl", tmp_path / "x.html")


def _dump_dom(chromium: str, page: Path, fragment: str, profile: Path) -> str:
    url = page.resolve().as_uri() + fragment
    run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          f"--user-data-dir={profile}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout


def test_html_summary_in_a_headless_browser(demo, tmp_path):
    chromium = _chromium()
    if chromium is None:
        pytest.skip("chromium not installed (scripts/ensure-build-deps installs it on Debian)")
    _, records, summary = jsonl(demo["jsonl"])
    page = demo["html"].read_text(encoding="utf-8")
    # Self-contained and image-free: nothing to fetch, nothing rendered.
    for banned in ("<img", "<svg", "<canvas", "<picture", "<video", "<iframe", "url(", "src=",
                   "href=", "data:"):
        assert banned not in page, banned
    assert "default-src 'none'" in page

    # As opened: every count equals the JSON Lines report; all matches shown in record order.
    t = html_tables(_dump_dom(chromium, demo["html"], "", tmp_path / "p1"))
    c = html_counts(t)
    assert c["dispositions"] == summary["dispositions"]
    assert int(c["totals"]["files_walked"]) == summary["files_walked"]
    assert int(c["totals"]["matches"]) == summary["matches"] == c["matches"]
    rows = [(a, cells) for a, cells in t.tables["matches-table"] if "data-order" in a]
    assert [int(a["data-order"]) for a, _ in rows] == list(range(len(rows)))
    assert not any("hidden" in a for a, _ in rows)

    # Sorted by distance (descending) and filtered on a label, from the URL fragment.
    dom = _dump_dom(chromium, demo["html"], "#sort=distance&order=desc&q=caid%3D1",
                    tmp_path / "p2")
    t = html_tables(dom)
    rows = [(a, cells) for a, cells in t.tables["matches-table"] if "data-order" in a]
    visible = [cells for a, cells in rows if "hidden" not in a]
    want = sum(1 for r in records for m in r["matches"]
               if any(lab == {"scheme": "caid", "value": "1"} for lab in m["labels"]))
    assert want > 0 and len(visible) == want
    distances = [int(cells[6][0]) for cells in visible]
    assert distances == sorted(distances, reverse=True) and distances[0] > distances[-1]
    assert all("caid=1" in cells[4][0] for cells in visible)
    assert f'data-shown="{want}"' in dom

    # Sorted by path, ascending: the order a person expects from clicking the column.
    t = html_tables(_dump_dom(chromium, demo["html"], "#sort=path&order=asc", tmp_path / "p3"))
    paths = [cells[1][0] for a, cells in t.tables["matches-table"] if "data-order" in a]
    assert paths == sorted(paths) and len(paths) == summary["matches"]

    shot = tmp_path / "summary.png"
    run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                          "--hide-scrollbars", f"--user-data-dir={tmp_path / 'p4'}",
                          "--window-size=1400,2400", f"--screenshot={shot}",
                          demo["html"].resolve().as_uri() + "#sort=distance&order=desc"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and shot.stat().st_size > 10_000, run.stderr[-2000:]
    keep = os.environ.get("NEARMATCH_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
