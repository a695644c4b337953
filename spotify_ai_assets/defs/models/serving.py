"""Daily recommendations, served from the ranker champion only (its model is this asset's input)."""

import dagster as dg
import numpy as np
import pyarrow as pa
from pydantic import Field

from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.core.models import contracts, explain, ranker, registry
from spotify_ai_assets.core.models import features as F
from spotify_ai_assets.defs.models.features import (
    CANDIDATES,
    EVENTS,
    GROUP,
    OWNERS,
    TRACKS,
    USERS,
    WINDOW,
    cutoff_of,
    events_scan,
)
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish, require_partition

TABLE = "recommendations"
MAX_N = contracts.MAX_RECOMMENDATIONS
CONTRACT = contracts.RECOMMENDATIONS
SCHEMA = pa.schema([("date", pa.date32()), ("user_key", pa.string()), ("rank", pa.int64()), ("track_id", pa.string()),
                    ("score", pa.float64()), ("source", pa.string()), ("why", pa.string()),
                    ("model_sha256", pa.string())])


class RecommendationsConfig(dg.Config):
    top_n: int = Field(default=20, ge=1, le=MAX_N, description="tracks per user")
    exclude_played: bool = Field(default=True, description="leave out tracks the user played in the last 28 days")
    explain_top: int = Field(default=3, ge=0, le=10, description="contributing features named per recommendation")


@dg.asset(
    name=TABLE, group_name=GROUP, owners=OWNERS, kinds={"lightgbm", "parquet"}, partitions_def=daily_partitions,
    ins={"champion": dg.AssetIn("ranker_champion")},
    deps=[CANDIDATES, USERS, TRACKS, dg.AssetDep(EVENTS, partition_mapping=WINDOW)],
    code_version="recommendations-v2",
    check_specs=contract_check_specs(TABLE, CONTRACT, daily_partitions, quarantine=False),
    automation_condition=dg.AutomationCondition.eager(),
)
def recommendations(context: dg.AssetExecutionContext, config: RecommendationsConfig, champion: registry.ModelRef,
                    lake: LakeResource) -> dg.MaterializeResult:
    """Top-N tracks per user for the day after the partition, ranked by the ranker champion over the user's
    candidates, each with its score and the features that contributed most (`why`, from pred_contrib). A user with
    fewer than the minimum plays (no personal candidates) gets the popularity list, `source` = popularity_fallback."""
    day = partition_day(context)
    key = day.isoformat()
    store = lake.lake()
    for table in (TRACKS, USERS, CANDIDATES):
        require_partition(store, table, day)
    tracks, users = store.read(TRACKS, key), store.read(USERS, key)
    events = events_scan(store, F.window_days(cutoff_of(day)))
    if config.exclude_played:
        cand = store.read(CANDIDATES, key)
    else:
        cand = F.candidates(events, tracks, users, cutoff_of(day), exclude_played=False)
    booster = registry.load(store, "ranker", champion.sha256)
    x = ranker.matrix(cand, tuple(booster.feature_name())).x
    scores = booster.predict(x, num_threads=ranker.THREADS) if len(x) else np.array([])
    top = ranker.top_n(cand, scores, config.top_n)
    why = _why(booster, cand, scores, top, config.explain_top)
    personal = set(top["user_key"].to_pylist())
    others = sorted(set(users["user_key"].to_pylist()) - personal)
    played = F.played(events, cutoff_of(day))
    fallback = ranker.popularity(tracks, played if config.exclude_played else played.slice(0, 0), others,
                                 config.top_n)
    table = sql_to_arrow(
        "SELECT $1::DATE AS date, user_key, rank, track_id, score, 'model' AS source, why, $2 AS model_sha256 FROM t "
        "UNION ALL SELECT $1::DATE, user_key, rank, track_id, score, 'popularity_fallback', NULL, $2 FROM f "
        "ORDER BY user_key, rank", {"t": why, "f": fallback}, [day, champion.sha256]).cast(SCHEMA)
    return publish(store, TABLE, table, day, CONTRACT, asset_key=context.asset_key,
                   model_sha256=champion.sha256, users_personal=len(personal), users_fallback=len(others),
                   exclude_played=config.exclude_played, top_n=config.top_n,
                   sample=dg.MetadataValue.md(_markdown(table)))


def _why(booster, cand: pa.Table, scores: np.ndarray, top: pa.Table, k: int) -> pa.Table:
    """The top rows with their `k` largest contributions ("feature +0.12, ..."), from pred_contrib."""
    if k == 0 or top.num_rows == 0:
        return top.append_column("why", pa.nulls(top.num_rows, pa.string()))
    index = {(u, t): i for i, (u, t) in enumerate(zip(cand["user_key"].to_pylist(), cand["track_id"].to_pylist(),
                                                      strict=True))}
    rows = [index[(u, t)] for u, t in zip(top["user_key"].to_pylist(), top["track_id"].to_pylist(), strict=True)]
    x = ranker.matrix(cand.take(pa.array(rows, pa.int64())), tuple(booster.feature_name())).x
    named = explain.top_features(booster, x, k)
    return top.append_column("why", pa.array([", ".join(f"{f} {v:+.3f}" for f, v in r) for r in named]))


def _markdown(table: pa.Table, users: int = 3, per_user: int = 5) -> str:
    shown = sorted(set(table.filter(pa.compute.equal(table["source"], "model"))["user_key"].to_pylist()))[:users]
    lines = ["| user | rank | track | score | why |", "| --- | ---: | --- | ---: | --- |"]
    for r in table.to_pylist():
        if r["user_key"] in shown and r["rank"] <= per_user:
            lines.append(f"| `{r['user_key']}` | {r['rank']} | `{r['track_id']}` | {r['score']:.3f} | {r['why']} |")
    return "\n".join(lines) if len(lines) > 2 else "no personal recommendations"
