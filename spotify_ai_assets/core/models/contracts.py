"""Contracts of the model tables: each table's key, required columns and value bounds."""

from __future__ import annotations

from spotify_ai_assets.core.ingestion.contracts import DAY_MS
from spotify_ai_assets.core.models.features import HISTORY_DAYS
from spotify_ai_assets.core.quality.table_contract import TableContract

MAX_RECOMMENDATIONS = 100

PSEUDONYMOUS_EVENTS = TableContract("pseudonymous_events", ("user_key", "track_id", "played_at"),
                                    ("user_key", "track_id", "played_at"), {"ms_played": (0, DAY_MS)})
TRACK_FEATURES = TableContract("track_features", ("track_id",), ("cutoff", "track_id", "artist_id", "plays_28d"),
                               {"plays_28d": (1, None), "skip_rate": (0, 1),
                                "days_since_first_play": (1, HISTORY_DAYS)})
USER_FEATURES = TableContract("user_features", ("user_key",), ("cutoff", "user_key", "user_plays_28d"),
                              {"user_plays_28d": (1, None), "user_skip_rate": (0, 1), "top_genre_share": (0, 1)})
USER_TRACK_FEATURES = TableContract("user_track_features", ("user_key", "track_id"),
                                    ("cutoff", "user_key", "track_id", "cf_score"),
                                    {"artist_share": (0, 1), "genre_share": (0, 1), "cf_score": (0, None)})
RECOMMENDATIONS = TableContract("recommendations", ("user_key", "rank"),
                                ("user_key", "track_id", "rank", "score", "source"), {"rank": (1, MAX_RECOMMENDATIONS)})
