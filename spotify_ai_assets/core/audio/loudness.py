"""Integrated loudness in LUFS (ITU-R BS.1770-4), the figure music people compare, beside the plain RMS dBFS.

Pure: numpy, scipy and pyloudnorm's K-weighting filters. pyloudnorm's `Meter.integrated_loudness` loops over the
400 ms blocks in Python and costs more than the rest of the analysis together (about 50 ms for 30 s of stereo);
this module applies the same two K-weighting biquads (taken from a pyloudnorm `Meter` at the signal's rate) with one
`sosfilt` over all channels, sums the blocks' mean squares with cumulative sums, and gates as BS.1770-4 says:
absolute gate -70 LUFS, then relative gate 10 LU below the loudness of the blocks above it. The tests check it
against `pyloudnorm.Meter.integrated_loudness` on the same signals.

Measured at the analysis rate (22 050 Hz): the K-weighting is defined for any rate, and what the resampling removes
(above 11 kHz) weighs a few hundredths of an LU in music.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

BLOCK_S = 0.4
OVERLAP = 0.75
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
# BS.1770 channel weights: L, R, C = 1.0; surround channels 1.41 (pyloudnorm's order: L, R, C, Ls, Rs).
CHANNEL_GAINS = (1.0, 1.0, 1.0, 1.41, 1.41)


@lru_cache(maxsize=8)
def _k_weighting(sr: int) -> np.ndarray:
    """The K-weighting filter (high shelf, then high pass) at `sr` as second-order sections, from pyloudnorm."""
    import pyloudnorm

    meter = pyloudnorm.Meter(sr)  # filter_class "K-weighting"
    stages = [meter._filters["high_shelf"], meter._filters["high_pass"]]
    return np.array([np.concatenate([stage.b, stage.a]) for stage in stages], dtype=np.float64)


def integrated_lufs(x: np.ndarray, sr: int) -> float | None:
    """Integrated loudness (LUFS) of `x`, shape (samples,) or (samples, channels <= 5), at `sr`.

    None when the signal is shorter than one 400 ms block or no block passes the -70 LUFS absolute gate (silence).
    """
    from scipy.signal import sosfilt

    data = np.asarray(x, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.shape[1] > len(CHANNEL_GAINS):
        raise ValueError(f"BS.1770 weights cover up to {len(CHANNEL_GAINS)} channels, got {data.shape[1]}")
    step = round(BLOCK_S * (1.0 - OVERLAP) * sr)  # 100 ms; a 400 ms block is 4 steps
    n_steps = len(data) // step
    if n_steps < 4:
        return None
    # float32 filtering and squares (half the memory traffic of float64), float64 sums per 100 ms step.
    weighted = sosfilt(_k_weighting(int(sr)).astype(np.float32), data[: n_steps * step], axis=0)
    squares = np.einsum("ij,ij,j->i", weighted, weighted, np.array(CHANNEL_GAINS[: data.shape[1]], np.float32))
    steps = squares.reshape(n_steps, step).sum(axis=1, dtype=np.float64)
    blocks = steps[:-3] + steps[1:-2] + steps[2:-1] + steps[3:]
    z = blocks / (4 * step)  # each 400 ms block's gain-weighted mean square, blocks 75% overlapping
    with np.errstate(divide="ignore"):
        loud = -0.691 + 10.0 * np.log10(z)
    above = z[loud >= ABSOLUTE_GATE]
    if len(above) == 0:
        return None
    relative = -0.691 + 10.0 * np.log10(above.mean()) + RELATIVE_GATE
    gated = z[(loud >= ABSOLUTE_GATE) & (loud > relative)]
    if len(gated) == 0:
        return None
    return float(-0.691 + 10.0 * np.log10(gated.mean()))
