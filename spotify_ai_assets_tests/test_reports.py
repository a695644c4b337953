"""The reports: HTML files in the lake whose charts are inline SVG with titles and axis labels, which name tracks
and artists (ids only inside links), and whose numbers are the lake's (each numeric cell carries its raw figure in
`data-value`, checked here against SQL over the lake)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics.insights import artist_insights
from spotify_ai_assets.core.analytics.trends import trends_schema
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.query import scalar
from spotify_ai_assets.defs.analytics.reports import INDEX_TABLE, TABLE, platform_daily_report
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import write_catalog, write_daily_stats

SPOTIFY_ID = re.compile(r"\b[0-9A-Za-z]{22}\b")


def _write_insights(lake: Lake, day: dt.date, names: dict[str, str] | None = None) -> pa.Table:
    """The day's artist insights, as the artist_insights asset writes them (with `names` from the catalog; without,
    ids stand in)."""
    days = [(day - dt.timedelta(days=n)).isoformat() for n in range(14)]
    table = artist_insights(day, lake.scan("daily_track_country_stats", days), names or {})
    lake.write("artist_insights", table, day.isoformat())
    assert table.num_rows >= 3
    return table


@dataclass
class Cell:
    text: str = ""
    value: str | None = None  # data-value: the raw figure
    hrefs: list[str] = field(default_factory=list)


@dataclass
class Chart:
    title: str = ""
    texts: list[str] = field(default_factory=list)


class _Page(HTMLParser):
    """The parts of a report the tests compare with the lake: headings, insights, table cells (text, raw value,
    links), KPI figures, charts (title and every text drawn), and all links."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.items: list[str] = []
        self.cells: list[Cell] = []
        self.charts: list[Chart] = []
        self.links: list[tuple[str, str]] = []
        self.kpis: dict[str, str] = {}
        self.thens: dict[str, list[str]] = {}  # KPI metric -> compared figures (data-value of spans)
        self._stack: list[str] = []
        self._text: dict[str, str] = {}
        self._kpi = ""
        self._insights = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self._stack.append(tag)
        self._text[tag] = ""
        if tag == "td":
            self.cells.append(Cell(value=a.get("data-value")))
        elif tag == "a":
            if "td" in self._stack:
                self.cells[-1].hrefs.append(a["href"])
            self._href = a["href"]
        elif tag == "svg":
            self.charts.append(Chart())
        elif tag == "ul" and "insights" in a.get("class", ""):
            self._insights = True
        elif tag == "div" and "kpi" in a.get("class", "").split():
            self._kpi = a["data-metric"]
        elif tag == "div" and a.get("class") == "value":
            self.kpis[self._kpi] = a["data-value"]
        elif tag == "span" and "data-value" in a and self._kpi:
            self.thens.setdefault(self._kpi, []).append(a["data-value"])

    def handle_endtag(self, tag: str) -> None:
        while self._stack:
            top = self._stack.pop()
            text = self._text.pop(top, "").strip()
            if top == "h2":
                self.headings.append(text)
            elif top == "li" and self._insights:
                self.items.append(text)
            elif top == "a":
                self.links.append((self._href, text))
            elif top == "ul":
                self._insights = False
            elif top == "title" and "svg" in self._stack and not self.charts[-1].title:
                self.charts[-1].title = text
            elif top == "text" and "svg" in self._stack:
                self.charts[-1].texts.append(text)
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        for tag in self._text:
            self._text[tag] += data
        if "td" in self._stack and "svg" not in self._stack:
            self.cells[-1].text += data

    def cell_values(self) -> list[str]:
        return [c.value for c in self.cells if c.value is not None]

    def linked(self, kind: str) -> dict[str, str]:
        """id -> link text, for the links to Spotify tracks or artists."""
        prefix = f"https://open.spotify.com/{kind}/"
        return {h.removeprefix(prefix): t for h, t in self.links if h.startswith(prefix)}


def _parse(page: str) -> _Page:
    parsed = _Page()
    parsed.feed(page)
    return parsed


def _visible_text(page: str) -> str:
    """The page without its tags and attributes (ids may be in hrefs, not in text)."""
    return re.sub(r"<[^>]+>", " ", re.sub(r"<(style|title)>.*?</\1>", " ", page, flags=re.S))


def test_the_report_renders_with_its_charts_and_the_lakes_numbers(tmp_path: Path) -> None:
    world = World(seed=7, scale="tiny")
    day = EPOCH + dt.timedelta(days=15)
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, EPOCH, day, ("daily_track_country_stats", "daily_artist_stats"))
    stats = lake.scan("daily_track_country_stats", [day.isoformat()])
    top = scalar("SELECT track_id FROM s GROUP BY track_id ORDER BY sum(plays) DESC, track_id LIMIT 1", {"s": stats})
    top_artist = world.track_artist[world.track_ids.index(top)]
    rising_artist = world.track_artist[0]
    # The catalog holds the top track's artist and the rising track's; other artists are not watched.
    write_catalog(lake, world, sorted({int(top_artist), int(rising_artist)}), [day])
    lake.write("track_trends", pa.table({"date": [day], "entity_id": [world.track_ids[0]], "plays": [30],
                                         "expected": [2.0], "z": [16.3], "ratio": [10.3], "history_days": [15],
                                         "trend": ["rising"]}), day.isoformat())
    insights = _write_insights(lake, day)

    result = dg.materialize([platform_daily_report], partition_key=day.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    page = lake.read_file(TABLE, "report.html", day.isoformat()).decode()
    parsed = _parse(page)
    assert parsed.headings == ["Summary", "Insights", "Listening over time", "Top tracks", "Countries",
                               "Rising tracks"]
    # The biggest week-over-week rises, in English, each percentage from the insights' facts, each artist by name
    # (or, outside the catalog, a short label: never the bare id).
    rises = sorted((json.loads(r["facts"])["change_pct"], r["artist_id"]) for r in insights.to_pylist())[::-1][:3]
    catalog_artists = {world.artist_ids[int(top_artist)], world.artist_ids[int(rising_artist)]}
    assert len(parsed.items) == 3
    for (pct, artist), li in zip(rises, parsed.items, strict=True):
        assert f"rose {pct}% week over week" in li and artist not in li
        assert (world.artist_name(world.artist_ids.index(artist)) if artist in catalog_artists
                else f"artist {artist[:6]}… (not in catalog)") in li
    # Four charts, each with a title and labelled axes with units.
    assert [c.title for c in parsed.charts] == [
        f"Plays and listeners per day, {day - dt.timedelta(days=13):%d %b} to {day:%d %b}",
        "Top 10 tracks by plays, the day", "Plays by country, the day",
        f"Rising tracks on {day}: listeners vs expected"]
    for chart, axes in zip(parsed.charts, [("Day (UTC)", "Plays / listeners per day"), ("Plays",),
                                           ("Plays (top 10 of 12 countries)",), ("Listeners on the day",)],
                           strict=True):
        assert set(axes) <= set(chart.texts), (chart.title, chart.texts)
    assert {"plays", "listeners (summed over artists)"} <= set(parsed.charts[0].texts)  # the legend

    # The top track by name, linked by id, with the lake's plays; its artist and album by name.
    top_plays = scalar("SELECT sum(plays) FROM s WHERE track_id = $1", {"s": stats}, [top])
    row = next(c for c in parsed.cells if f"https://open.spotify.com/track/{top}" in c.hrefs)
    assert row.text == world.track_name(world.track_ids.index(top))
    i = parsed.cells.index(row)
    assert parsed.cells[i + 1].text == world.artist_name(int(top_artist))
    assert parsed.cells[i + 2].text == world.album_name(int(world.track_album[world.track_ids.index(top)]))
    assert (parsed.cells[i + 3].value, parsed.cells[i + 3].text) == (str(top_plays), f"{top_plays:,}")
    yesterday = scalar("SELECT sum(plays) FROM s WHERE track_id = $1",
                       {"s": lake.scan("daily_track_country_stats", [(day - dt.timedelta(days=1)).isoformat()])},
                       [top])
    assert parsed.cells[i + 4].value == str(yesterday)  # the per-track change vs yesterday
    # The rising track with its evidence: listeners against expected, the ratio and z.
    rising = next(k for k, c in enumerate(parsed.cells) if f"https://open.spotify.com/track/{world.track_ids[0]}"
                  in c.hrefs and parsed.cells[k + 2].value == "30")
    assert parsed.cells[rising].text == world.track_name(0)
    assert parsed.cells[rising + 1].text == world.artist_name(int(rising_artist))
    assert [c.value for c in parsed.cells[rising + 2: rising + 6]] == ["30", "2.0", "15.0", "16.3"]
    assert f"{world.track_name(0)} by {world.artist_name(int(rising_artist))} had 30 listeners on {day}, 15.0" in page
    # The day's totals and the comparisons, from daily_artist_stats.
    def plays_on(d: dt.date) -> int:
        return scalar("SELECT sum(plays) FROM s", {"s": lake.scan("daily_artist_stats", [d.isoformat()])})

    day_plays = plays_on(day)
    assert parsed.kpis["plays"] == str(day_plays) and str(day_plays) in parsed.cell_values()
    assert parsed.thens["plays"] == [str(plays_on(day - dt.timedelta(days=1))), str(plays_on(day - dt.timedelta(7)))]
    # Names everywhere: no 22-character id outside a link.
    assert SPOTIFY_ID.findall(_visible_text(page)) == []
    assert any(h.endswith(f"{INDEX_TABLE.split('/')[1]}/date={day}/index.html") for h, _ in parsed.links)

    md = result.asset_materializations_for_node("platform_daily_report")[0].metadata
    assert md["dagster/uri"].value.endswith(f"reports/platform_daily/date={day.isoformat()}/report.html")
    assert md["days_of_history"].value == 14 and md["rising_tracks"].value == 1
    summary = md["summary"].value
    assert "data:image/svg+xml;base64," in summary and f"{day_plays:,} plays" in summary
    assert f"[{world.track_name(0)}](https://open.spotify.com/track/{world.track_ids[0]}) (30 listeners" in summary


def test_with_few_days_the_report_says_how_many_and_why_nothing_rises(tmp_path: Path) -> None:
    world = World(seed=7, scale="tiny")
    day = EPOCH + dt.timedelta(days=2)
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, EPOCH, day, ("daily_track_country_stats", "daily_artist_stats"))
    lake.write("track_trends", trends_schema().empty_table(), day.isoformat())  # nothing labelled yet
    assert dg.materialize([platform_daily_report], partition_key=day.isoformat(),
                          resources={"lake": LakeResource(root=str(tmp_path / "lake"))}).success
    page = lake.read_file(TABLE, "report.html", day.isoformat()).decode()
    parsed = _parse(page)
    assert f"3 of 14 days: the lake holds data from {EPOCH}" in page
    assert ("Too little history to call anything rising yet (history: 2 of 7 days needed before the scored day"
            in page)
    assert len(parsed.charts) == 3  # no empty rising chart
    week_ago = (day - dt.timedelta(days=7)).isoformat()
    assert f"vs the same weekday last week: no data for {week_ago} (the lake holds data from {EPOCH})" in page
    assert parsed.thens["plays"] == [str(scalar("SELECT sum(plays) FROM s", {"s": lake.scan(
        "daily_artist_stats", [(day - dt.timedelta(days=1)).isoformat()])}))]


def test_a_backfill_of_weekly_reports_covers_each_week_from_its_days(tmp_path: Path) -> None:
    from spotify_ai_assets.defs.analytics.reports import WEEKLY_TABLE, platform_weekly_report, weekly_partitions

    world = World(seed=7, scale="tiny")
    lake = Lake(str(tmp_path / "lake"))
    weeks = weekly_partitions.get_partition_keys()[:2]  # 2026-01-05 and 2026-01-12
    last_day = dt.date.fromisoformat(weeks[-1]) + dt.timedelta(days=6)
    write_daily_stats(world, lake, dt.date.fromisoformat(weeks[0]), last_day,
                      ("daily_track_country_stats", "daily_artist_stats"))
    resources = {"lake": LakeResource(root=str(tmp_path / "lake"))}
    with dg.instance_for_test() as instance:
        for week in weeks:  # what a backfill of these two partitions runs
            assert dg.materialize([platform_weekly_report], partition_key=week, resources=resources,
                                  instance=instance).success
    for week in weeks:
        start = dt.date.fromisoformat(week)
        page = lake.read_file(WEEKLY_TABLE, "report.html", week).decode()
        parsed = _parse(page)
        # No trends in this lake: three charts, and the reason instead of an empty rising chart.
        assert len(parsed.charts) == 3 and f"week of {week}" in page
        assert "Trends were not computed" in page
        days = [(start + dt.timedelta(days=n)).isoformat() for n in range(7)]
        week_plays = scalar("SELECT sum(plays) FROM s", {"s": lake.scan("daily_track_country_stats", days)})
        by_country = scalar("SELECT sum(plays) FROM s WHERE country = 'US'",
                            {"s": lake.scan("daily_track_country_stats", days)})
        assert str(by_country) in parsed.cell_values() and week_plays > by_country
        assert parsed.kpis["plays"] == str(week_plays)
        # Week over week: the first week has no week before it in the lake; the second compares with the first.
        before = [(start - dt.timedelta(days=n)).isoformat() for n in range(1, 8)]
        if week == weeks[0]:
            assert "vs the previous week: no data for 7 days" in page and "plays" not in parsed.thens
        else:
            assert parsed.thens["plays"] == [str(scalar("SELECT sum(plays) FROM s",
                                                        {"s": lake.scan("daily_artist_stats", before)}))]


def _watch(lake: Lake, world: World, artists: list[int], days: list[dt.date]) -> None:
    """The watchlist's artists on those days: the catalog crawl's snapshots of them, their albums and tracks."""
    write_catalog(lake, world, artists, days)


def test_each_watched_artist_gets_its_own_report_with_its_own_numbers(tmp_path: Path) -> None:
    from spotify_ai_assets.defs.analytics.reports import ARTIST_TABLE, artist_daily_reports

    world = World(seed=7, scale="tiny")
    day = EPOCH + dt.timedelta(days=15)
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, EPOCH, day, ("daily_track_country_stats", "daily_artist_stats"))
    artist_stats = lake.scan("daily_artist_stats", [day.isoformat()])
    busiest = scalar("SELECT artist_id FROM s ORDER BY plays DESC, artist_id LIMIT 1", {"s": artist_stats})
    a, b = world.artist_ids.index(busiest), (world.artist_ids.index(busiest) + 1) % len(world.artist_ids)
    track_of_a = scalar("SELECT track_id FROM s WHERE artist_id = $1 GROUP BY track_id ORDER BY sum(plays) DESC, "
                        "track_id LIMIT 1", {"s": lake.scan("daily_track_country_stats", [day.isoformat()])}, [busiest])
    lake.write("track_trends", pa.table({"date": [day], "entity_id": [track_of_a], "plays": [30], "expected": [2.0],
                                         "z": [16.3], "ratio": [10.3], "history_days": [15], "trend": ["rising"]}),
               day.isoformat())
    names = {**dict(zip(world.artist_ids, map(world.artist_name, range(len(world.artist_ids))), strict=True)),
             **dict(zip(world.track_ids, map(world.track_name, range(len(world.track_ids))), strict=True))}
    insights = _write_insights(lake, day, names)
    own = dict(zip(insights["artist_id"].to_pylist(), insights["text"].to_pylist(), strict=True))
    assert busiest in own
    resources = {"lake": LakeResource(root=str(tmp_path / "lake"))}
    # A first run with a third artist that then leaves the watchlist: its stale report must go.
    _watch(lake, world, [a, b, (a + 2) % len(world.artist_ids)], [day])
    assert dg.materialize([artist_daily_reports], partition_key=day.isoformat(), resources=resources).success
    _watch(lake, world, [a, b], [day])
    result = dg.materialize([artist_daily_reports], partition_key=day.isoformat(), resources=resources)
    assert result.success

    assert lake.list_files(ARTIST_TABLE, day.isoformat()) == sorted(f"{world.artist_ids[i]}.html" for i in (a, b))
    for i in (a, b):
        page = lake.read_file(ARTIST_TABLE, f"{world.artist_ids[i]}.html", day.isoformat()).decode()
        parsed = _parse(page)
        assert f"<h1>{world.artist_name(i)}: daily report {day}</h1>" in page
        # The artist's id once, in the link to the artist: not on every row.
        assert page.count(world.artist_ids[i]) == 1 and parsed.linked("artist") == {
            world.artist_ids[i]: f"{world.artist_name(i)} on Spotify"}
        assert len(parsed.charts) == (4 if i == a else 3)
        plays = scalar("SELECT plays FROM s WHERE artist_id = $1", {"s": artist_stats}, [world.artist_ids[i]])
        assert parsed.kpis["plays"] == str(plays) and str(plays) in parsed.cell_values()
        assert parsed.items == ([own[world.artist_ids[i]]] if world.artist_ids[i] in own else [])
        # Only the artist's own tracks, by name: the rising track of artist a is not in b's report.
        tracks = set(scalar("SELECT list(DISTINCT track_id) FROM s WHERE artist_id = $1",
                            {"s": lake.scan("daily_track_country_stats", [day.isoformat()])}, [world.artist_ids[i]]))
        linked = parsed.linked("track")
        assert (track_of_a in linked) == (i == a) and set(linked) <= tracks
        assert all(name == world.track_name(world.track_ids.index(t)) for t, name in linked.items())
        assert SPOTIFY_ID.findall(_visible_text(page)) == []
        if i == a:
            assert "Rising tracks on" in parsed.charts[-1].title
        else:
            assert f"No track of {world.artist_name(i)} passed the rising rule on {day}" in page

    # The day's index links the platform report and every artist's report, with the lake's figures.
    index = _parse(lake.read_file(INDEX_TABLE, "index.html", day.isoformat()).decode())
    reports = {h: t for h, t in index.links if h.startswith("../../artist_daily/")}
    assert reports == {f"../../artist_daily/date={day}/{world.artist_ids[i]}.html": world.artist_name(i)
                       for i in (a, b)}
    assert (f"../../platform_daily/date={day}/report.html", f"Platform report for {day}") in index.links
    for i in (a, b):
        row = next(k for k, c in enumerate(index.cells) if c.text == world.artist_name(i))
        assert index.cells[row + 1].value == str(scalar("SELECT plays FROM s WHERE artist_id = $1",
                                                        {"s": artist_stats}, [world.artist_ids[i]]))

    md = result.asset_materializations_for_node("artist_daily_reports")[0].metadata
    assert md["artists"].value == 2
    summary = md["summary"].value
    assert "data:image/svg+xml;base64," in summary
    assert world.artist_name(a) in summary and world.artist_name(b) in summary
    assert md["index_uri"].value.endswith(f"reports/index/date={day}/index.html")
    busiest_plays = scalar("SELECT plays FROM s WHERE artist_id = $1", {"s": artist_stats}, [busiest])
    assert f"| {world.artist_name(a)} | {busiest_plays:,} |" in summary


def test_weekly_artist_reports_cover_the_artists_watched_during_the_week(tmp_path: Path) -> None:
    from spotify_ai_assets.defs.analytics.reports import ARTIST_WEEKLY_TABLE, artist_weekly_reports

    world = World(seed=7, scale="tiny")
    week = dt.date(2026, 1, 5)
    days = [week + dt.timedelta(days=n) for n in range(7)]
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, days[0], days[-1], ("daily_track_country_stats", "daily_artist_stats"))
    _watch(lake, world, [0], days[:3])
    _watch(lake, world, [0, 1], days[3:])  # artist 1 added mid-week
    result = dg.materialize([artist_weekly_reports], partition_key=week.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    assert lake.list_files(ARTIST_WEEKLY_TABLE, week.isoformat()) == sorted(f"{world.artist_ids[i]}.html"
                                                                            for i in (0, 1))
    page = lake.read_file(ARTIST_WEEKLY_TABLE, f"{world.artist_ids[1]}.html", week.isoformat()).decode()
    parsed = _parse(page)
    week_plays = scalar("SELECT sum(plays) FROM s WHERE artist_id = $1",
                        {"s": lake.scan("daily_artist_stats", [d.isoformat() for d in days])}, [world.artist_ids[1]])
    summary = result.asset_materializations_for_node("artist_weekly_reports")[0].metadata["summary"].value
    assert f"| {world.artist_name(1)} | {week_plays:,} |" in summary
    assert len(parsed.charts) == 3 and f"week of {week}" in page
    assert parsed.kpis["plays"] == str(week_plays) and "index_uri" not in result.asset_materializations_for_node(
        "artist_weekly_reports")[0].metadata


def test_names_are_escaped_and_a_day_without_data_is_a_gap_not_a_line() -> None:
    from spotify_ai_assets.core.analytics import reports

    day = dt.date(2026, 1, 10)
    days = [day - dt.timedelta(days=2), day]  # nothing on the day between
    stats = pa.table({"date": days, "track_id": ["t1"] * 2, "artist_id": ["a1"] * 2, "country": ["US"] * 2,
                      "plays": [5, 7], "listeners": [3, 4], "skip_rate": [0.1, 0.2]})
    artists = pa.table({"date": days, "artist_id": ["a1"] * 2, "plays": [5, 7], "listeners": [3, 4]})
    data = dataclasses.replace(
        reports.report_data(day, stats, artists, trends_schema().empty_table()),
        catalog=reports.Catalog({"t1": "<script>alert(1)</script> & co", "a1": 'The "Quoted" Band'}),
        history_from=days[0], history_days=2)
    charts = reports.render_charts(data)
    page = reports.render_html("Report <b>", data, charts)
    assert "<script>alert" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page and "The &#34;Quoted&#34; Band" in page
    assert "&lt;script&gt;" in charts["top_tracks"] and "<polyline" not in charts["plays_over_time"]
    assert f"vs yesterday: no data for {days[0] + dt.timedelta(days=1)} (the lake holds data from {days[0]})" in page
    assert "2 of 14 days: the lake holds data from 2026-01-08" in page
    assert "Too little history to call anything rising yet (history: 2 of 7 days" in page


def test_names_from_spotify_are_literal_in_the_ui_markdown() -> None:
    from spotify_ai_assets.core.kernel.markdown import md_text

    assert md_text("![x](http://evil.example/p.png)") == r"\!\[x\]\(http://evil.example/p.png\)"
    assert md_text("AC|DC <b>live</b>\nB-side #2") == r"AC\|DC \<b\>live\</b\> B-side #2"
