"""The numba compile lock: processes take turns (one compiles and writes the cache files while the others wait), the
wait is bounded, and an analysis takes the lock on its process's first clip only."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spotify_ai_assets.core.audio import compile_lock, features
from spotify_ai_assets.core.audio.compile_lock import one_compiler_at_a_time

HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from spotify_ai_assets.core.audio.compile_lock import one_compiler_at_a_time
    lock, log, hold = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])
    with one_compiler_at_a_time(lock) as held:
        with log.open("a") as fh:
            fh.write(f"{sys.argv[4]} start {held}\\n")
        print("in", flush=True)
        time.sleep(hold)
        with log.open("a") as fh:
            fh.write(f"{sys.argv[4]} end\\n")
""")


def _holder(lock: Path, log: Path, hold: float, name: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock), str(log), str(hold), name],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "in"  # it holds the lock now
    return proc


def test_a_second_process_waits_for_the_first_to_finish(tmp_path: Path) -> None:
    lock, log = tmp_path / "compile.lock", tmp_path / "log"
    first = _holder(lock, log, 1.0, "first")
    with one_compiler_at_a_time(lock, wait_s=60) as held:
        log.open("a").write("second start\n")
    assert first.wait(60) == 0
    assert held
    assert log.read_text().splitlines() == ["first start True", "first end", "second start"]


def test_the_wait_is_bounded(tmp_path: Path) -> None:
    lock, log = tmp_path / "compile.lock", tmp_path / "log"
    first = _holder(lock, log, 5.0, "first")
    try:
        with one_compiler_at_a_time(lock, wait_s=0.3) as held:
            assert not held  # went on without it
            assert log.read_text().splitlines() == ["first start True"]  # while the other still held it
    finally:
        first.kill()
        first.wait(10)


def test_an_unwritable_lock_folder_runs_the_block_without_a_lock(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with one_compiler_at_a_time(blocker / "compile.lock") as held:  # its folder is a file
        assert not held


def test_the_first_analysis_of_a_process_takes_the_lock_once(monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[bool] = []
    real = compile_lock.one_compiler_at_a_time

    def counting(*args: Any, **kwargs: Any) -> AbstractContextManager[bool]:
        taken.append(True)
        return real(*args, **kwargs)

    monkeypatch.setattr(compile_lock, "one_compiler_at_a_time", counting)
    monkeypatch.setattr(features, "_compiled", False)
    clip = features._warm_up_clip()
    first = features.analyze_signal(clip)
    second = features.analyze_signal(clip)
    assert taken == [True]
    assert first == second and first["tempo_bpm"] is not None and np.isfinite(first["loudness_lufs"])


def test_a_failed_warm_up_does_not_fail_the_first_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> np.ndarray:
        raise RuntimeError("warm-up clip unavailable")

    clip = features._warm_up_clip()
    monkeypatch.setattr(features, "_compiled", False)
    monkeypatch.setattr(features, "_warm_up_clip", broken)
    row = features.analyze_signal(clip)
    assert row["tempo_bpm"] is not None
