"""The spec is the judge: our client's endpoint table against the spec's own numbers, the emulator's answers to
requests Spotify refuses, and an over-limit client failing here rather than against the real API. (Every request a
whole daily run sends is checked against the spec in test_spotify_conformance_*.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from spotify_ai_assets.core.kernel.spotify_api import ENDPOINTS, Endpoint, SpotifyApiError, SpotifyGateway
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.emulator.spec import load_spec
from spotify_ai_assets.sandbox.world import World

from .conftest import CLOCK
from .spotify_prod import full_spec, spec_problems


def _spec_parameter(operation: dict, name: str) -> dict:
    spec = load_spec()
    for param in operation.get("parameters", []):
        if "$ref" in param:
            param = spec["components"]["parameters"][param["$ref"].rsplit("/", 1)[1]]
        if param["name"] == name:
            return param
    raise KeyError(name)


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_every_endpoint_we_call_is_in_the_spec_with_our_page_and_batch_sizes(name: str) -> None:
    check_endpoint(ENDPOINTS[name])


def check_endpoint(endpoint: Endpoint) -> None:
    operation = load_spec()["paths"][endpoint.path][endpoint.method.lower()]  # KeyError: not in the spec
    if endpoint.page_limit is not None:
        limit = _spec_parameter(operation, "limit")["schema"]
        # Our page size is the spec's maximum, and that is what we ask for (offset_pages, recently_played).
        assert endpoint.page_limit == limit["maximum"], (endpoint.label, limit)
    else:  # no paging: the operation takes no limit at all
        with pytest.raises(KeyError):
            _spec_parameter(operation, "limit")
    if endpoint.max_ids is not None:
        ids = _spec_parameter(operation, "ids")["schema"]["description"]
        assert f"Maximum: {endpoint.max_ids} IDs" in ids


def test_the_playlist_items_maximum_is_50_not_the_legacy_100() -> None:
    assert ENDPOINTS["playlist_items"].page_limit == 50
    legacy = load_spec()["paths"]["/playlists/{playlist_id}/tracks"]["get"]
    assert _spec_parameter(legacy, "limit")["schema"]["maximum"] == 100  # the deprecated endpoint we do not use


@pytest.fixture
def emulator(world: World) -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator(world, clock=CLOCK) as emu:
        yield emu


def test_a_client_asking_for_100_items_per_page_fails_in_ci(world, emulator, monkeypatch) -> None:
    """The issue's first bug, reintroduced on purpose: the contract check names it, the emulator refuses it the way
    Spotify does, and our gateway refuses to even send it."""
    pid = world.playlist_ids[0]
    request = [("GET", f"/v1/playlists/{pid}/items?limit=100&offset=0&additional_types=track", 400)]
    assert spec_problems(request) == [f"GET {request[0][1]}: 400 Invalid limit"]
    owner = world.user_ids.index(world.playlist_owner(0))
    gw = SpotifyGateway(emulator.api_url, emulator.accounts_url, "sandbox-client", "sandbox-secret")
    session = gw.user_session("user:owner", world.refresh_token(owner))
    token = session.client()._auth
    answer = requests.get(f"{emulator.api_url}playlists/{pid}/items", params={"limit": 100},
                          headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 400 and answer.json() == {"error": {"status": 400, "message": "Invalid limit"}}
    legacy = Endpoint("GET", "/playlists/{playlist_id}/items", 100)
    with pytest.raises(AssertionError):
        check_endpoint(legacy)  # the table check fails in CI
    with pytest.raises(ValueError, match="limit 100 is outside the spec's 1-50"):
        gw.get(session, "playlist_items", {"limit": 100}, playlist_id=pid)  # our gateway will not send it
    monkeypatch.setitem(ENDPOINTS, "playlist_items", legacy)
    with pytest.raises(SpotifyApiError, match="HTTP 400: Invalid limit"):
        list(gw.playlist_items(pid, session))  # and had it been sent, the emulator answers as Spotify does


CASES = [
    # (path, params, message): requests the real API refuses with 400 and these words
    ("playlists/{pid}/items", {"limit": 51}, "Invalid limit"),
    ("playlists/{pid}/items", {"offset": -1}, "Invalid offset"),
    ("artists/{aid}/albums", {"limit": 11}, "Invalid limit"),
    ("artists/{aid}/albums", {"include_groups": "album,live"}, "Invalid include_groups"),
    ("artists/{aid}/albums", {"limit": 5, "country": "SE"}, "Unknown parameter: country"),
    ("search", {"q": "a", "type": "artist,band"}, "Bad search type field band"),
    ("search", {"q": "a"}, "Missing parameter type"),
    ("search", {"q": "a", "type": "artist", "limit": 11}, "Invalid limit"),
    ("tracks", {"ids": "not-an-id"}, "Invalid base62 id"),
    ("tracks", {}, "Missing parameter ids"),
    ("artists/abc", {}, "Invalid base62 id"),
    ("me/player/recently-played", {"limit": 51}, "Invalid limit"),
    ("me/player/recently-played", {"after": 1, "before": 2}, "Only one of after and before may be specified"),
    ("me/player/recently-played", {"before": "yesterday"}, "Invalid before"),
    ("me/playlists", {"limit": 0}, "Invalid limit"),
]


@pytest.mark.parametrize(("path", "params", "message"), CASES, ids=[f"{p} {m}" for p, _, m in CASES])
def test_the_emulator_refuses_what_spotify_refuses_with_spotifys_error_body(world, emulator, path, params, message):
    user = int(world.connected_users[0])
    gw = SpotifyGateway(emulator.api_url, emulator.accounts_url, "sandbox-client", "sandbox-secret")
    token = gw.user_session("user:x", world.refresh_token(user)).client()._auth
    url = emulator.api_url + path.format(pid=world.playlist_ids[0], aid=world.artist_ids[0])
    answer = requests.get(url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {"error": {"status": 400, "message": message}}
    assert emulator.violations == []


def test_the_whole_spec_loads_and_judges_requests_to_paths_the_emulator_does_not_serve() -> None:
    assert full_spec().check_request("get", "/me/top/tracks", "/v1/me/top/tracks", [("limit", "51")]).message == \
        "Invalid limit"
    assert re.fullmatch(r"\d{4}\.\d+\.\d+", str(load_spec()["info"]["version"]))


def test_a_remembered_verdict_never_hides_a_bad_request() -> None:
    """Request verdicts are memoised by operation and query for valid path values; a bad path id, a bad query
    value or an unknown parameter after a good request of the same operation is still refused as Spotify would."""
    from spotify_ai_assets.emulator.spec import SpecValidator

    spec = SpecValidator(paths=["/tracks/{id}", "/albums/{id}/tracks"])
    good = "11dFghVXANMlKmJXsNCbNl"
    assert spec.check_request("GET", "/tracks/{id}", f"/v1/tracks/{good}", []) is None
    assert spec.check_request("GET", "/tracks/{id}", "/v1/tracks/3n3Ppam7vgaVa1iaRUc9Lp", []) is None
    bad_id = spec.check_request("GET", "/tracks/{id}", "/v1/tracks/not-a-base62-id!", [])
    assert bad_id is not None and bad_id.status == 400 and "base62" in bad_id.message
    page = [("limit", "50"), ("offset", "0")]
    assert spec.check_request("GET", "/albums/{id}/tracks", f"/v1/albums/{good}/tracks", page) is None
    too_many = spec.check_request("GET", "/albums/{id}/tracks", f"/v1/albums/{good}/tracks",
                                  [("limit", "51"), ("offset", "0")])
    assert too_many is not None and too_many.status == 400 and too_many.message == "Invalid limit"
    unknown = spec.check_request("GET", "/tracks/{id}", f"/v1/tracks/{good}", [("foo", "1")])
    assert unknown is not None and unknown.status == 400
