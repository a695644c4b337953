import datetime as dt

import dagster as dg

from spotify_ai_assets.core import reports
from spotify_ai_assets.core.trends import TRENDS_SCHEMA
from spotify_ai_assets.pipeline.partitions import daily_partitions, partition_day
from spotify_ai_assets.pipeline.resources import LakeResource

WINDOW = dg.TimeWindowPartitionMapping(start_offset=-(reports.REPORT_DAYS - 1), end_offset=0)
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)
TABLE = "reports/platform_daily"


@dg.asset(
    group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=daily_partitions,
    code_version="platform-daily-report-v1", automation_condition=dg.AutomationCondition.eager(),
    deps=[dg.AssetDep("daily_track_country_stats", partition_mapping=TODAY),
          dg.AssetDep("daily_artist_stats", partition_mapping=WINDOW),
          dg.AssetDep("track_trends", partition_mapping=TODAY)],
)
def platform_daily_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The day's platform report as one self-contained HTML file in the lake: listening over the last 14 days, top
    tracks, countries and rising tracks, with charts. The summary and main chart show in the UI."""
    day = partition_day(context)
    store = lake.lake()
    key = day.isoformat()
    window = [(day - dt.timedelta(days=k)).isoformat() for k in range(reports.REPORT_DAYS)]
    data = reports.report_data(day, store.scan("daily_track_country_stats", [key]),
                               store.scan("daily_artist_stats", [k for k in window if store.exists(
                                   "daily_artist_stats", k)]),
                               store.scan("track_trends", [key]))
    charts = reports.render_charts(data)
    page = reports.render_html(f"Platform report {key}", data, charts)
    uri = store.write_file(TABLE, "report.html", page.encode(), key)
    return dg.MaterializeResult(metadata={
        "dagster/uri": uri,
        "summary": dg.MetadataValue.md(reports.markdown_summary(data, charts)),
        "days_of_history": data.daily.num_rows,
        "html_bytes": len(page.encode()),
    })


weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1, timezone="UTC")
WEEKLY_TABLE = "reports/platform_weekly"


@dg.asset(
    # Its own group: a job is one partitioning, and daily_refresh_job is daily. Eager automation (or a backfill of
    # weeks) runs it once its week is in.
    group_name="weekly_reports", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=weekly_partitions,
    code_version="platform-weekly-report-v1", automation_condition=dg.AutomationCondition.eager(),
    # The default mapping from a week to days: the week's seven daily partitions (backfills follow it).
    deps=["daily_track_country_stats", "daily_artist_stats",
          dg.AssetDep("track_trends", partition_mapping=dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0))],
)
def platform_weekly_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The week's platform report (Monday to Sunday, UTC) as one HTML file in the lake: listening per day, the week's
    top tracks and countries, and the tracks rising on its last day, with charts."""
    window = context.partition_time_window
    first, last = window.start.date(), window.end.date() - dt.timedelta(days=1)
    store = lake.lake()
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range(7)]
    missing = [d for d in days if not store.exists("daily_artist_stats", d)]
    if missing:
        raise dg.Failure(f"daily stats missing for {', '.join(missing)}: refresh those days first")
    trends = (store.scan("track_trends", [last.isoformat()]) if store.exists("track_trends", last.isoformat())
              else TRENDS_SCHEMA.empty_table())  # the day's trends not computed: the report says none
    data = reports.report_data(last, store.scan("daily_track_country_stats", days),
                               store.scan("daily_artist_stats", days), trends, period_days=7)
    charts = reports.render_charts(data)
    page = reports.render_html(f"Platform report, week of {first.isoformat()}", data, charts)
    uri = store.write_file(WEEKLY_TABLE, "report.html", page.encode(), context.partition_key)
    return dg.MaterializeResult(metadata={
        "dagster/uri": uri, "summary": dg.MetadataValue.md(reports.markdown_summary(data, charts)),
        "days": len(days), "html_bytes": len(page.encode()),
    })
