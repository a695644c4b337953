"""The audio landing folder: which files are new or changed since the last look, decided by content.

Pure (no dagster, no librosa): the sensor keeps `cursor` between ticks. Hashing every file on every tick
would read gigabytes, so a file is hashed again only when its size or mtime moved; a touched file with the same
bytes therefore asks for nothing.

Symlinks: a partner's upload is a file in the folder. A symlink whose target lies outside the folder (or that
points nowhere) is refused with its reason and never read: otherwise anyone who can drop a link could have the
pipeline hash and analyse, and quarantine records name, any file the code location can read. A link to a file
inside the folder is followed.
"""

from __future__ import annotations

import hashlib
import os
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


class LandingRefused(ValueError):
    """A landed path the pipeline must not read (a symlink out of the landing folder); the message says why."""


def link_problem(directory: Path, path: Path) -> str | None:
    """Why `path` (an entry of `directory`) must not be read, or None: symlinks out of the folder or to nothing."""
    if not path.is_symlink():
        return None
    target = os.readlink(path)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return f"{path.name}: symlink to {target!r} points to nothing (dangling or a loop): refused"
    if not resolved.is_relative_to(directory.resolve()):
        return f"{path.name}: symlink to {target!r} points outside the landing folder: refused, not read"
    if not resolved.is_file():
        return f"{path.name}: symlink to {target!r} is not a regular file: refused"
    return None


def landed_files(directory: Path) -> list[Path]:
    """Files and symlinks in the folder (dot files are partial uploads, written aside then renamed: left out)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir()
                  if not p.name.startswith(".") and (p.is_symlink() or p.is_file()))


def problems(directory: Path) -> dict[str, str]:
    """Every landed entry that will not be analysed, by name: bad names and refused symlinks, with the reason."""
    out = {}
    for path in landed_files(directory):
        problem = link_problem(directory, path) or name_problem(path.name)
        if problem:
            out[path.name] = problem
    return out


def plan(directory: Path, previous: Cursor, files: list[Path] | None = None) -> Plan:
    """Compare the folder (or `files`, its listing) with `previous`: the deliveries to analyse, the names rejected,
    the next cursor."""
    out = Plan(cursor={})
    for path in landed_files(directory) if files is None else files:
        problem = link_problem(directory, path) or name_problem(path.name)
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
    """The landed file of a track (any audio suffix), newest first if several were delivered; LandingRefused if
    that entry is a symlink out of the folder (ValueError for a track id that is none)."""
    if not TRACK_ID_RE.match(track_id):
        raise ValueError(f"{track_id!r} is not a 22-character base62 Spotify track id")
    entries = [directory / f"{track_id}{s}" for s in AUDIO_SUFFIXES]
    entries = [p for p in entries if p.is_symlink() or p.is_file()]
    if not entries:
        return None
    newest = max(entries, key=lambda p: p.lstat().st_mtime_ns)
    problem = link_problem(directory, newest)
    if problem:
        raise LandingRefused(problem)
    return newest
