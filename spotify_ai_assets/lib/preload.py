"""What every step process needs, imported once per run by the multiprocess executor's fork server.

With `start_method: forkserver` each step process is forked from a server that imported this module, instead of
starting a fresh interpreter that imports Dagster, the definitions and the libraries again (seconds per step). Nothing
here reads the environment: the step process still loads the code location (`spotify_ai_assets.definitions.defs`) as
usual, now from modules already in memory.
"""

import os

# Great Expectations reports usage statistics unless told not to; the suites run in the asset steps.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import dagster  # noqa: F401
import duckdb  # noqa: F401
import great_expectations  # noqa: F401
import pyarrow.parquet  # noqa: F401
import spotipy  # noqa: F401

from spotify_ai_assets.definitions import load_defs_folder

load_defs_folder()  # imports every module under defs/ (and what they import), reading no environment variable
