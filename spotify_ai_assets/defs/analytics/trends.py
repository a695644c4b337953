import datetime as dt
from dataclasses import dataclass

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics import contracts, trends
from spotify_ai_assets.core.analytics.co_movement import learned_clusters
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

GROUP = "analytics"
OWNERS = ["team:analytics"]
# The scored day and the whole baseline window before it: the lineage the UI shows and backfills follow.
HISTORY = dg.TimeWindowPartitionMapping(start_offset=-trends.BASELINE_DAYS, end_offset=0)

TRACK_STATS = "daily_track_country_stats"
TRACKS_CATALOG, ARTISTS_CATALOG = "spotify_tracks", "spotify_artists"
# The scored day's catalog snapshot gives each entity its group (its genre) for the day factor.
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)
# Eager, except that the catalog is an optional input: without the day's snapshot the entities are scored without
# groups, so its absence must not hold the trends back. A snapshot landing later does re-run them, with groups.
CONDITION = dg.AutomationCondition.eager().replace(
    "any_deps_missing",
    dg.AutomationCondition.any_deps_missing().ignore(dg.AssetSelection.assets(TRACKS_CATALOG, ARTISTS_CATALOG)))


GROUPS_NOTE = {"track": "the primary artist's first genre", "artist": "the first genre"}


@dataclass(frozen=True)
class TrendSpec:
    """What differs between the trends of one kind of entity and another."""

    entity: str  # "track" or "artist": names the asset (`<entity>_trends`)
    upstream: str  # the daily stats table whose listeners are scored
    daily_sql: str  # over `s` (the upstream): date, entity_id, plays (the day's unique listeners)
    labels: tuple[str, ...]  # the labels shown in the UI's summary
    # The catalog snapshots the groups are read from (see `_groups`).
    catalog: tuple[str, ...] = (ARTISTS_CATALOG,)
    # An artist's rise is checked against its fresh tracks (a new release), so it reads the per-track stats too.
    explains_releases: bool = False
    # A track's rise is checked against its artist's other tracks' (a breakout's spillover; artists from TRACK_STATS).
    explains_spillover: bool = False
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.entity}_trends"

    @property
    def sources(self) -> list[str]:
        return [self.upstream, TRACK_STATS] if self.explains_releases else [self.upstream]

    @property
    def deps(self) -> list[dg.AssetDep]:
        return ([dg.AssetDep(s, partition_mapping=HISTORY) for s in self.sources]
                + [dg.AssetDep(c, partition_mapping=TODAY) for c in self.catalog])


# A user has one country per day in the exports, so summing the per-country listeners of a track counts each
# listener once.
TRACKS = TrendSpec("track", TRACK_STATS,
                   "SELECT date, track_id AS entity_id, sum(listeners) AS plays FROM s GROUP BY ALL",
                   ("rising", "lifted", "falling", "emerging"), catalog=(TRACKS_CATALOG, ARTISTS_CATALOG),
                   explains_spillover=True,
                   note=" A track rising less far than another rising track of its artist, on no more evidence (the "
                        "breakout lifting the artist's catalogue), is labelled `lifted`.")
ARTISTS = TrendSpec("artist", "daily_artist_stats", "SELECT date, artist_id AS entity_id, listeners AS plays FROM s",
                    ("rising", "release", "falling", "emerging"), explains_releases=True,
                    note=" An artist rising on tracks first played in the last three weeks is labelled `release`.")


def trend_asset(spec: TrendSpec) -> dg.AssetsDefinition:
    contract = contracts.trends(spec.name)

    @dg.asset(
        name=spec.name, group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"}, partitions_def=daily_partitions,
        deps=spec.deps, code_version=f"{spec.name}-v5",
        check_specs=contract_check_specs(spec.name, contract, daily_partitions, quarantine=False),
        automation_condition=CONDITION,
        description=f"Rising, falling and emerging {spec.entity}s of the day: daily unique listeners against the "
                    f"{spec.entity}'s own {trends.BASELINE_DAYS}-day baseline share of the platform (see "
                    "core/analytics/trends.py for the method). Each entity's group from the day's catalog snapshot "
                    f"({GROUPS_NOTE[spec.entity]}) sets its expected movement: a whole genre rising (a seasonal "
                    "genre) is expected, not a breakout of each of its entities. Without the day's snapshot, or for "
                    "entities outside the catalog, the movement of the entities that moved with them over the window "
                    "(clusters learned from the listeners) or the platform's is expected (metadata `groups` says "
                    "which). Only flagged entities are stored." + spec.note,
    )
    def _asset(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
        day = partition_day(context)
        store = lake.lake()
        window = [(day - dt.timedelta(days=k)).isoformat() for k in range(trends.BASELINE_DAYS, -1, -1)]
        present = [k for k in window if store.exists(spec.upstream, k)]
        if day.isoformat() not in present:
            raise dg.Failure(f"{spec.upstream} has no partition for {day}: materialize it first")
        daily = sql_to_arrow(spec.daily_sql, {"s": store.scan(spec.upstream, present)})
        groups, groups_note = _groups(store, spec, day.isoformat())
        clusters = learned_clusters(daily, day, trends.BASELINE_DAYS)
        # Each track's artist, from the day's stats rows (every track listened to, catalog or not): a breakout's lift
        # on the artist's other tracks is `lifted`.
        artists = trends.track_artists(store.scan(TRACK_STATS, [day.isoformat()])) if spec.explains_spillover else None
        scores = trends.score_day(daily, day, groups, clusters=clusters, artists=artists)
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
            groups=groups_note, learned_clusters=_clusters_note(clusters, spec.entity),
            flagged=dg.MetadataValue.json({t: len(ids) for t, ids in top.items()}),
            top=dg.MetadataValue.md(shortfall or _markdown(scores, top)),
            **({"history": shortfall} if shortfall else {}),
        )

    return _asset


def _groups(store: Lake, spec: TrendSpec, key: str) -> tuple[pa.Table | None, str]:
    """The entities' groups from the catalog snapshot of the scored day, and what the metadata says about them. A
    missing snapshot is not an error: the day is scored without groups, as before the catalog existed."""
    missing = [c for c in spec.catalog if not store.exists(c, key)]
    if spec.entity == "track" and TRACKS_CATALOG not in missing:
        # Without the artist snapshot the tracks' own genre column (their artist's first genre when crawled) serves.
        artists = store.scan(ARTISTS_CATALOG, [key]) if ARTISTS_CATALOG not in missing else None
        groups = trends.track_groups(store.scan(TRACKS_CATALOG, [key]), artists)
    elif spec.entity == "artist" and not missing:
        groups = trends.artist_groups(store.scan(ARTISTS_CATALOG, [key]))
    else:
        return None, (f"none: no {' / '.join(missing)} partition for {key}, scored against the platform and the "
                      "learned clusters")
    if groups.num_rows == 0:
        return None, (f"none: no {spec.entity} of the catalog has a genre, scored against the platform and the learned "
                      "clusters")
    n_groups = len(set(groups["group_id"].to_pylist()))
    gap = f" (no {' / '.join(missing)} partition: track genres as crawled)" if missing else ""
    return groups, f"{groups.num_rows} {spec.entity}s of the catalog in {n_groups} groups{gap}"


def _clusters_note(clusters: pa.Table, entity: str) -> str:
    """What the metadata says of the clusters learned from the window's listeners (core/analytics/co_movement.py)."""
    if clusters.num_rows == 0:
        return f"none: too few {entity}s or days in the window to learn which move together"
    k = len(set(clusters["cluster_id"].to_pylist()))
    members = pa.compute.sum(clusters["member"]).as_py() or 0
    joined = clusters.num_rows - members
    return (f"{members} {entity}s in {k} clusters of {entity}s that moved together over the window"
            + (f", and {joined} smaller {entity}s joined to the cluster they moved with" if joined else ""))


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
