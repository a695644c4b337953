"""The emulator's response value and the Spotify-shaped errors handlers raise."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Response:
    status: int
    body: Any  # a JSON-serialisable value, or raw bytes sent as-is (used for malformed payloads and pages)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    def encoded(self) -> bytes:
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode()


class ApiError(Exception):
    """A Web API failure, answered as `{"error": {"status": N, "message": "..."}}` like Spotify does."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        return Response(self.status, error_body(self.status, self.message), dict(self.headers))


def error_body(status: int, message: str) -> dict[str, Any]:
    return {"error": {"status": status, "message": message}}
