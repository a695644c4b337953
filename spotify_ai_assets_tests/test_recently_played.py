"""recently_played: the connected users' plays of a day, its own step in the Spotify pool, kept across runs.

Spotify shows only the latest 50 plays (development mode), so a partition read at noon and again at midnight must
hold both reads' plays; listening_events merges them with the export files without calling the API itself."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pyarrow.compute as pc
import pytest

from spotify_ai_assets.core.ingestion.listening_events import recent_table
from spotify_ai_assets.core.ingestion.recently_played import captured_until, merge_captures
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.definitions import load_defs_folder
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.emulator.truth import plays_of_day
from spotify_ai_assets.sandbox.world import World

from .spotify_prod import lake_root, prod_resources

DAY = dt.date(2026, 1, 14)
NOON = dt.datetime(2026, 1, 14, 12, 0, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2026, 1, 14, 23, 59, 59, 999_000, tzinfo=dt.UTC)


def _play(user: str, track: str, minute: int) -> dict:
    return {"user_id": user, "track_id": track, "artist_id": "a", "country": None,
            "played_at": dt.datetime(2026, 1, 14, 10, minute, tzinfo=dt.UTC)}


def test_merge_keeps_every_earlier_capture_once_in_play_order() -> None:
    earlier = [_play("u1", "t1", 5), _play("u2", "t2", 1)]
    new = [_play("u1", "t3", 9), _play("u1", "t1", 5)]  # one play seen again
    merged = merge_captures(earlier, new)
    assert [(r["user_id"], r["track_id"]) for r in merged.to_pylist()] == [("u2", "t2"), ("u1", "t1"), ("u1", "t3")]
    # The same play keeps the same event id whichever run captured it.
    assert merged.column("event_id").to_pylist() == recent_table(
        [_play("u2", "t2", 1), _play("u1", "t1", 5), _play("u1", "t3", 9)]).column("event_id").to_pylist()
    assert merged.schema == recent_table([]).schema
    assert captured_until(merged.to_pylist()) == {
        "u1": int(dt.datetime(2026, 1, 14, 10, 9, tzinfo=dt.UTC).timestamp() * 1000),
        "u2": int(dt.datetime(2026, 1, 14, 10, 1, tzinfo=dt.UTC).timestamp() * 1000)}


def _assets(*keys: str) -> list[dg.AssetsDefinition]:
    return [a for a in load_defs_folder().assets if {k.to_user_string() for k in a.keys} & set(keys)]


def _captured(lake: Lake, table: str) -> dict[str, set[tuple[str, int]]]:
    rows = lake.read(table, DAY.isoformat())
    if "source" in rows.column_names:
        rows = rows.filter(pc.equal(rows["source"], "recently_played"))
    out: dict[str, set[tuple[str, int]]] = {}
    for r in rows.select(["user_id", "track_id", "played_at"]).to_pylist():
        out.setdefault(r["user_id"], set()).add((r["track_id"], int(r["played_at"].timestamp() * 1000)))
    return out


@pytest.mark.parametrize("legacy", [False, True], ids=["own-table", "from-listening-events"])
def test_a_second_read_adds_to_the_partition_and_loses_none_of_the_first(tmp_path, world: World,
                                                                        legacy: bool) -> None:
    lake = Lake(lake_root(tmp_path))
    with SpotifyEmulator(world, clock=NOON) as noon:
        resources = prod_resources(tmp_path, noon, world, exports=False)
        first = dg.materialize(_assets("recently_played", "listening_events"), resources=resources,
                               partition_key=DAY.isoformat())
        assert first.success
        truth_noon = {world.user_ids[int(u)]: plays_of_day(noon.plays, noon.catalog, int(u), NOON, False, DAY)
                      for u in world.connected_users if int(u) != world.expired_token_user}
    assert {u: p for u, p in _captured(lake, "recently_played").items() if p} == {
        u: p for u, p in truth_noon.items() if p}
    if legacy:  # a day ingested before recently_played had a table: its captures are in listening_events only
        lake.delete("recently_played", DAY.isoformat())

    (tmp_path / "second").mkdir()
    with SpotifyEmulator(world, clock=MIDNIGHT) as midnight:
        resources["spotify"] = prod_resources(tmp_path / "second", midnight, world, exports=False)["spotify"]
        second = dg.materialize(_assets("recently_played", "listening_events"), resources=resources,
                                partition_key=DAY.isoformat())
        assert second.success
        truth_midnight = {world.user_ids[int(u)]: plays_of_day(midnight.plays, midnight.catalog, int(u), MIDNIGHT,
                                                               False, DAY)
                          for u in world.connected_users if int(u) != world.expired_token_user}
    union = {u: truth_noon[u] | truth_midnight[u] for u in truth_noon}
    # The noon read's plays are no longer shown at midnight (only the latest 50 are): kept all the same.
    assert any(truth_noon[u] - truth_midnight[u] for u in truth_noon)
    want = {u: p for u, p in union.items() if p}
    assert _captured(lake, "recently_played") == want
    assert _captured(lake, "listening_events") == want
    md = second.asset_materializations_for_node("recently_played")[0].metadata
    assert md["captured_before"].value == sum(map(len, truth_noon.values()))
    assert md["captured_now"].value == sum(map(len, want.values())) - sum(map(len, truth_noon.values()))


def test_listening_events_needs_no_spotify_resource_and_holds_no_pool() -> None:
    by_key = {k.to_user_string(): a for a in load_defs_folder().assets for k in a.keys}
    events, captures = by_key["listening_events"], by_key["recently_played"]
    assert "spotify" not in events.required_resource_keys and "token_store" not in events.required_resource_keys
    assert events.op.pool is None and captures.op.pool == "spotify_api"
    assert dg.AssetKey("recently_played") in events.asset_deps[dg.AssetKey("listening_events")]
