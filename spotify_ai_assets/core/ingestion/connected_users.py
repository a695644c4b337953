"""Clients for connected users, skipping (and reporting) those whose refresh token expired."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spotify_ai_assets.core.kernel.spotify_api import RefreshTokenExpired, SpotifyApiError, SpotifyGateway
from spotify_ai_assets.core.kernel.tokens import ConnectedUser, TokenStore

if TYPE_CHECKING:
    import spotipy


@dataclass
class UserSessions:
    clients: dict[str, tuple[ConnectedUser, spotipy.Spotify]] = field(default_factory=dict)
    expired: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def open_user_sessions(gw: SpotifyGateway, store: TokenStore) -> UserSessions:
    out = UserSessions()
    for user in store.connected_users():
        try:
            out.clients[user.user_id] = (user, gw.user_client(user.user_id, user.refresh_token.reveal()))
        except RefreshTokenExpired:
            # The user has to reconnect; until then they are skipped, not fatal to the partition.
            store.mark_expired(user.user_id)
            out.expired.append(user.user_id)
        except SpotifyApiError as exc:
            out.failed[user.user_id] = str(exc)
    return out
