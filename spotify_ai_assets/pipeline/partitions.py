
import datetime as dt

import dagster as dg

from spotify_ai_assets.sandbox.world import EPOCH

daily_partitions = dg.DailyPartitionsDefinition(start_date=EPOCH.isoformat(), timezone="UTC")


def partition_day(context: dg.AssetExecutionContext) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


def previous_day_key(day: dt.date) -> str:
    return (day - dt.timedelta(days=1)).isoformat()

# One partition per delivered track (key = Spotify track id), added by the audio landing sensor.
audio_tracks = dg.DynamicPartitionsDefinition(name="audio_tracks")
