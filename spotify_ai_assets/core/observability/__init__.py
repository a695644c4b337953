"""Alerts and telemetry without dagster: Sentry events with a scrubber that keeps secrets and personal data out."""
