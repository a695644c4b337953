"""A Great Expectations suite worker: a child process that imports GX while the run's first steps work, then runs
the suites the run's steps hand it.

Importing GX costs seconds (it brings pandas, scipy, altair, marshmallow, pydantic and its ~60 expectation and metric
modules), and in a run that executes its steps one after another in its own process (the in-process executor,
`daily_refresh_job`'s) the first suite paid all of it on the run's critical path, and the process paid again to
unload it at exit. The worker moves both to a second process started when the run starts: it imports GX on the other
core while ingestion reads the day, and it is killed, not unwound, when the run ends.

Nothing changes in what a suite checks or reports: the worker calls the same `runner.run_suite` on the same Arrow
columns (sent as Arrow IPC) and sends back the same `SuiteOutcome`; an error the suite raises is raised again in the
step. Should the worker die or fail to start, the suite runs in the step's own process, as without a worker.

    worker = SuiteWorker.start()          # returns at once; the child imports GX meanwhile
    outcome = worker.run(suite, table, day)
    worker.stop()

Protocol: length-prefixed pickles on the child's stdin and on a dedicated pipe (the child's stdout is its stderr,
so nothing GX prints can corrupt a frame). Requests are (suite, Arrow IPC bytes, day); answers ("ok", SuiteOutcome)
or ("error", exception).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from spotify_ai_assets.core.quality.suites import Suite

_HEADER = struct.Struct("!Q")
# The longest the caller waits for one suite, the worker's GX import included (a suite on a 2-million-row day takes
# about 5 s): past it the worker is killed, so the blocked pipe read or write returns, and the suite runs in the
# caller's process instead. Nothing waits on the worker unbounded.
SUITE_WAIT_S = 300.0
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])


class WorkerGone(RuntimeError):
    """The worker process exited or broke the protocol: the caller runs the suite itself."""


def _send(stream: IO[bytes], payload: Any) -> None:
    data = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def _read_exact(stream: IO[bytes], n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _receive(stream: IO[bytes]) -> Any:
    (size,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    return pickle.loads(_read_exact(stream, size))


def _to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def child_env() -> dict[str, str]:
    """The environment of a process that runs suites for this one (a suite worker, the suite server): this package
    importable from where it is, and no GX usage statistics."""
    env = dict(os.environ)
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    env["PYTHONPATH"] = os.pathsep.join([_PACKAGE_PARENT, *filter(None, [env.get("PYTHONPATH")])])
    return env


def evaluate(suite: Suite, data: bytes, day: dt.date | None) -> tuple[str, Any]:
    """A request's reply: ("ok", SuiteOutcome), or ("error", the exception the suite raised, to be raised again by the
    caller; a RuntimeError naming it when it cannot be pickled)."""
    from spotify_ai_assets.core.quality import runner

    try:
        return "ok", runner.run_suite(suite, _from_ipc(data), day)
    except Exception as exc:
        try:
            pickle.dumps(exc)
            return "error", exc
        except Exception:
            return "error", RuntimeError(f"{type(exc).__name__}: {exc}")


class SuiteWorker:
    """The parent's handle on one worker process. Thread-safe: one suite at a time."""

    def __init__(self, process: subprocess.Popen[bytes], answers: IO[bytes], log: IO[bytes]):
        self._process = process
        self._answers = answers
        self._log = log
        self._lock = threading.Lock()
        self._broken = False

    @classmethod
    def start(cls) -> SuiteWorker:
        read_fd, write_fd = os.pipe()
        log = tempfile.TemporaryFile()  # noqa: SIM115 (the child's stderr, closed in stop(); kept for errors)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(write_fd)], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=log, pass_fds=(write_fd,), env=child_env(), close_fds=True)
        finally:
            os.close(write_fd)
        return cls(process, os.fdopen(read_fd, "rb"), log)

    @property
    def pid(self) -> int:
        return self._process.pid

    def run(self, suite: Suite, table: pa.Table, day: dt.date | None, wait_s: float = SUITE_WAIT_S) -> Any:
        """`runner.run_suite(suite, table, day)` in the worker (waiting for its import if it is still importing), for
        at most `wait_s` seconds: then the worker is killed and `WorkerGone` raised."""
        with self._lock:
            if self._broken:
                raise WorkerGone("the suite worker stopped earlier")
            # A watchdog rather than non-blocking pipes: killing the worker ends the blocked read or write at once.
            fired = threading.Event()

            def kill() -> None:
                fired.set()
                self._process.kill()

            watchdog = threading.Timer(wait_s, kill)
            watchdog.daemon = True
            watchdog.start()
            try:
                assert self._process.stdin is not None
                _send(self._process.stdin, (suite, _to_ipc(table), day))
                status, value = _receive(self._answers)
            except (OSError, ValueError, EOFError, pickle.PickleError, struct.error) as exc:  # ValueError: closed
                self._broken = True
                late = f"no answer within {wait_s:g} s, killed; " if fired.is_set() else ""
                raise WorkerGone(f"the suite worker (pid {self.pid}) stopped: {late}{exc!r}; {self._log_tail()}"
                                 ) from exc
            finally:
                watchdog.cancel()
        if status == "error":
            raise value
        return value

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError, ValueError):  # ValueError: closed by stop()
            self._log.seek(0)
            return self._log.read()[-2000:].decode(errors="replace")
        return ""

    def stop(self) -> None:
        """End the worker at once: it holds nothing to save, so it is killed rather than left to unload GX."""
        self._broken = True
        with contextlib.suppress(OSError):
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(timeout=10)
        for stream in (self._process.stdin, self._answers, self._log):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


_active: SuiteWorker | None = None
_active_lock = threading.Lock()


@contextlib.contextmanager
def suite_worker() -> Iterator[SuiteWorker | None]:
    """A worker for the suites this process runs while the block runs (`run_suite` uses it), stopped after it. Nested
    or concurrent blocks share the first one; a worker that cannot start leaves the suites in this process."""
    global _active
    with _active_lock:
        if _active is not None:
            owner, worker = False, _active
        else:
            owner = True
            try:
                worker = _active = SuiteWorker.start()
            except OSError:
                worker = None
    try:
        yield worker
    finally:
        if owner and worker is not None:
            with _active_lock:
                _active = None
            worker.stop()


# Seconds this machine's shared suite server (core/quality/suite_server.py) stays up idle, or None: no server. Set
# per process by the definitions (`use_suite_server`, from SPOTIFY_AI_SUITE_SERVER_IDLE_S) before any step runs.
_server_idle_s: float | None = None


def use_suite_server(idle_s: float) -> None:
    """Send this process's suites to the machine's shared suite server, which stays up `idle_s` seconds after its last
    suite (0: no server; suites run in the run's suite worker or in the step's own process)."""
    global _server_idle_s
    _server_idle_s = float(idle_s) if idle_s > 0 else None


def suite_server_idle_s() -> float | None:
    return _server_idle_s


def run_suite(suite: Suite, table: pa.Table, day: dt.date | None = None) -> Any:
    """`runner.run_suite`, in this process's suite worker when one is running (see `suite_worker`), else on the
    machine's suite server when it is on (see `use_suite_server`), else here."""
    worker = _active
    if worker is not None:
        try:
            return worker.run(suite, table, day)
        except WorkerGone as gone:
            warnings.warn(f"{gone}: running {suite.name} in this process", RuntimeWarning, stacklevel=2)
    elif _server_idle_s is not None:
        from spotify_ai_assets.core.quality import suite_server

        try:
            return suite_server.client_run(suite, table, day, _server_idle_s)
        except WorkerGone as gone:
            warnings.warn(f"{gone}: running {suite.name} in this process", RuntimeWarning, stacklevel=2)
    from spotify_ai_assets.core.quality import runner

    return runner.run_suite(suite, table, day)


def _serve(answer_fd: int) -> None:
    # GX and everything it imports may print: stdout goes to stderr, frames only to the dedicated pipe.
    answers = os.fdopen(answer_fd, "wb")
    sys.stdout = sys.stderr
    requests = sys.stdin.buffer

    from spotify_ai_assets.core.quality import runner

    runner.warm_up()
    while True:
        try:
            suite, data, day = _receive(requests)
        except EOFError:
            break
        _send(answers, evaluate(suite, data, day))
    answers.close()
    sys.stderr.flush()
    # Nothing to unwind: skip unloading GX's modules (about half a second).
    os._exit(0)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
