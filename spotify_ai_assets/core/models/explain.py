"""Explanations: global gain importance, and per-row top contributing features from LightGBM's `pred_contrib`
(SHAP values for trees: each row's contributions plus the bias sum to its raw score)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING

import numpy as np

from spotify_ai_assets.core.models.ranker import THREADS

if TYPE_CHECKING:
    import lightgbm as lgb


def importance(booster: lgb.Booster) -> list[tuple[str, float, float]]:
    """(feature, total gain, share of all gain), largest first."""
    gain = booster.feature_importance(importance_type="gain")
    total = float(gain.sum()) or 1.0
    order = np.argsort(-gain, kind="stable")
    return [(booster.feature_name()[i], round(float(gain[i]), 4), round(float(gain[i]) / total, 4)) for i in order]


def contributions(booster: lgb.Booster, x: np.ndarray) -> np.ndarray:
    """Rows x (features + 1): per-feature contributions, bias last; each row sums to the raw prediction."""
    return booster.predict(x, pred_contrib=True, num_threads=THREADS)


def top_features(booster: lgb.Booster, x: np.ndarray, k: int = 3) -> list[list[tuple[str, float]]]:
    """Per row, the `k` features with the largest absolute contribution, with their signed contribution."""
    names = booster.feature_name()
    contrib = contributions(booster, x)[:, :-1]
    order = np.argsort(-np.abs(contrib), axis=1, kind="stable")[:, :k]
    return [[(names[j], round(float(contrib[r, j]), 4)) for j in order[r]] for r in range(len(x))]


def importance_markdown(rows: list[tuple[str, float, float]], top: int = 15) -> str:
    lines = ["| feature | gain | share |", "| --- | ---: | ---: |"]
    lines += [f"| `{f}` | {g:,.1f} | {s:.1%} |" for f, g, s in rows[:top]]
    return "\n".join(lines)


def importance_chart(rows: list[tuple[str, float, float]], title: str, top: int = 15) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers
    import matplotlib.pyplot as plt

    shown = rows[:top][::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(shown) + 1))
    ax.barh([f for f, _, _ in shown], [s for _, _, s in shown], color="#1db954")
    ax.set_xlabel("share of total gain")
    ax.set_title(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()
