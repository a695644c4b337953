"""What to ingest: monitored artists and tracked playlists, from a YAML file or run config.

The file is validated against a schema, so a typo fails loudly instead of silently ingesting nothing:

    artists: [0TnOYISbd1XYRBk9myaseg, ...]     # required: a list of 22-character Spotify ids (may be [])
    playlists: [37i9dQZF1DXcBWIGoYBM5M, ...]   # required: the same for playlists
    empty_on_purpose: false                    # optional: true when an empty list above is meant

An unknown key (`artist:`), a missing `artists`/`playlists`, a value of the wrong type or an id that is not a
Spotify id is an error naming the key (and the index). An empty list is accepted by the schema, but the ingestion
assets treat an empty day after a day with rows as a blocking failure unless `empty_on_purpose` is true.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from spotify_ai_assets.core.kernel.ids import SPOTIFY_ID

REQUIRED_KEYS = ("artists", "playlists")
OPTIONAL_KEYS = ("empty_on_purpose",)
KNOWN_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS


class WatchlistError(ValueError):
    pass


@dataclass(frozen=True)
class Watchlist:
    artists: tuple[str, ...]
    playlists: tuple[str, ...]
    # The operator meant an empty list: an empty ingestion result is then not an accident.
    empty_on_purpose: bool = False

    @classmethod
    def of(cls, artists: list[str], playlists: list[str], origin: str, empty_on_purpose: bool = False) -> Watchlist:
        for kind, ids in (("artists", artists), ("playlists", playlists)):
            if not isinstance(ids, (list, tuple)):
                raise WatchlistError(f"{origin}: key `{kind}` must be a list of Spotify ids, got "
                                     f"{type(ids).__name__}")
            for n, value in enumerate(ids):
                if not isinstance(value, str) or not SPOTIFY_ID.match(value):
                    raise WatchlistError(f"{origin}: {kind}[{n}] = {value!r} is not a 22-character Spotify id")
        return cls(tuple(dict.fromkeys(artists)), tuple(dict.fromkeys(playlists)), bool(empty_on_purpose))

    @classmethod
    def from_mapping(cls, doc: object, origin: str) -> Watchlist:
        """Validate a parsed document against the schema above; every error names the key."""
        if not isinstance(doc, Mapping):
            raise WatchlistError(f"{origin}: expected a mapping with keys `artists` and `playlists`, got "
                                 f"{type(doc).__name__}")
        for key in doc:
            if key not in KNOWN_KEYS:
                close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
                hint = f" (did you mean `{close[0]}`?)" if close else ""
                raise WatchlistError(f"{origin}: unknown key `{key}`{hint}; allowed keys: {', '.join(KNOWN_KEYS)}")
        for key in REQUIRED_KEYS:
            if key not in doc:
                raise WatchlistError(f"{origin}: missing key `{key}` (write `{key}: []` for none, with "
                                     "`empty_on_purpose: true` if an empty ingestion is meant)")
            if doc[key] is None:
                raise WatchlistError(f"{origin}: key `{key}` is empty; write `{key}: []` for none")
        flag = doc.get("empty_on_purpose", False)
        if not isinstance(flag, bool):
            raise WatchlistError(f"{origin}: key `empty_on_purpose` must be true or false, got {flag!r}")
        return cls.of(doc["artists"], doc["playlists"], origin, flag)

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
            doc = yaml.safe_load(p.read_text())
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            raise WatchlistError(f"watchlist file {p} is not valid YAML{where}") from None
        return cls.from_mapping(doc, f"watchlist file {p}")
