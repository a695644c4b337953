"""Maintenance and compliance, pure core (no dagster): backups with a manifest and a content-addressed object
store, retention, verified restores, GDPR erasure that stays erased, health probes.

The Dagster shell is `spotify_ai_assets/defs/maintenance/`; the command line is `python -m
spotify_ai_assets.maintenance` (see `__main__.py`).
"""
