
import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.catalog import DEFAULT_INCLUDE_GROUPS, crawl_catalog, include_groups
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, WatchlistConfig, rate_limited
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.tables import contract_check_specs, emptied_check_spec, publish

_INCLUDED = ("album groups crawled: album, single and compilation by default (`include_groups` in run config; add "
             "appears_on for other artists' albums an artist appears on)")
_TABLES = {
    "spotify_artists": (contracts.SPOTIFY_ARTISTS, "Monitored artists as Spotify describes them that day."),
    "spotify_albums": (contracts.SPOTIFY_ALBUMS, "Releases of monitored artists out by that day, one row per album: "
                       f"{_INCLUDED}; `album_group` says which group listed it."),
    "spotify_tracks": (contracts.SPOTIFY_TRACKS, "Every track of those releases (compilations included) with ISRC, "
                       "duration and genre."),
}
COMPLETE_CHECK = "catalog_complete"


class CatalogConfig(WatchlistConfig):
    """Which artists (see WatchlistConfig) and which of their album groups to crawl."""

    include_groups: list[str] = list(DEFAULT_INCLUDE_GROUPS)


@dg.multi_asset(
    specs=[dg.AssetSpec(name, description=desc, group_name=GROUP, owners=OWNERS, kinds={"spotify", "parquet"},
                        partitions_def=daily_partitions, tags={"domain": "catalog"})
           for name, (_, desc) in _TABLES.items()],
    check_specs=[s for name, (c, _) in _TABLES.items()
                 for s in contract_check_specs(name, c, daily_partitions, quarantine=False)]
    + contract_check_specs("spotify_tracks", contracts.SPOTIFY_TRACKS, daily_partitions)[-1:]
    + [emptied_check_spec(name, daily_partitions) for name in _TABLES]
    + [dg.AssetCheckSpec(COMPLETE_CHECK, asset="spotify_artists", partitions_def=daily_partitions, description=(
        "Every watched artist, each of their releases' track lists and every track was read; warns naming what is "
        "missing and why (an artist, album or track that still failed after the retries)."))],
    pool=SPOTIFY_POOL,
    code_version="catalog-v2",
    op_tags={"spotify_ai/uses": "spotify_api"},
)
def spotify_catalog(context: dg.AssetExecutionContext, config: CatalogConfig, spotify: SpotifyResource,
                    lake: LakeResource):
    """Daily catalog snapshot of the watchlist's artists: artists -> releases (paged 10 at a time, the spec's
    maximum; album, single and compilation unless configured) -> their tracks (50 at a time) -> full tracks. Full
    objects come from batch GETs when the app has extended quota and one by one otherwise. An artist, album or
    track that keeps failing is quarantined and named in `catalog_complete`; the rest lands. A long rate limit
    stops the step at once with the time it may resume."""
    day = partition_day(context)
    watchlist = config.resolve(spotify)
    groups = include_groups(config.include_groups)
    gw = spotify.gateway(day)
    try:
        snap = crawl_catalog(gw, list(watchlist.artists), day, groups)
    except RateLimitExceeded as exc:
        raise rate_limited(exc, spotify) from exc
    for note in snap.notes:
        context.log.info(note)
    missing = sum(len(v) for v in snap.missing.values())
    if missing:
        context.log.warning(f"catalog incomplete: {missing} item(s) could not be read, see {COMPLETE_CHECK}")
    complete = dg.AssetCheckResult(
        asset_key=dg.AssetKey("spotify_artists"), check_name=COMPLETE_CHECK, passed=missing == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description="every artist, release and track was read" if not missing else
        f"missing: {', '.join(f'{len(v)} {k}' for k, v in snap.missing.items())}",
        metadata={"missing": dg.MetadataValue.json(snap.missing), "include_groups": ",".join(snap.include_groups)})
    store = lake.lake()
    stats = dg.MetadataValue.json(gw.stats.as_dict())
    meant = watchlist.empty_on_purpose
    yield publish(store, "spotify_artists", snap.artists, day, contracts.SPOTIFY_ARTISTS, api_stats=stats,
                  extra_checks=[complete], empty_on_purpose=meant,
                  missing_artists=dg.MetadataValue.json(snap.missing.get("artists", {})))
    yield publish(store, "spotify_albums", snap.albums, day, contracts.SPOTIFY_ALBUMS, empty_on_purpose=meant,
                  include_groups=",".join(snap.include_groups),
                  missing_track_lists=dg.MetadataValue.json(snap.missing.get("albums", {})))
    yield publish(store, "spotify_tracks", snap.tracks, day, contracts.SPOTIFY_TRACKS, quarantine=snap.quarantine,
                  batch_endpoints=str(gw.batch_available), empty_on_purpose=meant,
                  missing_tracks=dg.MetadataValue.json(snap.missing.get("tracks", {})))
