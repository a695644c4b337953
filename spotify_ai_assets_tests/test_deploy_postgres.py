"""The production instance (deploy/dagster.prod.yaml) on the local PostgreSQL: a run of our daily job, then a
daemon ticking a schedule and a sensor on its own; runs, ticks and asset events are read back through the
instance. Each test gets its own database, dropped afterwards."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import yaml
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets_tests.deploy_fixtures import (
    PROD_INSTANCE,
    cli,
    dagster_home,
    pg_environ,  # noqa: F401
    pgbouncer,
    start,
    stop,
    wait_for,
    workspace,
)

DAY = "2026-01-05"


def test_the_production_config_names_every_connection_setting_by_environment_variable() -> None:
    db = yaml.safe_load(PROD_INSTANCE.read_text())["storage"]["postgres"]["postgres_db"]
    assert {k: v for k, v in db.items() if k != "scheme"} == {
        "username": {"env": "DAGSTER_PG_USERNAME"}, "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": {"env": "DAGSTER_PG_HOST"}, "db_name": {"env": "DAGSTER_PG_DB"}, "port": {"env": "DAGSTER_PG_PORT"}}
    assert db["scheme"] == "postgresql+psycopg2"


def test_daily_job_runs_and_asset_events_are_stored_in_postgres(pg_environ, sandbox_environ, tmp_path: Path) -> None:  # noqa: F811
    instance = dg.DagsterInstance.from_config(str(dagster_home(tmp_path / "dagster_home")))
    try:
        assert isinstance(instance.run_storage, PostgresRunStorage)
        assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
        assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
        # The run queue from the file: max concurrent runs and the per-tag limits.
        assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
        # The daemon looks at the queue every second: with Dagster's 5 s a backfill's runs went one behind the other.
        assert instance.run_coordinator.dequeue_interval_seconds == 1
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 8
        assert concurrency.pool_config.default_pool_limit == 1
        limits = {(lim["key"], lim.get("value")): lim["limit"]
                  for lim in concurrency.run_queue_config.tag_concurrency_limits}
        assert limits == {("spotify_ai/uses", "spotify_api"): 2, ("spotify_ai/trigger", "audio_landing"): 4,
                          ("spotify_ai/job", "model_retraining"): 1}
        # Pools: every pool defaults to one slot; the README's `dagster instance concurrency set` raises one.
        instance.event_log_storage.set_concurrency_slots("librosa", 3)
        assert instance.event_log_storage.get_concurrency_info("librosa").slot_count == 3

        job = build_defs(sandbox_environ).resolve_job_def("daily_refresh_job")
        result = job.execute_in_process(instance=instance, partition_key=DAY)
        assert result.success

        # A fresh instance object over the same database sees everything: nothing was kept in memory.
        reread = dg.DagsterInstance.from_config(str(tmp_path / "dagster_home"))
        runs = reread.get_runs(filters=dg.RunsFilter(job_name="daily_refresh_job"))
        assert [(r.run_id, r.status, r.tags.get("dagster/partition")) for r in runs] == [
            (result.run_id, dg.DagsterRunStatus.SUCCESS, DAY)]
        lake = Lake(str(Path(sandbox_environ["SPOTIFY_AI_HOME"], "lake")))
        for table in ("listening_events", "daily_track_country_stats", "track_trends"):
            records = reread.fetch_materializations(dg.AssetKey(table), limit=5).records
            assert [r.partition_key for r in records] == [DAY], table
            meta = records[0].asset_materialization.metadata
            assert meta["dagster/row_count"].value == lake.row_count(table, DAY), table
        key = dg.AssetCheckKey(dg.AssetKey("listening_events"), "contract")
        check = reread.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
        assert (check.run_id, check.status.value) == (result.run_id, "SUCCEEDED")
        reread.dispose()
    finally:
        instance.dispose()


def _sessions(db: str) -> int:
    import psycopg2

    with psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres") as conn, \
            conn.cursor() as cur:
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (db,))
        return cur.fetchone()[0]


def test_the_instance_works_through_pgbouncer_and_reuses_its_backends(pg_environ, tmp_path: Path,  # noqa: F811
                                                                        monkeypatch) -> None:
    """deploy/pgbouncer.ini (README, Deploy): runs, events, asset checks and pools work through PgBouncer's session
    pooling, and Dagster's connection per operation no longer costs PostgreSQL a new backend each."""

    @dg.asset(pool="spotify_api", check_specs=[dg.AssetCheckSpec("rows", asset="pooled")])
    def pooled() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": 3}, check_results=[dg.AssetCheckResult(passed=True)])

    with pgbouncer(tmp_path / "pgbouncer") as port:
        monkeypatch.setenv("DAGSTER_PG_PORT", str(port))
        instance = dg.DagsterInstance.from_config(str(dagster_home(tmp_path / "dagster_home")))
        try:
            instance.upgrade()
            before = _sessions(pg_environ["DAGSTER_PG_DB"])
            results = [dg.materialize([pooled], instance=instance) for _ in range(3)]
            assert all(r.success for r in results)
            events = sum(len(instance.get_records_for_run(r.run_id, limit=1000).records) for r in results)
            new_backends = _sessions(pg_environ["DAGSTER_PG_DB"]) - before
            records = instance.fetch_materializations(dg.AssetKey("pooled"), limit=5).records
            assert len(records) == 3 and {r.run_id for r in records} == {r.run_id for r in results}
            key = dg.AssetCheckKey(dg.AssetKey("pooled"), "rows")
            check = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
            assert (check.run_id, check.status.value) == (results[-1].run_id, "SUCCEEDED")
        finally:
            instance.dispose()
    # Each event was written on a connection of its own (and read back on more): without PgBouncer each would have
    # been a new backend.
    assert events > 40
    assert new_backends <= 10, f"{new_backends} new PostgreSQL backends for {events} events"


def test_the_daemon_ticks_a_schedule_and_a_sensor_against_postgres(pg_environ, tmp_path: Path) -> None:  # noqa: F811
    home = dagster_home(tmp_path / "dagster_home")
    ws = workspace(tmp_path / "workspace.yaml", "spotify_ai_assets_tests.deploy_location")
    log = tmp_path / "daemon.log"
    instance = dg.DagsterInstance.from_config(str(home))
    daemon = start([cli("dagster-daemon"), "run", "-w", str(ws)], {**pg_environ, "DAGSTER_HOME": str(home)}, log)
    try:
        def finished_runs() -> dict[str, dg.DagsterRun] | None:
            runs = {}
            for tag, name in (("dagster/schedule_name", "deploy_probe_schedule"),
                              ("dagster/sensor_name", "deploy_probe_sensor")):
                found = instance.get_runs(filters=dg.RunsFilter(tags={tag: name},
                                                                statuses=[dg.DagsterRunStatus.SUCCESS]))
                if found:
                    runs[name] = found[0]
            return runs if len(runs) == 2 else None

        # The schedule fires at the next minute boundary; the run then goes through the queue and a run worker.
        runs = wait_for(finished_runs, 150, "a scheduled and a sensor run to succeed", daemon, log)
    finally:
        stop(daemon)
    ticks = {}
    for state in instance.all_instigator_state():  # compared by value: the enums live in Dagster's private modules
        ticks[state.instigator_type.value] = instance.get_ticks(state.instigator_origin_id, state.selector_id)
    assert any(t.status.value == "SUCCESS" and runs["deploy_probe_schedule"].run_id in t.run_ids
               for t in ticks["SCHEDULE"])
    assert any(t.status.value == "SUCCESS" and runs["deploy_probe_sensor"].run_id in t.run_ids
               for t in ticks["SENSOR"])
    # Later sensor ticks repeat the run key: exactly one sensor run.
    assert len(instance.get_runs(filters=dg.RunsFilter(tags={"dagster/sensor_name": "deploy_probe_sensor"}))) == 1
    triggers = sorted(r.asset_materialization.metadata["trigger"].value
                      for r in instance.fetch_materializations(dg.AssetKey("deploy_probe"), limit=10).records)
    assert "deploy_probe_schedule" in triggers and "deploy_probe_sensor" in triggers
    instance.dispose()
