"""Data-quality asset checks run by Great Expectations suites (spotify_ai_assets/core/quality)."""
