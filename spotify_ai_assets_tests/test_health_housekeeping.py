"""Retention and log rotation: old landing day folders and quarantine partitions go, recent ones stay; old run
records go from the instance with their event logs; what was removed is reported."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.maintenance import housekeeping
from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.settings import Settings

TODAY = dt.date(2026, 3, 1)


def test_landing_and_quarantine_past_retention_are_pruned(tmp_path):
    for day in ("2026-01-01", "2026-01-30", "2026-02-20"):
        d = tmp_path / "landing" / "events" / f"date={day}"
        d.mkdir(parents=True)
        (d / "export-00.jsonl").write_text("{}\n")
    (tmp_path / "landing" / "events" / "not-a-day").mkdir()
    lake = Lake(str(tmp_path / "lake"))
    for day in ("2025-11-01", "2026-02-01"):
        lake.write("quarantine/listening_events", pa.table({"raw": ["x"]}), day)
        lake.write("listening_events", pa.table({"user_id": ["u"]}), day)  # not quarantine: never pruned here

    landing = housekeeping.prune_landing(tmp_path / "landing", keep_days=30, today=TODAY)
    assert [(p.where, p.day, p.files) for p in landing] == [("landing/events", "2026-01-01", 1)]
    assert sorted(p.name for p in (tmp_path / "landing" / "events").iterdir()) == [  # 30 days back is kept
        "date=2026-01-30", "date=2026-02-20", "not-a-day"]
    quarantine = housekeeping.prune_quarantine(lake, keep_days=90, today=TODAY)
    assert [(p.where, p.day) for p in quarantine] == [("quarantine/listening_events", "2025-11-01")]
    assert lake.partitions("quarantine/listening_events") == ["2026-02-01"]
    assert lake.partitions("listening_events") == ["2025-11-01", "2026-02-01"]


def test_housekeeping_job_deletes_old_runs_with_their_event_logs(sandbox_environ):
    defs = build_defs(sandbox_environ)
    landing = Settings.from_environ(sandbox_environ).landing_root
    old = dt.date.today() - dt.timedelta(days=400)
    Path(landing, "events", f"date={old.isoformat()}").mkdir(parents=True)
    with dg.DagsterInstance.ephemeral() as instance:
        earlier = defs.resolve_job_def("health_job").execute_in_process(instance=instance, raise_on_error=False)
        assert instance.get_run_by_id(earlier.run_id) is not None
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=100)).isoformat()
        result = defs.resolve_job_def("housekeeping_job").execute_in_process(instance=instance, run_config={
            "ops": {"prune_past_retention": {"config": {"as_of": later}}}})
        assert result.success
        assert instance.get_run_by_id(earlier.run_id) is None
        assert instance.all_logs(earlier.run_id) == []
        obs = next(e.event_specific_data.asset_observation.metadata for e in result.all_events
                   if e.event_type_value == "ASSET_OBSERVATION")
        assert obs["runs_deleted"].value == 1 and obs["landing_days_deleted"].value == 1
