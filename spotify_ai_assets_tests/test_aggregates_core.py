"""The daily aggregates' SQL on hand-made plays whose answers are known."""

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from spotify_ai_assets.core.aggregates import (
    ARTIST_EXACT_SQL,
    ARTIST_SQL,
    COLLISION,
    TRACK_COUNTRY_EXACT_SQL,
    TRACK_COUNTRY_SQL,
    USER_SQL,
    aggregate,
    artist_sql,
    track_country_sql,
)
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import day_events

DAY = dt.date(2026, 1, 5)
SCHEMA = pa.schema([("user_id", pa.string()), ("track_id", pa.string()), ("artist_id", pa.string()),
                    ("played_at", pa.timestamp("us", tz="UTC")), ("ms_played", pa.int64()),
                    ("skipped", pa.bool_()), ("country", pa.string())])


def _at(hh: int, mm: int) -> dt.datetime:
    return dt.datetime(2026, 1, 5, hh, mm, tzinfo=dt.UTC)


MIN = 60_000
PLAYS = pa.Table.from_pylist([
    # ana: 10:00 + 3 min, 10:32 starts 29 min after that end (same session), 11:10 starts 35 min after 10:35 (new);
    # listed out of order, as a file may hold them.
    {"user_id": "ana", "track_id": "t2", "artist_id": "a1", "played_at": _at(11, 10), "ms_played": 2 * MIN,
     "skipped": True, "country": "DE"},
    {"user_id": "ana", "track_id": "t1", "artist_id": "a1", "played_at": _at(10, 0), "ms_played": 3 * MIN,
     "skipped": False, "country": "DE"},
    {"user_id": "ana", "track_id": "t1", "artist_id": "a1", "played_at": _at(10, 32), "ms_played": 3 * MIN,
     "skipped": False, "country": "DE"},
    # bo: a recently-played row has no ms_played: it counts as a zero-length play. 10:00 and 10:31 (gap 31: new).
    {"user_id": "bo", "track_id": "t1", "artist_id": "a1", "played_at": _at(10, 0), "ms_played": None,
     "skipped": None, "country": None},
    {"user_id": "bo", "track_id": "t3", "artist_id": "a2", "played_at": _at(10, 31), "ms_played": MIN,
     "skipped": False, "country": "DE"},
    # cy: two plays starting at the same second, one long (ends 10:40), one short (ends 10:01); the next play at
    # 10:35 is 34 min after the short one ends but inside the long one: ties sort by length, the long one is last.
    {"user_id": "cy", "track_id": "t1", "artist_id": "a1", "played_at": _at(10, 0), "ms_played": 40 * MIN,
     "skipped": False, "country": "FR"},
    {"user_id": "cy", "track_id": "t3", "artist_id": "a2", "played_at": _at(10, 0), "ms_played": MIN,
     "skipped": True, "country": "FR"},
    {"user_id": "cy", "track_id": "t2", "artist_id": "a1", "played_at": _at(10, 35), "ms_played": MIN,
     "skipped": False, "country": "FR"},
], schema=SCHEMA)


def _rows(sql: str, key: str) -> dict:
    return {r[key]: r for r in aggregate(sql, PLAYS, DAY).to_pylist()}


def test_sessions_follow_the_gap_from_the_end_of_the_previous_play() -> None:
    users = _rows(USER_SQL, "user_id")
    assert {u: (r["sessions"], r["plays"], r["minutes"]) for u, r in users.items()} == {
        "ana": (2, 3, 8.0), "bo": (2, 2, 1.0), "cy": (1, 3, 42.0)}
    assert all(r["date"] == DAY for r in users.values())


def test_track_country_and_artist_counts_distinct_listeners_and_rates_over_known_plays() -> None:
    tc = {(r["track_id"], r["country"]): r for r in aggregate(TRACK_COUNTRY_SQL, PLAYS, DAY).to_pylist()}
    assert (tc["t1", "DE"]["plays"], tc["t1", "DE"]["listeners"], tc["t1", "DE"]["ms_played"]) == (2, 1, 6 * MIN)
    assert (tc["t1", "XX"]["plays"], tc["t1", "XX"]["ms_played"], tc["t1", "XX"]["skip_rate"]) == (1, 0, None)
    artists = _rows(ARTIST_SQL, "artist_id")
    assert (artists["a1"]["plays"], artists["a1"]["listeners"], artists["a1"]["tracks_played"]) == (6, 3, 2)
    assert artists["a2"]["skip_rate"] == 0.5


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def test_listeners_counted_per_user_equal_count_distinct_on_a_sandbox_day() -> None:
    events = day_events(World(seed=7, scale="tiny"), EPOCH)
    for fast, exact in ((TRACK_COUNTRY_SQL, TRACK_COUNTRY_EXACT_SQL), (ARTIST_SQL, ARTIST_EXACT_SQL)):
        rows = _sorted(aggregate(fast, events, EPOCH))
        assert len(rows) > 20 and rows == _sorted(aggregate(exact, events, EPOCH))


def test_plays_without_a_user_count_no_listener_in_either_form() -> None:
    anonymous = pa.Table.from_pylist([{"user_id": None, "track_id": "t9", "artist_id": "a9", "played_at": _at(9, 0),
                                       "ms_played": MIN, "skipped": False, "country": "DE"}], schema=SCHEMA)
    plays = pa.concat_tables([PLAYS, anonymous])
    for fast, exact in ((TRACK_COUNTRY_SQL, TRACK_COUNTRY_EXACT_SQL), (ARTIST_SQL, ARTIST_EXACT_SQL)):
        rows = _sorted(aggregate(fast, plays, DAY))
        assert rows == _sorted(aggregate(exact, plays, DAY))
        assert [r["listeners"] for r in rows if "t9" in r.values() or "a9" in r.values()] == [0]


def test_a_group_key_hash_collision_falls_back_to_the_exact_query() -> None:
    # A hash with two values must collide on this day's groups: the guard stops the fast query...
    weak_tc, weak_artist = track_country_sql("hash(track_id, country) % 2"), artist_sql("hash(artist_id) % 2")
    with pytest.raises(duckdb.InvalidInputException, match=COLLISION):
        aggregate(weak_tc, PLAYS, DAY, exact=None)
    # ... and the exact form answers, so no listener count is ever merged across groups.
    assert _sorted(aggregate(weak_tc, PLAYS, DAY, exact=TRACK_COUNTRY_EXACT_SQL)) == _sorted(
        aggregate(TRACK_COUNTRY_SQL, PLAYS, DAY))
    assert _sorted(aggregate(weak_artist, PLAYS, DAY, exact=ARTIST_EXACT_SQL)) == _sorted(
        aggregate(ARTIST_SQL, PLAYS, DAY))
