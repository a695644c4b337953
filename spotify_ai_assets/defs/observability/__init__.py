"""Observability in Dagster: Sentry alerts for failed runs and blocking checks, trace ids."""
