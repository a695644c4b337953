"""What each column means, shown beside its type in the UI's column schema of every table.

One glossary for the platform, because a column name means the same thing in every table that has it (a `track_id`
is a Spotify track id everywhere); a table whose column means something narrower says so in its contract's
`column_docs`, which take precedence. The daily, models and audio asset tests fail on a column written without a
description.
"""

from __future__ import annotations

COLUMN_DOCS: dict[str, str] = {
    # ---- identities and time -------------------------------------------------------------------------------------
    "date": "The day (UTC) this row describes: the table's partition.",
    "snapshot_date": "The day (UTC) the snapshot was taken: the table's partition.",
    "track_id": "Spotify track id (22 base-62 characters); open.spotify.com/track/<id>.",
    "track_ids": "Spotify track ids, in playing order.",
    "artist_id": "Spotify artist id (the track's primary artist where a track has several).",
    "album_id": "Spotify album id.",
    "playlist_id": "Spotify playlist id.",
    "entity_id": "The scored track's or artist's Spotify id (see the table's name).",
    "user_id": "The listener's Spotify user id: raw personal data, kept only in this table and its quarantine; "
               "erased on a GDPR request.",
    "user_key": "The listener's pseudonym (a keyed hash of the user id): no raw id leaves ingestion.",
    "owner_id": "Spotify user id of the playlist's owner (a public profile; `spotify` for editorial playlists).",
    "added_by": "Spotify user id of who added the track to the playlist (null when Spotify does not say).",
    "event_id": "Unique id of a listening event (from the export, or derived from user, track and time).",
    "isrc": "International Standard Recording Code of the recording.",
    # ---- catalog -------------------------------------------------------------------------------------------------
    "name": "Display name, as Spotify gives it.",
    "artist_name": "The artist's display name.",
    "track_name": "The track's display name.",
    "album_name": "The album's display name.",
    "playlist_name": "The playlist's display name.",
    "genres": "The artist's genres, as Spotify lists them.",
    "genre": "The primary genre (the first genre of the track's artist).",
    "followers": "The artist's follower count on the snapshot day.",
    "popularity": "Spotify's popularity score, 0-100 (relative, recomputed by Spotify daily).",
    "album_type": "album, single or compilation.",
    "album_group": "How the artist relates to the album: album, single, compilation or appears_on.",
    "release_date": "The release date as Spotify gives it (a year, a month or a day, see its precision).",
    "release_day": "The release date as a day (the first day of the year or month when Spotify gives less).",
    "total_tracks": "Number of tracks on the album.",
    "duration_ms": "The track's length in milliseconds.",
    "explicit": "Whether the track has explicit lyrics.",
    "track_number": "The track's position on its album (disc order).",
    # ---- playlists -----------------------------------------------------------------------------------------------
    "snapshot_id": "Spotify's version id of the playlist when it was read.",
    "previous_snapshot_id": "The playlist's version id the day before.",
    "position": "The track's position in the playlist (0-based).",
    "old_position": "Position the day before (null for an added track).",
    "new_position": "Position on the day (null for a removed track).",
    "added_at": "When the track was added to the playlist (UTC), as Spotify reports it.",
    "added_on": "The day the track was added to the playlist.",
    "change": "added, removed or moved, against the previous day's snapshot.",
    "listeners_per_day_before": "The track's mean daily unique listeners in the days before it was added.",
    "listeners_per_day_after": "The track's mean daily unique listeners in the days since it was added.",
    "lift": "listeners_per_day_after / listeners_per_day_before - 1: the playlist add's effect (0 = none; null when "
            "the track had no listeners before).",
    # ---- listening -----------------------------------------------------------------------------------------------
    "played_at": "When the play started (UTC).",
    "ms_played": "Milliseconds listened (summed in aggregates).",
    "skipped": "Whether the listener skipped the track (null when the source does not say, e.g. recently-played).",
    "country": "ISO 3166-1 alpha-2 country of the listener on that day.",
    "device": "Device type the play came from (as the export names it).",
    "source": "Where the row came from: export or recently_played (listening events); model or "
              "popularity_fallback (recommendations).",
    "plays": "Number of plays on the day.",
    "listeners": "Distinct listeners on the day.",
    "skip_rate": "Share of plays skipped, among plays whose skip flag is known (0-1).",
    "tracks_played": "Distinct tracks of the artist played on the day.",
    "minutes": "Minutes listened on the day.",
    "sessions": "Listening sessions on the day: more than 30 minutes between the end of a play and the next start a "
                "new one.",
    # ---- trends and insights -------------------------------------------------------------------------------------
    "expected": "Listeners expected on the day from the entity's own trailing baseline share of the platform.",
    "z": "Evidence of the change: (observed - expected) / its standard deviation (see core/analytics/trends.py).",
    "ratio": "(observed + 1) / (expected + 1).",
    "history_days": "Days between the entity's first appearance in the baseline window and the scored day.",
    "trend": "rising, falling, emerging or release (artists), null when nothing stands out.",
    "trend_z": "The artist's trend score on the day (see artist_trends).",
    "new_releases": "Albums or singles of the artist first seen on the day.",
    "new_release_names": "Names of those releases, newest first.",
    "text": "The insight, written in the language of the artist's audience.",
    "language": "Language of the text (en, fr, de, ...), chosen from the country of the artist's biggest audience.",
    "facts": "The figures the text states, as JSON, so each one can be traced to the lake.",
    "description": "A one-line description of the playlist, written for its listener.",
    # ---- model features and recommendations ----------------------------------------------------------------------
    "cutoff": "The features use plays before this day only (the day itself excluded, so nothing later leaks in).",
    "plays_1d": "Plays on the day before the cutoff.",
    "plays_3d": "Plays over the 3 days before the cutoff.",
    "plays_7d": "Plays over the 7 days before the cutoff.",
    "plays_28d": "Plays over the 28 days before the cutoff.",
    "plays_prev_7d": "Plays over the 7 days before the last 7.",
    "plays_w3": "Plays in the third week back from the cutoff.",
    "plays_w4": "Plays in the fourth week back from the cutoff.",
    "listeners_7d": "Distinct listeners over the 7 days before the cutoff.",
    "listeners_28d": "Distinct listeners over the 28 days before the cutoff.",
    "artist_plays_1d": "The track's artist's plays on the day before the cutoff.",
    "artist_plays_3d": "The track's artist's plays over the 3 days before the cutoff.",
    "artist_plays_7d": "The track's artist's plays over the 7 days before the cutoff.",
    "artist_trend_7d": "(The artist's plays over the last 7 days + 1) / (its plays over the 7 before + 1).",
    "trend_7d": "(plays_7d + 1) / (plays_prev_7d + 1).",
    "days_since_first_play": "Days since the track's first play on the platform.",
    "has_audio": "Whether the track has audio features.",
    "user_active_days": "Days the listener played anything in the last 28.",
    "user_distinct_tracks": "Distinct tracks the listener played in the last 28 days.",
    "user_distinct_artists": "Distinct artists the listener played in the last 28 days.",
    "user_plays_7d": "The listener's plays over 7 days.",
    "user_plays_28d": "The listener's plays over 28 days.",
    "user_skip_rate": "The listener's share of skipped plays over 28 days.",
    "top_genre": "The genre the listener played most over 28 days.",
    "top_genre_share": "That genre's share of the listener's plays.",
    "genre_mix": "The listener's plays per genre over 28 days (shares).",
    "genre_share": "The candidate track's genre's share of the listener's plays.",
    "artist_share": "The candidate track's artist's share of the listener's plays.",
    "taste_tempo": "Mean tempo of the listener's plays that were not skipped (BPM).",
    "taste_energy": "Mean energy score of the listener's plays that were not skipped (0-1).",
    "taste_valence": "Mean valence of the listener's plays that were not skipped (0-1).",
    "audio_coverage": "Share of the listener's plays whose track has audio features.",
    "audio_distance": "Distance between the track's audio features and the listener's taste (0 = same).",
    "cf_score": "The listener's affinity for the track's artist: their play shares weighted by artist similarity "
                "(co-listening).",
    "cf_prior": "cf_score x the track's plays over 28 days: how collaborative-filtering candidates are pre-ranked.",
    "from_cf": "1 when the candidate came from co-listening (similar artists), else 0.",
    "from_genre": "1 when the candidate is popular in the listener's genres, else 0.",
    "from_pop": "1 when the candidate is among the most played tracks overall, else 0.",
    "rank": "Position in the listener's list (1 = first).",
    "score": "The ranker's score (higher ranks first); plays over 28 days for the popularity fallback.",
    "why": "The features that moved this recommendation most, with their contributions (SHAP values).",
    "model_sha256": "SHA-256 of the model file that ranked the list: which version served it.",
    # ---- audio features used by the models (the audio_features table describes all of its own columns from the
    # table in core/audio/features.py's docstring)
    "tempo_bpm": "The track's tempo (BPM), from audio_features.",
    "loudness_dbfs": "The track's RMS level (dBFS), from audio_features.",
    "danceability": "The track's danceability heuristic (0-1), from audio_features.",
    "energy_score": "The track's energy heuristic (0-1), from audio_features.",
    "valence": "The track's valence heuristic (0-1), from audio_features.",
}


def describe(column: str, overrides: dict[str, str] | None = None) -> str | None:
    """The description of `column`: the table's own (`overrides`) if it has one, else the glossary's."""
    if overrides and column in overrides:
        return overrides[column]
    return COLUMN_DOCS.get(column)
