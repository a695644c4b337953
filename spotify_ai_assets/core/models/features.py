"""Feature tables in DuckDB SQL: track, user and user-track (candidate) features as of a cutoff day.

Time-correct: every query reads plays with `cutoff - HISTORY_DAYS <= played_at < cutoff` only, whatever partitions
it is handed, so a late or misfiled future play can never leak into a feature. Audio features describe the
recording (not listening) and are used whatever day they were extracted; the catalog is the snapshot taken before
the cutoff.

Candidate generation (one row per user and candidate track, already-played tracks excluded):

- **Co-listening** (`from_cf`): artists are similar when the same users split their listening between them
  (cosine over users' play shares on their top `TOP_ARTISTS` artists). A user's affinity for an artist is their
  share-weighted similarity to it (`cf_score`); the top `CF_ARTISTS` artists per user contribute their tracks,
  ranked by `cf_score x plays` (`cf_prior`), best `K_CF` kept.
- **Popular in the user's genres** (`from_genre`): for each catalog genre making up at least `MIN_GENRE_SHARE` of
  the user's plays, its `K_GENRE` most played tracks.
- **Popular** (`from_pop`): the `K_POP` most played tracks overall, so the ranker always sees what the popularity
  baseline would recommend and can only add to it.
- **Taste similarity** on audio (`audio_distance`: tempo, energy and valence of the track against the mean of the
  user's completed plays) is a ranking feature, not a source: most tracks have no analysed audio.

Floating-point sums are rounded (to 1e-10 or finer): DuckDB adds in parallel, in no fixed order, and the last bits
would otherwise differ between runs and break "same data, same model".

Fallbacks: a track without analysed audio (or a user with no analysed plays) gets NULL audio features (LightGBM
treats them as missing, and `has_audio` says so); a track outside the catalog snapshot gets a NULL genre and
`genre_share`. A user with fewer than `MIN_USER_PLAYS` plays in the window gets no personal candidates: the serving
layer gives them the popularity list, flagged as such.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, connect, sql_to_arrow

HISTORY_DAYS = 28
HORIZON_DAYS = 7
MIN_USER_PLAYS = 5
TOP_ARTISTS = 30
CF_ARTISTS = 20
K_CF = 150
K_GENRE = 30
MIN_GENRE_SHARE = 0.2
K_POP = 50

AUDIO_COLUMNS = ("tempo_bpm", "energy_score", "danceability", "valence", "loudness_dbfs")
TRACK_FEATURES = ("plays_7d", "plays_28d", "listeners_28d", "skip_rate", "trend_7d", "days_since_first_play",
                  *AUDIO_COLUMNS)
USER_FEATURES = ("user_plays_28d", "user_active_days", "user_distinct_tracks", "user_skip_rate")
INTERACTION_FEATURES = ("cf_score", "cf_prior", "artist_share", "genre_share", "audio_distance", "from_pop",
                        "from_genre")
RANKER_FEATURES = (*TRACK_FEATURES, *USER_FEATURES, *INTERACTION_FEATURES)

# Schemas, not tables: building an empty table imports pandas, which loading the definitions must not pay for.
AUDIO_SCHEMA = pa.schema([("track_id", pa.string()), *[(c, pa.float64()) for c in AUDIO_COLUMNS]])
CATALOG_SCHEMA = pa.schema([("track_id", pa.string()), ("genre", pa.string())])


class FeatureError(ValueError):
    """The input cannot give features for the cutoff (no plays in the window), named in the message."""


def _window(cutoff_param: str = "$1") -> str:
    return (f"SELECT user_key, track_id, artist_id, played_at::DATE AS d, skipped FROM events "
            f"WHERE played_at >= ({cutoff_param}::DATE - {HISTORY_DAYS})::TIMESTAMPTZ "
            f"AND played_at < {cutoff_param}::DATE::TIMESTAMPTZ")


TRACK_SQL = f"""
WITH ev AS ({_window()}),
t AS (
  SELECT track_id, min(artist_id) AS artist_id,
         count(*) FILTER (WHERE d >= $1::DATE - 1) AS plays_1d,
         count(*) FILTER (WHERE d >= $1::DATE - 3) AS plays_3d,
         count(*) FILTER (WHERE d >= $1::DATE - 7) AS plays_7d,
         count(*) FILTER (WHERE d >= $1::DATE - 14 AND d < $1::DATE - 7) AS plays_prev_7d,
         count(*) FILTER (WHERE d >= $1::DATE - 21 AND d < $1::DATE - 14) AS plays_w3,
         count(*) FILTER (WHERE d < $1::DATE - 21) AS plays_w4,
         count(*) AS plays_28d,
         count(DISTINCT user_key) FILTER (WHERE d >= $1::DATE - 7) AS listeners_7d,
         count(DISTINCT user_key) AS listeners_28d,
         avg(skipped::INT) AS skip_rate,
         $1::DATE - min(d) AS days_since_first_play
  FROM ev GROUP BY track_id
),
-- The artist's own recent course: a rising artist lifts all its tracks, a new hit of a neighbour takes share.
ar AS (
  SELECT artist_id, count(*) FILTER (WHERE d >= $1::DATE - 1) AS a1, count(*) FILTER (WHERE d >= $1::DATE - 3) AS a3,
         count(*) FILTER (WHERE d >= $1::DATE - 7) AS a7,
         count(*) FILTER (WHERE d >= $1::DATE - 14 AND d < $1::DATE - 7) AS a14
  FROM ev GROUP BY artist_id
)
SELECT $1::DATE AS cutoff, t.track_id, t.artist_id, c.genre,
       t.plays_1d::BIGINT AS plays_1d, t.plays_3d::BIGINT AS plays_3d,
       ar.a1::BIGINT AS artist_plays_1d, ar.a3::BIGINT AS artist_plays_3d, ar.a7::BIGINT AS artist_plays_7d,
       ((ar.a7 + 1.0) / (ar.a14 + 1.0))::DOUBLE AS artist_trend_7d,
       t.plays_7d::BIGINT AS plays_7d, t.plays_prev_7d::BIGINT AS plays_prev_7d, t.plays_w3::BIGINT AS plays_w3,
       t.plays_w4::BIGINT AS plays_w4, t.plays_28d::BIGINT AS plays_28d, t.listeners_7d::BIGINT AS listeners_7d,
       t.listeners_28d::BIGINT AS listeners_28d, t.skip_rate::DOUBLE AS skip_rate,
       ((t.plays_7d + 1.0) / (t.plays_prev_7d + 1.0))::DOUBLE AS trend_7d,
       t.days_since_first_play::BIGINT AS days_since_first_play,
       {", ".join(f"a.{c}::DOUBLE AS {c}" for c in AUDIO_COLUMNS)},
       (a.track_id IS NOT NULL) AS has_audio
FROM t JOIN ar USING (artist_id)
LEFT JOIN (SELECT track_id, {", ".join(f"any_value({c}) AS {c}" for c in AUDIO_COLUMNS)}
           FROM audio GROUP BY track_id) a ON a.track_id = t.track_id
LEFT JOIN (SELECT track_id, min(genre) AS genre FROM catalog GROUP BY track_id) c ON c.track_id = t.track_id
ORDER BY t.track_id
"""

USER_SQL = f"""
WITH ev AS ({_window()}),
j AS (SELECT ev.*, tf.genre, tf.tempo_bpm, tf.energy_score, tf.valence FROM ev JOIN tf USING (track_id)),
mix AS (
  SELECT user_key, genre, count(*) / sum(count(*)) OVER (PARTITION BY user_key) AS share
  FROM j WHERE genre IS NOT NULL GROUP BY user_key, genre
),
g AS (SELECT * FROM mix QUALIFY row_number() OVER (PARTITION BY user_key ORDER BY share DESC, genre) = 1),
-- The whole mix: each genre's share of the user's plays of tracks with a known genre.
gm AS (
  SELECT user_key, map_from_entries(list({{'k': genre, 'v': round(share, 9)}} ORDER BY genre)) AS genre_mix
  FROM mix GROUP BY user_key
)
SELECT $1::DATE AS cutoff, j.user_key,
       count(*)::BIGINT AS user_plays_28d,
       count(*) FILTER (WHERE d >= $1::DATE - 7)::BIGINT AS user_plays_7d,
       count(DISTINCT d)::BIGINT AS user_active_days,
       count(DISTINCT track_id)::BIGINT AS user_distinct_tracks,
       count(DISTINCT artist_id)::BIGINT AS user_distinct_artists,
       avg(skipped::INT)::DOUBLE AS user_skip_rate,
       round(avg(tempo_bpm) FILTER (WHERE NOT skipped), 9)::DOUBLE AS taste_tempo,
       round(avg(energy_score) FILTER (WHERE NOT skipped), 9)::DOUBLE AS taste_energy,
       round(avg(valence) FILTER (WHERE NOT skipped), 9)::DOUBLE AS taste_valence,
       avg((tempo_bpm IS NOT NULL)::INT)::DOUBLE AS audio_coverage,
       any_value(g.genre) AS top_genre, any_value(g.share)::DOUBLE AS top_genre_share,
       any_value(gm.genre_mix) AS genre_mix
FROM j LEFT JOIN g USING (user_key) LEFT JOIN gm USING (user_key)
GROUP BY j.user_key ORDER BY j.user_key
"""

CANDIDATE_SQL = f"""
WITH ev AS ({_window()}),
-- `$2` false lets already-played tracks through (a serving option; training always excludes them).
played AS (SELECT DISTINCT user_key, track_id FROM ev WHERE $2),
ua_all AS (SELECT user_key, artist_id, count(*)::DOUBLE AS n FROM ev GROUP BY user_key, artist_id),
ut AS (SELECT user_key, sum(n) AS tot FROM ua_all GROUP BY user_key),
eligible AS (SELECT user_key FROM ut WHERE tot >= {MIN_USER_PLAYS}),
share AS (SELECT a.user_key, a.artist_id, a.n / ut.tot AS share FROM ua_all a JOIN ut USING (user_key)),
ua AS (
  SELECT s.* FROM share s JOIN eligible USING (user_key)
  QUALIFY row_number() OVER (PARTITION BY user_key ORDER BY share DESC, artist_id) <= {TOP_ARTISTS}
),
an AS (SELECT artist_id, round(sqrt(sum(share * share)), 12) AS norm FROM ua GROUP BY artist_id),
sim AS (
  SELECT x.artist_id AS a1, y.artist_id AS a2, round(sum(x.share * y.share), 12) AS dot
  FROM ua x JOIN ua y USING (user_key) GROUP BY x.artist_id, y.artist_id
),
simn AS (
  SELECT a1, a2, round(dot / (n1.norm * n2.norm), 12) AS s FROM sim
  JOIN an n1 ON n1.artist_id = a1 JOIN an n2 ON n2.artist_id = a2
),
cf_all AS (
  SELECT ua.user_key, simn.a2 AS artist_id, round(sum(ua.share * simn.s), 10) AS cf_score
  FROM ua JOIN simn ON simn.a1 = ua.artist_id GROUP BY ua.user_key, simn.a2
),
cf_top AS (
  SELECT * FROM cf_all
  QUALIFY row_number() OVER (PARTITION BY user_key ORDER BY cf_score DESC, artist_id) <= {CF_ARTISTS}
),
cand_cf AS (
  SELECT c.user_key, t.track_id FROM cf_top c JOIN tf t ON t.artist_id = c.artist_id
  ANTI JOIN played p ON p.user_key = c.user_key AND p.track_id = t.track_id
  QUALIFY row_number() OVER (PARTITION BY c.user_key ORDER BY c.cf_score * t.plays_28d DESC, t.track_id) <= {K_CF}
),
ug AS (
  SELECT ev.user_key, tf.genre, count(*) / sum(count(*)) OVER (PARTITION BY ev.user_key) AS share
  FROM ev JOIN tf USING (track_id) WHERE tf.genre IS NOT NULL GROUP BY ev.user_key, tf.genre
),
genre_top AS (
  SELECT genre, track_id FROM tf WHERE genre IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY genre ORDER BY plays_28d DESC, track_id) <= {K_GENRE}
),
cand_genre AS (
  SELECT ug.user_key, g.track_id FROM ug JOIN eligible USING (user_key) JOIN genre_top g USING (genre)
  ANTI JOIN played p ON p.user_key = ug.user_key AND p.track_id = g.track_id
  WHERE ug.share >= {MIN_GENRE_SHARE}
),
pop AS (SELECT track_id FROM tf ORDER BY plays_28d DESC, track_id LIMIT {K_POP}),
cand_pop AS (
  SELECT e.user_key, pop.track_id FROM eligible e CROSS JOIN pop
  ANTI JOIN played p ON p.user_key = e.user_key AND p.track_id = pop.track_id
),
cand AS (
  SELECT user_key, track_id, bool_or(src = 'cf') AS from_cf, bool_or(src = 'genre') AS from_genre,
         bool_or(src = 'pop') AS from_pop
  FROM (SELECT *, 'cf' AS src FROM cand_cf UNION ALL SELECT *, 'genre' FROM cand_genre
        UNION ALL SELECT *, 'pop' FROM cand_pop)
  GROUP BY user_key, track_id
)
SELECT $1::DATE AS cutoff, c.user_key, c.track_id, t.artist_id,
       {", ".join(f"t.{f}" for f in TRACK_FEATURES)},
       {", ".join(f"u.{f}" for f in USER_FEATURES)},
       coalesce(cf.cf_score, 0)::DOUBLE AS cf_score,
       (coalesce(cf.cf_score, 0) * t.plays_28d)::DOUBLE AS cf_prior,
       coalesce(s.share, 0)::DOUBLE AS artist_share,
       CASE WHEN t.genre IS NULL OR NOT EXISTS (SELECT 1 FROM ug WHERE ug.user_key = c.user_key) THEN NULL
            ELSE coalesce(ug.share, 0) END::DOUBLE AS genre_share,
       sqrt(power((t.tempo_bpm - u.taste_tempo) / 50.0, 2) + power(t.energy_score - u.taste_energy, 2)
            + power(t.valence - u.taste_valence, 2))::DOUBLE AS audio_distance,
       c.from_pop::INT AS from_pop, c.from_genre::INT AS from_genre, c.from_cf::INT AS from_cf,
       t.has_audio
FROM cand c
JOIN tf t USING (track_id)
JOIN uf u ON u.user_key = c.user_key
LEFT JOIN cf_all cf ON cf.user_key = c.user_key AND cf.artist_id = t.artist_id
LEFT JOIN share s ON s.user_key = c.user_key AND s.artist_id = t.artist_id
LEFT JOIN ug ON ug.user_key = c.user_key AND ug.genre = t.genre
ORDER BY c.user_key, c.track_id
"""

LABEL_SQL = f"""
SELECT DISTINCT user_key, track_id FROM events
WHERE played_at >= $1::DATE::TIMESTAMPTZ AND played_at < ($1::DATE + {HORIZON_DAYS})::TIMESTAMPTZ
ORDER BY user_key, track_id
"""

TARGET_SQL = f"""
SELECT track_id, count(*)::BIGINT AS plays_next_7d FROM events
WHERE played_at >= $1::DATE::TIMESTAMPTZ AND played_at < ($1::DATE + {HORIZON_DAYS})::TIMESTAMPTZ
GROUP BY track_id ORDER BY track_id
"""

PLAYED_SQL = f"SELECT DISTINCT user_key, track_id FROM ({_window()}) ORDER BY user_key, track_id"


def track_features(events: Relation, cutoff: dt.date, audio: Relation | None = None,
                   catalog: Relation | None = None) -> pa.Table:
    """One row per track played in the `HISTORY_DAYS` before `cutoff`: engagement, trend, age and audio."""
    out = sql_to_arrow(TRACK_SQL, {"events": events,
                                   "audio": audio if audio is not None else AUDIO_SCHEMA.empty_table(),
                                   "catalog": catalog if catalog is not None else CATALOG_SCHEMA.empty_table()},
                       [cutoff])
    if out.num_rows == 0:
        raise FeatureError(f"no plays in listening_events between {cutoff - dt.timedelta(days=HISTORY_DAYS)} and "
                           f"{cutoff - dt.timedelta(days=1)}: no features can be computed for cutoff {cutoff}")
    return out


def user_features(events: Relation, tracks: pa.Table, cutoff: dt.date) -> pa.Table:
    """One row per user who played in the window: activity, skip rate, audio taste profile, genre mix (a map of
    genre -> share of plays, over tracks whose genre the catalog knows) and its top genre."""
    return sql_to_arrow(USER_SQL, {"events": events, "tf": tracks}, [cutoff])


def candidates(events: Relation, tracks: pa.Table, users: pa.Table, cutoff: dt.date,
               exclude_played: bool = True) -> pa.Table:
    """Candidate (user, track) rows with every ranker feature; tracks the user played in the window are excluded
    unless `exclude_played` is False."""
    con = connect()
    try:
        return sql_to_arrow(CANDIDATE_SQL, {"events": events, "tf": tracks, "uf": users}, [cutoff, exclude_played],
                            con=con)
    finally:
        con.close()


def labels(events: Relation, cutoff: dt.date) -> pa.Table:
    """(user_key, track_id) pairs played in the `HORIZON_DAYS` from `cutoff` on: the ranker's relevant items."""
    return sql_to_arrow(LABEL_SQL, {"events": events}, [cutoff])


def targets(events: Relation, cutoff: dt.date) -> pa.Table:
    """Plays per track in the `HORIZON_DAYS` from `cutoff` on: the forecaster's target."""
    return sql_to_arrow(TARGET_SQL, {"events": events}, [cutoff])


def played(events: Relation, cutoff: dt.date) -> pa.Table:
    """(user_key, track_id) pairs played in the window before `cutoff` (what recommendations exclude)."""
    return sql_to_arrow(PLAYED_SQL, {"events": events}, [cutoff])


@dataclass(frozen=True)
class CutoffFeatures:
    cutoff: dt.date
    tracks: pa.Table
    users: pa.Table
    candidates: pa.Table


def build(events: Relation, cutoff: dt.date, audio: Relation | None = None,
          catalog: Relation | None = None) -> CutoffFeatures:
    """The three feature tables for one cutoff, computed the way the feature assets compute them."""
    tracks = track_features(events, cutoff, audio, catalog)
    users = user_features(events, tracks, cutoff)
    return CutoffFeatures(cutoff, tracks, users, candidates(events, tracks, users, cutoff))


def window_days(cutoff: dt.date, horizon: bool = False) -> list[dt.date]:
    """The days whose event partitions a cutoff reads: the history window, or with `horizon` the label days."""
    if horizon:
        return [cutoff + dt.timedelta(days=k) for k in range(HORIZON_DAYS)]
    return [cutoff - dt.timedelta(days=k) for k in range(HISTORY_DAYS, 0, -1)]
