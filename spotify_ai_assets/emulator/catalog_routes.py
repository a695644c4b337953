"""Catalog endpoints: search, artists, albums and tracks.

Albums (and their tracks) released after the clock's date do not exist yet: 404 on lookup, null in
batches, absent from search and discographies.
"""

from __future__ import annotations

from typing import Any

from spotify_ai_assets.emulator.call import Call
from spotify_ai_assets.emulator.paging import offset_page, parse_int, parse_limit, parse_offset
from spotify_ai_assets.emulator.responses import ApiError

Json = dict[str, Any]
SEARCH_TYPES = ("artist", "album", "track")
ALBUM_GROUPS = ("album", "single", "appears_on", "compilation")
MAX_SEARCH_OFFSET = 1000


def _dev_or_extended(call: Call, dev: int, extended: int) -> int:
    """Development-mode apps get the 2026 limits (at most 10 per page); extended quota the classic 50."""
    return extended if call.extended else dev


def _album(call: Call, ident: str) -> int:
    album = call.lookup(call.catalog.album_index, ident)
    if not call.catalog.album_released(album, call.day):
        raise ApiError(404, "Resource not found")
    return album


def _track(call: Call, ident: str) -> int:
    track = call.lookup(call.catalog.track_index, ident)
    if not call.catalog.track_released(track, call.day):
        raise ApiError(404, "Resource not found")
    return track


def search(call: Call) -> Json:
    q = call.query.get("q", "").strip()
    if not q:
        raise ApiError(400, "No search query")
    types = [t for t in call.query.get("type", "").split(",") if t]
    if not types:
        raise ApiError(400, "Missing parameter type")
    if any(t not in SEARCH_TYPES for t in types):
        raise ApiError(400, "Bad search type field")
    limit = parse_limit(call.query, _dev_or_extended(call, 5, 20), _dev_or_extended(call, 10, 50))
    offset = parse_int(call.query, "offset", 0, 0, MAX_SEARCH_OFFSET)
    needle = q.strip('"').lower()
    catalog, day = call.catalog, call.day
    released = {
        "artist": lambda i: True,
        "album": lambda i: catalog.album_released(i, day),
        "track": lambda i: catalog.track_released(i, day),
    }
    render = {"artist": call.shapes.artist, "album": call.shapes.simple_album, "track": call.shapes.track}
    out: Json = {}
    for kind in types:
        rows = [i for i, name in enumerate(catalog.lower_names[kind]) if needle in name and released[kind](i)]
        out[f"{kind}s"] = offset_page(f"{call.api_url}search", rows, render[kind], limit, offset,
                                      {"q": q, "type": kind})
    return out


def artist(call: Call, ident: str) -> Json:
    return call.shapes.artist(call.lookup(call.catalog.artist_index, ident))


def artists(call: Call) -> Json:
    call.require_extended()
    index = call.catalog.artist_index
    return {"artists": [call.shapes.artist(index[i]) if i in index else None for i in call.ids(50)]}


def artist_albums(call: Call, ident: str) -> Json:
    position = call.lookup(call.catalog.artist_index, ident)
    raw_groups = call.query.get("include_groups")
    groups = set(raw_groups.split(",")) if raw_groups else set(ALBUM_GROUPS)
    limit = parse_limit(call.query, _dev_or_extended(call, 5, 20), _dev_or_extended(call, 10, 50))
    offset = parse_offset(call.query)
    w, catalog = call.world, call.catalog
    rows = [
        a for a in catalog.albums_by_artist[position]
        if catalog.album_released(a, call.day) and ("single" if w.album_is_single[a] else "album") in groups
    ]
    return offset_page(f"{call.api_url}artists/{ident}/albums", rows, call.shapes.discography_album,
                       limit, offset, {"include_groups": raw_groups})


def album(call: Call, ident: str) -> Json:
    position = _album(call, ident)
    tracks = offset_page(f"{call.api_url}albums/{ident}/tracks", call.catalog.tracks_by_album[position],
                         call.shapes.simple_track, 50, 0)
    return call.shapes.album(position, tracks)


def albums(call: Call) -> Json:
    call.require_extended()
    out: list[Json | None] = []
    for ident in call.ids(20):
        try:
            out.append(album(call, ident))
        except ApiError:
            out.append(None)
    return {"albums": out}


def album_tracks(call: Call, ident: str) -> Json:
    position = _album(call, ident)
    limit = parse_limit(call.query, 20, 50)
    offset = parse_offset(call.query)
    return offset_page(f"{call.api_url}albums/{ident}/tracks", call.catalog.tracks_by_album[position],
                       call.shapes.simple_track, limit, offset)


def track(call: Call, ident: str) -> Json:
    return call.shapes.track(_track(call, ident))


def tracks(call: Call) -> Json:
    call.require_extended()
    out: list[Json | None] = []
    for ident in call.ids(50):
        try:
            out.append(track(call, ident))
        except ApiError:
            out.append(None)
    return {"tracks": out}
