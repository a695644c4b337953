"""What changed in a tracked playlist between two snapshots: tracks added, removed, and moved, in DuckDB SQL.

A playlist whose `snapshot_id` did not change is skipped without comparing items (Spotify changes the id on every
edit). A track that appears twice is matched occurrence by occurrence (first with first, second with second), so
adding a second copy is one add, not a move. Playlists missing from either snapshot are not diffed: a playlist that
could not be read on one day (a 403, an outage) must not look like every track was removed.
"""

from __future__ import annotations

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

CHANGES_SCHEMA = pa.schema([
    ("snapshot_date", pa.date32()), ("playlist_id", pa.string()), ("change", pa.string()), ("track_id", pa.string()),
    ("old_position", pa.int64()), ("new_position", pa.int64()), ("previous_snapshot_id", pa.string()),
    ("snapshot_id", pa.string()),
])

CHANGES_SQL = """
WITH changed AS (
  SELECT c.playlist_id, any_value(p.snapshot_id) AS previous_snapshot_id, any_value(c.snapshot_id) AS snapshot_id
  FROM (SELECT DISTINCT playlist_id, snapshot_id FROM curr) c
  JOIN (SELECT DISTINCT playlist_id, snapshot_id FROM prev) p USING (playlist_id)
  WHERE c.snapshot_id IS DISTINCT FROM p.snapshot_id
  GROUP BY c.playlist_id
),
p AS (
  SELECT playlist_id, track_id, position,
         row_number() OVER (PARTITION BY playlist_id, track_id ORDER BY position) AS occurrence
  FROM prev WHERE playlist_id IN (SELECT playlist_id FROM changed)
),
c AS (
  SELECT playlist_id, track_id, position,
         row_number() OVER (PARTITION BY playlist_id, track_id ORDER BY position) AS occurrence
  FROM curr WHERE playlist_id IN (SELECT playlist_id FROM changed)
),
matched AS (
  SELECT coalesce(c.playlist_id, p.playlist_id) AS playlist_id, coalesce(c.track_id, p.track_id) AS track_id,
         occurrence, p.position AS old_position, c.position AS new_position
  FROM c FULL OUTER JOIN p USING (playlist_id, track_id, occurrence)
),
-- Positions shift whenever something above is added or removed, so a move is judged among the tracks that stayed:
-- a track moved when both its neighbours changed. Moving one track to the top then flags that track alone, not
-- every track it jumped over; swapping two neighbours flags both.
kept AS (
  SELECT *, track_id || '#' || occurrence AS k FROM matched WHERE old_position IS NOT NULL AND new_position IS NOT NULL
),
neighbours AS (
  SELECT playlist_id, track_id, old_position, new_position,
         lag(k) OVER (PARTITION BY playlist_id ORDER BY old_position) AS old_prev,
         lead(k) OVER (PARTITION BY playlist_id ORDER BY old_position) AS old_next,
         lag(k) OVER (PARTITION BY playlist_id ORDER BY new_position) AS new_prev,
         lead(k) OVER (PARTITION BY playlist_id ORDER BY new_position) AS new_next
  FROM kept
),
changes AS (
  SELECT playlist_id, 'added' AS change, track_id, old_position, new_position FROM matched WHERE old_position IS NULL
  UNION ALL
  SELECT playlist_id, 'removed', track_id, old_position, new_position FROM matched WHERE new_position IS NULL
  UNION ALL
  SELECT playlist_id, 'moved', track_id, old_position, new_position FROM neighbours
  WHERE old_prev IS DISTINCT FROM new_prev AND old_next IS DISTINCT FROM new_next
)
SELECT $1::DATE AS snapshot_date, x.playlist_id, x.change, x.track_id, x.old_position, x.new_position,
       ch.previous_snapshot_id, ch.snapshot_id
FROM changes x JOIN changed ch USING (playlist_id)
ORDER BY x.playlist_id, x.change, coalesce(x.new_position, x.old_position)
"""


def diff_snapshots(previous: Relation, current: Relation, snapshot_date: object) -> pa.Table:
    """Adds, removals and moves per playlist from `previous` to `current` (rows shaped like playlist_snapshots)."""
    return sql_to_arrow(CHANGES_SQL, {"prev": previous, "curr": current}, [snapshot_date]).cast(CHANGES_SCHEMA)


EFFECT_DAYS = 7

# $1 = the day of the adds. `adds` are that day's playlist_changes rows with change = 'added'; `stats` is
# daily_track_country_stats covering the EFFECT_DAYS before and after it.
ADD_EFFECTS_SQL = f"""
WITH daily AS (SELECT date, track_id, sum(listeners) AS listeners FROM stats GROUP BY date, track_id),
added AS (SELECT DISTINCT playlist_id, track_id FROM adds WHERE change = 'added'),
windows AS (
  SELECT a.playlist_id, a.track_id,
         coalesce(sum(d.listeners) FILTER (WHERE d.date < $1::DATE), 0) / {EFFECT_DAYS} AS before,
         coalesce(sum(d.listeners) FILTER (WHERE d.date > $1::DATE), 0) / {EFFECT_DAYS} AS after
  FROM added a LEFT JOIN daily d ON d.track_id = a.track_id
       AND d.date BETWEEN $1::DATE - {EFFECT_DAYS} AND $1::DATE + {EFFECT_DAYS}
  GROUP BY a.playlist_id, a.track_id
)
SELECT $1::DATE AS added_on, playlist_id, track_id, round(before, 3)::DOUBLE AS listeners_per_day_before,
       round(after, 3)::DOUBLE AS listeners_per_day_after,
       CASE WHEN before > 0 THEN round(after / before - 1, 4) END::DOUBLE AS lift
FROM windows ORDER BY playlist_id, track_id
"""


def add_effects(adds: Relation, stats: Relation, added_on: object) -> pa.Table:
    """For each track added on `added_on`: mean daily listeners in the week before and the week after, and the lift
    (null when it had no listeners before: a lift from nothing is not a ratio)."""
    return sql_to_arrow(ADD_EFFECTS_SQL, {"adds": adds, "stats": stats}, [added_on])
