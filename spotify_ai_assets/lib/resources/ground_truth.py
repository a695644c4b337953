"""What is known to be true about the data, for evaluation and accuracy checks only: nothing in deployments (real
audio and real listeners come without answers), the synthetic world's truth in the sandbox."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg

from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource

# (users by pseudonym, plays before the cutoff) -> each user's true top tracks after it, or None
RankerOracle = Callable[[list[str], Any], Any]


class GroundTruthResource(dg.ConfigurableResource, ABC):
    @abstractmethod
    def audio(self, track_ids: Sequence[str]) -> dict[str, dict] | None:
        """True tempo (BPM), key (0-11) and mode (1 major, 0 minor) of those tracks it knows, or None when the
        environment has no truth at all."""

    @abstractmethod
    def ranker_oracle(self, salt: str, cutoff: dt.date) -> RankerOracle | None:
        """The recommendations a perfect ranker would make after `cutoff`, or None without a truth."""


class NoGroundTruthResource(GroundTruthResource):
    """Deployments: checks that need a truth say they were not evaluated."""

    def audio(self, track_ids: Sequence[str]) -> dict[str, dict] | None:
        return None

    def ranker_oracle(self, salt: str, cutoff: dt.date) -> RankerOracle | None:
        return None


class SandboxGroundTruthResource(GroundTruthResource):
    """The synthetic world's truth: the tempo and key each clip was synthesized at, the listening it generates."""

    world: SandboxWorldResource

    def audio(self, track_ids: Sequence[str]) -> dict[str, dict] | None:
        from spotify_ai_assets.sandbox import audio

        world = self.world.world()
        index = {tid: i for i, tid in enumerate(world.track_ids)}
        return audio.truth(world, [index[t] for t in track_ids if t in index])

    def ranker_oracle(self, salt: str, cutoff: dt.date) -> RankerOracle | None:
        from spotify_ai_assets.core.kernel.privacy import pseudonym
        from spotify_ai_assets.core.models import features, oracle

        world = self.world.world()
        keys = [pseudonym(salt, u) for u in world.user_ids]
        known = set(keys)

        def lists(users: list[str], played: Any) -> Any:
            if sum(u in known for u in users) < 0.9 * len(users):
                return None  # the lake's users are not this world's: no truth to compare with
            return oracle.recommendations(world, users, played, cutoff, features.HORIZON_DAYS, 10, keys)

        return lists
