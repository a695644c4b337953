"""`python -m spotify_ai_assets.audio FILE_OR_FOLDER...`: tempo, key, loudness and the other features of audio files.

Any file name works (the `<track id>.<suffix>` rule belongs to the landing zone only); a folder stands for the
audio files in it. A table by default, one JSON object per line with `--json` (every feature column, or
``{"file", "error", "reason"}`` for a file that cannot be read). Exit status 0 when every file was analysed, 1 when
some could not be read (each is reported and the others still are analysed), 2 on a usage error.
Set NUMBA_CACHE_DIR to a persistent folder to skip librosa's ~25 s first compile.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64")
TABLE = (  # (header, width, row -> text)
    ("file", 0, None),
    ("length", 7, lambda r: f"{r['duration_s']:.1f}s"),
    ("tempo", 9, lambda r: f"{r['tempo_bpm']:.1f}" if r["tempo_bpm"] is not None else f"({r['tempo_null_reason']})"),
    ("key", 17, lambda r: r["key_name"] or f"({r['key_null_reason']})"),
    ("key conf", 8, lambda r: f"{r['key_confidence']:.2f}" if r["key_name"] else "-"),
    ("LUFS", 6, lambda r: f"{r['loudness_lufs']:.1f}" if r["loudness_lufs"] is not None else "-"),
    ("dBFS", 6, lambda r: f"{r['loudness_dbfs']:.1f}"),
    ("tuning", 6, lambda r: f"{r['tuning_cents']:+.0f}c" if r["tuning_cents"] is not None else "-"),
    ("format", 14, lambda r: f"{r['sample_rate'] / 1000:g} kHz {_channels(r['channels'])}"),
)


def _channels(n: int) -> str:
    return {1: "mono", 2: "stereo"}.get(n, f"{n} ch")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m spotify_ai_assets.audio",
        description="Analyse audio files: tempo (BPM), key and mode with a confidence (or why there is none), "
                    "loudness in LUFS (ITU-R BS.1770) and RMS dBFS, tuning, spectral shape, MFCCs, chroma.",
        epilog="Any file name and any container libsndfile reads (WAV, FLAC, OGG, MP3, AIFF, ...), any sample rate, "
               "mono or stereo. Exit status 1 if some file could not be read.")
    p.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER",
                   help="audio files, or folders whose audio files (by suffix) are analysed")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per line with every feature column (see features.py for units)")
    return p


def expand(paths: list[str]) -> list[str]:
    out = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            out += sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
        else:
            out.append(name)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from spotify_ai_assets.core.audio.features import AudioError, analyze_file

    files = expand(args.paths)
    if not files:
        print("no audio files found in " + ", ".join(args.paths), file=sys.stderr)
        return 1
    width = max(len(Path(f).name) for f in files)
    if not args.json:
        print("  ".join(h.ljust(max(w, len(h)) if w else width) for h, w, _ in TABLE), flush=True)
    failed = 0
    for name in files:
        try:
            row = analyze_file(name)
        except AudioError as exc:
            failed += 1
            if args.json:
                print(json.dumps({"file": name, "error": exc.kind, "reason": exc.reason}), flush=True)
            else:
                print(f"{Path(name).name.ljust(width)}  error: {exc.kind}: {exc.reason}", flush=True)
            continue
        if args.json:
            print(json.dumps(row, allow_nan=False), flush=True)
        else:
            cells = [Path(name).name.ljust(width)]
            cells += [fmt(row).ljust(max(w, len(h))) for h, w, fmt in TABLE[1:]]
            print("  ".join(cells).rstrip(), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
