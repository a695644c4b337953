"""Daily and weekly reports, for the whole platform and for each watched artist: HTML files in the lake."""

import dataclasses
import datetime as dt

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics import reports
from spotify_ai_assets.core.analytics.insights import report_insights
from spotify_ai_assets.core.analytics.trends import trends_schema
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource

WINDOW = dg.TimeWindowPartitionMapping(start_offset=-(reports.REPORT_DAYS - 1), end_offset=0)
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)
TABLE = "reports/platform_daily"
WEEKLY_TABLE = "reports/platform_weekly"
ARTIST_TABLE = "reports/artist_daily"
ARTIST_WEEKLY_TABLE = "reports/artist_weekly"
# Insights name artists and tracks from the day's catalog snapshot.
DAILY_DEPS = [dg.AssetDep("daily_track_country_stats", partition_mapping=TODAY),
              dg.AssetDep("daily_artist_stats", partition_mapping=WINDOW),
              *(dg.AssetDep(a, partition_mapping=TODAY)
                for a in ("track_trends", "artist_insights", "spotify_artists", "spotify_tracks"))]
# The default mapping from a week to days is the week's seven daily partitions (backfills follow it); the trends and
# the (week-over-week) insights shown are those of the week's last day.
WEEKLY_DEPS = ["daily_track_country_stats", "daily_artist_stats",
               *(dg.AssetDep(a, partition_mapping=TODAY)
                 for a in ("track_trends", "artist_insights", "spotify_artists", "spotify_tracks"))]
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1, timezone="UTC")


def _period(store: Lake, last: dt.date, period_days: int) -> tuple[list[str], list[str]]:
    """(the period's days, the days of the plays-over-time window that have stats). A daily report looks back
    REPORT_DAYS days; a weekly one reads its own week only, as its partition mapping says."""
    days = [(last - dt.timedelta(days=n)).isoformat() for n in range(period_days)][::-1]
    missing = [d for d in days if not store.exists("daily_artist_stats", d)]
    if missing:
        raise dg.Failure(f"daily stats missing for {', '.join(missing)}: refresh those days first")
    if period_days > 1:
        return days, days
    window = [(last - dt.timedelta(days=n)).isoformat() for n in range(reports.REPORT_DAYS)]
    return days, [d for d in window if store.exists("daily_artist_stats", d)]


def _report(store: Lake, last: dt.date, period_days: int, artist_id: str | None = None) -> reports.ReportData:
    days, window = _period(store, last, period_days)
    key = last.isoformat()
    # A day whose trends were not computed: the report says "none" rather than failing.
    trends = store.scan("track_trends", [key]) if store.exists("track_trends", key) else trends_schema().empty_table()
    data = reports.report_data(last, store.scan("daily_track_country_stats", days),
                               store.scan("daily_artist_stats", window), trends, period_days, artist_id)
    return dataclasses.replace(data, insights=tuple(_insights(store, key, artist_id)))


def _insights(store: Lake, day: str, artist_id: str | None) -> list[str]:
    """An artist's own insight (in its audience's language); for the platform, the day's biggest rises in English.
    None when artist_insights has not run for the day."""
    if not store.exists("artist_insights", day):
        return []
    table = store.read("artist_insights", day)
    if artist_id is not None:
        return table.filter(pa.compute.equal(table["artist_id"], artist_id))["text"].to_pylist()
    names = {}
    for catalog, key in (("spotify_artists", "artist_id"), ("spotify_tracks", "track_id")):
        if store.exists(catalog, day):
            rows = store.read(catalog, day, columns=[key, "name"])
            names.update(zip(rows[key].to_pylist(), rows["name"].to_pylist(), strict=True))
    return report_insights(table, names)


def _platform(store: Lake, table: str, partition: str, title: str, last: dt.date,
              period_days: int) -> dg.MaterializeResult:
    data = _report(store, last, period_days)
    charts = reports.render_charts(data)
    page = reports.render_html(title, data, charts).encode()
    return dg.MaterializeResult(metadata={
        "dagster/uri": store.write_file(table, "report.html", page, partition),
        "summary": dg.MetadataValue.md(reports.markdown_summary(data, charts)),
        "days_of_history": data.daily.num_rows, "html_bytes": len(page),
    })


def _watched_artists(store: Lake, days: list[str]) -> dict[str, str]:
    """Artist id -> name for the watchlist's artists, from the catalog snapshots of the period (the watchlist crawl)."""
    snapshots = [d for d in days if store.exists("spotify_artists", d)]
    if not snapshots:
        raise dg.Failure(f"no spotify_artists snapshot for {days[0]}..{days[-1]}: ingest the catalog first")
    rows = sql_to_arrow("SELECT artist_id, arg_max(name, snapshot_date) AS name FROM a GROUP BY artist_id "
                        "ORDER BY artist_id", {"a": store.scan("spotify_artists", snapshots)})
    return dict(zip(rows["artist_id"].to_pylist(), rows["name"].to_pylist(), strict=True))


def _per_artist(store: Lake, table: str, partition: str, label: str, last: dt.date,
                period_days: int) -> dg.MaterializeResult:
    days, _ = _period(store, last, period_days)
    names = _watched_artists(store, days)
    pages, data = {}, {}
    for artist_id, name in names.items():
        data[artist_id] = _report(store, last, period_days, artist_id)
        pages[f"{artist_id}.html"] = reports.render_html(f"{name}: {label}", data[artist_id],
                                                         reports.render_charts(data[artist_id])).encode()
    # Replaced as a set: an artist that left the watchlist loses its stale report in this partition.
    uris = {name.removesuffix(".html"): uri for name, uri in store.replace_files(table, pages, partition).items()}
    chart = reports.render_artists_chart(data, names)
    return dg.MaterializeResult(metadata={
        "dagster/uri": store.partition_uri(table, partition),
        "summary": dg.MetadataValue.md(reports.artists_summary(data, names, uris, chart)),
        "artists": len(names), "html_bytes": sum(len(p) for p in pages.values()),
    })


@dg.asset(
    group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=daily_partitions,
    code_version="platform-daily-report-v3", automation_condition=dg.AutomationCondition.eager(), deps=DAILY_DEPS,
)
def platform_daily_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The day's platform report as one self-contained HTML file in the lake: listening over the last 14 days, top
    tracks, countries and rising tracks, with charts. The summary and main chart show in the UI."""
    day = partition_day(context)
    return _platform(lake.lake(), TABLE, context.partition_key, f"Platform report {day}", day, 1)


@dg.asset(
    group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=daily_partitions,
    code_version="artist-daily-reports-v2", automation_condition=dg.AutomationCondition.eager(),
    deps=DAILY_DEPS,
)
def artist_daily_reports(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """One daily report per watched artist (reports/artist_daily/date=.../<artist_id>.html): the artist's listening
    over 14 days, top tracks, countries and rising tracks, with charts. The UI shows all artists side by side."""
    day = partition_day(context)
    return _per_artist(lake.lake(), ARTIST_TABLE, context.partition_key, f"daily report {day}", day, 1)


def _week(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date() - dt.timedelta(days=1)


@dg.asset(
    # Its own group: a job is one partitioning, and daily_refresh_job is daily. Eager automation (or a backfill of
    # weeks) runs it once its week is in.
    group_name="weekly_reports", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=weekly_partitions,
    code_version="platform-weekly-report-v3", automation_condition=dg.AutomationCondition.eager(), deps=WEEKLY_DEPS,
)
def platform_weekly_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The week's platform report (Monday to Sunday, UTC) as one HTML file in the lake: listening per day, the week's
    top tracks and countries, and the tracks rising on its last day, with charts."""
    first, last = _week(context)
    return _platform(lake.lake(), WEEKLY_TABLE, context.partition_key, f"Platform report, week of {first}", last, 7)


@dg.asset(
    group_name="weekly_reports", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=weekly_partitions,
    code_version="artist-weekly-reports-v2", automation_condition=dg.AutomationCondition.eager(),
    deps=WEEKLY_DEPS,
)
def artist_weekly_reports(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """One weekly report per watched artist (reports/artist_weekly/date=<week>/<artist_id>.html), the artists being
    those watched at any time in the week."""
    first, last = _week(context)
    return _per_artist(lake.lake(), ARTIST_WEEKLY_TABLE, context.partition_key, f"week of {first}", last, 7)
