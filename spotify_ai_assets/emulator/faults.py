"""Faults a test can inject: rate limits, server errors, an access token expiring mid-crawl, truncated JSON and
records missing fields."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, fields
from typing import Any

from spotify_ai_assets.emulator.responses import Response, error_body

FAULT_KINDS = ("429", "500", "503", "malformed_json", "missing_fields", "expired_token")
STATUS_MESSAGES = {401: "The access token expired", 429: "API rate limit exceeded", 500: "Server error",
                   503: "Service unavailable"}
# Cut mid-array so any JSON parser fails, while the headers still claim a JSON document.
MALFORMED_BODY = b'{"items": ['
# Fields every record must carry; tracks also lose duration_ms (see _strip), which ingestion needs.
STRIPPED_FIELDS = ("id", "name")


@dataclass
class Fault:
    # "429" | "500" | "503" | "malformed_json" | "missing_fields" | "expired_token" (the request's bearer token
    # expires: this and every later request with it get 401 "The access token expired")
    kind: str
    path: str = ""  # regex searched in the request path (no query); "" = every /v1 path
    times: int = 1  # matching requests affected before it is used up; -1 = forever
    retry_after: int = 1  # seconds, sent as Retry-After with a 429
    body: dict[str, Any] | None = None  # replaces the default error body of a status fault

    def __post_init__(self) -> None:
        self.kind = str(self.kind)
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.times == 0 or self.times < -1:
            raise ValueError("times must be positive, or -1 for a fault that never wears off")
        re.compile(self.path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}")
        return cls(**data)

    def matches(self, path: str) -> bool:
        if not self.path:
            return path.startswith("/v1/")
        return re.search(self.path, path) is not None

    def response(self) -> Response:
        """The whole answer for a status or malformed fault (missing_fields edits a real answer instead)."""
        if self.kind == "malformed_json":
            return Response(200, MALFORMED_BODY)
        status = 401 if self.kind == "expired_token" else int(self.kind)
        body = self.body if self.body is not None else error_body(status, STATUS_MESSAGES[status])
        headers = {"Retry-After": str(self.retry_after)} if status == 429 else {}
        return Response(status, body, headers)


class FaultBook:
    """Injected faults in injection order; each request uses up at most one of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[list[Any]] = []  # [fault, remaining uses]

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._entries.append([fault, fault.times])

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return [fault for fault, _ in self._entries]

    def take(self, path: str) -> Fault | None:
        with self._lock:
            for entry in self._entries:
                fault, remaining = entry
                if not fault.matches(path):
                    continue
                if remaining > 0:
                    entry[1] = remaining - 1
                    if entry[1] == 0:
                        self._entries.remove(entry)
                return fault
        return None


def strip_first_record(body: Any) -> None:
    """Delete required fields from the first record of a payload's list, in place."""
    if not isinstance(body, dict):
        return
    items = body.get("items")
    if isinstance(items, list):
        if items and isinstance(items[0], dict):
            first = items[0]
            # Playlist items and play history wrap the track; the wrapper itself keeps its fields.
            wrapped = [first[k] for k in ("item", "track") if isinstance(first.get(k), dict)]
            for record in wrapped or [first]:
                _strip(record)
        return
    if "type" in body:  # a single object (e.g. /tracks/{id}) is its own first record
        _strip(body)
        return
    for key in ("tracks", "artists", "albums"):
        value = body.get(key)
        if isinstance(value, list):
            if value and isinstance(value[0], dict):
                _strip(value[0])
            return
        if isinstance(value, dict) and isinstance(value.get("items"), list):
            strip_first_record(value)  # a search result: strip its first paging object only
            return


def _strip(record: dict[str, Any]) -> None:
    is_track = record.get("type") == "track"
    for key in STRIPPED_FIELDS:
        record.pop(key, None)
    if is_track:
        record.pop("duration_ms", None)
