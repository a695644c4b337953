"""Numba kernels of the audio analysis: loops numpy cannot vectorize without full-size temporaries.

Imported where used (numba takes a moment to import; `features.py` stays cheap to import for the Dagster
definitions). Compiled on first use and cached on disk like librosa's own (see `features.py` on NUMBA_CACHE_DIR).
"""

from __future__ import annotations

import numba
import numpy as np

ROLLOFF_BLOCK = 8  # frames walked side by side: independent float32 sums, so the additions overlap


@numba.njit(cache=True, nogil=True)
def rolloff_bins(S: np.ndarray, roll_percent: np.float32) -> np.ndarray:  # pragma: no cover - numba
    """Per frame (column) of the magnitude spectrogram `S` (bins, frames) float32, the first bin where the running
    sum over frequency reaches `roll_percent` of the frame's total: librosa.feature.spectral_rolloff's bin.

    librosa takes `np.cumsum(S, axis=-2)` (float32, summed bin after bin) and the first bin whose running sum is at
    least roll_percent * the last; here the same float32 additions in the same order give the same sums, without
    the (bins, frames) cumulative array and its comparison mask. The second walk stops at the roll-off bin.
    """
    n_bins, n = S.shape
    out = np.zeros(n, np.int64)
    total = np.zeros(ROLLOFF_BLOCK, np.float32)
    running = np.zeros(ROLLOFF_BLOCK, np.float32)
    found = np.zeros(ROLLOFF_BLOCK, np.bool_)
    for j0 in range(0, n, ROLLOFF_BLOCK):
        width = min(ROLLOFF_BLOCK, n - j0)
        total[:] = 0.0
        for i in range(n_bins):
            for k in range(width):
                total[k] += S[i, j0 + k]
        threshold = roll_percent * total
        running[:] = 0.0
        found[:] = False
        left = width
        for i in range(n_bins):
            for k in range(width):
                if not found[k]:
                    running[k] += S[i, j0 + k]
                    if running[k] >= threshold[k]:
                        out[j0 + k] = i
                        found[k] = True
                        left -= 1
            if left == 0:
                break
    return out
