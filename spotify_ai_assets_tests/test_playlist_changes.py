"""Playlist diffs on crafted snapshots: adds, removals, moves, duplicates, unchanged and unreadable playlists."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from spotify_ai_assets.core.analytics.playlist_changes import CHANGES_SCHEMA, diff_snapshots
from spotify_ai_assets.core.ingestion.playlists import PLAYLIST_ROWS_SCHEMA

DAY = dt.date(2026, 1, 14)


def snapshot(day: dt.date, playlists: dict[str, tuple[str, list[str]]]) -> pa.Table:
    rows = [{"snapshot_date": day, "playlist_id": pid, "snapshot_id": sid, "playlist_name": pid, "owner_id": "o",
             "position": n, "track_id": t, "added_at": None, "added_by": None}
            for pid, (sid, tracks) in playlists.items() for n, t in enumerate(tracks)]
    return pa.Table.from_pylist(rows, schema=PLAYLIST_ROWS_SCHEMA)


def changes(prev: dict, curr: dict) -> list[tuple]:
    table = diff_snapshots(snapshot(DAY - dt.timedelta(days=1), prev), snapshot(DAY, curr), DAY)
    assert table.schema == CHANGES_SCHEMA
    return [(r["playlist_id"], r["change"], r["track_id"], r["old_position"], r["new_position"])
            for r in table.to_pylist()]


def test_adds_removals_and_a_single_move() -> None:
    prev = {"p": ("s1", ["A", "B", "C", "D", "E"])}
    curr = {"p": ("s2", ["B", "C", "A", "E", "F"])}  # A moved down, D removed, F added
    assert changes(prev, curr) == [
        ("p", "added", "F", None, 4),
        ("p", "moved", "A", 0, 2),
        ("p", "removed", "D", 3, None),
    ]


def test_a_swap_of_neighbours_moves_both_and_shifts_are_not_moves() -> None:
    assert changes({"p": ("s1", ["A", "B", "C"])}, {"p": ("s2", ["B", "A", "C"])}) == [
        ("p", "moved", "B", 1, 0), ("p", "moved", "A", 0, 1)]
    # A track inserted at the top shifts every position by one; nothing moved.
    assert changes({"p": ("s1", ["A", "B", "C"])}, {"p": ("s2", ["X", "A", "B", "C"])}) == [
        ("p", "added", "X", None, 0)]


def test_duplicates_are_matched_occurrence_by_occurrence() -> None:
    assert changes({"p": ("s1", ["A", "B"])}, {"p": ("s2", ["A", "B", "A"])}) == [("p", "added", "A", None, 2)]
    # First copy matched with first copy: the second A is the one removed, and the first A and B swapped.
    assert changes({"p": ("s1", ["A", "B", "A"])}, {"p": ("s2", ["B", "A"])}) == [
        ("p", "moved", "B", 1, 0), ("p", "moved", "A", 0, 1), ("p", "removed", "A", 2, None)]


def test_unchanged_and_unreadable_playlists_report_nothing() -> None:
    prev = {"same": ("s1", ["A", "B"]), "gone": ("s1", ["A", "B"])}
    curr = {"same": ("s1", ["A", "B"]), "new": ("s9", ["C"])}  # "gone" was not readable today, "new" is new
    assert changes(prev, curr) == []


def test_the_asset_diffs_yesterday_and_today_from_the_lake(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.playlist_changes import playlist_changes
    from spotify_ai_assets.lib.resources.lake import LakeResource

    lake = Lake(str(tmp_path / "lake"))
    yesterday = DAY - dt.timedelta(days=1)
    lake.write("playlist_snapshots", snapshot(yesterday, {"p": ("s1", ["A", "B", "C"])}), yesterday.isoformat())
    lake.write("playlist_snapshots", snapshot(DAY, {"p": ("s2", ["C", "A", "B", "D"])}), DAY.isoformat())
    resources = {"lake": LakeResource(root=str(tmp_path / "lake"))}
    result = dg.materialize([playlist_changes], partition_key=DAY.isoformat(), resources=resources)
    assert result.success
    stored = lake.read("playlist_changes", DAY.isoformat()).to_pylist()
    assert [(r["change"], r["track_id"]) for r in stored] == [("added", "D"), ("moved", "C")]
    md = result.asset_materializations_for_node("playlist_changes")[0].metadata
    assert md["changes_by_kind"].value == {"added": 1, "moved": 1}
    assert md["compared_with"].value == yesterday.isoformat()
    # The first snapshot has nothing to compare with: an empty partition, said so.
    first = dg.materialize([playlist_changes], partition_key=yesterday.isoformat(), resources=resources)
    assert first.success and lake.row_count("playlist_changes", yesterday.isoformat()) == 0


def test_the_effect_of_an_add_compares_the_week_after_with_the_week_before(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.playlist_changes import playlist_add_effects
    from spotify_ai_assets.lib.resources.lake import LakeResource

    lake = Lake(str(tmp_path / "lake"))
    added_on = DAY - dt.timedelta(days=7)
    lake.write("playlist_changes", diff_snapshots(snapshot(added_on, {"p": ("s1", ["A"])}),
                                                  snapshot(added_on, {"p": ("s2", ["A", "B", "C"])}), added_on),
               added_on.isoformat())
    for k in range(-7, 8):  # B: 10 listeners a day before the add, 25 after; C: none before, 4 after
        d = added_on + dt.timedelta(days=k)
        rows = [("B", "DE", 6 if k < 0 else 15), ("B", "FR", 4 if k < 0 else 10)] + ([("C", "US", 4)] if k > 0 else [])
        lake.write("daily_track_country_stats", pa.Table.from_pylist(
            [{"date": d, "track_id": t, "country": c, "listeners": n, "plays": n} for t, c, n in rows]), d.isoformat())
    result = dg.materialize([playlist_add_effects], partition_key=DAY.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    effects = {r["track_id"]: r for r in lake.read("playlist_add_effects", DAY.isoformat()).to_pylist()}
    assert set(effects) == {"B", "C"}
    b, c = effects["B"], effects["C"]
    assert (b["listeners_per_day_before"], b["listeners_per_day_after"], b["lift"]) == (10.0, 25.0, 1.5)
    assert (c["listeners_per_day_before"], c["listeners_per_day_after"], c["lift"]) == (0.0, 4.0, None)
    assert b["added_on"] == added_on
