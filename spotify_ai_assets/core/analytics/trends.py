"""Rising, falling and emerging tracks and artists: each day's count against the entity's own trailing baseline.

The count (`plays` below) should be daily unique listeners rather than plays: one fan on repeat can put a long-tail
track at 8 plays after months at 1, but not at 8 listeners.

Method (all DuckDB SQL over daily counts per entity):

- **Baseline share.** Over the trailing window (the `BASELINE_DAYS` days before the scored day, fewer at the start of
  history), the entity's share of all plays on the platform. A window of whole weeks makes the share itself free of
  weekly seasonality.
- **Expected plays** = baseline share x the platform's plays on the scored day, so the day's own weekday (and any
  platform-wide swing) is carried into the expectation instead of showing up as a trend.
- **Score**: a Poisson-style z, (plays - expected) / sqrt(expected + 1). The +1 keeps entities with tiny baselines
  from scoring huge on a couple of plays; with it, small counts need many more plays to look significant.
- **Rising** when z >= `Z_RISING`, plays >= `MIN_PLAYS` and plays >= `MIN_RATIO` x expected; **falling** when
  z <= -`Z_RISING`, expected >= `MIN_PLAYS` and plays <= expected / `MIN_RATIO`. An entity is scored against a
  baseline once it was first played at least `MIN_HISTORY_DAYS` days before (sparse long-tail tracks included).
- **Emerging**: an entity with less history than that (new releases, first plays) but already `MIN_EMERGING_PLAYS`
  plays on the day. Ranked by plays.
- **Too little history**: while the data itself holds fewer than `MIN_HISTORY_DAYS` days before the scored day (the
  first days of a deployment or a backfill), nothing is labelled: every entity would be "new", and the most played
  would be called emerging. Scores are still computed; `history_shortfall` says why nothing is flagged.
- **Release** (artists only): a rising artist whose established tracks are not rising is rising on its new releases.
  Established tracks are all but the fresh ones: first played within the last `FRESH_DAYS` days (absent on the
  first day of the data window) by at least `MIN_PLAYS` listeners on that first day, as a release is; an old
  long-tail track that merely had no listener for a while starts with one or two. The established tracks' summed
  listeners are scored with the same rule against their own baseline share; if they do not rise, the artist is
  labelled `release` instead of `rising`: an expected effect, already alerted as a release, not a breakout. A real
  breakout lifts the old catalogue too, so it stays `rising`.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

if TYPE_CHECKING:  # pyarrow is imported where a table is built: loading the definitions does not need it
    import pyarrow as pa

BASELINE_DAYS = 28
MIN_HISTORY_DAYS = 7
Z_RISING = 5.0
MIN_RATIO = 2.0
MIN_PLAYS = 6
MIN_EMERGING_PLAYS = 50
FRESH_DAYS = 21


def _rises(count: str, expected: str) -> str:
    """The rising rule as SQL over a count and its expectation (one rule for every score that uses it)."""
    return (f"(({count}) - ({expected})) / sqrt(({expected}) + 1) >= {Z_RISING} AND ({count}) >= {MIN_PLAYS} "
            f"AND ({count}) >= {MIN_RATIO} * ({expected})")


# `daily` has one row per (date, entity_id) with plays; the scored day is $1.
TRENDS_SQL = f"""
WITH days AS (
  SELECT date, sum(plays) AS total FROM daily
  WHERE date BETWEEN $1::DATE - {BASELINE_DAYS} AND $1::DATE GROUP BY date
),
-- Platform plays from each window day up to the day before the scored one: the denominator of an entity's share
-- counts only the days since the entity first appeared, so a new release is not compared with days it did not exist.
since AS (
  SELECT date, sum(total) OVER (ORDER BY date DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS total
  FROM days WHERE date < $1::DATE
),
history AS (
  SELECT entity_id, sum(plays) AS plays, min(date) AS first_seen
  FROM daily WHERE date >= $1::DATE - {BASELINE_DAYS} AND date < $1::DATE GROUP BY entity_id
),
today AS (SELECT entity_id, sum(plays) AS plays FROM daily WHERE date = $1::DATE GROUP BY entity_id),
scored AS (
  SELECT coalesce(t.entity_id, h.entity_id) AS entity_id, coalesce(t.plays, 0) AS plays,
         coalesce($1::DATE - h.first_seen, 0) AS history_days,
         coalesce(h.plays / nullif(s.total, 0) * (SELECT total FROM days WHERE date = $1::DATE), 0) AS expected
  FROM today t FULL OUTER JOIN history h ON t.entity_id = h.entity_id
  LEFT JOIN since s ON s.date = h.first_seen
)
SELECT $1::DATE AS date, entity_id, plays::BIGINT AS plays, round(expected, 3)::DOUBLE AS expected,
       round((plays - expected) / sqrt(expected + 1), 3)::DOUBLE AS z,
       round((plays + 1) / (expected + 1), 3)::DOUBLE AS ratio, history_days::BIGINT AS history_days,
       CASE
         WHEN (SELECT count(*) FROM days WHERE date < $1::DATE) < {MIN_HISTORY_DAYS} THEN NULL
         WHEN history_days < {MIN_HISTORY_DAYS}
           THEN CASE WHEN plays >= {MIN_EMERGING_PLAYS} THEN 'emerging' END
         WHEN {_rises("plays", "expected")} THEN 'rising'
         WHEN (plays - expected) / sqrt(expected + 1) <= -{Z_RISING} AND expected >= {MIN_PLAYS}
              AND plays * {MIN_RATIO} <= expected THEN 'falling'
       END AS trend
FROM scored
WHERE plays > 0 OR expected >= {MIN_PLAYS}
"""


def trends_schema() -> pa.Schema:
    """The columns of a day's scores (and of the stored trends tables)."""
    import pyarrow as pa

    return pa.schema([
        ("date", pa.date32()), ("entity_id", pa.string()), ("plays", pa.int64()), ("expected", pa.float64()),
        ("z", pa.float64()), ("ratio", pa.float64()), ("history_days", pa.int64()), ("trend", pa.string()),
    ])


def history_shortfall(history_days: int) -> str | None:
    """Why nothing is labelled on a day with `history_days` days of data before it, or None when there are enough."""
    if history_days >= MIN_HISTORY_DAYS:
        return None
    return (f"history: {history_days} of {MIN_HISTORY_DAYS} days needed before the scored day; trends not labelled "
            f"until then (backfill at least {MIN_HISTORY_DAYS - history_days} more earlier days)")


def score_day(daily: Relation, day: dt.date) -> pa.Table:
    """Every entity seen on `day` or in its baseline window, with its score and trend (or null)."""
    return sql_to_arrow(TRENDS_SQL, {"daily": daily}, [day]).cast(trends_schema())


# `scores` are an artist's rows from TRENDS_SQL; `tracks` the daily per-track (per-country) listeners with artist_id
# over the same window; the scored day is $1.
RELEASE_SQL = f"""
WITH per_track AS (SELECT date, track_id, sum(listeners) AS listeners FROM tracks GROUP BY ALL),
fresh AS (
  SELECT track_id FROM per_track GROUP BY track_id
  HAVING min(date) > (SELECT min(date) FROM tracks) AND min(date) >= $1::DATE - {FRESH_DAYS}
     AND arg_min(listeners, date) >= {MIN_PLAYS}
),
totals AS (SELECT date, sum(listeners) AS total FROM tracks GROUP BY date),
established AS (
  SELECT artist_id,
         coalesce(sum(listeners) FILTER (WHERE date = $1::DATE), 0) AS today,
         coalesce(sum(listeners) FILTER (WHERE date < $1::DATE), 0)
           / nullif((SELECT sum(total) FROM totals WHERE date < $1::DATE), 0)
           * (SELECT sum(total) FROM totals WHERE date = $1::DATE) AS expected
  FROM tracks WHERE track_id NOT IN (SELECT track_id FROM fresh) GROUP BY artist_id
)
SELECT s.* EXCLUDE (trend),
       CASE WHEN s.trend = 'rising'
                 AND NOT coalesce({_rises("e.today", "e.expected")}, FALSE)
            THEN 'release' ELSE s.trend END AS trend
FROM scores s LEFT JOIN established e ON e.artist_id = s.entity_id
"""


def explain_releases(scores: pa.Table, tracks: Relation, day: dt.date) -> pa.Table:
    """Artist scores with rises carried by fresh tracks relabelled `release` (see the module's method)."""
    return sql_to_arrow(RELEASE_SQL, {"scores": scores, "tracks": tracks}, [day]).cast(trends_schema())


def flagged(scores: pa.Table, trend: str, top: int = 20) -> list[str]:
    """The entity ids with `trend`, strongest first (|z| for rising/falling, plays for emerging), at most `top`."""
    key = "plays" if trend == "emerging" else "abs(z)"
    rows = sql_to_arrow(f"SELECT entity_id FROM s WHERE trend = $1 ORDER BY {key} DESC, entity_id LIMIT $2",
                        {"s": scores}, [trend, top])
    return rows["entity_id"].to_pylist()
