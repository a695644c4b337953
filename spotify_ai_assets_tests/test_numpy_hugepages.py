"""The package turns off NumPy's huge-page hint before NumPy loads, in the processes Dagster runs our code in."""

from __future__ import annotations

import os
import subprocess
import sys


def _hint_after(code: str, env: dict[str, str]) -> str:
    probe = f"{code}; import numpy; print(numpy._core.multiarray._set_madvise_hugepage(False))"
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120,
                          check=True)
    return done.stdout.strip()


def test_a_process_that_loads_the_definitions_asks_numpy_for_no_huge_pages() -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    # As a run worker does: Dagster first, then the code location.
    assert _hint_after("import dagster, spotify_ai_assets.definitions", env) == "False"
    # NumPy's own default on this Linux, so the check above can fail.
    assert _hint_after("import numpy", env) == "True"


def test_a_value_set_in_the_environment_wins() -> None:
    env = {**os.environ, "NUMPY_MADVISE_HUGEPAGE": "1"}
    assert _hint_after("import spotify_ai_assets", env) == "True"
