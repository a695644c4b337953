"""Freshness of every daily asset: a `FreshnessPolicy` on each (unless it declares its own), and one check on
`platform_health` that evaluates them all against the instance and fails listing the late ones.

Both are applied by `spotify_ai_assets.definitions.build_defs` to the loaded Definitions (they need every
asset). The check sits on `platform_health` rather than on each asset so that jobs selecting the daily assets
(daily_refresh_job) do not grow a step; it runs with the health job.
"""

import datetime as dt

import dagster as dg

from spotify_ai_assets.core.maintenance import health

# daily_refresh_job runs at 02:00 UTC for the day that ended; 06:00 leaves room for retries and late exports.
DEADLINE = health.DailyDeadline(hour_utc=6, lower_bound=dt.timedelta(hours=24))
DAILY_POLICY = dg.FreshnessPolicy.cron(deadline_cron=DEADLINE.cron, lower_bound_delta=DEADLINE.lower_bound)
CHECK = "daily_assets_fresh"


def _is_daily(spec: dg.AssetSpec) -> bool:
    return isinstance(spec.partitions_def, dg.DailyPartitionsDefinition)


def with_freshness(defs: dg.Definitions) -> dg.Definitions:
    """Every daily asset gets DAILY_POLICY unless it already has a policy of its own."""
    def add(spec: dg.AssetSpec) -> dg.AssetSpec:
        if not _is_daily(spec) or spec.freshness_policy is not None:
            return spec
        return spec.replace_attributes(freshness_policy=DAILY_POLICY)

    return defs.map_resolved_asset_specs(func=add)


def rule(policy: dg.FreshnessPolicy | None) -> health.TimeWindow | health.DailyDeadline | None:
    """Our reading of a policy, from the public fields of the two kinds `dg.FreshnessPolicy` builds."""
    fail_window = getattr(policy, "fail_window", None)
    if fail_window is not None:  # FreshnessPolicy.time_window(...)
        return health.TimeWindow(fail_window.to_timedelta())
    deadline_cron = getattr(policy, "deadline_cron", None)
    if deadline_cron is not None and getattr(policy, "timezone", None) == "UTC":  # FreshnessPolicy.cron(...)
        return health.daily_deadline_from_cron(deadline_cron, policy.lower_bound_delta)  # type: ignore[union-attr]
    return None


def freshness_check(defs: dg.Definitions) -> dg.AssetChecksDefinition:
    rules = {spec.key: rule(spec.freshness_policy) for spec in defs.resolve_all_asset_specs() if _is_daily(spec)}
    rules = {k: r for k, r in rules.items() if r is not None}

    @dg.asset_check(asset="platform_health", name=CHECK, description=(
        f"Each of the {len(rules)} daily assets materialized within its freshness policy (default: by "
        f"{DEADLINE.hour_utc:02d}:00 UTC, at most {DEADLINE.lower_bound} before it); fails listing the late ones."))
    def daily_assets_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        now = dt.datetime.now(dt.UTC)
        rows, late = [], []
        for key in sorted(rules, key=lambda k: k.to_user_string()):
            event = context.instance.get_latest_materialization_event(key)
            last = dt.datetime.fromtimestamp(event.timestamp, dt.UTC) if event else None
            is_late = rules[key].is_late(last, now)
            if is_late:
                late.append(key.to_user_string())
            rows.append(f"| {key.to_user_string()} | {last.isoformat(timespec='minutes') if last else 'never'} | "
                        f"{'LATE' if is_late else 'ok'} |")
        table = "\n".join(["| asset | last materialized | state |", "| --- | --- | --- |", *rows])
        return dg.AssetCheckResult(
            passed=not late, severity=dg.AssetCheckSeverity.ERROR,
            description=f"{len(late)} of {len(rows)} daily assets late: {', '.join(late[:10])}" if late
            else f"all {len(rows)} daily assets fresh",
            metadata={"late": dg.MetadataValue.json(late), "assets": dg.MetadataValue.md(table)})

    return daily_assets_fresh
