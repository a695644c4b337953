"""Deterministic, music-like audio clips for the sandbox world, with a known tempo and key.

Each track of a `World` gets a clip that is a pure function of (world.seed, track index): drums at the track's
true tempo (kick on every beat, snare on beats 2 and 4, hats on the eighths), a diatonic chord progression in
the track's true key and mode in which the tonic chord takes half of the bars (so key estimation is well posed),
a bass on the chord roots, and a timbre that depends on the genre.

The timbres are harmonic-rich, as real instruments are (the first version had 4-10 pure partials, which let a
detector that counts overtones as notes look good): up to 24 partials with a genre's spectral slope, upper partials
that die away faster than the fundamental (plucked and struck strings), string stiffness (partials stretched
sharp, as on a piano), odd-harmonic emphasis (reeds, drawbar organs), and two slightly detuned voices for pads and
strings (chorus). The bass has its own rich, fast-decaying partials.

Everything is vectorized numpy: one bar per distinct chord and one sample per drum are synthesized once and then
laid out along the clip, so a 30 s clip takes a few tens of milliseconds.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spotify_ai_assets.sandbox.world import EPOCH, GENRES, World

KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
FORMATS = {"wav": ("WAV", "PCM_16"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
           "mp3": ("MP3", "MPEG_LAYER_III")}

# Chord progressions as (root in semitones above the tonic, chord degree) per bar; the tonic takes half the bars.
MAJOR_PROGRESSIONS = ((0, 5, 7, 0), (0, 5, 0, 7), (0, 7, 5, 0), (0, 0, 5, 7))
MINOR_PROGRESSIONS = ((0, 5, 7, 0), (0, 5, 0, 7), (0, 8, 7, 0), (0, 0, 5, 7))
# Triad quality of the chord built on each scale step (major: I IV V major; minor: i iv minor, V with the leading
# tone, as in harmonic minor, and VI major).
MAJOR_TRIADS = {0: (0, 4, 7), 5: (0, 4, 7), 7: (0, 4, 7)}
MINOR_TRIADS = {0: (0, 3, 7), 5: (0, 3, 7), 7: (0, 4, 7), 8: (0, 4, 7)}


@dataclass(frozen=True)
class Timbre:
    harmonics: int  # partials per note
    brightness: float  # partial amplitude falls as 1 / h**rolloff; a smaller rolloff is brighter
    attack_s: float  # chord attack time
    restrike: bool  # chords struck on every beat (piano-like decay) instead of held for the bar
    drums: float  # drum level relative to the chords
    hats: float  # hi-hat level relative to the kick
    partial_decay: float = 0.0  # 1/s per harmonic number: partial h fades as exp(-partial_decay * h * t)
    stiffness: float = 0.0  # inharmonicity B: partial h sounds at h * f0 * sqrt(1 + B h^2)
    odd: float = 1.0  # amplitude factor of the even partials (< 1: hollow, reed- or organ-like)
    detune_cents: float = 0.0  # a second voice this many cents sharp (chorus); 0 = one voice


TIMBRES: dict[str, Timbre] = {
    "pop": Timbre(16, 1.1, 0.01, True, 1.0, 0.25, partial_decay=1.2, stiffness=0.0002),  # electric piano
    "rock": Timbre(24, 0.8, 0.005, True, 1.1, 0.3, partial_decay=0.8, stiffness=0.0001),  # bright guitar
    "hip-hop": Timbre(12, 1.4, 0.02, False, 1.3, 0.3, detune_cents=7.0),  # warm pad
    "electronic": Timbre(24, 0.9, 0.002, True, 1.2, 0.35, detune_cents=11.0),  # detuned saw
    "indie": Timbre(18, 1.0, 0.005, True, 0.9, 0.25, partial_decay=2.0),  # plucked steel strings
    "jazz": Timbre(14, 1.3, 0.01, True, 0.7, 0.3, partial_decay=1.5, stiffness=0.0004),  # piano
    "classical": Timbre(16, 1.2, 0.12, False, 0.6, 0.15, detune_cents=5.0),  # string section
    "r-n-b": Timbre(12, 1.3, 0.03, False, 1.0, 0.25, odd=0.5),  # drawbar organ
    "latin": Timbre(18, 1.0, 0.005, True, 1.0, 0.35, partial_decay=2.5),  # nylon guitar
    "metal": Timbre(24, 0.6, 0.002, True, 1.2, 0.35, partial_decay=0.3),  # distorted-bright
    "folk": Timbre(16, 1.1, 0.01, True, 0.7, 0.2, partial_decay=1.8, odd=0.8),  # accordion-ish / plucked
    "k-pop": Timbre(20, 0.9, 0.005, True, 1.1, 0.3, detune_cents=9.0),  # synth
}
assert set(TIMBRES) == set(GENRES)
BASS = Timbre(12, 1.1, 0.005, False, 0, 0, partial_decay=3.0, stiffness=0.0001)


def _midi_hz(note: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(note, dtype=np.float64) - 69.0) / 12.0)


def _tone(freqs: np.ndarray, length: int, sr: int, timbre: Timbre) -> np.ndarray:
    """Sum of harmonic-rich tones at `freqs` (Hz): partials above 0.45 sr dropped, scaled by note count."""
    t = np.arange(length) / sr
    h = np.arange(1, timbre.harmonics + 1, dtype=np.float64)
    stretch = h * np.sqrt(1.0 + timbre.stiffness * h**2)
    amp = 1.0 / h**timbre.brightness * np.where(h % 2 == 0, timbre.odd, 1.0)
    voices = [1.0] + ([2.0 ** (timbre.detune_cents / 1200)] if timbre.detune_cents else [])
    partials = np.concatenate([(freqs[:, None] * v * stretch[None, :]).ravel() for v in voices])
    amps = np.tile(amp, len(freqs) * len(voices)) / len(voices)
    numbers = np.tile(h, len(freqs) * len(voices))
    keep = partials < 0.45 * sr
    partials, amps, numbers = partials[keep], amps[keep], numbers[keep]
    # Each partial starts at a fixed pseudo-random phase (no peaky all-cosine onsets), decays by its number.
    phases = (np.arange(len(partials)) * 2.399963) % (2 * np.pi)
    waves = np.sin(2 * np.pi * partials[:, None] * t[None, :] + phases[:, None])
    if timbre.partial_decay:
        waves *= np.exp(-timbre.partial_decay * numbers[:, None] * t[None, :])
    return (amps @ waves) / len(freqs)


def _place(out: np.ndarray, template: np.ndarray, positions: np.ndarray, gains: np.ndarray) -> None:
    n = len(out)
    for pos, gain in zip(positions.tolist(), gains.tolist(), strict=True):
        if pos >= n:
            break
        end = min(n, pos + len(template))
        out[pos:end] += gain * template[: end - pos]


def synthesize(world: World, track_index: int, seconds: float = 30.0, sr: int = 22050) -> np.ndarray:
    """A mono float32 clip in [-1, 1] of track `track_index`, deterministic given (world.seed, track_index)."""
    i = int(track_index)
    rng = np.random.default_rng([world.seed, 0xA0D10, i])
    tempo = float(world.track_tempo[i])
    tonic = int(world.track_key[i])
    major = int(world.track_mode[i]) == 1
    timbre = TIMBRES[GENRES[int(world.track_genre[i])]]
    n = round(seconds * sr)
    beat = 60.0 * sr / tempo  # samples per beat (fractional; positions are rounded, never accumulated)
    offset = rng.uniform(0.0, beat)
    n_beats = int(np.ceil((n - offset) / beat)) + 1
    beat_pos = np.round(offset + beat * np.arange(n_beats)).astype(np.int64)
    eighth_pos = np.round(offset + beat / 2 * np.arange(2 * n_beats)).astype(np.int64)

    # ---- drums: one sample each, placed at the grid positions ---------------------------------------------
    t = np.arange(int(0.35 * sr)) / sr
    kick = np.sin(2 * np.pi * (45 * t + 75 * (1 - np.exp(-t / 0.03)) * 0.03)) * np.exp(-t / 0.09)
    ts = t[: int(0.2 * sr)]
    snare = (0.6 * rng.standard_normal(len(ts)) + 0.5 * np.sin(2 * np.pi * 185 * ts)) * np.exp(-ts / 0.05)
    th = t[: int(0.06 * sr)]
    hat = np.diff(rng.standard_normal(len(th) + 1)) * np.exp(-th / 0.012) * 0.5
    drums = np.zeros(n)
    _place(drums, kick, beat_pos, np.full(n_beats, 1.0))
    snare_beats = np.arange(n_beats) % 4
    _place(drums, snare, beat_pos[np.isin(snare_beats, (1, 3))], np.full(int(np.isin(snare_beats, (1, 3)).sum()), 0.7))
    hat_gain = np.where(np.arange(len(eighth_pos)) % 2 == 0, 1.0, 0.7) * timbre.hats
    _place(drums, hat, eighth_pos, hat_gain)

    # ---- harmony: one bar per distinct chord, laid out bar by bar ------------------------------------------
    progressions = MAJOR_PROGRESSIONS if major else MINOR_PROGRESSIONS
    triads = MAJOR_TRIADS if major else MINOR_TRIADS
    progression = progressions[int(rng.integers(len(progressions)))]
    bar = 4 * beat
    bar_len = int(np.ceil(bar)) + 1
    strike_len = int(np.ceil(beat)) + 1
    seg_len = strike_len if timbre.restrike else bar_len
    te = np.arange(seg_len) / sr
    attack = np.minimum(1.0, te / timbre.attack_s)
    release = np.minimum(1.0, (seg_len - 1 - np.arange(seg_len)) / (0.01 * sr))
    decay = np.exp(-te / (0.6 * beat / sr)) if timbre.restrike else np.ones(seg_len)
    envelope = attack * release * decay
    chord_notes = 60 + tonic % 12
    bass_root = 36 + tonic % 12
    segments: dict[int, np.ndarray] = {}
    for root in set(progression):
        notes = chord_notes + root + np.array(triads[root])
        notes = np.where(notes >= 72, notes - 12, notes)  # keep voicings in one octave around middle C
        chord = _tone(_midi_hz(notes), seg_len, sr, timbre) * envelope
        bass_env = np.minimum(1.0, te / 0.005) * release * np.exp(-te / (0.9 * beat / sr))
        bass = _tone(_midi_hz(np.array([bass_root + (root % 12)])), seg_len, sr, BASS)
        segments[root] = (0.55 * chord + 0.35 * bass * bass_env).astype(np.float64)
    harmony = np.zeros(n)
    n_bars = int(np.ceil(n_beats / 4))
    for b in range(n_bars):
        seg = segments[progression[b % len(progression)]]
        starts = beat_pos[4 * b : 4 * b + (4 if timbre.restrike else 1)]
        _place(harmony, seg, starts, np.ones(len(starts)))

    mix = timbre.drums * 0.6 * drums + harmony
    mix += 0.002 * rng.standard_normal(n)  # a little room noise, so no sample is digitally silent
    peak = float(np.max(np.abs(mix))) or 1.0
    level = rng.uniform(0.5, 0.95)
    return (mix * (level / peak)).astype(np.float32)


def write_clip(
    world: World,
    track_index: int,
    directory: str | os.PathLike,
    fmt: str = "wav",
    sr: int = 22050,
    stereo: bool = False,
    seconds: float = 30.0,
) -> Path:
    """Write `<track_id>.<fmt>` into `directory` atomically (a dot-named temporary file, then a rename)."""
    import soundfile as sf

    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    signal = synthesize(world, track_index, seconds=seconds, sr=sr)
    if stereo:
        # A slightly different right channel (quieter, one sample late), as real stereo mixes are.
        right = np.concatenate([[0.0], signal[:-1]]).astype(np.float32) * 0.9
        signal = np.stack([signal, right], axis=1)
    target = directory / f"{world.track_ids[int(track_index)]}.{fmt}"
    container, subtype = FORMATS[fmt]
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".{fmt}.part", dir=directory)
    os.close(fd)
    try:
        sf.write(tmp, signal, sr, format=container, subtype=subtype)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def truth(world: World, track_indices) -> dict[str, dict]:
    """The true tempo (BPM), key (0 = C .. 11 = B) and mode (1 major, 0 minor) of each track, by track id."""
    return {
        world.track_ids[int(i)]: {
            "tempo_bpm": float(world.track_tempo[int(i)]),
            "key": int(world.track_key[int(i)]),
            "mode": int(world.track_mode[int(i)]),
        }
        for i in track_indices
    }


def deliveries(world: World, day: dt.date, per_day: int) -> list[int]:
    """The track indices whose audio lands on `day`: `per_day` tracks already released by then, deterministic.

    A track is delivered at most once in a run of days that together cover the released catalogue: days after
    EPOCH walk through a fixed permutation of the tracks, skipping those not yet released.
    """
    n = len(world.track_ids)
    if per_day <= 0 or n == 0:
        return []
    order = np.random.default_rng([world.seed, 0xDE11]).permutation(n)
    released = order[world.track_release_ordinal[order] <= day.toordinal()]
    if len(released) == 0:
        return []
    start = ((day - EPOCH).days * per_day) % len(released)
    picks = np.take(released, np.arange(start, start + min(per_day, len(released))), mode="wrap")
    return sorted(int(p) for p in picks)
