"""Playlist and current-user endpoints: playlists, playlist items, /me and recently-played."""

from __future__ import annotations

import datetime as dt
from typing import Any

from spotify_ai_assets.emulator.call import Call
from spotify_ai_assets.emulator.paging import offset_page, parse_int, parse_limit, parse_offset, url
from spotify_ai_assets.emulator.plays import select
from spotify_ai_assets.emulator.responses import ApiError

Json = dict[str, Any]
UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_CURSOR_MS = 10**15


def iso_ms(ms: int) -> str:
    """Spotify's played_at format: millisecond precision, `Z` suffix."""
    moment = UNIX_EPOCH + dt.timedelta(milliseconds=int(ms))
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{int(ms) % 1000:03d}Z"


def playlist(call: Call, ident: str) -> Json:
    position = call.lookup(call.catalog.playlist_index, ident)
    return call.shapes.playlist(position, call.catalog.playlist_snapshot(position, call.day))


def playlist_items(call: Call, ident: str, endpoint: str = "items") -> Json:
    position = call.lookup(call.catalog.playlist_index, ident)
    if not call.extended:
        # 2026 development mode: only the owner (or a collaborator) may read a playlist's items.
        owner = call.world.playlist_owner(position)
        if call.user is None or call.world.user_ids[call.user] != owner:
            raise ApiError(403, "Forbidden")
    limit = parse_limit(call.query, 100, 100)
    offset = parse_offset(call.query)
    snapshot = call.catalog.playlist_snapshot(position, call.day)
    added = snapshot["added"]
    return offset_page(f"{call.api_url}playlists/{ident}/{endpoint}", snapshot["tracks"],
                       lambda t: call.shapes.playlist_item(position, t, added[t]), limit, offset)


def playlist_tracks(call: Call, ident: str) -> Json:
    return playlist_items(call, ident, "tracks")


def me(call: Call) -> Json:
    return call.shapes.private_user(call.require_user())


def recently_played(call: Call) -> Json:
    user = call.require_user()
    limit = parse_limit(call.query, 20, 50)
    after = parse_int(call.query, "after", -1, 0, MAX_CURSOR_MS)
    before = parse_int(call.query, "before", -1, 0, MAX_CURSOR_MS)
    if after >= 0 and before >= 0:
        raise ApiError(400, "Only one of after and before may be specified")
    played, tracks = call.plays.visible(user, call.clock, call.extended)
    page = select(played, limit, after if after >= 0 else None, before if before >= 0 else None)
    base = f"{call.api_url}me/player/recently-played"
    next_link = None
    if len(page):
        newest, oldest = int(played[page[0]]), int(played[page[-1]])
        if after >= 0 and page[0] > 0:
            next_link = url(base, {"limit": limit, "after": newest})  # paging forward in time
        elif after < 0 and page[-1] < len(played) - 1:
            next_link = url(base, {"limit": limit, "before": oldest})
    return {
        "href": url(base, {"limit": limit, "after": after if after >= 0 else None,
                           "before": before if before >= 0 else None}),
        "items": [
            {"track": call.shapes.track(int(tracks[p])), "played_at": iso_ms(played[p]), "context": None}
            for p in page
        ],
        "limit": limit,
        "next": next_link,
        "cursors": {"after": str(newest), "before": str(oldest)} if len(page) else None,
    }
