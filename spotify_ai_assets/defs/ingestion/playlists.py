
import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.connected_users import open_user_sessions
from spotify_ai_assets.core.ingestion.playlists import snapshot_playlists
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import (
    GROUP,
    OWNERS,
    SPOTIFY_POOL,
    WatchlistConfig,
    labeller,
    rate_limited,
)
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import ComplianceResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource
from spotify_ai_assets.lib.tables import contract_check_specs, emptied_check_spec, publish

READABLE_CHECK = "playlists_readable"


@dg.asset(
    group_name=GROUP, owners=OWNERS, kinds={"spotify", "parquet"}, partitions_def=daily_partitions,
    check_specs=[*contract_check_specs("playlist_snapshots", contracts.PLAYLIST_SNAPSHOTS, daily_partitions),
                 emptied_check_spec("playlist_snapshots", daily_partitions),
                 dg.AssetCheckSpec(READABLE_CHECK, asset="playlist_snapshots", partitions_def=daily_partitions,
                                   description=(
                     "Every tracked playlist was read; warns naming each one that was not and why (its owner is not "
                     "a connected user and no connected user collaborates on it, or it failed after the retries)."))],
    pool=SPOTIFY_POOL, code_version="playlists-v2",
    # First of the day's ready steps (Dagster's step priority): it runs no quality suite, so in an in-process run the
    # suite worker imports GX meanwhile, before listening_events' suite needs it (lib/executors.py, issue 19).
    op_tags={"spotify_ai/uses": "spotify_api", "dagster/priority": "1"},
)
def playlist_snapshots(context: dg.AssetExecutionContext, config: WatchlistConfig, spotify: SpotifyResource,
                       token_store: TokenStoreResource, compliance: ComplianceResource, lake: LakeResource
                       ) -> dg.MaterializeResult:
    """Tracked playlists as of the day: one row per position (50 items a page) with the playlist's `snapshot_id`,
    so later diffs see adds, removals and moves. The 2026 API serves a playlist's items only to its owner or a
    collaborator, so each playlist is read as a connected user who can see it (found through their
    /me/playlists), else with the app's token; `playlists_readable` names the playlists nobody could read and why.
    Users are named by pseudonym."""
    day = partition_day(context)
    gw = spotify.gateway(day)
    store = token_store.store()
    name = labeller(compliance.salt)
    try:
        sessions = open_user_sessions(gw, store, name)
        watchlist = config.resolve(spotify)
        snap = snapshot_playlists(gw, list(watchlist.playlists), day, sessions.sessions, name)
    except RateLimitExceeded as exc:
        raise rate_limited(exc, spotify) from exc
    for uid in snap.expired:
        store.mark_expired(uid)
    reconnect = sorted(name(u) for u in {*sessions.expired, *snap.expired})
    if reconnect:
        context.log.warning(f"{len(reconnect)} connected user(s) must reconnect (refresh token expired): "
                            f"{', '.join(reconnect)}")
    if snap.unreadable:
        context.log.warning(f"{len(snap.unreadable)} tracked playlist(s) not read, see {READABLE_CHECK}")
    readable = dg.AssetCheckResult(
        asset_key=dg.AssetKey("playlist_snapshots"), check_name=READABLE_CHECK, passed=not snap.unreadable,
        severity=dg.AssetCheckSeverity.WARN,
        description="every tracked playlist was read" if not snap.unreadable else
        f"{len(snap.unreadable)} of {len(snap.unreadable) + len(snap.read_as)} tracked playlist(s) not read",
        metadata={"unreadable": dg.MetadataValue.json(snap.unreadable),
                  "read_as": dg.MetadataValue.json(snap.read_as),
                  "listing_errors": dg.MetadataValue.json(snap.listing_errors)})
    return publish(lake.lake(), "playlist_snapshots", snap.rows, day, contracts.PLAYLIST_SNAPSHOTS,
                   quarantine=snap.quarantine, extra_checks=[readable],
                   empty_on_purpose=watchlist.empty_on_purpose,
                   playlists=len(set(snap.rows["playlist_id"].to_pylist())),
                   unreadable_playlists=dg.MetadataValue.json(snap.unreadable),
                   read_as=dg.MetadataValue.json(snap.read_as),
                   users_needing_reconnect=dg.MetadataValue.json(reconnect),
                   api_stats=dg.MetadataValue.json(gw.stats.as_dict()))
