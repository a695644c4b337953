
import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.connected_users import open_user_sessions
from spotify_ai_assets.core.ingestion.playlists import snapshot_playlists
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, WatchlistConfig, retry_later
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.resources.tokens import TokenStoreResource
from spotify_ai_assets.lib.tables import contract_check_specs, emptied_check_spec, publish


@dg.asset(
    group_name=GROUP, owners=OWNERS, kinds={"spotify", "parquet"}, partitions_def=daily_partitions,
    check_specs=[*contract_check_specs("playlist_snapshots", contracts.PLAYLIST_SNAPSHOTS, daily_partitions),
                 emptied_check_spec("playlist_snapshots", daily_partitions)],
    pool=SPOTIFY_POOL, code_version="playlists-v1", op_tags={"spotify_ai/uses": "spotify_api"},
)
def playlist_snapshots(context: dg.AssetExecutionContext, config: WatchlistConfig, spotify: SpotifyResource,
                       token_store: TokenStoreResource, lake: LakeResource) -> dg.MaterializeResult:
    """Tracked playlists as of the day: one row per position with the playlist's `snapshot_id`, so later
    diffs see adds, removals and moves. Development-mode apps read items only as the playlist's owner, so
    the owner's connected-user token is used when we have it; other playlists are quarantined with the 403."""
    day = partition_day(context)
    gw = spotify.gateway(day)
    sessions = open_user_sessions(gw, token_store.store())
    watchlist = config.resolve(spotify)
    try:
        rows, bad = snapshot_playlists(gw, list(watchlist.playlists), day,
                                       {uid: c for uid, (_, c) in sessions.clients.items()})
    except RateLimitExceeded as exc:
        raise retry_later(exc) from exc
    return publish(lake.lake(), "playlist_snapshots", rows, day, contracts.PLAYLIST_SNAPSHOTS, quarantine=bad,
                   empty_on_purpose=watchlist.empty_on_purpose,
                   playlists=len(set(rows["playlist_id"].to_pylist())),
                   api_stats=dg.MetadataValue.json(gw.stats.as_dict()))
