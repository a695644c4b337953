"""What to ingest: monitored artists and tracked playlists, from a YAML file or run config."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from spotify_ai_assets.core.kernel.records import SPOTIFY_ID


class WatchlistError(ValueError):
    pass


@dataclass(frozen=True)
class Watchlist:
    artists: tuple[str, ...]
    playlists: tuple[str, ...]

    @classmethod
    def of(cls, artists: list[str], playlists: list[str], origin: str) -> Watchlist:
        for kind, ids in (("artists", artists), ("playlists", playlists)):
            for n, value in enumerate(ids):
                if not isinstance(value, str) or not SPOTIFY_ID.match(value):
                    raise WatchlistError(f"{origin}: {kind}[{n}] = {value!r} is not a 22-character Spotify id")
        return cls(tuple(dict.fromkeys(artists)), tuple(dict.fromkeys(playlists)))

    @classmethod
    def load(cls, path: str | Path) -> Watchlist:
        p = Path(path)
        # The path may come from run config: only YAML files are opened, and a parse error names the place, never
        # quotes the content (a wrong path must not echo another file's lines into logs).
        if p.suffix.lower() not in (".yaml", ".yml"):
            raise WatchlistError(f"watchlist file {p} must be a .yaml or .yml file")
        if not p.is_file():
            raise WatchlistError(f"watchlist file {p} does not exist")
        try:
            doc = yaml.safe_load(p.read_text()) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise WatchlistError(f"watchlist file {p} is not valid YAML{where}") from None
        if not isinstance(doc, dict):
            raise WatchlistError(f"watchlist file {p}: expected a mapping with `artists` and `playlists`")
        return cls.of(list(doc.get("artists") or []), list(doc.get("playlists") or []), str(p))
