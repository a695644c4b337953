import datetime as dt
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics import contracts, trends
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

GROUP = "analytics"
OWNERS = ["team:analytics"]
# The scored day and the whole baseline window before it: the lineage the UI shows and backfills follow.
HISTORY = dg.TimeWindowPartitionMapping(start_offset=-trends.BASELINE_DAYS, end_offset=0)

TRACK_STATS = "daily_track_country_stats"


@dataclass(frozen=True)
class TrendSpec:
    """What differs between the trends of one kind of entity and another."""

    entity: str  # "track" or "artist": names the asset (`<entity>_trends`)
    upstream: str  # the daily stats table whose listeners are scored
    daily_sql: str  # over `s` (the upstream): date, entity_id, plays (the day's unique listeners)
    labels: tuple[str, ...]  # the labels shown in the UI's summary
    # An artist's rise is checked against its fresh tracks (a new release), so it reads the per-track stats too.
    explains_releases: bool = False
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.entity}_trends"

    @property
    def sources(self) -> list[str]:
        return [self.upstream, TRACK_STATS] if self.explains_releases else [self.upstream]


# A user has one country per day in the exports, so summing the per-country listeners of a track counts each
# listener once.
TRACKS = TrendSpec("track", TRACK_STATS,
                   "SELECT date, track_id AS entity_id, sum(listeners) AS plays FROM s GROUP BY ALL",
                   ("rising", "falling", "emerging"))
ARTISTS = TrendSpec("artist", "daily_artist_stats", "SELECT date, artist_id AS entity_id, listeners AS plays FROM s",
                    ("rising", "release", "falling", "emerging"), explains_releases=True,
                    note=" An artist rising on tracks first played in the last three weeks is labelled `release`.")


def trend_asset(spec: TrendSpec) -> dg.AssetsDefinition:
    contract = contracts.trends(spec.name)

    @dg.asset(
        name=spec.name, group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"}, partitions_def=daily_partitions,
        deps=[dg.AssetDep(s, partition_mapping=HISTORY) for s in spec.sources], code_version=f"{spec.name}-v2",
        check_specs=contract_check_specs(spec.name, contract, daily_partitions, quarantine=False),
        automation_condition=dg.AutomationCondition.eager(),
        description=f"Rising, falling and emerging {spec.entity}s of the day: daily unique listeners against the "
                    f"{spec.entity}'s own {trends.BASELINE_DAYS}-day baseline share of the platform (see "
                    "core/analytics/trends.py for the method). Only flagged entities are stored." + spec.note,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        day = partition_day(context)
        store = lake.lake()
        window = [(day - dt.timedelta(days=k)).isoformat() for k in range(trends.BASELINE_DAYS, -1, -1)]
        present = [k for k in window if store.exists(spec.upstream, k)]
        if day.isoformat() not in present:
            raise dg.Failure(f"{spec.upstream} has no partition for {day}: materialize it first")
        daily = sql_to_arrow(spec.daily_sql, {"s": store.scan(spec.upstream, present)})
        scores = trends.score_day(daily, day)
        if spec.explains_releases:
            tracks = [k for k in window if store.exists(TRACK_STATS, k)]
            if day.isoformat() not in tracks:
                raise dg.Failure(f"{TRACK_STATS} has no partition for {day}: materialize it first")
            scores = trends.explain_releases(scores, store.scan(TRACK_STATS, tracks), day)
        flagged = scores.filter(pa.compute.is_valid(scores["trend"]))
        top = {t: trends.flagged(scores, t, top=10) for t in spec.labels}
        shortfall = trends.history_shortfall(len(present) - 1)
        if shortfall:
            context.log.info(f"{spec.name} {day}: {shortfall}")
        return publish(
            store, spec.name, flagged, day, contract, history_days_available=len(present) - 1,
            flagged=dg.MetadataValue.json({t: len(ids) for t, ids in top.items()}),
            top=dg.MetadataValue.md(shortfall or _markdown(scores, top)),
            **({"history": shortfall} if shortfall else {}),
        )

    return _asset


def _markdown(scores: pa.Table, top: dict[str, list[str]]) -> str:
    wanted = pa.array([i for ids in top.values() for i in ids], pa.string())
    shown = scores.filter(pa.compute.is_in(scores["entity_id"], value_set=wanted))
    rows = {r["entity_id"]: r for r in shown.to_pylist()}
    lines = ["| trend | id | listeners | expected | z |", "| --- | --- | ---: | ---: | ---: |"]
    for trend, ids in top.items():
        lines += [f"| {trend} | `{i}` | {rows[i]['plays']} | {rows[i]['expected']:.1f} | {rows[i]['z']:.1f} |"
                  for i in ids]
    return "\n".join(lines) if len(lines) > 2 else "nothing flagged today"


track_trends = trend_asset(TRACKS)
artist_trends = trend_asset(ARTISTS)
