"""spotify_ai_assets: the data-asset platform behind a music AI agent.

- `core/`: the domain logic, pure (no dagster): one package per domain plus a shared kernel.
- `defs/`: the Dagster definitions, one package per domain, found by Dagster's loader (`definitions.py`).
- `lib/`: Dagster glue shared by `defs/`: resources, table publishing, partitions, executors, freshness.
- `sandbox/`, `emulator/`: the synthetic Spotify world and its Web API emulator (the default environment).
- `audio.py`, `maintenance.py`: command lines (`python -m spotify_ai_assets.audio`, `... .maintenance`).

Importing this package imports nothing else, so the pure core and the command lines never pay for Dagster.
"""

import warnings as _warnings

# dagster.yaml adds the JSON log handler through Dagster's yaml logging configuration, which Dagster marks beta and
# announces in every process that reads it: nothing a user of the platform can act on. Filtered by its exact message
# (no other warning is hidden, and dagster itself is not imported here).
_warnings.filterwarnings("ignore", message="Handling yaml-defined logging configuration is currently in beta")
