"""Users' play history as the recently-played endpoint sees it, generated from the world a day at a time."""

from __future__ import annotations

import datetime as dt
import threading

import numpy as np

from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.sandbox.events import generate_day
from spotify_ai_assets.sandbox.world import World

# The 2026 development-mode API shows only a user's 50 latest plays, whatever the cursors say.
DEV_MODE_VISIBLE_PLAYS = 50
# Extended mode pages through the clock's day and this many days before it.
LOOKBACK_DAYS = 1


# Days of plays kept per emulator: the clock's day and the one before, plus a backfill's next day or two.
DAYS_KEPT = 4


class DayPlays:
    """Every user's plays of one day, grouped by user: (played_at ms, track index) each, oldest first.

    Generating a day means generating all of the world's events of that day (a million or more at scale medium),
    so it is done once for all users, not once per user asked (a day's recently-played requests for 16 connected
    users took 7 s at scale medium). Within a user the rows keep their generation order, which is played_at
    order (each hour's plays are generated sorted), as `user_plays` gives them."""

    def __init__(self, world: World, day: dt.date):
        users, played, tracks = [], [], []
        for _, table in generate_day(world, day):
            # Dictionary indices are the world's user and track indices (the catalog's for a world track).
            users.append(table.column("user_id").combine_chunks().indices.to_numpy())
            played.append(table.column("played_at").combine_chunks().to_numpy().view(np.int64))
            tracks.append(table.column("track_id").combine_chunks().indices.to_numpy())
        user = np.concatenate(users)  # generate_day always yields its 24 hours, empty or not
        order = np.argsort(user, kind="stable")
        self.played = np.concatenate(played)[order]
        self.tracks = np.concatenate(tracks)[order].astype(np.int64)
        self.bounds = np.searchsorted(user[order], np.arange(len(world.user_ids) + 1))

    def of(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        start, stop = self.bounds[user], self.bounds[user + 1]
        return self.played[start:stop], self.tracks[start:stop]


class PlayHistory:
    def __init__(self, world: World, catalog: Catalog):
        self.world = world
        self.catalog = catalog
        self._lock = threading.Lock()
        self._days: dict[dt.date, DayPlays] = {}

    def _day(self, user: int, day: dt.date) -> tuple[np.ndarray, np.ndarray]:
        """(played_at ms, track index) of one user-day, oldest first. Generating a day is the slow part, so it
        happens under the lock: concurrent requests wait instead of generating it twice."""
        with self._lock:
            plays = self._days.get(day)
            if plays is None:
                plays = self._days[day] = DayPlays(self.world, day)
                while len(self._days) > DAYS_KEPT:  # the day generated first goes first
                    del self._days[next(iter(self._days))]
            return plays.of(user)

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
