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
    SpotifyApiError,
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
    albums = list(gateway.artist_albums(artist_id, ("album", "single")))
    assert len(albums) == expected
    assert len({a["id"] for a in albums}) == expected
    pages = [path for _, path, _ in emulator.request_log if f"/artists/{artist_id}/albums" in path]
    assert len(pages) == -(-expected // 10)
    # Our own offsets at the spec's maximum of 10, never a server's `next` link.
    assert [p.split("offset=")[1].split("&")[0] for p in pages] == [str(10 * k) for k in range(len(pages))]
    assert all("limit=10" in p and "include_groups=album%2Csingle" in p for p in pages)


def _track(gateway: SpotifyGateway, track_id: str) -> dict:
    return gateway.get(gateway.app, "track", id=track_id)


def test_short_429_waits_retry_after_then_succeeds(world, emulator, gateway, sleeps):
    emulator.inject(Fault(kind="429", path=r"/v1/tracks/", retry_after=3, times=2))
    track = _track(gateway, world.track_ids[0])
    assert track["id"] == world.track_ids[0]
    assert sleeps.calls == [3.0, 3.0]
    assert gateway.stats.throttled == 2


def test_long_429_is_handed_back_instead_of_sleeping(world, emulator, gateway, sleeps):
    emulator.inject(Fault(kind="429", path=r"/v1/tracks/", retry_after=86_400,
                          body={"error": {"status": 429, "message": "quota", "reason": "QUOTA_EXCEEDED"}}))
    gateway.now = lambda: dt.datetime(2026, 1, 15, 2, 0, tzinfo=dt.UTC)
    with pytest.raises(RateLimitExceeded) as info:
        _track(gateway, world.track_ids[0])
    assert info.value.retry_after_s == 86_400 and info.value.reason == "QUOTA_EXCEEDED"
    assert info.value.resume_at == dt.datetime(2026, 1, 16, 2, 0, tzinfo=dt.UTC)
    assert "GET /tracks/{id}" in str(info.value) and "2026-01-16T02:00:00Z" in str(info.value)
    assert sleeps.calls == []


@pytest.mark.parametrize("kind", ["500", "503", "malformed_json"])
def test_transient_failures_back_off_with_jitter_then_succeed(world, emulator, gateway, sleeps, kind):
    emulator.inject(Fault(kind=kind, path=r"/v1/tracks/", times=2))
    track = _track(gateway, world.track_ids[1])
    assert track["id"] == world.track_ids[1]
    assert len(sleeps.calls) == 2
    # Full jitter: each wait is within the exponential cap for its attempt.
    assert 0 <= sleeps.calls[0] <= 0.5 and 0 <= sleeps.calls[1] <= 1.0


def test_persistent_5xx_gives_up_with_a_named_endpoint(world, emulator, gateway, sleeps):
    emulator.inject(Fault(kind="503", path=r"/v1/tracks/", times=-1))
    with pytest.raises(SpotifyUnavailable, match=r"GET /tracks/\{id\}: gave up after 4 attempts: HTTP 503"):
        _track(gateway, world.track_ids[1])
    assert len(sleeps.calls) == 3


def test_an_expired_access_token_is_refreshed_once_and_the_request_retried(world, emulator, gateway):
    emulator.inject(Fault(kind="expired_token", path=r"^/v1/artists/", times=1))
    artist = gateway.get(gateway.app, "artist", id=world.artist_ids[0])
    assert artist["id"] == world.artist_ids[0]
    assert gateway.stats.token_refreshes == 2  # the first token, and one fresh one after the 401
    statuses = [s for _, p, s in emulator.request_log if p.startswith("/v1/artists/")]
    assert statuses == [401, 200]
    # A user's session refreshes with the user's refresh token the same way.
    user = int(world.connected_users[0])
    session = gateway.user_session("user:test", world.refresh_token(user))
    emulator.inject(Fault(kind="expired_token", path=r"^/v1/me$", times=1))
    assert gateway.me(session)["id"] == world.user_ids[user]
    assert gateway.stats.token_refreshes == 4


def test_a_token_refused_again_after_a_refresh_is_an_error_not_a_loop(world, emulator, gateway):
    emulator.inject(Fault(kind="expired_token", path=r"^/v1/artists/", times=-1))
    with pytest.raises(SpotifyApiError, match="HTTP 401"):
        gateway.get(gateway.app, "artist", id=world.artist_ids[0])
    assert [s for _, p, s in emulator.request_log if p.startswith("/v1/artists/")] == [401, 401]


def test_unknown_ids_are_reported_in_both_modes(world, emulator, gateway):
    unreleased = [world.track_ids[i] for i in range(len(world.track_ids))
                  if world.track_release_ordinal[i] > emulator.clock.date().toordinal()][:2]
    known = _released_tracks(world, emulator, 2)
    assert unreleased, "the tiny world should have releases after the clock"
    for mode in ("development", "extended"):
        emulator.mode = mode
        gateway.batch_available = None
        found, failed = gateway.tracks(known + unreleased)
        assert list(found) == known
        assert set(failed) == set(unreleased) and all("404" in r for r in failed.values())


def test_expired_refresh_token_is_reported_by_label_only(world, gateway):
    user = world.expired_token_user
    with pytest.raises(RefreshTokenExpired, match="user:some-label") as info:
        gateway.user_session("user:some-label", world.refresh_token(user))
    assert world.user_ids[user] not in str(info.value)


def _released_tracks(world: World, emulator: SpotifyEmulator, n: int) -> list[str]:
    cutoff = emulator.clock.date().toordinal()
    return [world.track_ids[i] for i in range(len(world.track_ids)) if world.track_release_ordinal[i] <= cutoff][:n]


def test_development_mode_falls_back_from_batch_to_single_gets(world, emulator, gateway):
    ids = _released_tracks(world, emulator, 7)
    tracks, failed = gateway.tracks(ids)
    assert list(tracks) == ids and not failed
    assert gateway.batch_available is False
    assert all("popularity" not in t for t in tracks.values())
    singles = [p for _, p, s in emulator.request_log if p.startswith("/v1/tracks/") and s == 200]
    assert len(singles) == 7


def test_extended_mode_uses_batch_endpoints_and_keeps_popularity(world, emulator, gateway):
    emulator.mode = "extended"
    ids = _released_tracks(world, emulator, 7)
    tracks, _ = gateway.tracks(ids)
    assert list(tracks) == ids
    assert gateway.batch_available is True
    assert all(isinstance(t["popularity"], int) for t in tracks.values())
    track_calls = [p for _, p, _ in emulator.request_log if p.startswith("/v1/tracks")]
    assert len(track_calls) == 1 and track_calls[0].startswith("/v1/tracks?ids=")


def test_a_failing_batch_endpoint_falls_back_to_single_gets(world, emulator, gateway, sleeps):
    emulator.mode = "extended"
    emulator.inject(Fault(kind="503", path=r"^/v1/tracks$", times=-1))
    ids = _released_tracks(world, emulator, 5)
    tracks, failed = gateway.tracks(ids)
    assert list(tracks) == ids and not failed
    assert gateway.stats.batch_fallbacks == 1
    assert len([p for _, p, s in emulator.request_log if p.startswith("/v1/tracks/") and s == 200]) == 5


def test_recently_played_pages_back_in_time_until_the_cursor(world, emulator, gateway):
    emulator.mode = "extended"  # extended quota shows more than the latest 50
    user = int(world.connected_users[0])
    session = gateway.user_session("user:test", world.refresh_token(user))
    start = int(dt.datetime.combine(emulator.clock.date(), dt.time(), dt.UTC).timestamp() * 1000)
    plays = gateway.recently_played(session, after_ms=start - 1)
    stamps = [p["played_at"] for p in plays]
    day = emulator.clock.date().isoformat()
    assert len(plays) > 50 and all(s.startswith(day) for s in stamps) and stamps == sorted(stamps, reverse=True)
    # (A request retried after a timeout on a busy machine shows twice: the pages are the distinct requests.)
    calls = list(dict.fromkeys(p for _, p, _ in emulator.request_log if "recently-played" in p))
    assert "before=" not in calls[0] and all("before=" in c and "limit=50" in c for c in calls[1:])


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
        _track(gw, world.track_ids[0])


def test_a_silent_accounts_service_times_out_too(world, sleeps, black_hole):
    gw = SpotifyGateway(api_url="http://127.0.0.1:9/v1/", accounts_url=f"http://127.0.0.1:{black_hole}/",
                        client_id="c", client_secret="s", timeout_s=0.3, policy=RetryPolicy(max_attempts=2),
                        sleep=sleeps)
    user = int(world.connected_users[0])
    with pytest.raises(SpotifyUnavailable, match="accounts"):
        gw.user_session("user:test", world.refresh_token(user))


def test_an_impossible_release_date_is_a_field_error_not_a_crash() -> None:
    from spotify_ai_assets.core.kernel.records import InvalidRecord, release_day

    assert release_day("2026-02") == dt.date(2026, 2, 1)
    for value in ("0000", "2026-13-40"):
        with pytest.raises(InvalidRecord) as err:
            release_day(value)
        assert err.value.field == "release_date" and value in err.value.reason


def test_a_new_release_is_detected_through_a_paged_catalog_crawl(world, emulator, gateway):
    from spotify_ai_assets.core.analytics.artist_monitoring import alerts_for, monitor
    from spotify_ai_assets.core.analytics.trends import trends_schema
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
    table = monitor(day, today.artists, today.albums, before.albums, pa.table(stats), trends_schema().empty_table())
    (row,) = table.to_pylist()
    assert row["new_release_names"] == [world.album_name(release)]
    assert [a.kind for a in alerts_for(table)] == ["release"]
