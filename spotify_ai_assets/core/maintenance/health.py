"""Health probes: each returns a Probe (passed, what it saw), never raises, so one dead target does not hide the
state of the others."""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from spotify_ai_assets.core.maintenance.storage import ObjectStore

if TYPE_CHECKING:  # the lake imports pyarrow, which loading the definitions (freshness rules) does not need
    from spotify_ai_assets.core.kernel.lake import Lake


@dataclass(frozen=True)
class Probe:
    name: str
    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def _guard(name: str, fn: Callable[[], Probe]) -> Probe:
    try:
        return fn()
    except Exception as exc:  # a probe reports, it does not crash the health run
        return Probe(name, False, f"{type(exc).__name__}: {exc}"[:500])


def spotify_api(gateway: object) -> Probe:
    """A client-credentials token and one search call: proves the API answers and the app's credentials work."""
    def run() -> Probe:
        result = gateway.search("a", "artist", limit=1)  # type: ignore[attr-defined]
        return Probe("spotify_api", True, "token granted and search answered",
                     {"api_url": gateway.api_url, "artists_total": (result.get("artists") or {}).get("total", 0)})  # type: ignore[attr-defined]
    return _guard("spotify_api", run)


def lake_read_write(lake: Lake) -> Probe:
    from spotify_ai_assets.core.maintenance import lakefiles  # pyarrow: not needed to load the definitions

    def run() -> Probe:
        path = f"{lakefiles.HEALTH_PREFIX}probe-{uuid.uuid4().hex}"
        payload = uuid.uuid4().bytes
        lakefiles.write_bytes(lake, path, payload)
        try:
            back = lakefiles.read_bytes(lake, path)
        finally:
            lakefiles.delete(lake, path)
        ok = back == payload
        return Probe("lake_read_write", ok, "wrote, read back and deleted a probe file" if ok else
                     "the probe file read back differently", {"lake": lake.root})
    return _guard("lake_read_write", run)


def backup_target(store: ObjectStore) -> Probe:
    def run() -> Probe:
        key = f"_health/probe-{uuid.uuid4().hex}"
        payload = uuid.uuid4().bytes
        store.put(key, payload)
        try:
            back = store.get(key)
        finally:
            store.delete(key)
        ok = back == payload
        return Probe("backup_target", ok, "wrote, read back and deleted a probe object" if ok else
                     "the probe object read back differently", {"target": store.url})
    return _guard("backup_target", run)


def disk_space(path: str | Path, min_free_gib: float) -> Probe:
    def run() -> Probe:
        p = Path(path)
        while not p.exists() and p != p.parent:  # the home may not exist yet: measure the filesystem it will be on
            p = p.parent
        free = shutil.disk_usage(p).free / 2**30
        ok = free >= min_free_gib
        return Probe("disk_space", ok, f"{free:.1f} GiB free at {p} (threshold {min_free_gib} GiB)",
                     {"free_gib": round(free, 2), "threshold_gib": min_free_gib, "path": str(p)})
    return _guard("disk_space", run)


@dataclass(frozen=True)
class DailyDeadline:
    """A daily asset is late when its newest materialization is older than (the last deadline - lower bound).
    Mirrors `FreshnessPolicy.cron(f"0 {hour} * * *", lower_bound_delta=...)` so the check and the policy agree."""

    hour_utc: int = 6
    lower_bound: dt.timedelta = dt.timedelta(hours=24)

    @property
    def cron(self) -> str:
        return f"0 {self.hour_utc} * * *"

    def last_deadline(self, now: dt.datetime) -> dt.datetime:
        today = now.astimezone(dt.UTC).replace(hour=self.hour_utc, minute=0, second=0, microsecond=0)
        return today if today <= now else today - dt.timedelta(days=1)

    def is_late(self, last_materialized: dt.datetime | None, now: dt.datetime) -> bool:
        return last_materialized is None or last_materialized < self.last_deadline(now) - self.lower_bound


@dataclass(frozen=True)
class TimeWindow:
    """Mirrors `FreshnessPolicy.time_window(fail_window=...)`: late when the newest materialization is older."""

    fail_window: dt.timedelta

    def is_late(self, last_materialized: dt.datetime | None, now: dt.datetime) -> bool:
        return last_materialized is None or last_materialized < now - self.fail_window


def daily_deadline_from_cron(cron: str, lower_bound: dt.timedelta) -> DailyDeadline | None:
    """`M H * * *` (UTC) as a DailyDeadline; other schedules are not daily deadlines."""
    parts = cron.split()
    if len(parts) == 5 and parts[2:] == ["*", "*", "*"] and parts[1].isdigit() and 0 <= int(parts[1]) < 24:
        return DailyDeadline(int(parts[1]), lower_bound)
    return None
