"""Connected users' recently-played plays of one day: the `recently_played` captures, which `listening_events`
merges with the export files.

Each user is read from where this partition's earlier captures end (Spotify shows only the latest plays; 50 for a
development-mode app), and only plays inside the day become rows. A user whose requests fail after the retries is
quarantined with the reason and the others land; a user whose refresh token expires meanwhile is reported for
reconnection. Messages and quarantine references name users by label (a pseudonym), never by Spotify user id.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from spotify_ai_assets.core.ingestion.listening_events import recent_table
from spotify_ai_assets.core.kernel.records import Quarantined, parse_play, validate
from spotify_ai_assets.core.kernel.spotify_api import (
    RefreshTokenExpired,
    RunWideFailure,
    Session,
    SpotifyApiError,
    SpotifyGateway,
)

TABLE = "recently_played"
# The columns a capture keeps: what recently-played tells of a play (no ms_played, skip flag or device).
CAPTURE_COLUMNS = ["user_id", "track_id", "artist_id", "played_at", "country"]


@dataclass
class RecentPlays:
    rows: list[dict] = field(default_factory=list)  # user_id, track_id, artist_id, played_at, country
    quarantine: list[Quarantined] = field(default_factory=list)
    advances: dict[str, int] = field(default_factory=dict)  # user id -> newest captured play (ms)
    failed: dict[str, str] = field(default_factory=dict)  # user label -> reason
    expired: list[str] = field(default_factory=list)  # user ids whose refresh token expired during the run
    notes: list[str] = field(default_factory=list)


def day_bounds_ms(day: dt.date) -> tuple[int, int]:
    start = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)
    return start, start + 86_400_000


def captured_until(rows: Iterable[Mapping]) -> dict[str, int]:
    """User id -> the newest play (ms) among this partition's captures: the next read starts after it.

    Each partition resumes from its own captures, not from the user's global cursor, so a backfill that runs a later
    day first does not hide an earlier day's plays."""
    until: dict[str, int] = {}
    for row in rows:
        ms = int(row["played_at"].timestamp() * 1000)
        until[row["user_id"]] = max(until.get(row["user_id"], 0), ms)
    return until


def merge_captures(previous: Iterable[Mapping], new: Iterable[Mapping]) -> pa.Table:
    """The partition's captures after this run: every earlier capture is kept (Spotify only ever shows the latest
    plays, so an earlier run's may be gone from the API) plus the new ones, one row per play
    (user_id, track_id, played_at), in play order, with the event id `listening_events` gives them."""
    plays: dict[tuple, dict] = {}
    for row in [*previous, *new]:
        plays.setdefault((row["user_id"], row["track_id"], row["played_at"]),
                         {c: row.get(c) for c in CAPTURE_COLUMNS})
    ordered = [plays[k] for k in sorted(plays, key=lambda k: (k[2], k[0], k[1]))]
    return recent_table(ordered)


def collect_recent_plays(gw: SpotifyGateway, sessions: Mapping[str, Session], day: dt.date,
                         captured_until: Mapping[str, int], name_user: Callable[[str], str]) -> RecentPlays:
    out = RecentPlays()
    start, end = day_bounds_ms(day)
    for uid, session in sessions.items():
        label = name_user(uid)
        try:
            profile = gw.me(session)
            items = gw.recently_played(session, after_ms=max(start - 1, captured_until.get(uid, 0)))
        except RefreshTokenExpired:
            out.expired.append(uid)
            continue
        except RunWideFailure:
            raise
        except SpotifyApiError as exc:
            out.failed[label] = str(exc)
            out.quarantine.append(Quarantined.of(TABLE, f"recently-played {label}", "<request>", str(exc),
                                                 {"user_id": uid}))
            continue
        spotify_id = profile.get("id") if isinstance(profile, dict) else None
        if isinstance(spotify_id, str) and spotify_id != uid:
            # The token store must be keyed by the Spotify user id: the plays are the profile's.
            out.notes.append(f"{label}: the token store key is not the Spotify user id /me answers "
                             f"({name_user(spotify_id)}); plays are recorded under the latter")
        user_id = spotify_id if isinstance(spotify_id, str) else uid
        country = profile.get("country") if isinstance(profile, dict) else None  # absent for development mode
        newest = None
        for n, raw in enumerate(items):
            play = validate(TABLE, f"recently-played {label} item #{n}", raw, parse_play, quarantine=out.quarantine)
            if play is None:
                continue
            ms = int(play["played_at"].timestamp() * 1000)
            if start <= ms < end:
                out.rows.append({"user_id": user_id, "country": country if isinstance(country, str) else None,
                                 **play})
                newest = ms if newest is None else max(newest, ms)
        if newest is not None:
            out.advances[uid] = newest
    return out
