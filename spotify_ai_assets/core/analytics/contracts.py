"""Contracts of the analytics tables: each table's key, required columns and value bounds."""

from __future__ import annotations

from spotify_ai_assets.core.analytics.trends import BASELINE_DAYS
from spotify_ai_assets.core.quality.table_contract import TableContract

DAILY_TRACK_COUNTRY = TableContract("daily_track_country_stats", ("date", "track_id", "country"),
                                    ("date", "track_id", "country", "plays", "listeners"),
                                    {"plays": (1, None), "listeners": (1, None), "skip_rate": (0, 1),
                                     "ms_played": (0, None)})
DAILY_ARTIST = TableContract("daily_artist_stats", ("date", "artist_id"), ("date", "artist_id", "plays", "listeners"),
                             {"plays": (1, None), "listeners": (1, None), "skip_rate": (0, 1)})
DAILY_USER = TableContract("daily_user_stats", ("date", "user_key"), ("date", "user_key", "sessions", "minutes"),
                           {"sessions": (1, None), "minutes": (0, 24 * 60 * 4)})


def trends(name: str) -> TableContract:
    """The contract of a trends table (`track_trends`, `artist_trends`): only flagged entities are stored, so its
    size follows the day's news, not the previous day's."""
    return TableContract(name, ("date", "entity_id"), ("date", "entity_id", "plays", "trend"),
                         {"plays": (0, None), "expected": (0, None), "history_days": (0, BASELINE_DAYS)},
                         min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True,
                         column_docs={"plays": "Unique listeners on the scored day (the count the trend is scored on).",
                                      "expected": "Unique listeners expected on the day from the entity's own "
                                                  f"trailing {BASELINE_DAYS}-day share of the platform."})


PLAYLIST_CHANGES = TableContract("playlist_changes",
                                 ("playlist_id", "change", "track_id", "old_position", "new_position"),
                                 ("snapshot_date", "playlist_id", "change", "track_id", "snapshot_id"),
                                 {"old_position": (0, 10_000), "new_position": (0, 10_000)},
                                 min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True)
PLAYLIST_ADD_EFFECTS = TableContract("playlist_add_effects", ("added_on", "playlist_id", "track_id"),
                                     ("added_on", "playlist_id", "track_id"),
                                     {"listeners_per_day_before": (0, None), "listeners_per_day_after": (0, None)},
                                     min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True)
ARTIST_INSIGHTS = TableContract("artist_insights", ("date", "artist_id"),
                                ("date", "artist_id", "track_id", "language", "text", "facts"),
                                min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True)
GENERATED_PLAYLISTS = TableContract("generated_playlists", ("date", "name", "language"),
                                    ("date", "name", "language", "description"),
                                    min_ratio=0.0, max_ratio=float("inf"), may_be_empty=True)
ARTIST_MONITORING = TableContract("artist_monitoring", ("date", "artist_id"),
                                  ("date", "artist_id", "plays", "listeners", "new_releases"),
                                  {"plays": (0, None), "listeners": (0, None), "new_releases": (0, None)},
                                  column_docs={"trend": "The artist's label in artist_trends on the day, if any."})
