"""Connect Spotify users to this deployment: `python -m spotify_ai_assets.connect add|reconnect|list|disconnect`.

`add` runs the OAuth 2.0 authorization-code flow with PKCE: it prints the authorize URL (scopes
user-read-recently-played, playlist-read-private, playlist-read-collaborative), waits on the loopback redirect URI
for the browser's answer, exchanges the code, reads the user's Spotify id from /me and stores the refresh token in
this environment's token store under that id (SPOTIFY_AI_ENV=local: the token file; branch/prod: PostgreSQL at
SPOTIFY_AI_TOKEN_DB). The same environment variables as the definitions choose the store, the Spotify app
(SPOTIFY_CLIENT_ID, SPOTIFY_CLIENT_SECRET) and the API (SPOTIFY_API_URL, SPOTIFY_ACCOUNTS_URL).
"""

from __future__ import annotations

import argparse
import os
import sys
import webbrowser
from collections.abc import Mapping

from spotify_ai_assets.core.kernel.oauth import (
    DEFAULT_REDIRECT_URI,
    SCOPES,
    LoopbackReceiver,
    OAuthError,
    exchange_code,
    start_flow,
)
from spotify_ai_assets.core.kernel.privacy import user_label
from spotify_ai_assets.core.kernel.spotify_api import SpotifyApiError, SpotifyGateway
from spotify_ai_assets.core.kernel.tokens import FileTokenStore, PostgresTokenStore, TokenStore
from spotify_ai_assets.settings import Settings, SettingsError


def token_store(settings: Settings, environ: Mapping[str, str]) -> TokenStore:
    if settings.env == "local":
        return FileTokenStore(settings.token_store_path)
    return PostgresTokenStore(environ["SPOTIFY_AI_TOKEN_DB"], settings.token_store_schema)


def _salt(settings: Settings, environ: Mapping[str, str]) -> str | None:
    return settings.erasure_salt_default if settings.env == "local" else environ.get("SPOTIFY_AI_ERASURE_SALT")


def _client(environ: Mapping[str, str], settings: Settings) -> tuple[str, str | None]:
    client_id = environ.get("SPOTIFY_CLIENT_ID") or ("sandbox-client" if settings.env == "local" else "")
    if not client_id:
        raise SettingsError("SPOTIFY_CLIENT_ID must be set (the Client ID of your app in Spotify's developer "
                            "dashboard)")
    # Set but empty: a public PKCE client (no secret). Unset locally: the emulator's sandbox secret.
    if "SPOTIFY_CLIENT_SECRET" in environ:
        return client_id, environ["SPOTIFY_CLIENT_SECRET"] or None
    return client_id, "sandbox-secret" if settings.env == "local" else None


def connect(args: argparse.Namespace, environ: Mapping[str, str], expect: str | None = None) -> int:
    settings = Settings.from_environ(environ)
    client_id, secret = _client(environ, settings)
    flow = start_flow(settings.accounts_url, client_id, args.redirect_uri, show_dialog=True)
    with LoopbackReceiver(flow) as receiver:
        print(f"Open this URL, log in to Spotify and agree (scopes: {', '.join(SCOPES)}):\n\n  {flow.authorize_url}\n",
              flush=True)
        print(f"Waiting up to {args.timeout:.0f} s for the redirect to {flow.redirect_uri} ...", flush=True)
        if not args.no_browser:
            webbrowser.open(flow.authorize_url)
        code = receiver.wait(args.timeout)
    gw = SpotifyGateway(api_url=settings.api_url, accounts_url=settings.accounts_url, client_id=client_id,
                        client_secret=secret or "")
    tokens = exchange_code(gw.token_url, client_id, secret, code, flow)
    user_id = gw.me(gw.token_session("the user being connected", tokens.access_token)).get("id")
    if not isinstance(user_id, str) or not user_id:
        raise OAuthError("/me answered no user id")
    if expect is not None and user_id != expect:
        raise OAuthError(f"logged in as {user_id!r}, not {expect!r}: nothing stored; log in as {expect!r} to "
                         "reconnect them")
    store = token_store(settings, environ)
    again = user_id in store.all_user_ids()
    store.add_user(user_id, tokens.refresh_token)
    salt = _salt(settings, environ)
    label = f" ({user_label(salt, user_id)} in run metadata and logs)" if salt else ""
    print(f"{'Reconnected' if again else 'Connected'} Spotify user {user_id}{label}; refresh token stored in the "
          f"{settings.env} token store.")
    return 0


def list_users(environ: Mapping[str, str]) -> int:
    settings = Settings.from_environ(environ)
    users = token_store(settings, environ).users()
    salt = _salt(settings, environ)
    if not users:
        print("No connected users.")
        return 0
    print(f"{'spotify user id':<30} {'status':<8} {'label in runs':<22} updated")
    for u in users:
        label = user_label(salt, u.user_id) if salt else "-"
        status = u.status if u.status == "active" else f"{u.status} (reconnect)"
        print(f"{u.user_id:<30} {status:<8} {label:<22} {u.updated_at or '-'}")
    return 0


def disconnect(user_id: str, environ: Mapping[str, str]) -> int:
    settings = Settings.from_environ(environ)
    if token_store(settings, environ).remove_user(user_id):
        print(f"Disconnected {user_id}: refresh token deleted. (To revoke the app's access on Spotify's side too, "
              "the user removes it at https://www.spotify.com/account/apps/.)")
        return 0
    print(f"{user_id} is not a connected user.", file=sys.stderr)
    return 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m spotify_ai_assets.connect", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name, help_text in (("add", "connect a Spotify user (OAuth authorization code with PKCE)"),
                            ("reconnect", "connect an expired user again (refuses a different login)")):
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if name == "reconnect":
            cmd.add_argument("user_id", help="the Spotify user id to reconnect")
        cmd.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI,
                         help="a loopback URI registered in the Spotify app (default %(default)s)")
        cmd.add_argument("--timeout", type=float, default=300.0,
                         help="seconds to wait for the browser's redirect (default %(default)s)")
        cmd.add_argument("--no-browser", action="store_true", help="print the URL only; don't open a browser")
    sub.add_parser("list", help="connected users: id, status, the pseudonymous label runs use")
    gone = sub.add_parser("disconnect", help="forget a user and their refresh token")
    gone.add_argument("user_id")
    return p


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    env = os.environ if environ is None else environ
    try:
        if args.command == "add":
            return connect(args, env)
        if args.command == "reconnect":
            return connect(args, env, expect=args.user_id)
        if args.command == "list":
            return list_users(env)
        return disconnect(args.user_id, env)
    except (OAuthError, SpotifyApiError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
