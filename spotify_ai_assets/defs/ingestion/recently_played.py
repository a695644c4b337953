import datetime as dt

import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.connected_users import open_user_sessions
from spotify_ai_assets.core.ingestion.recently_played import (
    CAPTURE_COLUMNS,
    TABLE,
    captured_until,
    collect_recent_plays,
    merge_captures,
)
from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.records import quarantine_table
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, labeller, rate_limited
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import ComplianceResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

USERS_CHECK = "connected_users_read"
# Before recently_played had a table of its own, listening_events kept the captures (rows with this source).
LEGACY_TABLE = "listening_events"


@dg.asset(
    group_name=GROUP, owners=OWNERS, kinds={"spotify", "parquet"}, partitions_def=daily_partitions,
    check_specs=[*contract_check_specs(TABLE, contracts.RECENTLY_PLAYED, daily_partitions),
                 dg.AssetCheckSpec(USERS_CHECK, asset=TABLE, partitions_def=daily_partitions, description=(
                     "Every connected user's recently-played was read; warns naming (by pseudonym) each user who "
                     "must reconnect (refresh token expired) or whose requests failed after the retries."))],
    # Only this step of the day's ingestion calls the API for the plays: the pool holds it alone, not the
    # CPU-bound merge with the export files (listening_events), so concurrent days' API steps wait for each other
    # and nothing else.
    pool=SPOTIFY_POOL, code_version="recently-played-v1", op_tags={"spotify_ai/uses": "spotify_api"},
)
def recently_played(context: dg.AssetExecutionContext, spotify: SpotifyResource, token_store: TokenStoreResource,
                    compliance: ComplianceResource, lake: LakeResource) -> dg.MaterializeResult:
    """Each connected user's plays of the day (UTC) from Spotify's recently-played (50 a page, from where this
    partition's captures end), kept across runs: Spotify only ever shows the latest 50, so a re-run adds to the
    partition and never drops what an earlier run captured. Recently-played says nothing of ms_played, skip flag or
    device (nor country for a development-mode app): those columns are null. Users with expired refresh tokens or
    failing requests are reported by pseudonym and skipped; bad items are quarantined with the user's pseudonym."""
    day = partition_day(context)
    gw = spotify.gateway(day)
    store = token_store.store()
    name = labeller(compliance.salt)
    store_lake = lake.lake()

    previous = _previously_captured(store_lake, day)
    try:
        sessions = open_user_sessions(gw, store, name)
        plays = collect_recent_plays(gw, sessions.sessions, day, captured_until(previous), name)
    except RateLimitExceeded as exc:
        raise rate_limited(exc, spotify) from exc
    for uid in plays.expired:
        store.mark_expired(uid)
    for note in plays.notes:
        context.log.warning(note)
    needs_reconnect = sorted(name(u) for u in store.expired_user_ids())
    failed = {**{name(u): r for u, r in sessions.failed.items()}, **plays.failed}
    if needs_reconnect:
        context.log.warning(f"{len(needs_reconnect)} connected user(s) skipped: refresh token expired "
                            f"(invalid_grant), they must reconnect: {', '.join(needs_reconnect)}")
    if failed:
        context.log.warning(f"{len(failed)} connected user(s) not read, see {USERS_CHECK}")

    captures = merge_captures(previous, plays.rows)
    users = dg.AssetCheckResult(
        asset_key=dg.AssetKey(TABLE), check_name=USERS_CHECK, passed=not needs_reconnect and not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(sessions.sessions) - len(plays.failed) - len(plays.expired)} connected user(s) read, "
                    f"{len(needs_reconnect)} must reconnect, {len(failed)} failed",
        metadata={"users_needing_reconnect": dg.MetadataValue.json(needs_reconnect),
                  "failed_users": dg.MetadataValue.json(failed)})
    materialization = publish(
        store_lake, TABLE, captures, day, contracts.RECENTLY_PLAYED, quarantine=quarantine_table(plays.quarantine),
        extra_checks=[users],
        captured_before=len(previous), captured_now=captures.num_rows - len(previous),
        connected_users=len(sessions.sessions), users_needing_reconnect=dg.MetadataValue.json(needs_reconnect),
        api_stats=dg.MetadataValue.json(gw.stats.as_dict()),
    )
    # Only once the plays are in the lake: a failed run must be able to fetch them again.
    for uid, ms in plays.advances.items():
        store.advance_cursor(uid, ms)
    return materialization


def _previously_captured(store: Lake, day: dt.date) -> list[dict]:
    """This partition's earlier captures: its own table, or for a day ingested before the table existed, the
    recently-played rows listening_events kept."""
    partition = day.isoformat()
    if store.exists(TABLE, partition):
        return store.read(TABLE, partition, columns=CAPTURE_COLUMNS).to_pylist()
    if store.exists(LEGACY_TABLE, partition):
        return store.read(LEGACY_TABLE, partition, columns=CAPTURE_COLUMNS,
                          filters=[("source", "=", "recently_played")]).to_pylist()
    return []
