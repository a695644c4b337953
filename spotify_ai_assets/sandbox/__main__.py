"""Sandbox command line: deliver a day's export files to a landing folder, or print the hidden truths.

    python -m spotify_ai_assets.sandbox exports --day 2026-01-05 [--landing DIR] [--scale small]

The landing folder defaults to the one the definitions use (SPOTIFY_AI_LANDING, else $SPOTIFY_AI_HOME/landing).
    python -m spotify_ai_assets.sandbox truth [--scale small] [--out truth.json]
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
    args = parser.parse_args(argv)

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


if __name__ == "__main__":
    raise SystemExit(main())
