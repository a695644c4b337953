import datetime as dt

import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.connected_users import open_user_sessions
from spotify_ai_assets.core.ingestion.listening_events import ingest_day
from spotify_ai_assets.core.ingestion.recently_played import collect_recent_plays
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, labeller, rate_limited
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LandingResource
from spotify_ai_assets.lib.resources.maintenance import ComplianceResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

TABLE = "listening_events"
USERS_CHECK = "connected_users_read"


@dg.asset(
    group_name=GROUP, owners=OWNERS, kinds={"spotify", "duckdb", "parquet"}, partitions_def=daily_partitions,
    check_specs=[*contract_check_specs(TABLE, contracts.LISTENING_EVENTS, daily_partitions),
                 dg.AssetCheckSpec(USERS_CHECK, asset=TABLE, partitions_def=daily_partitions, description=(
                     "Every connected user's recently-played was read; warns naming (by pseudonym) each user who "
                     "must reconnect (refresh token expired) or whose requests failed after the retries."))],
    pool=SPOTIFY_POOL, code_version="listening-events-v2", op_tags={"spotify_ai/uses": "spotify_api"},
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30)),
)
def listening_events(context: dg.AssetExecutionContext, spotify: SpotifyResource, token_store: TokenStoreResource,
                     landing: LandingResource, compliance: ComplianceResource, lake: LakeResource
                     ) -> dg.MaterializeResult:
    """Every play of the day (UTC), deduplicated on (user_id, track_id, played_at), from two sources:
    the backend's hourly export files in the landing folder (JSON lines or Parquet) and each connected
    user's recently-played (50 a page, from where this partition's captures end). Recently-played rows have no
    ms_played, skip flag or device (and no country for a development-mode app): those columns are null for
    them. Bad records are quarantined with file:line (or user pseudonym), field and reason; users with expired
    refresh tokens or failing requests are reported by pseudonym and skipped. Plays captured from recently-played
    in an earlier run of this partition are kept, since Spotify only ever shows the latest 50."""
    day = partition_day(context)
    files = landing.export_files(day)
    gw = spotify.gateway(day)
    store = token_store.store()
    name = labeller(compliance.salt)

    recent: list[dict] = _previously_captured(lake, day)
    # Each partition resumes from its own captures, not from the user's global cursor: a backfill that runs a later
    # day first must not hide an earlier day's plays.
    captured_until: dict[str, int] = {}
    for row in recent:
        ms = int(row["played_at"].timestamp() * 1000)
        captured_until[row["user_id"]] = max(captured_until.get(row["user_id"], 0), ms)
    try:
        sessions = open_user_sessions(gw, store, name)
        plays = collect_recent_plays(gw, sessions.sessions, day, captured_until, name)
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
    recent.extend(plays.rows)

    store_lake = lake.lake()
    result = ingest_day(files, day, lambda batches: store_lake.write_batches(TABLE, batches, day.isoformat()),
                        recent=recent, recent_quarantine=plays.quarantine)
    users = dg.AssetCheckResult(
        asset_key=dg.AssetKey(TABLE), check_name=USERS_CHECK, passed=not needs_reconnect and not failed,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(sessions.sessions) - len(plays.failed) - len(plays.expired)} connected user(s) read, "
                    f"{len(needs_reconnect)} must reconnect, {len(failed)} failed",
        metadata={"users_needing_reconnect": dg.MetadataValue.json(needs_reconnect),
                  "failed_users": dg.MetadataValue.json(failed)})
    materialization = publish(
        store_lake, TABLE, result.events, day, contracts.LISTENING_EVENTS, quarantine=result.quarantine,
        extra_checks=[users],
        export_files=len(files), export_records=result.export_records, recently_played_rows=result.recent_plays,
        duplicates_removed=result.duplicates, rows_by_source=dg.MetadataValue.json(result.rows_by_source),
        users_needing_reconnect=dg.MetadataValue.json(needs_reconnect),
        api_stats=dg.MetadataValue.json(gw.stats.as_dict()),
    )
    # Only once the plays are in the lake: a failed run must be able to fetch them again.
    for uid, ms in plays.advances.items():
        store.advance_cursor(uid, ms)
    return materialization


def _previously_captured(lake: LakeResource, day: dt.date) -> list[dict]:
    store = lake.lake()
    if not store.exists(TABLE, day.isoformat()):
        return []
    columns = ["user_id", "track_id", "artist_id", "played_at", "country"]
    return store.read(TABLE, day.isoformat(), columns=columns, filters=[("source", "=", "recently_played")]).to_pylist()
