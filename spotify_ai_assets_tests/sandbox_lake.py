"""Test helper: fill a lake with the daily aggregates of sandbox days, exactly as the analytics assets write them."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from spotify_ai_assets.core.analytics.daily_aggregates import daily_aggregates
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.sandbox.events import generate_day
from spotify_ai_assets.sandbox.world import World

AGGREGATE = {"daily_track_country_stats": "track_country", "daily_artist_stats": "artist"}


def day_events(world: World, day: dt.date) -> pa.Table:
    events = pa.concat_tables([t for _, t in generate_day(world, day)])
    return events.cast(pa.schema([(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
                                  for f in events.schema]))


def write_daily_stats(world: World, lake: Lake, first: dt.date, last: dt.date, tables: tuple[str, ...]) -> None:
    day = first
    while day <= last:
        events = day_events(world, day)
        computed = daily_aggregates(events, day, only=[AGGREGATE[t] for t in tables]).tables
        for table in tables:
            lake.write(table, computed[AGGREGATE[table]], day.isoformat())
        day += dt.timedelta(days=1)
