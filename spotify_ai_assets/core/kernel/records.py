"""Spotify payloads to table rows, validated field by field. A bad record becomes a `Quarantined` entry
that names the record, the field and what was wrong, and keeps the raw payload."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from spotify_ai_assets.core.kernel.ids import SPOTIFY_ID

RELEASE_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")

QUARANTINE_SCHEMA = pa.schema([
    ("source", pa.string()),
    ("record_ref", pa.string()),
    ("field", pa.string()),
    ("reason", pa.string()),
    ("raw", pa.string()),
])


@dataclass(frozen=True)
class Quarantined:
    source: str
    record_ref: str
    field: str
    reason: str
    raw: str

    @classmethod
    def of(cls, source: str, ref: str, field: str, reason: str, payload: Any) -> Quarantined:
        raw = payload if isinstance(payload, str) else json.dumps(payload, default=str, sort_keys=True)
        return cls(source, ref, field, reason, raw)


class InvalidRecord(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def quarantine_table(entries: list[Quarantined]) -> pa.Table:
    return pa.Table.from_pylist([e.__dict__ for e in entries], schema=QUARANTINE_SCHEMA)


def _req(obj: Any, field: str, kind: type | tuple[type, ...], check: Callable[[Any], bool] | None = None,
         why: str = "") -> Any:
    if not isinstance(obj, dict):
        raise InvalidRecord("<record>", f"expected an object, got {type(obj).__name__}")
    if field not in obj or obj[field] is None:
        raise InvalidRecord(field, "missing")
    value = obj[field]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise InvalidRecord(field, f"expected {kind}, got bool")
    if not isinstance(value, kind):
        raise InvalidRecord(field, f"expected {getattr(kind, '__name__', kind)}, got {type(value).__name__}")
    if check is not None and not check(value):
        raise InvalidRecord(field, why or f"invalid value {value!r}")
    return value


def _sid(obj: Any, field: str = "id") -> str:
    return _req(obj, field, str, lambda v: bool(SPOTIFY_ID.match(v)), "not a 22-character base62 Spotify id")


def _opt_str(obj: dict, field: str, name: str) -> str | None:
    """An optional text field; present with another type, it is a field error (never a crash when tabled)."""
    value = obj.get(field)
    if value is not None and not isinstance(value, str):
        raise InvalidRecord(name, f"expected str, got {type(value).__name__}")
    return value


def _opt_int(obj: dict, field: str) -> int | None:
    value = obj.get(field)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def release_day(value: str) -> dt.date:
    """Spotify gives year, year-month or a full date; the first day of the period stands in."""
    parts = [int(p) for p in value.split("-")] + [1, 1]
    try:
        return dt.date(parts[0], parts[1], parts[2])
    except ValueError as exc:  # Spotify really sends "0000" for some old albums
        raise InvalidRecord("release_date", f"{value!r} is not a calendar date ({exc})") from exc


def parse_artist(obj: Any) -> dict:
    genres = obj.get("genres") if isinstance(obj, dict) else None
    followers = obj.get("followers") if isinstance(obj, dict) else None
    return {
        "artist_id": _sid(obj),
        "name": _req(obj, "name", str, lambda v: bool(v.strip()), "empty"),
        "genres": [g for g in genres if isinstance(g, str)] if isinstance(genres, list) else [],
        # Absent for development-mode apps since 2026; kept when an extended-quota app gets them.
        "popularity": _opt_int(obj, "popularity"),
        "followers": _opt_int(followers, "total") if isinstance(followers, dict) else None,
    }


def parse_album(obj: Any, artist_id: str) -> dict:
    release = _req(obj, "release_date", str, lambda v: bool(RELEASE_DATE.match(v)), "not YYYY[-MM[-DD]]")
    return {
        "album_id": _sid(obj),
        "artist_id": artist_id,
        "name": _req(obj, "name", str),
        "album_type": _req(obj, "album_type", str, lambda v: v in ("album", "single", "compilation")),
        "release_date": release,
        "release_day": release_day(release),
        "total_tracks": _req(obj, "total_tracks", int, lambda v: v > 0, "must be positive"),
    }


def parse_track(obj: Any, genres_by_artist: dict[str, list[str]] | None = None) -> dict:
    artists = _req(obj, "artists", list, lambda v: len(v) > 0, "no artists")
    album = _req(obj, "album", dict)
    if not isinstance(artists[0], dict):
        raise InvalidRecord("artists[0]", "expected an object")
    artist_id = _sid(artists[0])
    external = obj.get("external_ids") if isinstance(obj.get("external_ids"), dict) else {}
    genres = (genres_by_artist or {}).get(artist_id) or []
    return {
        "track_id": _sid(obj),
        "album_id": _sid(album),
        "artist_id": artist_id,
        "name": _req(obj, "name", str),
        "duration_ms": _req(obj, "duration_ms", int, lambda v: 0 < v < 6 * 3_600_000, "out of range (0, 6h)"),
        "track_number": _opt_int(obj, "track_number"),
        "explicit": bool(obj.get("explicit", False)),
        "isrc": _opt_str(external, "isrc", "external_ids.isrc"),
        "genre": genres[0] if genres else None,
        "popularity": _opt_int(obj, "popularity"),
    }


def parse_track_names(obj: Any, day: dt.date) -> dict:
    """A track object's names: the track's, its first artist's and its album's."""
    artists = _req(obj, "artists", list, lambda v: len(v) > 0, "no artists")
    if not isinstance(artists[0], dict):
        raise InvalidRecord("artists[0]", "expected an object")
    album = _req(obj, "album", dict)
    return {
        "date": day, "track_id": _sid(obj), "track_name": _req(obj, "name", str),
        "artist_id": _sid(artists[0]), "artist_name": _req(artists[0], "name", str),
        "album_id": _sid(album), "album_name": _req(album, "name", str),
    }


def parse_playlist_item(obj: Any, position: int) -> dict:
    # 2026 API: the track is under `item`; older payloads (and clients) still use `track`.
    track = obj.get("item") or obj.get("track") if isinstance(obj, dict) else None
    if track is None:
        raise InvalidRecord("item", "missing")
    added_at = obj.get("added_at")
    added_by = obj.get("added_by")
    return {
        "position": position,
        "track_id": _sid(track),
        "added_at": parse_timestamp(added_at, "added_at") if added_at else None,
        "added_by": _opt_str(added_by, "id", "added_by.id") if isinstance(added_by, dict) else None,
    }


def parse_play(obj: Any) -> dict:
    track = _req(obj, "track", dict)
    artists = _req(track, "artists", list, lambda v: len(v) > 0, "no artists")
    return {
        "track_id": _sid(track),
        "artist_id": _sid(artists[0]) if isinstance(artists[0], dict) else None,
        "played_at": parse_timestamp(_req(obj, "played_at", str), "played_at"),
    }


def parse_timestamp(value: str, field: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidRecord(field, f"not an ISO-8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise InvalidRecord(field, "timestamp has no time zone")
    return parsed.astimezone(dt.UTC)


def validate(source: str, ref: str, payload: Any, parser: Callable[..., dict], *args: Any,
             quarantine: list[Quarantined]) -> dict | None:
    """Parse one record; on failure, quarantine it with the reason and return None."""
    try:
        return parser(payload, *args)
    except InvalidRecord as exc:
        quarantine.append(Quarantined.of(source, ref, exc.field, exc.reason, payload))
        return None
