"""The table contract's warn-level outcomes: a quarantine warns past a share of the input, not on any record; a
table that stores only what was flagged may be empty on its first day."""

from __future__ import annotations

import pyarrow as pa

from spotify_ai_assets.core.quality.table_contract import (
    QUARANTINE_WARN_SHARE,
    TableContract,
    contract_outcome,
    evaluate,
    evaluate_rules,
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
    [row_count] = [o for o in evaluate_rules(strict, empty, None) if o.name == "row_count_plausible"]
    assert not row_count.passed
    [row_count] = [o for o in evaluate_rules(flagged_only, empty, None) if o.name == "row_count_plausible"]
    assert row_count.passed and "may be empty" in row_count.description
    # As one check: the implausible row count alone warns, it does not block.
    [contract] = evaluate(strict, empty, None)
    assert (contract.name, contract.passed, contract.warn_only) == ("contract", False, True)
    assert contract.metadata["failed_rules"] == ["row_count_plausible"]
    assert evaluate(flagged_only, empty, None)[0].passed


def test_the_contract_check_names_each_broken_rule_and_blocks_on_the_blocking_ones() -> None:
    contract = TableContract("t", key=("id", "day"), required=("id", "plays"), ranges={"plays": (0, None)})
    table = pa.table({"id": ["a", "a", "a", "b", None], "day": [1, 1, 1, 1, 2], "plays": [3, 3, -1, None, 2]})
    rules = {o.name: o for o in evaluate_rules(contract, table, previous_rows=5)}
    assert rules["unique_key"].metadata == {"duplicate_keys": 1, "examples": [["a", "1", "3"]]}
    assert rules["required_not_null"].metadata == {"null_counts": {"id": 1, "plays": 1}}
    assert rules["values_in_range"].metadata["out_of_range"] == {"plays": 1}
    assert rules["row_count_plausible"].passed
    [check] = evaluate(contract, table, previous_rows=5)
    assert not check.passed and not check.warn_only
    assert check.metadata["failed_rules"] == ["unique_key", "required_not_null", "values_in_range"]
    assert check.description.startswith("failed: unique_key (1 duplicated key(s) on (id, day))")
    clean = pa.table({"id": ["a", "b"], "day": [1, 1], "plays": [0, 7]})
    [ok] = evaluate(contract, clean, previous_rows=2)
    assert ok.passed and ok.description.startswith("all 4 rules met: 0 duplicated key(s)")
    assert contract_outcome(evaluate_rules(contract, clean, previous_rows=100)).warn_only
