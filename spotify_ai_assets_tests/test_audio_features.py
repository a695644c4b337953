"""The pure audio core: sandbox clips with a known tempo and key, feature extraction, bad input, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from spotify_ai_assets.core.audio.accuracy import tempo_correct
from spotify_ai_assets.core.audio.features import (
    FEATURE_COLUMNS,
    FEATURE_SCHEMA,
    AudioError,
    _no_beat,
    analyze_file,
    track_id_from_path,
)
from spotify_ai_assets.sandbox import audio
from spotify_ai_assets.sandbox.world import World

SR = 22050
# (format, sample rate, stereo) per clip: every container, a 44.1 kHz file and stereo files.
VARIANTS = [("wav", SR, False), ("flac", SR, False), ("ogg", SR, False), ("wav", 44100, True),
            ("flac", 44100, False), ("ogg", SR, True), ("mp3", 44100, False), ("flac", SR, True)]


@pytest.fixture(scope="module")
def picked(world: World) -> list[int]:
    """Eight tracks: four major and four minor."""
    major = [i for i in range(len(world.track_ids)) if world.track_mode[i] == 1][:4]
    minor = [i for i in range(len(world.track_ids)) if world.track_mode[i] == 0][:4]
    return major + minor


@pytest.fixture(scope="module")
def clips(world: World, picked: list[int], tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("clips")
    return {
        i: audio.write_clip(world, i, folder, fmt=fmt, sr=sr, stereo=stereo, seconds=20.0)
        for i, (fmt, sr, stereo) in zip(picked, VARIANTS, strict=True)
    }


@pytest.fixture(scope="module")
def rows(clips: dict[int, Path]) -> dict[int, dict]:
    return {i: analyze_file(p) for i, p in clips.items()}


def write_wav(path: Path, y: np.ndarray, sr: int = SR) -> Path:
    sf.write(path, y.astype(np.float32), sr)
    return path


# ---- sandbox audio -----------------------------------------------------------------------------------------------
def test_synthesize_is_deterministic_and_bounded(world: World) -> None:
    a = audio.synthesize(world, 3, seconds=5.0)
    b = audio.synthesize(World(seed=7, scale="tiny"), 3, seconds=5.0)
    assert a.dtype == np.float32 and a.shape == (5 * SR,)
    assert np.array_equal(a, b)
    assert np.abs(a).max() <= 1.0
    assert not np.array_equal(a, audio.synthesize(world, 4, seconds=5.0))


def test_write_clip_truth_and_deliveries(world: World, tmp_path: Path) -> None:
    path = audio.write_clip(world, 2, tmp_path, fmt="flac", stereo=True, seconds=2.0)
    assert path.name == f"{world.track_ids[2]}.flac"
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    info = sf.info(path)
    assert (info.channels, info.samplerate) == (2, SR)
    known = audio.truth(world, [2])[world.track_ids[2]]
    assert known == {"tempo_bpm": float(world.track_tempo[2]), "key": int(world.track_key[2]),
                     "mode": int(world.track_mode[2])}
    day = dt.date(2026, 1, 14)
    picks = audio.deliveries(world, day, 5)
    assert picks == audio.deliveries(world, day, 5) and len(picks) == 5
    assert all(world.track_release_ordinal[i] <= day.toordinal() for i in picks)
    assert picks != audio.deliveries(world, day + dt.timedelta(days=1), 5)


# ---- features ----------------------------------------------------------------------------------------------------
def test_known_tempo_and_key_are_recovered(world: World, rows: dict[int, dict], clips: dict[int, Path]) -> None:
    for i, row in rows.items():
        assert tempo_correct(row["tempo_bpm"], float(world.track_tempo[i])), (clips[i].name, row["tempo_bpm"])
        assert (row["key"], row["mode"]) == (world.track_key[i], world.track_mode[i]), (clips[i].name, row["key_name"])
        assert row["tempo_null_reason"] is None and row["tempo_confidence"] > 0.3


def test_row_shape_units_and_schema(world: World, rows: dict[int, dict], clips: dict[int, Path]) -> None:
    by_variant = dict(zip(clips, VARIANTS, strict=True))
    for i, row in rows.items():
        assert tuple(row) == FEATURE_COLUMNS
        assert row["track_id"] == world.track_ids[i]
        _, sr, stereo = by_variant[i]
        assert (row["sample_rate"], row["channels"]) == (sr, 2 if stereo else 1)
        assert row["duration_s"] == pytest.approx(20.0, abs=0.01)
        assert len(row["mfcc_mean"]) == len(row["mfcc_std"]) == 13 and len(row["chroma_mean"]) == 12
        assert -60 < row["loudness_dbfs"] < 0 and row["dynamic_range_db"] > 0
        assert 0 < row["spectral_centroid_hz"] < row["spectral_rolloff_hz"] < SR / 2
        for col in ("tempo_confidence", "key_confidence", "spectral_flatness", "danceability", "energy_score",
                    "valence"):
            assert 0.0 <= row[col] <= 1.0, col
        assert row["key_name"].split()[1] == ("major" if row["mode"] else "minor")
    table = pa.Table.from_pylist(list(rows.values()), schema=FEATURE_SCHEMA)
    assert table.num_rows == len(rows) and table.schema.names == list(FEATURE_COLUMNS)


def test_same_file_same_numbers(clips: dict[int, Path], rows: dict[int, dict]) -> None:
    i, path = next(iter(clips.items()))
    assert analyze_file(path) == rows[i]


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("0123456789abcdefghijAB.wav", b"", "empty"),
        ("0123456789abcdefghijAB.wav", bytes(np.random.default_rng(1).integers(0, 256, 40_000, dtype=np.uint8)),
         "not_audio"),
        ("0123456789abcdefghijAB.txt", b"hello", "not_audio"),
        ("notes.wav", b"these are my notes, not a song\n", "not_audio"),  # text renamed .wav
        ("any name at all.wav", b"RIFF", "not_audio"),
    ],
)
def test_unreadable_files_raise_their_kind(tmp_path: Path, name: str, content: bytes, kind: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError) as caught:
        analyze_file(path)
    assert caught.value.kind == kind
    assert name in caught.value.reason
    if kind == "not_audio":
        assert "not an audio file" in caught.value.reason and "pipe" not in caught.value.reason


def test_truncated_files(world: World, tmp_path: Path) -> None:
    for fmt in ("wav", "flac"):
        path = audio.write_clip(world, 1, tmp_path, fmt=fmt, seconds=4.0)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(AudioError) as caught:
            analyze_file(path)
        assert caught.value.kind == "truncated", (fmt, caught.value.reason)


def test_mp3_length_estimate_is_not_a_truncation(world: World, tmp_path: Path) -> None:
    # libmpg123 estimates a CBR MP3's frame count from its size: a whole low-bitrate file decodes a little short.
    signal = audio.synthesize(world, 5, seconds=12.0)
    path = tmp_path / "low bitrate.mp3"
    sf.write(path, signal, SR, format="MP3", subtype="MPEG_LAYER_III", compression_level=0.95,
             bitrate_mode="CONSTANT")
    row = analyze_file(path)
    assert row["duration_s"] == pytest.approx(12.0, abs=0.2) and row["track_id"] is None


def test_track_id_from_path() -> None:
    assert track_id_from_path("/x/0123456789abcdefghijAB.FLAC") == "0123456789abcdefghijAB"
    with pytest.raises(AudioError, match="bad_name"):
        track_id_from_path("0123456789abcdefghij-B.mp3")


def test_silence_short_and_beatless_audio_give_null_tempo(tmp_path: Path) -> None:
    t = np.arange(10 * SR) / SR
    rng = np.random.default_rng(3)
    # Speech-like noise bursts of random lengths at random gaps: no pulse.
    bursts = np.zeros(len(t))
    pos = 0
    while pos < len(t) - SR // 2:
        length = int(rng.uniform(0.08, 0.4) * SR)
        bursts[pos : pos + length] = 0.3 * rng.standard_normal(length) * np.hanning(length)
        pos += length + int(rng.uniform(0.05, 0.5) * SR)
    cases = {
        "silence": (np.zeros(len(t)), "silence"),
        "nearsilence": (1e-5 * rng.standard_normal(len(t)), "silence"),
        "short": (0.3 * np.sin(2 * np.pi * 440 * t[:SR]), "too_short"),
        "tone": (0.5 * np.sin(2 * np.pi * 220 * t), "no_beat"),
        "bursts": (bursts, "no_beat"),
    }
    key_reasons = {"silence": "silence", "nearsilence": "silence", "short": "too_short", "bursts": "noise"}
    for label, (signal, reason) in cases.items():
        path = write_wav(tmp_path / f"{label.ljust(22, 'x')}.wav", signal)
        row = analyze_file(path)
        assert tuple(row) == FEATURE_COLUMNS
        assert row["tempo_bpm"] is None and row["tempo_null_reason"] == reason, (label, row["tempo_null_reason"])
        assert all(not (isinstance(v, float) and not math.isfinite(v)) for v in row.values()), label
        if label in key_reasons:  # no tonal evidence to speak of: no key rather than a made-up one
            assert row["key"] is None and row["mode"] is None and row["key_name"] is None
            assert row["key_null_reason"] == key_reasons[label] and row["key_confidence"] == 0.0, label
        else:  # a lone A: either an A key or no tonal centre, never another tonic
            assert row["key"] in (9, None) and (row["key"] is not None or row["key_null_reason"] == "no_tonal_center")
    assert analyze_file(tmp_path / f"{'short'.ljust(22, 'x')}.wav")["duration_s"] == pytest.approx(1.0)


# ---- CLI ---------------------------------------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run([sys.executable, "-m", "spotify_ai_assets.audio", *args], capture_output=True, text=True,
                          env=env, timeout=180, check=False)


def test_cli_json_lines_any_name_and_errors(clips: dict[int, Path], tmp_path: Path) -> None:
    good = next(iter(clips.values()))
    renamed = tmp_path / f"My Song (final mix){good.suffix}"  # any name: the track-id rule is the landing zone's
    renamed.write_bytes(good.read_bytes())
    bad = tmp_path / "0123456789abcdefghijAB.wav"
    bad.write_bytes(b"")
    text = tmp_path / "readme.wav"
    text.write_text("this is a text file with an audio suffix\n")
    done = _cli("--json", str(good), str(bad), str(text), str(renamed))
    assert done.returncode == 1, done.stderr  # some files could not be read
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["track_id"] == good.stem and list(lines[0]) == list(FEATURE_COLUMNS)
    assert lines[1] == {"file": str(bad), "error": "empty", "reason": lines[1]["reason"]}
    assert lines[2]["error"] == "not_audio" and "not an audio file" in lines[2]["reason"]
    assert lines[3]["track_id"] is None and lines[3]["key"] == lines[0]["key"]
    assert _cli().returncode == 2  # usage error


def test_cli_help_and_table(clips: dict[int, Path]) -> None:
    helped = _cli("--help")
    assert helped.returncode == 0 and "--json" in helped.stdout and "LUFS" in helped.stdout
    folder = next(iter(clips.values())).parent
    table = _cli(str(folder))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["file", "length", "tempo", "key"] and len(lines) == 1 + len(clips)
    assert all(("major" in line or "minor" in line) and "kHz" in line for line in lines[1:])


def test_sandbox_writes_example_clips(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-m", "spotify_ai_assets.sandbox", "--scale", "tiny", "audio", "--out",
                           str(tmp_path / "examples"), "--count", "3", "--seconds", "12"],
                          capture_output=True, text=True, env=env, timeout=180, check=False)
    assert done.returncode == 0, done.stderr
    truth = json.loads((tmp_path / "examples" / "truth.json").read_text())
    assert len(truth) == 3 and len(done.stdout.splitlines()) == 3
    for name, known in truth.items():
        row = analyze_file(tmp_path / "examples" / name)
        assert tempo_correct(row["tempo_bpm"], known["tempo_bpm"]) and row["key_name"] == known["key_name"], name


def test_every_feature_column_is_described_once_in_the_module_table() -> None:
    from spotify_ai_assets.core.audio.features import FEATURE_COLUMNS, FEATURE_DOCS

    assert tuple(FEATURE_DOCS) == FEATURE_COLUMNS
    assert FEATURE_DOCS["key_null_reason"].startswith('None, "silence"') and FEATURE_DOCS["key"].endswith("(0..11)")


def test_fast_paths_match_the_library_calls_they_replace(clips: dict[int, Path], rows: dict[int, dict]) -> None:
    """Each shortcut of features.py against the library call it stands for, on the generated clips (issue 18)."""
    import hashlib

    import librosa
    import pyloudnorm

    from spotify_ai_assets.core.audio import features as F
    from spotify_ai_assets.core.audio import kernels, loudness

    wavs = [p for p in clips.values() if p.suffix == ".wav"]
    assert wavs
    for p in wavs:
        with sf.SoundFile(p) as fh:
            assert (fh.format, fh.subtype) == ("WAV", "PCM_16")  # the int16 fast path is the one taken
            fast = F._read_float32(fh)
        with sf.SoundFile(p) as fh:
            slow = fh.read(dtype="float32", always_2d=True)
        assert fast.dtype == slow.dtype and np.array_equal(fast, slow)

    for i, p in clips.items():
        y, _, _, _ = F.decode(p)
        for sig in (y, y[: 3 * F.N_FFT + 123]):  # a whole clip and an odd short length (padding at both ends)
            S = F._stft_magnitude(sig)
            S_lib = np.abs(librosa.stft(sig, n_fft=F.N_FFT, hop_length=F.HOP, center=True))
            assert S.dtype == S_lib.dtype and S.shape == S_lib.shape
            assert np.abs(S - S_lib).max() <= 1e-6 * S_lib.max()  # float32 FFT against librosa's float64 one
        S = F._stft_magnitude(y)
        power = S**2
        mel_dense = F._filters(F.SR)[0] @ power
        mel_bands = F._mel_power(power, F.SR)
        assert mel_bands.dtype == mel_dense.dtype and mel_bands.shape == mel_dense.shape
        assert np.abs(mel_bands - mel_dense).max() <= 1e-6 * mel_dense.max()
        # Spectral shape: the roll-off kernel's bins bit for bit with librosa's total (its last cumsum row), within
        # a bin in a few frames with the BLAS total; the frame means as librosa's to float32 rounding.
        freq = librosa.fft_frequencies(sr=F.SR, n_fft=F.N_FFT)
        rolloff_lib = librosa.feature.spectral_rolloff(S=S, sr=F.SR, n_fft=F.N_FFT)[0]
        cumsum_total = np.cumsum(S, axis=0)[-1]
        assert np.array_equal(freq[kernels.rolloff_bins(S, np.float32(0.85) * cumsum_total)], rolloff_lib)
        blas_bins = kernels.rolloff_bins(S, np.float32(0.85) * (np.ones(len(S), np.float32) @ S))
        lib_bins = np.searchsorted(freq, rolloff_lib)
        assert np.abs(blas_bins - lib_bins).max() <= 1
        assert np.count_nonzero(blas_bins != lib_bins) <= len(lib_bins) // 50
        shape = F._spectral_shape(S, freq)
        assert F._spectral_shape(S, freq, power) == pytest.approx(shape, rel=1e-6)  # the power given, as analyze does
        shape_lib = (librosa.feature.spectral_centroid(S=S, sr=F.SR, n_fft=F.N_FFT)[0].mean(),
                     librosa.feature.spectral_bandwidth(S=S, sr=F.SR, n_fft=F.N_FFT)[0].mean(),
                     rolloff_lib.mean(), librosa.feature.spectral_flatness(S=S)[0].mean())
        assert shape == pytest.approx(shape_lib, rel=1e-5)
        rms_lib = librosa.feature.rms(S=S, frame_length=F.N_FFT)[0]
        rms = F._rms_from_power(power)
        assert rms.shape == rms_lib.shape
        assert np.abs(rms - rms_lib).max() <= 2e-5 * rms_lib.max()
        assert rows[i]["content_sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
        # LUFS of the file at its own rate (>= 22 050 Hz) and channels: pyloudnorm's figure for the file (the row
        # rounds to 0.01).
        samples, file_sr = sf.read(p, always_2d=True)
        assert file_sr >= F.SR
        assert rows[i]["loudness_lufs"] == pytest.approx(
            pyloudnorm.Meter(file_sr).integrated_loudness(samples), abs=0.006)
        # LUFS: the lane-parallel K-weighting kernel against one float64 scipy sosfilt of each whole channel.
        data, _, _, _ = F.decode_channels(p)
        step = round(0.1 * F.SR)
        lanes = loudness._step_energies(data, F.SR, step, len(data) // step)
        scipy_sums = _step_energies_sosfilt(data, F.SR, step, len(data) // step)
        assert lanes.shape == scipy_sums.shape == (data.shape[1], len(data) // step)
        assert np.abs(lanes - scipy_sums).max() <= 1e-12 * scipy_sums.max()


def _step_energies_sosfilt(data: np.ndarray, sr: int, step: int, n_steps: int) -> np.ndarray:
    """loudness._step_energies by scipy: one float64 `sosfilt` per channel (the reference the kernel is held to)."""
    from scipy.signal import sosfilt

    from spotify_ai_assets.core.audio.loudness import _k_weighting

    weighted = sosfilt(_k_weighting(sr), data[: n_steps * step].astype(np.float64), axis=0)
    return (weighted**2).reshape(n_steps, step, data.shape[1]).sum(axis=1).T


def _pitch_spectrogram_plain(y: np.ndarray, sr: int) -> tuple[np.ndarray, float, float]:
    """key.pitch_spectrogram as first written (bins x frames, masked copies, 2-D indexing, a complex exp): the
    reference its faster reading is held to."""
    import scipy.fft

    from spotify_ai_assets.core.audio import key as K

    yk = K._decimate(y, sr)
    ksr = sr / K.DECIMATE
    frames = np.lib.stride_tricks.sliding_window_view(np.pad(yk, K.N_FFT // 2), K.N_FFT)[::K.HOP]
    mag = np.abs(scipy.fft.rfft(frames * K._window(), axis=1, workers=1)).T
    log_mag = np.log(np.maximum(mag, 1e-10))
    freqs = np.fft.rfftfreq(K.N_FFT, 1.0 / ksr)
    band = (freqs > 60) & (freqs < 2500)
    log_power = 2.0 * log_mag[band].astype(np.float64)
    power = mag[band].astype(np.float64) ** 2
    flat_frames = np.exp(log_power.mean(axis=0)) / np.maximum(power.mean(axis=0), 1e-20)
    flatness = float(np.average(flat_frames, weights=power.sum(axis=0)))
    centre = mag[1:-1]
    is_peak = (centre > mag[:-2]) & (centre >= mag[2:]) & (centre > K.PEAK_FLOOR * mag.max(axis=0, keepdims=True))
    is_peak[: int(30.0 * K.N_FFT / ksr)] = False
    rows, cols = np.nonzero(is_peak)
    la, lb, lc = log_mag[rows, cols], log_mag[rows + 1, cols], log_mag[rows + 2, cols]
    denom = la - 2 * lb + lc
    safe = np.where(np.abs(denom) > 1e-9, denom, 1.0)
    delta = np.clip(np.where(np.abs(denom) > 1e-9, 0.5 * (la - lc) / safe, 0.0), -0.5, 0.5)
    pitch = 69.0 + 12.0 * np.log2((rows + 1 + delta) * (ksr / K.N_FFT) / 440.0)
    amp = centre[rows, cols].astype(np.float64)
    tuning = float(np.angle(np.sum(amp * np.exp(2j * np.pi * (pitch - np.round(pitch))))) / (2 * np.pi))
    semis = np.round(pitch - tuning).astype(np.int64)
    keep = (semis >= K.LOW_PITCH) & (semis < K.HIGH_PITCH)
    out = np.zeros((K.HIGH_PITCH - K.LOW_PITCH) * mag.shape[1])
    out += np.bincount((semis[keep] - K.LOW_PITCH) * mag.shape[1] + cols[keep], weights=amp[keep] ** 2,
                       minlength=out.size)
    return out.reshape(K.HIGH_PITCH - K.LOW_PITCH, mag.shape[1]), 100.0 * tuning, flatness


def test_pitch_spectrogram_matches_its_plain_reading(clips: dict[int, Path]) -> None:
    """key.pitch_spectrogram (frames x bins, flat indices, sin/cos tuning sums) against the plain reference."""
    from spotify_ai_assets.core.audio import features as F
    from spotify_ai_assets.core.audio import key as K

    for p in clips.values():
        y, _, _, _ = F.decode(p)
        energy, tuning, flatness = K.pitch_spectrogram(y, F.SR)
        energy_ref, tuning_ref, flatness_ref = _pitch_spectrogram_plain(y, F.SR)
        assert np.array_equal(energy, energy_ref)  # the same peaks summed in the same order per cell
        assert tuning == pytest.approx(tuning_ref, abs=1e-9) and flatness == pytest.approx(flatness_ref, rel=1e-12)


def _grid_contrast_plain(env: np.ndarray, period: float, span: float = 0.04) -> tuple[float, float]:
    """features._grid_contrast as first written (the half-way points interpolated apart): its reference."""
    n = len(env)
    frames = np.arange(n)
    phases = np.linspace(0.0, 1.0, 16, endpoint=False)

    def search(periods: np.ndarray) -> tuple[float, float]:
        n_beats = int((n - 1) // periods.max() - 1.5)
        if n_beats < 4:
            return -np.inf, period
        pos = periods[:, None, None] * (phases[None, :, None] + np.arange(n_beats)[None, None, :])
        on = np.interp(pos, frames, env).mean(axis=2)
        off = np.interp(pos + periods[:, None, None] / 2, frames, env).mean(axis=2)
        contrast = (on - off).max(axis=1)
        best = int(np.argmax(contrast))
        return float(contrast[best]), float(periods[best])

    _, coarse = search(period * (1.0 + np.linspace(-span, span, 17)))
    return search(coarse * (1.0 + np.linspace(-0.005, 0.005, 21)))


def test_grid_contrast_matches_its_plain_reading() -> None:
    """The beat-grid search reads the half-way points off the same interpolation as the beats: the same contrast
    and period as interpolating them apart, on random envelopes and periods (and too short an envelope)."""
    from spotify_ai_assets.core.audio import features as F

    rng = np.random.default_rng(7)
    for trial in range(40):
        env = rng.gamma(0.5, 1.0, size=int(rng.integers(60, 1400)))
        period = float(rng.uniform(6.5, 22.0))
        got, want = F._grid_contrast(env, period), _grid_contrast_plain(env, period)
        assert got[1] == pytest.approx(want[1], rel=1e-12), trial
        assert got[0] == pytest.approx(want[0], rel=1e-9, abs=1e-12), trial


def test_lufs_of_low_rate_files_is_measured_at_the_analysis_rate(tmp_path: Path) -> None:
    """An 8 or 16 kHz file's LUFS comes from its signal resampled to 22 050 Hz (features.analyze_file)."""
    from spotify_ai_assets.core.audio import features as F
    from spotify_ai_assets.core.audio.loudness import integrated_lufs

    rng = np.random.default_rng(3)
    for sr, channels in ((8000, 1), (16000, 2)):
        t = np.arange(6 * sr) / sr
        x = 0.2 * np.sin(2 * np.pi * 330 * t)[:, None] + 0.05 * rng.standard_normal((len(t), channels))
        path = write_wav(tmp_path / f"low-{sr}.wav", x, sr)
        expected = integrated_lufs(F.decode_channels(path)[0], F.SR)
        assert expected is not None and analyze_file(path)["loudness_lufs"] == round(expected, 2)


def test_float_samples_with_nan_are_a_decode_error(tmp_path: Path) -> None:
    """Float WAV data is checked for NaN and infinity (integer PCM cannot hold them, so it is not scanned)."""
    y = np.sin(np.arange(SR * 4) / 10.0).astype(np.float32)
    y[1000] = np.nan
    path = tmp_path / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    with pytest.raises(AudioError) as err:
        analyze_file(path)
    assert err.value.kind == "decode_error" and "NaN" in err.value.reason


def test_fair_onset_and_harmonic_evidence_together_keep_a_beat() -> None:
    """Pulse clarity, onset evidence, harmonic evidence: a legato clip with both evidences fair but neither over its
    own threshold keeps its beat on their Stouffer sum; speech and noise bursts (largest values measured on the
    keyless clips and the burst signals of the test above) do not."""
    assert not _no_beat(0.03, 6.0, 3.5)  # (6.0 + 3.5) / sqrt 2 = 6.7
    assert not _no_beat(0.03, 4.5, 5.0) and not _no_beat(0.03, 7.0, 0.5) and not _no_beat(0.4, 1.0, 0.0)
    assert _no_beat(0.01, 4.34, 3.24)  # speech: 5.4
    assert _no_beat(0.11, 6.04, 1.83)  # noise bursts: 5.6
    assert _no_beat(0.12, 6.07, 0.77) and _no_beat(0.0, 0.0, 0.0)
