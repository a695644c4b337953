"""Names of the day's top and flagged tracks outside the watchlist's catalog, so reports name them."""

import dagster as dg

from spotify_ai_assets.core.ingestion import contracts
from spotify_ai_assets.core.ingestion.track_names import TOP_TRACKS, look_up, wanted_tracks
from spotify_ai_assets.core.kernel.spotify_api import RateLimitExceeded
from spotify_ai_assets.lib.ingestion import GROUP, OWNERS, SPOTIFY_POOL, rate_limited
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.spotify import SpotifyResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish, require_partition

TABLE = "spotify_track_names"
TODAY = dg.TimeWindowPartitionMapping(start_offset=0, end_offset=0)


@dg.asset(
    name=TABLE, group_name=GROUP, owners=OWNERS, kinds={"spotify", "parquet"}, partitions_def=daily_partitions,
    deps=[dg.AssetDep(a, partition_mapping=TODAY)
          for a in ("daily_track_country_stats", "track_trends", "spotify_tracks")],
    check_specs=contract_check_specs(TABLE, contracts.SPOTIFY_TRACK_NAMES, daily_partitions),
    pool=SPOTIFY_POOL, op_tags={"spotify_ai/uses": "spotify_api"}, code_version="track-names-v1",
    tags={"domain": "catalog"},
    description=f"Track, first artist and album names of the day's {TOP_TRACKS} most played tracks and of its "
                "flagged (trending) tracks that the watchlist's catalog does not hold, read from Spotify one track "
                "at a time, so reports name every track they show. Unreadable tracks are quarantined.",
)
def spotify_track_names(context: dg.AssetExecutionContext, spotify: SpotifyResource,
                        lake: LakeResource) -> dg.MaterializeResult:
    day = partition_day(context)
    store = lake.lake()
    key = require_partition(store, "daily_track_country_stats", day)
    trends = store.scan("track_trends", [key]) if store.exists("track_trends", key) else None
    catalog = store.scan("spotify_tracks", [key]) if store.exists("spotify_tracks", key) else None
    wanted = wanted_tracks(store.scan("daily_track_country_stats", [key]), trends, catalog)
    gw = spotify.gateway(day)
    try:
        found = look_up(gw, wanted, day)
    except RateLimitExceeded as exc:
        raise rate_limited(exc, spotify) from exc
    if found.quarantine.num_rows:
        context.log.warning(f"{found.quarantine.num_rows} of {len(wanted)} track(s) could not be named: see "
                            "the quarantine check")
    return publish(store, TABLE, found.names, day, contracts.SPOTIFY_TRACK_NAMES, quarantine=found.quarantine,
                   looked_up=len(wanted), api_stats=dg.MetadataValue.json(gw.stats.as_dict()))
