"""Config that fails loudly (issue 22, item 4), through Dagster: a watchlist with a typo (`artist:`), without
`artists`/`playlists` or with a wrong type fails the run with an error naming the key, and an ingestion day that is
empty after a day with rows is a blocking failure unless the watchlist says it is empty on purpose."""

from __future__ import annotations

import dagster as dg
import pytest
import yaml

from spotify_ai_assets.core.ingestion.watchlist import Watchlist, WatchlistError
from spotify_ai_assets.defs.ingestion.catalog import spotify_catalog
from spotify_ai_assets.defs.ingestion.playlists import playlist_snapshots
from spotify_ai_assets.lib.environments import build_resources
from spotify_ai_assets.sandbox.world import World
from spotify_ai_assets.settings import Settings

A, P = "0TnOYISbd1XYRBk9myaseg", "37i9dQZF1DXcBWIGoYBM5M"


@pytest.mark.parametrize(("doc", "named"), [
    ({"artist": [A], "playlists": [P]}, r"unknown key `artist` \(did you mean `artists`\?\)"),
    ({"playlists": [P]}, r"missing key `artists`"),
    ({"artists": [A]}, r"missing key `playlists`"),
    ({"artists": A, "playlists": [P]}, r"key `artists` must be a list"),
    ({"artists": [A], "playlists": None}, r"key `playlists` is empty"),
    ({"artists": [A, 7], "playlists": []}, r"artists\[1\] = 7 is not a 22-character Spotify id"),
    ({"artists": [], "playlists": [], "empty_on_purpose": "yes"}, r"key `empty_on_purpose` must be true or false"),
    ([A], r"expected a mapping"),
])
def test_a_watchlist_off_the_schema_is_an_error_naming_the_key(tmp_path, doc, named):
    path = tmp_path / "watchlist.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(WatchlistError, match=named):
        Watchlist.load(path)


def test_a_typo_in_the_watchlist_fails_the_run_instead_of_ingesting_nothing(sandbox_environ, tmp_path):
    path = tmp_path / "watchlist.yaml"
    path.write_text("artist: [0TnOYISbd1XYRBk9myaseg]\nplaylists: []\n")
    resources = build_resources(Settings.from_environ({**sandbox_environ, "SPOTIFY_AI_WATCHLIST": str(path)}))
    result = dg.materialize([spotify_catalog], resources=resources, partition_key="2026-01-05", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "unknown key `artist`" in str(failure.event_specific_data.error)
    assert not result.get_asset_materialization_events()  # nothing replaced the catalog


def _day(resources: dict, day: str, artists: list[str], playlists: list[str], on_purpose: bool = False):
    config = {"artist_ids": artists, "playlist_ids": playlists, "empty_on_purpose": on_purpose}
    return dg.materialize([spotify_catalog, playlist_snapshots], resources=resources, partition_key=day,
                          run_config={"ops": {"spotify_catalog": {"config": config},
                                              "playlist_snapshots": {"config": config}}}, raise_on_error=False)


def _checks(result) -> dict[str, bool]:
    return {f"{e.event_specific_data.asset_key.path[-1]}:{e.event_specific_data.check_name}":
            e.event_specific_data.passed for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def test_an_empty_day_after_a_day_with_rows_is_blocking_unless_meant(sandbox_environ):
    resources = build_resources(Settings.from_environ(sandbox_environ))
    wl = World(seed=7, scale="tiny").watchlist()
    assert _day(resources, "2026-01-05", wl["artists"], wl["playlists"]).success

    emptied = _day(resources, "2026-01-06", [], [])
    assert not emptied.success
    checks = _checks(emptied)
    assert checks["spotify_artists:not_emptied"] is False and checks["playlist_snapshots:not_emptied"] is False

    assert _day(resources, "2026-01-08", wl["artists"], wl["playlists"]).success
    meant = _day(resources, "2026-01-09", [], [], on_purpose=True)
    assert meant.success, _checks(meant)
    assert _checks(meant)["spotify_artists:not_emptied"] is True
