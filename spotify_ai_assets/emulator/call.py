"""Everything a Web API handler needs to answer one request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from spotify_ai_assets.emulator.catalog import Catalog
from spotify_ai_assets.emulator.objects import Shapes
from spotify_ai_assets.emulator.plays import PlayHistory
from spotify_ai_assets.emulator.responses import ApiError
from spotify_ai_assets.sandbox.world import World


@dataclass(frozen=True)
class Call:
    world: World
    catalog: Catalog
    plays: PlayHistory
    shapes: Shapes
    clock: dt.datetime
    extended: bool
    api_url: str  # "http://127.0.0.1:PORT/v1/", the base of every link we hand out
    query: dict[str, str]
    user: int | None  # world user index behind the bearer token; None for an app token

    @property
    def day(self) -> dt.date:
        return self.clock.date()

    def require_user(self) -> int:
        if self.user is None:
            raise ApiError(401, "This endpoint requires a user access token")
        return self.user

    def require_extended(self) -> None:
        if not self.extended:
            raise ApiError(403, "Forbidden")

    def lookup(self, index: dict[str, int], ident: str) -> int:
        position = index.get(ident)
        if position is None:
            raise ApiError(404, "Resource not found")
        return position

    def ids(self) -> list[str]:
        """The `ids` of a batch request (their form and count were checked against the spec)."""
        return self.query["ids"].split(",")
