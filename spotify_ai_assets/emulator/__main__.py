"""`python -m spotify_ai_assets.emulator`: serve the sandbox world in the foreground until interrupted."""

from __future__ import annotations

import argparse
import datetime as dt
import signal
import threading
from pathlib import Path

from spotify_ai_assets.emulator.server import MODES, SpotifyEmulator
from spotify_ai_assets.sandbox.world import SCALES, World


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spotify_ai_assets.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--mode", choices=MODES, default="development")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", choices=sorted(SCALES), default="small")
    parser.add_argument("--clock", type=dt.datetime.fromisoformat, default=None,
                        help="sandbox 'now' as ISO 8601 (default: end of today, UTC)")
    parser.add_argument("--client-id", default="sandbox-client")
    parser.add_argument("--client-secret", default="sandbox-secret")
    parser.add_argument("--redirect-uri", action="append", default=None,
                        help="a registered redirect URI for /authorize (repeatable; default: any http loopback URI)")
    parser.add_argument("--watchlist", default=None, metavar="FILE",
                        help="also write the sandbox's watchlist (artists and playlists) to this YAML file")
    args = parser.parse_args(argv)
    world = World(seed=args.seed, scale=args.scale)
    if args.watchlist:
        _write_watchlist(world, args.watchlist)

    emulator = SpotifyEmulator(
        world, mode=args.mode, clock=args.clock,
        client_id=args.client_id, client_secret=args.client_secret, host=args.host, port=args.port,
        redirect_uris=args.redirect_uri,
    ).start()
    # One line, flushed, so a parent process can read the URLs (and the chosen port) off our stdout.
    # SIGTERM (a test's teardown, `docker stop`, a supervisor) stops it cleanly, also when started by a process that
    # ignores SIGTERM: an ignored signal is inherited through exec, and Dagster leaves SIGTERM ignored in a process
    # started with SIGINT ignored (`cmd &`) once it has run a job in-process (spotify_ai_assets_tests/
    # interrupt_signals.py); the emulator then outlived a test's teardown.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    print(f"SPOTIFY_API_URL={emulator.api_url} SPOTIFY_ACCOUNTS_URL={emulator.accounts_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _write_watchlist(world: World, path: str) -> None:
    import yaml

    from spotify_ai_assets.emulator.additions import sandbox_watchlist

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(sandbox_watchlist(world)), encoding="utf-8")


if __name__ == "__main__":
    main()
