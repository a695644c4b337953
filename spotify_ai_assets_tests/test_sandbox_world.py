"""The synthetic Spotify world: determinism, catalog, scale, listening statistics, planted truths, exports."""

from __future__ import annotations

import datetime as dt
import inspect
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from spotify_ai_assets.sandbox import events as events_module
from spotify_ai_assets.sandbox.events import EVENT_SCHEMA, generate_day, generate_hour, hourly_counts, user_plays
from spotify_ai_assets.sandbox.exports import ExportManifest, day_dir, ensure_day_exports, write_day_exports
from spotify_ai_assets.sandbox.ids import SPOTIFY_ID_RE
from spotify_ai_assets.sandbox.world import (
    COUNTRIES,
    DEVICES,
    DIURNAL,
    EPOCH,
    GENRES,
    SCALES,
    WEEKLY,
    Breakout,
    World,
)

DAY = dt.date(2026, 1, 14)  # a Wednesday
ONE_DAY = dt.timedelta(days=1)
ISRC_RE = re.compile(r"^[A-Z]{2}[A-Z0-9]{3}\d{7}$")

DayCounts = Callable[[dt.date], np.ndarray]


@pytest.fixture(scope="module")
def small() -> World:
    return World(seed=7, scale="small")


@pytest.fixture(scope="module")
def bench() -> World:
    return World(seed=7, scale="bench")


def _day_table(world: World, day: dt.date) -> pa.Table:
    return pa.concat_tables([table for _, table in generate_day(world, day)])


def _indices(column: pa.ChunkedArray, ids: list[str]) -> np.ndarray:
    """Positions of a dictionary-encoded id column's values in the world's id list (via plain strings)."""
    idx = pc.index_in(column.cast(pa.string()), value_set=pa.array(ids))
    assert idx.null_count == 0, "an event refers to an id the world does not have"
    return idx.to_numpy()


@pytest.fixture(scope="module")
def small_plays(small: World) -> DayCounts:
    """Plays per track index on a day of the small world, generated once per day and cached for the module."""
    cache: dict[dt.date, np.ndarray] = {}

    def counts(day: dt.date) -> np.ndarray:
        if day not in cache:
            table = _day_table(small, day)
            cache[day] = np.bincount(_indices(table["track_id"], small.track_ids), minlength=len(small.track_ids))
        return cache[day]

    return counts


@pytest.fixture(scope="module")
def small_day(small: World) -> pa.Table:
    return _day_table(small, DAY)


# ---- determinism ---------------------------------------------------------------------------------


def test_same_seed_builds_the_same_world_and_events(world: World) -> None:
    twin = World(seed=7, scale="tiny")
    assert twin.artist_ids == world.artist_ids
    assert twin.album_ids == world.album_ids
    assert twin.track_ids == world.track_ids
    assert twin.user_ids == world.user_ids
    assert twin.playlist_ids == world.playlist_ids
    np.testing.assert_array_equal(twin.track_base_weight, world.track_base_weight)
    np.testing.assert_array_equal(twin.user_taste, world.user_taste)
    np.testing.assert_array_equal(twin.album_release, world.album_release)
    assert twin.truth() == world.truth()
    assert twin.playlist_snapshot(0, DAY) == world.playlist_snapshot(0, DAY)
    hour = generate_hour(world, DAY, 18)
    assert hour.num_rows > 0
    assert generate_hour(twin, DAY, 18).equals(hour)


def test_a_different_seed_builds_a_different_world(world: World) -> None:
    other = World(seed=8, scale="tiny")
    assert set(other.track_ids).isdisjoint(world.track_ids)
    assert set(other.artist_ids).isdisjoint(world.artist_ids)
    assert other.truth()["breakouts"] != world.truth()["breakouts"]
    assert not np.array_equal(other.user_taste, world.user_taste)
    mine, theirs = generate_hour(world, DAY, 18), generate_hour(other, DAY, 18)
    assert not theirs.equals(mine)
    assert set(theirs["track_id"].cast(pa.string()).to_pylist()).isdisjoint(world.track_ids)


# ---- identifiers and catalog ---------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["tiny", "small"])
def test_ids_are_unique_22_char_base62_and_isrcs_unique(scale: str, world: World, small: World) -> None:
    w = world if scale == "tiny" else small
    all_ids: list[str] = []
    for ids in (w.artist_ids, w.album_ids, w.track_ids, w.playlist_ids):
        assert len(set(ids)) == len(ids)
        assert all(SPOTIFY_ID_RE.fullmatch(i) for i in ids)
        assert all(len(i) == 22 for i in ids)
        all_ids += ids
    assert len(set(all_ids)) == len(all_ids), "ids collide across artists, albums, tracks and playlists"
    assert len(set(w.user_ids)) == len(w.user_ids) == w.scale.n_users
    isrcs = [w.track_isrc(i) for i in range(len(w.track_ids))]
    assert all(len(code) == 12 and ISRC_RE.fullmatch(code) for code in isrcs)
    assert len(set(isrcs)) == len(isrcs)


def test_ids_are_the_hash_in_base62_least_significant_digit_first() -> None:
    """The ids a world has always had (saved lakes, tokens and watchlists name them): the 136-bit BLAKE2b hash of
    (namespace, seed, index) in base62, one digit at a time, as `spotify_id` made them before it took two at a time."""
    import hashlib

    from spotify_ai_assets.sandbox.ids import BASE62, spotify_id

    def one_digit_at_a_time(namespace: str, seed: int, index: int) -> str:
        number = int.from_bytes(hashlib.blake2b(f"{namespace}:{seed}:{index}".encode(), digest_size=17).digest(),
                                "big")
        return "".join(BASE62[(number // 62**k) % 62] for k in range(22))

    for namespace, seed in itertools.product(("artist", "album", "track", "user", "playlist"), (0, 7, 12345)):
        for index in [*range(50), *range(50, 2_000_000, 9_973)]:
            assert spotify_id(namespace, seed, index) == one_digit_at_a_time(namespace, seed, index)


def test_isrcs_are_unique_at_bench_scale(bench: World) -> None:
    isrcs = [bench.track_isrc(i) for i in range(len(bench.track_ids))]
    duplicated = [code for code, n in Counter(isrcs).items() if n > 1]
    assert duplicated == []


def test_catalog_tracks_have_genre_duration_release_and_album_structure(small: World) -> None:
    w = small
    n_tracks, n_albums = len(w.track_ids), len(w.album_ids)
    assert n_tracks > n_albums > w.scale.n_artists
    assert set(np.unique(w.track_genre)) <= set(range(len(GENRES)))
    np.testing.assert_array_equal(w.track_genre, w.artist_genre[w.track_artist])
    assert w.track_duration_ms.min() >= 90_000 and w.track_duration_ms.max() <= 360_000
    release = np.array([d.toordinal() for d in w.album_release])
    np.testing.assert_array_equal(w.track_release_ordinal, release[w.track_album])
    # Every artist has an album; every album has tracks numbered 1..n; singles have exactly one track.
    assert set(np.unique(w.album_artist)) == set(range(w.scale.n_artists))
    per_album = np.bincount(w.track_album, minlength=n_albums)
    assert per_album.min() >= 1
    for album in range(n_albums):
        numbers = w.track_number[w.track_album == album]
        assert numbers.tolist() == list(range(1, per_album[album] + 1))
    assert (per_album[w.album_is_single] == 1).all()
    assert (per_album[~w.album_is_single] >= 2).all()
    # A back catalogue spanning years, and names for everything.
    assert min(w.album_release) < EPOCH - dt.timedelta(days=3 * 365)
    assert w.track_name(5) and w.album_name(5) and w.artist_name(150).endswith(" 1")


def test_new_releases_keep_appearing_during_2026(small: World) -> None:
    released = [sum(d <= day for d in small.album_release)
                for day in (EPOCH + dt.timedelta(days=k) for k in range(0, 331, 30))]
    assert all(b >= a for a, b in itertools.pairwise(released))
    assert released[-1] - released[0] >= 0.05 * len(small.album_ids)
    assert sum(b > a for a, b in itertools.pairwise(released)) >= 8  # most months bring new albums


def test_a_new_release_is_silent_before_release_day_and_played_from_it(small: World, small_plays: DayCounts) -> None:
    w = small
    breakout_artists = {w.artist_ids.index(b.id) for b in w.breakouts if b.kind == "artist"}
    candidates = [a for a, d in enumerate(w.album_release)
                  if EPOCH + ONE_DAY < d < EPOCH + dt.timedelta(days=30) and w.album_artist[a] not in breakout_artists]
    album = max(candidates, key=lambda a: w.track_base_weight[w.track_album == a].sum())
    release = w.album_release[album]
    tracks = np.flatnonzero(w.track_album == album)
    base = w.track_base_weight[tracks]
    assert (w.track_weights(release - ONE_DAY)[tracks] == 0).all()
    assert (w.track_weights(EPOCH)[tracks] == 0).all()
    # A launch bump on release day that fades to the base weight after three weeks.
    np.testing.assert_allclose(w.track_weights(release)[tracks], 3.0 * base)
    np.testing.assert_allclose(w.track_weights(release + dt.timedelta(days=21))[tracks], base)
    assert (w.track_weights(release + dt.timedelta(days=10))[tracks] > base).all()
    # The listening events follow: nobody plays it the day before; many do on release day.
    assert small_plays(release - ONE_DAY)[tracks].sum() == 0
    assert small_plays(release)[tracks].sum() > 50


# ---- scale and the shape of a day ----------------------------------------------------------------


def test_scales_grow_from_tiny_to_bench() -> None:
    order = ["tiny", "small", "medium", "bench"]
    for a, b in itertools.pairwise(order):
        assert SCALES[a].events_per_day < SCALES[b].events_per_day
        assert SCALES[a].n_users < SCALES[b].n_users
        assert SCALES[a].n_artists < SCALES[b].n_artists


def test_bench_scale_has_over_ten_million_events_a_day_generated_one_hour_at_a_time(bench: World) -> None:
    wednesday, saturday = DAY, dt.date(2026, 1, 17)
    assert wednesday.weekday() == 2 and saturday.weekday() == 5
    for day in (wednesday, saturday):
        assert bench.events_on(day) >= 10_000_000
        counts = hourly_counts(bench, day)
        assert len(counts) == 24 and counts.sum() == bench.events_on(day)
        np.testing.assert_allclose(counts, DIURNAL * bench.events_on(day), atol=1.0)
    # One quiet hour of the bench day, without generating the rest of it.
    hour = generate_hour(bench, wednesday, 3)
    total = bench.events_on(wednesday)
    assert hour.num_rows == hourly_counts(bench, wednesday)[3]
    assert abs(hour.num_rows - DIURNAL[3] * total) <= 1
    assert 0.002 * total < hour.num_rows < total / 24
    # Ids stay dictionary-encoded indices, so even this hour holds no column of Python strings per row.
    for name in ("user_id", "track_id", "artist_id", "country", "device"):
        assert pa.types.is_dictionary(hour.schema.field(name).type), name
    assert len(hour["track_id"].chunk(0).dictionary) == len(bench.track_ids)


def test_bench_scale_reaches_ten_million_events_every_day(bench: World) -> None:
    days = [EPOCH + dt.timedelta(days=k) for k in range(365)]
    assert min(bench.events_on(d) for d in days) >= 10_000_000


def test_generate_day_is_a_lazy_stream_of_24_hours(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real = events_module.generate_hour

    def recording(w: World, day: dt.date, hour: int, weights: np.ndarray | None = None) -> pa.Table:
        calls.append(hour)
        return real(w, day, hour, weights)

    monkeypatch.setattr(events_module, "generate_hour", recording)
    stream = generate_day(world, DAY)
    assert inspect.isgenerator(stream)
    assert calls == []  # nothing generated until asked
    first_hour, first = next(stream)
    assert (first_hour, calls) == (0, [0])
    assert isinstance(first, pa.Table)
    second_hour, second = next(stream)
    assert (second_hour, calls) == (1, [0, 1])
    rest = list(stream)
    assert [h for h, _ in rest] == list(range(2, 24))
    assert calls == list(range(24))
    assert first.num_rows + second.num_rows + sum(t.num_rows for _, t in rest) == world.events_on(DAY)


def test_events_per_day_override_scales_the_day() -> None:
    w = World(seed=7, scale="tiny", events_per_day=500)
    assert w.scale_name == "tiny"
    assert 0.9 * 500 < w.events_on(DAY) < 1.1 * 500
    assert _day_table(w, DAY).num_rows == w.events_on(DAY)


def test_weekly_seasonality_saturdays_beat_mondays(small: World) -> None:
    mondays = [dt.date(2026, 1, 5) + dt.timedelta(weeks=k) for k in range(8)]
    assert all(d.weekday() == 0 for d in mondays)
    per_week = [[small.events_on(m + dt.timedelta(days=i)) for i in range(7)] for m in mondays]
    for week in per_week:
        assert week[5] > week[0] and week[5] > week[1]  # Saturday vs Monday and Tuesday
        assert week[4] > week[0]  # Friday vs Monday
    by_weekday = np.array(per_week).mean(axis=0)
    assert by_weekday.argmax() == 5 and by_weekday.argmin() in (0, 1)
    assert by_weekday[5] / by_weekday[0] == pytest.approx(WEEKLY[5] / WEEKLY[0], rel=0.03)
    # Daily totals vary a little from week to week (not a fixed number per weekday).
    assert len({week[2] for week in per_week}) == len(per_week)


def test_generated_day_matches_events_on(small: World, small_day: pa.Table) -> None:
    assert small_day.num_rows == small.events_on(DAY)
    assert small.events_on(DAY) == pytest.approx(SCALES["small"].events_per_day * WEEKLY[DAY.weekday()], rel=0.031)


# ---- listening statistics ------------------------------------------------------------------------


def test_popularity_has_a_long_tail(small: World, small_plays: DayCounts) -> None:
    counts = small_plays(DAY)
    released = small.track_release_ordinal <= DAY.toordinal()
    assert counts[~released].sum() == 0
    plays = np.sort(counts[released])[::-1]
    top_decile = plays[: len(plays) // 10].sum() / plays.sum()
    assert top_decile > 0.5
    assert plays[: len(plays) // 100].sum() / plays.sum() > 0.15  # the top 1% alone
    assert np.median(plays) <= 3
    assert (plays <= 2).mean() > 0.4


def test_plays_follow_users_hidden_tastes(small: World, small_day: pa.Table) -> None:
    users = _indices(small_day["user_id"], small.user_ids)
    tracks = _indices(small_day["track_id"], small.track_ids)
    genre = small.track_genre[tracks]
    favourite = small.user_taste.argmax(axis=1)
    share = (genre == favourite[users]).mean()
    shuffled = favourite[np.random.default_rng(0).permutation(len(favourite))]
    baseline = (genre == shuffled[users]).mean()
    assert share > 0.3
    assert share > 2.5 * baseline
    # Skips are rarer on plays from a genre the user loves.
    skipped = small_day["skipped"].to_numpy(zero_copy_only=False)
    affinity = small.user_taste[users, genre]
    assert skipped[affinity > 0.3].mean() < skipped[affinity < 0.05].mean() - 0.1


def test_hidden_tastes_are_readable_for_evaluation(small: World) -> None:
    tastes = small.user_tastes()
    assert list(tastes) == ["user_id", *GENRES]
    assert tastes["user_id"] == small.user_ids
    matrix = np.array([tastes[g] for g in GENRES]).T
    np.testing.assert_allclose(matrix.sum(axis=1), 1.0)
    # Most users concentrate on two or three genres.
    assert np.median(np.sort(matrix, axis=1)[:, -3:].sum(axis=1)) > 0.75


# ---- planted breakouts ---------------------------------------------------------------------------


def _breakout_tracks(w: World, b: Breakout) -> np.ndarray:
    if b.kind == "track":
        return np.array([w.track_ids.index(b.id)])
    return np.flatnonzero(w.track_artist == w.artist_ids.index(b.id))


def _windows(b: Breakout) -> tuple[list[dt.date], list[dt.date]]:
    before = [b.rise_start - dt.timedelta(days=k) for k in range(2, 7)]
    after = [b.rise_start + dt.timedelta(days=b.ramp_days + k) for k in range(1, 6)]
    return before, after


def test_truth_lists_the_planted_breakouts(small: World) -> None:
    truth = small.truth()
    assert (truth["seed"], truth["scale"], truth["genres"]) == (7, "small", list(GENRES))
    kinds = Counter(b["kind"] for b in truth["breakouts"])
    assert kinds == {"track": 4, "artist": 2}
    median = np.median(small.track_base_weight)
    for b, listed in zip(small.breakouts, truth["breakouts"], strict=True):
        assert listed["id"] == b.id and listed["rise_start"] == b.rise_start.isoformat()
        assert EPOCH < b.rise_start < EPOCH + dt.timedelta(days=60)
        assert b.peak_multiplier > 10
        tracks = _breakout_tracks(small, b)
        assert len(tracks) >= 1
        if b.kind == "track":
            # Breakouts rise from the long tail, on tracks already out before the world starts.
            assert small.track_base_weight[tracks[0]] < median
            assert small.track_release_ordinal[tracks[0]] < EPOCH.toordinal()
    assert small.watchlist()["artists"][-2:] == [b.id for b in small.breakouts if b.kind == "artist"]


def test_breakout_weights_ramp_to_the_peak_multiplier(small: World) -> None:
    for b in small.breakouts:
        tracks = _breakout_tracks(small, b)
        old = tracks[small.track_release_ordinal[tracks] < (EPOCH - dt.timedelta(days=30)).toordinal()]
        assert len(old)
        quiet = small.track_weights(b.rise_start)[old]
        np.testing.assert_allclose(small.track_weights(b.rise_start - ONE_DAY)[old], quiet)
        midway = small.track_weights(b.rise_start + ONE_DAY)[old] / quiet
        peak = small.track_weights(b.rise_start + dt.timedelta(days=b.ramp_days))[old] / quiet
        later = small.track_weights(b.rise_start + dt.timedelta(days=b.ramp_days + 20))[old] / quiet
        np.testing.assert_allclose(peak, b.peak_multiplier)
        np.testing.assert_allclose(later, b.peak_multiplier)
        assert (midway > 1.0).all() and (midway < peak).all()


@pytest.mark.parametrize("kind", ["track", "artist"])
def test_breakouts_rise_in_the_listening_events_and_controls_do_not(
        kind: str, small: World, small_plays: DayCounts) -> None:
    planted = [b for b in small.breakouts if b.kind == kind]
    assert planted
    planted_tracks = {int(t) for b in small.breakouts for t in _breakout_tracks(small, b)}
    # Controls: other long-tail tracks out before 2026 (the population breakouts are drawn from).
    early = small.track_release_ordinal < EPOCH.toordinal()
    tail = early & (small.track_base_weight < np.median(small.track_base_weight))
    control = np.array([t for t in np.flatnonzero(tail) if int(t) not in planted_tracks])
    for b in planted:
        tracks = _breakout_tracks(small, b)
        before_days, after_days = _windows(b)
        before = sum(int(small_plays(d)[tracks].sum()) for d in before_days)
        after = sum(int(small_plays(d)[tracks].sum()) for d in after_days)
        assert after > 5 * max(before, 2), (b, before, after)
        control_before = sum(int(small_plays(d)[control].sum()) for d in before_days)
        control_after = sum(int(small_plays(d)[control].sum()) for d in after_days)
        assert 0.75 < control_after / control_before < 1.33, (b, control_before, control_after)


# ---- playlists -----------------------------------------------------------------------------------


def test_playlists_change_day_to_day_with_matching_snapshot_ids(small: World) -> None:
    days = [dt.date(2026, 1, 10) + dt.timedelta(days=k) for k in range(8)]
    changes = 0
    for i in range(small.scale.n_playlists):
        genre = small.playlist_genre[i]
        snaps = [small.playlist_snapshot(i, d) for d in days]
        for day, snap in zip(days, snaps, strict=True):
            tracks = snap["tracks"]
            assert 0 < len(tracks) <= 25 and len(set(tracks)) == len(tracks)
            assert tracks == small.playlist_tracks(i, day)
            assert all(small.track_genre[t] == genre for t in tracks)
            assert all(small.track_release_ordinal[t] <= day.toordinal() for t in tracks)
            assert re.fullmatch(r"MTQ[0-9a-f]{29}", snap["snapshot_id"])
            assert set(snap["added"]) == set(tracks)
            assert all(added <= day for added in snap["added"].values())
        for prev, cur in itertools.pairwise(snaps):
            changed = prev["tracks"] != cur["tracks"]
            assert changed == (prev["snapshot_id"] != cur["snapshot_id"])
            changes += changed
    assert changes >= small.scale.n_playlists  # every playlist is reshuffled at least once a week on average


def test_playlist_added_dates_mark_when_each_track_joined(small: World) -> None:
    day = dt.date(2026, 1, 20)
    for i in range(small.scale.n_playlists):
        snap = small.playlist_snapshot(i, day)
        for track, added in snap["added"].items():
            span = [added + dt.timedelta(days=k) for k in range((day - added).days + 1)]
            assert all(track in small.playlist_tracks(i, d) for d in span), (i, track, added)
            if added > EPOCH - ONE_DAY:
                assert track not in small.playlist_tracks(i, added - ONE_DAY), (i, track, added)
        # The same day always yields the same snapshot id.
        assert small.playlist_snapshot(i, day)["snapshot_id"] == snap["snapshot_id"]


def test_playlist_owners_and_names(small: World) -> None:
    connected = {small.user_ids[int(u)] for u in small.connected_users}
    for i in range(small.scale.n_playlists):
        owner = small.playlist_owner(i)
        assert owner in connected if i % 2 == 0 else owner == "spotify"
        assert small.playlist_name(i).startswith(GENRES[small.playlist_genre[i]].title())


# ---- events: schema and values -------------------------------------------------------------------


def test_event_schema_and_values_are_consistent(world: World) -> None:
    table = _day_table(world, DAY)
    assert table.schema.names == EVENT_SCHEMA.names
    assert table.num_rows == world.events_on(DAY)
    plain = table.cast(EVENT_SCHEMA)
    assert plain.schema == EVENT_SCHEMA
    tracks = _indices(table["track_id"], world.track_ids)
    users = _indices(table["user_id"], world.user_ids)
    artists = _indices(table["artist_id"], world.artist_ids)
    np.testing.assert_array_equal(artists, world.track_artist[tracks])
    countries = plain["country"].to_pylist()
    assert set(countries) <= set(COUNTRIES)
    assert all(re.fullmatch(r"[A-Z]{2}", c) for c in set(countries))
    assert countries == [COUNTRIES[c] for c in world.user_country[users]]
    assert set(plain["device"].to_pylist()) <= set(DEVICES)
    assert len(set(plain["event_id"].to_pylist())) == table.num_rows
    ms = plain["ms_played"].to_numpy()
    skipped = plain["skipped"].to_numpy(zero_copy_only=False)
    duration = world.track_duration_ms[tracks]
    assert (ms >= 0).all()
    assert (ms[skipped] < 30_000).all()
    assert (ms[~skipped] >= 0.85 * duration[~skipped] - 1).all() and (ms <= duration).all()
    assert 0 < skipped.mean() < 1


def test_played_at_falls_within_its_hour(world: World) -> None:
    for hour, table in generate_day(world, DAY):
        start = dt.datetime(DAY.year, DAY.month, DAY.day, hour, tzinfo=dt.UTC)
        played = table["played_at"].to_pylist()
        assert len(played) == hourly_counts(world, DAY)[hour]
        assert all(start <= t < start + dt.timedelta(hours=1) for t in played)
        assert played == sorted(played)
        assert all(e.startswith(f"{DAY:%Y%m%d}{hour:02d}-") for e in table["event_id"].to_pylist())


def test_a_catalog_with_an_empty_genre_still_generates_every_event(world: World) -> None:
    empty = [g for g in range(len(GENRES)) if len(world.genre_tracks[g]) == 0]
    assert empty, "the tiny seed-7 world is expected to lack a genre"
    fans = np.flatnonzero(np.isin(world.user_taste.argmax(axis=1), empty))
    assert len(fans)
    table = _day_table(world, DAY)
    assert table.num_rows == world.events_on(DAY)
    genres = world.track_genre[_indices(table["track_id"], world.track_ids)]
    assert not np.isin(genres, empty).any()


def test_user_plays_is_one_users_slice_of_the_day(world: World) -> None:
    table = _day_table(world, DAY)
    user_index = int(world.connected_users[0])
    user_id = world.user_ids[user_index]
    plays = user_plays(world, DAY, user_index)
    assert plays.schema == EVENT_SCHEMA
    assert plays.num_rows > 0
    assert set(plays["user_id"].to_pylist()) == {user_id}
    expected = table.filter(pc.equal(table["user_id"].cast(pa.string()), user_id)).cast(EVENT_SCHEMA)
    assert plays.equals(expected)


# ---- exports -------------------------------------------------------------------------------------


def _valid(record: dict[str, Any], hour_start: dt.datetime, track_ids: set[str]) -> bool:
    played = record.get("played_at")
    if isinstance(played, str):
        try:
            played = dt.datetime.strptime(played, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return False
    return (isinstance(record.get("track_id"), str) and record["track_id"] in track_ids
            and isinstance(record.get("country"), str) and record["country"] in COUNTRIES
            and isinstance(record.get("ms_played"), int) and record["ms_played"] >= 0
            and isinstance(played, dt.datetime) and hour_start <= played < hour_start + dt.timedelta(hours=1))


def _audit(world: World, folder: Path, day: dt.date) -> dict[str, Any]:
    """Count what is really in the exported files: records, bad ones, repeats, and the good events."""
    track_ids = set(world.track_ids)
    records = bad = duplicates = 0
    good: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("events-*")):
        hour = int(path.name.split("T")[1][:2])
        hour_start = dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC)
        seen: set[str] = set()
        if path.suffix == ".jsonl":
            items: list[tuple[str, dict[str, Any] | None]] = []
            for line in path.read_text().splitlines():
                try:
                    items.append((line, json.loads(line)))
                except json.JSONDecodeError:
                    items.append((line, None))
        else:
            items = [(json.dumps(r, default=str, sort_keys=True), r) for r in pq.read_table(path).to_pylist()]
        for key, record in items:
            records += 1
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            if record is None or not _valid(record, hour_start, track_ids):
                bad += 1
            else:
                good[record["event_id"]] = record
    return {"records": records, "bad": bad, "duplicates": duplicates, "good": good}


def _expected_events(world: World, day: dt.date) -> dict[str, dict[str, Any]]:
    rows = _day_table(world, day).cast(EVENT_SCHEMA).select(["event_id", "user_id", "track_id", "ms_played"])
    return {r["event_id"]: r for r in rows.to_pylist()}


@pytest.mark.parametrize(("fmt", "bad_rate", "duplicate_rate"), [
    ("mixed", 0.002, 0.001), ("mixed", 0.03, 0.02), ("jsonl", 0.03, 0.02), ("parquet", 0.03, 0.02)])
def test_exports_account_for_every_record(world: World, tmp_path: Path, fmt: str, bad_rate: float,
                                          duplicate_rate: float) -> None:
    manifest = write_day_exports(world, tmp_path, DAY, fmt=fmt, bad_rate=bad_rate, duplicate_rate=duplicate_rate)
    folder = day_dir(tmp_path, DAY)
    assert folder == tmp_path / "events" / f"date={DAY.isoformat()}"
    stems = [f"events-{DAY.isoformat()}T{h:02d}" for h in range(24)]
    if fmt == "mixed":
        expected_files = [s + (".jsonl" if h % 2 == 0 else ".parquet") for h, s in enumerate(stems)]
    else:
        expected_files = [s + "." + fmt for s in stems]
    assert manifest.files == expected_files
    assert sorted(p.name for p in folder.iterdir()) == sorted([*expected_files, "_manifest.json"])
    assert json.loads((folder / "_manifest.json").read_text()) == manifest.__dict__
    assert manifest.day == DAY.isoformat()

    audit = _audit(world, folder, DAY)
    assert manifest.records == audit["records"]
    assert manifest.bad == audit["bad"]
    assert manifest.duplicates == audit["duplicates"]
    assert manifest.bad > 0 and manifest.duplicates > 0
    assert manifest.records - manifest.duplicates == world.events_on(DAY)
    assert manifest.unique_good == len(audit["good"]) == world.events_on(DAY) - manifest.bad
    # Every good record is one of the day's generated events, unchanged.
    expected = _expected_events(world, DAY)
    for event_id, record in audit["good"].items():
        assert {k: record[k] for k in ("user_id", "track_id", "ms_played")} == {
            k: expected[event_id][k] for k in ("user_id", "track_id", "ms_played")}
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_export_bad_rate_zero_gives_clean_files(world: World, tmp_path: Path) -> None:
    manifest = write_day_exports(world, tmp_path, DAY, fmt="mixed", bad_rate=0, duplicate_rate=0)
    audit = _audit(world, day_dir(tmp_path, DAY), DAY)
    assert (manifest.bad, manifest.duplicates, audit["bad"], audit["duplicates"]) == (0, 0, 0, 0)
    assert manifest.records == audit["records"] == len(audit["good"]) == world.events_on(DAY)


def test_ensure_day_exports_writes_once_and_never_rewrites(world: World, tmp_path: Path) -> None:
    folder = day_dir(tmp_path, DAY)
    assert not folder.exists()
    first = ensure_day_exports(world, tmp_path, DAY, fmt="mixed")
    assert isinstance(first, ExportManifest)
    assert len(first.files) == 24
    before = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    again = ensure_day_exports(world, tmp_path, DAY, fmt="mixed")
    assert again == first
    after = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns, p.stat().st_size) for p in folder.iterdir()}
    assert after == before
    # Deterministic backend: another landing folder receives the same manifest.
    assert write_day_exports(world, tmp_path / "elsewhere", DAY, fmt="mixed") == first
