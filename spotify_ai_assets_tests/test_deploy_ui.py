"""The UI as a person uses it: `dagster dev` (webserver and daemon) on a free port with a temporary DAGSTER_HOME,
driven in Debian's headless Chromium by Playwright. It opens the asset graph, filters it to the daily job's assets,
launches one sandbox partition from the materialize dialog, waits for the run to succeed, then finds an asset check
result and the daily report's chart on their pages. Meanwhile the daemon ticks the test location's schedule and
sensor on its own. Screenshots are saved under the test's tmp dir (`screenshots/`)."""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.observability.audit import read_run
from spotify_ai_assets.lib.trace import TRACE_TAG
from spotify_ai_assets_tests.deploy_fixtures import (
    REPO,
    cli,
    free_port,
    start,
    stop,
    wait_for,
    workspace,
)

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialling Google's hosts, which this machine refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SELECTION = 'group:"ingestion" or group:"analytics"'


def _up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.ui
def test_materialize_a_partition_from_the_ui_and_see_its_checks_and_report(tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing under CI=true (.ci/run installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # A plain local instance (SQLite under DAGSTER_HOME), not the repo's dagster.yaml with its repo-relative folders.
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ws = workspace(tmp_path / "workspace.yaml", "spotify_ai_assets.definitions",
                   "spotify_ai_assets_tests.deploy_location")
    shots = tmp_path / "screenshots"
    shots.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"DAGSTER_HOME": str(home), "SPOTIFY_AI_HOME": str(tmp_path / "home"), "SPOTIFY_AI_SANDBOX_SCALE": "tiny",
           "SPOTIFY_AI_EXECUTOR": "in_process"}
    # The newest partitions are the ones the dialog lists first; a few days back is a finished sandbox day.
    day = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)).isoformat()
    log = tmp_path / "dagster_dev.log"
    server = start([cli("dagster"), "dev", "-w", str(ws), "-h", "127.0.0.1", "-p", str(port)], env, log, cwd=REPO)
    instance = None
    try:
        wait_for(lambda: _up(f"{base}/server_info"), 120, "dagster dev to serve", server, log)
        instance = dg.DagsterInstance.from_config(str(home))
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(60_000)
            try:
                run = _drive(page, base, day, shots, instance, server, log)
            except Exception:
                page.screenshot(path=shots / "failure.png")
                raise
            finally:
                browser.close()
            assert run.tags.get("dagster/partition") == day

        # The daemon ticked the test location's schedule (every minute) and sensor (once) on its own.
        def automation_runs() -> bool:
            return all(instance.get_runs(filters=dg.RunsFilter(tags={tag: name},
                                                               statuses=[dg.DagsterRunStatus.SUCCESS]))
                       for tag, name in (("dagster/schedule_name", "deploy_probe_schedule"),
                                         ("dagster/sensor_name", "deploy_probe_sensor")))

        wait_for(automation_runs, 150, "a scheduled and a sensor run", server, log, interval=2)

        # Every run is audited however it was launched: the UI's run by its own steps; the schedule's and the
        # sensor's runs (another code location, whose assets carry no audit hooks) by the finished-run sensors.
        lake = Lake(str(tmp_path / "home" / "lake"))
        assert read_run(lake, run.run_id).num_rows > 0
        wait_for(lambda: instance.get_run_by_id(run.run_id).tags.get(TRACE_TAG) == run.run_id, 150,
                 "trace_id_sensor to tag the UI's run", server, log, interval=2)

        def automation_audited() -> bool:
            runs = [r for tag, name in (("dagster/schedule_name", "deploy_probe_schedule"),
                                        ("dagster/sensor_name", "deploy_probe_sensor"))
                    for r in instance.get_runs(filters=dg.RunsFilter(tags={tag: name},
                                                                     statuses=[dg.DagsterRunStatus.SUCCESS]))]
            return all(read_run(lake, r.run_id)["asset"].to_pylist() == ["deploy_probe"] for r in runs)

        wait_for(automation_audited, 150, "the schedule's and the sensor's runs to be audited", server, log,
                 interval=2)
    finally:
        if instance is not None:
            instance.dispose()
        stop(server)
    assert sorted(p.name for p in shots.iterdir()) == ["01_asset_graph.png", "02_launch_dialog.png", "03_run.png",
                                                       "04_checks.png", "05_report.png"]


def _drive(page, base: str, day: str, shots: Path, instance: dg.DagsterInstance, server, log: Path) -> dg.DagsterRun:
    """What a person does: graph, filter, materialize one partition, then the run, a check and the report."""
    from playwright.sync_api import expect

    # Launching and page loads take seconds when the machine is busy (the rest of the suite runs alongside).
    expect.set_options(timeout=60_000)
    # The first-visit newsletter prompt pops up a few seconds in, whenever: skip it when it is in the way.
    page.add_locator_handler(page.get_by_role("dialog").filter(has_text="Join the Dagster"),
                             lambda prompt: prompt.get_by_role("button", name="Skip").click())
    page.goto(f"{base}/asset-groups")
    # Filter the graph to the daily job's assets; retyped if the prompt popped up mid-typing.
    for _attempt in range(3):
        page.locator(".CodeMirror:visible").first.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(SELECTION)
        page.keyboard.press("Enter")
        if page.get_by_text("weekly_reports", exact=True).count() == 0:
            break
        page.wait_for_timeout(2000)
    expect(page.get_by_text("weekly_reports", exact=True)).to_have_count(0)
    expect(page.get_by_text("ingestion", exact=True).first).to_be_visible()
    page.screenshot(path=shots / "01_asset_graph.png")

    page.get_by_role("button", name="Materialize all…").click()
    # audio_features_all is an optional input of the daily job: the UI asks once.
    confirm = page.get_by_role("button", name="Confirm")
    dialog = page.get_by_role("dialog").filter(has_text=re.compile(r"Launch runs to materialize \d+ assets"))
    dialog.or_(confirm).first.wait_for()
    if confirm.count():
        confirm.click()
    partitions = dialog.locator("input[type=text]:visible, input:not([type]):visible").first
    partitions.fill(day)
    partitions.press("Enter")
    expect(dialog.get_by_text("1 partition", exact=True)).to_be_visible()
    page.screenshot(path=shots / "02_launch_dialog.png")
    dialog.get_by_role("button", name="Launch 1 run").click()
    expect(dialog).to_be_hidden()

    def finished() -> dg.DagsterRun | None:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": day}))
        if runs and runs[0].status == dg.DagsterRunStatus.FAILURE:
            pytest.fail(f"the run launched from the UI failed: {runs[0].run_id}")
        return runs[0] if runs and runs[0].status == dg.DagsterRunStatus.SUCCESS else None

    run = wait_for(finished, 240, f"the UI-launched run of {day} to succeed", server, log, interval=2)
    page.goto(f"{base}/runs/{run.run_id}")
    expect(page.get_by_text("Success").first).to_be_visible()
    page.screenshot(path=shots / "03_run.png")

    page.goto(f"{base}/assets/listening_events?view=checks")
    page.locator("span", has_text=re.compile(r"^contract$")).first.click()
    expect(page.get_by_text("0 duplicated key").first).to_be_visible()
    expect(page.get_by_text("Evaluation result")).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    page.screenshot(path=shots / "04_checks.png")

    # The report's markdown summary (with its chart) is the materialization's `summary` metadata.
    page.goto(f"{base}/assets/platform_daily_report?view=events")
    expect(page.get_by_text(day).first).to_be_visible()
    page.get_by_text("[Show Markdown]").first.click()
    summary = page.get_by_role("dialog").filter(has_text="summary")
    expect(summary.get_by_text(f"{day}:")).to_be_visible()
    chart = summary.locator('img[src^="data:image/svg+xml"]').first
    expect(chart).to_be_visible()
    assert chart.evaluate("img => img.naturalWidth") > 100, "the chart image decodes"
    page.screenshot(path=shots / "05_report.png", full_page=True)
    return run
