"""Models domain: LightGBM feature tables, challenger/evaluation/champion per model, recommendations. Modules here
are found by Dagster's loader; the logic lives in spotify_ai_assets/core/models (no Dagster there)."""
