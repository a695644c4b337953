"""Same clips, two revisions: `analyze_file` of a base revision against the working tree, column by column.

    python benchmarks/audio_equality.py --base main                 # 6 sandbox clips of 30 s
    python benchmarks/audio_equality.py --base HEAD~3 --clips DIR   # the audio files in DIR

The base revision is checked out with `git worktree add --detach` into a temporary folder and run in a child
process with PYTHONPATH set to that folder; the working tree runs in a child process of its own (PYTHONPATH =
this checkout), so neither side imports the other's package. Both analyse the same files.

Printed: per output column, the largest absolute difference over the clips (list columns: over every element)
and, for text and integer columns, how many clips differ. Exit status 1 if a clip fails on one side only or a
categorical column (track id, file, hash, sample rate, channels, null reasons, key, mode, key name) differs;
numeric differences are printed, never judged (a speed change may move floats by rounding).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
CATEGORICAL = ("track_id", "file", "content_sha256", "sample_rate", "channels", "tempo_null_reason", "key", "mode",
               "key_name", "key_null_reason")

# Runs in the child: analyse each file given on the command line, one JSON object per line ({"error": ...} if not).
CHILD = """
import json, sys
from spotify_ai_assets.core.audio import features
print(features.__file__, file=sys.stderr)
for path in sys.argv[1:]:
    try:
        row = features.analyze_file(path)
    except Exception as exc:  # reported, compared like a row
        row = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(row), flush=True)
"""


def analyze_in(root: Path, files: list[Path]) -> list[dict[str, Any]]:
    """The rows of `files` from the package under `root`, in a child process that imports it from there."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, files)], env=env, cwd=root,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"analysis under {root} failed:\n{done.stderr}")
    imported = done.stderr.strip().splitlines()[0]
    if not Path(imported).resolve().is_relative_to(root.resolve()):
        raise SystemExit(f"the child under {root} imported {imported}, not its own package")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def clip_files(clips: Path | None, count: int, seconds: float, scratch: Path) -> list[Path]:
    if clips is None:
        clips = scratch / "clips"
        subprocess.run([sys.executable, "-m", "spotify_ai_assets.sandbox", "audio", "--out", str(clips),
                        "--count", str(count), "--seconds", str(seconds)],
                       env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=True, capture_output=True)
    files = sorted(p for p in clips.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SystemExit(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) in {clips}")
    return files


def numbers(value: Any) -> list[float] | None:
    """The floats of a numeric cell (a list cell flattened), or None for text and nulls."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return None
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list) and all(isinstance(v, int | float) for v in value):
        return [float(v) for v in value]
    return None


def compare(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> tuple[list[tuple[str, str, str]], bool]:
    """(rows of column, max abs difference, clips that differ), ok?"""
    ok = True
    columns: list[str] = []
    for row in base + head:
        columns += [c for c in row if c not in columns]
    out = []
    for col in columns:
        worst = 0.0
        differ = 0
        for b, h in zip(base, head, strict=True):
            vb, vh = b.get(col), h.get(col)
            nb, nh = numbers(vb), numbers(vh)
            if nb is not None and nh is not None and len(nb) == len(nh):
                gap = max((abs(x - y) for x, y in zip(nb, nh, strict=True)), default=0.0)
                if math.isnan(gap):
                    gap = math.inf
                worst = max(worst, gap)
                differ += gap > 0
            elif vb != vh:
                differ += 1
                worst = math.inf
        if differ and (col in CATEGORICAL or col == "error"):
            ok = False
        out.append((col, "0" if worst == 0 else f"{worst:.3g}", f"{differ}/{len(base)}"))
    return out, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="main", help="git revision to compare the working tree with (default main)")
    ap.add_argument("--clips", type=Path, help="folder of audio files (default: sandbox clips in a temp folder)")
    ap.add_argument("--count", type=int, default=6, help="sandbox clips to generate without --clips (default 6)")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of the sandbox clips (default 30)")
    args = ap.parse_args()

    rev = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", args.base], capture_output=True,
                         text=True, check=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="audio-equality-") as tmp:
        scratch = Path(tmp)
        files = clip_files(args.clips, args.count, args.seconds, scratch)
        base_root = scratch / "base"
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(base_root), rev],
                       check=True, capture_output=True)
        try:
            base_rows = analyze_in(base_root, files)
        finally:
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(base_root)],
                           check=False, capture_output=True)
        head_rows = analyze_in(REPO_ROOT, files)
    table, ok = compare(base_rows, head_rows)
    print(f"base {args.base} ({rev}) vs working tree {REPO_ROOT}: {len(files)} clips "
          f"({', '.join(sorted({p.suffix[1:] for p in files}))})")
    print(f"{'column':24} {'max abs diff':>14} {'clips differing':>16}")
    for col, worst, differ in table:
        print(f"{col:24} {worst:>14} {differ:>16}")
    print("result: OK (categorical columns equal)" if ok else "result: DIFFERENT categorical columns or errors")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
