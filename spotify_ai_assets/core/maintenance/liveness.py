"""Is a run's worker still alive? Every run worker stamps the run with a heartbeat (run tag, see
lib/executors.py); a run whose heartbeat is older than the limit has no process left to finish it (killed
with SIGKILL, OOM-killed, its machine gone) and is marked failed, so the pool slots its steps hold are freed.

Dagster's own run monitoring (dagster.yaml `run_monitoring`) covers runs stuck starting or cancelling and frees the
slots of ended runs, but cannot tell that the worker of a started run died when runs are launched by the default
run launcher or the CLI: the heartbeat is that signal, and it works wherever the worker runs.
"""

from __future__ import annotations

import datetime as dt

HEARTBEAT_TAG = "spotify_ai/heartbeat"


def stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


def heartbeat_age(tag_value: str | None, now: dt.datetime) -> float | None:
    """Seconds since the run's last heartbeat; None when it has none (a run from before heartbeats, or an
    in-process test run): such a run is never judged."""
    if not tag_value:
        return None
    try:
        beat = dt.datetime.fromisoformat(tag_value)
    except ValueError:
        return None
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=dt.UTC)
    return (now - beat).total_seconds()


def is_dead(tag_value: str | None, now: dt.datetime, dead_after_s: float) -> bool:
    age = heartbeat_age(tag_value, now)
    return age is not None and age > dead_after_s
