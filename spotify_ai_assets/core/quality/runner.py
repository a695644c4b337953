"""Run a suite with Great Expectations 1.x on one lake partition and return per-expectation results.

GX is imported here, inside the call (it takes seconds to import), never by the definitions. Each run uses an
ephemeral context with a pandas data source: nothing is written to a GX project folder.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import math
import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from spotify_ai_assets.core.quality.suites import Suite

EXAMPLES = 5
# What GX computes for each expectation: counts, percentages, observed values and the first EXAMPLES unexpected values
# (BASIC), all that an outcome holds. SUMMARY would add the unexpected rows' index list and a query to find them again,
# which nothing here reads and which GX computes by taking the unexpected rows out of the batch once more per
# expectation (about a tenth of the events suite on a 2M-event day). test_expectations.py checks that both give the
# same outcomes.
RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": EXAMPLES,
                                 "return_unexpected_index_query": False}


@dataclass(frozen=True)
class ExpectationOutcome:
    type: str
    column: str
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_percent: float | None
    examples: list[Any]
    error: str | None = None


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    rows: int
    results: list[ExpectationOutcome]

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [r for r in self.results if not r.success]


def _plain(value: Any) -> Any:
    """JSON-safe: timestamps as ISO strings, NaN as None, numpy scalars as Python ones."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        with contextlib.suppress(ValueError, AttributeError):  # an array, not a scalar: handled below
            value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _masked(examples: list[Any], column: str, personal: tuple[str, ...]) -> list[Any]:
    """Examples with personal values replaced: a whole example of a personal column, or its personal keys."""
    if not personal:
        return examples
    if column in personal:
        return ["<personal>" if x is not None else None for x in examples]
    return [{k: "<personal>" if k in personal and v is not None else v for k, v in x.items()} if isinstance(x, dict)
            else x for x in examples]


@functools.cache
def _batch_definition(table_name: str) -> Any:
    """One ephemeral GX context per process, one dataframe asset per table, made once: building them costs more than
    validating a day."""
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = _context()
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return (context.data_sources.add_pandas(f"lake_{table_name}").add_dataframe_asset(table_name)
            .add_batch_definition_whole_dataframe("partition"))


@functools.cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage statistics leave the machine
    import great_expectations as gx
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every dataframe under 1 GB by hashing all its values, twice per validation (it fetches the
    # batch again), which costs more than validating a day. The fingerprint is a batch marker nothing here reads.
    pandas_execution_engine.HASH_THRESHOLD = 0
    return gx.get_context(mode="ephemeral")


def warm_up() -> None:
    """Import GX and make the context and every suite table's batch definition, before the first suite needs them."""
    from spotify_ai_assets.core.quality.suites import SUITES

    for suite in SUITES:
        _batch_definition(suite.table)


def run_suite(suite: Suite, table: pa.Table, day: dt.date | None = None) -> SuiteOutcome:
    """Validate `table` (the partition, with at least `suite.columns`) against `suite`."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    import pandas as pd

    missing = [c for c in suite.columns if c not in table.column_names]
    if missing:
        raise ValueError(f"{suite.table}: columns {missing} are missing; the suite {suite.name} needs them")
    # Expectations about some rows only (`only_where`) are validated on those rows, selected once with Arrow, instead
    # of with GX's `row_condition`: GX filters the whole frame again for every such expectation and metric (a pandas
    # query and a take of every column), which on a 2M-event day cost more than everything else in the suite. GX
    # computes a row-conditioned expectation over the rows the condition keeps, so the results are the same.
    # And each batch holds only the columns its expectations read: GX selects the rows of a metric (the non-null
    # values of a column, say) with a boolean mask over the whole frame, which takes every column of it, 45 times a
    # suite; on a 2M-event day the takes of columns no expectation in the batch read were a third of the suite. An
    # expectation reads only its own columns, so the results are the same.
    groups: dict[tuple[tuple[str, str] | None, tuple[str, ...]], list[int]] = {}
    for i, e in enumerate(suite.expectations):
        groups.setdefault((e.only_where, tuple(e.columns)), []).append(i)
    idle: set[int] = set()
    results: dict[int, Any] = {}
    selected: dict[tuple[str, str] | None, pa.Table] = {None: table}
    for (where, columns), members in groups.items():
        if where not in selected:
            selected[where] = table.filter(pc.equal(table[where[0]], where[1]))
        rows = selected[where]
        if where is not None and rows.num_rows == 0:
            # An expectation about rows that are not there (no export rows on a recently-played-only day) does not
            # apply.
            idle.update(members)
            continue
        # Text stays Arrow-backed (pandas wraps the Arrow buffers instead of making a Python object per value);
        # numbers and times become NumPy columns, which GX compares vectorised (on Arrow-backed times it calls Python
        # per row).
        frame = rows.select(list(columns)).to_pandas(
            types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_string(t) or pa.types.is_large_string(t) else None)
        batch = _batch_definition(suite.table).get_batch(batch_parameters={"dataframe": frame})
        # GX reports results in its own order: each expectation carries its index in the suite to be matched back.
        expectations = [getattr(gx.expectations, suite.expectations[i].type)(
            **suite.expectations[i].resolved(day), meta={"index": i}) for i in members]
        result = batch.validate(gx.ExpectationSuite(name=suite.name, expectations=expectations),
                                result_format=dict(RESULT_FORMAT))
        results.update({int(r.expectation_config.meta["index"]): r for r in result.results})
    outcomes = []
    for i, spec in enumerate(suite.expectations):
        if i in idle:
            outcomes.append(ExpectationOutcome(type=spec.type, column=spec.column, success=True,
                                               observed_value="not applicable: no rows where "
                                               f"{spec.only_where[0]} = {spec.only_where[1]}",
                                               unexpected_count=None, unexpected_percent=None, examples=[]))
            continue
        r = results[i]
        details = r.result or {}
        error = (r.exception_info or {}).get("exception_message") if r.exception_info else None
        outcomes.append(ExpectationOutcome(
            type=spec.type, column=spec.column, success=bool(r.success),
            observed_value=_plain(details.get("observed_value")),
            unexpected_count=details.get("unexpected_count"),
            unexpected_percent=_plain(details.get("unexpected_percent")),
            examples=_masked(_plain(list(details.get("partial_unexpected_list") or []))[:EXAMPLES], spec.column,
                             suite.personal),
            error=error if error and not r.success else None,
        ))
    return SuiteOutcome(suite.name, table.num_rows, outcomes)


def markdown(outcome: SuiteOutcome) -> str:
    lines = [f"**{outcome.suite}** on {outcome.rows:,} rows: "
             f"{len(outcome.results) - len(outcome.failed)}/{len(outcome.results)} expectations met", "",
             "| | expectation | column | observed | unexpected | examples |", "| --- | --- | --- | --- | ---: | --- |"]
    for r in outcome.results:
        unexpected = "" if r.unexpected_count is None else f"{r.unexpected_count:,}"
        examples = ", ".join(str(x) for x in r.examples) if r.examples else (r.error or "")
        observed = "" if r.observed_value is None else str(r.observed_value)
        lines.append(f"| {'ok' if r.success else 'FAIL'} | {r.type} | {r.column} | {observed} | {unexpected} | "
                     f"{examples.replace('|', '/')} |")
    return "\n".join(lines)
