"""Trend detection on the sandbox: planted breakouts found early, few false alarms, no alarm on seasonal noise."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest

from spotify_ai_assets.core.analytics import trends
from spotify_ai_assets.core.kernel.query import connect
from spotify_ai_assets.sandbox.world import EPOCH, WEEKLY, World

from .sandbox_lake import day_events

DAYS = [EPOCH + dt.timedelta(days=k) for k in range(45)]


def _daily_listeners(world: World) -> dict[str, pa.Table]:
    """Unique listeners per track and per artist per day, straight from the sandbox's events, and per track with its
    artist (what artist trends read to tell a release from a breakout)."""
    con = connect()
    out: dict[str, list[pa.Table]] = {"track": [], "artist": [], "tracks": []}
    for day in DAYS:
        con.register("ev", day_events(world, day))
        for kind, key in (("track", "track_id"), ("artist", "artist_id")):
            out[kind].append(con.sql(f"SELECT $1::DATE AS date, {key} AS entity_id, count(DISTINCT user_id) AS plays "
                                     "FROM ev GROUP BY ALL", params=[day]).to_arrow_table())
        out["tracks"].append(con.sql("SELECT $1::DATE AS date, track_id, any_value(artist_id) AS artist_id, "
                                     "count(DISTINCT user_id) AS listeners FROM ev GROUP BY track_id",
                                     params=[day]).to_arrow_table())
        con.unregister("ev")
    con.close()
    return {k: pa.concat_tables(v) for k, v in out.items()}


def _scores(daily: dict[str, pa.Table], kind: str, day: dt.date) -> pa.Table:
    """What the trends assets compute for `day`: the baseline window and the day, artists checked for releases."""
    scores = trends.score_day(daily[kind], day)
    if kind == "artist":
        tracks, start = daily["tracks"], day - dt.timedelta(days=trends.BASELINE_DAYS)
        window = pa.compute.and_(pa.compute.greater_equal(tracks["date"], start),
                                 pa.compute.less_equal(tracks["date"], day))
        scores = trends.explain_releases(scores, tracks.filter(window), day)
    return scores


# Seed 7 again with overdispersed listening (r = 10, issue 21): the Poisson-style rule called 58% of its flags there
# false alarms; this detector 1%.
@pytest.fixture(scope="module", params=[(7, None), (9, None), (7, 10.0)], ids=["7", "9", "7-r10"])
def world(request: pytest.FixtureRequest) -> World:
    seed, dispersion = request.param
    return World(seed=seed, scale="small", dispersion=dispersion)


def test_planted_breakouts_are_found_within_three_days_with_few_false_alarms(world: World) -> None:
    daily = _daily_listeners(world)
    planted: dict[str, dict[str, dt.date]] = {"track": {}, "artist": {}}
    for b in world.breakouts:
        planted[b.kind][b.id] = b.rise_start
        if b.kind == "artist":  # an artist's rise lifts every one of its tracks
            a = world.artist_ids.index(b.id)
            for t in np.flatnonzero(world.track_artist == a):
                planted["track"].setdefault(world.track_ids[int(t)], b.rise_start)
    found: dict[str, dt.date] = {}
    flagged = false_alarms = 0
    for day in DAYS[8:]:
        for kind in ("track", "artist"):
            for entity in trends.flagged(_scores(daily, kind, day), "rising", top=20):
                flagged += 1
                rise = planted[kind].get(entity)
                if rise is not None and day >= rise:
                    found.setdefault(entity, day)
                else:
                    false_alarms += 1
    # Seed 9's world has many new releases: without telling release-driven rises apart, a quarter of its alarms
    # were false. It also plants a breakout that peaks at 6 listeners a day, found on day 4 of its rise.
    limit = 3 if world.seed == 7 else 4
    delays = {b.id: (found[b.id] - b.rise_start).days if b.id in found else None for b in world.breakouts
              if b.rise_start <= DAYS[-1] - dt.timedelta(days=limit)}
    assert len(delays) >= 4 and all(d is not None and 0 <= d <= limit for d in delays.values()), delays
    assert flagged > 0 and false_alarms / flagged <= 0.10, (false_alarms, flagged)


def test_an_artist_rising_on_its_new_release_is_a_release_not_a_breakout() -> None:
    day = EPOCH + dt.timedelta(days=29)
    rows = []
    for k in range(30):
        d = EPOCH + dt.timedelta(days=k)
        rows += [{"date": d, "track_id": f"other{i}", "artist_id": f"crowd{i}", "listeners": 200} for i in range(20)]
        # Both artists have an old catalogue at 10 listeners a day and a sparse old track (a listener now and then).
        for artist in ("launch", "breakout"):
            rows.append({"date": d, "track_id": f"{artist}-old", "artist_id": artist,
                         "listeners": 10 if artist == "launch" or k < 27 else 60})
            if k % 9 == 0:
                rows.append({"date": d, "track_id": f"{artist}-sparse", "artist_id": artist, "listeners": 1})
        if k >= 27:  # "launch" releases a single that takes off; "breakout" is found again by its old fans
            rows.append({"date": d, "track_id": "launch-single", "artist_id": "launch", "listeners": 50})
    tracks = pa.Table.from_pylist(rows)
    daily = pa.Table.from_pylist([{"date": r["date"], "entity_id": r["artist_id"], "plays": r["listeners"]}
                                  for r in rows]).group_by(["date", "entity_id"]).aggregate([("plays", "sum")])
    daily = daily.rename_columns(["date", "entity_id", "plays"])
    raw = trends.score_day(daily, day)
    assert set(trends.flagged(raw, "rising")) == {"launch", "breakout"}  # both rise, by the same measure
    explained = trends.explain_releases(raw, tracks, day)
    assert trends.flagged(explained, "rising") == ["breakout"]
    assert trends.flagged(explained, "release") == ["launch"]
    assert explained.schema == trends.trends_schema() and explained.num_rows == raw.num_rows


def test_a_flat_series_with_weekly_seasonality_raises_no_alarm() -> None:
    rng = np.random.default_rng(3)
    rows = []
    for k in range(60):
        day = EPOCH + dt.timedelta(days=k)
        season = WEEKLY[day.weekday()] * 1.5  # a strong weekly swing, the same for everyone
        rows += [{"date": day, "entity_id": f"t{i:03d}", "plays": int(rng.poisson(rate * season))}
                 for i, rate in enumerate(np.geomspace(0.5, 400, 200))]
    daily = pa.Table.from_pylist(rows)
    for k in range(30, 60):
        scores = trends.score_day(daily, EPOCH + dt.timedelta(days=k))
        assert trends.flagged(scores, "rising") == [] and trends.flagged(scores, "falling") == []


def test_a_real_drop_is_falling_and_a_new_entity_with_an_audience_is_emerging() -> None:
    rows = [{"date": EPOCH + dt.timedelta(days=k), "entity_id": "steady", "plays": 100} for k in range(30)]
    rows += [{"date": EPOCH + dt.timedelta(days=k), "entity_id": "fading", "plays": 100 if k < 29 else 20}
             for k in range(30)]
    rows += [{"date": EPOCH + dt.timedelta(days=29), "entity_id": "newcomer", "plays": 80}]
    scores = trends.score_day(pa.Table.from_pylist(rows), EPOCH + dt.timedelta(days=29))
    assert trends.flagged(scores, "falling") == ["fading"]
    assert trends.flagged(scores, "emerging") == ["newcomer"]
    assert trends.flagged(scores, "rising") == []
    steady = scores.filter(pa.compute.equal(scores["entity_id"], "steady")).to_pylist()[0]
    assert steady["trend"] is None and abs(steady["z"]) < 1


def test_the_track_trends_asset_flags_a_planted_breakout_from_the_lake(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.trends import track_trends
    from spotify_ai_assets.lib.resources.lake import LakeResource

    from .sandbox_lake import write_daily_stats

    world = World(seed=7, scale="small")
    breakout = min((b for b in world.breakouts if b.kind == "track"), key=lambda b: b.rise_start)
    scored_day = breakout.rise_start + dt.timedelta(days=1)
    lake = Lake(str(tmp_path / "lake"))
    write_daily_stats(world, lake, EPOCH, scored_day, ("daily_track_country_stats",))

    result = dg.materialize([track_trends], partition_key=scored_day.isoformat(),
                            resources={"lake": LakeResource(root=str(tmp_path / "lake"))})
    assert result.success
    stored = lake.read("track_trends", scored_day.isoformat())
    rising = stored.filter(pa.compute.equal(stored["trend"], "rising"))["entity_id"].to_pylist()
    assert breakout.id in rising
    md = result.asset_materializations_for_node("track_trends")[0].metadata
    assert breakout.id in md["top"].value and md["dagster/row_count"].value == stored.num_rows
    assert md["history_days_available"].value == (scored_day - EPOCH).days
    # The contract may only warn about the row count (a first day has nothing to compare with).
    assert all(c.passed or c.metadata["failed_rules"].value == ["row_count_plausible"]
               for c in result.get_asset_check_evaluations())


def test_artist_monitoring_reports_releases_and_breakouts_and_alerts_once(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.ingestion.catalog import ALBUMS_SCHEMA, ARTISTS_SCHEMA
    from spotify_ai_assets.core.kernel.alerts import LocalAlertLog
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.artist_monitoring import artist_monitoring, artist_monitoring_sensor
    from spotify_ai_assets.lib.resources.alerts import AlertsResource
    from spotify_ai_assets.lib.resources.lake import LakeResource

    day, yesterday = dt.date(2026, 2, 10), dt.date(2026, 2, 9)
    lake = Lake(str(tmp_path / "lake"))
    artists = [{"snapshot_date": day, "artist_id": a, "name": n, "genres": [], "popularity": None, "followers": None}
               for a, n in (("art1", "Velvet Rivers"), ("art2", "Neon Roads"), ("art3", "Quiet One"))]
    lake.write("spotify_artists", pa.Table.from_pylist(artists, schema=ARTISTS_SCHEMA), day.isoformat())

    def albums(d: dt.date, rows: list[tuple[str, str, str]]) -> pa.Table:
        return pa.Table.from_pylist([{"snapshot_date": d, "album_id": i, "artist_id": a, "name": n,
                                      "album_type": "single", "release_date": d.isoformat(), "release_day": d,
                                      "total_tracks": 1} for i, a, n in rows], schema=ALBUMS_SCHEMA)
    old = [("al1", "art1", "Old Song"), ("al2", "art2", "Older Song")]
    lake.write("spotify_albums", albums(yesterday, old), yesterday.isoformat())
    lake.write("spotify_albums", albums(day, [*old, ("al3", "art1", "New Song")]), day.isoformat())
    lake.write("daily_artist_stats", pa.table({"date": [day, day], "artist_id": ["art1", "art2"], "plays": [50, 900],
                                               "listeners": [40, 700]}), day.isoformat())
    lake.write("artist_trends", pa.table({"date": [day], "entity_id": ["art2"], "plays": [700], "expected": [90.0],
                                          "z": [64.2], "ratio": [7.7], "history_days": [28], "trend": ["rising"]}),
               day.isoformat())
    resources = {"lake": LakeResource(root=str(tmp_path / "lake")),
                 "alerts": AlertsResource(path=str(tmp_path / "alerts.jsonl"))}
    for _ in range(2):  # a re-run must not alert twice
        assert dg.materialize([artist_monitoring], partition_key=day.isoformat(), resources=resources).success
    rows = {r["artist_id"]: r for r in lake.read("artist_monitoring", day.isoformat()).to_pylist()}
    assert (rows["art1"]["new_releases"], rows["art1"]["new_release_names"], rows["art1"]["plays"]) == (
        1, ["New Song"], 50)
    assert (rows["art2"]["new_releases"], rows["art2"]["trend"], rows["art2"]["listeners"]) == (0, "rising", 700)
    assert (rows["art3"]["plays"], rows["art3"]["new_releases"], rows["art3"]["trend"]) == (0, 0, None)
    sent = LocalAlertLog(tmp_path / "alerts.jsonl").sent()
    assert sorted((a["kind"], a["artist_id"]) for a in sent) == [("breakout", "art2"), ("release", "art1")]
    assert "Velvet Rivers released 'New Song'" in [a["message"] for a in sent]

    # The sensor asks for yesterday (UTC) once its inputs exist, and only once.
    sensor_resources = {"lake": resources["lake"]}
    ctx = dg.build_sensor_context(resources=sensor_resources)
    assert artist_monitoring_sensor(ctx).run_requests == []  # not there yet
    latest = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    for table in ("spotify_artists", "spotify_albums", "daily_artist_stats", "artist_trends"):
        lake.write(table, lake.read(table, day.isoformat()), latest)
    first = artist_monitoring_sensor(dg.build_sensor_context(resources=sensor_resources))
    assert [(r.partition_key, r.run_key) for r in first.run_requests] == [(latest, f"artist_monitoring:{latest}")]
    again = artist_monitoring_sensor(dg.build_sensor_context(cursor=first.cursor, resources=sensor_resources))
    assert again.run_requests == []


def test_with_too_little_history_nothing_is_labelled_and_the_reason_is_given() -> None:
    # Day 3 of a deployment: every entity is "new", and the most played would all look emerging.
    rows = [{"date": EPOCH + dt.timedelta(days=k), "entity_id": f"t{i}", "plays": 100 + i} for k in range(4)
            for i in range(30)]
    rows += [{"date": EPOCH + dt.timedelta(days=3), "entity_id": "spike", "plays": 900}]
    scores = trends.score_day(pa.Table.from_pylist(rows), EPOCH + dt.timedelta(days=3))
    assert scores.num_rows == 31 and scores["trend"].null_count == 31
    assert trends.history_shortfall(3) == ("history: 3 of 7 days needed before the scored day; trends not labelled "
                                           "until then (backfill at least 4 more earlier days)")
    assert trends.history_shortfall(trends.MIN_HISTORY_DAYS) is None
    # From the seventh day of data on, the same spike is labelled.
    rows = [{"date": EPOCH + dt.timedelta(days=k), "entity_id": f"t{i}", "plays": 100 + i} for k in range(8)
            for i in range(30)]
    rows += [{"date": EPOCH + dt.timedelta(days=7), "entity_id": "t0", "plays": 900}]
    scores = trends.score_day(pa.Table.from_pylist(rows), EPOCH + dt.timedelta(days=7))
    assert trends.flagged(scores, "rising") == ["t0"]


def _overdispersed(r: float = 10.0, boost: np.ndarray | None = None, days: int = 60,
                   n: int = 300) -> tuple[np.ndarray, list[dt.date]]:
    """Daily listeners of `n` entities (3 to 600 a day) with a weekly swing, drawn from a negative binomial (variance
    mu + mu^2 / r) with means times `boost` ([entity, day]) when given; as [entity, day], and the days."""
    rng = np.random.default_rng(5)
    dates = [EPOCH + dt.timedelta(days=k) for k in range(days)]
    mu = np.geomspace(3, 600, n)[:, None] * np.array([WEEKLY[d.weekday()] for d in dates])[None, :]
    if boost is not None:
        mu = mu * boost
    return rng.poisson(mu * rng.gamma(r, 1 / r, mu.shape)), dates


def _table(counts: np.ndarray, dates: list[dt.date]) -> pa.Table:
    e, d = np.nonzero(counts)
    return pa.table({"date": pa.array(dates, pa.date32()).take(pa.array(d)),
                     "entity_id": pa.array([f"t{i:03d}" for i in e]), "plays": pa.array(counts[e, d], pa.int64())})


def test_an_overdispersed_flat_series_raises_few_alarms() -> None:
    counts, dates = _overdispersed()
    daily = _table(counts, dates)
    alarms = [e for day in dates[30:] for e in trends.flagged(trends.score_day(daily, day), "rising")]
    # 300 entities x 30 days at r = 10: a Poisson z >= 5 with a 2x ratio fires on most small-count noise spikes.
    assert len(alarms) <= 2, alarms


def test_a_clear_breakout_in_an_overdispersed_series_is_flagged_first() -> None:
    boost = np.ones((300, 60))
    boost[150, 50:] = 6  # ~45 listeners a day, six times that from day 50 on
    counts, dates = _overdispersed(boost=boost)
    daily = _table(counts, dates)
    # Day 50 drew a quiet day (94 listeners, 1.9x): at r = 10 that is noise. From day 51 on (251, 173) it is news,
    # and the first of all entities while it lasts.
    assert trends.flagged(trends.score_day(daily, dates[50]), "rising") == []
    for day in dates[51:55]:
        scores = trends.score_day(daily, day)
        assert trends.flagged(scores, "rising")[:1] == ["t150"], day
        row = scores.filter(pa.compute.equal(scores["entity_id"], "t150")).to_pylist()[0]
        assert row["ratio"] > 2 and row["z"] >= trends.Z_ALERT


def test_a_noisy_entity_needs_more_than_a_steady_one_to_be_rising() -> None:
    rng = np.random.default_rng(11)
    dates = [EPOCH + dt.timedelta(days=k) for k in range(40)]
    rows = []
    for k, day in enumerate(dates):
        rows += [{"date": day, "entity_id": f"crowd{i}", "plays": int(rng.poisson(100))} for i in range(40)]
        # Both average 100 listeners a day; "noisy" swings by 2x from day to day (r ~ 3), "steady" is Poisson.
        rows.append({"date": day, "entity_id": "steady", "plays": int(rng.poisson(100)) if k < 39 else 260})
        rows.append({"date": day, "entity_id": "noisy", "plays": int(rng.poisson(100 * rng.gamma(3, 1 / 3)))
                     if k < 39 else 260})
    scores = trends.score_day(pa.Table.from_pylist(rows), dates[-1])
    assert trends.flagged(scores, "rising") == ["steady"]


def test_a_whole_platform_or_a_whole_known_group_rising_is_not_a_breakout() -> None:
    genre = np.arange(300) % 5
    boost = np.ones((300, 60))
    boost[:, 50:] = 3  # everyone triples (a campaign, a new market): the platform grew, no entity broke out
    boost[genre == 0, 53:] *= 3  # then one genre of five triples again
    counts, dates = _overdispersed(r=25.0, boost=boost)
    daily = _table(counts, dates)
    assert trends.flagged(trends.score_day(daily, dates[51]), "rising") == []
    groups = pa.table({"entity_id": [f"t{i:03d}" for i in range(300)], "group_id": genre.astype(str)})
    for day in dates[53:56]:
        assert trends.flagged(trends.score_day(daily, day, groups), "rising") == [], day
    # Without the genre and without learning who moves together, its rise is the entities' own.
    unlearned = trends.flagged(trends.score_day(daily, dates[54], learn_groups=False), "rising")
    assert len(unlearned) >= 10
    # Learned from the listeners themselves (core/analytics/co_movement.py), the genre moves as one: what is left
    # are members too small to take part in the clusters.
    learned = trends.flagged(trends.score_day(daily, dates[54]), "rising")
    assert len(learned) <= len(unlearned) // 3, (learned, unlearned)
    assert {int(e[1:]) % 5 for e in learned} <= {0}


def test_catalog_groups_are_the_primary_artists_first_genre() -> None:
    from spotify_ai_assets.core.ingestion.catalog import ARTISTS_SCHEMA, TRACKS_SCHEMA

    day = dt.date(2026, 2, 10)
    artists = pa.Table.from_pylist(
        [{"snapshot_date": day, "artist_id": a, "name": a, "genres": g, "popularity": None, "followers": None}
         for a, g in (("pop1", ["pop", "dance pop"]), ("bare", []), ("nulls", None), ("rock1", ["rock"]))],
        schema=ARTISTS_SCHEMA)
    tracks = pa.Table.from_pylist(
        [{"snapshot_date": day, "track_id": t, "album_id": "al", "artist_id": a, "name": t, "genre": g}
         for t, a, g in (("t1", "pop1", "pop"), ("t2", "bare", None), ("t3", "nulls", None),
                         ("t4", "outside", "jazz"), ("t5", "pop1", None), ("t6", "outside", None))],
        schema=TRACKS_SCHEMA)
    groups = dict(zip(*trends.track_groups(tracks, artists).to_pydict().values(), strict=True))
    # The artist snapshot's first genre wins (t5 was crawled without it); a track whose artist is not in the artist
    # snapshot keeps the genre it was crawled with; a track without any genre has no group (its learned cluster's
    # factor): an artist is no group, its few tracks would override the cluster that sees its genre move.
    assert groups == {"t1": "genre:pop", "t4": "genre:jazz", "t5": "genre:pop"}
    # Without the artist snapshot, the tracks' own genre column (their artist's first genre when crawled).
    alone = dict(zip(*trends.track_groups(tracks).to_pydict().values(), strict=True))
    assert alone == {"t1": "genre:pop", "t4": "genre:jazz"}

    # Artists: the first genre, and no row (no group) without one.
    assert trends.artist_groups(artists).to_pylist() == [{"entity_id": "pop1", "group_id": "genre:pop"},
                                                         {"entity_id": "rock1", "group_id": "genre:rock"}]


def test_the_track_trends_asset_reads_genres_from_the_catalog_and_runs_without_it(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.ingestion.catalog import ARTISTS_SCHEMA, TRACKS_SCHEMA
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.trends import track_trends
    from spotify_ai_assets.lib.resources.lake import LakeResource

    # The world of the test above: the platform triples on day 50, then one genre of five triples again on day 53.
    genre = np.arange(300) % 5  # track i is by artist i % 60, whose genre is (i % 60) % 5 = i % 5
    boost = np.ones((300, 60))
    boost[:, 50:] = 3
    boost[genre == 0, 53:] *= 3
    counts, dates = _overdispersed(r=25.0, boost=boost)
    scored = dates[54]
    lake = Lake(str(tmp_path / "lake"))
    for k in range(54 - trends.BASELINE_DAYS, 55):
        e = np.nonzero(counts[:, k])[0]
        lake.write("daily_track_country_stats", pa.table({
            "date": pa.array([dates[k]] * len(e), pa.date32()), "track_id": [f"t{i:03d}" for i in e],
            "artist_id": [f"a{i % 60:02d}" for i in e], "country": ["SE"] * len(e),
            "plays": pa.array(counts[e, k], pa.int64()), "listeners": pa.array(counts[e, k], pa.int64())}),
            dates[k].isoformat())
    resources = {"lake": LakeResource(root=str(tmp_path / "lake"))}

    learned: list[str] = []

    def run() -> tuple[list[str], str]:
        result = dg.materialize([track_trends], partition_key=scored.isoformat(), resources=resources)
        assert result.success
        stored = lake.read("track_trends", scored.isoformat())
        md = result.asset_materializations_for_node("track_trends")[0].metadata
        learned.append(md["learned_clusters"].value)
        return stored.filter(pa.compute.equal(stored["trend"], "rising"))["entity_id"].to_pylist(), md["groups"].value

    # No catalog snapshot for the day: scored without groups (said so). The clusters learned from the listeners
    # expect most of the genre's rise (ten or more of its tracks are flagged without them: the test above); what is
    # left are tracks of that genre too small to take part in a cluster.
    rising, note = run()
    assert note == "none: no spotify_tracks / spotify_artists partition for 2026-02-24, scored against the platform " \
                   "and the learned clusters"
    assert len(rising) <= 3 and {int(e[1:]) % 5 for e in rising} <= {0}, rising
    # The metadata says how many tracks the clusters hold (those of at least 10 listeners a day).
    held = re.fullmatch(r"(\d+) tracks in (\d+) clusters of tracks that moved together over the window"
                        r"(, and \d+ smaller tracks joined to the cluster they moved with)?", learned[-1])
    assert held and 50 <= int(held[1]) <= 300 and 2 <= int(held[2]) <= 6, learned[-1]
    # With the day's snapshot (genres on the artists only, as for tracks crawled before their artist had one).
    lake.write("spotify_artists", pa.Table.from_pylist(
        [{"snapshot_date": scored, "artist_id": f"a{a:02d}", "name": f"A{a}", "genres": [f"g{a % 5}", "other"]}
         for a in range(60)], schema=ARTISTS_SCHEMA), scored.isoformat())
    lake.write("spotify_tracks", pa.Table.from_pylist(
        [{"snapshot_date": scored, "track_id": f"t{i:03d}", "album_id": "al", "artist_id": f"a{i % 60:02d}",
          "name": f"T{i}", "genre": None} for i in range(300)], schema=TRACKS_SCHEMA), scored.isoformat())
    rising, note = run()
    assert (rising, note) == ([], "300 tracks of the catalog in 5 groups")


def test_a_track_rising_less_than_another_of_its_artist_is_lifted_not_alerted() -> None:
    scores = pa.Table.from_pylist([
        {"date": EPOCH, "entity_id": e, "plays": 100, "expected": 10.0, "z": 5.0, "ratio": ratio,
         "history_days": 28, "trend": trend}
        for e, ratio, trend in (("hit", 5.0, "rising"), ("b_side", 1.8, "rising"), ("old", 0.4, "falling"),
                                ("quiet", 3.0, None), ("duo1", 3.0, "rising"), ("duo2", 3.0, "rising"),
                                ("solo", 1.5, "rising"), ("unknown", 1.6, "rising"))], schema=trends.trends_schema())
    # A ramp on strong evidence, and a small track of the same artist on a noisy day: higher ratio, weaker z.
    scores = pa.concat_tables([scores, pa.Table.from_pylist(
        [{"date": EPOCH, "entity_id": e, "plays": p, "expected": x, "z": z, "ratio": ratio, "history_days": 28,
          "trend": "rising"} for e, p, x, z, ratio in (("ramp", 800, 500.0, 8.0, 1.6), ("blip", 8, 2.0, 4.6, 3.0))],
        schema=trends.trends_schema())])
    artists = pa.table({"entity_id": ["hit", "b_side", "old", "quiet", "duo1", "duo2", "solo", "ramp", "blip"],
                        "artist_id": ["a", "a", "a", "a", "b", "b", "c", "d", "d"]})
    out = {r["entity_id"]: r["trend"] for r in trends.explain_spillover(scores, artists).to_pylist()}
    # b_side rose less than hit, the artist's strongest riser: one alert for the artist. A track that is not rising
    # ("quiet", at 3x) lifts nothing; equal rises both stay; a track without a known artist is left alone; a noisy
    # small track neither lifts the ramp (less evidence) nor is lifted by it (it rose further).
    assert out == {"hit": "rising", "b_side": "lifted", "old": "falling", "quiet": None, "duo1": "rising",
                   "duo2": "rising", "solo": "rising", "unknown": "rising", "ramp": "rising", "blip": "rising"}


def _breakout_with_spillover() -> tuple[np.ndarray, list[dt.date]]:
    """t150 (~45 listeners a day) breaks out six-fold on day 50; t250 and t280 (~250 and ~420 a day), by the same
    artist, rise 1.8-fold with it: the breakout lifts the artist's catalogue."""
    boost = np.ones((300, 60))
    boost[150, 50:] = 6
    boost[[250, 280], 50:] = 1.8
    return _overdispersed(r=25.0, boost=boost)


def _artist_of(i: int) -> str:
    return "a-star" if i in (150, 250, 280) else f"a{i:03d}"


def test_the_track_trends_asset_reports_an_artists_lifted_tracks_with_its_breakout(tmp_path) -> None:
    import dagster as dg

    from spotify_ai_assets.core.ingestion.catalog import TRACKS_SCHEMA
    from spotify_ai_assets.core.kernel.lake import Lake
    from spotify_ai_assets.defs.analytics.trends import track_trends
    from spotify_ai_assets.lib.resources.lake import LakeResource

    counts, dates = _breakout_with_spillover()
    scored = dates[54]
    # Scored alone, the lifted tracks pass the rising rule on day 54 too: three alerts for one event.
    alone = trends.score_day(_table(counts, dates), scored)
    assert trends.flagged(alone, "rising") == ["t150", "t250", "t280"]
    artists = pa.table({"entity_id": [f"t{i:03d}" for i in range(300)],
                        "artist_id": [_artist_of(i) for i in range(300)]})
    known = trends.score_day(_table(counts, dates), scored, artists=artists)
    assert (trends.flagged(known, "rising"), trends.flagged(known, "lifted")) == (["t150"], ["t250", "t280"])
    lake = Lake(str(tmp_path / "lake"))
    for k in range(54 - trends.BASELINE_DAYS, 55):
        e = np.nonzero(counts[:, k])[0]
        lake.write("daily_track_country_stats", pa.table({
            "date": pa.array([dates[k]] * len(e), pa.date32()), "track_id": [f"t{i:03d}" for i in e],
            "artist_id": [_artist_of(i) for i in e], "country": ["SE"] * len(e),
            "plays": pa.array(counts[e, k], pa.int64()), "listeners": pa.array(counts[e, k], pa.int64())}),
            dates[k].isoformat())
    resources = {"lake": LakeResource(root=str(tmp_path / "lake"))}

    def run() -> str:
        result = dg.materialize([track_trends], partition_key=scored.isoformat(), resources=resources)
        assert result.success
        stored = {r["entity_id"]: r["trend"] for r in lake.read("track_trends", scored.isoformat()).to_pylist()}
        assert stored == {"t150": "rising", "t250": "lifted", "t280": "lifted"}
        md = result.asset_materializations_for_node("track_trends")[0].metadata
        assert md["flagged"].value == {"rising": 1, "lifted": 2, "falling": 0, "emerging": 0}
        return md["groups"].value

    # Each track's artist comes with the day's stats rows, so no catalog snapshot is needed ...
    assert run().startswith("none: no spotify_tracks / spotify_artists partition")
    # ... nor changes anything when it has no genre (as the Web API's deprecated genres often are).
    lake.write("spotify_tracks", pa.Table.from_pylist(
        [{"snapshot_date": scored, "track_id": f"t{i:03d}", "album_id": "al", "artist_id": _artist_of(i),
          "name": f"T{i}", "genre": None} for i in range(300)], schema=TRACKS_SCHEMA), scored.isoformat())
    assert run().startswith("none: no track of the catalog has a genre")
