"""Great Expectations suites for the core tables, as plain data (no GX import: the definitions stay fast to load).

Each expectation names a GX 1.x expectation class and its arguments; `runner.py` turns them into a GX suite when a
check runs. Critical suites back blocking asset checks: a failure stops the assets downstream in the same run.
The contract checks (core/<domain>/contracts.py) cover keys and bounds inside each asset's step; these suites add what a
contract cannot say: value sets and formats, cross-column rules, distributions, and per-expectation examples.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Kwargs = dict[str, Any]


@dataclass(frozen=True)
class Expectation:
    type: str  # a class in great_expectations.expectations, e.g. "ExpectColumnValuesToNotBeNull"
    kwargs: Kwargs = field(default_factory=dict)
    # Arguments that depend on the partition (its day), filled in when the check runs.
    for_day: Callable[[dt.date], Kwargs] | None = None
    # The rows the expectation is about, as (column, value): a column only one source can fill is checked on that
    # source's rows. With no such rows the expectation does not apply and passes, saying so.
    only_where: tuple[str, str] | None = None

    def resolved(self, day: dt.date | None) -> Kwargs:
        extra = self.for_day(day) if self.for_day is not None and day is not None else {}
        return {**self.kwargs, **extra}

    @property
    def columns(self) -> list[str]:
        """The columns the expectation itself reads (not its `only_where` column)."""
        out = [self.kwargs[key] for key in ("column", "column_A", "column_B") if key in self.kwargs]
        return [*out, *self.kwargs.get("column_list", [])]

    @property
    def column(self) -> str:
        if "column" in self.kwargs:
            return str(self.kwargs["column"])
        if "column_list" in self.kwargs:
            return "+".join(self.kwargs["column_list"])
        return " >= ".join(str(self.kwargs[k]) for k in ("column_A", "column_B") if k in self.kwargs)


@dataclass(frozen=True)
class Suite:
    name: str
    table: str
    critical: bool
    expectations: tuple[Expectation, ...]
    description: str
    # Columns holding personal data (raw user ids): their values never appear among a result's examples, which
    # land in the Dagster instance.
    personal: tuple[str, ...] = ()
    # The table holds one partition per day (checked per day); False: checked whole.
    daily: bool = True

    @property
    def columns(self) -> list[str]:
        """The columns the suite reads: only these are loaded from the lake."""
        out: list[str] = []
        for e in self.expectations:
            out.extend(e.columns)
            if e.only_where:
                out.append(e.only_where[0])
        return list(dict.fromkeys(out))


def _not_null(*columns: str) -> tuple[Expectation, ...]:
    return tuple(Expectation("ExpectColumnValuesToNotBeNull", {"column": c}) for c in columns)


def _within_day(day: dt.date) -> Kwargs:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    return {"min_value": start, "max_value": start + dt.timedelta(days=1), "strict_max": True}


COUNTRY = r"^[A-Z]{2}$"
SPOTIFY_ID = r"^[0-9A-Za-z]{22}$"
ISRC = r"^[A-Z]{2}[A-Z0-9]{3}[0-9]{7}$"

EXPORT_ROWS = ("source", "export")

LISTENING_EVENTS = Suite(
    "listening_events_suite", "listening_events", critical=True,
    description="Every event identified, timed inside its day, by a known source; plausible lengths and values. "
                "Columns only the export files fill (ms_played, skipped, device; recently-played has none of them, "
                "and no country for a development-mode app) are required and checked on export rows only, so a day "
                "with any mix of sources, recently-played alone included, is judged on what each source can say.",
    expectations=(
        *_not_null("event_id", "user_id", "track_id", "played_at", "source"),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["user_id", "track_id", "played_at"]}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "played_at"}, for_day=_within_day),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "track_id", "regex": SPOTIFY_ID}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "source", "value_set": ["export", "recently_played"]}),
        *(Expectation("ExpectColumnValuesToNotBeNull", {"column": c}, only_where=EXPORT_ROWS)
          for c in ("ms_played", "skipped", "country", "device")),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "ms_played", "min_value": 0,
                                                      "max_value": 86_400_000}),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "country", "regex": COUNTRY, "mostly": 0.99}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "device", "mostly": 0.99, "value_set": [
            "smartphone", "computer", "speaker", "tv", "car", "tablet", "console", "web", "unknown"]}),
        # A day where almost everything is skipped means a broken client or export, not taste.
        Expectation("ExpectColumnMeanToBeBetween", {"column": "skipped", "min_value": 0.02, "max_value": 0.9},
                    only_where=EXPORT_ROWS),
    ),
    personal=("user_id",),
)

SPOTIFY_TRACKS = Suite(
    "spotify_tracks_suite", "spotify_tracks", critical=False,
    description="Catalog tracks: valid ids, ISRCs, durations and track numbers.",
    expectations=(
        *_not_null("track_id", "album_id", "artist_id", "name"),
        Expectation("ExpectColumnValuesToBeUnique", {"column": "track_id"}),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "track_id", "regex": SPOTIFY_ID}),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "isrc", "regex": ISRC, "mostly": 0.95}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "duration_ms", "min_value": 1_000,
                                                      "max_value": 6 * 3_600_000}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "track_number", "min_value": 1, "max_value": 500}),
    ),
)

AUDIO_FEATURES = Suite(
    "audio_features_suite", "audio_features_all", critical=False, daily=False,
    description="Audio features within their physical ranges (null tempo/key allowed: silence, short clips).",
    expectations=(
        *_not_null("track_id", "content_sha256", "duration_s", "loudness_dbfs"),
        Expectation("ExpectColumnValuesToBeUnique", {"column": "track_id"}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "tempo_bpm", "min_value": 30, "max_value": 300}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "key", "min_value": 0, "max_value": 11}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "mode", "value_set": [0, 1]}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "loudness_dbfs", "min_value": -120, "max_value": 0}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "sample_rate", "min_value": 8_000,
                                                      "max_value": 192_000}),
        *(Expectation("ExpectColumnValuesToBeBetween", {"column": c, "min_value": 0, "max_value": 1})
          for c in ("danceability", "energy_score", "valence")),
    ),
)

DAILY_TRACK_COUNTRY = Suite(
    "daily_track_country_stats_suite", "daily_track_country_stats", critical=True,
    description="Daily per-track, per-country aggregates: one row per key, listeners never above plays.",
    expectations=(
        *_not_null("date", "track_id", "country", "plays", "listeners"),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["track_id", "country"]}),
        Expectation("ExpectColumnPairValuesAToBeGreaterThanB", {"column_A": "plays", "column_B": "listeners",
                                                                "or_equal": True}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "skip_rate", "min_value": 0, "max_value": 1}),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "country", "regex": COUNTRY}),
    ),
)

RECOMMENDATIONS = Suite(
    "recommendations_suite", "recommendations", critical=False,
    description="Served recommendations: one track per rank per user, no track twice for a user, every row scored "
                "and traceable to the model that scored it.",
    expectations=(
        *_not_null("user_key", "track_id", "rank", "score", "source", "model_sha256"),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["user_key", "rank"]}),
        Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["user_key", "track_id"]}),
        Expectation("ExpectColumnValuesToBeBetween", {"column": "rank", "min_value": 1, "max_value": 100}),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "track_id", "regex": SPOTIFY_ID}),
        Expectation("ExpectColumnValuesToBeInSet", {"column": "source",
                                                    "value_set": ["model", "popularity_fallback"]}),
        Expectation("ExpectColumnValuesToMatchRegex", {"column": "model_sha256", "regex": r"^[0-9a-f]{64}$"}),
    ),
)

SUITES = (LISTENING_EVENTS, SPOTIFY_TRACKS, AUDIO_FEATURES, DAILY_TRACK_COUNTRY, RECOMMENDATIONS)
_BY_TABLE = {suite.table: suite for suite in SUITES}


def suite_for(table: str) -> Suite | None:
    """The suite that validates `table`, if any (at most one per table)."""
    return _BY_TABLE.get(table)
