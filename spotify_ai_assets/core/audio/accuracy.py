"""How well extracted tempo and key match a known truth (the sandbox's), as shares of the tracks evaluated."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

TEMPO_TOLERANCE = 0.04
TEMPO_TARGET = 0.95
KEY_TARGET = 0.90  # the bar of the audio benchmark on rendered music (benchmarks/audio_accuracy.py)


def tempo_correct(estimate: float | None, truth: float, tolerance: float = TEMPO_TOLERANCE) -> bool:
    """Within `tolerance` of the truth; half or double the tempo (an octave error) is wrong."""
    return estimate is not None and abs(estimate - truth) <= tolerance * truth


def score(rows: Iterable[Mapping], truth: Mapping[str, Mapping]) -> dict:
    """Shares of the tracks in `truth` with a correct tempo and an exact key and mode."""
    evaluated = tempo_ok = key_ok = 0
    misses: list[dict] = []
    by_id = {row["track_id"]: row for row in rows}
    # A track with a truth but no row (its file was quarantined) counts as wrong, not as left out.
    for track_id, known in truth.items():
        row = by_id.get(track_id, {"track_id": track_id})
        evaluated += 1
        t_ok = tempo_correct(row.get("tempo_bpm"), float(known["tempo_bpm"]))
        k_ok = row.get("key") == known["key"] and row.get("mode") == known["mode"]
        tempo_ok += t_ok
        key_ok += k_ok
        if not (t_ok and k_ok) and len(misses) < 10:
            misses.append({"track_id": row["track_id"], "tempo": row.get("tempo_bpm"), "true_tempo": known["tempo_bpm"],
                           "key": [row.get("key"), row.get("mode")], "true_key": [known["key"], known["mode"]]})
    tempo_share = tempo_ok / evaluated if evaluated else None
    key_share = key_ok / evaluated if evaluated else None
    return {
        "evaluated": evaluated,
        "tempo_share": tempo_share,
        "key_share": key_share,
        "passed": bool(evaluated) and tempo_share >= TEMPO_TARGET and key_share >= KEY_TARGET,  # type: ignore[operator]
        "misses": misses,
    }
