"""`numpy_small_pages`: NumPy's huge-page advice is off inside the block (nested and threaded blocks included), back
as it was after it, and untouched where the operator set NUMPY_MADVISE_HUGEPAGE. `arrow_jemalloc`: pyarrow allocates
from jemalloc inside the block, from its default pool again after, and as the operator said where
ARROW_DEFAULT_MEMORY_POOL is set."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from spotify_ai_assets.core.kernel.memory import arrow_jemalloc, numpy_small_pages

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def _advice() -> bool:
    from numpy._core import multiarray

    switch = multiarray._set_madvise_hugepage
    now = switch(True)
    switch(now)
    return now


@pytest.fixture(autouse=True)
def _library_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)


def test_the_advice_is_off_inside_and_restored_after_nested_blocks() -> None:
    before = _advice()
    with numpy_small_pages():
        assert _advice() is False
        with numpy_small_pages():
            assert _advice() is False
        assert _advice() is False  # the outer block still holds it
    assert _advice() is before


def test_blocks_in_two_threads_restore_only_when_both_ended() -> None:
    before = _advice()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with numpy_small_pages():
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(10)
    with numpy_small_pages():
        pass
    assert _advice() is False  # the other thread's block is still open
    release.set()
    thread.join(10)
    assert _advice() is before


def test_an_operators_environment_setting_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    before = _advice()
    with numpy_small_pages():
        assert _advice() is before


def _anon_huge_kib(array: np.ndarray) -> int:
    """AnonHugePages of the mapping holding the middle of `array`, from /proc/self/smaps (NumPy advises the pages
    from the first page boundary in the data on: the first page is a mapping of its own)."""
    address = array.ctypes.data + array.nbytes // 2
    text = Path("/proc/self/smaps").read_text()
    for block in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        lo, hi = (int(x, 16) for x in block.split(" ", 1)[0].split("-"))
        if lo <= address < hi:
            return int(re.search(r"AnonHugePages:\s+(\d+) kB", block).group(1))
    raise AssertionError(f"no mapping holds {address:#x}")


@pytest.mark.skipif(not THP.exists() or "[madvise]" not in THP.read_text(),
                    reason="only where the kernel gives huge pages to advised memory alone")
def test_an_array_made_inside_gets_no_huge_pages() -> None:
    with numpy_small_pages():
        inside = np.ones(64 << 20, dtype=np.uint8)  # 64 MiB, touched
        assert _anon_huge_kib(inside) == 0
    outside = np.ones(64 << 20, dtype=np.uint8)
    if _anon_huge_kib(outside) == 0:  # the kernel had no free 2 MiB page to give: the check above proved nothing
        pytest.skip("no huge pages available to NumPy's advised arrays right now")


def test_arrow_allocates_from_jemalloc_inside_and_from_its_default_after() -> None:
    before = pa.default_memory_pool().backend_name
    jemalloc = pa.jemalloc_memory_pool()
    with arrow_jemalloc():
        assert pa.default_memory_pool().backend_name == "jemalloc"
        with arrow_jemalloc():
            pass
        assert pa.default_memory_pool().backend_name == "jemalloc"  # the outer block still holds it
        held = jemalloc.bytes_allocated()
        made_inside = pc.multiply(pa.array(np.arange(1 << 20, dtype=np.int64)), 3)  # Arrow makes a new buffer
        assert jemalloc.bytes_allocated() >= held + 8 * (1 << 20)
    assert pa.default_memory_pool().backend_name == before
    del made_inside  # freed by the pool that made it, after the block


def test_an_operators_arrow_pool_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
    before = pa.default_memory_pool().backend_name
    with arrow_jemalloc():
        assert pa.default_memory_pool().backend_name == before
