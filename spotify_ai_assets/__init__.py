"""spotify_ai_assets: the data-asset platform behind a music AI agent.

- `core/`: the domain logic, pure (no dagster): one package per domain plus a shared kernel.
- `defs/`: the Dagster definitions, one package per domain, found by Dagster's loader (`definitions.py`).
- `lib/`: Dagster glue shared by `defs/`: resources, table publishing, partitions, executors, freshness.
- `sandbox/`, `emulator/`: the synthetic Spotify world and its Web API emulator (the default environment).
- `audio.py`, `maintenance.py`: command lines (`python -m spotify_ai_assets.audio`, `... .maintenance`).

Importing this package imports nothing else, so the pure core and the command lines never pay for Dagster.
"""
