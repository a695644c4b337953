"""Ingestion domain: Spotify catalog, playlists and listening events, and the daily job over them. Dagster's loader
finds the definitions in its modules."""
