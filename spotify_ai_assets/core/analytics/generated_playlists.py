"""Descriptions for generated playlists, from their tracks' genres, tempo and mood, in English, French or German.

Mood comes from the audio features' valence and energy heuristics (see audio/features.py): both above 0.55 is
"upbeat", both below 0.45 "mellow", otherwise "balanced". Genres are the two most common among the tracks; tempo is
the median of the tracks that have one. Parts without data are left out rather than guessed.
"""

from __future__ import annotations

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

FACTS_SQL = """
SELECT count(*)::BIGINT AS tracks,
       (SELECT list(genre ORDER BY n DESC, genre)[1:2]
        FROM (SELECT genre, count(*) AS n FROM p WHERE genre IS NOT NULL GROUP BY genre)) AS genres,
       round(median(tempo_bpm))::BIGINT AS median_bpm,
       CASE WHEN avg(valence) > 0.55 AND avg(energy_score) > 0.55 THEN 'upbeat'
            WHEN avg(valence) < 0.45 AND avg(energy_score) < 0.45 THEN 'mellow'
            WHEN count(valence) > 0 THEN 'balanced' END AS mood
FROM p
"""

_WORDS = {
    "en": {"track": "1 track", "tracks": "{n} tracks",
           "genres": ", mostly {g}", "and": " and ", "bpm": ", around {bpm} BPM",
           "upbeat": ", upbeat", "mellow": ", mellow", "balanced": ", balanced in mood"},
    "fr": {"track": "1 titre", "tracks": "{n} titres",
           "genres": ", surtout {g}", "and": " et ", "bpm": ", autour de {bpm} BPM",
           "upbeat": ", entraînant", "mellow": ", tout en douceur", "balanced": ", à l'humeur équilibrée"},
    "de": {"track": "1 Titel", "tracks": "{n} Titel",
           "genres": ", vor allem {g}", "and": " und ", "bpm": ", um die {bpm} BPM",
           "upbeat": ", mitreißend", "mellow": ", entspannt", "balanced": ", ausgewogen in der Stimmung"},
}


def playlist_facts(tracks: Relation) -> dict:
    """`tracks` has one row per track: genre, tempo_bpm, valence, energy_score (any may be null)."""
    return sql_to_arrow(FACTS_SQL, {"p": tracks}).to_pylist()[0]


def describe(title: str, facts: dict, language: str = "en") -> str:
    w = _WORDS[language]
    text = f"{title}: " + (w["track"] if facts["tracks"] == 1 else w["tracks"].format(n=facts["tracks"]))
    if facts["genres"]:
        text += w["genres"].format(g=w["and"].join(facts["genres"]))
    if facts["median_bpm"] is not None:
        text += w["bpm"].format(bpm=facts["median_bpm"])
    if facts["mood"]:
        text += w[facts["mood"]]
    return text + "."


TRACKS_SCHEMA = pa.schema([("genre", pa.string()), ("tempo_bpm", pa.float64()), ("valence", pa.float64()),
                           ("energy_score", pa.float64())])
