import datetime as dt

import dagster as dg

from spotify_ai_assets.core import reports
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
