"""The landing folder where the backend drops hourly event exports (`events/date=YYYY-MM-DD/`): filled by the
backend in deployments, by the sandbox's synthetic backend locally."""

from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from pathlib import Path

import dagster as dg

from spotify_ai_assets.core.ingestion.listening_events import export_files
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource


class LandingResource(dg.ConfigurableResource, ABC):
    root: str

    def day_dir(self, day: dt.date) -> Path:
        return Path(self.root, "events", f"date={day.isoformat()}")

    def delivered_files(self, day: dt.date) -> list[str]:
        """Export files in the landing folder for `day` now (what the exports sensor watches)."""
        return export_files(self.day_dir(day))

    def days_with_files(self) -> list[str]:
        base = Path(self.root, "events")
        if not base.is_dir():
            return []
        return sorted(p.name[len("date="):] for p in base.iterdir() if p.is_dir() and p.name.startswith("date="))

    @abstractmethod
    def export_files(self, day: dt.date) -> list[str]:
        """The export files of a finished `day`, to ingest."""


class LiveLandingResource(LandingResource):
    """A folder the backend writes to."""

    def export_files(self, day: dt.date) -> list[str]:
        return self.delivered_files(day)


class SandboxLandingResource(LandingResource):
    """The sandbox's backend delivers a day's exports (deterministically, with a few bad records) when they are
    first asked for."""

    world: SandboxWorldResource
    export_format: str = "mixed"
    bad_record_rate: float = 0.002

    def export_files(self, day: dt.date) -> list[str]:
        from spotify_ai_assets.sandbox.exports import ensure_day_exports

        ensure_day_exports(self.world.world(), self.root, day, fmt=self.export_format, bad_rate=self.bad_record_rate)
        return self.delivered_files(day)
