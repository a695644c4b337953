"""The accounts service: `POST /api/token` (client credentials, authorization code with PKCE, refresh token) and
the access tokens it hands out. `/authorize` (the login and consent page) is in authorize.py.

Access tokens never expire on the wall clock (tests control time through the emulator's clock); a test expires one
with `expire` (the `expired_token` fault), after which the API answers 401 "The access token expired".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from spotify_ai_assets.emulator.responses import Response

TOKEN_LIFETIME_S = 3600
USER_SCOPES = "user-read-recently-played playlist-read-private playlist-read-collaborative"


@dataclass(frozen=True)
class Grant:
    """Who a bearer token acts for: `user` is a world user index, or None for an app token."""

    user: int | None
    expired: bool = False


@dataclass(frozen=True)
class Code:
    """An authorization code: single use, bound to the client, redirect URI, user and PKCE challenge."""

    client_id: str
    redirect_uri: str
    user: int
    scope: str
    code_challenge: str | None


@dataclass(frozen=True)
class Refresh:
    user: int
    public_client: bool  # issued to a PKCE client that authenticated with its client_id only


class TokenStore:
    """Issued access tokens, authorization codes and refresh tokens (beyond the world's own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, Grant] = {}
        self._codes: dict[str, Code] = {}
        self._refresh: dict[str, Refresh] = {}

    def issue(self, user: int | None) -> str:
        token = ("BQ" if user is None else "BQu") + secrets.token_urlsafe(48)
        with self._lock:
            self._tokens[token] = Grant(user)
        return token

    def lookup(self, token: str) -> Grant | None:
        with self._lock:
            return self._tokens.get(token)

    def expire(self, token: str) -> None:
        with self._lock:
            if token in self._tokens:
                self._tokens[token] = Grant(self._tokens[token].user, expired=True)

    def issue_code(self, code: Code) -> str:
        value = secrets.token_urlsafe(32)
        with self._lock:
            self._codes[value] = code
        return value

    def take_code(self, value: str) -> Code | None:
        with self._lock:
            return self._codes.pop(value, None)

    def issue_refresh(self, refresh: Refresh) -> str:
        value = "rt-" + secrets.token_urlsafe(32)
        with self._lock:
            self._refresh[value] = refresh
        return value

    def refresh_grant(self, value: str) -> Refresh | None:
        with self._lock:
            return self._refresh.get(value)

    def revoke_user(self, user: int) -> int:
        """Forget every refresh token issued to `user` (the user removed the app's access)."""
        with self._lock:
            gone = [k for k, r in self._refresh.items() if r.user == user]
            for k in gone:
                del self._refresh[k]
            return len(gone)


def oauth_error(error: str, description: str | None = None, status: int = 400) -> Response:
    body = {"error": error} if description is None else {"error": error, "error_description": description}
    return Response(status, body)


def _client_from(headers: Mapping[str, str], form: dict[str, str]) -> tuple[str, str | None] | None:
    """(client_id, secret) from HTTP Basic or the form; secret None for a public (PKCE) client."""
    header = headers.get("authorization", "")
    if header.startswith("Basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:].strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return client_id, secret
    if "client_id" in form:
        return form["client_id"], form.get("client_secret")
    return None


def s256(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def token_endpoint(
    headers: Mapping[str, str],
    body: bytes,
    credentials: tuple[str, str],
    world_refresh_user: Callable[[str], int | None],
    tokens: TokenStore,
) -> Response:
    """Answer a token request (`headers` keyed in lower case). `world_refresh_user` maps one of the world's
    refresh tokens to its user, or None when it is unknown or revoked."""
    form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    client = _client_from(headers, form)
    if client is None or client[0] != credentials[0] or client[1] not in (None, credentials[1]):
        return oauth_error("invalid_client", "Invalid client")
    public = client[1] is None
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        if public:
            return oauth_error("invalid_client", "Invalid client secret")
        return Response(200, {"access_token": tokens.issue(None), "token_type": "Bearer",
                              "expires_in": TOKEN_LIFETIME_S})
    if grant_type == "authorization_code":
        return _exchange_code(form, public, tokens)
    if grant_type == "refresh_token":
        return _refresh(form.get("refresh_token", ""), public, world_refresh_user, tokens)
    if grant_type is None:
        return oauth_error("unsupported_grant_type", "grant_type parameter is missing")
    return oauth_error("unsupported_grant_type", f"grant_type {grant_type} is not supported")


def _exchange_code(form: dict[str, str], public: bool, tokens: TokenStore) -> Response:
    code = tokens.take_code(form.get("code", ""))
    if code is None:
        return oauth_error("invalid_grant", "Invalid authorization code")
    if form.get("redirect_uri") != code.redirect_uri:
        return oauth_error("invalid_grant", "Invalid redirect URI")
    verifier = form.get("code_verifier")
    if code.code_challenge is not None:
        if not verifier:
            return oauth_error("invalid_request", "code_verifier required")
        if s256(verifier) != code.code_challenge:
            return oauth_error("invalid_grant", "code_verifier was incorrect")
    elif public:
        return oauth_error("invalid_request", "code_verifier required")  # a public client must use PKCE
    refresh = tokens.issue_refresh(Refresh(code.user, public_client=public))
    return Response(200, {"access_token": tokens.issue(code.user), "token_type": "Bearer", "scope": code.scope,
                          "expires_in": TOKEN_LIFETIME_S, "refresh_token": refresh})


def _refresh(value: str, public: bool, world_refresh_user: Callable[[str], int | None],
             tokens: TokenStore) -> Response:
    issued = tokens.refresh_grant(value)
    if issued is not None:
        user = issued.user
        if public and not issued.public_client:
            return oauth_error("invalid_client", "Invalid client secret")
    else:
        user = world_refresh_user(value)
        if user is not None and public:
            return oauth_error("invalid_client", "Invalid client secret")
    if user is None:
        return oauth_error("invalid_grant", "Refresh token revoked")
    out = {"access_token": tokens.issue(user), "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S,
           "scope": USER_SCOPES}
    if issued is not None and issued.public_client:
        # PKCE refresh tokens rotate: the answer carries a new one, which the client must keep.
        out["refresh_token"] = tokens.issue_refresh(Refresh(user, public_client=True))
    return Response(200, out)
