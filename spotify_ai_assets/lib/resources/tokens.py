"""Connected users' refresh tokens: a PostgreSQL table in deployments, a local file on a laptop, and in the sandbox
a file seeded with the synthetic world's connected users."""

from __future__ import annotations

from abc import ABC, abstractmethod

import dagster as dg

from spotify_ai_assets.core.kernel.tokens import FileTokenStore, PostgresTokenStore, TokenStore
from spotify_ai_assets.lib.resources.sandbox_world import SandboxWorldResource


class TokenStoreResource(dg.ConfigurableResource, ABC):
    @abstractmethod
    def store(self) -> TokenStore:
        """The token store (see core.kernel.tokens for what it holds)."""


class PostgresTokenStoreResource(TokenStoreResource):
    """One table per environment and branch (`schema_name`); the DSN is an EnvVar, it may hold a password."""

    dsn: str
    schema_name: str

    def store(self) -> TokenStore:
        return PostgresTokenStore(self.dsn, self.schema_name)


class FileTokenStoreResource(TokenStoreResource):
    """A JSON file (mode 0600)."""

    path: str

    def store(self) -> TokenStore:
        return FileTokenStore(self.path)


class SandboxTokenStoreResource(FileTokenStoreResource):
    """The sandbox's connected users, seeded into the token file on first use."""

    world: SandboxWorldResource

    def store(self) -> TokenStore:
        store = FileTokenStore(self.path)
        if not store.path.exists():
            world = self.world.world()
            for u in world.connected_users:
                store.add_user(world.user_ids[int(u)], world.refresh_token(int(u)))
        return store
