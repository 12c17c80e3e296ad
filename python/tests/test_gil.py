"""hash_files and HashSet.search release the GIL: another Python thread makes progress meanwhile.

Method (no clock involved): the switch interval is raised to 1000 s, so a thread that holds the
GIL is never forced to hand it over. A counter thread counts in pure Python, sleeping briefly
every 1,000 increments so that the main thread can take the GIL back whenever it waits for it.
The main thread reads the counter, makes one native call and reads it again. If the call holds
the GIL, the counter cannot move at all in between; if the call releases it, the counter runs
for the whole call. The same measurement around a C call that holds the GIL (``sum`` over a
``range``, which never returns to the interpreter loop) must show no progress: that shows
the method can tell the two apart.
"""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

import nearmatch
from conftest import noise, shapes

#: Counter increments that count as "progress" (about 1-2 ms of counting; a held GIL gives 0).
PROGRESS = 20_000
#: Native calls made at most to see that progress (the first usually suffices).
MAX_CALLS = 30


class Counter:
    """A Python thread counting while the GIL is free."""

    def __init__(self) -> None:
        self.n = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop:
            self.n += 1
            if self.n % 1000 == 0:
                # Releases the GIL long enough for a waiting main thread to take it (the switch
                # interval is too long to force a hand-over).
                time.sleep(1e-4)

    def __enter__(self) -> Counter:
        self.old_interval = sys.getswitchinterval()
        sys.setswitchinterval(1000.0)
        self.thread.start()
        while self.n < 1000:  # the thread is running
            time.sleep(1e-3)
        return self

    def __exit__(self, *exc) -> None:
        self.stop = True
        self.thread.join()
        sys.setswitchinterval(self.old_interval)

    def progress_during(self, call, max_calls: int = MAX_CALLS) -> int:
        """Counter increments that happened inside `call()` (repeated until PROGRESS or max_calls)."""
        total = 0
        for _ in range(max_calls):
            before = self.n
            call()
            total += self.n - before
            if total >= PROGRESS:
                break
        return total


def test_method_detects_a_gil_holding_call():
    with Counter() as c:
        held = c.progress_during(lambda: sum(range(3_000_000)), max_calls=5)
    assert held < PROGRESS // 10, held


@pytest.fixture(scope="module")
def image_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("gil")
    paths = []
    for i in range(12):
        arr = noise(300, 400, i) if i % 2 else shapes(300, 400, i)
        p = d / f"img{i}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    return paths


def test_hash_files_releases_the_gil(image_files):
    with Counter() as c:
        progress = c.progress_during(
            lambda: nearmatch.hash_files(image_files, algos=("pdq", "phash"), threads=1))
    assert progress >= PROGRESS, f"counter advanced {progress} during hash_files: GIL held?"


def test_search_releases_the_gil(tmp_path):
    rng = np.random.default_rng(11)
    rows = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    s = nearmatch.HashSet.build(tmp_path / "gil.nmset", rows)
    queries = rng.integers(0, 256, (400, 32), dtype=np.uint8)
    s.search(queries[:1], engine="scan")  # first-use work (index validation) out of the way
    with Counter() as c:
        scan = c.progress_during(lambda: s.search(queries, max_distance=40, engine="scan"))
        knn = c.progress_during(lambda: s.knn(queries, k=3))
    assert scan >= PROGRESS, f"counter advanced {scan} during search: GIL held?"
    assert knn >= PROGRESS, f"counter advanced {knn} during knn: GIL held?"
