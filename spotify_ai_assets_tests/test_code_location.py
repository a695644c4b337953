"""Loading the code location stays light: heavy libraries load only inside the steps that use them."""

import json
import subprocess
import sys
from pathlib import Path

# Seconds to import each, on this machine: the definitions must not pay for any of them.
HEAVY = ("great_expectations", "lightgbm", "librosa", "numba", "sklearn", "scipy", "matplotlib", "jinja2", "sentry_sdk",
         "prometheus_client", "boto3", "celery", "psycopg2", "pandas", "duckdb", "spotipy")


def test_loading_the_definitions_imports_no_heavy_library(tmp_path: Path) -> None:
    code = ("import json, sys\n"
            "from spotify_ai_assets.definitions import build_defs\n"
            f"defs = build_defs({{'SPOTIFY_AI_HOME': {str(tmp_path)!r}}})\n"
            "repo = defs.get_repository_def()\n"
            "repo.get_all_jobs(); repo.asset_graph\n"
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_the_dagster_entry_point_imports_nothing_until_asked(tmp_path: Path) -> None:
    code = ("import sys, spotify_ai_assets\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dagster', 'pyarrow', 'duckdb')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
