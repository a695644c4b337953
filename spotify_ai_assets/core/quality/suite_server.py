"""One Great Expectations suite server per machine, shared by every run, step and worker process on it.

Importing GX costs seconds of CPU (pandas, scipy, altair and GX's ~60 expectation modules: 1.5 s on a quick 2-core
VM, 4.6 s on a slow one), and before this server every run paid it again: the multiprocess executor's fork server
imported it for the run's suite steps, an in-process run's suite worker (core/quality/worker.py) imported it beside
the run's first steps. A backfill of 30 days paid it 30 times. The server imports GX once and evaluates the suites
that every process on the machine sends it, until it has been idle for `idle_s` seconds; the next suite starts it
again.

Nothing changes in what a suite checks or reports: the server calls the same `runner.run_suite` on the same Arrow
columns (sent as Arrow IPC) and sends back the same `SuiteOutcome`; an error the suite raises is raised again in the
caller. Should the server be unreachable, die or not answer within the caller's wait, `WorkerGone` is raised and the
caller runs the suite itself (worker.run_suite), as without a server.

Where: a Unix socket in a directory only this user can enter (`$TMPDIR/spotify_ai-<uid>/`, mode 0700; the server
takes pickled requests, so nobody else may connect), named for the code it runs: the interpreter, GX's version and
the contents of the package's `core/` modules, so a deployment of new code starts a new server beside the old one
(which exits when idle) instead of evaluating suites with old code. A lock file held for the server's lifetime lets
one server bind a name: processes that start one at the same moment leave one running.

Suites are evaluated one at a time (a GX context is not thread-safe, and GX's pandas work holds the GIL); a request
waits for the one before it, within the caller's bounded wait.

    warm(idle_s=120)                            # at a run's start: start the server if none answers
    client_run(suite, table, day, idle_s=120)   # a suite on it (started if none answers); WorkerGone if it fails
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import pyarrow as pa

from spotify_ai_assets.core.quality.suites import Suite
from spotify_ai_assets.core.quality.worker import (
    SUITE_WAIT_S,
    WorkerGone,
    _receive,
    _send,
    _to_ipc,
    child_env,
    evaluate,
)

# How long a starting server may take to bind its socket (it binds before importing GX, so this is an interpreter's
# start): past it the caller runs its suite itself.
START_WAIT_S = 20.0
_CORE = Path(__file__).resolve().parents[1]  # spotify_ai_assets/core: every module a suite's evaluation can reach


@functools.cache
def code_key() -> str:
    """What the server's answers depend on: the interpreter, GX's version and the source of the package's core."""
    digest = hashlib.sha256(sys.executable.encode())
    with contextlib.suppress(metadata.PackageNotFoundError):
        digest.update(metadata.version("great_expectations").encode())
    for path in sorted(_CORE.rglob("*.py")):
        digest.update(str(path.relative_to(_CORE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def private_dir() -> Path:
    """This user's directory for the server's socket and lock, created 0700; refused when anyone else can enter it
    or another user owns it (a socket there would take their pickles)."""
    path = Path(tempfile.gettempdir()) / f"spotify_ai-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
        raise WorkerGone(f"{path} is not a directory private to this user (mode {stat.S_IMODE(info.st_mode):o}, "
                         f"owner {info.st_uid}): no suite server")
    return path


def socket_path() -> Path:
    return private_dir() / f"suites-{code_key()}.sock"


def _connect(path: Path, timeout_s: float) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def start_server(path: Path, idle_s: float) -> subprocess.Popen[bytes]:
    """A detached server for `path` (its own session, no inherited streams: it outlives the caller and never holds
    its pipes open). A second server for the same path exits at once (the lock), so racing starts are harmless."""
    log = path.with_suffix(".log").open("ab")
    try:
        return subprocess.Popen([sys.executable, "-m", __name__, str(path), repr(float(idle_s))],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=child_env(), close_fds=True,
                                start_new_session=True)
    finally:
        log.close()


def connect(idle_s: float, start_wait_s: float = START_WAIT_S, timeout_s: float = SUITE_WAIT_S,
            path: Path | None = None) -> socket.socket:
    """A connection to this machine's server for the code here (or the one at `path`), started if none answers;
    `WorkerGone` if none answers within `start_wait_s`."""
    path = path or socket_path()
    try:
        return _connect(path, timeout_s)
    except OSError:
        pass
    process = start_server(path, idle_s)
    deadline = time.monotonic() + start_wait_s
    while True:
        try:
            return _connect(path, timeout_s)
        except OSError as exc:
            # The server we started exits at once when another holds the lock: that one binds soon, keep trying.
            if time.monotonic() >= deadline:
                raise WorkerGone(f"no suite server answered at {path} within {start_wait_s:g} s "
                                 f"(started pid {process.pid}, exit code {process.poll()}): {exc!r}") from exc
            time.sleep(0.02)


def warm(idle_s: float, path: Path | None = None) -> None:
    """Start this machine's server if none answers, without waiting for it: it imports GX while the caller works."""
    with contextlib.suppress(OSError, WorkerGone):
        path = path or socket_path()
        try:
            _connect(path, 1.0).close()
        except OSError:
            start_server(path, idle_s)


def client_run(suite: Suite, table: pa.Table, day: dt.date | None, idle_s: float, wait_s: float = SUITE_WAIT_S,
               path: Path | None = None) -> Any:
    """`runner.run_suite(suite, table, day)` on this machine's server (or the one at `path`), waiting at most `wait_s`
    for each read and write; `WorkerGone` when the server cannot be reached or does not answer."""
    try:
        sock = connect(idle_s, timeout_s=wait_s, path=path)
    except OSError as exc:
        raise WorkerGone(f"no suite server: {exc!r}") from exc
    try:
        with sock, sock.makefile("wb") as requests, sock.makefile("rb") as answers:
            _send(requests, (suite, _to_ipc(table), day))
            status, value = _receive(answers)
    except (OSError, ValueError, EOFError, pickle.PickleError, struct.error) as exc:  # OSError: timeout included
        raise WorkerGone(f"the suite server did not answer within {wait_s:g} s or stopped: {exc!r}") from exc
    if status == "error":
        raise value
    return value


def server_pid(path: Path | None = None) -> int | None:
    """The pid of the server answering at `path` (this machine's by default), or None when none answers."""
    try:
        sock = _connect(path or socket_path(), 1.0)
    except (OSError, WorkerGone):
        return None
    with sock:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[0]


class _Server:
    def __init__(self, path: Path, idle_s: float):
        self.path = path
        self.idle_s = idle_s
        self.ready = threading.Event()  # GX imported and warm
        self.gx = threading.Lock()  # one suite at a time
        self.state = threading.Lock()
        self.busy = 0
        self.last = time.monotonic()

    def handle(self, conn: socket.socket) -> None:
        with self.state:
            self.busy += 1
        try:
            with conn, conn.makefile("rb") as requests, conn.makefile("wb") as answers:
                conn.settimeout(SUITE_WAIT_S)
                try:
                    suite, data, day = _receive(requests)
                except (OSError, EOFError, pickle.PickleError, struct.error):
                    return
                self.ready.wait()
                with self.gx:
                    reply = evaluate(suite, data, day)
                with contextlib.suppress(OSError):
                    _send(answers, reply)
        finally:
            with self.state:
                self.busy -= 1
                self.last = time.monotonic()

    def idle(self) -> bool:
        with self.state:
            return self.busy == 0 and time.monotonic() - self.last >= self.idle_s


def serve(path: Path, idle_s: float) -> None:
    """Bind `path` (unless another server holds its lock), import GX, answer requests until idle for `idle_s`."""
    lock = os.open(path.with_suffix(".lock"), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os._exit(0)  # another server has this name
    with contextlib.suppress(OSError):
        os.ftruncate(sys.stderr.fileno(), 0)  # the log holds this server's lifetime only
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # a server killed before it could remove its socket
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(64)
    listener.settimeout(1.0)
    server = _Server(path, idle_s)

    def accept() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                if server.ready.is_set() and server.idle():
                    # Remove the name first, so a new caller starts a new server rather than reaching this one.
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                    listener.close()
                    while not server.idle():  # a connection accepted before the unlink is still answered
                        time.sleep(0.1)
                    sys.stderr.flush()
                    os._exit(0)  # nothing to unwind: skip unloading GX's modules
                continue
            conn.setblocking(True)
            threading.Thread(target=server.handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, name="suite-server-accept", daemon=True).start()
    sys.stdout = sys.stderr  # GX may print; the log file takes it
    from spotify_ai_assets.core.quality import runner

    runner.warm_up()
    with server.state:
        server.last = time.monotonic()
    server.ready.set()
    threading.Event().wait()  # the accept thread ends the process


if __name__ == "__main__":
    serve(Path(sys.argv[1]), float(sys.argv[2]))
