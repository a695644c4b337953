"""One asset check per expectation suite: the suite runs on the partition as stored in the lake."""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.quality.suites import SUITES, Suite
from spotify_ai_assets.lib.partitions import daily_partitions
from spotify_ai_assets.lib.resources.lake import LakeResource


def _check(suite: Suite) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        name=suite.name, asset=suite.table, blocking=suite.critical,
        partitions_def=daily_partitions if suite.daily else None,
        description=f"Great Expectations suite: {suite.description}"
                    + (" Blocking: a failure stops the assets downstream." if suite.critical else ""),
    )
    def _run(context: dg.AssetCheckExecutionContext, lake: LakeResource) -> dg.AssetCheckResult:
        from spotify_ai_assets.core.quality.runner import markdown, run_suite

        store = lake.lake()
        # Daily tables are checked on the run's partition; unpartitioned ones whole.
        key = context.run.tags.get("dagster/partition")
        day = dt.date.fromisoformat(key) if key else None
        if not store.exists(suite.table, key):
            return dg.AssetCheckResult(passed=False, severity=_severity(suite),
                                       description=f"{suite.table} has no data for {key or 'the table'}")
        outcome = run_suite(suite, store.read(suite.table, key, columns=suite.columns), day)
        failed = [f"{r.type}({r.column})" for r in outcome.failed]
        return dg.AssetCheckResult(
            passed=outcome.success, severity=_severity(suite),
            description="all expectations met" if outcome.success else f"failed: {', '.join(failed)}",
            metadata={
                "rows": outcome.rows,
                "expectations": len(outcome.results),
                "failed": len(failed),
                "results": dg.MetadataValue.md(markdown(outcome)),
                "details": dg.MetadataValue.json([r.__dict__ for r in outcome.results]),
            },
        )

    return _run


def _severity(suite: Suite) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.ERROR if suite.critical else dg.AssetCheckSeverity.WARN


(listening_events_suite, spotify_tracks_suite, audio_features_suite, daily_track_country_stats_suite,
 recommendations_suite) = (_check(s) for s in SUITES)
