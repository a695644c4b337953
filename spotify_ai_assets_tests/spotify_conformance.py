"""The issue's "done when" for one API mode: `daily_refresh_job` against the spec-strict emulator with connected
users only (no export files) and with both sources; the lake equals the emulator's truth and every request the
client sent is valid under the spec. test_spotify_conformance_{development,extended}.py run it per mode (two
files, so the two modes run in parallel)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc

from spotify_ai_assets.core.ingestion.catalog import DEFAULT_INCLUDE_GROUPS
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.privacy import user_label
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.emulator.additions import COLLABORATIVE_PLAYLIST_SIZE, LARGE_PLAYLIST_SIZE, Additions
from spotify_ai_assets.emulator.truth import catalog_truth, playlist_items, plays_of_day, readable_playlists
from spotify_ai_assets.sandbox.world import World

from .spotify_prod import KNOWN_ENDPOINTS, SALT, daily_job, endpoints_used, lake_root, prod_resources, spec_problems
from .spotify_prod import watchlist as sandbox_watchlist

DAY = dt.date(2026, 1, 14)
CLOCK = dt.datetime(2026, 1, 14, 23, 59, 59, 999_000, tzinfo=dt.UTC)


@dataclass
class Run:
    mode: str
    exports: bool
    result: dg.ExecuteInProcessResult
    lake: Lake
    emulator: SpotifyEmulator
    request_log: list[tuple[str, str, int]]


def run_day(root: Path, world: World, mode: str, exports: bool) -> Run:
    with SpotifyEmulator(world, clock=CLOCK, mode=mode) as emulator:
        resources = prod_resources(root, emulator, world, exports=exports)
        result = daily_job(resources).execute_in_process(partition_key=DAY.isoformat(),
                                                         instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
        return Run(mode, exports, result, Lake(lake_root(root)), emulator, emulator.request_log)


def check_job_succeeded(run: Run) -> None:
    failed = [e.step_key for e in run.result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert run.result.success, f"failed steps: {failed}"
    blocking = [c for c in run.result.get_asset_check_evaluations()
                if not c.passed and c.severity == dg.AssetCheckSeverity.ERROR]
    assert not blocking, [(c.asset_key.to_user_string(), c.check_name) for c in blocking]
    suite = [c for c in run.result.get_asset_check_evaluations() if c.check_name == "listening_events_suite"]
    assert suite and suite[0].passed


def check_catalog(run: Run, world: World) -> None:
    truth = catalog_truth(run.emulator.catalog, sandbox_watchlist(world)["artists"], DAY, DEFAULT_INCLUDE_GROUPS)
    part = DAY.isoformat()
    artists = set(run.lake.read("spotify_artists", part)["artist_id"].to_pylist())
    albums = run.lake.read("spotify_albums", part).to_pylist()
    tracks = run.lake.read("spotify_tracks", part)["track_id"].to_pylist()
    assert artists == truth.artists
    assert {a["album_id"]: a["artist_id"] for a in albums} == truth.albums and len(albums) == len(truth.albums)
    assert sorted(tracks) == sorted(truth.tracks)
    groups = {a["album_group"] for a in albums}
    assert "compilation" in groups and "appears_on" not in groups  # the default include_groups
    checks = {c.check_name: c for c in run.result.get_asset_check_evaluations()}
    assert checks["catalog_complete"].passed


def check_playlists(run: Run, world: World) -> None:
    catalog = run.emulator.catalog
    tracked = sandbox_watchlist(world)["playlists"]
    active = [world.user_ids[int(u)] for u in world.connected_users if int(u) != world.expired_token_user]
    readable = readable_playlists(catalog, tracked, active, run.mode == "extended")
    rows = run.lake.read("playlist_snapshots", DAY.isoformat()).to_pandas()
    assert set(rows["playlist_id"]) == {p for p in readable if playlist_items(catalog, p, DAY)}
    for pid in readable:
        mine = rows[rows["playlist_id"] == pid].sort_values("position")
        assert mine["track_id"].tolist() == playlist_items(catalog, pid, DAY), pid
        assert mine["position"].tolist() == list(range(len(mine)))
    large, collaborative = (p.playlist_id for p in Additions(world).playlists)
    assert (rows["playlist_id"] == large).sum() == LARGE_PLAYLIST_SIZE
    assert (rows["playlist_id"] == collaborative).sum() == COLLABORATIVE_PLAYLIST_SIZE
    check = next(c for c in run.result.get_asset_check_evaluations() if c.check_name == "playlists_readable")
    unreadable = check.metadata["unreadable"].value
    assert set(unreadable) == set(tracked) - readable
    assert all("not readable" in reason for reason in unreadable.values())
    read_as = check.metadata["read_as"].value
    assert read_as[collaborative] == "collaborator " + user_label(SALT, world.user_ids[int(world.connected_users[1])])
    assert read_as[large] == "owner " + user_label(SALT, world.user_ids[int(world.connected_users[0])])


def check_recently_played(run: Run, world: World) -> None:
    events = run.lake.read("listening_events", DAY.isoformat())
    keys = list(zip(events["user_id"].to_pylist(), events["track_id"].to_pylist(),
                    (int(t.timestamp() * 1000) for t in events["played_at"].to_pylist()), strict=True))
    assert len(keys) == len(set(keys))
    sources = set(events["source"].to_pylist())
    assert sources == ({"export", "recently_played"} if run.exports else {"recently_played"})
    catalog, plays = run.emulator.catalog, run.emulator.plays
    present = set(keys)
    for u in world.connected_users:
        u = int(u)
        truth = plays_of_day(plays, catalog, u, CLOCK, run.mode == "extended", DAY)
        mine = {(t, ms) for uid, t, ms in keys if uid == world.user_ids[u]}
        if u == world.expired_token_user:
            assert not run.exports or mine, "exports still carry the expired user's plays"
            continue
        assert truth, "the fixture should give every connected user plays on the day"
        # Every play the API shows lands exactly once (as the richer export row when both sources have it).
        assert truth <= mine and all((world.user_ids[u], t, ms) in present for t, ms in truth)
        if not run.exports:
            assert mine == truth
    if not run.exports:
        recent = events.filter(pc.equal(events["source"], "recently_played"))
        assert recent["ms_played"].null_count == recent.num_rows  # what recently-played cannot fill stays null


def check_requests(run: Run) -> None:
    assert spec_problems(run.request_log) == []
    # (The accounts service's 400 invalid_grant for the expired user is the expected answer, not a bad request.)
    assert not [r for r in run.request_log if r[1].startswith("/v1/") and r[2] in (400, 405)]
    assert run.emulator.violations == []
    used = endpoints_used(run.request_log)
    assert used <= KNOWN_ENDPOINTS, used - KNOWN_ENDPOINTS
    batch = {"GET /tracks", "GET /artists"}
    if run.mode == "extended":
        assert batch <= used
    else:  # refused once each, then single GETs
        refused = [r for r in run.request_log if r[1].startswith(("/v1/tracks?", "/v1/artists?"))]
        assert all(r[2] == 403 for r in refused) and len(refused) <= 2
