"""Scrub secrets and personal data from anything about to leave the process (Sentry events, logs, metrics labels).

Three rules, applied to every key and string in a nested structure:
- a key that names a secret or a person (token, secret, password, dsn, authorization, cookie, user_id, email, ...)
  has its value replaced whole;
- a string containing a known secret value (the environment's secrets, passed in) has that value replaced;
- e-mail addresses and bearer/basic credentials inside free text are replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
SENSITIVE_KEY = re.compile(
    r"(secret|token|passw|dsn|authorization|auth_header|cookie|api_key|apikey|credential|private|"
    r"user_id|userid|username|email|e_mail|ip_address|refresh)", re.IGNORECASE)
EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")
# Environment variables whose values are secrets wherever they appear.
SECRET_ENV = ("SPOTIFY_CLIENT_SECRET", "SPOTIFY_AI_TOKEN_DB", "SENTRY_DSN", "SPOTIFY_AI_ERASURE_SALT",
              "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DAGSTER_PG_PASSWORD", "PAGERDUTY_ROUTING_KEY")


class Scrubber:
    def __init__(self, secrets: Iterable[str] = ()):
        # Short values would redact ordinary words; real secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, REDACTED)
        value = EMAIL.sub(REDACTED, value)
        return CREDENTIAL.sub(lambda m: f"{m.group(1)} {REDACTED}", value)

    def __call__(self, value: Any, key: str | None = None) -> Any:
        if key is not None and SENSITIVE_KEY.search(key):
            return REDACTED if value not in (None, "", [], {}) else value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value


def secrets_from(environ: dict[str, str]) -> list[str]:
    return [environ[name] for name in SECRET_ENV if environ.get(name)]
