"""The production Spotify path in tests: the live resources (SpotifyResource, a token store, a landing folder)
pointed at the spec-strict emulator over HTTP, as a deployment points them at Spotify; and the checks that compare
what lands with the emulator's truth and every request with the spec."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dagster as dg
import yaml

from spotify_ai_assets.core.kernel.spotify_api import ENDPOINTS
from spotify_ai_assets.core.kernel.tokens import FileTokenStore
from spotify_ai_assets.definitions import load_defs_folder
from spotify_ai_assets.defs.ingestion import daily_refresh
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.emulator.additions import sandbox_watchlist
from spotify_ai_assets.emulator.spec import SpecValidator
from spotify_ai_assets.lib.environments import build_resources
from spotify_ai_assets.lib.resources.landing import LiveLandingResource, SandboxLandingResource
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource
from spotify_ai_assets.lib.resources.spotify import LiveSpotifyResource
from spotify_ai_assets.lib.resources.tokens import FileTokenStoreResource
from spotify_ai_assets.sandbox.world import World
from spotify_ai_assets.settings import Settings

SALT = "sandbox-erasure-salt"


def watchlist(world: World) -> dict[str, list[str]]:
    return sandbox_watchlist(world)


def prod_resources(root: Path, emulator: SpotifyEmulator, world: World, *, exports: bool,
                   **spotify: object) -> dict[str, object]:
    """Resources as a deployment has them (live Spotify resource, a token file keyed by Spotify user id, a
    landing folder), with the lake and the rest local under `root`."""
    environ = {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(root / "home"), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    resources: dict[str, object] = dict(build_resources(Settings.from_environ(environ)))
    wl = root / "watchlist.yaml"
    wl.write_text(yaml.safe_dump(watchlist(world)))
    tokens = FileTokenStore(root / "tokens.json")
    for u in world.connected_users:
        tokens.add_user(world.user_ids[int(u)], world.refresh_token(int(u)))
    resources["spotify"] = LiveSpotifyResource(client_id="sandbox-client", client_secret="sandbox-secret",
                                               api_url=emulator.api_url, accounts_url=emulator.accounts_url,
                                               watchlist_path=str(wl), **spotify)
    resources["token_store"] = FileTokenStoreResource(path=str(root / "tokens.json"))
    resources["landing"] = (SandboxLandingResource(root=str(root / "landing"),
                                                   world=SandboxWorldResource(seed=world.seed, scale="tiny"))
                            if exports else LiveLandingResource(root=str(root / "no-exports")))
    return resources


def daily_job(resources: dict[str, object]) -> dg.JobDefinition:
    """The real daily_refresh_job definition over the discovered assets and checks, with these resources."""
    found = load_defs_folder()
    defs = dg.Definitions(assets=found.assets, asset_checks=found.asset_checks,
                          jobs=[daily_refresh.daily_refresh_job], resources=resources)
    return defs.resolve_job_def("daily_refresh_job")


def lake_root(root: Path) -> str:
    return str(root / "home" / "lake")


@lru_cache(maxsize=1)
def full_spec() -> SpecValidator:
    """The whole spec (not only what the emulator serves): a request to anything else is judged too."""
    return SpecValidator()


def template_of(path: str) -> str | None:
    """The spec path template a concrete /v1 path is an instance of."""
    import re

    for template in full_spec().templates:
        pattern = "/v1" + re.sub(r"\{[a-z_]+\}", "[^/]+", template)
        if re.fullmatch(pattern, path):
            return template
    return None


def spec_problems(request_log: list[tuple[str, str, int]]) -> list[str]:
    """Every /v1 request in an emulator's log that the spec refuses (or that carries a trailing slash, which the
    spec's paths never have), with the reason."""
    problems = []
    for method, target, _status in request_log:
        parts = urlsplit(target)
        if not parts.path.startswith("/v1/"):
            continue
        if parts.path.endswith("/"):
            problems.append(f"{method} {target}: trailing slash")
            continue
        template = template_of(parts.path)
        if template is None:
            problems.append(f"{method} {target}: no such path in the spec")
            continue
        problem = full_spec().check_request(method, template, parts.path, parse_qsl(parts.query,
                                                                                     keep_blank_values=True))
        if problem is not None:
            problems.append(f"{method} {target}: {problem.status} {problem.message}")
    return problems


def endpoints_used(request_log: list[tuple[str, str, int]]) -> set[str]:
    return {f"{m} {template_of(urlsplit(t).path)}" for m, t, _ in request_log if urlsplit(t).path.startswith("/v1/")}


KNOWN_ENDPOINTS = {e.label for e in ENDPOINTS.values()}
DAY_END = dt.time(23, 59, 59)
