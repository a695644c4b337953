import datetime as dt
import json

import dagster as dg

from spotify_ai_assets.core.audio.landing import plan
from spotify_ai_assets.defs.audio.features import PER_TRACK
from spotify_ai_assets.lib.partitions import audio_tracks
from spotify_ai_assets.lib.resources.audio_landing import AudioLandingResource


@dg.sensor(
    name="audio_landing_sensor", asset_selection=[PER_TRACK], minimum_interval_seconds=60,
    description="New or changed audio files (by content) in the audio landing folder: one dynamic partition per "
                "track, one run per file version (run_key = track id + content hash). Badly named files are "
                "reported once and kept out; a broken file is analysed (and quarantined) once per version.",
)
def audio_landing_sensor(context: dg.SensorEvaluationContext, audio_landing: AudioLandingResource,
                         ) -> dg.SensorResult:
    previous = json.loads(context.cursor) if context.cursor else {"files": {}, "rejected": []}
    result = plan(audio_landing.directory(), previous["files"],
                  audio_landing.landed_files(dt.datetime.now(dt.UTC)))
    newly_rejected = sorted(set(result.rejected) - set(previous["rejected"]))
    for name in newly_rejected:
        context.log.warning(f"audio landing: rejected {result.rejected[name]}")
    known = set(context.instance.get_dynamic_partitions(audio_tracks.name))
    new_partitions = sorted({d.track_id for d in result.new} - known)
    return dg.SensorResult(
        run_requests=[dg.RunRequest(run_key=d.run_key, partition_key=d.track_id,
                                    tags={"spotify_ai/trigger": "audio_landing", "spotify_ai/file": d.name,
                                          "spotify_ai/sha256": d.sha256})
                      for d in result.new],
        dynamic_partitions_requests=[audio_tracks.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps({"files": result.cursor, "rejected": sorted(result.rejected)}, sort_keys=True),
    )
