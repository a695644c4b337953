"""Ingestion domain: Spotify catalog, playlists and listening events. Modules here are discovered automatically."""
