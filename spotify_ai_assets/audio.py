"""`python -m spotify_ai_assets.audio FILE...`: one JSON line per file, its features or its error.

A file that cannot be read prints ``{"file": ..., "error": kind, "reason": ...}``; the exit status is 0 even then
(2 when no file is given). Set NUMBA_CACHE_DIR to a persistent folder to skip librosa's ~25 s numba warm-up.
"""

from __future__ import annotations

import json
import sys

from spotify_ai_assets.core.audio.features import AudioError, analyze_file


def main(argv: list[str] | None = None) -> int:
    files = sys.argv[1:] if argv is None else argv
    if not files:
        print("usage: python -m spotify_ai_assets.audio FILE...", file=sys.stderr)
        return 2
    for name in files:
        try:
            row = analyze_file(name)
        except AudioError as exc:
            row = {"file": name, "error": exc.kind, "reason": exc.reason}
        print(json.dumps(row, allow_nan=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
