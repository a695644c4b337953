"""Schemathesis fuzzes the emulator from the spec (bounded for CI): requests the spec allows never crash it and
every answer conforms; requests the spec forbids (out-of-range limits, bad enums and ids, wrong types) are refused
with a 4xx carrying Spotify's error object."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
)
from schemathesis.generation import GenerationMode

from spotify_ai_assets.core.kernel.spotify_api import SpotifyGateway
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.emulator.routes import TEMPLATES
from spotify_ai_assets.emulator.spec import documented_constraints, load_spec, served_subset
from spotify_ai_assets.sandbox.world import World

from .conftest import CLOCK

EXAMPLES = 12  # per operation and mode: about 400 requests in all, well under a minute


@pytest.fixture(scope="module")
def emulator(world: World) -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator(world, clock=CLOCK) as emu:
        yield emu


@pytest.fixture(scope="module")
def schema(emulator: SpotifyEmulator):
    spec = served_subset(documented_constraints(load_spec()), TEMPLATES)
    spec["servers"] = [{"url": emulator.api_url.rstrip("/")}]
    loaded = schemathesis.openapi.from_dict(spec)
    loaded.config.update(base_url=emulator.api_url.rstrip("/"))
    return loaded


@pytest.fixture(scope="module")
def headers(world: World, emulator: SpotifyEmulator) -> dict[str, str]:
    gw = SpotifyGateway(emulator.api_url, emulator.accounts_url, "sandbox-client", "sandbox-secret")
    token = gw.user_session("user:fuzz", world.refresh_token(int(world.connected_users[0]))).client()._auth
    return {"Authorization": f"Bearer {token}"}


def spotify_error_object(response) -> None:
    """Every refusal carries Spotify's error body, with its own status."""
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert set(body) == {"error"} and body["error"]["status"] == response.status_code, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def _fuzz(schema, path: str, mode: GenerationMode, headers: dict[str, str], checks: list, **fixed: object) -> None:
    strategy = schema[path]["GET"].as_strategy(generation_mode=mode, **fixed)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:
        response = case.call(headers=headers)
        case.validate_response(response, checks=checks)
        spotify_error_object(response)

    run()


@pytest.mark.parametrize("path", sorted(TEMPLATES))
def test_valid_requests_never_crash_it_and_every_answer_conforms(schema, emulator, headers, path, world):
    _fuzz(schema, path, GenerationMode.POSITIVE, headers,
          [not_a_server_error, response_schema_conformance, content_type_conformance])
    if "{" in path:  # random ids are mostly unknown (404): again with real ones, so real objects get checked
        name = path.split("{")[1].split("}")[0]
        real = {"/artists": world.artist_ids[0], "/albums": world.album_ids[0], "/tracks": world.track_ids[0],
                "/playlists": world.playlist_ids[0]}
        ident = next(v for k, v in real.items() if path.startswith(k))
        _fuzz(schema, path, GenerationMode.POSITIVE, headers,
              [not_a_server_error, response_schema_conformance, content_type_conformance],
              path_parameters={name: ident})
    assert emulator.violations == []


@pytest.mark.parametrize("path", sorted(TEMPLATES))
def test_requests_the_spec_forbids_are_refused_with_spotifys_error(schema, emulator, headers, path):
    if path == "/me":
        pytest.skip("GET /me takes no parameters: there is nothing to get wrong")
    _fuzz(schema, path, GenerationMode.NEGATIVE, headers, [not_a_server_error, negative_data_rejection])
    assert emulator.violations == []


def test_the_fuzzing_reached_both_answers(emulator):
    """Runs last in this module: the generated requests got real objects back and real refusals."""
    statuses = [s for _, p, s in emulator.request_log if p.startswith("/v1/")]
    assert statuses.count(200) >= 50 and statuses.count(400) >= 50, {s: statuses.count(s) for s in set(statuses)}
