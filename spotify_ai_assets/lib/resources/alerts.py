"""Where alerts about artists (releases, breakouts) go."""

from __future__ import annotations

import dagster as dg


class AlertsResource(dg.ConfigurableResource):
    """A JSON-lines log, one alert per key, so re-runs never alert twice; failed runs and checks go to Sentry and
    PagerDuty through the observability resource instead."""

    path: str

    def send(self, alerts: list) -> list:
        from spotify_ai_assets.core.kernel.alerts import LocalAlertLog

        return LocalAlertLog(self.path).send(alerts)
