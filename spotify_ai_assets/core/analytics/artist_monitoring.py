"""Artist monitoring: new releases since the previous catalog snapshot, listening per watched artist, and the alerts
they raise. Pure SQL over lake tables; sending alerts is the caller's business (see `Alert.key` for idempotency).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

# With no previous snapshot (the first run), releases dated within this many days count as new.
FIRST_RUN_LOOKBACK_DAYS = 7

MONITORING_SCHEMA = pa.schema([
    ("date", pa.date32()), ("artist_id", pa.string()), ("artist_name", pa.string()), ("plays", pa.int64()),
    ("listeners", pa.int64()), ("new_releases", pa.int64()), ("new_release_names", pa.list_(pa.string())),
    ("trend", pa.string()), ("trend_z", pa.float64()),
])

# $1 = the day; `artists` and `albums` are today's catalog snapshot, `previous_albums` yesterday's (may be empty),
# `stats` the day's daily_artist_stats, `trends` the day's artist_trends.
MONITORING_SQL = f"""
WITH new_albums AS (
  SELECT a.artist_id, a.album_id, a.name, a.release_day FROM albums a
  WHERE a.album_id NOT IN (SELECT album_id FROM previous_albums)
    AND ((SELECT count(*) FROM previous_albums) > 0 OR a.release_day > $1::DATE - {FIRST_RUN_LOOKBACK_DAYS})
)
SELECT $1::DATE AS date, ar.artist_id, ar.name AS artist_name,
       coalesce(s.plays, 0)::BIGINT AS plays, coalesce(s.listeners, 0)::BIGINT AS listeners,
       count(n.album_id)::BIGINT AS new_releases,
       list(n.name ORDER BY n.release_day DESC, n.name) FILTER (WHERE n.album_id IS NOT NULL) AS new_release_names,
       any_value(t.trend) AS trend, any_value(t.z)::DOUBLE AS trend_z
FROM artists ar
LEFT JOIN stats s ON s.artist_id = ar.artist_id
LEFT JOIN new_albums n ON n.artist_id = ar.artist_id
LEFT JOIN trends t ON t.entity_id = ar.artist_id
GROUP BY ar.artist_id, ar.name, s.plays, s.listeners
ORDER BY ar.artist_id
"""


@dataclass(frozen=True)
class Alert:
    kind: str  # "release" or "breakout"
    day: str
    artist_id: str
    artist_name: str
    message: str

    @property
    def key(self) -> str:
        # One alert per kind, artist and day: a re-run of the day must not page anyone twice.
        return f"{self.kind}:{self.artist_id}:{self.day}"

    def as_dict(self) -> dict:
        return {**asdict(self), "key": self.key}


def monitor(day: dt.date, artists: Relation, albums: Relation, previous_albums: Relation, stats: Relation,
            trends: Relation) -> pa.Table:
    tables = {"artists": artists, "albums": albums, "previous_albums": previous_albums, "stats": stats,
              "trends": trends}
    return sql_to_arrow(MONITORING_SQL, tables, [day]).cast(MONITORING_SCHEMA)


def alerts_for(monitoring: pa.Table) -> list[Alert]:
    """A release alert per artist with new releases, a breakout alert per artist whose listening is rising."""
    out = []
    # Kleene OR: an artist with no trend (null) but a release must still pass.
    for row in monitoring.filter(pa.compute.or_kleene(pa.compute.greater(monitoring["new_releases"], 0),
                                                pa.compute.equal(monitoring["trend"], "rising"))).to_pylist():
        day = row["date"].isoformat()
        if row["new_releases"]:
            names = ", ".join(f"'{n}'" for n in row["new_release_names"])
            out.append(Alert("release", day, row["artist_id"], row["artist_name"],
                             f"{row['artist_name']} released {names}"))
        if row["trend"] == "rising":
            out.append(Alert("breakout", day, row["artist_id"], row["artist_name"],
                             f"{row['artist_name']} is rising: {row['listeners']} listeners today "
                             f"(z = {row['trend_z']:.1f} against the 28-day baseline)"))
    return out
