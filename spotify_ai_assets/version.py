"""What code is running: the package version and, in a git checkout, the commit."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


@lru_cache(maxsize=1)
def code_version() -> str:
    try:
        v = version("spotify_ai_assets")
    except PackageNotFoundError:
        v = "unknown"
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, timeout=5,
                             capture_output=True, text=True, check=True).stdout.strip()
        return f"{v}+g{sha}" if sha else v
    except (OSError, subprocess.SubprocessError):
        return v
