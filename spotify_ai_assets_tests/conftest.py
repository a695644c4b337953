"""Shared fixtures: a tiny sandbox world, the Spotify emulator on loopback, and real local services."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from spotify_ai_assets.core.kernel.spotify_api import RetryPolicy, SpotifyGateway
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.sandbox.world import World
from spotify_ai_assets_tests.interrupt_signals import restore_interrupt_signals

DAY = dt.date(2026, 1, 14)
CLOCK = dt.datetime(2026, 1, 14, 23, 59, 59, tzinfo=dt.UTC)
POSTGRES_DSN = os.environ.get("SPOTIFY_AI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


_OWN_NUMBA_CACHE = "SPOTIFY_AI_TEST_NUMBA_CACHE"


def pytest_configure(config: pytest.Config) -> None:
    """A persistent numba cache (librosa's JIT functions compile once per machine, not per run), one per pytest-xdist
    worker, unless the environment names its own. With one cache shared by the workers, a worker died in librosa's
    peak_pick loading gufunc cache files another had just written (numba issue 10128; core/audio/compile_lock.py
    serialises our own warm-up, not every compile of a new signature). numba reads the variable when it is first
    imported, which no test has done yet; the workers inherit the controller's environment, hence the marker. Also
    SIGINT and SIGTERM as a foreground start leaves them, however pytest was started."""
    restore_interrupt_signals()  # before any test runs Dagster in-process (interrupt_signals.py says why)
    if os.environ.get("NUMBA_CACHE_DIR") and not os.environ.get(_OWN_NUMBA_CACHE):
        return
    worker = getattr(config, "workerinput", {}).get("workerid", "main")
    os.environ["NUMBA_CACHE_DIR"] = os.path.join(tempfile.gettempdir(), f"spotify_ai_numba_cache_{worker}")
    os.environ[_OWN_NUMBA_CACHE] = "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The tests' runs sent their suites to the machine's suite server for this code (core/quality/suite_server.py),
    which would stay up 2 minutes more: stop it with the session (the controller's end, after every worker's)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    from spotify_ai_assets.core.quality import suite_server

    with contextlib.suppress(Exception):
        pid = suite_server.server_pid()
        if pid:
            os.kill(pid, signal.SIGTERM)


def end_process(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it is still there after `timeout` (a clean CI run once saw the emulator CLI outlive
    SIGTERM by 10 s under load): every wait bounded, and a warning with what /proc said about the process then
    (state, blocked, ignored and pending signals) so the cause can be found."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    status = ""
    with contextlib.suppress(OSError):
        status = "; ".join(line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                           if line.startswith(("State", "SigBlk", "SigIgn", "SigPnd", "ShdPnd")))
    proc.kill()
    proc.wait(timeout=timeout)
    warnings.warn(f"pid {proc.pid} {proc.args!r} outlived SIGTERM by {timeout:g} s; killed ({status})",
                  RuntimeWarning, stacklevel=2)


def require_service(host: str, port: int, name: str) -> None:
    """Under CI an unreachable service fails the test; on a laptop without it, the test is skipped."""
    try:
        with socket.create_connection((host, port), timeout=2):
            return
    except OSError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} at {host}:{port} is unreachable under CI=true: {exc}")
        pytest.skip(f"{name} at {host}:{port} is not running")


@pytest.fixture(scope="session")
def world() -> World:
    return World(seed=7, scale="tiny")


@pytest.fixture
def emulator(world: World) -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator(world, clock=CLOCK) as emu:
        yield emu


class SleepRecorder:
    """Stands in for time.sleep so retry waits are observed, not spent."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def gateway(emulator: SpotifyEmulator, sleeps: SleepRecorder) -> SpotifyGateway:
    return SpotifyGateway(api_url=emulator.api_url, accounts_url=emulator.accounts_url, client_id="sandbox-client",
                          client_secret="sandbox-secret", timeout_s=2.0,
                          policy=RetryPolicy(max_retry_after_s=30, max_attempts=4), sleep=sleeps)


@pytest.fixture
def sandbox_environ(tmp_path: Path) -> dict[str, str]:
    """A local-environment contract rooted in a temporary folder."""
    return {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path / "home"), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}


@pytest.fixture
def postgres_dsn() -> str:
    require_service("127.0.0.1", 5432, "PostgreSQL")
    return POSTGRES_DSN
