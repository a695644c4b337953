"""`python -m spotify_ai_assets.connect`: the authorization-code flow with PKCE, end to end against the emulator's
/authorize and token endpoint, with a scripted "browser" that logs in and agrees (or cancels)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests

from spotify_ai_assets.core.kernel.oauth import SCOPES, OAuthError, challenge_of, start_flow
from spotify_ai_assets.core.kernel.privacy import user_label
from spotify_ai_assets.core.kernel.spotify_api import SpotifyGateway
from spotify_ai_assets.core.kernel.tokens import FileTokenStore
from spotify_ai_assets.emulator import SpotifyEmulator
from spotify_ai_assets.sandbox.world import World

from .conftest import CLOCK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Form(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value") or ""


def browser(authorize_url: str, user_id: str, decision: str = "accept") -> requests.Response:
    """What a person does in the browser: open the URL, log in as `user_id`, press Agree (or Cancel)."""
    page = requests.get(authorize_url, timeout=10)
    assert page.status_code == 200 and "Log in" in page.text, page.text
    form = _Form()
    form.feed(page.text)
    base = authorize_url.split("/authorize")[0]
    return requests.post(f"{base}/authorize", data={**form.fields, "user_id": user_id, "decision": decision},
                         timeout=10, allow_redirects=True)


@pytest.fixture
def emu(world: World) -> Iterator[SpotifyEmulator]:
    with SpotifyEmulator(world, clock=CLOCK) as e:
        yield e


def environ(tmp_path: Path, emu: SpotifyEmulator, **extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))},
            "SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path / "home"),
            "SPOTIFY_AI_TOKEN_FILE": str(tmp_path / "tokens.json"), "SPOTIFY_API_URL": emu.api_url,
            "SPOTIFY_ACCOUNTS_URL": emu.accounts_url, "SPOTIFY_CLIENT_ID": "sandbox-client", **extra}


def run_connect(args: list[str], env: dict[str, str], login_as: str | None, decision: str = "accept"
                ) -> tuple[int, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "spotify_ai_assets.connect", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        url = None
        if login_as is not None:
            for line in proc.stdout:
                if line.strip().startswith("http"):
                    url = line.strip()
                    break
            assert url, "the command printed no authorize URL"
            browser(url, login_as, decision)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, (url or "") + "\n" + out, err


def test_connect_stores_the_refresh_token_under_the_spotify_user_id(tmp_path, emu, world):
    user = next(u for u in range(len(world.user_ids)) if u not in set(world.connected_users.tolist()))
    user_id = world.user_ids[user]
    port = free_port()
    env = environ(tmp_path, emu)
    code, out, err = run_connect(["add", "--no-browser", "--redirect-uri", f"http://127.0.0.1:{port}/callback",
                                  "--timeout", "30"], env, login_as=user_id)
    assert code == 0, err
    url = out.splitlines()[0]
    assert url.startswith(emu.accounts_url + "authorize?")
    assert "code_challenge_method=S256" in url and "code_challenge=" in url and "state=" in url
    assert "scope=" + "+".join(SCOPES) in url
    assert f"Connected Spotify user {user_id}" in out
    assert user_label("sandbox-erasure-salt", user_id) in out
    store = FileTokenStore(tmp_path / "tokens.json")
    (stored,) = store.connected_users()
    assert stored.user_id == user_id
    # The stored refresh token works: the pipeline's gateway acts as that user with it.
    gw = SpotifyGateway(emu.api_url, emu.accounts_url, "sandbox-client", "sandbox-secret")
    session = gw.user_session("user:x", stored.refresh_token.reveal())
    assert gw.me(session)["id"] == user_id
    assert json.loads((tmp_path / "tokens.json").read_text())["users"][user_id]["status"] == "active"

    # list shows the user and the label runs use; disconnect forgets them.
    listed = subprocess.run([sys.executable, "-m", "spotify_ai_assets.connect", "list"], env=env, text=True,
                            capture_output=True, timeout=60)
    assert listed.returncode == 0 and user_id in listed.stdout
    assert user_label("sandbox-erasure-salt", user_id) in listed.stdout
    gone = subprocess.run([sys.executable, "-m", "spotify_ai_assets.connect", "disconnect", user_id], env=env,
                          text=True, capture_output=True, timeout=60)
    assert gone.returncode == 0 and store.all_user_ids() == []


def test_reconnect_reactivates_an_expired_user_and_refuses_another_login(tmp_path, emu, world):
    expired = world.user_ids[world.expired_token_user]
    store = FileTokenStore(tmp_path / "tokens.json")
    store.add_user(expired, world.refresh_token(world.expired_token_user))
    store.mark_expired(expired)
    env = environ(tmp_path, emu)
    other = world.user_ids[int(world.connected_users[0])]
    code, _, err = run_connect(["reconnect", expired, "--no-browser", "--redirect-uri",
                                f"http://127.0.0.1:{free_port()}/cb", "--timeout", "30"], env, login_as=other)
    assert code == 2 and "not" in err and store.expired_user_ids() == [expired]
    code, out, err = run_connect(["reconnect", expired, "--no-browser", "--redirect-uri",
                                  f"http://127.0.0.1:{free_port()}/cb", "--timeout", "30"], env, login_as=expired)
    assert code == 0, err
    assert f"Reconnected Spotify user {expired}" in out
    assert store.expired_user_ids() == [] and [u.user_id for u in store.connected_users()] == [expired]


def test_a_declined_consent_and_a_silent_browser_end_the_command_with_the_reason(tmp_path, emu, world):
    env = environ(tmp_path, emu)
    code, _, err = run_connect(["add", "--no-browser", "--redirect-uri", f"http://127.0.0.1:{free_port()}/cb",
                                "--timeout", "30"], env, login_as=world.user_ids[3], decision="cancel")
    assert code == 2 and "declined" in err
    code, _, err = run_connect(["add", "--no-browser", "--redirect-uri", f"http://127.0.0.1:{free_port()}/cb",
                                "--timeout", "1"], env, login_as=None)
    assert code == 2 and "no answer" in err
    assert not (tmp_path / "tokens.json").exists() or FileTokenStore(tmp_path / "tokens.json").all_user_ids() == []


def test_a_public_pkce_client_needs_the_right_verifier_and_its_rotated_token_is_kept(tmp_path, emu, world):
    flow = start_flow(emu.accounts_url, "sandbox-client", f"http://127.0.0.1:{free_port()}/cb")
    # No loopback listener here: the test reads the code off the redirect itself.
    page = requests.get(flow.authorize_url, timeout=10)
    form = _Form()
    form.feed(page.text)
    redirect = requests.post(emu.accounts_url + "authorize", data={**form.fields, "user_id": world.user_ids[4],
                                                                    "decision": "accept"},
                             allow_redirects=False, timeout=10)
    assert redirect.status_code == 302
    code = re.search(r"[?&]code=([^&]+)", redirect.headers["Location"]).group(1)
    token_url = emu.accounts_url + "api/token"
    form_data = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow.redirect_uri,
                 "client_id": "sandbox-client"}
    wrong = requests.post(token_url, data={**form_data, "code_verifier": "x" * 64}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    # A code is single-use: the failed attempt above used it up, so start again and do it right.
    redirect = requests.post(emu.accounts_url + "authorize", data={**form.fields, "user_id": world.user_ids[4],
                                                                    "decision": "accept"},
                             allow_redirects=False, timeout=10)
    code = re.search(r"[?&]code=([^&]+)", redirect.headers["Location"]).group(1)
    assert challenge_of(flow.verifier) in page.text  # the page carries the flow's S256 challenge
    ok = requests.post(token_url, data={**form_data, "code": code, "code_verifier": flow.verifier}, timeout=10)
    assert ok.status_code == 200, ok.text
    refresh = ok.json()["refresh_token"]
    store = FileTokenStore(tmp_path / "tokens.json")
    store.add_user(world.user_ids[4], refresh)
    gw = SpotifyGateway(emu.api_url, emu.accounts_url, "sandbox-client", "sandbox-secret")
    gw.user_session("user:x", refresh, on_rotate=lambda t: store.update_refresh_token(world.user_ids[4], t))
    (stored,) = store.connected_users()
    assert stored.refresh_token.reveal() not in (refresh, "")  # rotated and kept


def test_only_loopback_redirect_uris_are_accepted() -> None:
    for bad in ("http://localhost:8888/callback", "https://127.0.0.1:8888/cb", "http://127.0.0.1/cb"):
        with pytest.raises(OAuthError, match="loopback"):
            start_flow("http://accounts.invalid/", "client", bad)
