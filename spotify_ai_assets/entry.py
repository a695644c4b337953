"""Dagster's entry point, loaded on first access to `spotify_ai_assets.defs` (see the package docstring)."""

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    from spotify_ai_assets.definitions import build_defs

    return build_defs()
