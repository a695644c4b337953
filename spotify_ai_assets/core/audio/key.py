"""Musical key from a mono signal: a log-frequency pitch spectrogram, a chord reading, and the tonic by evidence.

Pure: numpy and scipy only. Why not the STFT chroma the other features share: at n_fft 2048 and 22 050 Hz a bin is
10.8 Hz wide, while C2 and C#2 are 3.9 Hz apart, so a bass note smears over several pitch classes; and a chroma
filter bank counts every overtone (the 3rd harmonic of C is a G), so a C major piece leans to G major, the error
the old detector made. Here:

1. Pitch spectrogram. The signal is decimated by 4 (5 512.5 Hz, fundamentals up to 2.7 kHz) and analysed with a
   4096-point window (0.74 s, 1.35 Hz bins, hop 0.19 s). Only spectral peaks count; each peak's frequency is
   refined by parabolic interpolation, the recording's tuning (offset from A440, in cents) is the circular mean of
   the peaks' offsets from the semitone grid, and each peak's energy goes to its tuned semitone (C1..D#7).
2. Chroma. Peak energies are compressed (square root, so one loud instrument does not drown the others) and folded
   into pitch classes twice: the bass register (below E3) and the rest.
3. Chords. Each frame's chroma is matched against major and minor triads and their sevenths (a Dm7 is read as D
   minor, not F major), smoothed over about a second, with a bonus for the chord whose root is in the bass.
4. Key. For each of the 24 keys, the score is the Pearson correlation of the clip's chroma with the key's
   Albrecht-Shanahan profile (from a corpus of real pieces; the Krumhansl-Kessler probe tones overweight the
   fifth), plus the evidence that its tonic is home: the share of time the tonic chord sounds, the share of the
   opening bar it takes (a loop such as I-V-vi-IV and its rotation vi-IV-I-V have the same notes; where the
   phrase starts is what a listener hears as home), and the share of the bass on the tonic. The weights were set on
   the development split of the rendered corpus (`spotify_ai_assets.sandbox.rendered`) and are reported on its
   held-out split, which uses other instruments and another seed.
5. Cadences. A major chord followed by the chord a fifth below (V -> I in major, V -> i in harmonic minor) is the
   resolution that names the tonic; the share of such resolutions landing on each chord is evidence for it as the
   tonic. It is what tells ii-V-I (whose notes fit the dominant's key as well) from a loop on the V, and it is
   silent for loops without a dominant resolution (I-V-vi-IV, i-VI-III-VII, modal vamps), so it never votes there.
6. Mode. Once the tonic is found, major or minor is the tonic's third: the minor third against the major third in
   the treble chroma. The key profiles decide it poorly in harmonic minor (V and often IV are major chords, so the
   leading tone and the raised sixth make the notes look major), and overtones lean major as well: the 5th harmonic
   of the tonic is its major third (two octaves up), so a minor tonic chord on a bright instrument sounds a little
   of both thirds. The minor third is a fundamental of i, III and VI in minor and is foreign to a major key, so its
   share of the two thirds is the cue a listener uses.

Honest confidence: no key (None, with `null_reason`) when nothing pitched stands out of the spectrum ("noise":
white or pink noise, applause, wind), or no key profile fits ("no_tonal_center": speech, atonal clusters, chromatic
runs). Otherwise `confidence` grows with the margin of the best key's score over the runner-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

DECIMATE = 4
N_FFT = 4096
HOP = 1024
LOW_PITCH, HIGH_PITCH = 24, 100  # MIDI C1 .. D#7: fundamentals that fit under the decimated Nyquist
BASS_BELOW = 52  # E3: the bass register
PEAK_FLOOR = 0.01  # a spectral peak counts when above 1% of its frame's largest
ACTIVE_FLOOR = 0.05  # frames with less than 5% of the loudest frame's pitch energy are not read for chords
CHORD_SMOOTH_FRAMES = 5  # about one second
BASS_ROOT_BONUS = 0.5
# Key score weights (set on the development split only; see the module docstring).
W_TONIC_CHORD = 0.4
W_OPENING = 0.4
W_BASS_TONIC = 0.5
# The parallel-mode decision (C major or C minor once C is the tonic) by the tonic's own third; not fitted: the same
# weight as the tonic-chord share, so it settles a close call between parallel keys and cannot outvote a clear fit.
W_THIRD = W_TONIC_CHORD
# Authentic cadences (a major chord resolving down a fifth: V -> I, V -> i): the same weight as the opening bar.
W_CADENCE = W_OPENING
MIN_CHORD_FRAMES = 2  # a chord reading shorter than this (~0.4 s) is a flicker between readings, not a chord
OPENING_S = 2.5  # the opening bar when the tempo is unknown
# Evidence floors for a key at all, set between the development split (profile fit 0.75..0.98, flatness < 0.1)
# and espeak-ng speech, white/pink noise and atonal clusters (fit 0.16..0.55; noise flatness 0.36..0.56).
MAX_NOISE_FLATNESS = 0.25
MIN_PROFILE_FIT = 0.65
CONFIDENCE_MARGIN = 0.3  # a score margin this large or more over the runner-up is full confidence

# Albrecht & Shanahan (2013): pitch-class distributions of major and minor pieces, tonic first.
AS_MAJOR = np.array([0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081])
AS_MINOR = np.array([0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052])


def _zscore_rows(m: np.ndarray) -> np.ndarray:
    return (m - m.mean(axis=1, keepdims=True)) / m.std(axis=1, keepdims=True)


def _profiles() -> np.ndarray:
    """(24, 12): rows 0..11 major keys on C..B, 12..23 minor keys; z-scored for Pearson correlation."""
    return _zscore_rows(np.array([np.roll(p, t) for p in (AS_MAJOR, AS_MINOR) for t in range(12)], dtype=np.float64))


def _chord_templates() -> tuple[np.ndarray, np.ndarray]:
    """(60, 12) z-scored templates and the key row (0..23) each maps to: triads, then maj7, dom7 (-> major), min7."""
    rows, targets = [], []
    for shape, minor in (((0, 4, 7), False), ((0, 3, 7), True), ((0, 4, 7, 11), False), ((0, 4, 7, 10), False),
                         ((0, 3, 7, 10), True)):
        for root in range(12):
            row = np.zeros(12)
            row[[(root + s) % 12 for s in shape]] = 1.0
            rows.append(row)
            targets.append(root + (12 if minor else 0))
    return _zscore_rows(np.array(rows)), np.array(targets)


KEY_PROFILES = _profiles()
CHORD_TEMPLATES, CHORD_KEYS = _chord_templates()


@dataclass(frozen=True)
class KeyEstimate:
    key: int | None  # tonic pitch class 0 = C .. 11 = B
    mode: int | None  # 1 major, 0 minor
    confidence: float  # 0..1 (0 when key is None)
    null_reason: str | None  # None, "noise" or "no_tonal_center"
    tuning_cents: float | None  # the recording's offset from A440 equal temperament (None without a key)
    chroma: np.ndarray  # (12,) mean chroma, max 1 (zeros if nothing pitched)


def _decimate(y: np.ndarray, sr: int) -> np.ndarray:
    """`y` at sr / DECIMATE: soxr (a fifth of the CPU of scipy's polyphase FIR here), scipy where it is missing."""
    try:
        import soxr

        return soxr.resample(y, sr, sr / DECIMATE, quality="HQ").astype(np.float32, copy=False)
    except ImportError:  # pragma: no cover - soxr is a dependency
        from scipy.signal import resample_poly

        return resample_poly(y, 1, DECIMATE).astype(np.float32)


def pitch_spectrogram(y: np.ndarray, sr: int) -> tuple[np.ndarray, float, float]:
    """(semitone energies (HIGH_PITCH - LOW_PITCH, frames), tuning in cents, spectral flatness 0..1) of `y` at `sr`.

    Flatness is that of the long-window power spectrum between 60 Hz and 2.5 kHz, averaged over the frames
    (weighted by their energy): about 0.5 for white noise, below 0.1 for pitched music.
    """
    import scipy.fft

    yk = _decimate(y, sr)
    ksr = sr / DECIMATE
    if len(yk) < N_FFT:
        yk = np.pad(yk, (0, N_FFT - len(yk)))
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(yk, N_FFT // 2), N_FFT)[::HOP]
    # (frames, bins) float32 as the FFT returns it: every step below runs along the contiguous bins of a frame.
    mag = np.abs(scipy.fft.rfft(frames * _window(), axis=1, workers=1))
    n_frames, n_bins = mag.shape
    log_mag = np.log(np.maximum(mag, 1e-10))
    freqs = np.fft.rfftfreq(N_FFT, 1.0 / ksr)
    band = np.flatnonzero((freqs > 60) & (freqs < 2500))
    lo, hi = int(band[0]), int(band[-1]) + 1  # a contiguous run of bins: slices, not masked copies
    log_power = 2.0 * log_mag[:, lo:hi].mean(axis=1, dtype=np.float64)
    power = np.square(mag[:, lo:hi], dtype=np.float64)
    flat_frames = np.exp(log_power) / np.maximum(power.mean(axis=1), 1e-20)
    loud = power.sum(axis=1)
    flatness = float(np.average(flat_frames, weights=loud)) if loud.sum() > 0 else 1.0

    # Peaks: above both neighbours and PEAK_FLOOR of the frame's largest; flat indices into `mag`, frame by frame.
    centre = mag[:, 1:-1]
    is_peak = np.zeros(mag.shape, dtype=bool)
    np.greater(centre, PEAK_FLOOR * mag.max(axis=1, keepdims=True), out=is_peak[:, 1:-1])
    is_peak[:, 1:-1] &= (centre > mag[:, :-2]) & (centre >= mag[:, 2:])
    is_peak[:, : int(30.0 * N_FFT / ksr) + 1] = False  # below 30 Hz: rumble, not pitch
    at = np.flatnonzero(is_peak)
    cols, bins = np.divmod(at, n_bins)  # frame, bin
    flat_log = log_mag.reshape(-1)
    la, lb, lc = flat_log[at - 1], flat_log[at], flat_log[at + 1]
    denom = la - 2 * lb + lc
    safe = np.where(np.abs(denom) > 1e-9, denom, 1.0)
    delta = np.clip(np.where(np.abs(denom) > 1e-9, 0.5 * (la - lc) / safe, 0.0), -0.5, 0.5)
    freq = (bins + delta) * (ksr / N_FFT)
    pitch = 69.0 + 12.0 * np.log2(freq / 440.0)
    amp = mag.reshape(-1)[at].astype(np.float64)
    offsets = pitch - np.round(pitch)
    # The circular mean of the offsets, weighted by amplitude: cos and sin sums (a complex exp costs 5x more).
    turn = 2 * np.pi * offsets
    tuning = float(np.arctan2(amp @ np.sin(turn), amp @ np.cos(turn)) / (2 * np.pi)) if len(amp) else 0.0
    semis = np.round(pitch - tuning).astype(np.int64)
    keep = (semis >= LOW_PITCH) & (semis < HIGH_PITCH)
    flat_index = (semis[keep] - LOW_PITCH) * n_frames + cols[keep]
    out = np.bincount(flat_index, weights=amp[keep] ** 2, minlength=(HIGH_PITCH - LOW_PITCH) * n_frames)
    return out.reshape(HIGH_PITCH - LOW_PITCH, n_frames), 100.0 * tuning, flatness


def _cadence_share(chords: np.ndarray) -> np.ndarray:
    """(24,) share of the authentic cadences (a major chord, then the chord whose root is a fifth below, net of the
    moves from that root up to its dominant) landing on each root, for its major and minor key alike (0..11 major,
    12..23 minor), from the frame-by-frame chord readings `chords`; zeros if there are none."""
    if len(chords) == 0:
        return np.zeros(24)
    change = np.flatnonzero(np.diff(chords)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [len(chords)]]))
    run = chords[starts][lengths >= MIN_CHORD_FRAMES]
    if len(run) > 1:
        run = run[np.concatenate([[True], run[1:] != run[:-1]])]  # a dropped flicker can join two equal runs
    src, dst = run[:-1], run[1:]
    resolves = (src < 12) & ((dst % 12) == (src + 5) % 12)
    departs = (dst % 12) == (src + 7) % 12  # tonic -> its dominant: the same pair the other way
    # Net of the two: a vamp swinging between two chords (Dm-G-Dm-G, a misread Dm as D) resolves nowhere.
    # Shares of all moves along a fifth (either way), so a few net resolutions in a long vamp weigh little.
    moves = int(resolves.sum() + departs.sum())
    net = np.maximum(np.bincount(dst[resolves] % 12, minlength=12) - np.bincount(src[departs] % 12, minlength=12), 0)
    counts = np.concatenate([net, net]).astype(np.float64)  # the root only: the mode is the third's business
    return counts / moves if moves else counts


@lru_cache(maxsize=1)
def _window() -> np.ndarray:
    return np.hanning(N_FFT).astype(np.float32)


def estimate_key(y: np.ndarray, sr: int, beat_s: float | None = None) -> KeyEstimate:
    """The key of mono signal `y` at `sr`; `beat_s` (the beat period, if known) sizes the opening bar."""
    from scipy.ndimage import uniform_filter1d

    energy, tuning_cents, flatness = pitch_spectrogram(y, sr)
    compressed = np.sqrt(energy)
    pitch_class = (np.arange(LOW_PITCH, HIGH_PITCH) % 12)
    is_bass = np.arange(LOW_PITCH, HIGH_PITCH) < BASS_BELOW
    fold = np.zeros((12, len(pitch_class)))
    fold[pitch_class, np.arange(len(pitch_class))] = 1.0
    bass = (fold * is_bass) @ compressed
    full = fold @ compressed  # (12, frames)
    mean = full.mean(axis=1)
    peak = float(mean.max())
    chroma = mean / peak if peak > 0 else np.zeros(12)

    if peak <= 0 or flatness > MAX_NOISE_FLATNESS:
        return KeyEstimate(None, None, 0.0, "noise", None, chroma)

    c = mean - mean.mean()
    sd = c.std()
    if sd <= 1e-12:
        return KeyEstimate(None, None, 0.0, "no_tonal_center", None, chroma)
    fit = KEY_PROFILES @ (c / sd) / 12.0  # Pearson correlation with each key's profile

    frame_energy = full.sum(axis=0)
    active = frame_energy > ACTIVE_FLOOR * frame_energy.max()
    z = full - full.mean(axis=0)
    z = z / (z.std(axis=0) + 1e-12)
    chord_fit = CHORD_TEMPLATES @ z / 12.0  # (60, frames)
    by_key = np.full((24, chord_fit.shape[1]), -np.inf)
    np.maximum.at(by_key, CHORD_KEYS, chord_fit)
    bass_share = bass / (bass.sum(axis=0) + 1e-12)
    by_key += BASS_ROOT_BONUS * np.vstack([bass_share, bass_share])
    by_key = uniform_filter1d(by_key, CHORD_SMOOTH_FRAMES, axis=1, mode="nearest")
    chords = np.argmax(by_key, axis=0)[active]
    tonic_share = np.bincount(chords, minlength=24) / max(1, len(chords))
    opening_frames = max(1, round((4 * beat_s if beat_s else OPENING_S) * sr / DECIMATE / HOP) + 1)
    opening = chords[:opening_frames]
    opening_share = np.bincount(opening, minlength=24) / max(1, len(opening))
    bass_mean = bass[:, active].mean(axis=1) if active.any() else np.zeros(12)
    bass_tonic = bass_mean / (bass_mean.sum() + 1e-12)

    treble = (full - bass)[:, active].mean(axis=1) if active.any() else mean
    minor_third, major_third = np.roll(treble, -3), np.roll(treble, -4)  # index t: the thirds above tonic t
    minorness = (minor_third - major_third) / (minor_third + major_third + 1e-12)  # -1 major .. 1 minor
    cadence = _cadence_share(chords)
    score = (fit + W_TONIC_CHORD * tonic_share + W_CADENCE * cadence + W_OPENING * opening_share
             + W_BASS_TONIC * np.concatenate([bass_tonic, bass_tonic]))
    # The third decides the mode only, once the tonic is chosen: added to every key it would also move the tonic
    # (a strong major third above the IV of a Dorian vamp is no evidence that IV is home).
    tonic = int(np.argmax(score)) % 12
    score[tonic] -= W_THIRD * minorness[tonic]
    score[tonic + 12] += W_THIRD * minorness[tonic]
    order = np.argsort(-score, kind="stable")
    best = int(order[0])
    if fit.max() < MIN_PROFILE_FIT:
        return KeyEstimate(None, None, 0.0, "no_tonal_center", None, chroma)
    margin = float(score[best] - score[order[1]])
    confidence = float(np.clip(margin / CONFIDENCE_MARGIN, 0.0, 1.0))
    return KeyEstimate(best % 12, 1 if best < 12 else 0, confidence, None, round(tuning_cents, 1), chroma)
