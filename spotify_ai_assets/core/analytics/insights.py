"""Short insights per artist, written from the data with templates in English, French and German.

Every number in a sentence comes from `facts`, and every fact is a value computed by `FACTS_SQL` from the lake, so
a test (or a reader) can trace each figure back to the table. The language follows the artist's audience: the
country with the most plays this week picks French (FR, and BE/CH/CA only if first), German (DE, AT), else English.
"""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa

from spotify_ai_assets.core.kernel.query import Relation, sql_to_arrow

MIN_PREVIOUS_PLAYS = 10
LANGUAGES = ("en", "fr", "de")
_COUNTRY_LANGUAGE = {"FR": "fr", "BE": "fr", "CH": "fr", "CA": "fr", "DE": "de", "AT": "de"}

INSIGHTS_SCHEMA = pa.schema([
    ("date", pa.date32()), ("artist_id", pa.string()), ("track_id", pa.string()), ("language", pa.string()),
    ("text", pa.string()), ("facts", pa.string()),
])

# $1 = the last day of "this week" (the 7 days ending on it); the previous week is the 7 days before.
FACTS_SQL = f"""
WITH w AS (
  SELECT *, CASE WHEN date > $1::DATE - 7 THEN 'this' ELSE 'prev' END AS week
  FROM stats WHERE date > $1::DATE - 14 AND date <= $1::DATE
),
track AS (
  SELECT artist_id, track_id,
         sum(plays) FILTER (WHERE week = 'this') AS this_plays, sum(plays) FILTER (WHERE week = 'prev') AS prev_plays,
         sum(skip_rate * plays) FILTER (WHERE week = 'this') / sum(plays) FILTER (WHERE week = 'this') AS skip
  FROM w GROUP BY artist_id, track_id
),
artist AS (
  SELECT artist_id, sum(skip_rate * plays) / sum(plays) AS catalog_skip
  FROM w WHERE week = 'this' GROUP BY artist_id
),
best AS (
  SELECT * FROM track WHERE prev_plays >= {MIN_PREVIOUS_PLAYS} AND this_plays IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY artist_id ORDER BY this_plays - prev_plays DESC, track_id) = 1
),
country AS (
  SELECT w.artist_id, w.track_id, w.country,
         coalesce(sum(plays) FILTER (WHERE week = 'this'), 0) - coalesce(sum(plays) FILTER (WHERE week = 'prev'), 0)
           AS delta
  FROM w JOIN best USING (artist_id, track_id) GROUP BY ALL
),
audience AS (
  SELECT artist_id, arg_max(country, plays) AS top_country
  FROM (SELECT artist_id, country, sum(plays) AS plays FROM w WHERE week = 'this' GROUP BY ALL) GROUP BY artist_id
)
SELECT b.artist_id, b.track_id, b.this_plays::BIGINT AS this_plays, b.prev_plays::BIGINT AS prev_plays,
       round(100 * (b.this_plays / b.prev_plays - 1))::BIGINT AS change_pct,
       round(100 * (a.catalog_skip - b.skip))::BIGINT AS skip_less_pct,
       (SELECT list(country ORDER BY delta DESC, country)[1:2] FROM country c
        WHERE c.artist_id = b.artist_id AND c.delta > 0) AS drivers,
       au.top_country
FROM best b JOIN artist a USING (artist_id) JOIN audience au USING (artist_id)
ORDER BY b.artist_id
"""

_TEMPLATES = {
    "en": {"rise": "{artist}'s '{track}' rose {pct}% week over week", "fall": "{artist}'s '{track}' fell {pct}% "
           "week over week", "drivers": ", driven by {countries}", "and": " and ",
           "less": "; its listeners skip {skip}% less than the artist's catalog",
           "more": "; its listeners skip {skip}% more than the artist's catalog", "end": "."},
    "fr": {"rise": "« {track} » de {artist} a progressé de {pct} % d'une semaine sur l'autre",
           "fall": "« {track} » de {artist} a reculé de {pct} % d'une semaine sur l'autre",
           "drivers": ", porté par {countries}", "and": " et ",
           "less": " ; ses auditeurs le passent {skip} % moins souvent que le reste du catalogue de l'artiste",
           "more": " ; ses auditeurs le passent {skip} % plus souvent que le reste du catalogue de l'artiste",
           "end": "."},
    "de": {"rise": "„{track}“ von {artist} legte gegenüber der Vorwoche um {pct} % zu",
           "fall": "„{track}“ von {artist} verlor gegenüber der Vorwoche {pct} %",
           "drivers": ", getragen von {countries}", "and": " und ",
           "less": "; seine Hörer überspringen ihn {skip} % seltener als den übrigen Katalog des Artists",
           "more": "; seine Hörer überspringen ihn {skip} % häufiger als den übrigen Katalog des Artists",
           "end": "."},
}


def language_for(top_country: str | None) -> str:
    return _COUNTRY_LANGUAGE.get(top_country or "", "en")


def sentence(language: str, artist: str, track: str, facts: dict) -> str:
    t = _TEMPLATES[language]
    pct = facts["change_pct"]
    text = t["rise" if pct >= 0 else "fall"].format(artist=artist, track=track, pct=abs(pct))
    if facts["drivers"]:
        text += t["drivers"].format(countries=t["and"].join(facts["drivers"]))
    skip = facts["skip_less_pct"]
    if skip:
        text += t["less" if skip > 0 else "more"].format(skip=abs(skip))
    return text + t["end"]


def artist_insights(day: dt.date, stats: Relation, names: dict[str, str], language: str | None = None) -> pa.Table:
    """One insight per artist with a track that had at least MIN_PREVIOUS_PLAYS plays last week.

    `stats` is daily_track_country_stats over the two weeks ending on `day`; `names` maps artist and track ids to
    display names (ids stand in when a name is unknown). `language` forces one language for every artist.
    """
    rows = []
    for f in sql_to_arrow(FACTS_SQL, {"stats": stats}, [day]).to_pylist():
        lang = language or language_for(f["top_country"])
        facts = {k: f[k] for k in ("this_plays", "prev_plays", "change_pct", "skip_less_pct", "drivers")}
        text = sentence(lang, names.get(f["artist_id"], f["artist_id"]), names.get(f["track_id"], f["track_id"]),
                        facts)
        rows.append({"date": day, "artist_id": f["artist_id"], "track_id": f["track_id"], "language": lang,
                     "text": text, "facts": json.dumps(facts, sort_keys=True)})
    return pa.Table.from_pylist(rows, schema=INSIGHTS_SCHEMA)


def report_insights(insights: pa.Table, names: dict[str, str], language: str = "en", top: int = 3) -> list[str]:
    """The day's `top` biggest week-over-week rises among the artists' insights, rewritten in one `language` for a
    report that covers several artists (each artist's own sentence is in its audience's language)."""
    rows = sorted(insights.to_pylist(), key=lambda r: (-json.loads(r["facts"])["change_pct"], r["artist_id"]))
    return [sentence(language, names.get(r["artist_id"], r["artist_id"]), names.get(r["track_id"], r["track_id"]),
                     json.loads(r["facts"])) for r in rows[:top] if json.loads(r["facts"])["change_pct"] > 0]
