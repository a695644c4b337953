"""Listening events drawn from users' hidden tastes, generated one hour at a time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from functools import lru_cache

import numpy as np
import pyarrow as pa

from spotify_ai_assets.sandbox.world import COUNTRIES, DEVICES, DIURNAL, GENRES, World

EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()),
    ("user_id", pa.string()),
    ("track_id", pa.string()),
    ("artist_id", pa.string()),
    ("played_at", pa.timestamp("ms", tz="UTC")),
    ("ms_played", pa.int64()),
    ("skipped", pa.bool_()),
    ("country", pa.string()),
    ("device", pa.string()),
])


class _Dictionaries:
    """Arrow dictionaries of the world's string ids, built once per world and reused for every hour."""

    def __init__(self, world: World):
        self.users = pa.array(world.user_ids)
        self.tracks = pa.array(world.track_ids)
        self.artists = pa.array(world.artist_ids)
        self.countries = pa.array(COUNTRIES)
        self.devices = pa.array(DEVICES)


@lru_cache(maxsize=4)
def _dictionaries(world: World) -> _Dictionaries:
    return _Dictionaries(world)


def hourly_counts(world: World, day: dt.date) -> np.ndarray:
    total = world.events_on(day)
    counts = np.floor(DIURNAL * total).astype(np.int64)
    counts[: total - counts.sum()] += 1
    return counts


def generate_hour(world: World, day: dt.date, hour: int, weights: np.ndarray | None = None) -> pa.Table:
    """All plays that start in `hour` (UTC) of `day`, as an Arrow table in EVENT_SCHEMA order.

    String columns are dictionary-encoded indices into the world's id lists, so even a 10-million-event
    day never materialises millions of Python strings.
    """
    n = int(hourly_counts(world, day)[hour])
    rng = np.random.default_rng([world.seed, 4, day.toordinal(), hour])
    weights = world.track_weights(day) if weights is None else weights

    cum_activity = world.user_activity_cumsum
    user = np.minimum(np.searchsorted(cum_activity, rng.random(n) * cum_activity[-1]), len(cum_activity) - 1)
    # Users mostly follow their taste; one play in ten explores a random genre.
    cum_taste = np.cumsum(world.user_taste[user], axis=1)
    genre = (cum_taste < rng.random(n)[:, None]).sum(axis=1)
    explore = rng.random(n) < 0.1
    genre[explore] = rng.integers(0, len(GENRES), int(explore.sum()))
    genre = np.minimum(genre, len(GENRES) - 1)

    track = np.empty(n, dtype=np.int64)
    for g in range(len(GENRES)):
        mask = genre == g
        k = int(mask.sum())
        if not k:
            continue
        pool = world.genre_tracks[g]
        cum = np.cumsum(weights[pool])
        if len(pool) == 0 or cum[-1] <= 0:  # genre empty or nothing released yet: use the whole catalog
            pool = np.arange(len(weights))
            cum = np.cumsum(weights)
        track[mask] = pool[np.minimum(np.searchsorted(cum, rng.random(k) * cum[-1]), len(pool) - 1)]

    affinity = world.user_taste[user, world.track_genre[track]] * len(GENRES)
    p_skip = 1.0 / (1.0 + np.exp(0.6 * affinity - 0.9 - world.user_skip_bias[user]))
    skipped = rng.random(n) < p_skip
    duration = world.track_duration_ms[track]
    listened = (duration * rng.uniform(0.85, 1.0, n)).astype(np.int64)
    ms_played = np.where(skipped, rng.integers(2_000, 30_000, n), listened)

    start_ms = (dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).timestamp()) * 1000
    played_at = np.sort(start_ms + rng.integers(0, 3_600_000, n)).astype(np.int64)
    device = np.where(rng.random(n) < 0.75, world.user_device[user], rng.integers(0, len(DEVICES), n))
    event_id = pa.array(np.char.add(f"{day:%Y%m%d}{hour:02d}-", np.arange(n).astype(str)))

    d = _dictionaries(world)
    return pa.Table.from_arrays(
        [
            event_id,
            pa.DictionaryArray.from_arrays(pa.array(user, pa.int32()), d.users),
            pa.DictionaryArray.from_arrays(pa.array(track, pa.int32()), d.tracks),
            pa.DictionaryArray.from_arrays(pa.array(world.track_artist[track], pa.int32()), d.artists),
            pa.array(played_at, pa.timestamp("ms", tz="UTC")),
            pa.array(ms_played, pa.int64()),
            pa.array(skipped),
            pa.DictionaryArray.from_arrays(pa.array(world.user_country[user], pa.int32()), d.countries),
            pa.DictionaryArray.from_arrays(pa.array(device, pa.int32()), d.devices),
        ],
        names=EVENT_SCHEMA.names,
    )


def generate_day(world: World, day: dt.date) -> Iterator[tuple[int, pa.Table]]:
    """(hour, table) for each hour of `day`; only one hour is in memory at a time."""
    weights = world.track_weights(day)
    for hour in range(24):
        yield hour, generate_hour(world, day, hour, weights)


def user_plays(world: World, day: dt.date, user_index: int) -> pa.Table:
    """One user's plays on `day` (what Spotify's recently-played would show), decoded to plain strings."""
    user_id = world.user_ids[user_index]
    parts = []
    for _, table in generate_day(world, day):
        mask = pa.compute.equal(table["user_id"].cast(pa.string()), user_id)
        parts.append(table.filter(mask))
    return pa.concat_tables(parts).cast(EVENT_SCHEMA)
