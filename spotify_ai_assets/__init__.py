"""spotify_ai_assets: the data-asset platform behind a music AI agent.

- `core/`: the domain logic, pure (no dagster): one package per domain plus a shared kernel.
- `defs/`: the Dagster definitions, one package per domain, found by Dagster's loader (`definitions.py`).
- `lib/`: Dagster glue shared by `defs/`: resources, table publishing, partitions, executors, freshness.
- `sandbox/`, `emulator/`: the synthetic Spotify world and its Web API emulator (the default environment).
- `audio.py`, `maintenance.py`: command lines (`python -m spotify_ai_assets.audio`, `... .maintenance`).

Importing this package imports nothing else, so the pure core and the command lines never pay for Dagster.
"""

import os as _os
import warnings as _warnings

# dagster.yaml adds the JSON log handler through Dagster's yaml logging configuration, which Dagster marks beta and
# announces in every process that reads it: nothing a user of the platform can act on. Filtered by its exact message
# (no other warning is hidden, and dagster itself is not imported here).
_warnings.filterwarnings("ignore", message="Handling yaml-defined logging configuration is currently in beta")

# NumPy asks the kernel for transparent huge pages on every large array (madvise). Where THP defrag is "madvise" (a
# common default), each fresh 100 MB array of a large day may then stall on memory compaction: ordering the
# 12.3M-event bench day took 1-2 s longer with it (README, Benchmarks). NumPy reads this documented variable when it
# is first imported, so it only takes effect in processes that import this package before NumPy (Dagster's run and
# step processes do); a value set in the environment wins.
_os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")
