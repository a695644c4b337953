"""An audio evaluation corpus that the analysis was not tuned to: MIDI rendered by FluidSynth with real GM samples.

Each clip is a pure function of (split, index): `plan_clip` draws a key, mode, progression, tempo, arrangement and
codec from a seeded generator; `midi_for` writes the notes with pretty_midi; FluidSynth renders them with the
General MIDI soundfont (Debian `fluidsynth` and `fluid-soundfont-gm`); the result is cut to the clip length and
encoded (WAV/FLAC at 8-48 kHz, MP3/OGG at low bitrates, mono or stereo). Files are cached on disk under a folder
named for the corpus version, so a second run renders nothing; nothing is committed to the repository.

Four splits with different seeds AND different instrument programs for every role: `dev` is the one the analysis
was developed against; `heldout` was only reported (its figures were seen once during development, before the
pulse rule and the tempo envelope were final); `fresh` was rendered and first scored in the final benchmark run;
`final` (issue 18) adds instruments none of the others use (sitar, banjo, shamisen, koto, mallets, reeds), seven
drum kits and two progressions that end on the dominant (I-IV-I-V, i-iv-i-v); it is for measuring, not designing.
All cover every category of the issue
(piano, guitar, strings, organ, brass, synth pads, bass; I-IV-V, I-V-vi-IV, ii-V-I, i-iv-v, i-VI-III-VII, modal;
60-200 BPM with and without drums; swing; tempo drift; key changes; capo-style transposition; codecs).

What the truth is (`ClipPlan.truth`):
- key and mode: the key the clip is notated in for the majority of its length. A key change happens at 62-72% of
  the clip, so the first key holds for at least 62% of it; the second key is recorded apart (`second_key`).
- modal clips: the modal tonic, with the mode named by its third: Dorian and Aeolian are minor, Mixolydian and
  Lydian major (D Dorian is "D minor", G Mixolydian is "G major"), as a musician would name the tonal centre.
- capo-style transposition: the sounding key (chord shapes of G played with a capo on 2 sound in A: truth A).
- tempo: the notated quarter-note BPM. With drift, the tempo ramps linearly in time from (1 - d/2) to (1 + d/2)
  times the notated BPM (d up to 6%), so the notated BPM is the tempo at mid-clip and the clip's mean; an
  estimate at half or double it is an octave error and counts wrong (accuracy.tempo_correct).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

CORPUS_VERSION = "r1"
SOUNDFONT_CANDIDATES = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
RENDER_SR = 44100
KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
SPLIT_SEEDS = {"dev": 20261, "heldout": 90417, "fresh": 55331, "final": 73907}

# GM programs (0-based) per category; each split draws from its own programs, so the held-out clips are played by
# instruments (sample sets) the development never heard.
PROGRAMS: dict[str, dict[str, tuple[int, ...]]] = {
    "dev": {
        "piano": (0, 4), "guitar": (25, 27), "strings": (48,), "organ": (16,), "brass": (61,),
        "pad": (89,), "bass": (33, 38), "lead": (73, 65, 81),
    },
    "heldout": {
        "piano": (1, 5, 2), "guitar": (24, 26), "strings": (49, 44), "organ": (17, 19), "brass": (62, 56),
        "pad": (88, 90), "bass": (32, 34, 39), "lead": (71, 40, 80),
    },
    "fresh": {
        "piano": (3, 6, 7), "guitar": (28, 29, 30), "strings": (45, 46, 50), "organ": (18, 20, 21),
        "brass": (57, 60, 63), "pad": (91, 92, 94), "bass": (35, 36, 37), "lead": (68, 66, 74),
    },
    # Held out from all the others: plucked folk instruments (sitar, banjo, shamisen, koto) for the guitar role,
    # mallets for the piano role, reeds for the organ role, a contrabass and a bassoon for the bass line.
    "final": {
        "piano": (11, 12, 8), "guitar": (104, 105, 106, 107), "strings": (41, 42, 51), "organ": (22, 23),
        "brass": (58, 59), "pad": (93, 95), "bass": (43, 70), "lead": (69, 75, 79),
    },
}
# GM drum kits (program numbers in the percussion bank of FluidR3): standard, room, power, electronic, TR-808,
# jazz, brush. The earlier splits all play the standard kit (0); `final` draws one per clip.
DRUM_KITS = {0: "standard", 8: "room", 16: "power", 24: "electronic", 25: "tr808", 32: "jazz", 40: "brush"}
HARMONY_CATEGORIES = ("piano", "guitar", "strings", "organ", "brass", "pad")

# Progressions: (scale-relative root in semitones, chord quality) per bar. Qualities: maj, min, dom7, min7, maj7.
PROGRESSIONS: dict[str, tuple[str, tuple[tuple[int, str], ...]]] = {
    "I-IV-V-I": ("major", ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj"))),
    "I-V-vi-IV": ("major", ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj"))),
    "ii-V-I-I": ("major", ((2, "min7"), (7, "dom7"), (0, "maj7"), (0, "maj7"))),
    "I-vi-IV-V": ("major", ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj"))),
    "i-iv-v-i": ("minor", ((0, "min"), (5, "min"), (7, "min"), (0, "min"))),
    "i-iv-V-i": ("minor", ((0, "min"), (5, "min"), (7, "maj"), (0, "min"))),
    "i-VI-III-VII": ("minor", ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj"))),
    "dorian i-IV": ("dorian", ((0, "min7"), (5, "maj"), (0, "min7"), (5, "maj"))),
    "mixolydian I-bVII-IV-I": ("mixolydian", ((0, "maj"), (10, "maj"), (5, "maj"), (0, "maj"))),
    # Only in `final`: the progression ends on the dominant (an open phrase), so "the last chord is the tonic" is
    # not a shortcut that holds.
    "I-IV-I-V": ("major", ((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj"))),
    "i-iv-i-v": ("minor", ((0, "min"), (5, "min"), (0, "min"), (7, "min"))),
}
_FINAL_ONLY = ("I-IV-I-V", "i-iv-i-v")
# The progressions each split rotates through (the first three keep their original nine, so their plans and cached
# renders do not change).
SPLIT_PROGRESSIONS: dict[str, tuple[str, ...]] = {
    split: tuple(n for n in PROGRESSIONS if split == "final" or n not in _FINAL_ONLY) for split in SPLIT_SEEDS}
CHORD_TONES = {"maj": (0, 4, 7), "min": (0, 3, 7), "dom7": (0, 4, 7, 10), "min7": (0, 3, 7, 10),
               "maj7": (0, 4, 7, 11)}
SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "dorian": (0, 2, 3, 5, 7, 9, 10),
          "mixolydian": (0, 2, 4, 5, 7, 9, 10)}
MODE_OF = {"major": 1, "minor": 0, "dorian": 0, "mixolydian": 1}
# (container, subtype, sample rate, channels, compression level or None)
CODECS: dict[str, tuple[str, str, int, int, float | None]] = {
    "wav-44k-stereo": ("WAV", "PCM_16", 44100, 2, None),
    "wav-48k-stereo": ("WAV", "PCM_16", 48000, 2, None),
    "flac-44k-mono": ("FLAC", "PCM_16", 44100, 1, None),
    "wav-16k-mono": ("WAV", "PCM_16", 16000, 1, None),
    "wav-8k-mono": ("WAV", "PCM_16", 8000, 1, None),
    "mp3-low-44k-stereo": ("MP3", "MPEG_LAYER_III", 44100, 2, 0.9),
    "mp3-low-22k-mono": ("MP3", "MPEG_LAYER_III", 22050, 1, 0.9),
    "ogg-low-44k-stereo": ("OGG", "VORBIS", 44100, 2, 0.9),
    "ogg-low-16k-mono": ("OGG", "VORBIS", 16000, 1, 0.8),
}
SUFFIX = {"WAV": "wav", "FLAC": "flac", "MP3": "mp3", "OGG": "ogg"}
COMP_STYLES = ("block", "offbeat", "arpeggio", "strum", "halves")


class RenderError(RuntimeError):
    """FluidSynth or the soundfont is missing, or a render failed."""


@dataclass(frozen=True)
class ClipPlan:
    clip_id: str
    split: str
    tonic: int  # sounding tonic of the main key, 0 = C
    scale: str  # major, minor, dorian, mixolydian
    progression: str
    bpm: int
    drift: float  # total relative tempo change over the clip (signed), 0 = steady
    swing: bool
    drums: bool
    comp: str
    harmony: tuple[tuple[str, int], ...]  # (category, GM program) of the chord instruments
    bass: int | None
    lead: int | None
    capo: int  # semitones the chord shapes are transposed by (0 = none); tonic already includes it
    modulation: int | None  # semitones of the key change, None = no change
    change_at: float  # share of the clip after which the key changes
    codec: str
    seconds: float
    seed: int
    drum_kit: int = 0  # GM percussion program (DRUM_KITS); only `final` varies it
    truth: dict = field(default_factory=dict)


def soundfont() -> Path:
    for candidate in (os.environ.get("SPOTIFY_AI_SOUNDFONT"), *SOUNDFONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise RenderError("no General MIDI soundfont: install Debian's fluid-soundfont-gm "
                      "(/usr/share/sounds/sf2/FluidR3_GM.sf2) or set SPOTIFY_AI_SOUNDFONT")


def fluidsynth_binary() -> str:
    path = shutil.which("fluidsynth")
    if not path:
        raise RenderError("fluidsynth is not installed: apt-get install fluidsynth fluid-soundfont-gm")
    return path


def plan_clip(split: str, index: int, seconds: float = 30.0) -> ClipPlan:
    """The musical plan of clip `index` of `split`: deterministic, drawn from (split seed, index)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split {split!r} is not one of {', '.join(SPLIT_SEEDS)}")
    seed = SPLIT_SEEDS[split] * 100_003 + index
    rng = np.random.default_rng([SPLIT_SEEDS[split], index])
    programs = PROGRAMS[split]
    names = list(SPLIT_PROGRESSIONS[split])
    # Rotate through the progressions and harmony instruments so every one is covered evenly.
    progression = names[index % len(names)]
    scale = PROGRESSIONS[progression][0]
    main_cat = HARMONY_CATEGORIES[(index // len(names) + index) % len(HARMONY_CATEGORIES)]
    harmony = [(main_cat, int(rng.choice(programs[main_cat])))]
    if rng.random() < 0.35:
        other = str(rng.choice([c for c in HARMONY_CATEGORIES if c != main_cat]))
        harmony.append((other, int(rng.choice(programs[other]))))
    bpm = int(rng.integers(60, 201))
    drums = bool(rng.random() < 0.65)
    comp = str(rng.choice(COMP_STYLES))
    if not drums and comp == "halves":
        comp = "block"  # without drums the accompaniment carries the beat
    capo = int(rng.integers(1, 8)) if rng.random() < 0.15 else 0
    shape_tonic = int(rng.integers(12))
    tonic = (shape_tonic + capo) % 12
    modulation = int(rng.choice((2, 5, 7, -3, 3))) if rng.random() < 0.2 else None
    drift = float(rng.choice((-1, 1)) * rng.uniform(0.02, 0.06)) if rng.random() < 0.2 else 0.0
    codec = list(CODECS)[int(rng.integers(len(CODECS)))]
    clip_id = f"{split}-{index:03d}"
    plan = ClipPlan(
        clip_id=clip_id, split=split, tonic=tonic, scale=scale, progression=progression, bpm=bpm, drift=drift,
        swing=bool(rng.random() < 0.2), drums=drums, comp=comp, harmony=tuple(harmony),
        bass=int(rng.choice(programs["bass"])) if rng.random() < 0.85 else None,
        lead=int(rng.choice(programs["lead"])) if rng.random() < 0.55 else None,
        capo=capo, modulation=modulation, change_at=float(rng.uniform(0.62, 0.72)), codec=codec,
        seconds=seconds, seed=seed,
        # Drawn last, and only for `final`, so the other splits' random streams (and their cached clips) are as before.
        drum_kit=int(rng.choice(list(DRUM_KITS))) if split == "final" else 0,
    )
    truth = {"tempo_bpm": float(bpm), "key": tonic, "mode": MODE_OF[scale],
             "key_name": f"{KEY_NAMES[tonic]} {'major' if MODE_OF[scale] else 'minor'}"}
    if modulation is not None:
        second = (tonic + modulation) % 12
        truth["second_key"] = f"{KEY_NAMES[second]} {'major' if MODE_OF[scale] else 'minor'}"
    return ClipPlan(**{**asdict(plan), "harmony": tuple(harmony), "truth": truth})


def _beat_times(plan: ClipPlan, n_beats: int) -> np.ndarray:
    """Onset time (s) of each beat: a linear tempo ramp in time, so the mean tempo over the clip is the notated BPM."""
    t0 = 60.0 / plan.bpm
    if plan.drift == 0.0:
        return np.arange(n_beats) * t0
    # tempo(t) = bpm * (1 - d/2 + d * t / T): integrate beats = int tempo dt / 60, invert numerically on a grid.
    grid = np.linspace(0.0, plan.seconds * 1.6, 20000)
    tempo = plan.bpm * (1 - plan.drift / 2 + plan.drift * grid / plan.seconds)
    beats = np.concatenate([[0.0], np.cumsum((tempo[1:] + tempo[:-1]) / 2 * np.diff(grid) / 60.0)])
    return np.interp(np.arange(n_beats), beats, grid)


def midi_for(plan: ClipPlan):
    """The clip's notes as a pretty_midi.PrettyMIDI (times in seconds, so drift and swing are exact)."""
    import pretty_midi

    rng = np.random.default_rng(plan.seed)
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(plan.bpm))
    n_beats = int(np.ceil(plan.seconds * plan.bpm * 1.1 / 60.0)) + 8
    beats = _beat_times(plan, n_beats + 1)
    lead_in = float(rng.uniform(0.0, 0.4))
    beats = beats + lead_in
    _, bars = PROGRESSIONS[plan.progression]
    scale = SCALES[plan.scale]

    def when(beat: float) -> float:
        """Time of a fractional beat position, swung: the off-beat eighth falls at 2/3 of the beat."""
        whole = int(np.floor(beat))
        frac = beat - whole
        if plan.swing and abs(frac - 0.5) < 1e-9:
            frac = 2.0 / 3.0
        return float(beats[whole] + frac * (beats[whole + 1] - beats[whole]))

    def jitter() -> float:
        return float(rng.normal(0.0, 0.006))

    def note(inst, pitch: int, start_beat: float, length_beats: float, velocity: int) -> None:
        start = max(0.0, when(start_beat) + jitter())
        end_beat = min(start_beat + length_beats, n_beats - 0.01)
        end = max(start + 0.05, when(end_beat) - 0.01)
        vel = int(np.clip(velocity + rng.integers(-8, 9), 20, 127))
        inst.notes.append(pretty_midi.Note(velocity=vel, pitch=int(pitch), start=start, end=end))

    total_bars = n_beats // 4
    change_bar = round(plan.change_at * plan.seconds * plan.bpm / 60.0 / 4)

    def tonic_at(bar: int) -> int:
        return plan.tonic + (plan.modulation if plan.modulation is not None and bar >= change_bar else 0)

    harmony_insts = [pretty_midi.Instrument(program=prog, name=cat) for cat, prog in plan.harmony]
    for b in range(total_bars):
        root_rel, quality = bars[b % len(bars)]
        root = (tonic_at(b) + root_rel) % 12
        # Close root-position voicing with the root between G3 and F#4, plus the root an octave below.
        root_pitch = 55 + (root - 7) % 12
        chord = [root_pitch - 12, *(root_pitch + t for t in CHORD_TONES[quality])]
        beat0 = 4 * b
        for k, inst in enumerate(harmony_insts):
            style = plan.comp if k == 0 else "halves"
            vel = 78 if k == 0 else 62
            if style == "block":
                for beat in range(4):
                    for p in chord:
                        note(inst, p, beat0 + beat, 0.9, vel - (0 if beat % 2 == 0 else 8))
            elif style == "halves":
                for beat in (0, 2):
                    for p in chord:
                        note(inst, p, beat0 + beat, 1.9, vel)
            elif style == "offbeat":
                for beat in range(4):
                    for p in chord[1:]:
                        note(inst, p, beat0 + beat + 0.5, 0.4, vel)
                    note(inst, chord[0], beat0 + beat, 0.45, vel + 4)
            elif style == "arpeggio":
                seq = [*chord, *chord[1:-1][::-1]]
                for step in range(8):
                    note(inst, seq[step % len(seq)], beat0 + step / 2, 0.5, vel - (0 if step % 2 == 0 else 10))
            else:  # strum: down on the beats, a lighter up-strum on the "and" of 2 and 4, strings spread by 12 ms
                for pos, v in ((0, vel + 6), (1, vel), (1.5, vel - 14), (2, vel + 2), (3, vel), (3.5, vel - 14)):
                    for j, p in enumerate(chord):
                        n_start = beat0 + pos
                        note(inst, p, n_start, 0.45 if pos % 1 else 0.95, v)
                        inst.notes[-1].start += 0.012 * j
                        inst.notes[-1].end = max(inst.notes[-1].end, inst.notes[-1].start + 0.05)
    pm.instruments.extend(harmony_insts)

    if plan.bass is not None:
        bass = pretty_midi.Instrument(program=plan.bass, name="bass")
        for b in range(total_bars):
            root_rel, quality = bars[b % len(bars)]
            root = 28 + (tonic_at(b) + root_rel - 4) % 12  # E1..D#2
            fifth = root + 7
            pattern = ((0, root, 1.0), (2, root, 0.9), (3, fifth, 0.9)) if b % 2 else ((0, root, 1.9), (2, root, 1.9))
            for pos, p, length in pattern:
                note(bass, p, 4 * b + pos, length, 92)
        pm.instruments.append(bass)

    if plan.lead is not None:
        lead = pretty_midi.Instrument(program=plan.lead, name="lead")
        for b in range(total_bars):
            root_rel, quality = bars[b % len(bars)]
            t = tonic_at(b)
            tones = [(t + root_rel + c) % 12 for c in CHORD_TONES[quality][:3]]
            scale_pcs = [(t + s) % 12 for s in scale]
            pos = 0.0
            while pos < 4.0:
                length = float(rng.choice((0.5, 1.0, 1.0, 1.5, 2.0)))
                pool = tones if pos in (0.0, 2.0) else scale_pcs
                pc = int(rng.choice(pool))
                note(lead, 72 + (pc - 0) % 12 - (12 if pc > 7 else 0), 4 * b + pos, min(length, 4.0 - pos) * 0.95, 84)
                pos += length
        pm.instruments.append(lead)

    if plan.drums:
        kit = pretty_midi.Instrument(program=plan.drum_kit, is_drum=True, name="drums")
        hats_per_beat = 2 if plan.bpm <= 150 else 1
        for beat in range(4 * total_bars):
            in_bar = beat % 4
            if in_bar in (0, 2):
                note(kit, 36, beat, 0.25, 110)
            if in_bar in (1, 3):
                note(kit, 38, beat, 0.25, 100)
            if beat % 32 == 0:
                note(kit, 49, beat, 1.0, 90)
            for h in range(hats_per_beat):
                note(kit, 42, beat + h / hats_per_beat, 0.2, 70 if h == 0 else 55)
        pm.instruments.append(kit)
    return pm


def _encode(signal: np.ndarray, sr: int, plan: ClipPlan, target: Path) -> None:
    import soundfile as sf

    from spotify_ai_assets.core.audio.features import _resample

    container, subtype, out_sr, channels, level = CODECS[plan.codec]
    if channels == 1:
        signal = signal.mean(axis=1, keepdims=True)
    chans = [_resample(np.ascontiguousarray(signal[:, c]), sr, out_sr) for c in range(signal.shape[1])]
    out = np.stack(chans, axis=1)
    peak = float(np.abs(out).max()) or 1.0
    level_db = np.random.default_rng(plan.seed + 1).uniform(-14, -1)  # mastered anywhere from quiet to loud
    out = out / peak * 10 ** (level_db / 20)
    kwargs = {} if level is None else {"compression_level": level}
    if container == "MP3":
        kwargs["bitrate_mode"] = "CONSTANT"
    sf.write(target, out.astype(np.float32), out_sr, format=container, subtype=subtype, **kwargs)


def render_clip(plan: ClipPlan, directory: Path) -> Path:
    """Render one clip into `directory` (skipped if already there); returns the file."""
    import soundfile as sf

    container = CODECS[plan.codec][0]
    target = directory / f"{plan.clip_id}.{SUFFIX[container]}"
    if target.exists():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="render-", dir=directory) as tmp:
        mid, wav = Path(tmp, "clip.mid"), Path(tmp, "clip.wav")
        midi_for(plan).write(str(mid))
        cmd = [fluidsynth_binary(), "-ni", "-q", "-g", "0.5", "-r", str(RENDER_SR), "-F", str(wav),
               str(soundfont()), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0 or not wav.exists():
            raise RenderError(f"fluidsynth failed on {plan.clip_id}: {proc.stderr.strip()[-500:]}")
        data, sr = sf.read(wav, dtype="float32", always_2d=True)
        data = data[: int(plan.seconds * sr)]
        if len(data) < int(plan.seconds * sr) * 0.95 or float(np.abs(data).max()) < 1e-4:
            raise RenderError(f"fluidsynth rendered {len(data) / sr:.1f} s of near silence for {plan.clip_id}")
        part = Path(tmp, target.name)
        _encode(data, sr, plan, part)
        os.replace(part, target)
    return target


def default_cache() -> Path:
    base = os.environ.get("SPOTIFY_AI_CORPUS_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "spotify_ai_assets", "audio_corpus")
    return Path(base)


def corpus(split: str, count: int, seconds: float = 30.0, cache: Path | None = None, start: int = 0,
           workers: int = 2) -> list[dict]:
    """Render (or reuse) clips `start..start+count-1` of `split`; one dict per clip: path, plan and truth.

    FluidSynth runs as a child process per clip, `workers` at a time (it spends most of a render loading the
    soundfont, so two processes on two cores halve the wall time of a cold corpus).
    """
    from concurrent.futures import ThreadPoolExecutor

    folder = (cache or default_cache()) / _folder_name(seconds) / split
    plans = [plan_clip(split, index, seconds) for index in range(start, start + count)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        paths = list(pool.map(lambda plan: render_clip(plan, folder), plans))
    return [{"path": str(path), "clip_id": plan.clip_id, "truth": plan.truth, "plan": _describe(plan)}
            for plan, path in zip(plans, paths, strict=True)]


def _describe(plan: ClipPlan) -> dict:
    d = asdict(plan)
    d.pop("truth")
    d["harmony"] = [list(h) for h in plan.harmony]
    return d


def _folder_name(seconds: float) -> str:
    """The cache folder of a corpus version and clip length (bump CORPUS_VERSION whenever plans or rendering change,
    so a cache never mixes clips of two generators)."""
    return f"{CORPUS_VERSION}-{seconds:g}s"


# ---- audio with no key: what an honest detector answers "no key" for ----------------------------------------------
SPEECH_TEXTS = (
    "The weather service expects light rain in the morning, clearing by the afternoon with a gentle westerly wind.",
    "Please remember that the library closes early on public holidays, and that returned books go in the slot.",
    "In the third chapter the author argues that cities grew along rivers because boats were the cheapest roads.",
)


def atonal_midi(index: int, seconds: float = 20.0):
    """Dense chromatic clusters at random times: every pitch class about equally often, no tonal centre."""
    import pretty_midi

    rng = np.random.default_rng([0xA70, index])
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=int(rng.choice((0, 48, 19))))
    t = 0.0
    while t < seconds:
        length = float(rng.uniform(0.15, 0.9))
        low = int(rng.integers(40, 72))
        for pitch in range(low, low + int(rng.integers(6, 13))):  # a run of adjacent semitones
            inst.notes.append(pretty_midi.Note(velocity=int(rng.integers(50, 100)), pitch=pitch, start=t,
                                               end=t + length))
        t += length * float(rng.uniform(0.6, 1.2))
    pm.instruments.append(inst)
    return pm


def _render_midi(pm, target: Path, sr: int = 22050) -> Path:
    import soundfile as sf

    with tempfile.TemporaryDirectory(prefix="render-", dir=target.parent) as tmp:
        mid, wav = Path(tmp, "clip.mid"), Path(tmp, "clip.wav")
        pm.write(str(mid))
        cmd = [fluidsynth_binary(), "-ni", "-q", "-g", "0.5", "-r", str(sr), "-F", str(wav), str(soundfont()), str(mid)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0 or not wav.exists():
            raise RenderError(f"fluidsynth failed on {target.name}: {proc.stderr.strip()[-500:]}")
        data, rate = sf.read(wav, dtype="float32")
        part = Path(tmp, target.name)
        sf.write(part, data, rate, subtype="PCM_16")
        os.replace(part, target)
    return target


def speech_clip(index: int, target: Path) -> Path:
    """Speech by espeak-ng (Debian `espeak-ng`), several sentences in a row; RenderError if espeak-ng is missing."""
    binary = shutil.which("espeak-ng")
    if not binary:
        raise RenderError("espeak-ng is not installed: apt-get install espeak-ng")
    text = " ".join(SPEECH_TEXTS[(index + k) % len(SPEECH_TEXTS)] for k in range(len(SPEECH_TEXTS)))
    voice = ("en", "en-us", "de", "fr")[index % 4]
    with tempfile.TemporaryDirectory(prefix="speech-", dir=target.parent) as tmp:
        part = Path(tmp, target.name)
        proc = subprocess.run([binary, "-v", voice, "-s", str(150 + 10 * (index % 3)), "-w", str(part), text],
                              capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0 or not part.exists():
            raise RenderError(f"espeak-ng failed: {proc.stderr.strip()[-300:]}")
        os.replace(part, target)
    return target


def noise_clip(kind: str, index: int, target: Path, seconds: float = 20.0, sr: int = 22050) -> Path:
    """White or pink (1/f power, by spectral shaping) noise at a moderate level."""
    import soundfile as sf

    rng = np.random.default_rng([0x401, index, kind == "pink"])
    white = rng.standard_normal(int(seconds * sr))
    if kind == "pink":
        spectrum = np.fft.rfft(white)
        f = np.fft.rfftfreq(len(white), 1 / sr)
        spectrum[1:] /= np.sqrt(f[1:])
        spectrum[0] = 0
        white = np.fft.irfft(spectrum, len(white))
    elif kind != "white":
        raise ValueError(f"noise kind {kind!r} is not white or pink")
    signal = 0.2 * white / np.abs(white).max()
    sf.write(target, signal.astype(np.float32), sr, subtype="PCM_16")
    return target


def keyless_corpus(cache: Path | None = None, per_kind: int = 3) -> list[dict]:
    """Clips that have no key: espeak-ng speech, white and pink noise, atonal piano/string/organ clusters."""
    folder = (cache or default_cache()) / _folder_name(20.0) / "keyless"
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(per_kind):
        for kind in ("speech", "white_noise", "pink_noise", "atonal"):
            target = folder / f"{kind}-{i}.wav"
            if not target.exists():
                if kind == "speech":
                    speech_clip(i, target)
                elif kind == "atonal":
                    _render_midi(atonal_midi(i), target)
                else:
                    noise_clip(kind.split("_")[0], i, target)
            out.append({"path": str(target), "kind": kind})
    return out
