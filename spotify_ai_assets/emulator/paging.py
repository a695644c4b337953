"""Query-parameter validation and offset paging objects whose links point back at the emulator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from spotify_ai_assets.emulator.responses import ApiError

MAX_OFFSET = 100_000


def parse_int(query: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid {name}") from None
    if not low <= value <= high:
        raise ApiError(400, f"Invalid {name}")
    return value


def parse_limit(query: dict[str, str], default: int, maximum: int) -> int:
    return parse_int(query, "limit", min(default, maximum), 1, maximum)


def parse_offset(query: dict[str, str]) -> int:
    return parse_int(query, "offset", 0, 0, MAX_OFFSET)


def url(base: str, params: dict[str, Any]) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return f"{base}?{urlencode(kept)}" if kept else base


def offset_page(
    base: str,
    rows: Sequence[int],
    render: Callable[[int], dict[str, Any]],
    limit: int,
    offset: int,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A PagingObject over `rows` (world indices) with href/next/previous on the emulator's host."""
    extra = extra or {}
    total = len(rows)

    def link(at: int) -> str:
        return url(base, {**extra, "offset": at, "limit": limit})

    return {
        "href": link(offset),
        "items": [render(r) for r in rows[offset: offset + limit]],
        "limit": limit,
        "next": link(offset + limit) if offset + limit < total else None,
        "offset": offset,
        "previous": link(max(0, offset - limit)) if offset > 0 else None,
        "total": total,
    }
