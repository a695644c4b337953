"""Snapshots of tracked playlists: one row per (playlist, position) with the playlist's `snapshot_id`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING

import pyarrow as pa

from spotify_ai_assets.core.kernel.records import Quarantined, parse_playlist_item, quarantine_table, validate
from spotify_ai_assets.core.kernel.spotify_api import Forbidden, NotFound, SpotifyGateway, SpotifyUnavailable

if TYPE_CHECKING:
    import spotipy

PLAYLIST_ROWS_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("playlist_id", pa.string()), ("snapshot_id", pa.string()),
    ("playlist_name", pa.string()), ("owner_id", pa.string()), ("position", pa.int64()),
    ("track_id", pa.string()), ("added_at", pa.timestamp("ms", tz="UTC")), ("added_by", pa.string()),
])


def snapshot_playlists(
    gw: SpotifyGateway,
    playlist_ids: list[str],
    snapshot_date: dt.date,
    owner_clients: Mapping[str, spotipy.Spotify],
) -> tuple[pa.Table, pa.Table]:
    """(rows, quarantine). Development-mode apps may read a playlist's items only as its owner, so the
    owner's connected-user client is used when we have one; a 403 is quarantined, not fatal."""
    rows: list[dict] = []
    bad: list[Quarantined] = []
    for pid in dict.fromkeys(playlist_ids):
        try:
            meta = gw.playlist(pid)
            owner = (meta.get("owner") or {}).get("id")
            client = owner_clients.get(owner) if owner else None
            items = list(gw.playlist_items(pid, client))
        except Forbidden as exc:
            bad.append(Quarantined.of("playlist_snapshots", f"playlist {pid}", "<request>",
                                      f"{exc} (items readable only by the owner for development-mode apps)",
                                      {"playlist_id": pid}))
            continue
        except (NotFound, SpotifyUnavailable) as exc:
            bad.append(Quarantined.of("playlist_snapshots", f"playlist {pid}", "<request>", str(exc),
                                      {"playlist_id": pid}))
            continue
        for position, raw in enumerate(items):
            row = validate("playlist_snapshots", f"playlist {pid} position {position}", raw, parse_playlist_item,
                           position, quarantine=bad)
            if row:
                rows.append({"snapshot_date": snapshot_date, "playlist_id": pid, "snapshot_id": meta.get("snapshot_id"),
                             "playlist_name": meta.get("name"), "owner_id": owner, **row})
    return pa.Table.from_pylist(rows, schema=PLAYLIST_ROWS_SCHEMA), quarantine_table(bad)
