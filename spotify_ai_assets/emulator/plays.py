"""Users' play history as the recently-played endpoint sees it, generated from the world per (user, day)."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np

from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.sandbox.events import user_plays
from spotify_ai_assets.sandbox.world import World

# The 2026 development-mode API shows only a user's 50 latest plays, whatever the cursors say.
DEV_MODE_VISIBLE_PLAYS = 50
# Extended mode pages through the clock's day and this many days before it.
LOOKBACK_DAYS = 1


class PlayHistory:
    def __init__(self, world: World, catalog: Catalog):
        self.world = world
        self.catalog = catalog
        self._lock = threading.Lock()
        self._days: dict[tuple[int, dt.date], tuple[np.ndarray, np.ndarray]] = {}

    def _day(self, user: int, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """(played_at ms, track index) of one user-day, oldest first. Generating a day is the slow part,
        so it happens under the lock: concurrent requests wait instead of generating it twice."""
        key = (user, day)
        with self._lock:
            if key not in self._days:
                table = user_plays(self.world, day, user)
                played = table["played_at"].cast("int64").to_numpy()
                index = self.catalog.track_index
                tracks = np.array([index[t] for t in table["track_id"].to_pylist()], dtype=np.int64)
                order = np.argsort(played, kind="stable")
                self._days[key] = (played[order], tracks[order])
            return self._days[key]

    def visible(self, user: int, clock: dt.datetime, extended: bool) -> tuple[np.ndarray, np.ndarray]:
        """Plays the API can show at `clock`, newest first."""
        clock_ms = int(clock.timestamp() * 1000)
        days = [clock.date() - dt.timedelta(days=k) for k in range(LOOKBACK_DAYS, -1, -1)]
        parts = [self._day(user, d) for d in days]
        played = np.concatenate([p for p, _ in parts])
        tracks = np.concatenate([t for _, t in parts])
        keep = played < clock_ms
        played, tracks = played[keep][::-1], tracks[keep][::-1]
        if not extended:
            played, tracks = played[:DEV_MODE_VISIBLE_PLAYS], tracks[:DEV_MODE_VISIBLE_PLAYS]
        return played, tracks


def select(played: np.ndarray, limit: int, after: int | None, before: int | None) -> np.ndarray:
    """Positions (into newest-first `played`) of the page to return, newest first.

    `before=X`: the `limit` newest plays strictly older than X. `after=X`: the `limit` plays strictly
    newer than X that are closest to X, so paging forward with `cursors.after` never skips a play.
    """
    positions = np.arange(len(played))
    if before is not None:
        return positions[played < before][:limit]
    if after is not None:
        newer = positions[played > after]
        return newer[-limit:]
    return positions[:limit]
