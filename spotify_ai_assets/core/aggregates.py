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

# A session ends when the gap from the end of one play to the start of the next exceeds the threshold. Each user's
# plays become one list ordered by start (ties by length, so the result never depends on file order); a session
# starts at the first play and at each play starting more than the gap after the previous one ended. Sorting each
# user's few plays inside the aggregate costs about half of a lag() window, which sorts the whole day.
USER_SQL = f"""
WITH per_user AS (
  SELECT user_id, count(*) AS plays, sum(coalesce(ms_played, 0)) AS ms,
         list({{'s': epoch_ms(played_at), 'e': epoch_ms(played_at) + coalesce(ms_played, 0)}}
              ORDER BY played_at, coalesce(ms_played, 0)) AS p
  FROM events GROUP BY user_id
)
SELECT CAST($1 AS DATE) AS date, user_id,
       (1 + len(list_filter(range(2, len(p) + 1),
                            lambda i: p[i].s - p[i - 1].e > {SESSION_GAP_MINUTES * 60_000})))::BIGINT AS sessions,
       plays::BIGINT AS plays, round(ms / 60000.0, 3)::DOUBLE AS minutes
FROM per_user
"""


def aggregate(sql: str, events: Relation, day: dt.date, threads: int | None = None) -> pa.Table:
    from spotify_ai_assets.core.query import connect

    con = connect(threads=threads)
    try:
        return sql_to_arrow(sql, {"events": events}, [day], con=con)
    finally:
        con.close()
