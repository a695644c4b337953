"""The spotipy gateway against the emulator over real HTTP: faults, paging, dev vs extended mode."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.spotify_api import (
    RateLimitExceeded,
    RefreshTokenExpired,
    RetryPolicy,
    SpotifyGateway,
    SpotifyUnavailable,
)
from spotify_ai_assets.emulator import Fault, SpotifyEmulator
from spotify_ai_assets.sandbox.world import World


def _artist_with_most_albums(world: World, emulator: SpotifyEmulator) -> tuple[str, int]:
    today = emulator.clock.date()
    counts: dict[int, int] = {}
    for album, artist in enumerate(world.album_artist):
        if world.album_release[album] <= today:
            counts[int(artist)] = counts.get(int(artist), 0) + 1
    best = max(counts, key=counts.__getitem__)
    return world.artist_ids[best], counts[best]


def test_pages_through_every_artist_album_ten_at_a_time(world, emulator, gateway):
    artist_id, expected = _artist_with_most_albums(world, emulator)
    assert expected > 10, "fixture should need several pages"
    albums = list(gateway.artist_albums(artist_id))
    assert len(albums) == expected
    assert len({a["id"] for a in albums}) == expected
    pages = [path for _, path, _ in emulator.request_log if f"/artists/{artist_id}/albums" in path]
    assert len(pages) == -(-expected // 10)
    assert all("limit=10" in p for p in pages)


def test_short_429_waits_retry_after_then_succeeds(world, emulator, gateway, sleeps):
    emulator.inject(Fault(kind="429", path=r"/v1/tracks/", retry_after=3, times=2))
    track = gateway.call("GET /tracks/{id}", lambda: gateway.app.track(world.track_ids[0]))
    assert track["id"] == world.track_ids[0]
    assert sleeps.calls == [3.0, 3.0]
    assert gateway.stats.throttled == 2


def test_long_429_is_handed_back_instead_of_sleeping(world, emulator, gateway, sleeps):
    emulator.inject(Fault(kind="429", path=r"/v1/tracks/", retry_after=86_400,
                          body={"error": {"status": 429, "message": "quota", "reason": "QUOTA_EXCEEDED"}}))
    with pytest.raises(RateLimitExceeded) as info:
        gateway.call("GET /tracks/{id}", lambda: gateway.app.track(world.track_ids[0]))
    assert info.value.retry_after_s == 86_400
    assert sleeps.calls == []


@pytest.mark.parametrize("kind", ["500", "503", "malformed_json"])
def test_transient_failures_back_off_with_jitter_then_succeed(world, emulator, gateway, sleeps, kind):
    emulator.inject(Fault(kind=kind, path=r"/v1/tracks/", times=2))
    track = gateway.call("GET /tracks/{id}", lambda: gateway.app.track(world.track_ids[1]))
    assert track["id"] == world.track_ids[1]
    assert len(sleeps.calls) == 2
    # Full jitter: each wait is within the exponential cap for its attempt.
    assert 0 <= sleeps.calls[0] <= 0.5 and 0 <= sleeps.calls[1] <= 1.0


def test_persistent_5xx_gives_up_with_a_named_endpoint(world, emulator, gateway, sleeps):
    emulator.inject(Fault(kind="503", path=r"/v1/tracks/", times=-1))
    with pytest.raises(SpotifyUnavailable, match=r"GET /tracks/\{id\}: gave up after 4 attempts: HTTP 503"):
        gateway.call("GET /tracks/{id}", lambda: gateway.app.track(world.track_ids[1]))
    assert len(sleeps.calls) == 3


def test_unknown_ids_are_skipped_in_both_modes(world, emulator, gateway):
    unreleased = [world.track_ids[i] for i in range(len(world.track_ids))
                  if world.track_release_ordinal[i] > emulator.clock.date().toordinal()][:2]
    known = _released_tracks(world, emulator, 2)
    assert unreleased, "the tiny world should have releases after the clock"
    assert [t["id"] for t in gateway.tracks(known + unreleased)] == known
    emulator.mode = "extended"
    gateway.batch_available = None
    assert [t["id"] for t in gateway.tracks(known + unreleased)] == known


def test_expired_refresh_token_is_reported_as_such(world, gateway):
    user = world.expired_token_user
    with pytest.raises(RefreshTokenExpired, match=world.user_ids[user]):
        gateway.user_client(world.user_ids[user], world.refresh_token(user))


def _released_tracks(world: World, emulator: SpotifyEmulator, n: int) -> list[str]:
    cutoff = emulator.clock.date().toordinal()
    return [world.track_ids[i] for i in range(len(world.track_ids)) if world.track_release_ordinal[i] <= cutoff][:n]


def test_development_mode_falls_back_from_batch_to_single_gets(world, emulator, gateway):
    ids = _released_tracks(world, emulator, 7)
    tracks = gateway.tracks(ids)
    assert [t["id"] for t in tracks] == ids
    assert gateway.batch_available is False
    assert all("popularity" not in t for t in tracks)
    singles = [p for _, p, s in emulator.request_log if p.startswith("/v1/tracks/") and "ids=" not in p and s == 200]
    assert len(singles) == 7


def test_extended_mode_uses_batch_endpoints_and_keeps_popularity(world, emulator, gateway):
    emulator.mode = "extended"
    ids = _released_tracks(world, emulator, 7)
    tracks = gateway.tracks(ids)
    assert [t["id"] for t in tracks] == ids
    assert gateway.batch_available is True
    assert all(isinstance(t["popularity"], int) for t in tracks)
    track_calls = [p for _, p, _ in emulator.request_log if p.startswith("/v1/tracks")]
    assert len(track_calls) == 1 and "ids=" in track_calls[0]


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A TCP server that accepts connections and never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1]
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_a_silent_api_times_out_instead_of_hanging(world, emulator, sleeps, black_hole):
    gw = SpotifyGateway(api_url=f"http://127.0.0.1:{black_hole}/v1/", accounts_url=emulator.accounts_url,
                        client_id="sandbox-client", client_secret="sandbox-secret", timeout_s=0.3,
                        policy=RetryPolicy(max_attempts=2), sleep=sleeps)
    with pytest.raises(SpotifyUnavailable, match="ReadTimeout"):
        gw.call("GET /tracks/{id}", lambda: gw.app.track(world.track_ids[0]))


def test_a_silent_accounts_service_times_out_too(world, sleeps, black_hole):
    gw = SpotifyGateway(api_url="http://127.0.0.1:9/v1/", accounts_url=f"http://127.0.0.1:{black_hole}/",
                        client_id="c", client_secret="s", timeout_s=0.3, policy=RetryPolicy(max_attempts=2),
                        sleep=sleeps)
    user = int(world.connected_users[0])
    with pytest.raises(SpotifyUnavailable, match="accounts"):
        gw.user_client(world.user_ids[user], world.refresh_token(user))


def test_an_impossible_release_date_is_a_field_error_not_a_crash() -> None:
    from spotify_ai_assets.core.kernel.records import InvalidRecord, release_day

    assert release_day("2026-02") == dt.date(2026, 2, 1)
    for value in ("0000", "2026-13-40"):
        with pytest.raises(InvalidRecord) as err:
            release_day(value)
        assert err.value.field == "release_date" and value in err.value.reason


def test_a_new_release_is_detected_through_a_paged_catalog_crawl(world, emulator, gateway):
    from spotify_ai_assets.core.analytics.artist_monitoring import alerts_for, monitor
    from spotify_ai_assets.core.analytics.trends import TRENDS_SCHEMA
    from spotify_ai_assets.core.ingestion.catalog import crawl_catalog

    # The most prolific artist's newest album released in 2026: crawl the day before and the release day.
    artist = max(range(len(world.artist_ids)), key=lambda a: int((world.album_artist == a).sum()))
    albums = [i for i in range(len(world.album_ids)) if world.album_artist[i] == artist
              and dt.date(2026, 1, 2) <= world.album_release[i] <= dt.date(2026, 11, 1)]
    assert albums, "the sandbox should give this artist a 2026 release"
    release = max(albums, key=lambda i: world.album_release[i])
    day = world.album_release[release]
    snapshots = {}
    for d in (day - dt.timedelta(days=1), day):
        emulator.clock = dt.datetime.combine(d, dt.time(23, 59), dt.UTC)
        emulator.request_log.clear()
        snapshots[d] = crawl_catalog(gateway, [world.artist_ids[artist]], d)
        pages = [p for _, p, _ in emulator.request_log if "/albums" in p and "/artists/" in p]
        assert len(pages) >= 2, "the artist's albums must span several pages of 10"
    before, today = snapshots[day - dt.timedelta(days=1)], snapshots[day]
    assert today.albums.num_rows == before.albums.num_rows + 1
    stats = {"artist_id": [world.artist_ids[artist]], "plays": [1], "listeners": [1]}
    table = monitor(day, today.artists, today.albums, before.albums, pa.table(stats), TRENDS_SCHEMA.empty_table())
    (row,) = table.to_pylist()
    assert row["new_release_names"] == [world.album_name(release)]
    assert [a.kind for a in alerts_for(table)] == ["release"]
