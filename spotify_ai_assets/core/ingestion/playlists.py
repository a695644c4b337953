"""Snapshots of tracked playlists: one row per (playlist, position) with the playlist's `snapshot_id`.

The 2026 API lets only a playlist's owner or a collaborator read its items (development-mode apps: always;
the spec: for every app), so each playlist is read by someone who can see it: its owner when they are a connected
user, else a connected user who collaborates on it (or otherwise lists it), and only then the app itself (an
extended-quota app may read public playlists). Who can see what comes from each connected user's `/me/playlists`
(the `playlist-read-private` and `playlist-read-collaborative` scopes). A playlist nobody can read is reported
with the reason; one that fails for another reason (5xx after the retries) is quarantined; the rest land.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pyarrow as pa

from spotify_ai_assets.core.kernel.records import Quarantined, parse_playlist_item, quarantine_table, validate
from spotify_ai_assets.core.kernel.spotify_api import (
    Forbidden,
    NotFound,
    RefreshTokenExpired,
    RunWideFailure,
    Session,
    SpotifyApiError,
    SpotifyGateway,
)

PLAYLIST_ROWS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("playlist_id", pa.string()), ("snapshot_id", pa.string()),
    ("playlist_name", pa.string()), ("owner_id", pa.string()), ("position", pa.int64()),
    ("track_id", pa.string()), ("added_at", pa.timestamp("ms", tz="UTC")), ("added_by", pa.string()),
])
EDITORIAL_OWNER = "spotify"


@dataclass
class Listing:
    """A tracked playlist as a connected user's `/me/playlists` shows it."""

    owner: str | None
    collaborative: bool


@dataclass
class PlaylistSnapshot:
    rows: pa.Table
    quarantine: pa.Table
    read_as: dict[str, str] = field(default_factory=dict)  # playlist id -> "owner <who>" / "collaborator <who>" / app
    unreadable: dict[str, str] = field(default_factory=dict)  # playlist id -> why nobody could read it
    listing_errors: dict[str, str] = field(default_factory=dict)  # user label -> why their playlists were not listed
    expired: list[str] = field(default_factory=list)  # user ids whose refresh token expired meanwhile


def snapshot_playlists(
    gw: SpotifyGateway,
    playlist_ids: list[str],
    snapshot_date: dt.date,
    users: Mapping[str, Session],
    name_user: Callable[[str], str],
) -> PlaylistSnapshot:
    """`users` maps connected users' Spotify ids to their sessions; `name_user` turns a user id into what messages
    may say (a pseudonym)."""
    tracked = list(dict.fromkeys(playlist_ids))
    out = PlaylistSnapshot(pa.Table.from_pylist([], schema=PLAYLIST_ROWS_SCHEMA), quarantine_table([]))
    live = dict(users)
    listings = _listings(gw, set(tracked), live, name_user, out)
    rows: list[dict] = []
    bad: list[Quarantined] = []
    for pid in tracked:
        seen = listings.get(pid, {})
        owners = {x.owner for x in seen.values() if x.owner}
        readers = _readers(seen, owners, live)
        attempts: list[str] = []
        failure: str | None = None
        read = None
        k = 0
        while k < len(readers) and read is None:
            who, session = readers[k]
            k += 1
            try:
                meta = gw.playlist(pid, session)
                owner = _owner_of(meta)
                if owner:
                    owners.add(owner)
                    # The owner is connected but their listing did not show it (or failed): ask them next.
                    if owner in live and ("owner", owner) not in [r for r, _ in readers]:
                        readers.insert(k, (("owner", owner), live[owner]))
                read = (who, meta, list(gw.playlist_items(pid, session)))
            except (Forbidden, NotFound) as exc:
                attempts.append(f"{_who(who, name_user)}: {exc}")
            except RefreshTokenExpired:
                uid = who[1]
                if uid is not None:
                    out.expired.append(uid)
                    live.pop(uid, None)
                attempts.append(f"{_who(who, name_user)}: refresh token expired, the user must reconnect")
            except RunWideFailure:
                raise
            except SpotifyApiError as exc:
                failure = f"failed after retries as {_who(who, name_user)}: {exc}"
                break  # not a question of who reads it: the API fails for this playlist; quarantined below
        if read is None:
            reason = failure or _unreadable_reason(owners, live, attempts, name_user)
            out.unreadable[pid] = reason
            bad.append(Quarantined.of("playlist_snapshots", f"playlist {pid}", "<request>", reason,
                                      {"playlist_id": pid}))
            continue
        who, meta, items = read
        out.read_as[pid] = _who(who, name_user)
        owner = _owner_of(meta)
        for position, raw in enumerate(items):
            row = validate("playlist_snapshots", f"playlist {pid} position {position}", raw, parse_playlist_item,
                           position, quarantine=bad)
            if row:
                rows.append({"snapshot_date": snapshot_date, "playlist_id": pid, "snapshot_id": meta.get("snapshot_id"),
                             "playlist_name": meta.get("name"), "owner_id": owner, **row})
    out.rows = pa.Table.from_pylist(rows, schema=PLAYLIST_ROWS_SCHEMA)
    out.quarantine = quarantine_table(bad)
    return out


def _listings(gw: SpotifyGateway, tracked: set[str], users: dict[str, Session], name_user: Callable[[str], str],
              out: PlaylistSnapshot) -> dict[str, dict[str, Listing]]:
    """playlist id -> {user id: how that user's /me/playlists lists it}, for tracked playlists only."""
    found: dict[str, dict[str, Listing]] = {}
    for uid, session in list(users.items()):
        try:
            for entry in gw.my_playlists(session):
                pid = entry.get("id") if isinstance(entry, dict) else None
                if pid in tracked:
                    owner = entry.get("owner") if isinstance(entry.get("owner"), dict) else {}
                    found.setdefault(pid, {})[uid] = Listing(owner.get("id"), entry.get("collaborative") is True)
        except RefreshTokenExpired:
            out.expired.append(uid)
            users.pop(uid, None)
        except RunWideFailure:
            raise
        except SpotifyApiError as exc:
            out.listing_errors[name_user(uid)] = str(exc)
    return found


# (role, user id): ("owner", uid), ("collaborator", uid), ("follower", uid) or ("app", None)
Reader = tuple[str, str | None]


def _readers(seen: Mapping[str, Listing], owners: set[str], users: Mapping[str, Session]
             ) -> list[tuple[Reader, Session | None]]:
    """Who to try, best first: the owner, collaborators, other connected users who list it, then the app."""
    ordered: list[tuple[Reader, Session | None]] = []
    for uid in sorted(owners & set(users)):
        ordered.append((("owner", uid), users[uid]))
    for uid, listing in sorted(seen.items()):
        if uid in users and uid not in owners:
            ordered.append((("collaborator" if listing.collaborative else "follower", uid), users[uid]))
    ordered.append((("app", None), None))
    return ordered


def _who(reader: Reader, name_user: Callable[[str], str]) -> str:
    role, uid = reader
    return "the app token" if uid is None else f"{role} {name_user(uid)}"


def _owner_of(meta: object) -> str | None:
    owner = meta.get("owner") if isinstance(meta, dict) else None
    value = owner.get("id") if isinstance(owner, dict) else None
    return value if isinstance(value, str) else None


def _unreadable_reason(owners: set[str], users: Mapping[str, Session], attempts: list[str],
                       name_user: Callable[[str], str]) -> str:
    tried = "; ".join(attempts) or "nothing to try"
    if owners and not owners & set(users):
        owner = next(iter(owners))
        whose = "Spotify (editorial)" if owner == EDITORIAL_OWNER else name_user(owner)
        why = f"its owner ({whose}) is not a connected user"
    elif not owners:
        why = "no connected user owns it or collaborates on it"
    else:
        why = "every reader was refused"
    return (f"not readable: {why}; the 2026 API serves a playlist's items only to its owner or a collaborator "
            f"(tried: {tried})")
