"""The Spotify emulator, exercised over real HTTP through the real spotipy client."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOAuth, SpotifyOauthError

from spotify_ai_assets.emulator import Fault, SpotifyEmulator
from spotify_ai_assets.sandbox.events import user_plays
from spotify_ai_assets.sandbox.world import World

from .conftest import end_process

CLOCK = dt.datetime(2026, 2, 10, 23, 59, 59, tzinfo=dt.UTC)
NOON = dt.datetime(2026, 2, 10, 12, tzinfo=dt.UTC)
CLIENT = ("sandbox-client", "sandbox-secret")
NO_RETRIES: dict[str, Any] = {"requests_timeout": 5, "retries": 0, "status_retries": 0, "status_forcelist": (999,)}


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=7, scale="tiny")


@pytest.fixture(scope="module")
def emu(world: World) -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator(world, clock=CLOCK) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def reset(request: pytest.FixtureRequest) -> None:
    if "emu" in request.fixturenames:
        emulator = request.getfixturevalue("emu")
        emulator.mode, emulator.clock = "development", CLOCK
        emulator.clear_faults()


def app_client(emu: SpotifyEmulator, secret: str = CLIENT[1]) -> spotipy.Spotify:
    auth = SpotifyClientCredentials(CLIENT[0], secret, requests_timeout=5, cache_handler=MemoryCacheHandler())
    auth.OAUTH_TOKEN_URL = emu.accounts_url + "api/token"
    sp = spotipy.Spotify(auth_manager=auth, **NO_RETRIES)
    sp.prefix = emu.api_url
    return sp


def user_token(emu: SpotifyEmulator, refresh_token: str) -> str:
    oauth = SpotifyOAuth(*CLIENT, redirect_uri="http://127.0.0.1/cb", requests_timeout=5,
                         cache_handler=MemoryCacheHandler())
    oauth.OAUTH_TOKEN_URL = emu.accounts_url + "api/token"
    return oauth.refresh_access_token(refresh_token)["access_token"]


def user_client(emu: SpotifyEmulator, user_index: int) -> spotipy.Spotify:
    sp = spotipy.Spotify(auth=user_token(emu, emu.world.refresh_token(user_index)), **NO_RETRIES)
    sp.prefix = emu.api_url
    return sp


def raw_get(emu: SpotifyEmulator, path: str, token: str | None = None, **params: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(emu.api_url + path, headers=headers, params=params, timeout=5)


def app_token(emu: SpotifyEmulator) -> str:
    response = requests.post(emu.accounts_url + "api/token", data={"grant_type": "client_credentials"},
                             auth=CLIENT, timeout=5)
    return response.json()["access_token"]


def pages(sp: spotipy.Spotify, first: dict[str, Any], key: str | None = None) -> list[dict[str, Any]]:
    out, page = [], first
    while page:
        out.append(page)
        # The spec's cursor paging has no null `next`: the last page leaves it out.
        page = sp.next(page) if page.get("next") else None
        page = page[key] if page and key else page
    return out


def http_status(call: Any) -> tuple[int, str, Any]:
    with pytest.raises(spotipy.SpotifyException) as info:
        call()
    return info.value.http_status, info.value.msg, info.value


# ---- auth ----------------------------------------------------------------------------------------
def test_client_credentials_and_bearer_checks(emu: SpotifyEmulator, world: World) -> None:
    token = requests.post(emu.accounts_url + "api/token", data={"grant_type": "client_credentials"},
                          auth=CLIENT, timeout=5).json()
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3600
    assert app_client(emu).artist(world.artist_ids[0])["id"] == world.artist_ids[0]
    with pytest.raises(SpotifyOauthError) as info:
        app_client(emu, secret="wrong").artist(world.artist_ids[0])
    assert info.value.error == "invalid_client"
    missing = raw_get(emu, f"artists/{world.artist_ids[0]}")
    assert missing.status_code == 401 and missing.json()["error"]["status"] == 401
    assert raw_get(emu, f"artists/{world.artist_ids[0]}", token="not-a-token").status_code == 401


def test_refresh_token_grant_and_expired_token(emu: SpotifyEmulator, world: World) -> None:
    owner = int(world.connected_users[0])
    form = {"grant_type": "refresh_token", "refresh_token": world.refresh_token(owner),
            "client_id": CLIENT[0], "client_secret": CLIENT[1]}
    by_form = requests.post(emu.accounts_url + "api/token", data=form, timeout=5)
    assert by_form.status_code == 200
    assert raw_get(emu, "me", token=by_form.json()["access_token"]).json()["id"] == world.user_ids[owner]
    for revoked in (world.refresh_token(world.expired_token_user), "rt-unknown"):
        with pytest.raises(SpotifyOauthError) as info:
            user_token(emu, revoked)
        assert (info.value.error, info.value.error_description) == ("invalid_grant", "Refresh token revoked")


def test_expired_refresh_tokens_are_configurable(world: World) -> None:
    with SpotifyEmulator(world, clock=CLOCK, expired_refresh_tokens=[]) as emulator:
        assert user_client(emulator, world.expired_token_user).current_user()["id"] == \
            world.user_ids[world.expired_token_user]


def test_current_user_needs_a_user_token(emu: SpotifyEmulator, world: World) -> None:
    user = int(world.connected_users[1])
    me = user_client(emu, user).current_user()
    assert me["id"] == world.user_ids[user] and me["type"] == "user"
    assert "country" not in me  # development-mode apps no longer get it
    emu.mode = "extended"
    assert user_client(emu, user).current_user()["country"] == (
        "US", "GB", "DE", "FR", "BR", "MX", "SE", "JP", "ES", "IT", "NL", "CA")[int(world.user_country[user])]
    assert http_status(app_client(emu).current_user)[0] == 401


# ---- catalog -------------------------------------------------------------------------------------
def most_albums(emu: SpotifyEmulator, world: World) -> tuple[str, int]:
    visible = [sum(world.album_release[a] <= CLOCK.date() for a in albums)
               for albums in emu.catalog.albums_by_artist]
    best = max(range(len(visible)), key=visible.__getitem__)
    return world.artist_ids[best], visible[best]


def test_artist_albums_paging_and_dev_limit(emu: SpotifyEmulator, world: World) -> None:
    sp = app_client(emu)
    artist_id, count = most_albums(emu, world)
    assert count >= 4
    walked = pages(sp, sp.artist_albums(artist_id, include_groups="album,single", limit=2))
    assert len(walked) == (count + 1) // 2
    assert all(p["next"].startswith(f"http://127.0.0.1:{emu.port}/v1/artists/") for p in walked[:-1])
    items = [a for p in walked for a in p["items"]]
    assert len({a["id"] for a in items}) == count == walked[0]["total"]
    # Spotify's order: by group (albums, then singles), newest first within a group.
    order = [({"album": 0, "single": 1}[a["album_group"]], a["release_date"]) for a in items]
    assert order == sorted(order, key=lambda g: (g[0], -dt.date.fromisoformat(g[1]).toordinal()))
    assert {a["album_type"] for a in items} <= {"album", "single"} and items[0]["artists"][0]["id"] == artist_id
    assert len(sp.artist_albums(artist_id, include_groups="album,single", limit=10)["items"]) == min(count, 10)
    status, msg, _ = http_status(lambda: sp.artist_albums(artist_id, include_groups="album,single", limit=20))
    assert status == 400 and "Invalid limit" in msg
    emu.mode = "extended"  # the 2026 spec's maximum of 10 holds for every app
    assert http_status(lambda: sp.artist_albums(artist_id, include_groups="album,single", limit=20))[0] == 400
    assert http_status(lambda: sp.artist_albums(artist_id, limit=51))[0] == 400


def test_new_releases_appear_as_the_clock_moves(emu: SpotifyEmulator, world: World) -> None:
    album = next(a for a in range(len(world.album_ids)) if dt.date(2026, 1, 5) < world.album_release[a] <= CLOCK.date())
    artist_id, album_id = world.artist_ids[int(world.album_artist[album])], world.album_ids[album]
    sp = app_client(emu)
    emu.clock = dt.datetime.combine(world.album_release[album], dt.time(), dt.UTC) - dt.timedelta(seconds=1)
    group = "single" if world.album_is_single[album] else "album"
    assert album_id not in [a["id"] for a in sp.artist_albums(artist_id, include_groups=group, limit=10)["items"]]
    assert http_status(lambda: sp.album(album_id))[0] == 404
    emu.clock = CLOCK
    assert sp.artist_albums(artist_id, include_groups=group, limit=10)["items"][0]["id"] == album_id
    assert sp.album(album_id)["id"] == album_id


def test_search_pages_through_next_links(emu: SpotifyEmulator, world: World) -> None:
    sp = app_client(emu)
    first = sp.search("#1", type="track", limit=10)["tracks"]
    catalog = emu.catalog  # the world's tracks and the compilations' reissues of them
    expected = [i for i in range(len(catalog.track_ids)) if "#1" in catalog.track_name(i)
                and catalog.track_released(i, CLOCK.date())]
    walked = pages(sp, first, key="tracks")
    assert len(walked) >= 3 and first["total"] == len(expected)
    assert [t["id"] for p in walked for t in p["items"]] == [catalog.track_ids[i] for i in expected]
    assert all(p["next"].startswith(f"http://127.0.0.1:{emu.port}/v1/search?") for p in walked[:-1])
    assert http_status(lambda: sp.search("#1", type="track", limit=11))[0] == 400
    artists = sp.search(world.artist_name(0).upper(), type="artist,album", limit=5)
    assert world.artist_ids[0] in [a["id"] for a in artists["artists"]["items"]] and "albums" in artists
    emu.mode = "extended"  # the 2026 spec's maximum of 10 holds for every app
    assert http_status(lambda: sp.search("#1", type="track", limit=50))[0] == 400


def test_album_track_and_artist_shapes_by_mode(emu: SpotifyEmulator, world: World) -> None:
    sp = app_client(emu)
    album_id = world.album_ids[0]
    simple = sp.album_tracks(album_id)["items"][0]
    assert {"id", "name", "artists", "duration_ms", "track_number", "uri"} <= simple.keys()
    assert simple["disc_number"] == 1 and simple["explicit"] is False and simple["type"] == "track"
    assert "external_ids" not in simple and "album" not in simple
    full = sp.track(simple["id"])
    assert full["external_ids"]["isrc"] == world.track_isrc(0) and full["album"]["id"] == album_id
    assert full["uri"] == f"spotify:track:{simple['id']}"
    assert "popularity" not in full and "preview_url" not in full
    artist = sp.artist(world.artist_ids[0])
    assert artist["genres"] and "popularity" not in artist and "followers" not in artist
    emu.mode = "extended"
    full, artist = sp.track(simple["id"]), sp.artist(world.artist_ids[0])
    assert 0 <= full["popularity"] <= 100 and full["preview_url"] is None
    assert 0 <= artist["popularity"] <= 100 and artist["followers"]["href"] is None
    assert artist["followers"]["total"] > 0


def test_batch_endpoints_forbidden_in_dev_allowed_in_extended(emu: SpotifyEmulator, world: World) -> None:
    sp = app_client(emu)
    calls = {
        "tracks": lambda ids: sp.tracks(ids),
        "artists": lambda ids: sp.artists(ids),
        "albums": lambda ids: sp.albums(ids),
    }
    released = [a for a in range(len(world.album_ids)) if world.album_release[a] <= CLOCK.date()][:3]
    ids_of = {
        "tracks": [world.track_ids[int(emu.catalog.tracks_by_album[a][0])] for a in released],
        "artists": world.artist_ids[:3],
        "albums": [world.album_ids[a] for a in released],
    }
    for kind, call in calls.items():
        status, msg, _ = http_status(lambda call=call, ids=ids_of[kind]: call(ids))
        assert status == 403 and "Forbidden" in msg
    emu.mode = "extended"
    for kind, call in calls.items():
        ids = ids_of[kind]
        got = call([*ids, "0000000000000000000000"])[kind]  # an unknown id is left out (the spec has no nulls)
        assert [x["id"] for x in got] == ids
    assert http_status(lambda: sp.tracks(world.track_ids[:51]))[0] == 400


# ---- playlists -----------------------------------------------------------------------------------
def test_playlist_items_only_for_the_owner_in_dev(emu: SpotifyEmulator, world: World) -> None:
    playlist_id, owner_id = world.playlist_ids[0], world.playlist_owner(0)
    owner = world.user_ids.index(owner_id)
    other = next(int(u) for u in world.connected_users if world.user_ids[int(u)] != owner_id)
    app = app_client(emu)
    meta = app.playlist(playlist_id)
    assert meta["owner"]["id"] == owner_id and meta["snapshot_id"]
    assert "items" not in meta and "tracks" not in meta  # only the owner or a collaborator gets the items
    meta = user_client(emu, owner).playlist(playlist_id)
    assert meta["items"]["total"] == meta["tracks"]["total"] > 0
    assert http_status(lambda: app.playlist_items(playlist_id))[0] == 403
    assert http_status(lambda: user_client(emu, other).playlist_items(playlist_id))[0] == 403
    sp = user_client(emu, owner)
    walked = pages(sp, sp.playlist_items(playlist_id, limit=10))
    items = [i for p in walked for i in p["items"]]
    assert len(items) == meta["items"]["total"] and len(walked) == -(-len(items) // 10)
    assert walked[0]["next"].startswith(f"http://127.0.0.1:{emu.port}/v1/playlists/{playlist_id}/items")
    first = items[0]
    assert first["item"] == first["track"] and first["item"]["album"]["id"]
    assert first["added_by"]["id"] == owner_id and first["is_local"] is False
    dt.datetime.strptime(first["added_at"], "%Y-%m-%dT00:00:00Z")
    old = sp._get(f"playlists/{playlist_id}/tracks", limit=10)
    assert [i["track"]["id"] for i in old["items"]] == [i["item"]["id"] for i in items[:10]]
    assert http_status(lambda: sp.playlist_items(playlist_id, limit=100))[0] == 400  # /items maximum: 50
    emu.mode = "extended"
    assert app.playlist_items(playlist_id, limit=50)["total"] == len(items)


# ---- recently played -----------------------------------------------------------------------------
def test_recently_played_dev_mode_shows_only_latest_50(emu: SpotifyEmulator, world: World) -> None:
    sp = user_client(emu, int(world.connected_users[0]))
    page = sp.current_user_recently_played(limit=50)
    stamps = [p["played_at"] for p in page["items"]]
    assert len(stamps) == 50 and "next" not in page
    assert stamps == sorted(stamps, reverse=True) and stamps[0] < "2026-02-11"
    dt.datetime.strptime(stamps[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert page["items"][0]["track"]["duration_ms"] > 0 and "context" not in page["items"][0]
    newest, oldest = int(page["cursors"]["after"]), int(page["cursors"]["before"])
    assert newest > oldest
    inside = sp.current_user_recently_played(limit=20, before=newest)
    assert [p["played_at"] for p in inside["items"]] == stamps[1:21]
    assert inside["next"].startswith(f"http://127.0.0.1:{emu.port}/v1/me/player/recently-played")
    tail = sp.next(inside)
    assert [p["played_at"] for p in tail["items"]] == stamps[21:41]
    assert sp.current_user_recently_played(limit=50, before=oldest)["items"] == []
    after = sp.current_user_recently_played(limit=5, after=oldest)
    assert [p["played_at"] for p in after["items"]] == stamps[44:49]
    assert http_status(lambda: sp.current_user_recently_played(limit=51))[0] == 400
    assert http_status(lambda: sp.current_user_recently_played(after=1, before=2))[0] == 400


def test_recently_played_extended_mode_pages_two_days(emu: SpotifyEmulator, world: World) -> None:
    emu.mode, emu.clock = "extended", NOON
    user = int(world.connected_users[0])
    sp = user_client(emu, user)
    walked = pages(sp, sp.current_user_recently_played(limit=50))
    stamps = [p["played_at"] for page in walked for p in page["items"]]
    expected = sum(
        int(pc.sum(pc.less(user_plays(world, day, user)["played_at"], pa.scalar(NOON))).as_py())
        for day in (CLOCK.date() - dt.timedelta(days=1), CLOCK.date())
    )
    assert len(stamps) == expected > 100 and len(walked) == -(-expected // 50)
    assert stamps == sorted(stamps, reverse=True)
    assert "2026-02-10T00" < stamps[0] < "2026-02-10T12" and stamps[-1].startswith("2026-02-09")


# ---- faults --------------------------------------------------------------------------------------
def test_429_carries_retry_after_and_reason_then_wears_off(emu: SpotifyEmulator, world: World) -> None:
    sp = app_client(emu)
    body = {"error": {"status": 429, "message": "quota", "reason": "QUOTA_EXCEEDED"}}
    emu.inject(Fault("429", path=r"^/v1/tracks/", retry_after=86400, body=body))
    status, _, exc = http_status(lambda: sp.track(world.track_ids[0]))
    assert status == 429 and exc.headers["Retry-After"] == "86400" and exc.reason == "QUOTA_EXCEEDED"
    assert sp.track(world.track_ids[0])["id"] == world.track_ids[0]
    assert ("GET", f"/v1/tracks/{world.track_ids[0]}", 429) in emu.request_log


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_error_faults(emu: SpotifyEmulator, world: World, kind: str) -> None:
    emu.inject(Fault(kind, times=2))
    token = app_token(emu)  # the token endpoint is not a /v1 path, so an unscoped fault skips it
    for _ in range(2):
        response = raw_get(emu, f"artists/{world.artist_ids[0]}", token=token)
        assert response.status_code == int(kind) and response.json()["error"]["status"] == int(kind)
    assert raw_get(emu, f"artists/{world.artist_ids[0]}", token=token).status_code == 200


def test_malformed_json_is_truncated(emu: SpotifyEmulator, world: World) -> None:
    emu.inject(Fault("malformed_json", path="/albums/.*/tracks", times=-1))
    token = app_token(emu)
    for _ in range(2):
        response = raw_get(emu, f"albums/{world.album_ids[0]}/tracks", token=token)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
        assert response.text == '{"items": ['
        with pytest.raises(ValueError):
            response.json()
    assert app_client(emu).album_tracks(world.album_ids[0]) is None  # spotipy swallows the bad body
    assert raw_get(emu, f"albums/{world.album_ids[0]}", token=token).status_code == 200
    emu.clear_faults()
    assert raw_get(emu, f"albums/{world.album_ids[0]}/tracks", token=token).json()["items"]


def test_missing_fields_strip_the_first_record(emu: SpotifyEmulator, world: World) -> None:
    sp = app_client(emu)
    emu.inject(Fault("missing_fields", path="/tracks$"))
    album_id = next(world.album_ids[a] for a in range(len(world.album_ids)) if len(emu.catalog.tracks_by_album[a]) > 1)
    items = sp.album_tracks(album_id)["items"]
    assert not {"id", "name", "duration_ms"} & items[0].keys() and {"id", "name", "duration_ms"} <= items[1].keys()
    emu.mode = "extended"
    emu.inject(Fault("missing_fields", path="/items$"))
    today = CLOCK.date()
    editorial = next(i for i in range(len(world.playlist_ids))
                     if world.playlist_owner(i) == "spotify" and emu.catalog.playlist_snapshot(i, today)["tracks"])
    first = sp.playlist_items(world.playlist_ids[editorial])["items"][0]
    for key in ("item", "track"):
        assert not {"id", "name", "duration_ms"} & first[key].keys() and first["added_at"]
    emu.inject(Fault("missing_fields", path="^/v1/tracks$"))
    got = sp.tracks(world.track_ids[:2])["tracks"]
    assert "id" not in got[0] and got[1]["id"] == world.track_ids[1]


def test_missing_fields_in_recently_played(emu: SpotifyEmulator, world: World) -> None:
    sp = user_client(emu, int(world.connected_users[0]))
    emu.inject(Fault("missing_fields", path="recently-played"))
    items = sp.current_user_recently_played(limit=3)["items"]
    assert not {"id", "name", "duration_ms"} & items[0]["track"].keys() and items[0]["played_at"]
    assert items[1]["track"]["id"]


def test_fault_kind_is_validated() -> None:
    with pytest.raises(ValueError):
        Fault("418")


# ---- admin and CLI -------------------------------------------------------------------------------
def test_admin_endpoints(emu: SpotifyEmulator, world: World) -> None:
    admin = emu.base_url + "/_emulator/"
    assert requests.get(admin + "health", timeout=5).json() == {"ok": True}
    posted = requests.post(admin + "faults", json={"kind": "503", "path": "/artists/", "times": 1}, timeout=5)
    assert posted.status_code == 200 and posted.json()["faults"][0]["kind"] == "503"
    token = app_token(emu)
    assert raw_get(emu, f"artists/{world.artist_ids[0]}", token=token).status_code == 503
    requests.post(admin + "faults", json={"kind": "429", "times": -1}, timeout=5)
    assert raw_get(emu, f"artists/{world.artist_ids[0]}", token=token).status_code == 429
    assert requests.delete(admin + "faults", timeout=5).json()["faults"] == [] and emu.faults == []
    assert requests.post(admin + "faults", json={"kind": "teapot"}, timeout=5).status_code == 400
    config = requests.post(admin + "config", json={"mode": "extended", "clock": "2026-01-31T12:00:00Z"}, timeout=5)
    assert config.json()["mode"] == "extended" and emu.mode == "extended"
    assert emu.clock == dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC)
    assert "popularity" in raw_get(emu, f"artists/{world.artist_ids[0]}", token=token).json()
    assert requests.post(admin + "config", json={"mode": "turbo"}, timeout=5).status_code == 400


def test_cli_prints_urls_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotify_ai_assets.emulator", "--port", "0", "--scale", "tiny"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        urls = dict(part.split("=", 1) for part in line)
        assert urls["SPOTIFY_API_URL"].startswith("http://127.0.0.1:") and urls["SPOTIFY_API_URL"].endswith("/v1/")
        base = urls["SPOTIFY_ACCOUNTS_URL"]
        assert requests.get(base + "_emulator/health", timeout=5).json() == {"ok": True}
    finally:
        end_process(proc)


def test_the_cli_stops_on_sigterm_even_when_its_parent_ignores_it() -> None:
    """An ignored SIGTERM is inherited through exec (Dagster leaves it so in a process started with SIGINT ignored:
    interrupt_signals.py): the CLI installs its own handler, so SIGTERM still stops it, cleanly (exit status 0)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "spotify_ai_assets.emulator", "--port", "0", "--scale", "tiny"],
        stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    try:
        assert proc.stdout is not None
        assert "SPOTIFY_API_URL=" in proc.stdout.readline()
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        end_process(proc)


def test_answers_are_sampled_only_when_asked(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every answer is checked against the spec by default; with `response_sample` n, the first
    RESPONSES_ALWAYS_CHECKED of each operation and then one in n. Requests are checked either way."""
    from spotify_ai_assets.emulator import server

    checked: list[str] = []
    validator = server.served_spec()
    original = validator.check_response

    def counting(method: str, path: str, *args: Any, **kwargs: Any) -> str | None:
        checked.append(path)
        return original(method, path, *args, **kwargs)

    monkeypatch.setattr(validator, "check_response", counting)
    for sample, expected in ((1, 46), (10, server.RESPONSES_ALWAYS_CHECKED + 2)):  # answers 1-20, 30 and 40
        checked.clear()
        with SpotifyEmulator(world, clock=CLOCK, response_sample=sample) as emulator:
            token = app_token(emulator)
            tid = app_client(emulator).album_tracks(world.album_ids[0])["items"][0]["id"]
            for _ in range(45):
                assert raw_get(emulator, f"tracks/{tid}", token).status_code == 200
            # A request the spec forbids is still refused (market must be an ISO code).
            assert raw_get(emulator, f"tracks/{tid}", token, market="nowhere").status_code == 400
            assert emulator.violations == []
        assert len([p for p in checked if p.startswith("/v1/tracks/")]) == expected, sample
    with pytest.raises(ValueError, match="response_sample"):
        SpotifyEmulator(world, response_sample=0)


def test_a_day_of_plays_is_generated_once_for_every_user_and_matches_each_users_own() -> None:
    """The emulator generates a day for all users at once (`DayPlays`); each user's slice must be that user's plays
    as `user_plays` filters them out of the day, in the same order, users with no play included."""
    import numpy as np

    from spotify_ai_assets.emulator.plays import DayPlays

    world = World(seed=3, scale="tiny")
    day = dt.date(2026, 1, 9)
    plays = DayPlays(world, day)
    track_index = {t: i for i, t in enumerate(world.track_ids)}
    silent = 0
    for user in range(len(world.user_ids)):
        table = user_plays(world, day, user)
        played, tracks = plays.of(user)
        assert played.tolist() == table["played_at"].cast("int64").to_pylist(), user
        assert tracks.tolist() == [track_index[t] for t in table["track_id"].to_pylist()], user
        assert np.all(np.diff(played) >= 0)
        silent += len(table) == 0
    assert plays.played.size == world.events_on(day)
    assert silent < len(world.user_ids)
