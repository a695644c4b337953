"""Great Expectations suites: per-expectation results with examples, and a blocking suite that stops downstream."""


import datetime as dt
import os
import signal
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from spotify_ai_assets.core.analytics import contracts
from spotify_ai_assets.core.analytics.daily_aggregates import daily_aggregates
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.quality.runner import markdown, run_suite
from spotify_ai_assets.core.quality.suites import DAILY_TRACK_COUNTRY, LISTENING_EVENTS, SUITES
from spotify_ai_assets.defs.analytics.trends import track_trends
from spotify_ai_assets.lib.partitions import daily_partitions
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish
from spotify_ai_assets.sandbox.world import EPOCH, World

from .sandbox_lake import day_events

DAY = EPOCH + dt.timedelta(days=4)


def _events() -> pa.Table:
    events = day_events(World(seed=7, scale="tiny"), DAY)
    return events.append_column("source", pa.array(["export"] * events.num_rows))


def test_a_clean_sandbox_day_meets_the_events_suite() -> None:
    outcome = run_suite(LISTENING_EVENTS, _events(), DAY)
    assert outcome.success, markdown(outcome)
    assert outcome.rows > 1000 and len(outcome.results) == len(LISTENING_EVENTS.expectations)
    mean_skip = next(r for r in outcome.results if r.type == "ExpectColumnMeanToBeBetween")
    assert 0.02 < mean_skip.observed_value < 0.9


def test_each_broken_expectation_is_reported_with_its_count_and_examples() -> None:
    events = _events()
    n = events.num_rows
    # Three kinds of damage in known rows: a play from the next day, a malformed track id, a negative length.
    played_at = events["played_at"].to_pylist()
    played_at[0] = dt.datetime(DAY.year, DAY.month, DAY.day, tzinfo=dt.UTC) + dt.timedelta(days=1, hours=2)
    tracks = events["track_id"].to_pylist()
    tracks[1] = tracks[2] = "not-a-spotify-id"
    ms = events["ms_played"].to_pylist()
    ms[3] = -40
    broken = (events.set_column(events.schema.get_field_index("played_at"), "played_at",
                                pa.array(played_at, events.schema.field("played_at").type))
              .set_column(events.schema.get_field_index("track_id"), "track_id", pa.array(tracks))
              .set_column(events.schema.get_field_index("ms_played"), "ms_played", pa.array(ms)))
    outcome = run_suite(LISTENING_EVENTS, broken, DAY)
    failed = {(r.type, r.column): r for r in outcome.failed}
    assert set(failed) == {("ExpectColumnValuesToBeBetween", "played_at"),
                           ("ExpectColumnValuesToMatchRegex", "track_id"),
                           ("ExpectColumnValuesToBeBetween", "ms_played")}
    assert failed[("ExpectColumnValuesToMatchRegex", "track_id")].unexpected_count == 2
    assert failed[("ExpectColumnValuesToMatchRegex", "track_id")].examples == ["not-a-spotify-id"] * 2
    assert failed[("ExpectColumnValuesToBeBetween", "ms_played")].examples == [-40]
    assert failed[("ExpectColumnValuesToBeBetween", "played_at")].unexpected_percent == 100 / n
    assert "| FAIL | ExpectColumnValuesToMatchRegex | track_id |" in markdown(outcome)


def test_every_suite_names_real_gx_expectations_and_columns_of_its_table() -> None:
    import great_expectations as gx

    for suite in SUITES:
        assert suite.columns, suite.name
        for e in suite.expectations:
            getattr(gx.expectations, e.type)(**e.resolved(DAY))  # raises on a wrong name or argument


@dg.asset(name="daily_track_country_stats", partitions_def=daily_partitions,
          check_specs=contract_check_specs("daily_track_country_stats", contracts.DAILY_TRACK_COUNTRY, daily_partitions,
                                           quarantine=False))
def _stats_with_a_bad_row(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Test upstream: the day's real aggregates, then one row claims more listeners than plays; published like the
    real asset, so its suite runs in this step."""
    day = dt.date.fromisoformat(context.partition_key)
    stats = daily_aggregates(day_events(World(seed=7, scale="tiny"), day), day, only=["track_country"]).tables[
        "track_country"]
    listeners = stats["listeners"].to_pylist()
    listeners[0] = stats["plays"][0].as_py() + 5
    bad = stats.set_column(stats.schema.get_field_index("listeners"), "listeners", pa.array(listeners, pa.int64()))
    return publish(lake.lake(), "daily_track_country_stats", bad, day, contracts.DAILY_TRACK_COUNTRY)


def test_a_failed_blocking_suite_stops_the_assets_downstream(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    result = dg.materialize([_stats_with_a_bad_row, track_trends],
                            partition_key=DAY.isoformat(), resources={"lake": LakeResource(root=lake.root)},
                            raise_on_error=False)
    evaluation = next(e for e in result.get_asset_check_evaluations()
                      if e.check_name == DAILY_TRACK_COUNTRY.name)
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert "ExpectColumnPairValuesAToBeGreaterThanB(plays >= listeners)" in evaluation.description
    assert evaluation.metadata["failed"].value == 1
    assert not lake.exists("track_trends", DAY.isoformat())  # blocked
    assert [m.asset_key.to_user_string() for m in result.get_asset_materialization_events()] == [
        "daily_track_country_stats"]
    stats = lake.read("daily_track_country_stats", DAY.isoformat())
    assert pc.sum(pc.greater(stats["listeners"], stats["plays"])).as_py() == 1


def test_the_recommendations_suite_catches_a_track_served_twice_and_an_unknown_source() -> None:
    from spotify_ai_assets.core.quality.suites import RECOMMENDATIONS

    sha = "ab" * 32
    rows = [{"user_key": "u1", "track_id": "0" * 22, "rank": 1, "score": 0.9, "source": "model", "model_sha256": sha},
            {"user_key": "u1", "track_id": "1" * 22, "rank": 2, "score": 0.5, "source": "model", "model_sha256": sha},
            {"user_key": "u2", "track_id": "0" * 22, "rank": 1, "score": 0.1, "source": "popularity_fallback",
             "model_sha256": sha}]
    assert run_suite(RECOMMENDATIONS, pa.Table.from_pylist(rows)).success
    rows[1] = {**rows[1], "track_id": "0" * 22, "source": "guess"}
    failed = {(r.type, r.column) for r in run_suite(RECOMMENDATIONS, pa.Table.from_pylist(rows)).failed}
    assert failed == {("ExpectCompoundColumnsToBeUnique", "user_key+track_id"),
                      ("ExpectColumnValuesToBeInSet", "source")}


def _recently_played(events: pa.Table) -> pa.Table:
    """The same plays as recently-played rows: no ms_played, skip flag or device, and (development mode) no country."""
    nulls = {c: pa.nulls(events.num_rows, events.schema.field(c).type) for c in ("ms_played", "skipped", "device",
                                                                                 "country")}
    for name, column in nulls.items():
        events = events.set_column(events.schema.get_field_index(name), name, column)
    return events.set_column(events.schema.get_field_index("source"), "source",
                             pa.array(["recently_played"] * events.num_rows))


def test_a_recently_played_only_day_meets_the_events_suite() -> None:
    outcome = run_suite(LISTENING_EVENTS, _recently_played(_events()), DAY)
    assert outcome.success, markdown(outcome)
    idle = [r for r in outcome.results if str(r.observed_value).startswith("not applicable")]
    assert {(r.type, r.column) for r in idle} == {("ExpectColumnMeanToBeBetween", "skipped"), *(
        ("ExpectColumnValuesToNotBeNull", c) for c in ("ms_played", "skipped", "country", "device"))}


def test_a_mixed_day_judges_export_columns_on_export_rows_only() -> None:
    events = _events()
    half = events.num_rows // 2
    mixed = pa.concat_tables([events.slice(0, half), _recently_played(events.slice(half))])
    outcome = run_suite(LISTENING_EVENTS, mixed, DAY)
    assert outcome.success, markdown(outcome)
    mean_skip = next(r for r in outcome.results if r.type == "ExpectColumnMeanToBeBetween")
    assert 0.02 < mean_skip.observed_value < 0.9  # the export rows' skip rate, not diluted or nulled
    # An export row without its skip flag is still caught.
    skipped = mixed["skipped"].to_pylist()
    skipped[0] = None
    broken = mixed.set_column(mixed.schema.get_field_index("skipped"), "skipped", pa.array(skipped, pa.bool_()))
    failed = {(r.type, r.column) for r in run_suite(LISTENING_EVENTS, broken, DAY).failed}
    assert failed == {("ExpectColumnValuesToNotBeNull", "skipped")}


def test_examples_never_show_a_user_id() -> None:
    events = _events()
    doubled = pa.concat_tables([events.slice(0, 3), events.slice(0, 3), events.slice(3)])
    outcome = run_suite(LISTENING_EVENTS, doubled, DAY)
    (dupes,) = [r for r in outcome.failed if r.type == "ExpectCompoundColumnsToBeUnique"]
    users = set(events["user_id"].to_pylist())
    assert dupes.examples and all(x["user_id"] == "<personal>" for x in dupes.examples)
    assert not users & set(str(dupes.examples).split("'"))


def test_results_in_gx_basic_format_are_the_summary_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    """runner.RESULT_FORMAT asks GX for BASIC results (no unexpected-row index lists, which nothing reads): every
    outcome, failures and their examples included, is what SUMMARY gives, on a day broken in every way the suite
    checks (value formats, sets, bounds, nulls, duplicates, the skip rate)."""
    from spotify_ai_assets.core.quality import runner

    events = _events()
    n = events.num_rows
    damage = {"track_id": "not-a-spotify-id", "country": "zz", "device": "toaster", "source": "scraped"}
    for column, value in damage.items():
        values = events[column].to_pylist()
        values[: n // 3] = [value] * (n // 3)
        events = events.set_column(events.schema.get_field_index(column), column, pa.array(values))
    ms = events["ms_played"].to_pylist()
    ms[5] = None
    ms[6] = -1
    events = events.set_column(events.schema.get_field_index("ms_played"), "ms_played", pa.array(ms, pa.int64()))
    events = events.set_column(events.schema.get_field_index("skipped"), "skipped", pa.array([True] * n))
    broken = pa.concat_tables([events, events.slice(0, 4)])
    basic = run_suite(LISTENING_EVENTS, broken, DAY)
    assert runner.RESULT_FORMAT["result_format"] == "BASIC"
    monkeypatch.setattr(runner, "RESULT_FORMAT", {"result_format": "SUMMARY",
                                                  "partial_unexpected_count": runner.EXAMPLES})
    summary = run_suite(LISTENING_EVENTS, broken, DAY)
    assert basic == summary
    assert {r.column for r in basic.failed} >= {"track_id", "country", "device", "source", "ms_played", "skipped",
                                                 "user_id+track_id+played_at"}
    assert all(r.examples for r in basic.failed if r.type != "ExpectColumnMeanToBeBetween")


def test_expectations_about_some_rows_match_gx_row_conditions() -> None:
    """`only_where` expectations run on the rows selected with Arrow (runner.py): the same counts, percentages and
    observed values as GX's own `row_condition` over the whole frame."""
    import great_expectations as gx
    import pandas as pd
    from great_expectations.expectations.row_conditions import Column

    from spotify_ai_assets.core.quality.runner import _context

    events = _events()
    half = events.num_rows // 2
    mixed = pa.concat_tables([events.slice(0, half), _recently_played(events.slice(half))])
    damaged = {"device": 0, "skipped": 1, "country": 2}  # export rows made incomplete, one column each
    for column, row in damaged.items():
        values = mixed[column].to_pylist()
        values[row] = None
        mixed = mixed.set_column(mixed.schema.get_field_index(column), column,
                                 pa.array(values, mixed.schema.field(column).type))
    ours = {(r.type, r.column): r for r in run_suite(LISTENING_EVENTS, mixed, DAY).results}
    frame = mixed.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_string(t) else None)
    batch = (_context().data_sources.add_pandas("row_condition_reference").add_dataframe_asset("events")
             .add_batch_definition_whole_dataframe("all").get_batch(batch_parameters={"dataframe": frame}))
    conditioned = [e for e in LISTENING_EVENTS.expectations if e.only_where]
    assert len(conditioned) == 5
    for e in conditioned:
        reference = batch.validate(getattr(gx.expectations, e.type)(
            **e.resolved(DAY), row_condition=Column(e.only_where[0]) == e.only_where[1]),
            result_format={"result_format": "SUMMARY"})
        mine = ours[(e.type, e.column)]
        assert mine.success == reference.success, e
        assert mine.unexpected_count == reference.result.get("unexpected_count"), e
        assert mine.unexpected_percent == pytest.approx(reference.result.get("unexpected_percent")), e
        if e.type == "ExpectColumnMeanToBeBetween":
            assert mine.observed_value == pytest.approx(reference.result["observed_value"])
    assert {c for (_, c), r in ours.items() if not r.success} == set(damaged)


def test_the_suite_worker_reports_what_the_step_would_and_raises_what_it_would() -> None:
    """core/quality/worker.py: the same outcome as in-process, a suite's error raised again, and a dead worker leaves
    the suite to the caller's process instead of failing it."""
    from spotify_ai_assets.core.quality import worker

    events = _events()
    broken = events.set_column(events.schema.get_field_index("track_id"), "track_id",
                               pa.array(["not-a-spotify-id"] * events.num_rows))
    with worker.suite_worker() as running:
        assert running is not None
        assert worker.run_suite(LISTENING_EVENTS, broken, DAY) == run_suite(LISTENING_EVENTS, broken, DAY)
        with pytest.raises(ValueError, match="missing"):
            worker.run_suite(LISTENING_EVENTS, events.drop_columns(["track_id"]), DAY)
        running.stop()  # the worker dies mid-run: the suite runs here, with a warning saying so
        with pytest.warns(RuntimeWarning, match="suite worker"):
            assert worker.run_suite(LISTENING_EVENTS, events, DAY).success
    assert worker._active is None


def test_a_suite_worker_that_does_not_answer_is_killed_and_the_suite_runs_here() -> None:
    """Every wait on the worker is bounded: one that answers nothing in time is killed, and the step goes on."""
    from spotify_ai_assets.core.quality import worker

    events = _events()
    running = worker.SuiteWorker.start()
    try:
        os.kill(running.pid, signal.SIGSTOP)  # alive but silent, as a hung worker would be
        with pytest.raises(worker.WorkerGone, match=r"no answer within 0\.5 s"):
            running.run(LISTENING_EVENTS, events, DAY, wait_s=0.5)
    finally:
        running.stop()
