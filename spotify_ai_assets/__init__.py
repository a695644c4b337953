"""spotify_ai_assets: the data-asset platform behind a music AI agent.

`defs` is Dagster's entry point (`dagster ... -m spotify_ai_assets`). It is lazy: environment variables
are read when Dagster loads the definitions, not when this package is imported.
"""

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    from spotify_ai_assets.definitions import build_defs

    return build_defs()
