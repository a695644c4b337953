"""Connecting a Spotify user: the OAuth 2.0 authorization-code flow with PKCE (RFC 6749, RFC 7636, RFC 8252).

1. `start_flow` makes a PKCE verifier, its S256 challenge and a random `state`, and the authorize URL asking for
   the scopes the platform needs.
2. `LoopbackReceiver` listens on the redirect URI's loopback address for the browser's one redirect, for a bounded
   time, and checks `state`.
3. `exchange_code` trades the code (with the verifier) for tokens at the accounts service; with a client secret
   the app authenticates as a confidential client, without one as a public PKCE client.
The caller then reads `/me` for the Spotify user id and stores the refresh token under it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

# recently-played for listening events; private and collaborative playlists to read tracked playlists' items.
SCOPES = ("user-read-recently-played", "playlist-read-private", "playlist-read-collaborative")
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8888/callback"


class OAuthError(RuntimeError):
    """The flow did not complete: the message says at which step and why (never a token)."""


@dataclass(frozen=True)
class Flow:
    authorize_url: str
    redirect_uri: str
    state: str
    verifier: str = field(repr=False)


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    scope: tuple[str, ...]
    expires_in: int | None


def challenge_of(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def check_redirect_uri(redirect_uri: str) -> tuple[str, int, str]:
    """(host, port, path) of a loopback redirect URI; anything else is refused with the reason."""
    parts = urlsplit(redirect_uri)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1") or not parts.port:
        raise OAuthError(f"redirect URI {redirect_uri!r} must be http://127.0.0.1:PORT/path (or [::1]) with an "
                         "explicit port: Spotify accepts loopback IP addresses, not `localhost`")
    return parts.hostname, parts.port, parts.path or "/"


def start_flow(accounts_url: str, client_id: str, redirect_uri: str = DEFAULT_REDIRECT_URI,
               scopes: tuple[str, ...] = SCOPES, show_dialog: bool = True) -> Flow:
    check_redirect_uri(redirect_uri)
    verifier = secrets.token_urlsafe(64)[:96]  # 43-128 characters of [A-Za-z0-9-._~]
    state = secrets.token_urlsafe(24)
    query = urlencode({
        "client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri, "scope": " ".join(scopes),
        "state": state, "code_challenge_method": "S256", "code_challenge": challenge_of(verifier),
        "show_dialog": "true" if show_dialog else "false",
    })
    return Flow(f"{accounts_url.rstrip('/')}/authorize?{query}", redirect_uri, state, verifier)


class LoopbackReceiver:
    """A one-shot HTTP server on the redirect URI's loopback port: `wait` returns the authorization code."""

    def __init__(self, flow: Flow):
        host, port, self._path = check_redirect_uri(flow.redirect_uri)
        self._state = flow.state
        self._done = threading.Event()
        self._result: dict[str, str] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != receiver._path:
                    self.send_error(404)
                    return
                receiver._result = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                ok = "code" in receiver._result and receiver._result.get("state") == receiver._state
                body = ("Connected: you can close this window." if ok else
                        "Not connected: go back to the terminal for the reason.").encode()
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                receiver._done.set()

            def log_message(self, format: str, *args: object) -> None:  # the code is in the URL: never log it
                pass

        try:
            self._server = HTTPServer((host, port), Handler)
        except OSError as exc:
            raise OAuthError(f"cannot listen on {host}:{port} for the redirect ({exc.strerror}); is another "
                             "connect running, or the port in use? Pick another with --redirect-uri "
                             "(and register it in the Spotify app)") from None
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        daemon=True, name="oauth-loopback")

    def __enter__(self) -> LoopbackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait(self, timeout_s: float) -> str:
        if not self._done.wait(timeout_s):
            raise OAuthError(f"no answer at the redirect URI within {timeout_s:.0f} s: open the URL above in a "
                             "browser, log in and agree (or raise --timeout)")
        result = self._result
        if "error" in result:
            raise OAuthError(f"Spotify answered error={result['error']}"
                             + (" (the user declined)" if result["error"] == "access_denied" else ""))
        if result.get("state") != self._state:
            raise OAuthError("the redirect's state does not match this flow's: refused (a stale or forged redirect)")
        if not result.get("code"):
            raise OAuthError("the redirect carried no authorization code")
        return result["code"]


def exchange_code(token_url: str, client_id: str, client_secret: str | None, code: str, flow: Flow,
                  timeout_s: float = 10.0) -> Tokens:
    """The code and PKCE verifier for tokens. A refused exchange names Spotify's error, never the code."""
    import requests

    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
            "code_verifier": flow.verifier}
    auth = None
    if client_secret:
        auth = (client_id, client_secret)
    else:
        form["client_id"] = client_id
    try:
        response = requests.post(token_url, data=form, auth=auth, timeout=timeout_s)
    except requests.RequestException as exc:
        raise OAuthError(f"token exchange at {token_url} failed: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "refresh_token" not in body:
        error = body.get("error", f"HTTP {response.status_code}")
        raise OAuthError(f"token exchange refused: {error}: {body.get('error_description', '')}".rstrip(": "))
    granted = tuple(str(body.get("scope", "")).split())
    missing = [s for s in SCOPES if granted and s not in granted]
    if missing:
        raise OAuthError(f"the user granted {', '.join(granted)}, not {', '.join(missing)}: connect again and agree "
                         "to every scope")
    return Tokens(body["access_token"], body["refresh_token"], granted, body.get("expires_in"))
