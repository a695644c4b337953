"""The table contract's warn-level outcomes: a quarantine warns past a share of the input, not on any record; a
table that stores only what was flagged may be empty on its first day."""

from __future__ import annotations

import pyarrow as pa

from spotify_ai_assets.core.quality.table_contract import (
    QUARANTINE_WARN_SHARE,
    TableContract,
    evaluate,
    quarantine_outcome,
)


def _quarantine(n: int) -> pa.Table:
    return pa.table({"record_ref": [f"day.jsonl:{i}" for i in range(n)], "field": ["played_at"] * n,
                     "reason": ["not a timestamp"] * n})


def test_a_few_bad_records_pass_with_their_count_and_many_warn() -> None:
    few = quarantine_outcome(_quarantine(3), good_rows=997)
    assert few.passed and few.metadata["quarantined"] == 3 and few.metadata["share"] == 0.003
    assert few.description.startswith("3 record(s) quarantined (0.300% of input; within")
    assert few.metadata["by_reason"] == {"played_at: not a timestamp": 3}
    many = quarantine_outcome(_quarantine(60), good_rows=940)
    assert not many.passed and "above the 0.05 share" in many.description
    assert QUARANTINE_WARN_SHARE == 0.05
    assert quarantine_outcome(_quarantine(0), good_rows=0).passed
    assert not quarantine_outcome(_quarantine(2), good_rows=0).passed  # everything bad


def test_an_empty_first_partition_warns_unless_the_table_may_be_empty() -> None:
    empty = pa.table({"id": pa.array([], pa.string())})
    strict = TableContract("t", key=("id",), required=("id",))
    flagged_only = TableContract("t", key=("id",), required=("id",), min_ratio=0.0, max_ratio=float("inf"),
                                 may_be_empty=True)
    [row_count] = [o for o in evaluate(strict, empty, None) if o.name == "row_count_plausible"]
    assert not row_count.passed
    [row_count] = [o for o in evaluate(flagged_only, empty, None) if o.name == "row_count_plausible"]
    assert row_count.passed and "may be empty" in row_count.description
