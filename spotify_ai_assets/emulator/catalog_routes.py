"""Catalog endpoints: search, artists, albums and tracks. Parameters arrive checked against the spec (limits,
enums, ids); the defaults below are the spec's.

Albums (and their tracks) released after the clock's date do not exist yet: 404 on lookup, absent from batches,
search and discographies. (Spotify answers null in a batch for an unknown id; the spec's `ManyTracks`, `ManyArtists`
and `ManyAlbums` allow no nulls, so the spec-strict answer leaves the unknown ones out; clients match by id.)
"""

from __future__ import annotations

from typing import Any

from spotify_ai_assets.emulator.call import Call
from spotify_ai_assets.emulator.catalog import GROUP_ORDER
from spotify_ai_assets.emulator.paging import offset_page, query_int
from spotify_ai_assets.emulator.responses import ApiError

Json = dict[str, Any]
SEARCHABLE = ("artist", "album", "track")


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
    types = call.query["type"].split(",")
    limit, offset = query_int(call.query, "limit", 5), query_int(call.query, "offset", 0)
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
        # Types the sandbox has none of (playlist, show, episode, audiobook) answer an empty page.
        rows = [i for i, name in enumerate(catalog.lower_names[kind]) if needle in name and released[kind](i)
                ] if kind in SEARCHABLE else []
        out[f"{kind}s"] = offset_page(f"{call.api_url}search", rows, render.get(kind, call.shapes.track), limit,
                                      offset, {"q": q, "type": kind})
    return out


def artist(call: Call, ident: str) -> Json:
    return call.shapes.artist(call.lookup(call.catalog.artist_index, ident))


def artists(call: Call) -> Json:
    call.require_extended()
    index = call.catalog.artist_index
    return {"artists": [call.shapes.artist(index[i]) for i in call.ids() if i in index]}


def artist_albums(call: Call, ident: str) -> Json:
    position = call.lookup(call.catalog.artist_index, ident)
    raw_groups = call.query.get("include_groups")
    groups = set(raw_groups.split(",")) if raw_groups else set(GROUP_ORDER)  # the spec: none given = every type
    limit, offset = query_int(call.query, "limit", 5), query_int(call.query, "offset", 0)
    catalog = call.catalog
    rows = [(a, g) for a, g in catalog.discography(position) if g in groups and catalog.album_released(a, call.day)]
    return offset_page(f"{call.api_url}artists/{ident}/albums", range(len(rows)),
                       lambda k: call.shapes.discography_album(*rows[k]), limit, offset,
                       {"include_groups": raw_groups})


def album(call: Call, ident: str) -> Json:
    position = _album(call, ident)
    tracks = offset_page(f"{call.api_url}albums/{ident}/tracks", call.catalog.tracks_by_album[position],
                         call.shapes.simple_track, 50, 0)
    return call.shapes.album(position, tracks)


def albums(call: Call) -> Json:
    call.require_extended()
    out: list[Json] = []
    for ident in call.ids():
        try:
            out.append(album(call, ident))
        except ApiError:
            continue
    return {"albums": out}


def album_tracks(call: Call, ident: str) -> Json:
    position = _album(call, ident)
    limit, offset = query_int(call.query, "limit", 20), query_int(call.query, "offset", 0)
    return offset_page(f"{call.api_url}albums/{ident}/tracks", call.catalog.tracks_by_album[position],
                       call.shapes.simple_track, limit, offset)


def track(call: Call, ident: str) -> Json:
    return call.shapes.track(_track(call, ident))


def tracks(call: Call) -> Json:
    call.require_extended()
    out: list[Json] = []
    for ident in call.ids():
        try:
            out.append(track(call, ident))
        except ApiError:
            continue
    return {"tracks": out}


def artist_top_tracks(call: Call, ident: str) -> Json:
    """Gone for development-mode apps in 2026; extended quota still gets an artist's ten most popular tracks."""
    position = call.lookup(call.catalog.artist_index, ident)
    call.require_extended()
    c = call.catalog
    popularity = c.track_popularity(call.day)
    own = [t for t in range(len(c.track_ids)) if c.track_artist(t) == position and c.track_released(t, call.day)
           and c.recording(t) == t]
    own.sort(key=lambda t: (-int(popularity[t]), t))
    return {"tracks": [call.shapes.track(t) for t in own[:10]]}
