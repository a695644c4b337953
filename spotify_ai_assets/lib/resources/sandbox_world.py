"""The sandbox's synthetic world as a resource: nested in every sandbox implementation, so seed and scale are set
once (by `Settings`) and every sandbox resource of a run sees the same world."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import dagster as dg

if TYPE_CHECKING:
    from spotify_ai_assets.sandbox.world import World


@lru_cache(maxsize=4)
def world_for(seed: int, scale: str) -> World:
    """The world of (seed, scale), built once per process (the multiprocess fork server builds it for its steps)."""
    from spotify_ai_assets.sandbox.world import World

    return World(seed=seed, scale=scale)


class SandboxWorldResource(dg.ConfigurableResource):
    """A deterministic synthetic Spotify world (artists, tracks, users, plays), built once per process."""

    seed: int
    scale: str

    def world(self) -> World:
        return world_for(self.seed, self.scale)
