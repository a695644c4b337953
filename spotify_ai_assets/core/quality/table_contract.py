"""Table contracts and their checks (unique keys, required columns, ranges, plausible row counts), in SQL.

Pure: returns `CheckOutcome`s; the Dagster layer turns them into asset check results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from spotify_ai_assets.core.kernel.query import Relation, bind, connect
from spotify_ai_assets.core.quality.columns import describe

if TYPE_CHECKING:  # only annotations: loading the definitions (which builds contracts) does not import pyarrow
    import pyarrow as pa


@dataclass(frozen=True)
class TableContract:
    name: str
    key: tuple[str, ...]
    required: tuple[str, ...]
    ranges: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    # Plausible size relative to the previous partition; weekly seasonality stays well inside these.
    min_ratio: float = 0.33
    max_ratio: float = 3.0
    # A table that stores only what was flagged (trends, insights, changes) is legitimately empty on a quiet day.
    may_be_empty: bool = False
    # What a column means in this table when it is narrower than the platform's glossary (core/quality/columns.py).
    column_docs: dict[str, str] = field(default_factory=dict)

    def describe(self, column: str) -> str | None:
        """The column's description: this table's own, else the glossary's."""
        return describe(column, self.column_docs)


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any]
    # A failure of a blocking check that warns instead of blocking (the contract when only its row count is off).
    warn_only: bool = False


# A table's contract is one check with four rules. One check rather than four: each check result costs Dagster a
# planned event, an evaluation event (three SQLite writes) and a lookup of the materialization it belongs to, about
# 40 ms of CPU, and 15 tables x 3 extra checks was a quarter of the daily job. The rules stay separate in the result.
BLOCKING_RULES = frozenset({"unique_key", "required_not_null", "values_in_range"})
CONTRACT_CHECK = "contract"
# Ingestion tables only: a day with no rows after a day with rows is a broken input (a watchlist typo, an empty
# answer), never a quiet success, unless the watchlist says it is empty on purpose.
EMPTIED_CHECK = "not_emptied"
BLOCKING_CHECKS = frozenset({CONTRACT_CHECK, EMPTIED_CHECK})


def _q(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def evaluate(contract: TableContract, table: Relation, previous_rows: int | None) -> list[CheckOutcome]:
    """The contract as one check (see `contract_outcome`)."""
    return [contract_outcome(evaluate_rules(contract, table, previous_rows))]


def contract_outcome(rules: list[CheckOutcome]) -> CheckOutcome:
    """The rules as one outcome: passed when every rule held; a failure blocks when a blocking rule failed and only
    warns when the row count alone is implausible. Each rule's figures stay in the metadata."""
    failed = [r for r in rules if not r.passed]
    if failed:
        description = "failed: " + "; ".join(
            f"{r.name} ({r.description})" + ("" if r.name in BLOCKING_RULES else ", warns") for r in failed)
    else:
        description = f"all {len(rules)} rules met: " + "; ".join(r.description for r in rules)
    metadata: dict[str, Any] = {"failed_rules": [r.name for r in failed]}
    for r in rules:
        metadata.update(r.metadata)
    return CheckOutcome(CONTRACT_CHECK, not failed, description, metadata,
                        warn_only=bool(failed) and not any(r.name in BLOCKING_RULES for r in failed))


def _count_filters(contract: TableContract) -> dict[str, str]:
    """SQL conditions counted in one pass: each required column's nulls and each ranged column's strays."""
    conds = {f"null:{c}": f"{_q(c)} IS NULL" for c in contract.required}
    for col, (lo, hi) in contract.ranges.items():
        parts = [f"{_q(col)} < {lo}"] if lo is not None else []
        parts += [f"{_q(col)} > {hi}"] if hi is not None else []
        conds[f"range:{col}"] = " OR ".join(parts) or "FALSE"
    return conds


def evaluate_rules(contract: TableContract, table: Relation, previous_rows: int | None) -> list[CheckOutcome]:
    """Each rule's outcome, from two scans of the table (counts, then duplicated keys)."""
    conds = _count_filters(contract)
    counts_sql = ", ".join(["count(*)"] + [f"count(*) FILTER (WHERE {c})" for c in conds.values()])
    con = connect()
    try:
        bind(con, "t", table)
        rows, *counted = con.execute(f"SELECT {counts_sql} FROM t").fetchone()  # type: ignore[misc]
        keys = ", ".join(_q(k) for k in contract.key)
        # The three most duplicated keys, each with the number of duplicated keys in all (`groups`).
        dup = con.execute(f"SELECT *, count(*) OVER () AS groups FROM (SELECT {keys}, count(*) n FROM t GROUP BY ALL "
                          "HAVING count(*) > 1) ORDER BY n DESC LIMIT 3").fetchall()
    finally:
        con.close()
    by_name = dict(zip(conds, counted, strict=True))
    nulls = {c: by_name[f"null:{c}"] for c in contract.required}
    out_of_range = {c: by_name[f"range:{c}"] for c in contract.ranges}
    dup_groups, examples = (dup[0][-1] if dup else 0), [e[:-1] for e in dup]

    outcomes = [
        CheckOutcome("unique_key", dup_groups == 0,
                     f"{dup_groups} duplicated key(s) on ({', '.join(contract.key)})",
                     {"duplicate_keys": dup_groups, "examples": [list(map(str, e)) for e in examples]}),
        CheckOutcome("required_not_null", not any(nulls.values()),
                     "nulls in required columns: " + (", ".join(f"{c}={n}" for c, n in nulls.items() if n) or "none"),
                     {"null_counts": nulls}),
        CheckOutcome("values_in_range", not any(out_of_range.values()),
                     "out-of-range values: " + (", ".join(f"{c}={n}" for c, n in out_of_range.items() if n) or "none"),
                     {"out_of_range": out_of_range, "ranges": {c: list(r) for c, r in contract.ranges.items()}}),
    ]
    if previous_rows is None or previous_rows == 0:
        outcomes.append(CheckOutcome("row_count_plausible", rows > 0 or contract.may_be_empty,
                                     f"{rows} rows; no previous partition to compare with"
                                     + ("; this table may be empty (it stores only what was flagged)"
                                        if rows == 0 and contract.may_be_empty else ""),
                                     {"rows": rows, "previous_rows": previous_rows}))
    else:
        ratio = rows / previous_rows
        ok = contract.min_ratio <= ratio <= contract.max_ratio
        outcomes.append(CheckOutcome(
            "row_count_plausible", ok,
            f"{rows} rows vs {previous_rows} in the previous partition (x{ratio:.2f}; plausible "
            f"x{contract.min_ratio}-x{contract.max_ratio})",
            {"rows": rows, "previous_rows": previous_rows, "ratio": round(ratio, 4)}))
    return outcomes


# Some bad records are normal in real exports (a truncated line, a client bug): they are counted and shown, and the
# check warns only past this share of a partition's input, when something systematic is wrong (a changed format, a
# broken producer). A round figure, not fitted to the sandbox.
QUARANTINE_WARN_SHARE = 0.05


def quarantine_outcome(quarantine: pa.Table, good_rows: int, warn_share: float = QUARANTINE_WARN_SHARE) -> CheckOutcome:
    """Visible, not fatal: bad records are kept aside and named; the check warns when their share of the input
    exceeds `warn_share`."""
    n = quarantine.num_rows
    share = n / max(1, n + good_rows)
    reasons: dict[str, int] = {}
    for f, r in zip(quarantine["field"].to_pylist(), quarantine["reason"].to_pylist(), strict=True):
        reasons[f"{f}: {r}"] = reasons.get(f"{f}: {r}", 0) + 1
    examples = quarantine.slice(0, 5).select(["record_ref", "field", "reason"]).to_pylist()
    verdict = "above" if share > warn_share else "within"
    return CheckOutcome("quarantine", share <= warn_share,
                        f"{n} record(s) quarantined ({share:.3%} of input; {verdict} the {warn_share:.3g} share "
                        "that warns)",
                        {"quarantined": n, "share": round(share, 6), "warn_share": warn_share, "by_reason": reasons,
                         "examples": examples})


def emptied_outcome(rows: int, previous_rows: int | None, empty_on_purpose: bool) -> CheckOutcome:
    """Blocking: an ingestion table that had rows the day before and has none now stops the run."""
    emptied = rows == 0 and bool(previous_rows)
    passed = not emptied or empty_on_purpose
    if not emptied:
        text = f"{rows} rows" + (f" (previous partition {previous_rows})" if previous_rows is not None else "")
    elif empty_on_purpose:
        text = f"0 rows after {previous_rows} in the previous partition: the watchlist says empty on purpose"
    else:
        text = (f"0 rows after {previous_rows} in the previous partition: the watchlist or the source is broken "
                "(set `empty_on_purpose: true` in the watchlist if this is meant)")
    return CheckOutcome(EMPTIED_CHECK, passed, text,
                        {"rows": rows, "previous_rows": previous_rows, "empty_on_purpose": empty_on_purpose})
