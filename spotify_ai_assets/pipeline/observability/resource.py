import dagster as dg

from spotify_ai_assets.observability import sentry
from spotify_ai_assets.version import code_version


class ObservabilityResource(dg.ConfigurableResource):
    """Where alerts go: Sentry when a DSN is configured (an EnvVar in deployments), nowhere otherwise."""

    sentry_dsn: str = ""
    environment: str = "local"
    webserver_url: str = "http://127.0.0.1:3000"

    def sentry_on(self) -> bool:
        return sentry.init(self.sentry_dsn, self.environment, release=f"spotify_ai_assets@{code_version()}")

    def run_url(self, run_id: str) -> str:
        return f"{self.webserver_url}/runs/{run_id}"
