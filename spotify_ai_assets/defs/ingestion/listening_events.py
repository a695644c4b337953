
import datetime as dt

import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.connected_users import open_user_sessions
from spotify_ai_assets.core.ingestion.listening_events import ingest_day, recent_plays_rows
from spotify_ai_assets.core.kernel.records import Quarantined
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded, SpotifyApiError
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, retry_later
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.landing import LandingResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish

TABLE = "listening_events"


@dg.asset(
    group_name=GROUP, owners=OWNERS, kinds={"spotify", "duckdb", "parquet"}, partitions_def=daily_partitions,
    check_specs=contract_check_specs(TABLE, contracts.LISTENING_EVENTS, daily_partitions),
    pool=SPOTIFY_POOL, code_version="listening-events-v1", op_tags={"spotify_ai/uses": "spotify_api"},
    freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=30)),
)
def listening_events(context: dg.AssetExecutionContext, spotify: SpotifyResource, token_store: TokenStoreResource,
                     landing: LandingResource, lake: LakeResource) -> dg.MaterializeResult:
    """Every play of the day (UTC), deduplicated on (user_id, track_id, played_at), from two sources:
    the backend's hourly export files in the landing folder (JSON lines or Parquet) and each connected
    user's recently-played (from their stored cursor on). Bad records are quarantined with file:line, field and
    reason; users with expired refresh tokens are reported and skipped. Plays captured from recently-played
    in an earlier run of this partition are kept, since Spotify only ever shows the latest 50."""
    day = partition_day(context)
    files = landing.export_files(day)
    gw = spotify.gateway(day)
    store = token_store.store()
    sessions = open_user_sessions(gw, store)
    needs_reconnect = store.expired_user_ids()
    if needs_reconnect:
        context.log.warning(f"{len(needs_reconnect)} connected user(s) skipped: refresh token expired "
                            f"(invalid_grant), they must reconnect: {', '.join(needs_reconnect)}")

    day_start_ms = int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp() * 1000)
    recent: list[dict] = _previously_captured(lake, day)
    # Each partition resumes from its own captures, not from the user's global cursor: a backfill that runs a later
    # day first must not hide an earlier day's plays.
    captured_until: dict[str, int] = {}
    for row in recent:
        ms = int(row["played_at"].timestamp() * 1000)
        captured_until[row["user_id"]] = max(captured_until.get(row["user_id"], 0), ms)
    bad: list[Quarantined] = []
    advances: list[tuple[str, int]] = []
    for uid, (_, client) in sessions.clients.items():
        try:
            profile = gw.me(client)
            user_id = profile.get("id", uid)
            after_ms = max(day_start_ms - 1, captured_until.get(user_id, 0))
            items = list(gw.recently_played(client, after_ms=after_ms))
        except RateLimitExceeded as exc:
            raise retry_later(exc) from exc
        except SpotifyApiError as exc:
            bad.append(Quarantined.of(TABLE, f"recently-played {uid}", "<request>", str(exc), {"user_id": uid}))
            continue
        rows = recent_plays_rows(user_id, profile.get("country"), items, day, bad)
        recent.extend(rows)
        if rows:
            advances.append((uid, int(max(r["played_at"] for r in rows).timestamp() * 1000)))

    store_lake = lake.lake()
    result = ingest_day(files, day, lambda batches: store_lake.write_batches(TABLE, batches, day.isoformat()),
                        recent=recent, recent_quarantine=bad)
    materialization = publish(
        store_lake, TABLE, result.events, day, contracts.LISTENING_EVENTS, quarantine=result.quarantine,
        export_files=len(files), export_records=result.export_records, recently_played_rows=result.recent_plays,
        duplicates_removed=result.duplicates, rows_by_source=dg.MetadataValue.json(result.rows_by_source),
        users_needing_reconnect=dg.MetadataValue.json(needs_reconnect),
        api_stats=dg.MetadataValue.json(gw.stats.as_dict()),
    )
    # Only once the plays are in the lake: a failed run must be able to fetch them again.
    for uid, ms in advances:
        store.advance_cursor(uid, ms)
    return materialization



def _previously_captured(lake: LakeResource, day: dt.date) -> list[dict]:
    store = lake.lake()
    if not store.exists(TABLE, day.isoformat()):
        return []
    columns = ["user_id", "track_id", "artist_id", "played_at", "country"]
    return store.read(TABLE, day.isoformat(), columns=columns, filters=[("source", "=", "recently_played")]).to_pylist()
