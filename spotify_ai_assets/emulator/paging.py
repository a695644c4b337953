"""Query values (already validated against the spec by the server) and offset paging objects whose links
point back at the emulator."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode


def query_int(query: dict[str, str], name: str, default: int) -> int:
    """An integer query parameter; the spec check has already refused anything that is not one."""
    raw = query.get(name)
    return default if raw is None or raw == "" else int(raw)


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
    """A PagingObject over `rows` (indices) with href/next/previous on the emulator's host. Its links repeat the
    caller's limit, so following them is as valid a request as the first one."""
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
