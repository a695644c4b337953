"""The accounts service: `POST /api/token` and the access tokens it hands out."""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from spotify_ai_assets.emulator.responses import Response

TOKEN_LIFETIME_S = 3600
USER_SCOPES = "user-read-recently-played playlist-read-private user-read-private"


@dataclass(frozen=True)
class Grant:
    """Who a bearer token acts for: `user` is a world user index, or None for an app token."""

    user: int | None


class TokenStore:
    """Issued access tokens. They never expire: tests control time through the clock, not the wall."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Grant] = {}

    def issue(self, user: int | None) -> str:
        token = ("BQ" if user is None else "BQu") + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = Grant(user)
        return token

    def lookup(self, token: str) -> Grant | None:
        with self._lock:
            return self._tokens.get(token)


def _oauth_error(error: str, description: str | None = None) -> Response:
    body = {"error": error} if description is None else {"error": error, "error_description": description}
    return Response(400, body)


def _client_from(headers: Mapping[str, str], form: dict[str, str]) -> tuple[str, str] | None:
    header = headers.get("authorization", "")
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return client_id, secret
    if "client_id" in form:
        return form["client_id"], form.get("client_secret", "")
    return None


def token_endpoint(
    headers: Mapping[str, str],
    body: bytes,
    credentials: tuple[str, str],
    refresh_user: Callable[[str], int | None],
    tokens: TokenStore,
) -> Response:
    """Answer a token request (`headers` keyed in lower case). `refresh_user` maps a refresh token to
    its user, or None when it is unknown or revoked."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if _client_from(headers, form) != credentials:
        return _oauth_error("invalid_client", "Invalid client")
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        token = tokens.issue(None)
        return Response(200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S})
    if grant_type == "refresh_token":
        user = refresh_user(form.get("refresh_token", ""))
        if user is None:
            return _oauth_error("invalid_grant", "Refresh token revoked")
        token = tokens.issue(user)
        return Response(200, {"access_token": token, "token_type": "Bearer",
                              "expires_in": TOKEN_LIFETIME_S, "scope": USER_SCOPES})
    if grant_type is None:
        return _oauth_error("unsupported_grant_type", "grant_type parameter is missing")
    return _oauth_error("unsupported_grant_type", f"grant_type {grant_type} is not supported")
