"""The folder where artists and partners deliver audio files named `<spotify track id>.<wav|flac|ogg|mp3>`:
filled by partners in deployments, by the sandbox's synthesizer locally."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg

from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource


class AudioLandingResource(dg.ConfigurableResource, ABC):
    root: str

    def directory(self) -> Path:
        return Path(self.root)

    def file_for(self, track_id: str) -> Path | None:
        from spotify_ai_assets.core.audio.landing import file_for

        return file_for(self.directory(), track_id)

    @abstractmethod
    def landed_files(self, now: dt.datetime) -> list[Path]:
        """The files in the landing folder as of `now`."""


class LiveAudioLandingResource(AudioLandingResource):
    """Deliveries arrive on their own."""

    def landed_files(self, now: dt.datetime) -> list[Path]:
        from spotify_ai_assets.core.audio.landing import landed_files

        return landed_files(self.directory())


class SandboxAudioLandingResource(AudioLandingResource):
    """The sandbox synthesizes music-like clips at each track's true tempo and key and delivers a few a day: those
    due by `now` are written before the folder is listed."""

    world: SandboxWorldResource
    per_day: int = 6

    def landed_files(self, now: dt.datetime) -> list[Path]:
        from spotify_ai_assets.core.audio.landing import landed_files

        self.deliver(now.astimezone(dt.UTC).date())
        return landed_files(self.directory())

    def deliver(self, day: dt.date) -> list[str]:
        """Write the clips delivered on `day` (those not already there); returns their paths."""
        from spotify_ai_assets.sandbox import audio

        world = self.world.world()
        written = []
        for n, index in enumerate(audio.deliveries(world, day, self.per_day)):
            fmt = ("wav", "flac", "ogg", "mp3")[n % 4]
            if not (self.directory() / f"{world.track_ids[index]}.{fmt}").exists():
                written.append(str(audio.write_clip(world, index, self.directory(), fmt=fmt)))
        return written
