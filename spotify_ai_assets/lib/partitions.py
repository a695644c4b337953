
import datetime as dt

import dagster as dg

# The platform's first day; the sandbox world starts on the same day (a test holds them together).
FIRST_DAY = dt.date(2026, 1, 1)

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DAY.isoformat(), timezone="UTC")


def partition_day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def previous_day_key(day: dt.date) -> str:
    return (day - dt.timedelta(days=1)).isoformat()

# One partition per delivered track (key = Spotify track id), added by the audio landing sensor.
audio_tracks = dg.DynamicPartitionsDefinition(name="audio_tracks")
