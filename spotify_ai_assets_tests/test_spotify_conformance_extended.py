"""daily_refresh_job against the spec-strict emulator in extended mode (see spotify_conformance.py)."""

from __future__ import annotations

import pytest

from . import spotify_conformance as conformance

MODE = "extended"


@pytest.fixture(scope="module", params=[False, True], ids=["connected_users_only", "both_sources"])
def run(request, tmp_path_factory, world) -> conformance.Run:
    return conformance.run_day(tmp_path_factory.mktemp(MODE), world, MODE, exports=request.param)


def test_the_daily_job_succeeds(run):
    conformance.check_job_succeeded(run)


def test_every_artist_album_and_track_lands(run, world):
    conformance.check_catalog(run, world)


def test_every_readable_playlist_lands_in_order_and_the_others_are_named(run, world):
    conformance.check_playlists(run, world)


def test_every_recently_played_play_of_the_day_lands_once(run, world):
    conformance.check_recently_played(run, world)


def test_every_request_is_valid_under_the_spec(run):
    conformance.check_requests(run)
