
import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.catalog import crawl_catalog
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, WatchlistConfig, retry_later
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.tables import contract_check_specs, emptied_check_spec, publish

_TABLES = {
    "spotify_artists": (contracts.SPOTIFY_ARTISTS, "Monitored artists as Spotify describes them that day."),
    "spotify_albums": (contracts.SPOTIFY_ALBUMS, "Albums and singles of monitored artists released by that day."),
    "spotify_tracks": (contracts.SPOTIFY_TRACKS, "Tracks of those albums with ISRC, duration and genre."),
}


@dg.multi_asset(
    specs=[dg.AssetSpec(name, description=desc, group_name=GROUP, owners=OWNERS, kinds={"spotify", "parquet"},
                        partitions_def=daily_partitions, tags={"domain": "catalog"})
           for name, (_, desc) in _TABLES.items()],
    check_specs=[s for name, (c, _) in _TABLES.items()
                 for s in contract_check_specs(name, c, daily_partitions, quarantine=False)]
    + contract_check_specs("spotify_tracks", contracts.SPOTIFY_TRACKS, daily_partitions)[-1:]
    + [emptied_check_spec(name, daily_partitions) for name in _TABLES],
    pool=SPOTIFY_POOL,
    code_version="catalog-v1",
    op_tags={"spotify_ai/uses": "spotify_api"},
)
def spotify_catalog(context: dg.AssetExecutionContext, config: WatchlistConfig, spotify: SpotifyResource,
                    lake: LakeResource):
    """Daily catalog snapshot of the watchlist's artists: artists -> albums (paged, 10 per page as
    development-mode apps allow) -> tracks. Full track objects come from batch GETs when the app has extended
    quota and one by one otherwise. Failures of one artist or album are quarantined, not fatal."""
    day = partition_day(context)
    watchlist = config.resolve(spotify)
    gw = spotify.gateway(day)
    try:
        snap = crawl_catalog(gw, list(watchlist.artists), day)
    except RateLimitExceeded as exc:
        context.log.warning(f"Spotify rate limit: {exc}; asking Dagster to retry in {exc.retry_after_s:.0f}s")
        raise retry_later(exc) from exc
    for note in snap.notes:
        context.log.info(note)
    store = lake.lake()
    stats = dg.MetadataValue.json(gw.stats.as_dict())
    meant = watchlist.empty_on_purpose
    yield publish(store, "spotify_artists", snap.artists, day, contracts.SPOTIFY_ARTISTS, api_stats=stats,
                  empty_on_purpose=meant)
    yield publish(store, "spotify_albums", snap.albums, day, contracts.SPOTIFY_ALBUMS, empty_on_purpose=meant)
    yield publish(store, "spotify_tracks", snap.tracks, day, contracts.SPOTIFY_TRACKS, quarantine=snap.quarantine,
                  batch_endpoints=str(gw.batch_available), empty_on_purpose=meant)
