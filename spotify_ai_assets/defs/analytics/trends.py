import datetime as dt

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics import trends
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.core.quality.table_contract import TableContract
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.core import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

GROUP = "analytics"
OWNERS = ["team:analytics"]
# The scored day and the whole baseline window before it: the lineage the UI shows and backfills follow.
HISTORY = dg.TimeWindowPartitionMapping(start_offset=-trends.BASELINE_DAYS, end_offset=0)

TRACK_STATS = "daily_track_country_stats"
# Daily unique listeners per entity. A user has one country per day in the exports, so summing the per-country
# listeners of a track counts each listener once.
_DAILY = {
    "track": (TRACK_STATS, "SELECT date, track_id AS entity_id, sum(listeners) AS plays FROM s GROUP BY ALL"),
    "artist": ("daily_artist_stats", "SELECT date, artist_id AS entity_id, listeners AS plays FROM s"),
}


def _contract(name: str) -> TableContract:
    return TableContract(name, ("date", "entity_id"), ("date", "entity_id", "plays", "trend"),
                         {"plays": (0, None), "expected": (0, None), "history_days": (0, trends.BASELINE_DAYS)},
                         min_ratio=0.0, max_ratio=float("inf"))


def _trend_asset(kind: str) -> dg.AssetsDefinition:
    name = f"{kind}_trends"
    upstream, daily_sql = _DAILY[kind]
    contract = _contract(name)

    # An artist's rise is checked against its fresh tracks, so artist trends read the per-track stats too.
    sources = [upstream] if kind == "track" else [upstream, TRACK_STATS]
    labels = ("rising", "falling", "emerging") if kind == "track" else ("rising", "release", "falling", "emerging")

    @dg.asset(
        name=name, group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"}, partitions_def=daily_partitions,
        deps=[dg.AssetDep(s, partition_mapping=HISTORY) for s in sources], code_version=f"{name}-v2",
        check_specs=contract_check_specs(name, contract, quarantine=False),
        automation_condition=dg.AutomationCondition.eager(),
        description=f"Rising, falling and emerging {kind}s of the day: daily unique listeners against the {kind}'s "
                    f"own {trends.BASELINE_DAYS}-day baseline share of the platform (see core/trends.py for the "
                    "method). Only flagged entities are stored."
                    + (" An artist rising on tracks first played in the last three weeks is labelled `release`."
                       if kind == "artist" else ""),
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        day = partition_day(context)
        store = lake.lake()
        window = [(day - dt.timedelta(days=k)).isoformat() for k in range(trends.BASELINE_DAYS, -1, -1)]
        present = [k for k in window if store.exists(upstream, k)]
        if day.isoformat() not in present:
            raise dg.Failure(f"{upstream} has no partition for {day}: materialize it first")
        daily = sql_to_arrow(daily_sql, {"s": store.scan(upstream, present)})
        scores = trends.score_day(daily, day)
        if kind == "artist":
            tracks = [k for k in window if store.exists(TRACK_STATS, k)]
            if day.isoformat() not in tracks:
                raise dg.Failure(f"{TRACK_STATS} has no partition for {day}: materialize it first")
            scores = trends.explain_releases(scores, store.scan(TRACK_STATS, tracks), day)
        flagged = scores.filter(pa.compute.is_valid(scores["trend"]))
        top = {t: trends.flagged(scores, t, top=10) for t in labels}
        return publish(
            store, name, flagged, day, contract, history_days_available=len(present) - 1,
            flagged=dg.MetadataValue.json({t: len(ids) for t, ids in top.items()}),
            top=dg.MetadataValue.md(_markdown(scores, top)),
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


track_trends = _trend_asset("track")
artist_trends = _trend_asset("artist")
