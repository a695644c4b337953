"""The daily assets on the sandbox: end to end, idempotent, every record accounted for, faults handled."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

import spotify_ai_assets
from spotify_ai_assets.core.analytics import contracts as analytics_contracts
from spotify_ai_assets.core.ingestion import contracts as ingestion_contracts
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.privacy import pseudonym, user_label
from spotify_ai_assets.core.quality.table_contract import QUARANTINE_WARN_SHARE, TableContract
from spotify_ai_assets.definitions import build_defs, load_defs_folder
from spotify_ai_assets.defs.ingestion.catalog import CatalogConfig, spotify_catalog
from spotify_ai_assets.defs.ingestion.playlists import playlist_snapshots
from spotify_ai_assets.emulator import Fault, SpotifyEmulator
from spotify_ai_assets.lib.environments import build_resources
from spotify_ai_assets.lib.resources.landing import LiveLandingResource
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource
from spotify_ai_assets.lib.resources.spotify import LiveSpotifyResource
from spotify_ai_assets.settings import Settings

from .conftest import DAY

CONTRACTS = {c.name: c for module in (ingestion_contracts, analytics_contracts) for c in vars(module).values()
             if isinstance(c, TableContract)}
TABLES = ("spotify_artists", "spotify_albums", "spotify_tracks", "playlist_snapshots", "recently_played",
          "listening_events", "daily_track_country_stats", "daily_artist_stats", "daily_user_stats")


def run_day(environ: dict[str, str], day: dt.date = DAY) -> dg.ExecuteInProcessResult:
    job = build_defs(environ).resolve_job_def("daily_refresh_job")
    return job.execute_in_process(partition_key=day.isoformat(), instance=dg.DagsterInstance.ephemeral(),
                                  raise_on_error=False)


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    return {m.asset_key.to_user_string(): m.materialization.metadata for m in result.get_asset_materialization_events()}


def checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}


def lake_of(environ: dict[str, str]) -> Lake:
    return Lake(Settings.from_environ(environ).lake_root)


def manifest(environ: dict[str, str], day: dt.date = DAY) -> dict:
    root = Settings.from_environ(environ).landing_root
    return json.loads(Path(root, "events", f"date={day}", "_manifest.json").read_text())


@pytest.fixture(scope="module")
def first_run(tmp_path_factory) -> tuple[dict[str, str], dg.ExecuteInProcessResult]:
    home = tmp_path_factory.mktemp("sandbox")
    environ = {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(home), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    return environ, run_day(environ)


def test_the_daily_job_materializes_every_table_with_its_metadata(first_run):
    environ, result = first_run
    assert result.success
    mats = materializations(result)
    # Trends and playlist changes store only what they find: on the first day of history there is nothing yet.
    assert set(mats) == {*TABLES, "track_trends", "artist_trends", "playlist_changes", "platform_daily_report",
                         "artist_daily_reports", "artist_insights", "generated_playlists", "playlist_add_effects",
                         "spotify_track_names"}
    # Reports, not tables.
    assert mats.pop("platform_daily_report")["dagster/uri"].value.endswith("report.html")
    assert mats.pop("artist_daily_reports")["dagster/uri"].value.endswith(f"reports/artist_daily/date={DAY}/")
    lake = lake_of(environ)
    for table, md in mats.items():
        assert md["dagster/row_count"].value == lake.row_count(table, DAY.isoformat()), table
        assert table not in TABLES or md["dagster/row_count"].value > 0, table
        assert md["dagster/table_name"].value == f"lake.{table}"
        assert md["dagster/uri"].value == lake.uri(table, DAY.isoformat())
        schema_cols = [c.name for c in md["dagster/column_schema"].schema.columns]
        assert schema_cols == lake.read(table, DAY.isoformat()).schema.names
        # Every column says what it means (the UI shows it beside the type).
        undescribed = [c.name for c in md["dagster/column_schema"].schema.columns if not c.description]
        assert not undescribed, (table, undescribed)
    # The day's top tracks outside the watched catalog were named from Spotify, so the report names every track.
    assert lake.row_count("spotify_track_names", DAY.isoformat()) > 0
    report = lake.read_file("reports/platform_daily", "report.html", DAY.isoformat()).decode()
    assert "not in catalog" not in report


def test_the_daily_job_runs_the_expectation_suites_of_its_tables(first_run):
    _, result = first_run
    found = checks(result)
    for table, suite in (("listening_events", "listening_events_suite"), ("spotify_tracks", "spotify_tracks_suite"),
                         ("daily_track_country_stats", "daily_track_country_stats_suite")):
        evaluation = found[(table, suite)]
        assert evaluation.passed, evaluation.metadata["results"].value
        assert evaluation.metadata["rows"].value == materializations(result)[table]["dagster/row_count"].value


def test_every_export_record_is_an_event_a_quarantined_record_or_a_duplicate(first_run):
    environ, result = first_run
    m = manifest(environ)
    md = materializations(result)["listening_events"]
    lake = lake_of(environ)
    events = lake.row_count("listening_events", DAY.isoformat())
    quarantined = lake.read("quarantine/listening_events", DAY.isoformat())
    assert md["export_records"].value == m["records"]
    assert quarantined.num_rows == m["bad"] > 0
    sources = lake.read("listening_events", DAY.isoformat())["source"].to_pylist()
    # A play whose export line was corrupted can still land through the user's recently-played.
    assert sources.count("export") == m["records"] - m["bad"] - m["duplicates"]
    assert events == len(sources) and set(sources) <= {"export", "recently_played"}
    refs = quarantined["record_ref"].to_pylist()
    assert all(r.rsplit(":", 1)[0].endswith((".jsonl", ".parquet")) and r.rsplit(":", 1)[1].isdigit() for r in refs)
    assert all(quarantined["field"].to_pylist()) and all(quarantined["reason"].to_pylist())
    quarantine_check = checks(result)[("listening_events", "quarantine")]
    # The sandbox's planted bad records are a small share of the day: counted and shown, a pass, not a warning.
    share = quarantine_check.metadata["share"].value
    assert 0 < share < QUARANTINE_WARN_SHARE and quarantine_check.passed
    assert quarantine_check.severity == dg.AssetCheckSeverity.WARN and f"{m['bad']} record(s)" in \
        quarantine_check.description
    assert quarantine_check.metadata["quarantined"].value == m["bad"]


def test_blocking_checks_pass_and_guard_downstream(first_run):
    _, result = first_run
    evaluations = checks(result)
    for table in TABLES:
        evaluation = evaluations[(table, "contract")]
        assert evaluation.passed, (table, evaluation.description)
        assert evaluation.blocking


def test_aggregates_equal_a_plain_pandas_computation(first_run):
    environ, result = first_run
    md = materializations(result)
    assert {md[t]["aggregation"].value for t in TABLES[-3:]} == {"one pass"}
    lake = lake_of(environ)
    events = lake.read("listening_events", DAY.isoformat()).to_pandas()
    artists = lake.read("daily_artist_stats", DAY.isoformat()).to_pandas().set_index("artist_id")
    expected = events.groupby("artist_id").agg(plays=("event_id", "size"), listeners=("user_id", "nunique"))
    pd.testing.assert_frame_equal(artists[["plays", "listeners"]].sort_index(), expected.sort_index(),
                                  check_names=False, check_dtype=False)
    by_country = lake.read("daily_track_country_stats", DAY.isoformat()).to_pandas()
    assert by_country["plays"].sum() == len(events)
    users = lake.read("daily_user_stats", DAY.isoformat()).to_pandas()
    assert users["plays"].sum() == len(events)
    assert (users["sessions"] <= users["plays"]).all() and (users["sessions"] >= 1).all()
    # Pseudonymous: a keyed hash of each user id, never the id.
    salt = Settings.from_environ(environ).erasure_salt_default
    assert "user_id" not in users.columns
    assert set(users["user_key"]) == {pseudonym(salt, u) for u in events["user_id"].unique()}


def test_rematerializing_a_partition_replaces_it(first_run):
    environ, _ = first_run
    lake = lake_of(environ)
    before = {t: lake.read(t, DAY.isoformat()) for t in TABLES}
    again = run_day(environ)
    assert again.success
    for table in TABLES:
        files = list(Path(lake.path(table, DAY.isoformat())).parent.iterdir())
        assert [f.name for f in files] == ["part-0.parquet"], table
        after = lake.read(table, DAY.isoformat())
        order = [(c, "ascending") for c in CONTRACTS[table].key]
        assert after.sort_by(order).equals(before[table].sort_by(order)), table


def test_expired_refresh_token_is_reported_and_skipped(first_run):
    _, result = first_run
    world = SandboxWorldResource(seed=7, scale="tiny").world()
    md = materializations(result)["recently_played"]
    # Named by pseudonym: a raw Spotify user id never reaches the Dagster instance.
    expired = world.user_ids[world.expired_token_user]
    assert md["users_needing_reconnect"].value == [user_label("sandbox-erasure-salt", expired)]
    check = checks(result)[("recently_played", "connected_users_read")]
    assert not check.passed and check.metadata["users_needing_reconnect"].value == [
        user_label("sandbox-erasure-salt", expired)]


def test_materialize_to_memory_with_sandbox_resources(tmp_path):
    environ = {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    assets = load_defs_folder().assets
    wanted = [a for a in assets if {k.to_user_string() for k in a.keys} & {"listening_events", "daily_artist_stats"}]
    # The aggregates are one multi-asset: selecting one of its tables computes and writes only that one.
    result = dg.materialize_to_memory(wanted, resources=build_resources(Settings.from_environ(environ)),
                                      partition_key="2026-01-20", selection=["listening_events", "daily_artist_stats"])
    assert result.success
    assert {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()} == {
        "listening_events", "daily_artist_stats"}


def test_both_event_sources_land_deduplicated(tmp_path):
    environ = {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    resources = build_resources(Settings.from_environ(environ))
    assets = load_defs_folder().assets
    events_asset = [a for a in assets if {dg.AssetKey("recently_played"), dg.AssetKey("listening_events")} & a.keys]
    lake = lake_of(environ)
    # Exports not delivered yet: only connected users' recently-played plays can land.
    empty = {**resources, "landing": LiveLandingResource(root=str(tmp_path / "nothing"))}
    assert dg.materialize(events_asset, resources=empty, partition_key=DAY.isoformat()).success
    only_recent = lake.read("listening_events", DAY.isoformat())
    assert only_recent.num_rows > 0 and set(only_recent["source"].to_pylist()) == {"recently_played"}
    # The exports arrive: every recently-played play is also in them, so each lands once, as the richer export row.
    assert dg.materialize(events_asset, resources=resources, partition_key=DAY.isoformat()).success
    merged = lake.read("listening_events", DAY.isoformat()).to_pandas()
    assert not merged.duplicated(["user_id", "track_id", "played_at"]).any()
    keys = only_recent.to_pandas()[["user_id", "track_id", "played_at"]]
    joined = keys.merge(merged, on=["user_id", "track_id", "played_at"], how="left")
    m = manifest(environ)
    assert joined["source"].notna().all()
    # Only plays whose export line arrived broken (and was quarantined) keep their recently-played row.
    assert (joined["source"] == "recently_played").sum() <= m["bad"] < len(joined)
    assert (merged["source"] == "export").sum() == m["records"] - m["bad"] - m["duplicates"]


def test_a_backfill_that_runs_a_later_day_first_still_captures_the_earlier_days_plays(tmp_path):
    environ = {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    resources = build_resources(Settings.from_environ(environ))
    resources = {**resources, "landing": LiveLandingResource(root=str(tmp_path / "nothing"))}  # recently-played only
    events_asset = [a for a in load_defs_folder().assets
                    if {dg.AssetKey("recently_played"), dg.AssetKey("listening_events")} & a.keys]
    later = DAY + dt.timedelta(days=1)
    for day in (later, DAY):  # out of order, as a queued backfill may run them
        assert dg.materialize(events_asset, resources=resources, partition_key=day.isoformat()).success
    lake = lake_of(environ)
    for day in (later, DAY):
        rows = lake.read("listening_events", day.isoformat())
        assert rows.num_rows > 0, day
        assert all(ts.date() == day for ts in rows["played_at"].to_pylist())


# ---- the production resource against the emulator over HTTP -------------------------------------------------
@pytest.fixture
def live_resources(tmp_path, emulator: SpotifyEmulator) -> dict[str, object]:
    environ = {"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path), "SPOTIFY_AI_SANDBOX_SCALE": "tiny"}
    resources = build_resources(Settings.from_environ(environ))
    resources["spotify"] = LiveSpotifyResource(client_id="sandbox-client", client_secret="sandbox-secret",
                                           api_url=emulator.api_url, accounts_url=emulator.accounts_url,
                                           max_attempts=3)
    return resources


def _watchlist_config(world, op: str) -> dg.RunConfig:
    wl = world.watchlist()
    return dg.RunConfig(ops={op: {"config": {"artist_ids": wl["artists"], "playlist_ids": wl["playlists"]}}})


def test_a_malformed_track_record_is_quarantined_and_the_rest_lands(world, emulator, live_resources, tmp_path):
    clean = dg.materialize([spotify_catalog], resources=live_resources, partition_key=DAY.isoformat(),
                           run_config=_watchlist_config(world, "spotify_catalog"))
    lake = lake_of({"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path)})
    n_tracks = lake.row_count("spotify_tracks", DAY.isoformat())
    emulator.inject(Fault(kind="missing_fields", path=r"^/v1/tracks/[0-9A-Za-z]{22}$", times=1))
    broken = dg.materialize([spotify_catalog], resources=live_resources, partition_key=DAY.isoformat(),
                            run_config=_watchlist_config(world, "spotify_catalog"), raise_on_error=False)
    assert clean.success and broken.success
    assert lake.row_count("spotify_tracks", DAY.isoformat()) == n_tracks - 1
    q = lake.read("quarantine/spotify_tracks", DAY.isoformat()).to_pylist()
    assert len(q) == 1 and q[0]["field"] == "id" and q[0]["reason"] == "missing"
    assert "duration_ms" not in json.loads(q[0]["raw"])


def test_a_long_429_stops_the_step_at_once_naming_the_endpoint_and_the_time_it_may_resume(
        world, emulator, live_resources):
    emulator.inject(Fault(kind="429", path=r"^/v1/artists", retry_after=7200, times=-1))
    before = dt.datetime.now(dt.UTC)
    with (dg.build_asset_context(partition_key=DAY.isoformat(), resources=live_resources) as context,
          pytest.raises(dg.Failure) as info):
        list(spotify_catalog(context, config=CatalogConfig(artist_ids=world.watchlist()["artists"])))
    resume = dt.datetime.fromisoformat(info.value.metadata["spotify_rate_limited_until"].value.replace("Z", "+00:00"))
    assert before + dt.timedelta(seconds=7199) <= resume <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=7201)
    assert "GET /artists" in info.value.description and resume.strftime("%Y-%m-%dT%H:%M:%SZ") in \
        info.value.description
    assert not info.value.allow_retries


def test_playlists_owned_by_connected_users_land_and_others_are_quarantined_in_development_mode(
        world, emulator, live_resources, tmp_path):
    result = dg.materialize([playlist_snapshots], resources=live_resources, partition_key=DAY.isoformat(),
                            run_config=_watchlist_config(world, "playlist_snapshots"))
    assert result.success
    lake = lake_of({"SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path)})
    rows = lake.read("playlist_snapshots", DAY.isoformat()).to_pandas()
    expired = world.user_ids[world.expired_token_user]
    non_empty = {pid for i, pid in enumerate(world.playlist_ids) if world.playlist_tracks(i, DAY)}
    readable = {pid for i, pid in enumerate(world.playlist_ids) if world.playlist_owner(i) not in ("spotify", expired)}
    assert set(rows["playlist_id"]) == readable & non_empty and readable
    forbidden = lake.read("quarantine/playlist_snapshots", DAY.isoformat()).to_pylist()
    assert len(forbidden) == len(world.playlist_ids) - len(readable)
    assert all("403" in r["reason"] or "Forbidden" in r["reason"] for r in forbidden)
    emulator.mode = "extended"
    assert dg.materialize([playlist_snapshots], resources=live_resources, partition_key=DAY.isoformat(),
                          run_config=_watchlist_config(world, "playlist_snapshots")).success
    rows = lake.read("playlist_snapshots", DAY.isoformat()).to_pandas()
    assert set(rows["playlist_id"]) == non_empty
    assert rows.groupby("playlist_id")["snapshot_id"].nunique().eq(1).all()
    assert lake.row_count("quarantine/playlist_snapshots", DAY.isoformat()) == 0


# ---- automation -----------------------------------------------------------------------------------------------
def test_the_daily_schedule_runs_the_day_that_just_ended(sandbox_environ):
    defs = build_defs(sandbox_environ)
    schedule = defs.resolve_schedule_def("daily_refresh_schedule")
    assert schedule.cron_schedule == "0 2 * * *"
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC),
            repository_def=defs.get_repository_def())
        requests = schedule.evaluate_tick(context).run_requests
    assert [r.partition_key for r in requests] == ["2026-03-01"]


def test_the_exports_sensor_starts_one_run_per_new_or_changed_day(sandbox_environ, tmp_path):
    defs = build_defs(sandbox_environ)
    sensor = defs.resolve_sensor_def("event_exports_sensor")
    landing_root = tmp_path / "landing"
    day_dir = landing_root / "events" / "date=2026-02-03"
    day_dir.mkdir(parents=True)
    (day_dir / "events-2026-02-03T00.jsonl").write_text('{"a": 1}\n')
    (day_dir / "_manifest.json").write_text("{}")
    resources = {"landing": LiveLandingResource(root=str(landing_root))}
    with dg.instance_for_test() as instance:
        first = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        assert [r.partition_key for r in first.run_requests] == ["2026-02-03"]
        again = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
        assert again.run_requests == []
        (day_dir / "events-2026-02-03T01.jsonl").write_text('{"a": 2}\n')
        changed = sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources))
        assert [r.partition_key for r in changed.run_requests] == ["2026-02-03"]
        assert changed.run_requests[0].run_key != first.run_requests[0].run_key

        # Today's folder fills during the day (not a partition yet) and a stray folder is no day: neither may
        # break the tick for the finished days.
        today = dt.datetime.now(dt.UTC).date().isoformat()
        for name in (f"date={today}", "date=junk", "date=2025-12-31"):
            (landing_root / "events" / name).mkdir()
            (landing_root / "events" / name / "events-00.jsonl").write_text('{"a": 3}\n')
        (day_dir / "events-2026-02-03T02.jsonl").write_text('{"a": 4}\n')
        later = sensor(dg.build_sensor_context(instance=instance, cursor=changed.cursor, resources=resources))
        assert [r.partition_key for r in later.run_requests] == ["2026-02-03"]

        # A day folder removed by housekeeping leaves the cursor; the day's folder delivered again is new work.
        other = landing_root / "events" / "date=2026-02-04"
        other.mkdir()
        (other / "events-2026-02-04T00.jsonl").write_text('{"a": 5}\n')
        both = sensor(dg.build_sensor_context(instance=instance, cursor=later.cursor, resources=resources))
        assert set(json.loads(both.cursor)) == {"2026-02-03", "2026-02-04"}
        shutil.rmtree(other)
        pruned = sensor(dg.build_sensor_context(instance=instance, cursor=both.cursor, resources=resources))
        assert set(json.loads(pruned.cursor)) == {"2026-02-03"} and pruned.run_requests == []


PROBE = '''import dagster as dg


@dg.asset(group_name="analytics", deps=["listening_events"])
def probe_new_metric() -> None:
    """A new analytics asset."""


probe_job = dg.define_asset_job("probe_job", selection=["probe_new_metric"])
probe_schedule = dg.ScheduleDefinition(job=probe_job, cron_schedule="0 5 * * *")
'''
LOAD = '''import json, sys
from spotify_ai_assets.definitions import build_defs
import spotify_ai_assets

defs = build_defs(json.loads(sys.argv[1]))
keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
job = defs.resolve_job_def("probe_job").asset_layer.selected_asset_keys
print(json.dumps({"loaded_from": spotify_ai_assets.__file__, "probe": "probe_new_metric" in keys,
                  "job": sorted(k.to_user_string() for k in job),
                  "cron": defs.resolve_schedule_def("probe_job_schedule").cron_schedule}))
'''


def test_a_module_dropped_into_a_domain_package_is_discovered(tmp_path, sandbox_environ):
    # In a copy of the package, so the probe never shows up in the definitions other tests load at the same time.
    copy = tmp_path / "spotify_ai_assets"
    shutil.copytree(Path(spotify_ai_assets.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "defs" / "analytics" / "probe_new_metric.py").write_text(PROBE)
    out = subprocess.run([sys.executable, "-c", LOAD, json.dumps(sandbox_environ)], capture_output=True, text=True,
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path)}, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["loaded_from"] == str(copy / "__init__.py")
    assert found["probe"] is True
    assert found["job"] == ["probe_new_metric"]
    assert found["cron"] == "0 5 * * *"


def test_exports_sensor_ignores_temp_files(tmp_path):
    landing = LiveLandingResource(root=str(tmp_path))
    d = landing.day_dir(dt.date(2026, 2, 3))
    d.mkdir(parents=True)
    (d / ".events-2026-02-03T00.parquet.123.tmp").write_bytes(b"partial")
    (d / "events-2026-02-03T00.parquet").write_bytes(b"x")
    assert [Path(f).name for f in landing.delivered_files(dt.date(2026, 2, 3))] == ["events-2026-02-03T00.parquet"]
