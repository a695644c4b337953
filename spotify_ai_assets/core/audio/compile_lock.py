"""numba's on-disk code, compiled by one process at a time.

librosa's beat tracker and peak picker are numba gufuncs cached on disk (`cache=True`), like this package's kernels.
When two processes compile the same gufunc at once, its two cache files (`<module>.<function>-*.nbc` and
`guf-<module>.<function>-*.nbc`) can end up written by different processes with different ABI tags, and a process
that later loads such a pair crashes with a segmentation fault (numba issue 10128, open; seen here as a pytest-xdist
worker dying in `librosa.util.peak_pick` on the run after a fresh install). Analyses start in several processes at
once (Celery workers and step processes on a fresh image, test workers), so each process's first analysis first
compiles or loads every kernel on a short synthetic clip while it holds an exclusive lock: the first process writes
all the cache files, the others then load whole, consistent sets.

The lock is a file beside the cache (in `NUMBA_CACHE_DIR` when set, else the temporary folder, which processes of one
machine share). The wait is bounded: after `LOCK_WAIT_S` the process goes on without it, as it did before the lock.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_NAME = "spotify_ai_assets-numba-compile.lock"
# A cold compile of everything takes about 25 s on 2 cores; a loaded machine can take several times that.
LOCK_WAIT_S = 300.0
_POLL_S = 0.1


def lock_path() -> Path:
    return Path(os.environ.get("NUMBA_CACHE_DIR") or tempfile.gettempdir()) / LOCK_NAME


@contextmanager
def one_compiler_at_a_time(path: Path | None = None, wait_s: float = LOCK_WAIT_S) -> Iterator[bool]:
    """Hold the compile lock for the block (yields True), or, when another process held it for `wait_s` seconds or
    the lock file cannot be opened, run the block without it (yields False)."""
    path = path or lock_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:  # a read-only cache folder: numba cannot write there either, so there is nothing to race for
        yield False
        return
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held = True
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    held = False
                    break
                time.sleep(_POLL_S)
        try:
            yield held
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
