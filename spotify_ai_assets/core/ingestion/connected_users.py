"""Sessions for connected users, skipping (and reporting) those whose refresh token expired."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from spotify_ai_assets.core.kernel.spotify_api import (
    RefreshTokenExpired,
    RunWideFailure,
    Session,
    SpotifyApiError,
    SpotifyGateway,
)
from spotify_ai_assets.core.kernel.tokens import TokenStore


@dataclass
class UserSessions:
    sessions: dict[str, Session] = field(default_factory=dict)  # Spotify user id -> session
    cursors: dict[str, int | None] = field(default_factory=dict)
    expired: list[str] = field(default_factory=list)  # found expired now (invalid_grant); marked in the store
    failed: dict[str, str] = field(default_factory=dict)  # user id -> why no session (messages use labels)


def open_user_sessions(gw: SpotifyGateway, store: TokenStore, name_user: Callable[[str], str]) -> UserSessions:
    """A session per active connected user. `invalid_grant` marks the user for reconnection in the store; any
    other failure leaves them out of this run with the reason. A rotated refresh token is stored at once."""
    out = UserSessions()
    for user in store.connected_users():
        uid = user.user_id
        try:
            out.sessions[uid] = gw.user_session(
                name_user(uid), user.refresh_token.reveal(),
                on_rotate=lambda token, uid=uid: store.update_refresh_token(uid, token))
            out.cursors[uid] = user.cursor_ms
        except RefreshTokenExpired:
            store.mark_expired(uid)
            out.expired.append(uid)
        except RunWideFailure:
            raise
        except SpotifyApiError as exc:
            out.failed[uid] = str(exc)
    return out
