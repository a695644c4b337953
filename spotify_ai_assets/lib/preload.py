"""What every step process needs, imported once per run by the multiprocess executor's fork server.

With `start_method: forkserver` each step process is forked from a server that imported this module, instead of
starting a fresh interpreter that imports Dagster, the definitions and the libraries again (seconds per step). The
step process still loads the code location (`spotify_ai_assets.definitions.defs`) as usual; the server builds it
once too, for the environment and working directory it shares with the steps it forks, so each step finds it built
and resolved (`defs()` keeps one per environment, so a step whose environment differs builds its own).
"""

import os

# Great Expectations reports usage statistics unless told not to; the suites run in the asset steps.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import dagster  # noqa: F401

# Each step process opens the instance first: with the production instance (PostgreSQL) that imported
# dagster_postgres and its storage modules (alembic, Dagster's daemon and storage bases) in every step, 0.3-0.6 s.
import dagster_postgres  # noqa: F401
import duckdb  # noqa: F401
import pyarrow.parquet  # noqa: F401
import spotipy  # noqa: F401

from spotify_ai_assets.definitions import defs, load_defs_folder
from spotify_ai_assets.settings import Settings, SettingsError

try:
    settings = Settings.from_environ()
    if settings.suite_server_idle_s == 0:
        # With the machine's suite server on (core/quality/suite_server.py), the steps send it their suites and the
        # run worker has already started it (lib/executors.py, _suites_for_run): nothing of GX here.
        import great_expectations  # noqa: F401  (4.6 s on a slow VM: once per run here, not once per suite step)
    if settings.env == "local":
        # The sandbox's Spotify emulator starts in each step that calls the API, on the synthetic world, and validates
        # its answers against the OpenAPI spec: the world (0.3-0.5 s at scale medium) and the validator's modules
        # (0.3 s) once here, not in every such step.
        from spotify_ai_assets.emulator.spec import import_validation_modules
        from spotify_ai_assets.lib.resources.sandbox_world import world_for
        from spotify_ai_assets.sandbox.world import ID_LISTS

        import_validation_modules()
        world = world_for(settings.sandbox_seed, settings.sandbox_scale)
        # Its ids, made on first use: the user ids alone (50,000 hashes at scale medium, 0.3-0.6 s) were made again
        # in each API step, which the emulator, the watchlist and the recently-played reads all need.
        for name in ID_LISTS:
            getattr(world, name)
except SettingsError:
    pass  # reported by each step's own load of the definitions

try:
    defs().get_repository_def()  # 0.3 s a step otherwise: building the definitions and resolving the asset graph
except Exception:  # a bad environment is reported by each step's own load, with its error, not by the fork server
    load_defs_folder()  # still import every module under defs/ (and what they import)
