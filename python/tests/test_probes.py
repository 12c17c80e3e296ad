"""Query-side probes (probes=) and the hash mode (mode=) of the Python API.

Every expectation comes from how the test made its images (which copy got which transform) or
from an independent reference (pdqhash on Pillow's pixels, the CLI), never from the value under
test.
"""

from __future__ import annotations

import io
import pickle
import subprocess

import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import noise, shapes
from test_report import _cli


def _known() -> np.ndarray:
    # Shapes over a faint texture: a well-textured image (PDQ quality well above 50).
    base = shapes(120, 160, 11).astype(np.int16)
    return np.clip(base + (noise(120, 160, 12).astype(np.int16) - 128) // 8, 0, 255).astype(np.uint8)


def _pad(img: np.ndarray, top: int, bottom: int, left: int, right: int, colour: int) -> np.ndarray:
    h, w, _ = img.shape
    out = np.full((h + top + bottom, w + left + right, 3), colour, np.uint8)
    out[top:top + h, left:left + w] = img
    return out


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture()
def known_set(tmp_path):
    return nearmatch.HashSet.build(tmp_path / "k.nmset", [nearmatch.pdq(_known(), probes="none")],
                                   metadata=[{"id": "K1"}])


COPIES = {
    # 25 % white frame and a letterbox: far outside plain PDQ's reach, undone by trimming.
    "padded": lambda k: _pad(k, 30, 30, 40, 40, 255),
    "letterboxed": lambda k: _pad(k, 20, 20, 0, 0, 0),
}


@pytest.mark.parametrize("name", sorted(COPIES))
def test_bordered_copy_matches_only_with_probes_and_names_the_probe(known_set, name):
    copy = COPIES[name](_known())
    h = nearmatch.pdq(_png(copy))  # probes="default" is the default
    assert h.has_probes and h.probe_families == ["trim"]
    plain = known_set.search([h])
    assert len(plain) == 0, "plain PDQ misses the bordered copy"
    res = known_set.search([h], probes="default")
    assert len(res) == 1
    q, e, d, names = res
    assert names[0] in ("trim", "content-box")
    assert res.orientation[0] == "orig"
    assert d[0] <= min(31, nearmatch.DEFAULT_PROBE_RADIUS)
    df = res.to_pandas()
    assert df["probe"].tolist() == [names[0]] and df["id"].tolist() == ["K1"]
    # The probe hash that hit is one the Hash carries, at the reported distance.
    probe = h.probes()[names[0]]
    assert probe - nearmatch.Hash.from_hex(df["hash"][0]) == d[0]
    # No probe radius left: a derived probe matches only at distance 0 (a lossless PNG can
    # trim back to the original's exact pixels), the plain hash is too far.
    r0 = known_set.search([h], probes="default", probe_max_distance=0)
    assert len(r0) == int(d[0] == 0) and all(r0.distance == 0)
    jpeg = io.BytesIO()
    Image.fromarray(copy).save(jpeg, format="JPEG", quality=80)
    lossy = nearmatch.pdq(jpeg.getvalue())
    hit = known_set.search([lossy], probes="default")
    assert len(hit) == 1 and hit.distance[0] > 0
    assert len(known_set.search([lossy], probes="default", probe_max_distance=0)) == 0


def test_flipped_copy_matches_with_the_dihedral_probe(tmp_path):
    # PDQ's flipped hash is not bit-exact (its box filter is not mirror-symmetric): this image's
    # flip lands ~20 bits from its original, well inside 31 and far from every other probe.
    img = shapes(128, 128, 13)
    known_set = nearmatch.HashSet.build(tmp_path / "f.nmset", [nearmatch.pdq(img)],
                                        metadata=[{"id": "F1"}])
    h = nearmatch.pdq(_png(img[:, ::-1].copy()), probes="default,dihedral")
    assert len(known_set.search([h], probes="default")) == 0
    res = known_set.search([h], probes=["trim", "dihedral"])
    assert res.probe_name.tolist() == ["plain+flipy"]
    assert res.orientation.tolist() == ["flipy"]
    # The older dihedral=True path names the same probe.
    old = known_set.search([h], dihedral=True)
    assert old.probe_name.tolist() == ["plain+flipy"] and old.orientation.tolist() == ["flipy"]


def test_distinct_image_matches_nothing_with_all_probes(known_set):
    h = nearmatch.pdq(_png(shapes(120, 160, 99)), probes="all")
    assert set(h.probe_families) == set(nearmatch.PROBE_FAMILIES)
    assert len(known_set.search([h], probes="all")) == 0


def test_probes_survive_pickling_and_batches(tmp_path):
    path = tmp_path / "padded.png"
    path.write_bytes(_png(COPIES["padded"](_known())))
    h = nearmatch.pdq(path)
    back = pickle.loads(pickle.dumps(h))
    assert back.probe_families == h.probe_families
    assert {k: str(v) for k, v in back.probes().items()} == {k: str(v) for k, v in h.probes().items()}
    assert list(h.probes())[0] == "plain" and str(h.probes()["plain"]) == str(h)
    res = nearmatch.hash_files([path], probes="default")
    assert res.pdq_probes == [{k: str(v) for k, v in h.probes().items()}]
    batch = res.hashes("pdq")[0]
    assert {k: str(v) for k, v in batch.probes().items()} == {k: str(v) for k, v in h.probes().items()}
    assert nearmatch.hash_files([path]).pdq_probes is None
    assert not nearmatch.hash_files([path]).hashes("pdq")[0].has_probes


def test_probe_errors_name_the_cause(known_set):
    h = nearmatch.pdq(_known())  # default probes: no crop
    with pytest.raises(ValueError, match="crop"):
        known_set.search([h], probes="crop")
    with pytest.raises(ValueError, match="hex strings carry no probes"):
        known_set.search([str(h)], probes="trim")
    with pytest.raises(ValueError, match="sideways"):
        nearmatch.pdq(_known(), probes=["trim", "sideways"])
    with pytest.raises(ValueError, match="no probes"):
        nearmatch.pdq(_known(), probes="none").probes()
    with pytest.raises(ValueError, match="no probes"):
        nearmatch.phash(_known()).probes()


# --------------------------------------------------------------------------------------------
# mode="exact" | "fast"
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_jpeg(tmp_path_factory):
    """A 1600x1200 q90 JPEG: large enough for the fast mode's 1/4 DCT-scale decode."""
    img = np.repeat(np.repeat(shapes(300, 400, 21), 4, axis=0), 4, axis=1)
    img = np.clip(img.astype(np.int16) + (noise(1200, 1600, 22).astype(np.int16) - 128) // 6,
                  0, 255).astype(np.uint8)
    p = tmp_path_factory.mktemp("big") / "big.jpg"
    Image.fromarray(img).save(p, quality=90)
    return p


def test_fast_mode_differs_from_exact_by_a_few_bits(big_jpeg):
    pdqhash = pytest.importorskip("pdqhash")
    exact = nearmatch.pdq(big_jpeg)
    fast = nearmatch.pdq(big_jpeg, mode="fast")
    assert exact.mode == "exact" and exact.hashed_size is None
    assert fast.mode == "fast"
    w, h = fast.hashed_size
    assert min(w, h) >= 256 and (w, h) != (1600, 1200)
    # Exact is the reference: pdqhash on Pillow's pixels (same libjpeg-turbo decode).
    ref, _ = pdqhash.compute(np.asarray(Image.open(big_jpeg).convert("RGB")))
    assert np.array_equal(exact.bits, ref.astype(bool))
    d = exact - fast
    assert 0 < d <= 31, f"fast is a few bits from exact, got {d}"
    assert fast.quality is not None
    for fn in (nearmatch.phash, nearmatch.dhash):
        assert fn(big_jpeg, mode="fast").mode == "fast"
        assert fn(big_jpeg).mode == "exact"
        assert fn(big_jpeg, mode="fast") - fn(big_jpeg) <= 12


def test_fast_mode_in_batches_and_for_decoded_pixels(big_jpeg, tmp_path):
    res = nearmatch.hash_files([big_jpeg], algos=("pdq", "phash"), mode="fast")
    assert res.hash_mode == ["fast"] and res.hashed_size[0] == nearmatch.pdq(big_jpeg, mode="fast").hashed_size
    assert res["pdq"][0] == nearmatch.pdq(big_jpeg, mode="fast").hex
    assert res.hashes("pdq")[0].mode == "fast"
    small = tmp_path / "small.png"
    small.write_bytes(_png(_known()))
    assert nearmatch.hash_files([small], mode="fast").hash_mode == ["exact"]
    # Arrays and PIL images are already decoded: fast mode hashes them exactly, and says so.
    arr = np.asarray(Image.open(big_jpeg).convert("RGB"))
    assert nearmatch.pdq(arr, mode="fast").mode == "exact"
    assert nearmatch.pdq(arr, mode="fast") - nearmatch.pdq(big_jpeg) == 0
    with pytest.raises(ValueError, match="mode"):
        nearmatch.pdq(big_jpeg, mode="quick")
    with pytest.raises(ValueError, match="mode"):
        nearmatch.hash_files([big_jpeg], mode="quick")
    back = pickle.loads(pickle.dumps(nearmatch.pdq(big_jpeg, mode="fast")))
    assert back.mode == "fast" and back.hashed_size == nearmatch.pdq(big_jpeg, mode="fast").hashed_size


@pytest.mark.skipif(_cli() is None, reason="no nearmatch binary (cargo build, or set NEARMATCH_BIN)")
def test_exact_and_fast_equal_the_cli(big_jpeg):
    import json

    for mode in ("exact", "fast"):
        out = subprocess.run([_cli(), "hash", "--algo", "pdq", "--format", "jsonl", f"--{mode}",
                              str(big_jpeg)], capture_output=True, text=True, check=True).stdout
        rec = json.loads(out.splitlines()[0])
        h = nearmatch.pdq(big_jpeg, mode=mode)
        assert (rec["pdq"], rec["hash_mode"]) == (h.hex, h.mode)


def test_dask_partition_names_the_probe(known_set, tmp_path):
    pytest.importorskip("dask.dataframe")
    from nearmatch import dask as nmd

    padded = tmp_path / "padded.png"
    padded.write_bytes(_png(COPIES["padded"](_known())))
    other = tmp_path / "other.png"
    other.write_bytes(_png(shapes(120, 160, 99)))
    df = nmd.match_partition([padded, other], known_set, probes="default")
    assert df["id"].tolist()[0] == "K1" and df["probe"].tolist()[0] in ("trim", "content-box")
    assert df["id"].isna().tolist() == [False, True] and df["probe"].isna().tolist() == [False, True]
    assert df["hash_mode"].tolist() == ["exact", "exact"]
    plain = nmd.match_partition([padded, other], known_set)
    assert plain["id"].isna().all() and "probe" not in plain.columns
