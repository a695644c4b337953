"""The audio landing folder: which files are new or changed since the last look, decided by content.

Pure (no dagster, no librosa): the sensor keeps `cursor` between ticks. Hashing every file on every tick
would read gigabytes, so a file is hashed again only when its size or mtime moved; a touched file with the same
bytes therefore asks for nothing.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")
TRACK_ID_RE = re.compile(r"^[0-9A-Za-z]{22}$")

# cursor: file name -> [size, mtime_ns, sha256]
Cursor = dict[str, list]


@dataclass(frozen=True)
class Delivery:
    track_id: str
    name: str
    sha256: str

    @property
    def run_key(self) -> str:
        # Content, not name: the same bytes never run twice, changed bytes always run again.
        return f"{self.track_id}:{self.sha256[:20]}"


@dataclass
class Plan:
    cursor: Cursor
    new: list[Delivery] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def name_problem(name: str) -> str | None:
    """Why a landed file name is not `<22-character Spotify track id>.<audio suffix>`, or None."""
    path = Path(name)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        return f"{name}: suffix {path.suffix or '(none)'} is not one of {', '.join(AUDIO_SUFFIXES)}"
    if not TRACK_ID_RE.match(path.stem):
        return f"{name}: file stem {path.stem!r} is not a 22-character base62 Spotify track id"
    return None


def landed_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    # Dot files are partial uploads (written aside, then renamed into place).
    return sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith("."))


def plan(directory: Path, previous: Cursor, files: list[Path] | None = None) -> Plan:
    """Compare the folder (or `files`, its listing) with `previous`: the deliveries to analyse, the names rejected,
    the next cursor."""
    out = Plan(cursor={})
    for path in landed_files(directory) if files is None else files:
        problem = name_problem(path.name)
        if problem:
            out.rejected[path.name] = problem
            continue
        stat = path.stat()
        seen = previous.get(path.name)
        if seen and seen[0] == stat.st_size and seen[1] == stat.st_mtime_ns:
            out.cursor[path.name] = seen
            continue
        digest = sha256_of(path)
        out.cursor[path.name] = [stat.st_size, stat.st_mtime_ns, digest]
        if not seen or seen[2] != digest:
            out.new.append(Delivery(Path(path.name).stem, path.name, digest))
    return out


def file_for(directory: Path, track_id: str) -> Path | None:
    """The landed file of a track (any audio suffix), newest first if several were delivered."""
    if not TRACK_ID_RE.match(track_id):
        raise ValueError(f"{track_id!r} is not a 22-character base62 Spotify track id")
    matches = [directory / f"{track_id}{s}" for s in AUDIO_SUFFIXES if (directory / f"{track_id}{s}").is_file()]
    return max(matches, key=lambda p: p.stat().st_mtime_ns) if matches else None
