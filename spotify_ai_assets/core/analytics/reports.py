"""The daily platform report: figures from the lake in DuckDB SQL, charts drawn with matplotlib, one HTML file.

The HTML is self-contained (charts embedded as PNG data URIs) so it can be mailed, archived in the lake and opened
anywhere; the markdown summary carries the main chart too, for the Dagster UI.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from dataclasses import dataclass

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

REPORT_DAYS = 14
TOP_N = 10



@dataclass(frozen=True)
class ReportData:
    day: dt.date
    daily: pa.Table       # date, plays, listeners over the last REPORT_DAYS days
    top_tracks: pa.Table  # track_id, artist_id, plays, listeners, skip_rate (the period)
    countries: pa.Table   # country, plays, share (the period)
    rising: pa.Table      # track_id, listeners, expected, z (rising tracks on the period's last day)
    period_days: int = 1
    artist_id: str | None = None  # None: the whole platform
    insights: tuple[str, ...] = ()  # generated sentences (core/analytics/insights.py), each number from a table


def report_data(day: dt.date, track_stats: Relation, artist_stats: Relation, track_trends: Relation,
                period_days: int = 1, artist_id: str | None = None) -> ReportData:
    """Figures for the `period_days` ending on `day` (1 for a daily report, 7 for a weekly one), for the whole
    platform or, with `artist_id`, for one artist's tracks."""
    tables = {"t": track_stats, "a": artist_stats, "r": track_trends}
    period = f"date > $1::DATE - {int(period_days)} AND date <= $1::DATE"
    scope = "($2::VARCHAR IS NULL OR artist_id = $2)"
    params = [day, artist_id]
    return ReportData(
        day=day,
        daily=sql_to_arrow(f"SELECT date, sum(plays)::BIGINT AS plays, sum(listeners)::BIGINT AS listeners FROM a "
                           f"WHERE date > $1::DATE - {REPORT_DAYS} AND date <= $1::DATE AND {scope} "
                           f"GROUP BY date ORDER BY date", tables, params),
        top_tracks=sql_to_arrow(
            f"SELECT track_id, any_value(artist_id) AS artist_id, sum(plays)::BIGINT AS plays, "
            f"sum(listeners)::BIGINT AS listeners, round(sum(skip_rate * plays) / sum(plays), 3) AS skip_rate "
            f"FROM t WHERE {period} AND {scope} GROUP BY track_id ORDER BY plays DESC, track_id LIMIT {TOP_N}",
            tables, params),
        countries=sql_to_arrow(
            "SELECT country, sum(plays)::BIGINT AS plays, round(sum(plays) / sum(sum(plays)) OVER (), 4) AS share "
            f"FROM t WHERE {period} AND {scope} GROUP BY country ORDER BY plays DESC, country", tables, params),
        # An artist's rising tracks are found through the track stats, which carry the artist of each track.
        rising=sql_to_arrow(
            f"SELECT entity_id AS track_id, plays AS listeners, expected, z FROM r "
            f"WHERE date = $1::DATE AND trend = 'rising' AND ($2::VARCHAR IS NULL OR entity_id IN "
            f"(SELECT track_id FROM t WHERE artist_id = $2)) ORDER BY z DESC, entity_id LIMIT {TOP_N}",
            tables, params),
        period_days=period_days,
        artist_id=artist_id,
    )


def _png(fig: object) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # type: ignore[attr-defined]
    return buf.getvalue()


def render_charts(data: ReportData) -> dict[str, bytes]:
    """PNG charts: listening over the report window, the day's top tracks, and plays by country."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    charts = {}
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot([d.isoformat()[5:] for d in data.daily["date"].to_pylist()], data.daily["plays"].to_pylist(), marker="o")
    ax.set_title(f"Plays per day, last {REPORT_DAYS} days")
    ax.tick_params(axis="x", rotation=45)
    charts["plays_over_time"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.barh(data.top_tracks["track_id"].to_pylist()[::-1], data.top_tracks["plays"].to_pylist()[::-1])
    ax.set_title(f"Top {TOP_N} tracks by plays")
    charts["top_tracks"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(data.countries["country"].to_pylist(), data.countries["plays"].to_pylist())
    ax.set_title("Plays by country")
    charts["countries"] = _png(fig)
    plt.close(fig)

    # Listeners against what the track's own trailing baseline expected: the size of a rise at a glance.
    fig, ax = plt.subplots(figsize=(7, 3))
    rising = data.rising.to_pylist()[::-1]
    if rising:
        labels = [r["track_id"] for r in rising]
        ax.barh(labels, [r["listeners"] for r in rising], label="listeners")
        ax.scatter([r["expected"] for r in rising], labels, color="black", zorder=3, label="expected")
        ax.legend(loc="lower right")
    else:
        ax.text(0.5, 0.5, "no rising tracks", ha="center", va="center", transform=ax.transAxes)
    ax.set_title("Rising tracks: listeners vs expected")
    charts["trends"] = _png(fig)
    plt.close(fig)
    return charts


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _html_table(table: pa.Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.column_names)
    rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row.values()) + "</tr>"
                   for row in table.to_pylist())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def render_html(title: str, data: ReportData, charts: dict[str, bytes]) -> str:
    sections = [
        ("Listening over time", "plays_over_time", data.daily),
        ("Top tracks", "top_tracks", data.top_tracks),
        ("Countries", "countries", data.countries),
        ("Rising tracks", "trends", data.rising),
    ]
    body = []
    if data.insights:
        body.append("<h2>Insights</h2><ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in data.insights) + "</ul>")
    for heading, chart, table in sections:
        body.append(f"<h2>{html.escape(heading)}</h2>")
        if chart:
            body.append(f'<img alt="{html.escape(heading)}" src="{data_uri(charts[chart])}">')
        body.append(_html_table(table) if table.num_rows else "<p>none</p>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{''.join(body)}</body></html>")


def markdown_summary(data: ReportData, charts: dict[str, bytes]) -> str:
    start = data.day - dt.timedelta(days=data.period_days - 1)
    plays, listeners = period_totals(data)
    label = data.day.isoformat() if data.period_days == 1 else f"{start.isoformat()} to {data.day.isoformat()}"
    counted = "summed per day" if data.artist_id else "summed per artist and day"
    lines = [f"**{label}**: {plays:,} plays by {listeners:,} listeners ({counted}).", "",
             *(f"- {t}" for t in data.insights), "",
             f"![plays over time]({data_uri(charts['plays_over_time'])})", "",
             "| top track | plays | listeners |", "| --- | ---: | ---: |"]
    lines += [f"| `{r['track_id']}` | {r['plays']:,} | {r['listeners']:,} |" for r in data.top_tracks.to_pylist()[:5]]
    return "\n".join(lines)


def period_totals(data: ReportData) -> tuple[int, int]:
    """(plays, listeners summed per day) over the report's period."""
    start = data.day - dt.timedelta(days=data.period_days - 1)
    rows = [r for r in data.daily.to_pylist() if r["date"] >= start]
    return sum(r["plays"] for r in rows), sum(r["listeners"] for r in rows)


def render_artists_chart(reports: dict[str, ReportData], names: dict[str, str]) -> bytes:
    """One line per artist: plays per day over the report window, to compare the watched artists at a glance."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for artist_id, data in reports.items():
        ax.plot([d.isoformat()[5:] for d in data.daily["date"].to_pylist()], data.daily["plays"].to_pylist(),
                marker=".", label=names.get(artist_id, artist_id))
    ax.set_title(f"Plays per day of the watched artists, last {REPORT_DAYS} days")
    ax.tick_params(axis="x", rotation=45)
    if reports:
        ax.legend(fontsize="x-small", ncol=2)
    png = _png(fig)
    plt.close(fig)
    return png


def artists_summary(reports: dict[str, ReportData], names: dict[str, str], uris: dict[str, str], chart: bytes) -> str:
    """The per-artist reports at a glance, for the UI: totals, top track and rising tracks per artist, each with the
    uri of its full report."""
    lines = [f"![watched artists]({data_uri(chart)})", "",
             "| artist | plays | listeners | top track | rising tracks | report |",
             "| --- | ---: | ---: | --- | ---: | --- |"]
    for artist_id, data in sorted(reports.items(), key=lambda kv: -period_totals(kv[1])[0]):
        plays, listeners = period_totals(data)
        top = data.top_tracks["track_id"][0].as_py() if data.top_tracks.num_rows else "-"
        lines.append(f"| {names.get(artist_id, artist_id)} | {plays:,} | {listeners:,} | `{top}` | "
                     f"{data.rising.num_rows} | {uris[artist_id]} |")
    return "\n".join(lines)
