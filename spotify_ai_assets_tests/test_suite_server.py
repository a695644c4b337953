"""core/quality/suite_server.py: one GX suite server per machine, shared by every process, bounded everywhere.

Each test uses its own socket in a private temporary directory, so it never stops the server the rest of the session
shares."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from spotify_ai_assets.core.quality import suite_server, worker
from spotify_ai_assets.core.quality.runner import run_suite
from spotify_ai_assets.core.quality.suites import LISTENING_EVENTS
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import day_events

DAY = EPOCH + dt.timedelta(days=4)
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def events() -> pa.Table:
    day = day_events(World(seed=7, scale="tiny"), DAY)
    return day.append_column("source", pa.array(["export"] * day.num_rows))


@pytest.fixture
def sock() -> Iterator[Path]:
    # A short path: a Unix socket's name is limited to 107 bytes, more than pytest's tmp_path may leave.
    directory = Path(tempfile.mkdtemp(prefix="ss"))
    path = directory / "suites.sock"
    yield path
    pid = suite_server.server_pid(path)
    if pid:
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)


def _gone(pid: int) -> bool:
    """Exited: no process, or a zombie its parent (this test process, which started it) has not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _wait_for(predicate, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_the_server_answers_what_the_step_would_and_raises_what_it_would(events: pa.Table, sock: Path) -> None:
    broken = events.set_column(events.schema.get_field_index("track_id"), "track_id",
                               pa.array(["not-a-spotify-id"] * events.num_rows))
    assert suite_server.client_run(LISTENING_EVENTS, broken, DAY, idle_s=60, path=sock) == run_suite(
        LISTENING_EVENTS, broken, DAY)
    with pytest.raises(ValueError, match="missing"):
        suite_server.client_run(LISTENING_EVENTS, events.drop_columns(["track_id"]), DAY, idle_s=60, path=sock)


def test_every_process_shares_one_server_and_racing_starts_leave_one(events: pa.Table, sock: Path) -> None:
    """Four callers that find no server start one each at the same moment: one binds, every caller is answered by
    it, and a caller in another process later reaches the same server."""
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(lambda _: suite_server.client_run(LISTENING_EVENTS, events, DAY, idle_s=60,
                                                                   path=sock), range(4)))
    assert all(o == outcomes[0] and o.success for o in outcomes)
    pid = suite_server.server_pid(sock)
    assert pid is not None
    script = ("import sys; from pathlib import Path; from spotify_ai_assets.core.quality import suite_server; "
              "print(suite_server.server_pid(Path(sys.argv[1])))")
    other = subprocess.run([sys.executable, "-c", script, str(sock)], capture_output=True, text=True, cwd=REPO,
                           timeout=60, check=True)
    assert int(other.stdout) == pid
    servers = subprocess.run(["pgrep", "-f", f"suite_server {sock}"], capture_output=True, text=True, timeout=10)
    assert servers.stdout.split() == [str(pid)]


def test_an_idle_server_exits_and_the_next_suite_starts_another(events: pa.Table, sock: Path) -> None:
    assert suite_server.client_run(LISTENING_EVENTS, events, DAY, idle_s=1, path=sock).success
    first = suite_server.server_pid(sock)
    assert first is not None
    assert _wait_for(lambda: not sock.exists() and _gone(first)), "the idle server stayed up"
    assert suite_server.client_run(LISTENING_EVENTS, events, DAY, idle_s=1, path=sock).success
    second = suite_server.server_pid(sock)
    assert second is not None and second != first


def test_a_silent_server_costs_a_bounded_wait_and_the_suite_runs_here(events: pa.Table, sock: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    suite_server.warm(60, path=sock)
    assert _wait_for(lambda: suite_server.server_pid(sock) is not None)
    pid = suite_server.server_pid(sock)
    os.kill(pid, signal.SIGSTOP)  # alive but silent, as a hung server would be
    try:
        with pytest.raises(worker.WorkerGone, match=r"did not answer within 0\.5 s"):
            suite_server.client_run(LISTENING_EVENTS, events, DAY, idle_s=60, wait_s=0.5, path=sock)
        # Through worker.run_suite (what a step calls): a warning, and the suite's outcome from this process.
        monkeypatch.setattr(suite_server, "socket_path", lambda: sock)
        monkeypatch.setattr(suite_server, "SUITE_WAIT_S", 0.5)
        monkeypatch.setattr(worker, "_server_idle_s", 60.0)
        monkeypatch.setattr(suite_server.client_run, "__defaults__", (0.5, None))
        with pytest.warns(RuntimeWarning, match="suite server"):
            assert worker.run_suite(LISTENING_EVENTS, events, DAY) == run_suite(LISTENING_EVENTS, events, DAY)
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_dead_server_leaves_a_stale_socket_that_the_next_start_replaces(events: pa.Table, sock: Path) -> None:
    assert suite_server.client_run(LISTENING_EVENTS, events, DAY, idle_s=60, path=sock).success
    pid = suite_server.server_pid(sock)
    os.kill(pid, signal.SIGKILL)  # no chance to remove its socket
    # Gone once its socket refuses (its threads hold the socket a little after the process shows as a zombie; a suite
    # sent meanwhile gets WorkerGone and runs in the step).
    assert _wait_for(lambda: suite_server.server_pid(sock) is None)
    assert sock.exists()
    assert suite_server.client_run(LISTENING_EVENTS, events, DAY, idle_s=60, path=sock).success
    assert suite_server.server_pid(sock) not in (None, pid)


def test_the_socket_directory_must_be_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The server unpickles what it is sent: a directory others can enter is refused, and the step runs its suite
    itself."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"spotify_ai-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    with pytest.raises(worker.WorkerGone, match="not a directory private to this user"):
        suite_server.private_dir()
    shared.chmod(0o700)
    assert suite_server.private_dir() == shared


def test_the_server_name_follows_the_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """New code gets a new server, so no suite is evaluated by a server still running the code before a deploy."""
    before = suite_server.code_key()
    suite_server.code_key.cache_clear()
    monkeypatch.setattr(suite_server.sys, "executable", sys.executable + "-other")
    try:
        assert suite_server.code_key() != before
    finally:
        monkeypatch.undo()
        suite_server.code_key.cache_clear()
    assert suite_server.code_key() == before


def test_the_definitions_choose_the_server_from_the_environment(sandbox_environ: dict[str, str]) -> None:
    """SPOTIFY_AI_SUITE_SERVER_IDLE_S, read when the definitions load: on by default (120 s), 0 turns it off (each run
    imports GX itself, as before the server), and a value out of range is refused with the variable named."""
    from spotify_ai_assets.definitions import build_defs
    from spotify_ai_assets.settings import SettingsError

    before = worker.suite_server_idle_s()
    try:
        build_defs(sandbox_environ)
        assert worker.suite_server_idle_s() == 120.0
        build_defs({**sandbox_environ, "SPOTIFY_AI_SUITE_SERVER_IDLE_S": "0"})
        assert worker.suite_server_idle_s() is None
        with pytest.raises(SettingsError, match="SPOTIFY_AI_SUITE_SERVER_IDLE_S=-1"):
            build_defs({**sandbox_environ, "SPOTIFY_AI_SUITE_SERVER_IDLE_S": "-1"})
    finally:
        worker.use_suite_server(before or 0)
