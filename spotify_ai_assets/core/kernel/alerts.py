"""A local alert log: JSON lines, one alert per key, safe against concurrent writers.

Stands in for the alerting channel the observability work adds (Sentry, paging): the asset code only ever calls
`send`, which returns the alerts that were new, so a re-run of a day never alerts twice.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterable
from pathlib import Path

from spotify_ai_assets.core.analytics.artist_monitoring import Alert


class LocalAlertLog:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    def sent(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]

    def send(self, alerts: Iterable[Alert]) -> list[Alert]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # another step may be sending at the same moment
            fh.seek(0)
            seen = {json.loads(line)["key"] for line in fh.read().splitlines() if line.strip()}
            new = []
            for alert in alerts:
                if alert.key not in seen:
                    seen.add(alert.key)
                    new.append(alert)
                    fh.write(json.dumps(alert.as_dict(), sort_keys=True) + "\n")
        return new
