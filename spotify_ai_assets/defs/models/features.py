"""Feature tables, one daily partition each. Partition D holds features "as of the end of D" (cutoff D + 1): only
plays up to D (the 28 days ending on D), the catalog snapshot of D and the analysed audio."""

import datetime as dt

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.models import contracts
from spotify_ai_assets.core.models import features as F
from spotify_ai_assets.defs.models.pseudonymous_events import NAME as PSEUDONYMOUS_EVENTS
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish, require_partition

GROUP = "models"
OWNERS = ["team:ml"]
EVENTS = PSEUDONYMOUS_EVENTS  # keyed by pseudonym: no model table holds a raw user id
CATALOG = "spotify_tracks"
AUDIO = "audio_features_all"
TRACKS = "track_features"
USERS = "user_features"
CANDIDATES = "user_track_features"
# The 28 days of plays a partition reads: the lineage the UI shows and backfills follow.
WINDOW = dg.TimeWindowPartitionMapping(start_offset=-(F.HISTORY_DAYS - 1), end_offset=0)

CONTRACTS = {c.name: c for c in (contracts.TRACK_FEATURES, contracts.USER_FEATURES, contracts.USER_TRACK_FEATURES)}


def cutoff_of(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


def partition_of(cutoff: dt.date) -> str:
    return (cutoff - dt.timedelta(days=1)).isoformat()


def events_scan(store: Lake, days: list[dt.date]):
    """The listening events of `days` that are in the lake (the SQL filters by time again)."""
    present = [d.isoformat() for d in days if store.exists(EVENTS, d.isoformat())]
    if not present:
        raise dg.Failure(f"{EVENTS} has no partition between {min(days)} and {max(days)}: materialize it first")
    return store.scan(EVENTS, present)


def _history(store: Lake, day: dt.date):
    require_partition(store, EVENTS, day)
    return events_scan(store, F.window_days(cutoff_of(day)))


def _need(store: Lake, table: str, day: dt.date) -> pa.Table:
    return store.read(table, require_partition(store, table, day))


# Eager on the latest day, except that the catalog snapshot and the audio table are optional inputs: a day without
# them still gets features (genre / audio NULL), so their absence must not hold the automation back.
FEATURE_CONDITION = dg.AutomationCondition.eager().replace(
    "any_deps_missing", dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(CATALOG, AUDIO)))
_COMMON = dict(group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"}, partitions_def=daily_partitions,
               automation_condition=FEATURE_CONDITION)


@dg.asset(name=TRACKS, deps=[dg.AssetDep(EVENTS, partition_mapping=WINDOW), CATALOG, AUDIO],
          code_version="track-features-v1",
          check_specs=contract_check_specs(TRACKS, CONTRACTS[TRACKS], daily_partitions, False),
          **_COMMON)
def track_features(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Per track played in the 28 days ending on the partition day: plays over 1/3/7/28 days and by week, listeners,
    skip rate, trend, days since first play, its artist's recent course, catalog genre and audio features (NULL
    when the track's audio was never analysed: `has_audio` false)."""
    day = partition_day(context)
    store = lake.lake()
    catalog = store.scan(CATALOG, [day.isoformat()]) if store.exists(CATALOG, day.isoformat()) else None
    audio = store.scan(AUDIO) if store.exists(AUDIO) else None
    try:
        table = F.track_features(_history(store, day), cutoff_of(day), audio, catalog)
    except F.FeatureError as exc:
        raise dg.Failure(str(exc)) from exc
    with_audio = sum(table["has_audio"].to_pylist())
    return publish(store, TRACKS, table, day, CONTRACTS[TRACKS], asset_key=context.asset_key,
                   cutoff=str(cutoff_of(day)), tracks_with_audio=with_audio,
                   tracks_with_genre=table.num_rows - table["genre"].null_count,
                   catalog_snapshot=day.isoformat() if catalog is not None else "none (genre NULL)")


@dg.asset(name=USERS, deps=[dg.AssetDep(EVENTS, partition_mapping=WINDOW), TRACKS],
          code_version="user-features-v2",
          check_specs=contract_check_specs(USERS, CONTRACTS[USERS], daily_partitions, False),
          **_COMMON)
def user_features(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Per user who played in the 28 days ending on the partition day: activity, skip rate, the audio profile of
    completed plays (tempo, energy, valence; NULL without analysed audio) and the top catalog genre with its share."""
    day = partition_day(context)
    store = lake.lake()
    table = F.user_features(_history(store, day), _need(store, TRACKS, day), cutoff_of(day))
    few = sum(1 for n in table["user_plays_28d"].to_pylist() if n < F.MIN_USER_PLAYS)
    return publish(store, USERS, table, day, CONTRACTS[USERS], asset_key=context.asset_key,
                   cutoff=str(cutoff_of(day)), users_below_min_plays=few)


@dg.asset(name=CANDIDATES, deps=[dg.AssetDep(EVENTS, partition_mapping=WINDOW), TRACKS, USERS],
          code_version="user-track-features-v2",
          check_specs=contract_check_specs(CANDIDATES, CONTRACTS[CANDIDATES], daily_partitions, False), **_COMMON)
def user_track_features(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Candidate tracks per user with every ranker feature (co-listening, popular in the user's genres, popular;
    see spotify_ai_assets/core/models/features.py). Tracks the user played in the window are excluded."""
    day = partition_day(context)
    store = lake.lake()
    table = F.candidates(_history(store, day), _need(store, TRACKS, day), _need(store, USERS, day), cutoff_of(day))
    users = len(set(table["user_key"].to_pylist()))
    return publish(store, CANDIDATES, table, day, CONTRACTS[CANDIDATES], asset_key=context.asset_key,
                   cutoff=str(cutoff_of(day)), users_with_candidates=users,
                   candidates_per_user=round(table.num_rows / users, 1) if users else 0)
