"""Models domain: LightGBM feature tables, challenger/evaluation/champion per model, recommendations. Modules here
are discovered automatically; the logic lives in spotify_ai_assets/models (no Dagster there)."""
