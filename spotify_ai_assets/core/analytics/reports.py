"""The platform and artist reports: figures from the lake in DuckDB SQL, SVG charts drawn in Python, one HTML file
rendered from jinja2 templates (templates/ next to this module).

The HTML is self-contained (stylesheet and charts inline) so it can be mailed, archived in the lake, printed and
opened anywhere, on a laptop or a phone. People read names: tracks, artists and albums are shown by name from the
catalog snapshots, ids only inside links to Spotify. Every number shown comes from a table of the lake; numeric
cells also carry the raw figure in `data-value`.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spotify_ai_assets.core.analytics import svg_charts as svg
from spotify_ai_assets.core.analytics import trends
from spotify_ai_assets.core.kernel.markdown import md_text
from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

if TYPE_CHECKING:
    import jinja2
    import pyarrow as pa

REPORT_DAYS = 14
TOP_N = 10
SPOTIFY = "https://open.spotify.com"
TEMPLATES = Path(__file__).parent / "templates"
TIMES, DASH = "\u00d7", "\u2013"  # typographic; escaped here as ruff asks


@dataclass(frozen=True)
class Catalog:
    """Display names from the catalog snapshots (spotify_artists, spotify_tracks, spotify_albums)."""

    names: Mapping[str, str] = field(default_factory=dict)   # artist and track id -> name
    albums: Mapping[str, str] = field(default_factory=dict)  # track id -> its album's name

    def name(self, kind: str, entity_id: str) -> str:
        """The name, or for an entity outside the catalog (an artist nobody watches) a short label that is not a
        bare id: the id itself is in the link."""
        return self.names.get(entity_id) or f"{kind} {entity_id[:6]}… (not in catalog)"


@dataclass(frozen=True)
class ReportData:
    day: dt.date
    daily: pa.Table       # date, plays, listeners over the chart window (the period and the one before)
    top_tracks: pa.Table  # track_id, artist_id, plays, listeners, skip_rate, prev_plays (the period; the one before)
    countries: pa.Table   # country, plays, share (the period)
    rising: pa.Table      # track_id, artist_id, listeners, expected, z (rising tracks on the period's last day)
    period_days: int = 1
    artist_id: str | None = None  # None: the whole platform
    insights: tuple[str, ...] = ()  # generated sentences (core/analytics/insights.py), each number from a table
    catalog: Catalog = field(default_factory=Catalog)
    history_from: dt.date | None = None  # the first day of daily stats in the lake
    history_days: int | None = None  # days of track stats in the trends baseline window before `day`
    trends_computed: bool = True  # track_trends has a partition for `day`
    previous_tracks: bool = False  # top_tracks.prev_plays holds the period before (else null: no data)


def report_data(day: dt.date, track_stats: Relation, artist_stats: Relation, track_trends: Relation,
                period_days: int = 1, artist_id: str | None = None,
                previous_track_stats: Relation | None = None) -> ReportData:
    """Figures for the `period_days` ending on `day` (1 for a daily report, 7 for a weekly one), for the whole
    platform or, with `artist_id`, for one artist's tracks. `artist_stats` covers the chart window;
    `previous_track_stats`, when given, the period before (each top track's plays then)."""
    tables = {"t": track_stats, "a": artist_stats, "r": track_trends,
              "p": previous_track_stats if previous_track_stats is not None else track_stats}
    n = int(period_days)
    period = f"date > $1::DATE - {n} AND date <= $1::DATE"
    before = f"date > $1::DATE - {2 * n} AND date <= $1::DATE - {n}"
    scope = "($2::VARCHAR IS NULL OR artist_id = $2)"
    # Without the period before, prev_plays is null (unknown), not 0 (not played).
    prev = ("coalesce(p.plays, 0)" if previous_track_stats is not None else "NULL") + "::BIGINT AS prev_plays"
    params = [day, artist_id]
    return ReportData(
        day=day,
        daily=sql_to_arrow(f"SELECT date, sum(plays)::BIGINT AS plays, sum(listeners)::BIGINT AS listeners FROM a "
                           f"WHERE date > $1::DATE - {max(REPORT_DAYS, 2 * n)} AND date <= $1::DATE AND {scope} "
                           f"GROUP BY date ORDER BY date", tables, params),
        top_tracks=sql_to_arrow(
            f"WITH cur AS (SELECT track_id, any_value(artist_id) AS artist_id, sum(plays)::BIGINT AS plays, "
            f"sum(listeners)::BIGINT AS listeners, round(sum(skip_rate * plays) / sum(plays), 3) AS skip_rate "
            f"FROM t WHERE {period} AND {scope} GROUP BY track_id ORDER BY plays DESC, track_id LIMIT {TOP_N}), "
            f"p AS (SELECT track_id, sum(plays) AS plays FROM p WHERE {before} "
            f"AND track_id IN (SELECT track_id FROM cur) GROUP BY track_id) "
            f"SELECT cur.*, {prev} FROM cur LEFT JOIN p USING (track_id) ORDER BY cur.plays DESC, track_id",
            tables, params),
        countries=sql_to_arrow(
            "SELECT country, sum(plays)::BIGINT AS plays, round(sum(plays) / sum(sum(plays)) OVER (), 4) AS share "
            f"FROM t WHERE {period} AND {scope} GROUP BY country ORDER BY plays DESC, country", tables, params),
        # The artist of a rising track is found through the track stats, which carry the artist of each track.
        rising=sql_to_arrow(
            f"SELECT r.entity_id AS track_id, s.artist_id, r.plays AS listeners, r.expected, r.z FROM r "
            f"LEFT JOIN (SELECT track_id, any_value(artist_id) AS artist_id FROM t WHERE {period} "
            f"GROUP BY track_id) s ON s.track_id = r.entity_id "
            f"WHERE r.date = $1::DATE AND r.trend = 'rising' AND ($2::VARCHAR IS NULL OR s.artist_id = $2) "
            f"ORDER BY r.z DESC, r.entity_id LIMIT {TOP_N}", tables, params),
        period_days=period_days,
        artist_id=artist_id,
        previous_tracks=previous_track_stats is not None,
    )


# ---- figures derived from the tables --------------------------------------------------------------------------
def period_start(data: ReportData) -> dt.date:
    return data.day - dt.timedelta(days=data.period_days - 1)


def period_totals(data: ReportData) -> tuple[int, int]:
    """(plays, listeners summed per day) over the report's period."""
    start = period_start(data)
    rows = [r for r in data.daily.to_pylist() if start <= r["date"] <= data.day]
    return sum(r["plays"] for r in rows), sum(r["listeners"] for r in rows)


@dataclass(frozen=True)
class Comparison:
    """The period against an earlier one: its figures, or why there are none."""

    label: str           # "yesterday", "the same weekday last week", "the previous week"
    dates: str           # the compared day(s), for the reader
    plays: int | None    # None: the lake holds no (or not all) data for it
    listeners: int | None
    missing: str = ""


def _pct(now: int, then: int | None) -> float | None:
    return None if not then else round(100.0 * (now - then) / then, 1)


def comparisons(data: ReportData) -> list[Comparison]:
    """Daily: vs yesterday and vs the same weekday a week earlier. Weekly: vs the seven days before."""
    by_day = {r["date"]: r for r in data.daily.to_pylist()}
    since = f"the lake holds data from {data.history_from.isoformat()}" if data.history_from else "no data"
    if data.period_days == 1:
        wanted = [("yesterday", [data.day - dt.timedelta(days=1)]),
                  ("the same weekday last week", [data.day - dt.timedelta(days=7)])]
    else:
        start = period_start(data)
        wanted = [("the previous week", [start - dt.timedelta(days=k) for k in range(data.period_days, 0, -1)])]
    out = []
    for label, days in wanted:
        dates = days[0].strftime("%a %Y-%m-%d") if len(days) == 1 else f"{days[0]} to {days[-1]}"
        rows = [by_day.get(d) for d in days]
        if all(rows):
            out.append(Comparison(label, dates, sum(r["plays"] for r in rows),  # type: ignore[index]
                                  sum(r["listeners"] for r in rows), ""))  # type: ignore[index]
        else:
            absent = [d.isoformat() for d, r in zip(days, rows, strict=True) if not r]
            out.append(Comparison(label, dates, None, None,
                                  f"no data for {', '.join(absent) if len(absent) < 3 else f'{len(absent)} days'} "
                                  f"({since})"))
    return out


def rising_reason(data: ReportData) -> str:
    """Why no track is listed as rising: trends not computed, too little history, or none passed the rule."""
    who = "the platform" if data.artist_id is None else data.catalog.name("artist", data.artist_id)
    if not data.trends_computed:
        return f"Trends were not computed for {data.day}: track_trends has no partition for that day in the lake."
    shortfall = trends.history_shortfall(data.history_days) if data.history_days is not None else None
    if shortfall:
        return f"Too little history to call anything rising yet ({shortfall})."
    return (f"No track of {who} passed the rising rule on {data.day} (z ≥ {trends.Z_RISING:g}, at least "
            f"{trends.MIN_PLAYS} listeners and {trends.MIN_RATIO:g}{TIMES} the expected count).")


def rising_insight(data: ReportData) -> str:
    """One sentence on the day's strongest rise, every number from the rising table."""
    rows = data.rising.to_pylist()
    if not rows:
        return rising_reason(data)
    top = rows[0]
    by = "" if data.artist_id or not top["artist_id"] else f" by {data.catalog.name('artist', top['artist_id'])}"
    ratio = top["listeners"] / top["expected"] if top["expected"] else float("inf")
    others = (f"; {len(rows) - 1} more track{'s' if len(rows) > 2 else ''} also rose" if len(rows) > 1 else "")
    return (f"{data.catalog.name('track', top['track_id'])}{by} had {top['listeners']:,} listeners on {data.day}, "
            f"{ratio:.1f}{TIMES} the {top['expected']:,.1f} its own baseline expected (z = {top['z']:.1f}){others}.")


# ---- charts -----------------------------------------------------------------------------------------------------
def history_note(data: ReportData) -> str:
    """'3 of 14 days: the lake holds data from <date>' when the chart window is not full."""
    window = max(REPORT_DAYS, 2 * data.period_days) if data.period_days > 1 else REPORT_DAYS
    shown = data.daily.num_rows
    if shown >= window:
        return ""
    if data.history_from and data.history_from > data.day - dt.timedelta(days=window - 1):
        return f"{shown} of {window} days: the lake holds data from {data.history_from.isoformat()}"
    return f"{shown} of {window} days: the others have no daily stats in the lake"


def render_charts(data: ReportData) -> dict[str, str]:
    """SVG charts: listening over the window, the period's top tracks, plays by country, rising tracks."""
    period = "the day" if data.period_days == 1 else "the week"
    rows = {r["date"]: r for r in data.daily.to_pylist()}
    # From the first day with data to the report's day; a day missing in between is a gap, not a shorter axis.
    first = min(rows, default=data.day)
    days = [first + dt.timedelta(days=k) for k in range((data.day - first).days + 1)]
    charts = {"plays_over_time": svg.line_chart(
        f"Plays and listeners per day, {days[0]:%d %b} to {days[-1]:%d %b}" if len(days) > 1
        else f"Plays and listeners on {days[0]:%d %b}", [f"{d:%a %d}" for d in days],
        [svg.Series("plays", [rows[d]["plays"] if d in rows else None for d in days]),
         svg.Series("listeners" if data.artist_id else "listeners (summed over artists)",
                    [rows[d]["listeners"] if d in rows else None for d in days])],
        "Day (UTC)", "Plays / listeners per day", history_note(data))}
    tops = data.top_tracks.to_pylist()
    charts["top_tracks"] = svg.bar_chart(
        f"Top {len(tops)} tracks by plays, {period}",
        [svg.Bar(data.catalog.name("track", r["track_id"]), r["plays"]) for r in tops], "Plays")
    countries = data.countries.to_pylist()
    charts["countries"] = svg.bar_chart(
        f"Plays by country, {period}", [svg.Bar(r["country"] or "unknown", r["plays"]) for r in countries[:TOP_N]],
        "Plays" + (f" (top {TOP_N} of {len(countries)} countries)" if len(countries) > TOP_N else ""))
    rising = data.rising.to_pylist()
    if rising:
        charts["trends"] = svg.bar_chart(
            f"Rising tracks on {data.day}: listeners vs expected",
            [svg.Bar(data.catalog.name("track", r["track_id"]), r["listeners"], round(r["expected"], 1),
                     f"z = {r['z']:.1f}") for r in rising],
            "Listeners on the day", value_label="listeners", marker_label="expected from its own baseline")
    return charts


# ---- HTML ---------------------------------------------------------------------------------------------------------
@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2  # only the steps that render a report pay for it

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = lambda v, digits=0: DASH if v is None else f"{v:,.{digits}f}"
    env.filters["signed_pct"] = lambda v: DASH if v is None else f"{v:+.1f}%"
    return env


def link(kind: str, entity_id: str) -> str:
    return f"{SPOTIFY}/{kind}/{entity_id}"


def _change(now: int, then: int | None) -> dict[str, Any]:
    pct = _pct(now, then)
    return {"then": then, "pct": pct, "dir": "none" if pct is None else "up" if pct > 0 else "down" if pct < 0
            else "flat"}


def view(title: str, data: ReportData, charts: dict[str, str], nav: Sequence[tuple[str, str]] = ()) -> dict:
    """What the template shows, each figure straight from the report's tables."""
    from markupsafe import Markup

    plays, listeners = period_totals(data)
    cat = data.catalog
    start = period_start(data)
    compared = comparisons(data)
    track_delta = "yesterday" if data.period_days == 1 else "the previous week"
    return {
        "title": title, "day": data.day, "start": start, "period_days": data.period_days, "nav": list(nav),
        "artist": None if data.artist_id is None else {"name": cat.name("artist", data.artist_id),
                                                        "href": link("artist", data.artist_id)},
        "plays": plays, "listeners": listeners,
        "listeners_note": "summed per day" if data.artist_id else "summed per artist and day",
        "comparisons": [{"label": c.label, "dates": c.dates, "missing": c.missing,
                         "plays": _change(plays, c.plays), "listeners": _change(listeners, c.listeners)}
                        for c in compared],
        "insights": list(data.insights),
        "charts": {k: Markup(v) for k, v in charts.items()},  # built from escaped text in svg_charts
        "history_note": history_note(data),
        "daily": data.daily.to_pylist(),
        "track_delta": track_delta if data.previous_tracks else "",
        "track_delta_missing": "" if data.previous_tracks else f"no data for {track_delta} in the lake",
        "top_tracks": [{**r, "name": cat.name("track", r["track_id"]), "href": link("track", r["track_id"]),
                        "album": cat.albums.get(r["track_id"], ""),
                        "artist_name": cat.name("artist", r["artist_id"]),
                        "artist_href": link("artist", r["artist_id"]),
                        "change": _change(r["plays"], r["prev_plays"]) if data.previous_tracks else None}
                       for r in data.top_tracks.to_pylist()],
        "countries": data.countries.to_pylist(),
        "rising": [{**r, "name": cat.name("track", r["track_id"]), "href": link("track", r["track_id"]),
                    "ratio": r["listeners"] / r["expected"] if r["expected"] else None}
                   for r in data.rising.to_pylist()],
        "rising_insight": rising_insight(data),
        "catalog": cat,
        "rule": f"z ≥ {trends.Z_RISING:g}, at least {trends.MIN_PLAYS} listeners and "
                f"{trends.MIN_RATIO:g}{TIMES} expected",
    }


def render_html(title: str, data: ReportData, charts: dict[str, str], nav: Sequence[tuple[str, str]] = ()) -> str:
    """`nav`: (label, relative href) links shown at the top, e.g. back to the day's index."""
    return _environment().get_template("report.html.j2").render(view(title, data, charts, nav))


@dataclass(frozen=True)
class IndexEntry:
    artist_id: str
    href: str  # relative to the index page
    data: ReportData


def render_index(day: dt.date, platform_href: str, entries: Sequence[IndexEntry]) -> str:
    """The day's reports in one page: the platform report and every watched artist's, with their headline
    figures (plays vs yesterday, rising tracks, top track)."""
    rows = []
    for e in sorted(entries, key=lambda e: -period_totals(e.data)[0]):
        plays, listeners = period_totals(e.data)
        yesterday = comparisons(e.data)[0]
        top = e.data.top_tracks.to_pylist()[:1]
        rows.append({"name": e.data.catalog.name("artist", e.artist_id), "href": e.href,
                     "spotify": link("artist", e.artist_id), "plays": plays, "listeners": listeners,
                     "change": _change(plays, yesterday.plays), "rising": e.data.rising.num_rows,
                     "top": {"name": e.data.catalog.name("track", top[0]["track_id"]),
                             "href": link("track", top[0]["track_id"])} if top else None})
    return _environment().get_template("index.html.j2").render(
        title=f"Reports for {day}", day=day, platform_href=platform_href, artists=rows)


# ---- markdown for the Dagster UI -------------------------------------------------------------------------------
def _md_link(text: str, href: str) -> str:
    return f"[{md_text(text)}]({href})"


def markdown_summary(data: ReportData, charts: dict[str, str]) -> str:
    plays, listeners = period_totals(data)
    start = period_start(data)
    label = data.day.isoformat() if data.period_days == 1 else f"{start.isoformat()} to {data.day.isoformat()}"
    counted = "summed per day" if data.artist_id else "summed per artist and day"
    deltas = [f"{_pct(plays, c.plays):+.1f}% plays vs {c.label}" if c.plays else f"vs {c.label}: {c.missing}"
              for c in comparisons(data)]
    cat = data.catalog
    rising = [f"{_md_link(cat.name('track', r['track_id']), link('track', r['track_id']))} "
              f"({r['listeners']:,} listeners vs {r['expected']:,.1f} expected, z {r['z']:.1f})"
              for r in data.rising.to_pylist()[:3]]
    lines = [f"**{label}**: {plays:,} plays by {listeners:,} listeners ({counted}); {'; '.join(deltas)}.", "",
             *(f"- {md_text(t)}" for t in data.insights), "",
             "**Rising**: " + (", ".join(rising) if rising else rising_reason(data)), "",
             f"![plays over time]({svg.data_uri(charts['plays_over_time'])})", "",
             "| top track | plays | listeners |", "| --- | ---: | ---: |"]
    lines += [f"| {_md_link(cat.name('track', r['track_id']), link('track', r['track_id']))} | {r['plays']:,} | "
              f"{r['listeners']:,} |" for r in data.top_tracks.to_pylist()[:5]]
    return "\n".join(lines)


def render_artists_chart(reports: Mapping[str, ReportData], names: Mapping[str, str]) -> str:
    """One line per artist: plays per day over the report window, to compare the watched artists at a glance."""
    days = sorted({d for data in reports.values() for d in data.daily["date"].to_pylist()})
    series = []
    for artist_id, data in reports.items():
        plays = dict(zip(data.daily["date"].to_pylist(), data.daily["plays"].to_pylist(), strict=True))
        series.append(svg.Series(names.get(artist_id, artist_id[:6] + "…"), [plays.get(d) for d in days]))
    return svg.line_chart(f"Plays per day of the watched artists, last {len(days)} days",
                          [f"{d:%a %d}" for d in days], series, "Day (UTC)", "Plays per day")


def artists_summary(reports: Mapping[str, ReportData], names: Mapping[str, str], uris: Mapping[str, str],
                    chart: str, index_uri: str | None = None) -> str:
    """The per-artist reports at a glance, for the UI: totals, top track and rising tracks per artist, each with the
    uri of its full report."""
    lines = ([f"All of the day's reports: {index_uri}", ""] if index_uri else []) + [
        f"![watched artists]({svg.data_uri(chart)})", "",
        "| artist | plays | listeners | top track | rising tracks | report |",
        "| --- | ---: | ---: | --- | ---: | --- |"]
    for artist_id, data in sorted(reports.items(), key=lambda kv: -period_totals(kv[1])[0]):
        plays, listeners = period_totals(data)
        top = (data.catalog.name("track", data.top_tracks["track_id"][0].as_py()) if data.top_tracks.num_rows
               else "-")
        lines.append(f"| {md_text(names.get(artist_id, artist_id))} | {plays:,} | {listeners:,} | {md_text(top)} | "
                     f"{data.rising.num_rows} | {uris[artist_id]} |")
    return "\n".join(lines)
