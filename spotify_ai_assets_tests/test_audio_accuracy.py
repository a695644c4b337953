"""Scoring extracted tempo and key against a truth: tolerance, octave errors, exact key and mode."""

from __future__ import annotations

from spotify_ai_assets.core.audio.accuracy import score, tempo_correct

TRUTH = {"a": {"tempo_bpm": 120.0, "key": 9, "mode": 0}, "b": {"tempo_bpm": 90.0, "key": 0, "mode": 1}}


def test_tempo_within_four_percent_counts_and_octave_errors_do_not() -> None:
    assert tempo_correct(124.7, 120.0)
    assert tempo_correct(115.3, 120.0)
    assert not tempo_correct(125.0, 120.0)
    assert not tempo_correct(60.0, 120.0)
    assert not tempo_correct(240.0, 120.0)
    assert not tempo_correct(None, 120.0)


def test_score_counts_shares_over_tracks_with_a_truth() -> None:
    rows = [
        {"track_id": "a", "tempo_bpm": 121.0, "key": 9, "mode": 0},   # both right
        {"track_id": "b", "tempo_bpm": 180.0, "key": 0, "mode": 0},   # octave error, wrong mode
        {"track_id": "unknown", "tempo_bpm": 100.0, "key": 1, "mode": 1},
    ]
    result = score(rows, TRUTH)
    assert (result["evaluated"], result["tempo_share"], result["key_share"]) == (2, 0.5, 0.5)
    assert result["passed"] is False
    assert [m["track_id"] for m in result["misses"]] == ["b"]
    # A track with a truth but no row (quarantined) is a miss, not left out.
    only_a = score(rows[:1], TRUTH)
    assert (only_a["evaluated"], only_a["tempo_share"], only_a["passed"]) == (2, 0.5, False)
    assert score(rows[:1], {"a": TRUTH["a"]})["passed"] is True
    assert score([], {}) == {"evaluated": 0, "tempo_share": None, "key_share": None, "passed": False, "misses": []}
