"""The environment seam: same resource keys everywhere, never a shared storage target, env read at build."""

from __future__ import annotations

import re
import subprocess
import sys

import dagster as dg
import pytest

from spotify_ai_assets.definitions import build_defs
from spotify_ai_assets.lib.environments import RESOURCE_KEYS, storage_targets
from spotify_ai_assets.settings import Settings, SettingsError

PROD = {"SPOTIFY_AI_ENV": "prod", "SPOTIFY_AI_LAKE": "s3://spotify-ai-lake/prod",
        "SPOTIFY_AI_TOKEN_DB": "postgresql://svc@db/spotify", "SPOTIFY_AI_WATCHLIST": "/etc/spotify_ai/watchlist.yaml"}
BRANCH = {**PROD, "SPOTIFY_AI_ENV": "branch", "SPOTIFY_AI_BRANCH": "feature/New-Model"}


@pytest.fixture(params=["local", "branch", "prod"])
def environ(request, sandbox_environ) -> dict[str, str]:
    return {"local": sandbox_environ, "branch": BRANCH, "prod": PROD}[request.param]


def test_every_environment_builds_definitions_with_the_same_resource_keys(environ):
    defs = build_defs(environ)
    assert set(defs.resources) == set(RESOURCE_KEYS)
    job = defs.resolve_job_def("daily_refresh_job")
    assert {"lake", "spotify", "token_store", "landing", "audio_landing"} <= set(job.resource_defs)
    assert {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()} >= {
        "spotify_artists", "spotify_albums", "spotify_tracks", "playlist_snapshots", "listening_events",
        "daily_track_country_stats", "daily_artist_stats", "daily_user_stats"}


def test_prod_branch_and_local_never_share_a_storage_target(sandbox_environ):
    targets = {name: storage_targets(Settings.from_environ(env))
               for name, env in (("local", sandbox_environ), ("branch", BRANCH), ("prod", PROD))}
    for kind in ("lake", "token_store_schema", "backup"):
        values = [t[kind] for t in targets.values()]
        assert len(set(values)) == 3, f"{kind} shared between environments: {targets}"
    lake = targets["branch"]["lake"]
    assert re.fullmatch(r"s3://spotify-ai-lake/prod/branches/feature_new_model_[0-9a-f]{7}", lake), lake
    assert targets["branch"]["token_store_schema"] == "spotify_ai_branch_" + lake.rsplit("/", 1)[1]


def test_branches_whose_names_slug_alike_still_get_their_own_targets():
    names = ["a-b", "a_b", "A_B", "x" * 60, "x" * 61]
    slugs = [Settings.from_environ({**BRANCH, "SPOTIFY_AI_BRANCH": n}).branch for n in names]
    assert len(set(slugs)) == len(names), slugs
    assert slugs[1] == "a_b"  # a name that is already a clean slug stays readable
    assert all(re.fullmatch(r"[a-z0-9_]{1,40}", s or "") for s in slugs), slugs


def test_secrets_are_env_vars_not_values():
    spotify = build_defs(PROD).resources["spotify"]
    # EnvVar keeps the secret out of config, run records and the UI: it is resolved in the run process.
    assert isinstance(spotify.client_secret, dg.EnvVar)
    assert spotify.client_secret.env_var_name == "SPOTIFY_CLIENT_SECRET"


@pytest.mark.parametrize("env, missing", [
    ({"SPOTIFY_AI_ENV": "prod"}, "SPOTIFY_AI_LAKE"),
    ({"SPOTIFY_AI_ENV": "branch", "SPOTIFY_AI_LAKE": "s3://b/p", "SPOTIFY_AI_TOKEN_DB": "x"}, "SPOTIFY_AI_BRANCH"),
    ({"SPOTIFY_AI_ENV": "staging"}, "SPOTIFY_AI_ENV"),
    ({"SPOTIFY_AI_SANDBOX_SEED": "seven"}, "SPOTIFY_AI_SANDBOX_SEED"),
    ({"SPOTIFY_AI_SANDBOX_SCALE": "huge"}, "SPOTIFY_AI_SANDBOX_SCALE"),
])
def test_a_bad_environment_names_the_variable(env, missing):
    with pytest.raises(SettingsError, match=missing):
        Settings.from_environ(env)


def test_environment_is_read_when_definitions_load_not_at_import():
    code = (
        "from spotify_ai_assets.definitions import defs\n"
        "try:\n    defs()\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env={"SPOTIFY_AI_ENV": "staging", "PATH": ""},
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("SettingsError SPOTIFY_AI_ENV='staging'"), out.stdout + out.stderr


def test_the_pure_packages_load_without_dagster():
    code = ("import sys\n"
            "import spotify_ai_assets.core.ingestion.listening_events, spotify_ai_assets.core.analytics.trends\n"
            "import spotify_ai_assets.core.audio.features\n"
            "import spotify_ai_assets.sandbox.world, spotify_ai_assets.emulator\n"
            "print('dagster' in sys.modules)\n"
            "from spotify_ai_assets.definitions import defs\n"
            "print(type(defs).__name__, 'dagster' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "LazyDefinitions", "True"], out.stdout + out.stderr


def test_the_sandbox_world_starts_on_the_first_partition_day():
    from spotify_ai_assets.lib.partitions import FIRST_DAY, daily_partitions
    from spotify_ai_assets.sandbox.world import EPOCH

    assert EPOCH == FIRST_DAY
    assert daily_partitions.get_first_partition_key() == EPOCH.isoformat()


def test_backups_go_to_their_own_target_per_environment_and_the_salt_is_an_env_var(sandbox_environ):
    local = Settings.from_environ(sandbox_environ)
    assert local.backup_url == f"{local.home}/backups/local"
    prod = Settings.from_environ({**PROD, "SPOTIFY_AI_BACKUP_URL": "s3://spotify-ai-backups/nightly"})
    branch = Settings.from_environ({**BRANCH, "SPOTIFY_AI_BACKUP_URL": "s3://spotify-ai-backups/nightly"})
    assert prod.backup_url == "s3://spotify-ai-backups/nightly"
    assert branch.backup_url.startswith("s3://spotify-ai-backups/nightly/branches/feature_new_model_")
    assert Settings.from_environ(PROD).backup_url == "s3://spotify-ai-lake/prod_backups"
    compliance = build_defs(PROD).resources["compliance"]
    assert isinstance(compliance.salt, dg.EnvVar) and compliance.salt.env_var_name == "SPOTIFY_AI_ERASURE_SALT"
    with pytest.raises(SettingsError, match="SPOTIFY_AI_BACKUP_KEEP"):
        Settings.from_environ({"SPOTIFY_AI_BACKUP_KEEP": "7,4"})


def test_definitions_are_built_once_per_environment(monkeypatch, tmp_path):
    """Dagster loads the code location several times per command: the same environment reuses the Definitions, a
    changed variable (or working directory) builds them again and is seen."""
    from spotify_ai_assets.definitions import defs

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPOTIFY_AI_HOME", str(tmp_path / "a"))
    first = defs()
    assert defs() is first
    monkeypatch.setenv("SPOTIFY_AI_HOME", str(tmp_path / "b"))
    second = defs()
    assert second is not first
    assert str(tmp_path / "b") in repr(second.resources["lake"])
