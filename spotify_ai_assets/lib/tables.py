"""How a lake table shows up in Dagster: standard table metadata, its contract checks and its quality suite."""


import datetime as dt
import time
from collections.abc import Callable, Iterable

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.kernel.lake import Lake, WriteResult
from spotify_ai_assets.core.quality.columns import describe
from spotify_ai_assets.core.quality.suites import suite_for
from spotify_ai_assets.core.quality.table_contract import (
    BLOCKING_CHECKS,
    CONTRACT_CHECK,
    EMPTIED_CHECK,
    QUARANTINE_WARN_SHARE,
    CheckOutcome,
    TableContract,
    emptied_outcome,
    evaluate,
)

_TYPE_NAMES = {pa.string(): "string", pa.int64(): "int64", pa.int32(): "int32", pa.float64(): "double",
               pa.bool_(): "boolean", pa.date32(): "date"}


def column_schema(schema: pa.Schema, doc: Callable[[str], str | None] = lambda _: None) -> dg.TableSchema:
    """The schema the UI shows: each column's type, nullability and description."""
    return dg.TableSchema(columns=[
        dg.TableColumn(f.name, _TYPE_NAMES.get(f.type, str(f.type)), description=doc(f.name),
                       constraints=dg.TableColumnConstraints(nullable=f.nullable))
        for f in schema
    ])


def table_metadata(table: str, written: WriteResult, contract: TableContract | None = None,
                   **extra: object) -> dict[str, object]:
    return {
        "dagster/row_count": written.rows,
        "dagster/column_schema": column_schema(written.schema, contract.describe if contract else describe),
        "dagster/table_name": f"lake.{table.replace('/', '.')}",
        "dagster/uri": written.uri,
        "bytes": written.bytes,
        **extra,
    }


def contract_check_specs(asset: str | dg.AssetKey, contract: TableContract,
                         partitions_def: dg.PartitionsDefinition | None, quarantine: bool = True,
                         ) -> list[dg.AssetCheckSpec]:
    """The contract's checks on `asset`. With the asset's `partitions_def`, each result belongs to the partition the
    step wrote, so the UI shows every day's result and its history, not one result for the whole table."""
    key = dg.AssetKey(asset) if isinstance(asset, str) else asset
    specs = [dg.AssetCheckSpec(CONTRACT_CHECK, asset=key, blocking=True, partitions_def=partitions_def,
                               description=contract_description(contract))]
    suite = suite_for(key.path[-1])
    if suite is not None:
        specs.append(dg.AssetCheckSpec(suite.name, asset=key, blocking=suite.critical, partitions_def=partitions_def,
                                       description=f"Great Expectations suite: {suite.description}"
                                       + (" Blocking: a failure stops the assets downstream." if suite.critical
                                          else "")))
    if quarantine:
        specs.append(dg.AssetCheckSpec("quarantine", asset=key, partitions_def=partitions_def, description=(
            "Records that failed validation, kept aside with the file/record, field, reason and raw payload "
            "(lake table quarantine/<asset>). Counted on every run; warns when they exceed "
            f"{QUARANTINE_WARN_SHARE:.0%} of the partition's input.")))
    return specs


def suite_check_results(lake: Lake, table: str, data: pa.Table | WriteResult, partition: str | None,
                        day: dt.date | None, key: dg.AssetKey) -> list[dg.AssetCheckResult]:
    """The table's Great Expectations suite (if it has one), run in the step that wrote it, on the Arrow table the step
    holds (or the columns it needs, read back when the step streamed the partition to the lake): no step of its own,
    one GX context per process. The suite goes to the machine's suite server (core/quality/suite_server.py), which
    imported GX once for every run, or with the server off, in an in-process run, to the run's suite worker
    (core/quality/worker.py), which imported GX beside the run's first steps."""
    suite = suite_for(table)
    if suite is None:
        return []
    from spotify_ai_assets.core.quality.runner import markdown
    from spotify_ai_assets.core.quality.worker import run_suite  # on the suite server or worker, if there is one

    started = time.perf_counter()
    rows = data.select(suite.columns) if isinstance(data, pa.Table) else lake.read(table, partition,
                                                                                   columns=suite.columns)
    outcome = run_suite(suite, rows, day)
    failed = [f"{r.type}({r.column})" for r in outcome.failed]
    return [dg.AssetCheckResult(
        asset_key=key, check_name=suite.name, passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR if suite.critical else dg.AssetCheckSeverity.WARN,
        description="all expectations met" if outcome.success else f"failed: {', '.join(failed)}",
        metadata={"rows": outcome.rows, "expectations": len(outcome.results), "failed": len(failed),
                  "suite_seconds": round(time.perf_counter() - started, 3),
                  "results": dg.MetadataValue.md(markdown(outcome)),
                  "details": dg.MetadataValue.json([r.__dict__ for r in outcome.results])})]


def emptied_check_spec(asset: str | dg.AssetKey,
                       partitions_def: dg.PartitionsDefinition | None) -> dg.AssetCheckSpec:
    """For ingestion tables: blocking when the day is empty after a day with rows (see core.quality.table_contract);
    one result per partition, like the contract's checks."""
    key = dg.AssetKey(asset) if isinstance(asset, str) else asset
    return dg.AssetCheckSpec(EMPTIED_CHECK, asset=key, blocking=True, partitions_def=partitions_def, description=(
        "Fails (blocking) when the partition has no rows while the previous one had rows, unless the watchlist "
        "says `empty_on_purpose: true`: a watchlist typo must never silently replace a table with nothing."))


def contract_description(contract: TableContract) -> str:
    """What the contract check checks, rule by rule, as the UI shows it."""
    ranges = ", ".join(f"{c} in [{'' if lo is None else lo}, {'' if hi is None else hi}]"
                       for c, (lo, hi) in contract.ranges.items()) or "none declared"
    return (f"The table's contract, one check with four rules. Blocking (a failure stops the assets downstream): "
            f"unique_key, no two rows share the key ({', '.join(contract.key)}); required_not_null, no nulls in "
            f"{', '.join(contract.required) or 'no required column'}; values_in_range, {ranges}. Warns only: "
            f"row_count_plausible, within x{contract.min_ratio}-x{contract.max_ratio} of the previous partition. "
            "The result names the rules that failed; each rule's figures are in its metadata.")


def to_check_results(asset: str | dg.AssetKey, outcomes: Iterable[CheckOutcome]) -> list[dg.AssetCheckResult]:
    key = dg.AssetKey(asset) if isinstance(asset, str) else asset
    return [
        dg.AssetCheckResult(
            asset_key=key, check_name=o.name, passed=o.passed, description=o.description,
            severity=(dg.AssetCheckSeverity.ERROR if o.name in BLOCKING_CHECKS and not o.warn_only
                      else dg.AssetCheckSeverity.WARN),
            metadata={k: v if isinstance(v, (int, float, str)) else dg.MetadataValue.json(v)
                      for k, v in o.metadata.items()},
        )
        for o in outcomes
    ]


def require_partition(lake: Lake, table: str, day: dt.date) -> str:
    """`day`'s partition key, once `table` is known to have it: a missing upstream partition fails the step with
    what to do about it."""
    key = day.isoformat()
    if not lake.exists(table, key):
        raise dg.Failure(f"{table} has no partition for {day}: materialize it first")
    return key


def check_table(lake: Lake, table: str, contract: TableContract, day: dt.date) -> list[CheckOutcome]:
    """The contract, evaluated on the partition as stored (not on what the step meant to write)."""
    previous = lake.row_count(table, (day - dt.timedelta(days=1)).isoformat())
    return evaluate(contract, lake.scan(table, [day.isoformat()]), previous)


def publish(lake: Lake, table: str, data: pa.Table | WriteResult, day: dt.date, contract: TableContract,
            quarantine: pa.Table | None = None, asset_key: dg.AssetKey | None = None,
            extra_checks: Iterable[dg.AssetCheckResult] = (), empty_on_purpose: bool | None = None,
            **extra: object) -> dg.MaterializeResult:
    """Write the partition (replacing it; `data` may be already written), its quarantine, and evaluate its
    contract, in one result. `empty_on_purpose` (ingestion tables) adds the blocking `not_emptied` check;
    `extra_checks` are the asset's own checks (e.g. of what it could not read)."""
    from spotify_ai_assets.core.quality.table_contract import quarantine_outcome

    key = asset_key or dg.AssetKey(table)
    partition = day.isoformat()
    written = data if isinstance(data, WriteResult) else lake.write(table, data, partition)
    outcomes = check_table(lake, table, contract, day)
    if empty_on_purpose is not None:  # the asset declared emptied_check_spec
        previous = lake.row_count(table, (day - dt.timedelta(days=1)).isoformat())
        outcomes.append(emptied_outcome(written.rows, previous, empty_on_purpose))
    if quarantine is not None:
        # Always written, even empty, so a re-run that fixed its input also clears old quarantine.
        lake.write(f"quarantine/{table}", quarantine, partition)
        outcomes.append(quarantine_outcome(quarantine, written.rows))
    return dg.MaterializeResult(
        asset_key=key,
        metadata=table_metadata(table, written, contract, **extra),
        check_results=[*to_check_results(key, outcomes), *suite_check_results(lake, table, data, partition, day, key),
                       *extra_checks],
    )
