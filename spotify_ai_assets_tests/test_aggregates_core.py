"""The daily aggregates on hand-made plays whose answers are known, and the one-pass form against the plain
reference SQL."""

import datetime as dt

import pyarrow as pa
import pytest

from spotify_ai_assets.core.analytics.daily_aggregates import AGGREGATES, REFERENCE_SQL, daily_aggregates
from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow
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


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple(str(v) for v in r.values()))


def _reference(events: Relation, day: dt.date = DAY) -> dict[str, list[dict]]:
    return {name: _sorted(sql_to_arrow(sql, {"events": events}, [day])) for name, sql in REFERENCE_SQL.items()}


def _fast(events: Relation, day: dt.date = DAY, **kwargs: object) -> dict[str, list[dict]]:
    result = daily_aggregates(events, day, **kwargs)
    assert result.fallbacks == {}
    return {name: _sorted(table) for name, table in result.tables.items()}


def _keyed(rows: list[dict], *key: str) -> dict:
    return {tuple(r[k] for k in key) if len(key) > 1 else r[key[0]]: r for r in rows}


@pytest.mark.parametrize("form", ["one pass", "reference"])
def test_sessions_follow_the_gap_from_the_end_of_the_previous_play(form: str) -> None:
    users = _keyed((_fast(PLAYS) if form == "one pass" else _reference(PLAYS))["user"], "user_id")
    assert {u: (r["sessions"], r["plays"], r["minutes"]) for u, r in users.items()} == {
        "ana": (2, 3, 8.0), "bo": (2, 2, 1.0), "cy": (1, 3, 42.0)}
    assert all(r["date"] == DAY for r in users.values())


@pytest.mark.parametrize("form", ["one pass", "reference"])
def test_track_country_and_artist_counts_distinct_listeners_and_rates_over_known_plays(form: str) -> None:
    tables = _fast(PLAYS) if form == "one pass" else _reference(PLAYS)
    tc = _keyed(tables["track_country"], "track_id", "country")
    assert (tc["t1", "DE"]["plays"], tc["t1", "DE"]["listeners"], tc["t1", "DE"]["ms_played"]) == (2, 1, 6 * MIN)
    assert (tc["t1", "XX"]["plays"], tc["t1", "XX"]["ms_played"], tc["t1", "XX"]["skip_rate"]) == (1, 0, None)
    artists = _keyed(tables["artist"], "artist_id")
    assert (artists["a1"]["plays"], artists["a1"]["listeners"], artists["a1"]["tracks_played"]) == (6, 3, 2)
    assert artists["a2"]["skip_rate"] == 0.5


def test_one_pass_equals_the_reference_sql_on_a_sandbox_day() -> None:
    events = day_events(World(seed=7, scale="tiny"), EPOCH)
    fast = _fast(events, EPOCH)
    assert all(len(fast[name]) > 20 for name in AGGREGATES)
    assert fast == _reference(events, EPOCH)


def test_only_the_requested_aggregates_are_computed() -> None:
    assert set(daily_aggregates(PLAYS, DAY, only=["user"]).tables) == {"user"}
    assert daily_aggregates(PLAYS, DAY, only=[]).tables == {}
    assert _fast(PLAYS, only=("artist", "track_country")) == {
        k: v for k, v in _reference(PLAYS).items() if k != "user"}
    with pytest.raises(ValueError, match="unknown aggregates \\['users'\\]"):
        daily_aggregates(PLAYS, DAY, only=["users"])


def test_plays_without_a_user_count_no_listener_in_either_form() -> None:
    anonymous = pa.Table.from_pylist([{"user_id": None, "track_id": "t9", "artist_id": "a9", "played_at": _at(9, 0),
                                       "ms_played": MIN, "skipped": False, "country": "DE"}], schema=SCHEMA)
    plays = pa.concat_tables([PLAYS, anonymous])
    fast = _fast(plays)
    assert fast == _reference(plays)
    for name in ("track_country", "artist"):
        assert [r["listeners"] for r in fast[name] if "t9" in r.values() or "a9" in r.values()] == [0]


def test_a_group_key_hash_collision_falls_back_to_the_reference_sql() -> None:
    # A hash with two values must collide on this day's groups: the guard stops the fast query, and the reference
    # form answers, so no listener count is ever merged across groups.
    result = daily_aggregates(PLAYS, DAY, key_hash="(hash({}) % 2)")
    assert result.fallbacks == {"track_country": "group key hash collision", "artist": "group key hash collision"}
    assert {name: _sorted(t) for name, t in result.tables.items()} == _reference(PLAYS)


@pytest.mark.parametrize("bad", [{"played_at": dt.datetime(2026, 1, 9, tzinfo=dt.UTC)}, {"ms_played": -5}],
                         ids=["three days later", "negative length"])
def test_a_play_the_session_packing_cannot_hold_falls_back_to_the_reference_sql(bad: dict) -> None:
    # Validated events never look like this; unvalidated input still gets an exact answer.
    odd = pa.Table.from_pylist([{**PLAYS.slice(0, 1).to_pylist()[0], **bad}], schema=SCHEMA)
    plays = pa.concat_tables([PLAYS, odd])
    result = daily_aggregates(plays, DAY)
    assert result.fallbacks == dict.fromkeys(AGGREGATES, "play outside the session packing range")
    assert {name: _sorted(t) for name, t in result.tables.items()} == _reference(plays)
