"""Playlist and current-user endpoints: playlists, playlist items, /me, /me/playlists and recently-played.

Who may read what (the 2026 spec and development-mode rules): a playlist's items only its owner or a collaborator
(an extended-quota app may also read public playlists with any token); a private playlist's details only the same
people (others get 404, as if it did not exist).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from spotify_ai_assets.emulator.call import Call
from spotify_ai_assets.emulator.paging import offset_page, query_int, url
from spotify_ai_assets.emulator.plays import select
from spotify_ai_assets.emulator.responses import ApiError

Json = dict[str, Any]
UNIX_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# How many items GET /playlists/{id} embeds: the /items maximum, so its `next` link is a valid request.
EMBEDDED_ITEMS = 50


def iso_ms(ms: int) -> str:
    """Spotify's played_at format: millisecond precision, `Z` suffix."""
    moment = UNIX_EPOCH + dt.timedelta(milliseconds=int(ms))
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{int(ms) % 1000:03d}Z"


def _caller_id(call: Call) -> str | None:
    return None if call.user is None else call.world.user_ids[call.user]


def _may_read_items(call: Call, position: int) -> bool:
    if call.catalog.can_read_items(position, _caller_id(call)):
        return True
    return call.extended and call.catalog.playlist_public(position)


def _playlist(call: Call, ident: str) -> int:
    position = call.lookup(call.catalog.playlist_index, ident)
    if not call.catalog.playlist_public(position) and not call.catalog.can_read_items(position, _caller_id(call)):
        raise ApiError(404, "Resource not found")
    return position


def _items_page(call: Call, ident: str, position: int, endpoint: str, limit: int, offset: int) -> Json:
    snapshot = call.catalog.playlist_snapshot(position, call.day)
    added = snapshot["added"]
    tracks = snapshot["tracks"]
    return offset_page(f"{call.api_url}playlists/{ident}/{endpoint}", range(len(tracks)),
                       lambda k: call.shapes.playlist_item(tracks[k], added[k]), limit, offset)


def playlist(call: Call, ident: str) -> Json:
    position = _playlist(call, ident)
    snapshot = call.catalog.playlist_snapshot(position, call.day)
    first = None
    if _may_read_items(call, position):
        def first() -> Json:
            return _items_page(call, ident, position, "items", EMBEDDED_ITEMS, 0)
    return call.shapes.playlist(position, snapshot, first)


def playlist_items(call: Call, ident: str, endpoint: str = "items") -> Json:
    position = _playlist(call, ident)
    if not _may_read_items(call, position):
        raise ApiError(403, "Forbidden")
    return _items_page(call, ident, position, endpoint, query_int(call.query, "limit", 20),
                       query_int(call.query, "offset", 0))


def playlist_tracks(call: Call, ident: str) -> Json:
    return playlist_items(call, ident, "tracks")


def me(call: Call) -> Json:
    return call.shapes.private_user(call.require_user())


def my_playlists(call: Call) -> Json:
    user = call.require_user()
    mine = call.catalog.playlists_of(call.world.user_ids[user])
    return offset_page(f"{call.api_url}me/playlists", mine,
                       lambda p: call.shapes.simple_playlist(p, call.catalog.playlist_snapshot(p, call.day)),
                       query_int(call.query, "limit", 20), query_int(call.query, "offset", 0))


def recently_played(call: Call) -> Json:
    user = call.require_user()
    limit = query_int(call.query, "limit", 20)
    after = query_int(call.query, "after", -1)
    before = query_int(call.query, "before", -1)
    played, tracks = call.plays.visible(user, call.clock, call.extended)
    page = select(played, limit, after if after >= 0 else None, before if before >= 0 else None)
    base = f"{call.api_url}me/player/recently-played"
    out: Json = {
        "href": url(base, {"limit": limit, "after": after if after >= 0 else None,
                           "before": before if before >= 0 else None}),
        # `context` is omitted rather than null: the schema does not allow null there.
        "items": [{"track": call.shapes.track(int(tracks[p])), "played_at": iso_ms(played[p])} for p in page],
        "limit": limit,
    }
    if len(page):
        newest, oldest = int(played[page[0]]), int(played[page[-1]])
        out["cursors"] = {"after": str(newest), "before": str(oldest)}
        # `next` is a string in the schema (not nullable): present only when there is a next page.
        if after >= 0 and page[0] > 0:
            out["next"] = url(base, {"limit": limit, "after": newest})  # paging forward in time
        elif after < 0 and page[-1] < len(played) - 1:
            out["next"] = url(base, {"limit": limit, "before": oldest})
    return out
