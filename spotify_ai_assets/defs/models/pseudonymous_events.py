"""The listening events the models read: each user id replaced by its pseudonym (`user_key`, a keyed hash;
core/kernel/privacy.py), so feature tables, recommendations and everything downstream never hold a raw id. Only
ingestion and the GDPR path see raw ids."""

import dagster as dg

from spotify_ai_assets.core.kernel.privacy import pseudonymize
from spotify_ai_assets.core.models import contracts
from spotify_ai_assets.lib.partitions import daily_partitions, partition_day
from spotify_ai_assets.lib.resources.lake import LakeResource
from spotify_ai_assets.lib.resources.maintenance import ComplianceResource
from spotify_ai_assets.lib.tables import contract_check_specs, publish, require_partition

RAW = "listening_events"
NAME = contracts.PSEUDONYMOUS_EVENTS.name
# event_id is left out: a recently-played id is an unkeyed hash of the raw user id (core/ingestion/listening_events.py),
# which a guess of the id would reverse; nothing downstream needs it.
DROPPED = ("event_id",)


@dg.asset(
    name=NAME, deps=[RAW], group_name="models", owners=["team:ml", "team:platform"], kinds={"parquet"},
    partitions_def=daily_partitions, code_version="pseudonymous-events-v1",
    check_specs=contract_check_specs(NAME, contracts.PSEUDONYMOUS_EVENTS, daily_partitions, quarantine=False),
    automation_condition=dg.AutomationCondition.eager(),
)
def pseudonymous_events(context: dg.AssetExecutionContext, lake: LakeResource,
                        compliance: ComplianceResource) -> dg.MaterializeResult:
    """The day's listening events keyed by pseudonym (`user_key` = sha256 of the privacy salt, NUL and the user
    id), without `event_id`. An erasure removes a user's rows by that key."""
    day = partition_day(context)
    store = lake.lake()
    raw = store.read(RAW, require_partition(store, RAW, day))
    table = pseudonymize(raw.drop_columns([c for c in DROPPED if c in raw.column_names]), compliance.salt)
    return publish(store, NAME, table, day, contracts.PSEUDONYMOUS_EVENTS, asset_key=context.asset_key,
                   users=len(table["user_key"].unique()))
