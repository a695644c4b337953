"""No raw Spotify user id reaches the Dagster instance: a run of the ingestion assets with an expired user (and
connected users, playlists owned by users) leaves none in the event log, the compute logs, the structured JSON
logs or the command's output. Users are named by pseudonym (`user:<16 hex of user_key>`)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

from spotify_ai_assets.core.kernel.privacy import user_label
from spotify_ai_assets.sandbox.world import World

REPO = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 1, 14)


def test_a_run_with_an_expired_user_leaves_no_raw_user_id_in_the_instance(tmp_path: Path) -> None:
    world = World(seed=7, scale="tiny")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SPOTIFY_", "DAGSTER_"))},
           "DAGSTER_HOME": str(home), "SPOTIFY_AI_ENV": "local", "SPOTIFY_AI_HOME": str(tmp_path / "sandbox"),
           "SPOTIFY_AI_SANDBOX_SCALE": "tiny", "SPOTIFY_AI_EXECUTOR": "in_process"}
    done = subprocess.run(
        ["dagster", "asset", "materialize", "-m", "spotify_ai_assets.definitions", "--partition", DAY.isoformat(),
         "--select", "spotify_artists,spotify_albums,spotify_tracks,playlist_snapshots,listening_events"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    instance_files = [p for p in (tmp_path / ".dagster_home").rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in instance_files), "the event log should be in the instance"
    assert any("spotify_ai.jsonl" in p.name for p in instance_files), "the structured logs should be written"
    assert any(p.suffix in (".out", ".err", ".complete") for p in instance_files), "compute logs should be kept"
    texts = {str(p): p.read_bytes() for p in instance_files}
    texts["command output"] = (done.stdout + done.stderr).encode()

    expired = world.user_ids[world.expired_token_user]
    everything = b"\n".join(texts.values())
    # The run did name the expired user, by pseudonym.
    assert user_label("sandbox-erasure-salt", expired).encode() in everything
    leaks = {(uid, where) for uid in world.user_ids for where, blob in texts.items() if uid.encode() in blob}
    assert not leaks, sorted(leaks)[:10]
    # ... while the lake (ingestion, erasable) does hold them: the scan would have seen them had they leaked.
    lake = tmp_path / "sandbox" / "lake"
    assert any(expired.encode() in p.read_bytes() or world.user_ids[int(world.connected_users[0])].encode()
               in p.read_bytes() for p in lake.rglob("*.parquet"))
