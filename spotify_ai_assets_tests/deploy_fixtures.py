"""Shared by the deployment tests: a fresh PostgreSQL database per test, a DAGSTER_HOME holding a given instance
config, and server processes (daemon, webserver, Celery workers) started and stopped by the test itself."""

from __future__ import annotations

import configparser
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.observability.audit import AUDIT_TABLE
from spotify_ai_assets_tests.conftest import require_service

REPO = Path(__file__).resolve().parents[1]
PROD_INSTANCE = REPO / "deploy" / "dagster.prod.yaml"
CELERY_WORKER_CONFIG = REPO / "deploy" / "celery.yaml"  # what the README starts Celery workers with
T = TypeVar("T")


@pytest.fixture
def pg_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A new, empty database on the local PostgreSQL for this test (dropped afterwards), as DAGSTER_PG_* variables,
    also set in this process so the instance config resolves them."""
    require_service("127.0.0.1", 5432, "PostgreSQL")
    import psycopg2

    name = f"spotify_ai_dagster_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_DB": name,
           "DAGSTER_PG_USERNAME": "postgres", "DAGSTER_PG_PASSWORD": ""}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        yield env
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@contextlib.contextmanager
def pgbouncer(workdir: Path, pg_host: str = "127.0.0.1", pg_port: int = 5432) -> Iterator[int]:
    """PgBouncer as deploy/pgbouncer.ini configures it (session pooling), in front of the local PostgreSQL, with
    this machine's trust authentication; yields its port. Started as the `postgres` user when run as root (PgBouncer
    refuses root)."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        raise FileNotFoundError("pgbouncer is not installed (Debian package pgbouncer; .ci/run installs it)")
    port = free_port()
    config = configparser.ConfigParser()
    config.read(REPO / "deploy" / "pgbouncer.ini")
    config["databases"]["*"] = f"host={pg_host} port={pg_port}"
    config["pgbouncer"].update({"listen_addr": "127.0.0.1", "listen_port": str(port), "auth_type": "trust",
                                "auth_file": str(workdir / "users.txt"), "unix_socket_dir": ""})
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "users.txt").write_text('"postgres" ""\n')
    with (workdir / "pgbouncer.ini").open("w") as handle:
        config.write(handle)
    args = [binary, str(workdir / "pgbouncer.ini")]
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam("postgres")
        for path in (workdir, workdir / "users.txt", workdir / "pgbouncer.ini"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        args += ["-u", "postgres"]
    proc = start(args, {}, workdir / "pgbouncer.log", cwd=workdir)
    try:
        wait_for(lambda: _accepts(port), 20, "PgBouncer to listen", proc, workdir / "pgbouncer.log", interval=0.1)
        yield port
    finally:
        stop(proc)


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def dagster_home(path: Path, config: Path | None = None, extra: str = "") -> Path:
    """A DAGSTER_HOME whose dagster.yaml is `config` (default: the production instance) plus `extra` lines."""
    path.mkdir(parents=True, exist_ok=True)
    text = (config or PROD_INSTANCE).read_text()
    (path / "dagster.yaml").write_text(text + ("\n" + extra if extra else ""))
    return path


def migrate(env: Mapping[str, str]) -> None:
    """Create the instance's tables once before any process starts, as the README's deployment does (the platform's
    entry point: `dagster instance migrate` under a lock): processes that meet an empty database at the same moment
    would all try to create them."""
    done = subprocess.run([cli("python"), "-m", "spotify_ai_assets.instance", "migrate"], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def workspace(path: Path, *modules: str) -> Path:
    lines = ["load_from:"]
    for module in modules:
        lines += ["  - python_module:", f"      module_name: {module}", f"      working_directory: {REPO}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], env: Mapping[str, str], log: Path, cwd: Path = REPO) -> subprocess.Popen[bytes]:
    """A server process in its own session, so `stop` can end it together with the processes it started."""
    out = log.open("wb")
    return subprocess.Popen(args, env={**os.environ, **env}, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def wait_for(condition: Callable[[], T | None], timeout: float, what: str, proc: subprocess.Popen[bytes] | None = None,
             log: Path | None = None, interval: float = 1.0) -> T:
    """Poll until `condition()` returns something truthy; fail naming `what` (and the server's log tail)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    pytest.fail(f"gave up waiting for {what} after {timeout:.0f} s" + (f"; log tail:\n{tail}" if tail else ""))


def cli(name: str) -> str:
    """A console script of this virtualenv (tests may run without the venv's bin on PATH)."""
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else shutil.which(name) or name


def lake_files(lake: Lake) -> list[str]:
    """Every file under the lake root, relative to it (tables, quarantine, reports)."""
    base = lake.root[len("s3://"):] if lake.root.startswith("s3://") else lake.root
    infos = lake.fs.get_file_info(pafs.FileSelector(base, recursive=True))
    return sorted(i.path[len(base) + 1:] for i in infos if i.type == pafs.FileType.File)


def _sorted(table: pa.Table) -> pa.Table:
    # Row order is not part of a table's contract; its content is.
    return table.sort_by([(c, "ascending") for c in table.column_names
                          if not pa.types.is_nested(table.schema.field(c).type)])


def _audited_assets(lake: Lake) -> list[str]:
    return sorted(a for k in lake.partitions(AUDIT_TABLE) for a in lake.read(AUDIT_TABLE, k)["asset"].to_pylist())


def assert_same_lake(mine: Lake, theirs: Lake, day: str) -> None:
    """Both lakes hold the same files; the day's tables are equal row for row, every other file byte for byte.
    Audit records are keyed by their run id, which differs between two runs by design: both lakes must have audited
    the same assets."""
    audit = f"{AUDIT_TABLE}/"
    files = [f for f in lake_files(mine) if not f.startswith(audit)]
    assert files == [f for f in lake_files(theirs) if not f.startswith(audit)]
    assert _audited_assets(mine) == _audited_assets(theirs) != []
    tables = [f.rsplit("/", 2)[0] for f in files if f.endswith(f"/date={day}/part-0.parquet")]
    assert {"listening_events", "daily_track_country_stats", "track_trends", "artist_trends"} <= set(tables)
    for table in tables:
        a, b = mine.read(table, day), theirs.read(table, day)
        assert a.schema == b.schema, table
        assert _sorted(a).equals(_sorted(b)), f"{table} differs between {mine.root} and {theirs.root}"
    blobs = [f for f in files if not f.endswith(".parquet")]
    assert any(f.endswith("report.html") for f in blobs)
    for blob in blobs:
        table, partition, name = blob.rsplit("/", 2)
        key = partition.split("=", 1)[1]
        assert mine.read_file(table, name, key) == theirs.read_file(table, name, key), blob
