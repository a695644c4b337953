"""The model registry in the lake: content-addressed model files with a manifest, a champion pointer per model
kind, and the champion gate.

Layout: `model_registry/<kind>/key=<sha256>/model.txt` (LightGBM's text format, whose SHA-256 is the model's data
version) and `manifest.json` beside it; `model_registry/<kind>_champion/champion.json` is a copy of the promoted
model's manifest. A model is loaded by its hash and the bytes are checked against it, so nothing ever reads "the
latest file".
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from spotify_ai_assets.core.kernel.lake import Lake

if TYPE_CHECKING:
    import lightgbm as lgb

REGISTRY = "model_registry"
GATE_TOLERANCE = 0.02  # a challenger may be up to 2% worse than the champion on the primary metric (noise)
# Primary metric per model kind, and whether higher is better.
PRIMARY = {"ranker": ("ndcg_at_10", True), "forecaster": ("mae", False)}
BASELINE = {"ranker": "popularity", "forecaster": "naive"}


class RegistryError(ValueError):
    """A model file that does not match its hash, or a missing model."""


@dataclass(frozen=True)
class ModelRef:
    """What flows between assets: the model's kind, content hash and manifest (the bytes stay in the lake)."""

    kind: str
    sha256: str
    uri: str
    manifest: dict[str, Any]


def library_versions() -> dict[str, str]:
    import duckdb
    import lightgbm as lgb
    import numpy
    import pyarrow

    return {"lightgbm": lgb.__version__, "numpy": numpy.__version__, "duckdb": duckdb.__version__,
            "pyarrow": pyarrow.__version__, "python": platform.python_version()}


def model_bytes(booster: lgb.Booster) -> bytes:
    return booster.model_to_string(num_iteration=-1).encode()


def save(lake: Lake, kind: str, booster: lgb.Booster, **manifest: Any) -> ModelRef:
    """Store the model under its content hash with a manifest (training range, params, metrics, versions...)."""
    data = model_bytes(booster)
    sha = hashlib.sha256(data).hexdigest()
    full = {"kind": kind, "sha256": sha, "features": booster.feature_name(), "num_trees": booster.num_trees(),
            "library_versions": library_versions(), **manifest}
    table = f"{REGISTRY}/{kind}"
    uri = lake.write_file(table, "model.txt", data, partition=sha)
    lake.write_file(table, "manifest.json", json.dumps(full, indent=2, sort_keys=True, default=str).encode(),
                    partition=sha)
    return ModelRef(kind, sha, uri, full)


def with_manifest(lake: Lake, ref: ModelRef, **extra: Any) -> ModelRef:
    """Add fields (evaluation metrics) to a stored model's manifest; the model bytes and hash are unchanged."""
    full = {**ref.manifest, **extra}
    lake.write_file(f"{REGISTRY}/{ref.kind}", "manifest.json",
                    json.dumps(full, indent=2, sort_keys=True, default=str).encode(), partition=ref.sha256)
    return ModelRef(ref.kind, ref.sha256, ref.uri, full)


def load(lake: Lake, kind: str, sha256: str) -> lgb.Booster:
    import lightgbm as lgb

    try:
        data = lake.read_file(f"{REGISTRY}/{kind}", "model.txt", partition=sha256)
    except FileNotFoundError as exc:
        raise RegistryError(f"no {kind} model {sha256} in the registry ({lake.root})") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise RegistryError(f"{kind} model file {sha256} has content hash {actual}: corrupted or replaced")
    return lgb.Booster(model_str=data.decode())


def champion(lake: Lake, kind: str) -> dict[str, Any] | None:
    """The current champion's manifest, or None before the first promotion."""
    try:
        return json.loads(lake.read_file(f"{REGISTRY}/{kind}_champion", "champion.json"))
    except FileNotFoundError:
        return None


def promote(lake: Lake, ref: ModelRef) -> str:
    return lake.write_file(f"{REGISTRY}/{ref.kind}_champion", "champion.json",
                           json.dumps(ref.manifest, indent=2, sort_keys=True, default=str).encode())


@dataclass(frozen=True)
class GateDecision:
    passed: bool
    reasons: list[str]
    metadata: dict[str, Any]


def gate(kind: str, challenger: float, baseline: float, champion_value: float | None,
         tolerance: float = GATE_TOLERANCE) -> GateDecision:
    """The challenger must beat the baseline, and be no worse than the champion beyond `tolerance` (relative),
    both measured on the same held-out days."""
    metric, higher = PRIMARY[kind]
    better = (lambda a, b: a > b) if higher else (lambda a, b: a < b)
    reasons, ok = [], True
    if better(challenger, baseline):
        reasons.append(f"{metric} {challenger:.4f} beats the {BASELINE[kind]} baseline {baseline:.4f}")
    else:
        ok = False
        reasons.append(f"{metric} {challenger:.4f} does not beat the {BASELINE[kind]} baseline {baseline:.4f}")
    if champion_value is None:
        reasons.append("no comparable champion: first promotion")
    else:
        limit = champion_value * (1 - tolerance) if higher else champion_value * (1 + tolerance)
        if (challenger >= limit) if higher else (challenger <= limit):
            reasons.append(f"{metric} {challenger:.4f} within {tolerance:.0%} of the champion's {champion_value:.4f}")
        else:
            ok = False
            reasons.append(f"{metric} {challenger:.4f} worse than the champion's {champion_value:.4f} beyond "
                           f"{tolerance:.0%}")
    return GateDecision(ok, reasons, {"metric": metric, "challenger": challenger, "baseline": baseline,
                                      "champion": champion_value, "tolerance": tolerance})
