"""How the ingestion's large, short-lived arrays get their memory: NumPy's pages and Arrow's allocator.

NumPy asks Linux for transparent huge pages (`madvise(MADV_HUGEPAGE)`) for every array of 4 MiB or more. Where the
kernel's THP defrag policy is `madvise` (the default of Debian and Ubuntu), each fault in such an array may first
compact memory to find a free 2 MiB page. A day's ingestion allocates and frees a few GiB of such arrays (sort keys,
codes, orders of 12 million rows), and on the 2-core VM of the benchmarks that compaction cost 2.3-4.3 s of kernel
time per bench day (system time 4.3-5.9 s with huge pages, 1.5-2.1 s without; user time the same, 11.1-11.4 s).

`numpy_small_pages` turns the advice off for one block and restores it afterwards, so only the arrays made inside
(and freed inside: the ingestion keeps none) use ordinary pages; the other steps keep NumPy's default, which a
process-wide `NUMPY_MADVISE_HUGEPAGE=0` would take from them too. An operator who set that variable has chosen: the
block then changes nothing. Neither does it where NumPy has no runtime switch (`_set_madvise_hugepage`, the runtime
form of the variable, documented in NumPy's global-state page by its effect only).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


class _SharedSetting:
    """A process-wide setting held by blocks that threads may open and nest: the first block to open applies it, the
    last to end restores what was there before."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._before: Any = None

    @contextmanager
    def held(self, apply: Callable[[], Any], restore: Callable[[Any], object]) -> Iterator[None]:
        """`apply()` sets the setting and returns what it was; `restore(that)` puts it back."""
        with self._lock:
            if self._holders == 0:
                self._before = apply()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0:
                    restore(self._before)


_HUGEPAGE_ADVICE = _SharedSetting()
_ARROW_POOL = _SharedSetting()


def _switch() -> Callable[[bool], bool] | None:
    if os.environ.get("NUMPY_MADVISE_HUGEPAGE") is not None:
        return None
    try:
        from numpy._core import multiarray
    except ImportError:  # NumPy 1.x named the package numpy.core
        return None
    return getattr(multiarray, "_set_madvise_hugepage", None)


@contextmanager
def numpy_small_pages() -> Iterator[None]:
    """Within the block, new NumPy arrays are not advised to use transparent huge pages."""
    switch = _switch()
    if switch is None:
        yield
        return
    with _HUGEPAGE_ADVICE.held(lambda: switch(False), switch):
        yield


# ---- Arrow's allocator -----------------------------------------------------------------------------------------------
# pyarrow's wheels allocate with mimalloc by default. A day's ingestion makes and frees a few GiB of Arrow buffers
# (decoded files, taken batches, dictionaries): on the benchmarks' VM jemalloc, also in the wheels, served it with
# about half the kernel time (system time 2.1-2.2 s against 4.0-4.9 s, wall 7.6-7.7 s against 8.3-9.0 s, three
# interleaved pairs on the 12.3M-event bench day), as ARROW_DEFAULT_MEMORY_POOL=jemalloc does for a whole process.

def _jemalloc() -> Any:
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") is not None:
        return None  # the operator chose the process's allocator
    import pyarrow as pa

    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        return None


@contextmanager
def arrow_jemalloc() -> Iterator[None]:
    """Within the block, pyarrow allocates from its jemalloc pool (buffers made inside are freed by it whenever they
    are freed); the default pool is restored when the last open block ends."""
    pool = _jemalloc()
    if pool is None:
        yield
        return
    import pyarrow as pa

    def use_jemalloc() -> Any:
        before = pa.default_memory_pool()
        pa.set_memory_pool(pool)
        return before

    with _ARROW_POOL.held(use_jemalloc, pa.set_memory_pool):
        yield
