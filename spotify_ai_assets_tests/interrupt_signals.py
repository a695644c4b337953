"""The interrupt signals a test process hands to the processes it starts.

A process started in the background by a non-interactive shell (`cmd &`, as CI scripts and `nohup` do) begins with
SIGINT ignored, and Python then installs no KeyboardInterrupt handler. Dagster maps SIGTERM to whatever SIGINT's
handler is whenever it runs a job in-process (`dagster._utils.interrupts.setup_interrupt_handlers`, called when
`capture_interrupts` ends), so after the first `materialize` in such a pytest worker SIGTERM is ignored too, and an
ignored signal survives fork and exec: every process the worker starts afterwards ignores SIGTERM. A clean CI run
saw both ends of it: the emulator CLI outliving SIGTERM (SigIgn 0x1005007), and a multiprocessing pool in a fork
server probe never ending, its `terminate()` (SIGTERM) ignored and its `join()` unbounded.
"""

from __future__ import annotations

import signal


def restore_interrupt_signals() -> list[str]:
    """Give SIGINT Python's KeyboardInterrupt handler and SIGTERM its default when they are ignored, as they are in a
    process started from the foreground; the names of the signals changed."""
    changed = []
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        changed.append("SIGINT")
    if signal.getsignal(signal.SIGTERM) is signal.SIG_IGN:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        changed.append("SIGTERM")
    return changed
