"""`/_emulator/*`: health, fault injection and configuration for a server running in another process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from spotify_ai_assets.emulator.faults import Fault
from spotify_ai_assets.emulator.responses import Response, error_body

if TYPE_CHECKING:
    from spotify_ai_assets.emulator.server import SpotifyEmulator


def _config(emulator: SpotifyEmulator) -> dict[str, Any]:
    return {"ok": True, "mode": emulator.mode, "clock": emulator.clock.isoformat()}


def _json(body: bytes) -> dict[str, Any]:
    data = json.loads(body or b"{}")
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    return data


def admin(emulator: SpotifyEmulator, method: str, path: str, body: bytes) -> Response:
    try:
        if path == "/_emulator/health" and method == "GET":
            return Response(200, {"ok": True})
        if path == "/_emulator/faults":
            if method == "POST":
                emulator.inject(Fault.from_dict(_json(body)))
            elif method == "DELETE":
                emulator.clear_faults()
            elif method != "GET":
                return Response(405, error_body(405, "Method not allowed"))
            return Response(200, {"ok": True, "faults": [dataclasses.asdict(f) for f in emulator.faults]})
        if path == "/_emulator/config":
            if method == "POST":
                data = _json(body)
                if "mode" in data:
                    emulator.mode = data["mode"]
                if "clock" in data:
                    emulator.clock = dt.datetime.fromisoformat(data["clock"])
            elif method != "GET":
                return Response(405, error_body(405, "Method not allowed"))
            return Response(200, _config(emulator))
    except (ValueError, TypeError) as exc:  # bad JSON, unknown fault kind or mode, unparsable clock
        return Response(400, error_body(400, str(exc)))
    return Response(404, error_body(404, "Service not found"))
