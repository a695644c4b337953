"""`/authorize`: the accounts service's login and consent page for the authorization-code flow (with PKCE).

`GET /authorize?client_id=..&response_type=code&redirect_uri=..&scope=..&state=..&code_challenge_method=S256
&code_challenge=..` shows a page where a sandbox user logs in (by Spotify user id) and agrees or cancels; the form
posts back here and the browser is redirected to `redirect_uri` with `code` and `state` (or `error=access_denied`).
As on Spotify, a bad client id or redirect URI is shown on the page, never redirected to.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from urllib.parse import parse_qs, urlencode, urlsplit

from spotify_ai_assets.emulator.auth import Code, TokenStore
from spotify_ai_assets.emulator.responses import Response

PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
FLOW_PARAMS = ("client_id", "response_type", "redirect_uri", "scope", "state", "code_challenge_method",
               "code_challenge", "show_dialog")


def _page(status: int, title: str, body: str) -> Response:
    doc = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
           f"<body><h1>{html.escape(title)}</h1>{body}</body></html>")
    return Response(status, doc.encode(), content_type="text/html; charset=utf-8")


def loopback_or_registered(redirect_uri: str, registered: Iterable[str] | None) -> bool:
    """A registered redirect URI, or (no list registered) any http loopback address, as RFC 8252 suggests for
    native apps: 127.0.0.1 or [::1], any port. `localhost` is refused, as Spotify does since 2025."""
    if registered is not None:
        return redirect_uri in set(registered)
    parts = urlsplit(redirect_uri)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1") and not parts.fragment


def _problem(params: dict[str, str], client_id: str, registered: Iterable[str] | None) -> str | None:
    if params.get("client_id") != client_id:
        return "INVALID_CLIENT: Invalid client"
    if not loopback_or_registered(params.get("redirect_uri", ""), registered):
        return "INVALID_CLIENT: Invalid redirect URI"
    if params.get("response_type") != "code":
        return "unsupported_response_type: response_type must be code"
    challenge = params.get("code_challenge")
    if challenge is not None:
        if params.get("code_challenge_method") != "S256":
            return "invalid_request: code_challenge_method must be S256"
        if not PKCE_CHALLENGE.match(challenge):
            return "invalid_request: code_challenge must be 43-128 characters of base64url"
    return None


def _redirect(redirect_uri: str, params: dict[str, str | None]) -> Response:
    query = urlencode({k: v for k, v in params.items() if v is not None})
    sep = "&" if "?" in redirect_uri else "?"
    return Response(302, b"", {"Location": f"{redirect_uri}{sep}{query}"}, content_type="text/plain")


def authorize(method: str, query: str, body: bytes, *, client_id: str, registered: Iterable[str] | None,
              user_by_id: Callable[[str], int | None], users_shown: list[str], tokens: TokenStore) -> Response:
    source = query if method == "GET" else body.decode("utf-8", "replace")
    params = {k: v[-1] for k, v in parse_qs(source, keep_blank_values=True).items()}
    problem = _problem(params, client_id, registered)
    if problem:
        return _page(400, "Error", f"<p>{html.escape(problem)}</p>")
    if method == "GET":
        return _login_form(params, users_shown, error=None)
    if method != "POST":
        return _page(405, "Error", "<p>Method not allowed</p>")
    if params.get("decision") != "accept":
        return _redirect(params["redirect_uri"], {"error": "access_denied", "state": params.get("state")})
    user = user_by_id(params.get("user_id", "").strip())
    if user is None:
        return _login_form(params, users_shown, error="Incorrect username or password.")
    code = tokens.issue_code(Code(client_id=params["client_id"], redirect_uri=params["redirect_uri"], user=user,
                                  scope=params.get("scope", ""), code_challenge=params.get("code_challenge")))
    return _redirect(params["redirect_uri"], {"code": code, "state": params.get("state")})


def _login_form(params: dict[str, str], users_shown: list[str], error: str | None) -> Response:
    hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(params[k], quote=True)}'>"
                     for k in FLOW_PARAMS if k in params)
    options = "".join(f"<option value='{html.escape(u, quote=True)}'>" for u in users_shown)
    scopes = "".join(f"<li>{html.escape(s)}</li>" for s in params.get("scope", "").split() if s)
    warning = f"<p role='alert'>{html.escape(error)}</p>" if error else ""
    body = (f"{warning}<p>The app <b>{html.escape(params['client_id'])}</b> asks to:</p><ul>{scopes}</ul>"
            "<form method='post' action='/authorize'>"
            f"{hidden}<label>Spotify user id <input name='user_id' list='users' autofocus></label>"
            f"<datalist id='users'>{options}</datalist> "
            "<button name='decision' value='accept'>Agree</button> "
            "<button name='decision' value='cancel'>Cancel</button></form>")
    return _page(400 if error else 200, "Log in to the Spotify emulator", body)
