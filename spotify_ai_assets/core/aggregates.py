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

# Distinct listeners are counted per user: each user's plays collapse into one short deduplicated list of group
# keys, and the group's listeners are the lists it appears in. That replaces a hash table of every (group, user)
# pair (12 million on a bench day) and cuts the cost by a third. The lists hold a 64-bit hash of the group key; the
# query stops with COLLISION (about 1e-8 odds a day) if two of the day's groups share a hash, and `aggregate` then runs
# the plain count(DISTINCT) form: exact either way.
COLLISION = "spotify_ai: group key hash collision"


def _listeners(group: str, columns: str, key_hash: str, where: str, aggregates: str, select: str) -> str:
    return f"""
WITH e AS (SELECT {columns}, {key_hash} AS k FROM events {where}),
m AS (SELECT {group}, any_value(k) AS k, {aggregates} FROM e GROUP BY {group}),
l AS (SELECT k, count(*)::BIGINT AS listeners
      FROM (SELECT unnest(list_distinct(list(k))) AS k FROM e WHERE user_id IS NOT NULL GROUP BY user_id)
      GROUP BY k)
SELECT CAST($1 AS DATE) AS date, {select} FROM m LEFT JOIN l USING (k)
WHERE (SELECT CASE WHEN count(DISTINCT k) = count(*) THEN true ELSE error('{COLLISION}') END FROM m)
"""


_TC_AGGREGATES = ("any_value(artist_id) AS artist_id, count(*)::BIGINT AS plays, "
                  "coalesce(sum(ms_played), 0)::BIGINT AS ms_played, avg(skipped::INT)::DOUBLE AS skip_rate")
_ARTIST_AGGREGATES = ("count(*)::BIGINT AS plays, count(DISTINCT track_id)::BIGINT AS tracks_played, "
                      "coalesce(sum(ms_played), 0)::BIGINT AS ms_played, avg(skipped::INT)::DOUBLE AS skip_rate")


def track_country_sql(key_hash: str = "hash(track_id, country)") -> str:
    return _listeners("track_id, country", "track_id, coalesce(country, 'XX') AS country, user_id, artist_id, "
                      "ms_played, skipped", key_hash, "", _TC_AGGREGATES,
                      "track_id, artist_id, country, plays, coalesce(listeners, 0) AS listeners, ms_played, skip_rate")


def artist_sql(key_hash: str = "hash(artist_id)") -> str:
    return _listeners("artist_id", "artist_id, user_id, track_id, ms_played, skipped", key_hash,
                      "WHERE artist_id IS NOT NULL", _ARTIST_AGGREGATES,
                      "artist_id, plays, coalesce(listeners, 0) AS listeners, tracks_played, ms_played, skip_rate")


TRACK_COUNTRY_SQL = track_country_sql()
ARTIST_SQL = artist_sql()

TRACK_COUNTRY_EXACT_SQL = """
SELECT CAST($1 AS DATE) AS date, track_id, any_value(artist_id) AS artist_id, coalesce(country, 'XX') AS country,
       count(*)::BIGINT AS plays, count(DISTINCT user_id)::BIGINT AS listeners,
       coalesce(sum(ms_played), 0)::BIGINT AS ms_played, avg(skipped::INT)::DOUBLE AS skip_rate
FROM events GROUP BY track_id, coalesce(country, 'XX')
"""

ARTIST_EXACT_SQL = """
SELECT CAST($1 AS DATE) AS date, artist_id, count(*)::BIGINT AS plays, count(DISTINCT user_id)::BIGINT AS listeners,
       count(DISTINCT track_id)::BIGINT AS tracks_played, coalesce(sum(ms_played), 0)::BIGINT AS ms_played,
       avg(skipped::INT)::DOUBLE AS skip_rate
FROM events WHERE artist_id IS NOT NULL GROUP BY artist_id
"""

# A session ends when the gap from the end of one play to the start of the next exceeds the threshold. Each user's
# plays become one list of (start, end) sorted by start, then end (so the result never depends on file order); a
# session starts at the first play and at each play starting more than the gap after the previous one ended.
# Sorting half a million short lists costs about a third of a lag() window, which sorts the whole day.
USER_SQL = f"""
WITH per_user AS (
  SELECT user_id, count(*) AS plays, sum(coalesce(ms_played, 0)) AS ms,
         list_sort(list({{'s': epoch_ms(played_at), 'e': epoch_ms(played_at) + coalesce(ms_played, 0)}})) AS p
  FROM events GROUP BY user_id
)
SELECT CAST($1 AS DATE) AS date, user_id,
       (1 + len(list_filter(range(2, len(p) + 1),
                            lambda i: p[i].s - p[i - 1].e > {SESSION_GAP_MINUTES * 60_000})))::BIGINT AS sessions,
       plays::BIGINT AS plays, round(ms / 60000.0, 3)::DOUBLE AS minutes
FROM per_user
"""


def aggregate(sql: str, events: Relation, day: dt.date, threads: int | None = None,
              exact: str | None = None) -> pa.Table:
    """`sql` over the day's `events`; on a group-key hash collision, `exact` (by default the count(DISTINCT) form
    of the track-country or artist query)."""
    import duckdb

    from spotify_ai_assets.core.query import connect

    con = connect(threads=threads)
    try:
        try:
            return sql_to_arrow(sql, {"events": events}, [day], con=con)
        except duckdb.InvalidInputException as exc:
            fallback = exact or {TRACK_COUNTRY_SQL: TRACK_COUNTRY_EXACT_SQL, ARTIST_SQL: ARTIST_EXACT_SQL}.get(sql)
            if COLLISION not in str(exc) or fallback is None:
                raise
            return sql_to_arrow(fallback, {"events": events}, [day], con=con)
    finally:
        con.close()
