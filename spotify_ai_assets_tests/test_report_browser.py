"""The reports as a person opens them: rendered files from the lake in Debian's headless Chromium (Playwright, as
test_deploy_ui.py drives the UI), on a laptop-sized and a phone-sized screen and printed to PDF. No console
errors, the charts draw, names are on the page, no 22-character Spotify id is visible (ids live in links only), the
phone layout does not overflow sideways, and the day's index links open the reports. Screenshots are saved under
the test's tmp dir (`screenshots/`)."""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from spotify_ai_assets.core.analytics.insights import artist_insights
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.query import scalar
from spotify_ai_assets.defs.analytics.reports import (
    ARTIST_TABLE,
    INDEX_TABLE,
    TABLE,
    artist_daily_reports,
    platform_daily_report,
)
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.sandbox.world import EPOCH, World
from spotify_ai_assets_tests.test_deploy_ui import CHROMIUM, CHROMIUM_ARGS

from .sandbox_lake import write_catalog, write_daily_stats

SPOTIFY_ID = re.compile(r"\b[0-9A-Za-z]{22}\b")
LAPTOP, PHONE = {"width": 1366, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[Lake, World, dt.date, list[int]]:
    """Fifteen sandbox days, a watchlist of the three busiest artists and the rising track's, one rising track, the
    day's insights; then the platform report, the artist reports and the index, as the daily job renders them."""
    tmp = tmp_path_factory.mktemp("reports")
    world = World(seed=7, scale="tiny")
    day = EPOCH + dt.timedelta(days=15)
    lake = Lake(str(tmp / "lake"))
    write_daily_stats(world, lake, EPOCH, day, ("daily_track_country_stats", "daily_artist_stats"))
    busiest = scalar("SELECT list(artist_id ORDER BY plays DESC, artist_id)[1:3] FROM s",
                     {"s": lake.scan("daily_artist_stats", [day.isoformat()])})
    watched = sorted({*(world.artist_ids.index(a) for a in busiest), int(world.track_artist[0])})
    write_catalog(lake, world, watched, [day])
    lake.write("track_trends", pa.table({"date": [day], "entity_id": [world.track_ids[0]], "plays": [30],
                                         "expected": [2.0], "z": [16.3], "ratio": [10.3], "history_days": [15],
                                         "trend": ["rising"]}), day.isoformat())
    names = {**{world.artist_ids[a]: world.artist_name(a) for a in watched},
             **{world.track_ids[t]: world.track_name(t) for t, a in enumerate(world.track_artist) if a in watched}}
    days = [(day - dt.timedelta(days=n)).isoformat() for n in range(14)]
    lake.write("artist_insights", artist_insights(day, lake.scan("daily_track_country_stats", days), names),
               day.isoformat())
    assert dg.materialize([platform_daily_report, artist_daily_reports], partition_key=day.isoformat(),
                          resources={"lake": LakeResource(root=str(tmp / "lake"))}).success
    return lake, world, day, watched


def _open(browser, url: str, viewport: dict, problems: list[str]):
    page = browser.new_page(viewport=viewport)
    page.on("console", lambda m: problems.append(f"{url}: console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"{url}: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"{url}: request failed {r.url}"))
    page.goto(url)
    return page


def _check_page(page, names: list[str]) -> str:
    text = page.evaluate("document.body.innerText")
    assert SPOTIFY_ID.findall(text) == [], "a raw Spotify id is visible"
    for name in names:
        assert name in text, name
    # Ids are in links only: every link to Spotify carries one.
    hrefs = page.eval_on_selector_all("a[href^='https://open.spotify.com/']", "as => as.map(a => a.href)")
    assert hrefs and all(re.fullmatch(r"https://open\.spotify\.com/(track|artist)/[0-9A-Za-z]{22}", h) for h in hrefs)
    return text


def test_the_reports_open_cleanly_in_chromium_with_names_and_charts(rendered, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI=true (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    lake, world, day, watched = rendered
    key = day.isoformat()
    platform = lake.partition_uri(TABLE, key) + "report.html"
    artist = watched[0]
    artist_page = lake.partition_uri(ARTIST_TABLE, key) + f"{world.artist_ids[artist]}.html"
    index = lake.partition_uri(INDEX_TABLE, key) + "index.html"
    top = scalar("SELECT track_id FROM s GROUP BY track_id ORDER BY sum(plays) DESC, track_id LIMIT 1",
                 {"s": lake.scan("daily_track_country_stats", [key])})
    shots = tmp_path / "screenshots"
    shots.mkdir()
    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            for label, viewport in (("laptop", LAPTOP), ("phone", PHONE)):
                page = _open(browser, platform, viewport, problems)
                _check_page(page, [f"Platform report {key}", world.track_name(0), world.artist_name(watched[0])])
                assert page.locator("svg.chart").count() == 4
                box = page.locator("svg.chart").first.bounding_box()
                assert box and box["width"] > (600 if label == "laptop" else 300), box
                # Wide tables and charts scroll inside their own boxes; the page itself never scrolls sideways.
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), label
                page.screenshot(path=shots / f"platform_{label}.png", full_page=True)
                page.close()

            page = _open(browser, artist_page, LAPTOP, problems)
            text = _check_page(page, [world.artist_name(artist), "Top tracks", "Rising tracks"])
            assert text.count(world.artist_name(artist)) >= 1
            page.screenshot(path=shots / "artist.png", full_page=True)
            page.emulate_media(media="print")
            assert page.pdf(path=str(shots / "artist.pdf")).startswith(b"%PDF")
            assert page.locator("nav.crumbs").evaluate("n => getComputedStyle(n).display") == "none"
            page.close()

            page = _open(browser, index, LAPTOP, problems)
            _check_page(page, [world.artist_name(a) for a in watched])
            page.screenshot(path=shots / "index.png", full_page=True)
            # The index's relative links open the reports.
            page.get_by_role("link", name=world.artist_name(artist), exact=True).click()
            page.wait_for_load_state()
            assert page.url == artist_page and world.artist_name(artist) in page.title()
            page.get_by_role("link", name="Platform report").click()
            page.wait_for_load_state()
            assert page.url == platform
            assert page.locator(f"a[href='https://open.spotify.com/track/{top}']").count() >= 1
            page.close()
        finally:
            browser.close()
    assert problems == []
    assert sorted(p.name for p in shots.iterdir()) == ["artist.pdf", "artist.png", "index.png", "platform_laptop.png",
                                                       "platform_phone.png"]
