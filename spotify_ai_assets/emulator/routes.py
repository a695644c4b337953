"""The Web API route table: path patterns (after the trailing slash is trimmed) to handlers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from spotify_ai_assets.emulator import catalog_routes as cat
from spotify_ai_assets.emulator import user_routes as usr

Handler = Callable[..., dict[str, Any]]  # (call, *path groups) -> JSON body

_ID = "([^/]+)"
ROUTES: list[tuple[re.Pattern[str], Handler]] = [
    (re.compile(pattern), handler)
    for pattern, handler in [
        ("/v1/search", cat.search),
        ("/v1/artists", cat.artists),
        (f"/v1/artists/{_ID}", cat.artist),
        (f"/v1/artists/{_ID}/albums", cat.artist_albums),
        ("/v1/albums", cat.albums),
        (f"/v1/albums/{_ID}", cat.album),
        (f"/v1/albums/{_ID}/tracks", cat.album_tracks),
        ("/v1/tracks", cat.tracks),
        (f"/v1/tracks/{_ID}", cat.track),
        (f"/v1/playlists/{_ID}", usr.playlist),
        (f"/v1/playlists/{_ID}/items", usr.playlist_items),
        (f"/v1/playlists/{_ID}/tracks", usr.playlist_tracks),
        ("/v1/me", usr.me),
        ("/v1/me/player/recently-played", usr.recently_played),
    ]
]


def resolve(path: str) -> tuple[Handler, tuple[str, ...]] | None:
    for pattern, handler in ROUTES:
        match = pattern.fullmatch(path)
        if match:
            return handler, match.groups()
    return None
