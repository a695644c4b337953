"""The Web API route table: each spec path template (under /v1) and its handler."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spotify_ai_assets.emulator import catalog_routes as cat
from spotify_ai_assets.emulator import user_routes as usr

Handler = Callable[..., dict[str, Any]]  # (call, *path groups) -> JSON body

# Spec template -> handler (GET only). The templates are the spec's paths, so the router and the spec check agree
# on which operation a request is.
TEMPLATES: dict[str, Handler] = {
    "/search": cat.search,
    "/artists": cat.artists,
    "/artists/{id}": cat.artist,
    "/artists/{id}/albums": cat.artist_albums,
    "/artists/{id}/top-tracks": cat.artist_top_tracks,
    "/albums": cat.albums,
    "/albums/{id}": cat.album,
    "/albums/{id}/tracks": cat.album_tracks,
    "/tracks": cat.tracks,
    "/tracks/{id}": cat.track,
    "/playlists/{playlist_id}": usr.playlist,
    "/playlists/{playlist_id}/items": usr.playlist_items,
    "/playlists/{playlist_id}/tracks": usr.playlist_tracks,
    "/me": usr.me,
    "/me/playlists": usr.my_playlists,
    "/me/player/recently-played": usr.recently_played,
}


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("/v1" + re.sub(r"\{[a-z_]+\}", "([^/]+)", template))


ROUTES: list[tuple[re.Pattern[str], str, Handler]] = [(_pattern(t), t, h) for t, h in TEMPLATES.items()]


def resolve(path: str) -> tuple[str, Handler, tuple[str, ...]] | None:
    """(spec template, handler, path parameters) for a `/v1/...` path (trailing slash already trimmed)."""
    for pattern, template, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return template, handler, match.groups()
    return None
