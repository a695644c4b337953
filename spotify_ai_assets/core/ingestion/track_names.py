"""Names for the tracks people see in the day's reports that the watchlist's catalog does not hold.

The catalog crawl covers the watched artists only, but the platform's top tracks and its rising ones can be anyone's.
So that reports name them (a music team does not forward a list of ids), the day's most played tracks and its
flagged ones that are not in the catalog snapshot are looked up one by one (GET /tracks/{id}; the several-tracks
endpoint is deprecated in the 2026 spec and refused to development-mode apps, which `SpotifyGateway.tracks` handles)
with their first artist's and their album's names, which a track object carries. A track that cannot be read or
whose record is malformed is quarantined with its reason; the others land.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow
from spotify_ai_assets.core.kernel.records import Quarantined, parse_track_names, quarantine_table, validate
from spotify_ai_assets.core.kernel.spotify_api import SpotifyGateway

TOP_TRACKS = 50  # the most played tracks of the day whose names reports may show (they show at most the top 10)

NAMES_SCHEMA = pa.schema([
    ("date", pa.date32()), ("track_id", pa.string()), ("track_name", pa.string()), ("artist_id", pa.string()),
    ("artist_name", pa.string()), ("album_id", pa.string()), ("album_name", pa.string()),
])

# `stats` the day's daily_track_country_stats, `trends` its track_trends (flagged tracks only), `catalog` the day's
# spotify_tracks; $1 the number of top tracks.
WANTED_SQL = """
WITH top AS (
  SELECT track_id FROM stats GROUP BY track_id ORDER BY sum(plays) DESC, track_id LIMIT $1
),
wanted AS (SELECT track_id FROM top UNION SELECT entity_id FROM trends)
SELECT track_id FROM wanted WHERE track_id NOT IN (SELECT track_id FROM catalog) ORDER BY track_id
"""


def wanted_tracks(stats: Relation, trends: Relation | None, catalog: Relation | None,
                  top: int = TOP_TRACKS) -> list[str]:
    """The day's top `top` tracks and its flagged ones that the catalog does not name (None: a day without trends, or
    without a catalog snapshot)."""
    none = pa.table({"id": pa.array([], pa.string())})
    rows = sql_to_arrow(WANTED_SQL, {"stats": stats,
                                     "trends": trends if trends is not None else none.rename_columns(["entity_id"]),
                                     "catalog": catalog if catalog is not None else none.rename_columns(["track_id"])},
                        [top])
    return rows["track_id"].to_pylist()


@dataclass(frozen=True)
class TrackNames:
    names: pa.Table       # NAMES_SCHEMA
    quarantine: pa.Table  # QUARANTINE_SCHEMA: tracks that could not be read or parsed
    asked: int


def look_up(gw: SpotifyGateway, track_ids: list[str], day: dt.date) -> TrackNames:
    """Read each track (a failure is quarantined, never fatal; a run-wide failure such as a long 429 propagates)."""
    found, failed = gw.tracks(track_ids)
    bad = [Quarantined.of("spotify_track_names", f"track {tid}", "<request>", reason, {"track_id": tid})
           for tid, reason in failed.items()]
    rows = [row for tid in track_ids if tid in found
            if (row := validate("spotify_track_names", f"track {tid}", found[tid], parse_track_names, day,
                                        quarantine=bad))]
    return TrackNames(pa.Table.from_pylist(rows, schema=NAMES_SCHEMA), quarantine_table(bad), len(track_ids))
