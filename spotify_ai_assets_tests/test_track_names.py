"""Names for the day's top and flagged tracks outside the catalog: which tracks are looked up, and a malformed or
unknown track is quarantined while the others land (the gateway against the emulator, over HTTP)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from spotify_ai_assets.core.ingestion.track_names import look_up, wanted_tracks
from spotify_ai_assets.emulator import Fault

DAY = dt.date(2026, 1, 20)
IDS = {n: f"{n:0>22}" for n in ("a", "b", "c", "d", "e")}  # 22-character ids


def _track(tid: str, name: str = "Song") -> dict:
    return {"id": tid, "name": name, "artists": [{"id": "1" * 22, "name": "Band"}],
            "album": {"id": "2" * 22, "name": "Record"}}


def test_the_top_and_flagged_tracks_outside_the_catalog_are_wanted() -> None:
    stats = pa.table({"track_id": [IDS["a"], IDS["a"], IDS["b"], IDS["c"]], "country": ["SE", "FR", "SE", "SE"],
                      "plays": [5, 5, 8, 1]})
    trends = pa.table({"entity_id": [IDS["d"]]})
    catalog = pa.table({"track_id": [IDS["b"]]})
    assert wanted_tracks(stats, trends, catalog, top=2) == [IDS["a"], IDS["d"]]  # c is not top 2; b is known


def test_a_bad_or_unknown_track_is_quarantined_and_the_others_land(world, emulator, gateway) -> None:
    """Through the gateway against the emulator: one track's answer loses its id and name, one id is not (yet)
    released, and the rest are named with their artist and album."""
    today = emulator.clock.date().toordinal()
    released = [world.track_ids[i] for i in range(len(world.track_ids)) if world.track_release_ordinal[i] <= today]
    unreleased = next(world.track_ids[i] for i in range(len(world.track_ids))
                      if world.track_release_ordinal[i] > today)
    good, broken = released[:2], released[2]
    emulator.inject(Fault(kind="missing_fields", path=f"^/v1/tracks/{broken}$", times=-1))
    result = look_up(gateway, [*good, broken, unreleased], DAY)
    assert result.names["track_id"].to_pylist() == good and result.asked == 4
    for row in result.names.to_pylist():
        i = world.track_ids.index(row["track_id"])
        assert row["track_name"] == world.track_name(i)
        assert row["artist_name"] == world.artist_name(int(world.track_artist[i]))
        assert row["album_name"] == world.album_name(int(world.track_album[i]))
    reasons = {q["record_ref"]: q["field"] for q in result.quarantine.to_pylist()}
    assert reasons == {f"track {broken}": "id", f"track {unreleased}": "<request>"}
