"""Audio features of each landed track, and of all of them in one table."""

import dataclasses

import dagster as dg
import pyarrow as pa

from spotify_ai_assets.core.audio.contracts import AUDIO_FEATURES
from spotify_ai_assets.core.kernel.records import QUARANTINE_SCHEMA
from spotify_ai_assets.core.quality.table_contract import evaluate
from spotify_ai_assets.lib.executors import queue_op_tags
from spotify_ai_assets.lib.partitions import audio_tracks
from spotify_ai_assets.lib.resources.audio_landing import AudioLandingResource
from spotify_ai_assets.lib.resources.ground_truth import GroundTruthResource
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.tables import (
    column_schema,
    contract_check_specs,
    suite_check_results,
    table_metadata,
    to_check_results,
)

GROUP = "audio"
OWNERS = ["team:audio"]
LIBROSA_POOL = "librosa"
PER_TRACK = "audio_features"
COMBINED = "audio_features_all"



@dg.asset(
    name=PER_TRACK, group_name=GROUP, owners=OWNERS, kinds={"librosa", "parquet"}, partitions_def=audio_tracks,
    pool=LIBROSA_POOL, op_tags=queue_op_tags(LIBROSA_POOL), code_version="audio-features-v2",
    # A backfill of thousands of tracks runs a few dozen per run: one process start and one numba warm-up
    # serve many files, and no run holds the librosa pool for long.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=25),
)
def audio_features(context: dg.AssetExecutionContext, audio_landing: AudioLandingResource,
                   lake: LakeResource) -> dg.MaterializeResult:
    """Audio features of one delivered track (partition = Spotify track id), computed with librosa from the landed
    file: duration, tempo and key with confidences, loudness, spectral shape, MFCCs, chroma and heuristic
    danceability/energy/valence scores. An unreadable file is quarantined with its reason (the file is kept) and
    never fails the batch; silence, too-short and beatless audio get a null tempo with the reason."""
    from spotify_ai_assets.core.audio.features import FEATURE_DOCS, FEATURE_SCHEMA, AudioError, analyze_file
    from spotify_ai_assets.core.audio.landing import LandingRefused

    store = lake.lake()
    analysed, quarantined = 0, []
    for track_id in context.partition_keys:
        try:
            path = audio_landing.file_for(track_id)
        except LandingRefused as exc:  # a symlink out of the landing folder: never read
            path, bad = None, ("<file>", str(exc), "")
        except ValueError as exc:  # a partition key added by hand that is no track id
            path, bad = None, ("<partition>", str(exc), "")
        else:
            bad = None
        if bad:
            row = None
        elif path is None:
            bad = ("<file>", f"no landed audio file for track {track_id} in {audio_landing.root}", "")
            row = None
        else:
            try:
                row = analyze_file(path, track_id=track_id)
            except AudioError as exc:
                bad, row = (exc.kind, exc.reason, str(path)), None
            except Exception as exc:  # one file must never fail the other tracks of the batch
                bad, row = ("decode_error", f"{path.name}: {type(exc).__name__}: {exc}", str(path)), None
        # Both tables are written every time, so a re-delivered good file also clears an old quarantine entry.
        store.write(PER_TRACK, pa.Table.from_pylist([row] if row else [], schema=FEATURE_SCHEMA), track_id)
        q_rows = [{"source": PER_TRACK, "record_ref": bad[2] or track_id, "field": bad[0], "reason": bad[1],
                   "raw": bad[2]}] if bad else []
        store.write(f"quarantine/{PER_TRACK}", pa.Table.from_pylist(q_rows, schema=QUARANTINE_SCHEMA), track_id)
        if bad:
            context.log.warning(f"quarantined track {track_id}: {bad[1]}")
            quarantined.append({"track_id": track_id, "kind": bad[0], "reason": bad[1]})
        else:
            analysed += 1
    return dg.MaterializeResult(metadata={
        "tracks": len(context.partition_keys), "analysed": analysed, "quarantined": len(quarantined),
        "quarantined_files": dg.MetadataValue.json(quarantined),
        "dagster/row_count": analysed,
        "dagster/column_schema": column_schema(FEATURE_SCHEMA, FEATURE_DOCS.get),
        "dagster/table_name": f"lake.{PER_TRACK}",
        # One file per track; a batch run covers several, so the table's folder is the honest address.
        "dagster/uri": (store.uri(PER_TRACK, context.partition_key) if len(context.partition_keys) == 1
                        else store.table_uri(PER_TRACK)),
    })


@dg.asset(
    name=COMBINED, group_name=GROUP, owners=OWNERS, kinds={"duckdb", "parquet"}, deps=[PER_TRACK],
    code_version="audio-features-all-v2", automation_condition=dg.AutomationCondition.eager(),
    check_specs=contract_check_specs(COMBINED, AUDIO_FEATURES, partitions_def=None),
)
def audio_features_all(context: dg.AssetExecutionContext, lake: LakeResource,
                       audio_landing: AudioLandingResource) -> dg.MaterializeResult:
    """Every analysed track's audio features in one table (one row per track id), with the quarantine of files
    that could not be read and of landed files whose name is not a track id."""
    from spotify_ai_assets.core.audio.features import FEATURE_DOCS
    from spotify_ai_assets.core.audio.landing import problems
    from spotify_ai_assets.core.kernel.query import sql_to_arrow
    from spotify_ai_assets.core.quality.table_contract import quarantine_outcome

    store = lake.lake()
    previous = store.row_count(COMBINED)
    tracks = store.partitions(PER_TRACK)
    table = sql_to_arrow("SELECT * FROM f ORDER BY track_id", {"f": store.scan(PER_TRACK, tracks)}) if tracks else None
    if table is None:
        from spotify_ai_assets.core.audio.features import FEATURE_SCHEMA

        table = FEATURE_SCHEMA.empty_table()
    written = store.write(COMBINED, table)
    outcomes = evaluate(AUDIO_FEATURES, store.scan(COMBINED), previous)

    q_tracks = store.partitions(f"quarantine/{PER_TRACK}")
    quarantine = (sql_to_arrow("SELECT * FROM q", {"q": store.scan(f"quarantine/{PER_TRACK}", q_tracks)})
                  if q_tracks else QUARANTINE_SCHEMA.empty_table())
    folder = audio_landing.directory()
    bad_names = [{"source": PER_TRACK, "record_ref": name, "field": "<file name>", "reason": problem,
                  "raw": str(folder / name)} for name, problem in problems(folder).items()]
    quarantine = pa.concat_tables([quarantine, pa.Table.from_pylist(bad_names, schema=QUARANTINE_SCHEMA)])
    store.write(f"quarantine/{COMBINED}", quarantine)
    outcomes.append(quarantine_outcome(quarantine, written.rows))
    return dg.MaterializeResult(
        metadata=table_metadata(COMBINED, written, dataclasses.replace(AUDIO_FEATURES, column_docs=FEATURE_DOCS),
                                tracks=len(tracks)),
        check_results=[*to_check_results(COMBINED, outcomes),
                       *suite_check_results(store, COMBINED, table, None, None, dg.AssetKey(COMBINED))],
    )


@dg.asset_check(asset=COMBINED, description=(
    "Share of tracks whose extracted tempo is within 4% of the known truth (an octave error is wrong) and whose "
    "key and mode are exact (the audio benchmark's definitions); targets tempo >= 95%, key >= 90%. Runs where a "
    "ground truth exists (the sandbox)."))
def audio_accuracy(lake: LakeResource, audio_landing: AudioLandingResource,
                   ground_truth: GroundTruthResource) -> dg.AssetCheckResult:
    from spotify_ai_assets.core.audio.accuracy import KEY_TARGET, TEMPO_TARGET, score
    from spotify_ai_assets.core.audio.landing import landed_files, problems

    # Every landed track counts: one whose file could not be analysed is a miss, not left out.
    folder = audio_landing.directory()
    refused = problems(folder)  # badly named files and symlinks out of the folder: not deliveries
    landed = [p.stem for p in landed_files(folder) if p.name not in refused]
    truth = ground_truth.audio(landed)
    if truth is None:
        return dg.AssetCheckResult(passed=True, description="no ground truth in this environment: not evaluated",
                                   metadata={"evaluated": 0})
    rows = lake.lake().read(COMBINED, columns=["track_id", "tempo_bpm", "key", "mode"]).to_pylist()
    result = score(rows, truth)
    pct = {k: None if result[k] is None else round(100 * result[k], 1) for k in ("tempo_share", "key_share")}
    return dg.AssetCheckResult(
        passed=result["passed"],
        severity=dg.AssetCheckSeverity.WARN,
        description=f"tempo correct {pct['tempo_share']}% (target {TEMPO_TARGET:.0%}), key and mode exact "
                    f"{pct['key_share']}% (target {KEY_TARGET:.0%}) over {result['evaluated']} tracks",
        metadata={"evaluated": result["evaluated"], "tempo_correct_pct": pct["tempo_share"],
                  "key_correct_pct": pct["key_share"], "misses": dg.MetadataValue.json(result["misses"])},
    )
