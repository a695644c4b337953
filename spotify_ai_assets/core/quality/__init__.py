"""Data-quality suites (Great Expectations 1.x) for the core tables; no dagster, and GX only when a suite runs."""
