"""Per-track audio features computed from a landed clip whose file stem is the Spotify track id.

Pure: numpy, scipy, soundfile and librosa only (no dagster). One decode, one STFT magnitude (n_fft 2048, hop 512 at
22 050 Hz, so one frame is 23.2 ms) shared by every spectral feature, the mel spectrogram (MFCC, onset envelope) and
the chroma; tempo from the onset envelope, key from the mean chroma.

The row returned by `analyze_file` (columns in `FEATURE_COLUMNS` order, Arrow types in `FEATURE_SCHEMA`):

======================  ===========  =================================================================================
column                  unit         meaning
======================  ===========  =================================================================================
track_id                text         file stem, a 22-character base62 Spotify track id
file                    text         path of the analysed file, as given
content_sha256          hex          SHA-256 of the file's bytes
sample_rate             Hz           the file's own sample rate (analysis runs at 22 050 Hz)
channels                count        channels in the file (analysis uses their mean)
duration_s              s            decoded length
tempo_bpm               BPM          beats per minute, or None (see tempo_null_reason)
tempo_confidence        0..1         pulse clarity: normalized onset autocorrelation at the beat period
tempo_null_reason       text         None, "silence" (below -60 dBFS), "too_short" (< 3 s) or "no_beat" (no
                                     onsets, or pulse clarity below 0.2)
key                     0..11        tonic pitch class, 0 = C .. 11 = B, or None (silence, flat chroma, < 3 s)
mode                    0/1          1 major, 0 minor, or None
key_name                text         e.g. "A minor", or None
key_confidence          0..1         margin of the best over the second-best Krumhansl-Kessler correlation, / 0.25
loudness_dbfs           dBFS         RMS level of the whole mono signal relative to full scale (NOT LUFS: no
                                     K-weighting or gating); floored at -120
dynamic_range_db        dB           95th minus 10th percentile of frame RMS level (frames above -120 dBFS)
energy                  linear       mean frame RMS amplitude (full scale = 1)
spectral_centroid_hz    Hz           mean spectral centroid
spectral_bandwidth_hz   Hz           mean spectral bandwidth (2nd order)
spectral_rolloff_hz     Hz           mean 85% spectral roll-off frequency
spectral_flatness       0..1         mean spectral flatness (1 = white noise, 0 = pure tone)
zero_crossing_rate      per sample   share of adjacent sample pairs whose sign differs
onset_rate_per_s        1/s          detected onsets per second
mfcc_mean               13 floats    mean of 13 MFCCs (from the 128-band log-mel spectrogram, dB)
mfcc_std                13 floats    standard deviation of the 13 MFCCs
chroma_mean             12 floats    mean chroma (each frame max-normalized), C .. B
danceability            0..1         0.6 * tempo_confidence + 0.4 * closeness of tempo to 120 BPM (0 without tempo)
energy_score            0..1         mean of scaled loudness (-40..-6 dBFS), onset rate (0..8/s), centroid (0.5..4 kHz)
valence                 0..1         0.45 * mode (0.5 if unknown) + 0.3 * scaled tempo (60..180) + 0.25 * brightness
======================  ===========  =================================================================================

The last three are documented heuristics, not Spotify's models.

Bad input: `analyze_file` raises `AudioError` (with `kind` and `reason`) only when the file cannot be read as
audio; silence, clips shorter than 3 s and beatless audio return a row with ``tempo_bpm=None`` and the reason.

Numba: librosa's beat tracker and peak picker are numba functions compiled on first use (about 25 s cold). numba
caches them on disk next to librosa, or under ``NUMBA_CACHE_DIR`` when that is set (set it in the process
environment, e.g. the container image, to a writable persistent folder; this package never sets it).
"""

from __future__ import annotations

import hashlib
import os
import struct
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyarrow as pa

from spotify_ai_assets.core.audio.landing import AUDIO_SUFFIXES, name_problem

SR = 22050
N_FFT = 2048
HOP = 512
N_MELS = 128
N_MFCC = 13
N_LOW_MELS = 20  # mel bands below ~500 Hz
MIN_TEMPO_SECONDS = 3.0
SILENCE_DBFS = -60.0
FLOOR_DB = -120.0
TEMPO_RANGE = (60.0, 200.0)
NO_BEAT_CONFIDENCE = 0.2
# Onset envelope (mean positive log-mel flux, dB) 95th percentile below this: no onsets at all (a held tone).
MIN_ONSET_DB = 0.5
KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
ERROR_KINDS = ("bad_name", "empty", "truncated", "not_audio", "unknown_container", "decode_error")
# Krumhansl & Kessler (1982) probe-tone profiles, tonic first.
KK_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KK_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])

FEATURE_COLUMNS: tuple[str, ...] = (
    "track_id", "file", "content_sha256", "sample_rate", "channels", "duration_s",
    "tempo_bpm", "tempo_confidence", "tempo_null_reason",
    "key", "mode", "key_name", "key_confidence",
    "loudness_dbfs", "dynamic_range_db", "energy",
    "spectral_centroid_hz", "spectral_bandwidth_hz", "spectral_rolloff_hz", "spectral_flatness",
    "zero_crossing_rate", "onset_rate_per_s",
    "mfcc_mean", "mfcc_std", "chroma_mean",
    "danceability", "energy_score", "valence",
)  # fmt: skip

_FLOAT_LIST = pa.list_(pa.float64())
FEATURE_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("file", pa.string()), ("content_sha256", pa.string()),
    ("sample_rate", pa.int64()), ("channels", pa.int64()), ("duration_s", pa.float64()),
    ("tempo_bpm", pa.float64()), ("tempo_confidence", pa.float64()), ("tempo_null_reason", pa.string()),
    ("key", pa.int64()), ("mode", pa.int64()), ("key_name", pa.string()), ("key_confidence", pa.float64()),
    ("loudness_dbfs", pa.float64()), ("dynamic_range_db", pa.float64()), ("energy", pa.float64()),
    ("spectral_centroid_hz", pa.float64()), ("spectral_bandwidth_hz", pa.float64()),
    ("spectral_rolloff_hz", pa.float64()), ("spectral_flatness", pa.float64()),
    ("zero_crossing_rate", pa.float64()), ("onset_rate_per_s", pa.float64()),
    ("mfcc_mean", _FLOAT_LIST), ("mfcc_std", _FLOAT_LIST), ("chroma_mean", _FLOAT_LIST),
    ("danceability", pa.float64()), ("energy_score", pa.float64()), ("valence", pa.float64()),
])  # fmt: skip
assert tuple(FEATURE_SCHEMA.names) == FEATURE_COLUMNS


class AudioError(Exception):
    """A file that cannot be analysed: `kind` is one of ERROR_KINDS, `reason` names the file and the problem."""

    def __init__(self, kind: str, reason: str):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown AudioError kind {kind!r}")
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


# ---- names and decoding ------------------------------------------------------------------------------------------
def track_id_from_path(path: str | os.PathLike) -> str:
    """The track id of `<22-char base62 id>.<wav|flac|ogg|mp3>`; AudioError unknown_container / bad_name otherwise."""
    p = Path(path)
    problem = name_problem(p.name)
    if problem:
        raise AudioError("unknown_container" if p.suffix.lower() not in AUDIO_SUFFIXES else "bad_name", problem)
    return p.stem


def _wav_truncation(path: Path, size: int) -> str | None:
    """For a RIFF/WAVE file, why its header promises more bytes than the file holds, or None."""
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        declared = struct.unpack("<I", head[4:8])[0] + 8
        if declared != 0xFFFFFFFF + 8 and size < declared:
            return f"RIFF header declares {declared} bytes, file has {size}"
        # Walk the chunks up to `data`: its declared length must fit in the file.
        offset = 12
        while offset + 8 <= size:
            fh.seek(offset)
            chunk = fh.read(8)
            if len(chunk) < 8:
                break
            cid, clen = chunk[:4], struct.unpack("<I", chunk[4:8])[0]
            if cid == b"data":
                if clen != 0xFFFFFFFF and offset + 8 + clen > size:
                    return f"data chunk declares {clen} bytes, only {size - offset - 8} present"
                return None
            offset += 8 + clen + (clen & 1)
    return None


def _resample(y: np.ndarray, orig_sr: int, sr: int) -> np.ndarray:
    if orig_sr == sr:
        return y
    try:
        import soxr

        return soxr.resample(y, orig_sr, sr, quality="HQ").astype(np.float32, copy=False)
    except ImportError:  # pragma: no cover - soxr ships with librosa
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(orig_sr, sr)
        return resample_poly(y, sr // g, orig_sr // g).astype(np.float32)


def decode(path: str | os.PathLike, sr: int = SR) -> tuple[np.ndarray, int, int, float]:
    """(mono float32 signal at `sr`, the file's sample rate, its channels, duration in s); AudioError if unreadable."""
    import soundfile as sf

    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise AudioError("decode_error", f"{p}: cannot open: {exc.strerror or exc}") from exc
    if size == 0:
        raise AudioError("empty", f"{p}: file is 0 bytes")
    cut = _wav_truncation(p, size)
    if cut:
        raise AudioError("truncated", f"{p}: truncated: {cut}")
    try:
        fh = sf.SoundFile(p)
    except sf.LibsndfileError as exc:
        reason = f"{p}: not a readable audio container ({size} bytes): {exc.error_string}"
        raise AudioError("not_audio", reason) from exc
    except (RuntimeError, TypeError, ValueError) as exc:
        raise AudioError("not_audio", f"{p}: not a readable audio container ({size} bytes): {exc}") from exc
    with fh:
        orig_sr, channels, declared = int(fh.samplerate), int(fh.channels), int(fh.frames)
        try:
            data = fh.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            kind = "truncated" if declared > 0 else "decode_error"
            raise AudioError(kind, f"{p}: decoding failed after the header ({fh.format}): {exc}") from exc
    if declared > 0 and len(data) < declared:
        raise AudioError("truncated", f"{p}: header declares {declared} frames, only {len(data)} decoded")
    if len(data) == 0:
        raise AudioError("empty", f"{p}: {fh.format} container holds no audio frames")
    if orig_sr <= 0 or channels <= 0:
        raise AudioError("decode_error", f"{p}: invalid sample rate {orig_sr} or channel count {channels}")
    if not np.isfinite(data).all():
        raise AudioError("decode_error", f"{p}: decoded samples contain NaN or infinity")
    mono = data.mean(axis=1, dtype=np.float32) if channels > 1 else data[:, 0]
    mono = np.ascontiguousarray(_resample(mono, orig_sr, sr), dtype=np.float32)
    return mono, orig_sr, channels, len(data) / orig_sr


# ---- analysis ----------------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _filters(sr: int) -> tuple[np.ndarray, np.ndarray]:
    import librosa

    mel = librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)
    chroma = librosa.filters.chroma(sr=sr, n_fft=N_FFT, tuning=0.0).astype(np.float32)
    return mel, chroma


def _db(x: np.ndarray | float) -> np.ndarray:
    return np.maximum(FLOOR_DB, 20.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-12)))


def _scale(x: float, lo: float, hi: float) -> float:
    return float(np.clip((x - lo) / (hi - lo), 0.0, 1.0))


def _key_profiles() -> np.ndarray:
    """(24, 12) z-scored Krumhansl-Kessler profiles: rows 0..11 major on C..B, 12..23 minor on C..B."""
    rows = [np.roll(profile, tonic) for profile in (KK_MAJOR, KK_MINOR) for tonic in range(12)]
    m = np.array(rows)
    return (m - m.mean(axis=1, keepdims=True)) / m.std(axis=1, keepdims=True)


KEY_PROFILES = _key_profiles()


def _estimate_key(chroma_mean: np.ndarray) -> tuple[int, int, float] | None:
    """(tonic 0..11, mode 1/0, confidence 0..1) from Krumhansl-Kessler correlations over the 24 keys, or None when
    the chroma is flat (nothing to correlate).

    Confidence is the margin between the best and the second-best correlation, divided by 0.25 and clipped.
    """
    c = chroma_mean.astype(np.float64) - chroma_mean.mean()
    sd = c.std()
    if sd <= 1e-12:
        return None
    r = KEY_PROFILES @ (c / sd) / 12.0  # Pearson correlation with each of the 24 keys
    order = np.argsort(-r, kind="stable")
    best = int(order[0])
    margin = float(r[order[0]] - r[order[1]])
    return best % 12, 1 if best < 12 else 0, float(np.clip(margin / 0.25, 0.0, 1.0))


def _autocorr(x: np.ndarray) -> np.ndarray:
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    return np.fft.irfft(spec * np.conj(spec))[:n]


def _grid_contrast(env: np.ndarray, period: float, span: float = 0.04) -> tuple[float, float]:
    """(best contrast, its period) of beat grids near `period` frames: envelope on the beats minus half-way between.

    Periods within +-`span` (coarse, then a fine pass around the best, 0.05% steps) and 16 phases per period are
    tried. The grid at half the beat period scores low (its extra points fall on weak off-beats), the grid at
    double the period too (its half-way points are beats).
    """
    n = len(env)
    frames = np.arange(n)
    phases = np.linspace(0.0, 1.0, 16, endpoint=False)

    def search(periods: np.ndarray) -> tuple[float, float]:
        n_beats = int((n - 1) // periods.max() - 1.5)
        if n_beats < 4:
            return -np.inf, period
        # positions: (periods, phases, beats), all inside the envelope
        pos = periods[:, None, None] * (phases[None, :, None] + np.arange(n_beats)[None, None, :])
        on = np.interp(pos, frames, env).mean(axis=2)
        off = np.interp(pos + periods[:, None, None] / 2, frames, env).mean(axis=2)
        contrast = (on - off).max(axis=1)
        best = int(np.argmax(contrast))
        return float(contrast[best]), float(periods[best])

    _, coarse = search(period * (1.0 + np.linspace(-span, span, 17)))
    return search(coarse * (1.0 + np.linspace(-0.005, 0.005, 21)))


def _estimate_tempo(env: np.ndarray, fps: float) -> tuple[float, float]:
    """(tempo in BPM, pulse clarity 0..1) from an onset envelope at `fps` frames per second.

    1. The autocorrelation peak between 60 and 200 BPM (with a mild log-normal prior around 120 BPM) gives a
       tempo up to an octave. 2. Of half, once and twice that tempo, the one whose beat grid stands out most from
       the points half-way between beats wins; the same search refines the period to 0.1%.
    """
    x = env - env.mean()
    ac = _autocorr(x)
    if len(env) < 8 or ac[0] <= 0:
        return 0.0, 0.0
    ac = ac / ac[0]
    lo, hi = TEMPO_RANGE
    bpms = np.geomspace(lo, hi, 600)
    sal = np.interp(60.0 * fps / bpms, np.arange(len(ac)), ac)
    weighted = sal * np.exp(-0.5 * np.log2(bpms / 120.0) ** 2)
    first = float(bpms[int(np.argmax(weighted))])
    best_contrast, best_period = -np.inf, 60.0 * fps / first
    for bpm in (first / 2, first, first * 2):
        if not lo * 0.97 <= bpm <= hi * 1.03:
            continue
        contrast, period = _grid_contrast(env, 60.0 * fps / bpm)
        if contrast > best_contrast:
            best_contrast, best_period = contrast, period
    if not np.isfinite(best_contrast):
        return 0.0, 0.0
    confidence = float(np.clip(np.interp(best_period, np.arange(len(ac)), ac), 0.0, 1.0))
    return 60.0 * fps / best_period, confidence


def _spectral_shape(S: np.ndarray, freq: np.ndarray) -> tuple[float, float, float, float]:
    """Frame means of centroid, bandwidth (p=2), 85% roll-off (Hz) and flatness of magnitude spectrogram S.

    Matches librosa.feature.spectral_centroid / spectral_bandwidth / spectral_rolloff / spectral_flatness with
    ``S=S`` (amin 1e-10, power 2 for flatness); all-zero frames count as 0 Hz (and flatness 1).
    """
    if S.shape[1] == 0:
        return 0.0, 0.0, 0.0, 0.0
    f = freq.astype(np.float32)[:, None]
    total = S.sum(axis=0)
    safe = np.where(total > 0, total, 1.0)
    centroid = (f * S).sum(axis=0) / safe
    bandwidth = np.sqrt(np.maximum(0.0, ((f - centroid[None, :]) ** 2 * S).sum(axis=0) / safe))
    cum = np.cumsum(S, axis=0)
    idx = np.argmax(cum >= 0.85 * cum[-1:, :], axis=0)
    rolloff = np.where(total > 0, freq[idx], 0.0)
    centroid = np.where(total > 0, centroid, 0.0)
    bandwidth = np.where(total > 0, bandwidth, 0.0)
    power = np.maximum(S * S, 1e-10)
    flatness = np.exp(np.log(power).mean(axis=0)) / power.mean(axis=0)
    flat = float(np.clip(flatness.mean(), 0.0, 1.0))
    return float(centroid.mean()), float(bandwidth.mean()), float(rolloff.mean()), flat


def analyze_signal(y: np.ndarray, sr: int = SR) -> dict:
    """The signal-derived features (everything but the file columns) of a mono float32 signal at `sr`."""
    import librosa

    duration = len(y) / sr
    loudness = float(_db(np.sqrt(np.mean(np.square(y, dtype=np.float64)))))
    S = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True))  # magnitude, shared by everything below
    power = S**2
    mel_fb, chroma_fb = _filters(sr)
    mel_db = librosa.power_to_db(mel_fb @ power)
    freq = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)

    rms = librosa.feature.rms(S=S, frame_length=N_FFT)[0]
    rms_db = _db(rms)
    audible = rms_db[rms_db > FLOOR_DB]
    dynamic_range = float(np.percentile(audible, 95) - np.percentile(audible, 10)) if len(audible) else 0.0
    # The four spectral shape features, computed once from S as librosa.feature.spectral_{centroid, bandwidth,
    # rolloff, flatness}(S=S) define them (same formulas, one pass instead of four validations and normalizations).
    centroid, bandwidth, rolloff, flatness = _spectral_shape(S, freq)
    signs = np.signbit(y)
    zcr = float(np.count_nonzero(signs[1:] != signs[:-1]) / max(1, len(y) - 1))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=N_MFCC)
    chroma = chroma_fb @ power
    chroma = chroma / np.maximum(chroma.max(axis=0, keepdims=True), 1e-10)
    chroma_mean = chroma.mean(axis=1)

    env = librosa.onset.onset_strength(S=mel_db, sr=sr, hop_length=HOP)
    # Beat-level envelope: kick, bass and chord changes live below ~500 Hz, hi-hats (eighths) do not.
    env_low = librosa.onset.onset_strength(S=mel_db[:N_LOW_MELS], sr=sr, hop_length=HOP)
    beat_env = env_low / (env_low.std() + 1e-9) + 0.3 * env / (env.std() + 1e-9)
    fps = sr / HOP
    silent = loudness < SILENCE_DBFS
    if silent:
        onset_rate = 0.0
    else:
        onsets = librosa.onset.onset_detect(onset_envelope=env, sr=sr, hop_length=HOP, units="frames")
        onset_rate = len(onsets) / duration if duration > 0 else 0.0

    tempo: float | None = None
    tempo_conf = 0.0
    null_reason: str | None = None
    if silent:
        null_reason = "silence"
    elif duration < MIN_TEMPO_SECONDS:
        null_reason = "too_short"
    elif np.percentile(env, 95) < MIN_ONSET_DB:
        null_reason = "no_beat"
    else:
        bpm, tempo_conf = _estimate_tempo(beat_env, fps)
        if bpm <= 0 or tempo_conf < NO_BEAT_CONFIDENCE:
            null_reason = "no_beat"
        else:
            tempo = round(bpm, 2)

    estimate = None if silent or duration < MIN_TEMPO_SECONDS else _estimate_key(chroma_mean)
    if estimate is None:  # no tonal evidence (silence, a flat chroma, too short a clip): no key, not "C major"
        key = mode = key_name = None
        key_conf = 0.0
    else:
        key, mode, key_conf = estimate
        key_name = f"{KEY_NAMES[key]} {'major' if mode else 'minor'}"

    tempo_pref = float(np.exp(-0.5 * (np.log2(tempo / 120.0) / 0.5) ** 2)) if tempo else 0.0
    danceability = 0.6 * tempo_conf + 0.4 * tempo_pref if tempo else 0.0
    energy_score = (_scale(loudness, -40, -6) + _scale(onset_rate, 0, 8) + _scale(centroid, 500, 4000)) / 3
    valence = (0.45 * (0.5 if mode is None else float(mode)) + 0.3 * (_scale(tempo, 60, 180) if tempo else 0.5)
               + 0.25 * _scale(centroid, 500, 4000))
    return {
        "tempo_bpm": tempo,
        "tempo_confidence": round(float(tempo_conf), 4),
        "tempo_null_reason": null_reason,
        "key": key,
        "mode": mode,
        "key_name": key_name,
        "key_confidence": round(float(key_conf), 4),
        "loudness_dbfs": loudness,
        "dynamic_range_db": dynamic_range,
        "energy": float(rms.mean()),
        "spectral_centroid_hz": centroid,
        "spectral_bandwidth_hz": bandwidth,
        "spectral_rolloff_hz": rolloff,
        "spectral_flatness": flatness,
        "zero_crossing_rate": zcr,
        "onset_rate_per_s": float(onset_rate),
        "mfcc_mean": [float(v) for v in mfcc.mean(axis=1)],
        "mfcc_std": [float(v) for v in mfcc.std(axis=1)],
        "chroma_mean": [float(v) for v in chroma_mean],
        "danceability": float(np.clip(danceability, 0, 1)),
        "energy_score": float(np.clip(energy_score, 0, 1)),
        "valence": float(np.clip(valence, 0, 1)),
    }


def analyze_file(path: str | os.PathLike) -> dict:
    """One feature row (keys exactly FEATURE_COLUMNS) for a landed clip; AudioError only if it cannot be read."""
    p = Path(path)
    track_id = track_id_from_path(p)
    y, orig_sr, channels, duration = decode(p)
    digest = hashlib.sha256(p.read_bytes()).hexdigest()
    row = {
        "track_id": track_id,
        "file": str(path),
        "content_sha256": digest,
        "sample_rate": orig_sr,
        "channels": channels,
        "duration_s": float(duration),
        **analyze_signal(y, SR),
    }
    return {c: row[c] for c in FEATURE_COLUMNS}
