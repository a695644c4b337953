"""Sandbox command line: deliver a day's export files to a landing folder, or print the hidden truths.

    python -m spotify_ai_assets.sandbox exports --day 2026-01-05 [--landing DIR] [--scale small]

The landing folder defaults to the one the definitions use (SPOTIFY_AI_LANDING, else $SPOTIFY_AI_HOME/landing).
    python -m spotify_ai_assets.sandbox truth [--scale small] [--out truth.json]
    python -m spotify_ai_assets.sandbox audio --out DIR [--count 6]   # example clips, with their true tempo and key
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from spotify_ai_assets.sandbox.exports import write_day_exports
from spotify_ai_assets.sandbox.world import SCALES, World


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spotify_ai_assets.sandbox")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("exports", help="write a day's hourly event export files (the sensor picks them up)")
    ex.add_argument("--day", type=dt.date.fromisoformat, required=True)
    ex.add_argument("--landing", default=None, help="landing folder (default: as the definitions resolve it)")
    ex.add_argument("--format", choices=("jsonl", "parquet", "mixed"), default="mixed")
    ex.add_argument("--bad-rate", type=float, default=0.002)
    tr = sub.add_parser("truth", help="print the planted breakouts (and write users' tastes with --out)")
    tr.add_argument("--out", type=Path)
    au = sub.add_parser("audio", help="write example audio clips (one per format) and print their true tempo and key")
    au.add_argument("--out", type=Path, required=True, help="folder for the clips (created if missing)")
    au.add_argument("--count", type=int, default=6, help="number of clips (default 6)")
    au.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    if args.command == "audio":
        return write_audio_examples(World(seed=args.seed, scale=args.scale), args.out, args.count, args.seconds)

    world = World(seed=args.seed, scale=args.scale)
    if args.command == "exports":
        if args.landing is None:
            from spotify_ai_assets.settings import Settings

            args.landing = Settings.from_environ().landing_root
        m = write_day_exports(world, args.landing, args.day, fmt=args.format, bad_rate=args.bad_rate)
        print(f"{len(m.files)} files, {m.records} records ({m.bad} bad, {m.duplicates} duplicated) "
              f"in {Path(args.landing, 'events', f'date={args.day}')}")
    else:
        truth = world.truth()
        if args.out:
            args.out.write_text(json.dumps({**truth, "user_tastes": world.user_tastes()}))
        json.dump(truth, sys.stdout, indent=2)
        print()
    return 0


def write_audio_examples(world: World, out: Path, count: int, seconds: float) -> int:
    """Clips of `count` tracks spread over the catalogue, rotating formats, sample rates and channels; prints the
    truth (and writes it to truth.json) so `python -m spotify_ai_assets.audio DIR` can be checked by eye."""
    from spotify_ai_assets.sandbox import audio
    from spotify_ai_assets.sandbox.world import GENRES

    variants = (("wav", 44100, True), ("flac", 22050, False), ("mp3", 44100, True), ("ogg", 22050, False))
    n = len(world.track_ids)
    picks = sorted({round(k * (n - 1) / max(1, count - 1)) for k in range(count)})
    truth = {}
    for k, index in enumerate(picks):
        fmt, sr, stereo = variants[k % len(variants)]
        path = audio.write_clip(world, index, out, fmt=fmt, sr=sr, stereo=stereo, seconds=seconds)
        known = audio.truth(world, [index])[world.track_ids[index]]
        name = f"{audio.KEY_NAMES[known['key']]} {'major' if known['mode'] else 'minor'}"
        truth[path.name] = {**known, "key_name": name, "genre": GENRES[int(world.track_genre[index])]}
        print(f"{path}  {known['tempo_bpm']:.1f} BPM  {name}  ({truth[path.name]['genre']})")
    (out / "truth.json").write_text(json.dumps(truth, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
