"""The daily platform report: an HTML file in the lake whose charts are real PNGs and whose numbers are the lake's."""

from __future__ import annotations

import base64
import datetime as dt
import json
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.analytics.insights import artist_insights
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.query import scalar
from spotify_ai_assets.defs.analytics.reports import TABLE, platform_daily_report
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import write_daily_stats

PNG = b"\x89PNG\r\n\x1a\n"


def _write_insights(lake: Lake, day: dt.date) -> pa.Table:
    """The day's artist insights, as the artist_insights asset writes them (names unknown: ids stand in)."""
    days = [(day - dt.timedelta(days=n)).isoformat() for n in range(14)]
    table = artist_insights(day, lake.scan("daily_track_country_stats", days), {})
    lake.write("artist_insights", table, day.isoformat())
    assert table.num_rows >= 3
    return table


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.items: list[str] = []
        self.images: list[str] = []
        self.cells: list[str] = []
        self.headings: list[str] = []
        self._tag = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag = tag
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")

    def handle_data(self, data: str) -> None:
        if self._tag == "td":
            self.cells.append(data)
        elif self._tag == "li":
            self.items.append(data)
        elif self._tag == "h2":
            self.headings.append(data)


def test_the_report_renders_with_its_charts_and_the_lakes_numbers(tmp_path: Path) -> None:
    world = World(seed=7, scale="tiny")
    day = EPOCH + dt.timedelta(days=15)
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, EPOCH, day, ("daily_track_country_stats", "daily_artist_stats"))
    lake.write("track_trends", pa.table({"date": [day], "entity_id": [world.track_ids[0]], "plays": [30],
                                         "expected": [2.0], "z": [16.3], "ratio": [10.3], "history_days": [15],
                                         "trend": ["rising"]}), day.isoformat())
    insights = _write_insights(lake, day)

    result = dg.materialize([platform_daily_report], partition_key=day.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    page = lake.read_file(TABLE, "report.html", day.isoformat()).decode()
    parsed = _Page()
    parsed.feed(page)
    assert parsed.headings == ["Insights", "Listening over time", "Top tracks", "Countries", "Rising tracks"]
    # The biggest week-over-week rises, in English, each percentage from the insights' facts.
    rises = sorted((json.loads(r["facts"])["change_pct"], r["artist_id"]) for r in insights.to_pylist())[::-1][:3]
    assert len(parsed.items) == 3 and all(f"rose {pct}% week over week" in li and artist in li
                                          for (pct, artist), li in zip(rises, parsed.items, strict=True))
    assert len(parsed.images) == 4
    for src in parsed.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1]).startswith(PNG)

    stats = lake.scan("daily_track_country_stats", [day.isoformat()])
    top = scalar("SELECT track_id FROM s GROUP BY track_id ORDER BY sum(plays) DESC, track_id LIMIT 1", {"s": stats})
    top_plays = scalar("SELECT sum(plays) FROM s WHERE track_id = $1", {"s": stats}, [top])
    assert top in parsed.cells and str(top_plays) in parsed.cells
    assert world.track_ids[0] in parsed.cells  # the rising track
    day_plays = scalar("SELECT sum(plays) FROM s", {"s": lake.scan("daily_artist_stats", [day.isoformat()])})
    assert str(day_plays) in parsed.cells

    md = result.asset_materializations_for_node("platform_daily_report")[0].metadata
    assert md["dagster/uri"].value.endswith(f"reports/platform_daily/date={day.isoformat()}/report.html")
    assert md["days_of_history"].value == 14
    assert "data:image/png;base64," in md["summary"].value and f"{day_plays:,} plays" in md["summary"].value


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
        parsed = _Page()
        parsed.feed(page)
        assert len(parsed.images) == 4 and f"week of {week}" in page
        days = [(start + dt.timedelta(days=n)).isoformat() for n in range(7)]
        week_plays = scalar("SELECT sum(plays) FROM s", {"s": lake.scan("daily_track_country_stats", days)})
        by_country = scalar("SELECT sum(plays) FROM s WHERE country = 'US'",
                            {"s": lake.scan("daily_track_country_stats", days)})
        assert str(by_country) in parsed.cells and week_plays > by_country


def _watch(lake: Lake, world: World, artists: list[int], days: list[dt.date]) -> None:
    from spotify_ai_assets.core.ingestion.catalog import ARTISTS_SCHEMA

    for day in days:
        lake.write("spotify_artists", pa.Table.from_pylist(
            [{"snapshot_date": day, "artist_id": world.artist_ids[a], "name": world.artist_name(a), "genres": [],
              "popularity": None, "followers": None} for a in artists], ARTISTS_SCHEMA), day.isoformat())


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
    insights = _write_insights(lake, day)
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
        parsed = _Page()
        parsed.feed(page)
        assert world.artist_name(i) in page
        assert len(parsed.images) == 4 and all(base64.b64decode(s.split(",", 1)[1]).startswith(PNG)
                                               for s in parsed.images)
        plays = scalar("SELECT plays FROM s WHERE artist_id = $1", {"s": artist_stats}, [world.artist_ids[i]])
        assert str(plays) in parsed.cells
        assert parsed.items == ([own[world.artist_ids[i]]] if world.artist_ids[i] in own else [])
        # Only the artist's own tracks: the rising track of artist a is not in b's report.
        assert (track_of_a in parsed.cells) == (i == a)
        tracks = set(scalar("SELECT list(DISTINCT track_id) FROM s WHERE artist_id = $1",
                            {"s": lake.scan("daily_track_country_stats", [day.isoformat()])}, [world.artist_ids[i]]))
        assert {c for c in parsed.cells if c in set(world.track_ids)} <= tracks

    md = result.asset_materializations_for_node("artist_daily_reports")[0].metadata
    assert md["artists"].value == 2
    summary = md["summary"].value
    assert "data:image/png;base64," in summary and world.artist_name(a) in summary and world.artist_name(b) in summary
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
    parsed = _Page()
    parsed.feed(page)
    week_plays = scalar("SELECT sum(plays) FROM s WHERE artist_id = $1",
                        {"s": lake.scan("daily_artist_stats", [d.isoformat() for d in days])}, [world.artist_ids[1]])
    summary = result.asset_materializations_for_node("artist_weekly_reports")[0].metadata["summary"].value
    assert f"| {world.artist_name(1)} | {week_plays:,} |" in summary
    assert len(parsed.images) == 4 and f"week of {week}" in page
