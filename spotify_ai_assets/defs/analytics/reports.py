"""Daily and weekly reports, for the whole platform and for each watched artist: HTML files in the lake."""

import dataclasses
import datetime as dt

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics import reports, trends
from spotify_ai_assets.core.analytics.insights import report_insights
from spotify_ai_assets.core.analytics.trends import trends_schema
from spotify_ai_assets.core.kernel.lake import Lake, partition_dirname
from spotify_ai_assets.core.kernel.query import sql_to_arrow
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource

WINDOW = dg.TimeWindowPartitionMapping(start_offset=-(reports.REPORT_DAYS - 1), end_offset=0)
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)
TABLE = "reports/platform_daily"
WEEKLY_TABLE = "reports/platform_weekly"
ARTIST_TABLE = "reports/artist_daily"
ARTIST_WEEKLY_TABLE = "reports/artist_weekly"
# Reports and insights name artists, tracks and albums from the catalog snapshots, and the day's other top and
# trending tracks from spotify_track_names.
DAILY_DEPS = [dg.AssetDep("daily_track_country_stats", partition_mapping=TODAY),
              dg.AssetDep("daily_artist_stats", partition_mapping=WINDOW),
              *(dg.AssetDep(a, partition_mapping=TODAY)
                for a in ("track_trends", "artist_insights", "spotify_artists", "spotify_tracks", "spotify_albums",
                          "spotify_track_names"))]
# The default mapping from a week to days is the week's seven daily partitions (backfills follow it); the trends and
# the (week-over-week) insights shown are those of the week's last day.
WEEKLY_DEPS = ["daily_track_country_stats", "daily_artist_stats",
               *(dg.AssetDep(a, partition_mapping=TODAY)
                 for a in ("track_trends", "artist_insights", "spotify_artists", "spotify_tracks", "spotify_albums",
                           "spotify_track_names"))]
weekly_partitions = dg.WeeklyPartitionsDefinition(start_date="2026-01-05", day_offset=1, timezone="UTC")


INDEX_TABLE = "reports/index"  # one page per day linking the platform report and every artist's report


def _period(store: Lake, last: dt.date, period_days: int) -> tuple[list[str], list[str]]:
    """(the period's days, the days of the plays-over-time window that have stats). A daily report looks back
    REPORT_DAYS days; a weekly one shows its week and, when the lake has them, the seven days before (for the
    week-over-week change)."""
    days = [(last - dt.timedelta(days=n)).isoformat() for n in range(period_days)][::-1]
    missing = [d for d in days if not store.exists("daily_artist_stats", d)]
    if missing:
        raise dg.Failure(f"daily stats missing for {', '.join(missing)}: refresh those days first")
    span = reports.REPORT_DAYS if period_days == 1 else 2 * period_days
    window = [(last - dt.timedelta(days=n)).isoformat() for n in range(span)][::-1]
    return days, [d for d in window if store.exists("daily_artist_stats", d)]


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every report of one run shares: the lake's reads that do not depend on the artist."""

    days: list[str]
    window: list[str]
    trends: object  # a Relation: the day's track_trends (or an empty table)
    trends_computed: bool
    previous: list[str] | None  # the period before, when the lake holds all of it
    catalog: reports.Catalog
    history_from: dt.date | None
    history_days: int


def _context(store: Lake, last: dt.date, period_days: int) -> _Context:
    days, window = _period(store, last, period_days)
    key = last.isoformat()
    computed = store.exists("track_trends", key)
    # A day whose trends were not computed: the report says so rather than failing.
    trend_rows = store.scan("track_trends", [key]) if computed else trends_schema().empty_table()
    before = [(last - dt.timedelta(days=period_days + n)).isoformat() for n in range(period_days)]
    stats = store.partitions("daily_artist_stats")
    # As track_trends counts it: days of track stats in the baseline window before the day.
    baseline = [(last - dt.timedelta(days=n)).isoformat() for n in range(1, trends.BASELINE_DAYS + 1)]
    return _Context(
        days=days, window=window, trends=trend_rows, trends_computed=computed,
        previous=before if all(store.exists("daily_track_country_stats", d) for d in before) else None,
        catalog=_catalog(store, sorted({*days, *window})),
        history_from=dt.date.fromisoformat(stats[0]) if stats else None,
        history_days=sum(store.exists("daily_track_country_stats", d) for d in baseline),
    )


def _catalog(store: Lake, days: list[str]) -> reports.Catalog:
    """Names of artists, tracks and their albums from the catalog snapshots of the report's days (the latest
    snapshot wins), so a report names every watched artist's tracks, including artists that left the watchlist."""
    present = {t: [d for d in days if store.exists(t, d)]
               for t in ("spotify_artists", "spotify_tracks", "spotify_albums", "spotify_track_names")}
    names: dict[str, str] = {}
    albums: dict[str, str] = {}
    if present["spotify_track_names"]:  # looked up for tracks outside the catalog; the catalog's names win below
        rows = sql_to_arrow(
            "SELECT track_id, arg_max(track_name, date) AS track, arg_max(artist_id, date) AS artist_id, "
            "arg_max(artist_name, date) AS artist, arg_max(album_name, date) AS album FROM n GROUP BY track_id",
            {"n": store.scan("spotify_track_names", present["spotify_track_names"])}).to_pylist()
        for r in rows:
            names[r["track_id"]], names[r["artist_id"]], albums[r["track_id"]] = r["track"], r["artist"], r["album"]
    if present["spotify_artists"]:
        rows = sql_to_arrow("SELECT artist_id AS id, arg_max(name, snapshot_date) AS name FROM a GROUP BY artist_id",
                            {"a": store.scan("spotify_artists", present["spotify_artists"])})
        names.update(zip(rows["id"].to_pylist(), rows["name"].to_pylist(), strict=True))
    if present["spotify_tracks"]:
        tracks = store.scan("spotify_tracks", present["spotify_tracks"])
        rows = sql_to_arrow("SELECT track_id AS id, arg_max(name, snapshot_date) AS name FROM t GROUP BY track_id",
                            {"t": tracks})
        names.update(zip(rows["id"].to_pylist(), rows["name"].to_pylist(), strict=True))
        if present["spotify_albums"]:
            rows = sql_to_arrow(
                "SELECT t.track_id AS id, arg_max(al.name, al.snapshot_date) AS name FROM t "
                "JOIN al ON al.album_id = t.album_id GROUP BY t.track_id",
                {"t": tracks, "al": store.scan("spotify_albums", present["spotify_albums"])})
            albums.update(zip(rows["id"].to_pylist(), rows["name"].to_pylist(), strict=True))
    return reports.Catalog({k: v for k, v in names.items() if v}, {k: v for k, v in albums.items() if v})


def _report(store: Lake, ctx: _Context, last: dt.date, period_days: int,
            artist_id: str | None = None) -> reports.ReportData:
    data = reports.report_data(
        last, store.scan("daily_track_country_stats", ctx.days), store.scan("daily_artist_stats", ctx.window),
        ctx.trends, period_days, artist_id,
        store.scan("daily_track_country_stats", ctx.previous) if ctx.previous else None)
    return dataclasses.replace(
        data, insights=tuple(_insights(store, last.isoformat(), artist_id, ctx.catalog)), catalog=ctx.catalog,
        history_from=ctx.history_from, history_days=ctx.history_days, trends_computed=ctx.trends_computed)


def _insights(store: Lake, day: str, artist_id: str | None, catalog: reports.Catalog) -> list[str]:
    """An artist's own insight (in its audience's language); for the platform, the day's biggest rises in English.
    None when artist_insights has not run for the day."""
    if not store.exists("artist_insights", day):
        return []
    table = store.read("artist_insights", day)
    if artist_id is not None:
        return table.filter(pa.compute.equal(table["artist_id"], artist_id))["text"].to_pylist()
    # Names from the catalog; an artist outside it gets a short label, never a bare id in the text.
    shown = {i: catalog.name(kind, i) for kind in ("artist", "track") for i in table[f"{kind}_id"].to_pylist()}
    return report_insights(table, shown)


def _index_href(day: str) -> str:
    """The day's index page, relative to a report in reports/<kind>/date=<day>/ (works on a file:// lake, a
    static bucket, or a copy of the reports folder)."""
    return f"../../{INDEX_TABLE.split('/', 1)[1]}/{partition_dirname(day)}/index.html"


def _platform(store: Lake, table: str, partition: str, title: str, last: dt.date,
              period_days: int) -> dg.MaterializeResult:
    ctx = _context(store, last, period_days)
    data = _report(store, ctx, last, period_days)
    charts = reports.render_charts(data)
    nav = [(f"All reports for {partition}", _index_href(partition))] if period_days == 1 else []
    page = reports.render_html(title, data, charts, nav).encode()
    return dg.MaterializeResult(metadata={
        "dagster/uri": store.write_file(table, "report.html", page, partition),
        "summary": dg.MetadataValue.md(reports.markdown_summary(data, charts)),
        "days_of_history": data.daily.num_rows if period_days == 1 else len(ctx.days),
        "rising_tracks": data.rising.num_rows, "html_bytes": len(page),
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
    ctx = _context(store, last, period_days)
    names = _watched_artists(store, ctx.days)
    nav = ([(f"All reports for {partition}", _index_href(partition)),
            ("Platform report", f"../../{TABLE.split('/', 1)[1]}/{partition_dirname(partition)}/report.html")]
           if period_days == 1 else [])
    pages, data = {}, {}
    for artist_id, name in names.items():
        data[artist_id] = _report(store, ctx, last, period_days, artist_id)
        pages[f"{artist_id}.html"] = reports.render_html(f"{name}: {label}", data[artist_id],
                                                         reports.render_charts(data[artist_id]), nav).encode()
    # Replaced as a set: an artist that left the watchlist loses its stale report in this partition.
    uris = {name.removesuffix(".html"): uri for name, uri in store.replace_files(table, pages, partition).items()}
    metadata: dict[str, object] = {}
    if period_days == 1:
        # The day's index sits next to the platform report's folder and links both kinds by relative path.
        folder = f"../../{table.split('/', 1)[1]}/{partition_dirname(partition)}"
        index = reports.render_index(
            last, f"../../{TABLE.split('/', 1)[1]}/{partition_dirname(partition)}/report.html",
            [reports.IndexEntry(a, f"{folder}/{a}.html", d) for a, d in data.items()]).encode()
        metadata["index_uri"] = dg.MetadataValue.url(store.write_file(INDEX_TABLE, "index.html", index, partition))
    chart = reports.render_artists_chart(data, names)
    return dg.MaterializeResult(metadata={
        "dagster/uri": store.partition_uri(table, partition), **metadata,
        "summary": dg.MetadataValue.md(reports.artists_summary(
            data, names, uris, chart, str(metadata["index_uri"].value) if "index_uri" in metadata else None)),
        "artists": len(names), "html_bytes": sum(len(p) for p in pages.values()),
    })


@dg.asset(
    group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=daily_partitions,
    code_version="platform-daily-report-v4", automation_condition=dg.AutomationCondition.eager(), deps=DAILY_DEPS,
)
def platform_daily_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The day's platform report as one self-contained HTML file in the lake (reports/platform_daily/date=.../
    report.html): plays and listeners vs yesterday and the same weekday last week, listening over the last 14 days,
    top tracks, countries and rising tracks with their evidence, by name, with SVG charts. The summary and main chart
    show in the UI."""
    day = partition_day(context)
    return _platform(lake.lake(), TABLE, context.partition_key, f"Platform report {day}", day, 1)


@dg.asset(
    group_name="analytics", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=daily_partitions,
    code_version="artist-daily-reports-v3", automation_condition=dg.AutomationCondition.eager(),
    deps=DAILY_DEPS,
)
def artist_daily_reports(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """One daily report per watched artist (reports/artist_daily/date=.../<artist_id>.html): the artist's listening
    over 14 days with its changes, top tracks, countries and rising tracks, with charts; and the day's index page
    (reports/index/date=.../index.html) linking the platform report and every artist's. The UI shows all artists
    side by side."""
    day = partition_day(context)
    return _per_artist(lake.lake(), ARTIST_TABLE, context.partition_key, f"daily report {day}", day, 1)


def _week(context: dg.AssetExecutionContext) -> tuple[dt.date, dt.date]:
    window = context.partition_time_window
    return window.start.date(), window.end.date() - dt.timedelta(days=1)


@dg.asset(
    # Its own group: a job is one partitioning, and daily_refresh_job is daily. Eager automation (or a backfill of
    # weeks) runs it once its week is in.
    group_name="weekly_reports", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=weekly_partitions,
    code_version="platform-weekly-report-v4", automation_condition=dg.AutomationCondition.eager(), deps=WEEKLY_DEPS,
)
def platform_weekly_report(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """The week's platform report (Monday to Sunday, UTC) as one HTML file in the lake: listening per day, the week's
    top tracks and countries, and the tracks rising on its last day, with charts."""
    first, last = _week(context)
    return _platform(lake.lake(), WEEKLY_TABLE, context.partition_key, f"Platform report, week of {first}", last, 7)


@dg.asset(
    group_name="weekly_reports", owners=["team:analytics"], kinds={"duckdb", "html"}, partitions_def=weekly_partitions,
    code_version="artist-weekly-reports-v3", automation_condition=dg.AutomationCondition.eager(),
    deps=WEEKLY_DEPS,
)
def artist_weekly_reports(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """One weekly report per watched artist (reports/artist_weekly/date=<week>/<artist_id>.html), the artists being
    those watched at any time in the week."""
    first, last = _week(context)
    return _per_artist(lake.lake(), ARTIST_WEEKLY_TABLE, context.partition_key, f"week of {first}", last, 7)
