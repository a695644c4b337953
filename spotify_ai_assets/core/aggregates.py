"""Daily aggregates of listening events, all in DuckDB SQL over the day's Parquet partition.

`events` is bound to the day's listening events. Plays from recently-played carry no ms_played/skipped
(Spotify doesn't say); rates are computed over the plays that do. Unknown countries are grouped as `XX`
(the ISO 3166 user-assigned code) rather than dropped.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from spotify_ai_assets.core.query import Relation, sql_to_arrow

SESSION_GAP_MINUTES = 30

TRACK_COUNTRY_SQL = """
SELECT CAST($1 AS DATE) AS date, track_id, any_value(artist_id) AS artist_id, coalesce(country, 'XX') AS country,
       count(*)::BIGINT AS plays, count(DISTINCT user_id)::BIGINT AS listeners,
       coalesce(sum(ms_played), 0)::BIGINT AS ms_played, avg(skipped::INT)::DOUBLE AS skip_rate
FROM events GROUP BY track_id, coalesce(country, 'XX')
"""

ARTIST_SQL = """
SELECT CAST($1 AS DATE) AS date, artist_id, count(*)::BIGINT AS plays, count(DISTINCT user_id)::BIGINT AS listeners,
       count(DISTINCT track_id)::BIGINT AS tracks_played, coalesce(sum(ms_played), 0)::BIGINT AS ms_played,
       avg(skipped::INT)::DOUBLE AS skip_rate
FROM events WHERE artist_id IS NOT NULL GROUP BY artist_id
"""

# A session ends when the gap from the end of one play to the start of the next exceeds the threshold.
USER_SQL = f"""
WITH ordered AS (
  SELECT user_id, played_at, coalesce(ms_played, 0) AS ms_played,
         lag(played_at + to_milliseconds(coalesce(ms_played, 0))) OVER (PARTITION BY user_id ORDER BY played_at)
           AS prev_end
  FROM events
)
SELECT CAST($1 AS DATE) AS date, user_id,
       sum(CASE WHEN prev_end IS NULL OR played_at - prev_end > INTERVAL {SESSION_GAP_MINUTES} MINUTE
                THEN 1 ELSE 0 END)::BIGINT AS sessions,
       count(*)::BIGINT AS plays, round(sum(ms_played) / 60000.0, 3)::DOUBLE AS minutes
FROM ordered GROUP BY user_id
"""


def aggregate(sql: str, events: Relation, day: dt.date, threads: int | None = None) -> pa.Table:
    from spotify_ai_assets.core.query import connect

    con = connect(threads=threads)
    try:
        return sql_to_arrow(sql, {"events": events}, [day], con=con)
    finally:
        con.close()
