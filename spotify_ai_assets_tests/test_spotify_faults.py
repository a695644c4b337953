"""Fault runs through Dagster against the spec-strict emulator: an access token expiring mid-crawl, one artist
failing 50 times, a playlist and a connected user failing after the retries. Each time everything else lands and
the asset's metadata and a warning check name what is missing and why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import dagster as dg
import pytest

from spotify_ai_assets.core.ingestion.catalog import DEFAULT_INCLUDE_GROUPS
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.privacy import user_label
from spotify_ai_assets.definitions import load_defs_folder
from spotify_ai_assets.emulator import Fault, SpotifyEmulator
from spotify_ai_assets.emulator.additions import Additions
from spotify_ai_assets.emulator.truth import catalog_truth, playlist_items, plays_of_day
from spotify_ai_assets.sandbox.world import World

from .spotify_prod import SALT, lake_root, prod_resources, spec_problems, watchlist

DAY = dt.date(2026, 1, 14)
CLOCK = dt.datetime(2026, 1, 14, 23, 59, 59, 999_000, tzinfo=dt.UTC)
FAST = {"backoff_base_s": 0.01, "backoff_max_s": 0.05}  # the retries still happen, without the waiting


def assets(*keys: str) -> list[dg.AssetsDefinition]:
    return [a for a in load_defs_folder().assets if {k.to_user_string() for k in a.keys} & set(keys)]


@pytest.fixture(params=["development", "extended"])
def emulator(request, world: World) -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator(world, clock=CLOCK, mode=request.param) as emu:
        yield emu


def materialize(tmp_path, emulator, world, *keys: str, exports: bool = False) -> dg.ExecuteInProcessResult:
    resources = prod_resources(tmp_path, emulator, world, exports=exports, **FAST)
    return dg.materialize(assets(*keys), resources=resources, partition_key=DAY.isoformat(), raise_on_error=False)


def check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    return next(c for c in result.get_asset_check_evaluations() if c.check_name == name)


def test_an_access_token_expiring_mid_crawl_is_refreshed_and_nothing_is_lost(tmp_path, emulator, world):
    artist = watchlist(world)["artists"][3]
    emulator.inject(Fault("expired_token", path=f"^/v1/artists/{artist}/albums$", times=1))
    emulator.inject(Fault("expired_token", path="^/v1/me/player/recently-played$", times=1))
    result = materialize(tmp_path, emulator, world, "spotify_artists", "recently_played", "listening_events")
    assert result.success
    lake = Lake(lake_root(tmp_path))
    truth = catalog_truth(emulator.catalog, watchlist(world)["artists"], DAY, DEFAULT_INCLUDE_GROUPS)
    assert set(lake.read("spotify_tracks", DAY.isoformat())["track_id"].to_pylist()) == truth.tracks
    assert set(lake.read("spotify_albums", DAY.isoformat())["album_id"].to_pylist()) == set(truth.albums)
    assert check(result, "catalog_complete").passed
    events = lake.read("listening_events", DAY.isoformat())
    for u in world.connected_users:
        if int(u) != world.expired_token_user:
            truth_plays = plays_of_day(emulator.plays, emulator.catalog, int(u), CLOCK, emulator.mode == "extended",
                                       DAY)
            mine = {(t, int(p.timestamp() * 1000)) for uid, t, p in zip(
                events["user_id"].to_pylist(), events["track_id"].to_pylist(), events["played_at"].to_pylist(),
                strict=True) if uid == world.user_ids[int(u)]}
            assert mine == truth_plays
    assert check(result, "connected_users_read").metadata["failed_users"].value == {}
    expired = [s for _, p, s in emulator.request_log if s == 401]
    assert expired == [401, 401]  # one per fault, each followed by a fresh token and a successful retry
    assert spec_problems(emulator.request_log) == [] and emulator.violations == []


def test_one_artist_failing_50_times_is_quarantined_and_every_other_artist_lands(tmp_path, emulator, world):
    artists = watchlist(world)["artists"]
    bad = artists[0]  # the heaviest artist: the longest discography
    emulator.inject(Fault("500", path=bad, times=50))
    result = materialize(tmp_path, emulator, world, "spotify_artists")
    assert result.success
    lake = Lake(lake_root(tmp_path))
    truth = catalog_truth(emulator.catalog, [a for a in artists if a != bad], DAY, DEFAULT_INCLUDE_GROUPS)
    part = DAY.isoformat()
    assert set(lake.read("spotify_artists", part)["artist_id"].to_pylist()) == truth.artists
    assert {r["album_id"]: r["artist_id"] for r in lake.read("spotify_albums", part).to_pylist()} == truth.albums
    assert set(lake.read("spotify_tracks", part)["track_id"].to_pylist()) == truth.tracks
    complete = check(result, "catalog_complete")
    assert not complete.passed and complete.severity == dg.AssetCheckSeverity.WARN
    missing = complete.metadata["missing"].value
    assert list(missing) == ["artists"] and list(missing["artists"]) == [bad]
    assert "gave up after 5 attempts: HTTP 500" in missing["artists"][bad]
    quarantined = lake.read("quarantine/spotify_tracks", part).to_pylist()
    assert [q["record_ref"] for q in quarantined] == [f"artist {bad}"]
    md = next(m for m in result.get_asset_materialization_events()
              if m.asset_key.to_user_string() == "spotify_artists").materialization.metadata
    assert list(md["missing_artists"].value) == [bad]


def test_a_failing_batch_endpoint_falls_back_to_single_gets(tmp_path, world):
    with SpotifyEmulator(world, clock=CLOCK, mode="extended") as emulator:
        emulator.inject(Fault("503", path="^/v1/(tracks|artists)$", times=-1))
        result = materialize(tmp_path, emulator, world, "spotify_artists")
        assert result.success and check(result, "catalog_complete").passed
        truth = catalog_truth(emulator.catalog, watchlist(world)["artists"], DAY, DEFAULT_INCLUDE_GROUPS)
        lake = Lake(lake_root(tmp_path))
        assert set(lake.read("spotify_tracks", DAY.isoformat())["track_id"].to_pylist()) == truth.tracks
        singles = [p for _, p, s in emulator.request_log if p.startswith("/v1/tracks/") and s == 200]
        assert len(singles) == len(truth.tracks)


def test_a_failing_playlist_is_quarantined_and_the_others_land(tmp_path, emulator, world):
    large, collaborative = (p.playlist_id for p in Additions(world).playlists)
    emulator.inject(Fault("503", path=f"^/v1/playlists/{large}/items$", times=-1))
    result = materialize(tmp_path, emulator, world, "playlist_snapshots")
    assert result.success
    rows = Lake(lake_root(tmp_path)).read("playlist_snapshots", DAY.isoformat()).to_pandas()
    assert large not in set(rows["playlist_id"])
    mine = rows[rows["playlist_id"] == collaborative].sort_values("position")
    assert mine["track_id"].tolist() == playlist_items(emulator.catalog, collaborative, DAY)
    readable = check(result, "playlists_readable")
    assert not readable.passed
    assert "failed after retries" in readable.metadata["unreadable"].value[large]
    assert "HTTP 503" in readable.metadata["unreadable"].value[large]


def test_a_failing_connected_user_is_quarantined_and_the_others_land(tmp_path, emulator, world):
    active = sorted(world.user_ids[int(u)] for u in world.connected_users if int(u) != world.expired_token_user)
    first = active[0]  # users are read in id order; the fault wears off after the first one's five attempts
    emulator.inject(Fault("503", path="^/v1/me/player/recently-played$", times=5))
    result = materialize(tmp_path, emulator, world, "recently_played", "listening_events")
    assert result.success
    events = Lake(lake_root(tmp_path)).read("listening_events", DAY.isoformat())
    users = set(events["user_id"].to_pylist())
    assert first not in users and set(active[1:]) <= users
    read = check(result, "connected_users_read")
    assert not read.passed
    failed = read.metadata["failed_users"].value
    assert list(failed) == [user_label(SALT, first)] and "HTTP 503" in failed[user_label(SALT, first)]
    assert first not in str(read.metadata)


def test_albums_an_artist_appears_on_are_crawled_when_asked_for(tmp_path, world):
    groups = ["album", "single", "compilation", "appears_on"]
    with SpotifyEmulator(world, clock=CLOCK) as emulator:
        resources = prod_resources(tmp_path, emulator, world, exports=False, **FAST)
        config = dg.RunConfig(ops={"spotify_catalog": {"config": {"include_groups": groups}}})
        result = dg.materialize(assets("spotify_artists"), resources=resources, partition_key=DAY.isoformat(),
                                run_config=config)
        assert result.success
        truth = catalog_truth(emulator.catalog, watchlist(world)["artists"], DAY, groups)
        albums = Lake(lake_root(tmp_path)).read("spotify_albums", DAY.isoformat()).to_pylist()
        assert {a["album_id"]: a["artist_id"] for a in albums} == truth.albums
        assert "appears_on" in {a["album_group"] for a in albums}
        tracks = Lake(lake_root(tmp_path)).read("spotify_tracks", DAY.isoformat())["track_id"].to_pylist()
        assert set(tracks) == truth.tracks
        requests = [p for _, p, _ in emulator.request_log if "/albums?" in p and p.startswith("/v1/artists/")]
        assert requests and all("include_groups=album%2Csingle%2Ccompilation%2Cappears_on" in p for p in requests)
