"""Structured logs: every Dagster log record as one JSON line that carries its run's trace id.

Hooked in through the instance's `python_logs.dagster_handler_config` (see dagster.yaml), so it covers every run and
every step, whatever launched it. Messages pass through the scrubber, as Sentry events do.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from typing import Any

from spotify_ai_assets.core.observability.scrub import Scrubber, secrets_from
from spotify_ai_assets.core.observability.trace import trace_id


class JsonFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self._scrub = Scrubber(secrets_from(dict(os.environ)))

    def format(self, record: logging.LogRecord) -> str:
        meta: dict[str, Any] = getattr(record, "dagster_meta", None) or {}
        tags = meta.get("job_tags") or {}
        run_id = meta.get("run_id")
        event = meta.get("dagster_event")
        line = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self._scrub.text(str(meta.get("orig_message") or record.getMessage())),
            "run_id": run_id,
            # The same id the audit trail and Sentry events carry.
            "trace_id": trace_id(tags, tags.get("dagster/root_run_id"), run_id),
            "job": meta.get("job_name"),
            "step": meta.get("step_key"),
            "event": getattr(getattr(event, "event_type", None), "value", None),
            "partition": tags.get("dagster/partition"),
        }
        if record.exc_info:
            line["error"] = self._scrub.text(self.formatException(record.exc_info).splitlines()[-1])
        return json.dumps({k: v for k, v in line.items() if v is not None}, default=str)


class JsonFileHandler(logging.FileHandler):
    """A file handler that creates its folder first: a missing log folder must never fail a run."""

    def __init__(self, filename: str, level: int | str = logging.INFO):
        os.makedirs(os.path.dirname(os.path.abspath(filename)), exist_ok=True)
        super().__init__(filename, encoding="utf-8", delay=True)
        self.setLevel(level)
        self.setFormatter(JsonFormatter())
