"""A test process started with SIGINT ignored (in the background) must not hand an ignored SIGTERM to the processes
it starts after running Dagster in-process (interrupt_signals.py)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Runs Dagster in-process, then reports whether a process it starts ignores SIGTERM ("restore": after
# restore_interrupt_signals, as conftest's pytest_configure calls it).
_PROBE = """
import signal, subprocess, sys
if sys.argv[1:] == ["restore"]:
    from spotify_ai_assets_tests.interrupt_signals import restore_interrupt_signals
    restore_interrupt_signals()
import dagster as dg

@dg.asset
def one() -> int:
    return 1

assert dg.materialize([one]).success
status = subprocess.run(["cat", "/proc/self/status"], capture_output=True, text=True, timeout=30).stdout
ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn")).split()[1], 16)
print("child ignores SIGTERM:", bool(ignored >> (signal.SIGTERM - 1) & 1))
"""


def _child_ignores_sigterm(*args: str) -> bool:
    out = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=300,
                         check=True, cwd=Path(__file__).resolve().parents[1],
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `cmd &` starts it
    return out.stdout.strip().splitlines()[-1] == "child ignores SIGTERM: True"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads signal masks from /proc")
def test_processes_started_after_an_in_process_run_can_be_terminated() -> None:
    # Why conftest restores the signals: without it Dagster leaves SIGTERM ignored, and the children inherit it.
    assert _child_ignores_sigterm()
    assert not _child_ignores_sigterm("restore")
