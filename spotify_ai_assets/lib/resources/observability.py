import os

import dagster as dg

from spotify_ai_assets.core.observability import metrics, paging, sentry
from spotify_ai_assets.core.observability.scrub import Scrubber, secrets_from
from spotify_ai_assets.settings import DEFAULT_WEBSERVER_URL
from spotify_ai_assets.version import code_version


class ObservabilityResource(dg.ConfigurableResource):
    """Where alerts go: Sentry when a DSN is configured, PagerDuty (Events API v2) when a routing key is (both
    EnvVars in deployments), nowhere otherwise; and where metrics go."""

    sentry_dsn: str = ""
    pagerduty_routing_key: str = ""
    pagerduty_url: str = paging.EVENTS_URL
    environment: str = "local"
    webserver_url: str = DEFAULT_WEBSERVER_URL
    metrics_textfile: str = ""  # a .prom file for node exporter's textfile collector
    pushgateway_url: str = ""
    otlp_endpoint: str = ""  # OTLP/HTTP base, e.g. http://collector:4318

    def sentry_on(self) -> bool:
        return sentry.init(self.sentry_dsn, self.environment, release=f"spotify_ai_assets@{code_version()}")

    def paging_on(self) -> bool:
        return bool(self.pagerduty_routing_key)

    def page(self, report: sentry.FailureReport) -> str:
        """Trigger a page for `report`; returns its dedup key."""
        scrubber = Scrubber([*secrets_from(dict(os.environ)), self.pagerduty_routing_key, self.sentry_dsn])
        body = paging.event(report, self.pagerduty_routing_key, f"spotify_ai_assets ({self.environment})", scrubber)
        return paging.send(self.pagerduty_url, body)

    def run_url(self, run_id: str) -> str:
        return f"{self.webserver_url}/runs/{run_id}"

    def export_metrics(self, run: metrics.RunMetrics) -> list[str]:
        """Send a finished run's metrics to every configured target; returns their names."""
        done = []
        if self.metrics_textfile:
            metrics.write_textfile(self.metrics_textfile, run)
            done.append("textfile")
        if self.pushgateway_url:
            metrics.push(self.pushgateway_url, run)
            done.append("pushgateway")
        if self.otlp_endpoint:
            metrics.export_otlp(self.otlp_endpoint, run)
            done.append("otlp")
        return done
