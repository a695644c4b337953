"""Generated insights: every number in the text traces back to the table, in English, French and German."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from spotify_ai_assets.core.analytics.insights import LANGUAGES, artist_insights, language_for

DAY = dt.date(2026, 2, 14)
LAST_WEEK = DAY - dt.timedelta(days=7)


def _stats() -> pa.Table:
    rows = []
    # (day, track, country, plays, skip_rate): T1 grows in DE and FR, T2 is flat; T1 is skipped less.
    for day, track, country, plays, skip in [
        (LAST_WEEK, "T1", "DE", 40, 0.1), (LAST_WEEK, "T1", "FR", 30, 0.1), (LAST_WEEK, "T1", "US", 30, 0.1),
        (DAY, "T1", "DE", 80, 0.1), (DAY, "T1", "FR", 60, 0.1), (DAY, "T1", "US", 24, 0.1),
        (LAST_WEEK, "T2", "US", 50, 0.34), (DAY, "T2", "US", 50, 0.34),
        (DAY - dt.timedelta(days=20), "T1", "DE", 999, 0.9),  # outside both weeks: must not count
    ]:
        rows.append({"date": day, "track_id": track, "artist_id": "A1", "country": country, "plays": plays,
                     "listeners": plays, "ms_played": plays * 1000, "skip_rate": skip})
    return pa.Table.from_pylist(rows)


NAMES = {"A1": "Velvet Rivers", "T1": "Golden Hearts"}


def test_the_english_sentence_reads_like_the_example_and_every_number_is_a_fact() -> None:
    table = artist_insights(DAY, _stats(), NAMES, language="en")
    (row,) = table.to_pylist()
    assert row["text"] == ("Velvet Rivers's 'Golden Hearts' rose 64% week over week, driven by DE and FR; its "
                           "listeners skip 6% less than the artist's catalog.")
    facts = json.loads(row["facts"])
    # The facts are the table's values: 164 plays this week, 100 the week before (the day 20 days back ignored).
    stats = _stats().to_pandas()
    t1 = stats[stats["track_id"] == "T1"]
    assert facts["this_plays"] == t1[t1["date"] == DAY]["plays"].sum() == 164
    assert facts["prev_plays"] == t1[t1["date"] == LAST_WEEK]["plays"].sum() == 100
    assert facts["change_pct"] == round(100 * (164 / 100 - 1))
    this_week = stats[stats["date"] == DAY]
    catalog_skip = (this_week["skip_rate"] * this_week["plays"]).sum() / this_week["plays"].sum()
    assert facts["skip_less_pct"] == round(100 * (catalog_skip - 0.1))
    assert [int(n) for n in re.findall(r"\d+", row["text"])] == [facts["change_pct"], facts["skip_less_pct"]]


@pytest.mark.parametrize("language, expected", [
    ("fr", "« Golden Hearts » de Velvet Rivers a progressé de 64 % d'une semaine sur l'autre, porté par DE et FR ; "
           "ses auditeurs le passent 6 % moins souvent que le reste du catalogue de l'artiste."),
    ("de", "„Golden Hearts“ von Velvet Rivers legte gegenüber der Vorwoche um 64 % zu, getragen von DE und FR; "
           "seine Hörer überspringen ihn 6 % seltener als den übrigen Katalog des Artists."),
])
def test_french_and_german(language: str, expected: str) -> None:
    assert artist_insights(DAY, _stats(), NAMES, language=language)["text"].to_pylist() == [expected]


def test_the_language_follows_the_artists_audience_and_a_fall_is_said_as_one() -> None:
    # DE has the most plays this week (80 vs 74 for US): German.
    assert artist_insights(DAY, _stats(), NAMES)["language"].to_pylist() == ["de"]
    assert (language_for("FR"), language_for("AT"), language_for("JP"), language_for(None)) == ("fr", "de", "en", "en")
    falling = _stats().to_pandas()
    falling.loc[(falling["date"] == DAY) & (falling["track_id"] == "T1"), "plays"] = [20, 15, 15]
    falling.loc[(falling["date"] == DAY) & (falling["track_id"] == "T2"), "plays"] = [10]
    text = artist_insights(DAY, pa.Table.from_pandas(falling), NAMES, language="en")["text"].to_pylist()
    # T2 fell least (-40 plays) against T1 (-50): the best mover is T2, down 80%. Catalog skip this week:
    # (50 x 0.1 + 10 x 0.34) / 60 = 0.14, so T2's 0.34 is 20 points more.
    assert text == ["Velvet Rivers's 'T2' fell 80% week over week; its listeners skip 20% more than the artist's "
                    "catalog."]
    assert set(LANGUAGES) == {"en", "fr", "de"}


def test_the_asset_writes_one_traceable_insight_per_watched_artist(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.ingestion.catalog import ARTISTS_SCHEMA
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.insights import artist_insights
    from spotify_ai_assets.lib.resources.lake import LakeResource
    from spotify_ai_assets.sandbox.world import EPOCH, World

    from .sandbox_lake import write_daily_stats

    world = World(seed=7, scale="small")
    day = EPOCH + dt.timedelta(days=20)
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, day - dt.timedelta(days=13), day, ("daily_track_country_stats",))
    watched = world.artist_ids[:3]
    lake.write("spotify_artists", pa.Table.from_pylist(
        [{"snapshot_date": day, "artist_id": a, "name": world.artist_name(i), "genres": [], "popularity": None,
          "followers": None} for i, a in enumerate(watched)], schema=ARTISTS_SCHEMA), day.isoformat())
    lake.write("spotify_tracks", pa.table({"track_id": world.track_ids, "name": [
        world.track_name(i) for i in range(len(world.track_ids))]}), day.isoformat())

    result = dg.materialize([artist_insights], partition_key=day.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    rows = lake.read("artist_insights", day.isoformat()).to_pylist()
    assert rows and {r["artist_id"] for r in rows} <= set(watched)
    names = {world.track_ids[i]: world.track_name(i) for i in range(len(world.track_ids))}
    for r in rows:
        facts = json.loads(r["facts"])
        artist_name = world.artist_name(watched.index(r["artist_id"]))
        assert artist_name in r["text"] and names[r["track_id"]] in r["text"]
        # Names may hold digits ("#76"): only the figures outside them must be facts.
        figures = r["text"].replace(artist_name, "").replace(names[r["track_id"]], "")
        numbers = [int(n) for n in re.findall(r"\d+", figures)]
        expected = [abs(facts["change_pct"])] + ([abs(facts["skip_less_pct"])] if facts["skip_less_pct"] else [])
        assert numbers == expected, r["text"]
