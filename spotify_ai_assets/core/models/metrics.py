"""Evaluation metrics, in SQL over ranked lists and relevant sets, and over forecast/actual pairs.

Ranking (binary relevance, K = 10), averaged over the evaluated users (each has at least one relevant item):
NDCG@K = DCG of the top K / DCG of an ideal list; recall@K = hits in the top K / relevant items; MAP = mean over
users of AP@K = sum of precision@k at each hit / min(relevant, K).

Forecast: MAE, RMSE over every track; MAPE (in %) over tracks with at least one actual play (undefined at zero).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from spotify_ai_assets.core.kernel.query import sql_to_arrow

K = 10

RANKING_SQL = f"""
WITH top AS (SELECT user_key, track_id, rank FROM recs WHERE rank <= {K}),
nrel AS (SELECT user_key, count(*) AS n FROM rel GROUP BY user_key),
hits AS (
  SELECT t.user_key, t.rank, (r.user_key IS NOT NULL)::INT AS hit FROM top t
  LEFT JOIN rel r ON r.user_key = t.user_key AND r.track_id = t.track_id
),
cum AS (SELECT *, sum(hit) OVER (PARTITION BY user_key ORDER BY rank) AS cum FROM hits),
per AS (
  SELECT n.user_key, n.n,
         coalesce(sum(c.hit / log2(c.rank + 1)), 0) AS dcg,
         coalesce(sum(c.hit), 0) AS hits,
         coalesce(sum(CASE WHEN c.hit = 1 THEN c.cum / c.rank END), 0) AS ap_num,
         (SELECT sum(1 / log2(i + 1)) FROM range(1, least(n.n, {K}) + 1) r(i)) AS idcg
  FROM nrel n LEFT JOIN cum c USING (user_key) GROUP BY n.user_key, n.n
)
SELECT avg(dcg / idcg) AS ndcg_at_10, avg(hits / n) AS recall_at_10, avg(ap_num / least(n, {K})) AS map_at_10,
       count(*) AS users
FROM per
"""


def ranking_metrics(recs: pa.Table, relevant: pa.Table) -> dict[str, float]:
    """`recs`: user_key, track_id, rank (1 = best); `relevant`: user_key, track_id. Users are those of `relevant`."""
    if relevant.num_rows == 0:
        raise ValueError("no relevant items: nothing to evaluate the ranking against")
    row = sql_to_arrow(RANKING_SQL, {"recs": recs, "rel": relevant}).to_pylist()[0]
    return {"ndcg_at_10": round(float(row["ndcg_at_10"]), 6), "recall_at_10": round(float(row["recall_at_10"]), 6),
            "map_at_10": round(float(row["map_at_10"]), 6), "users": int(row["users"])}


def forecast_metrics(predicted: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    if len(actual) == 0:
        raise ValueError("no tracks to evaluate the forecast on")
    err = np.asarray(predicted, dtype=float) - np.asarray(actual, dtype=float)
    nz = actual > 0
    return {"mae": round(float(np.mean(np.abs(err))), 6), "rmse": round(float(np.sqrt(np.mean(err ** 2))), 6),
            "mape_pct": round(float(100 * np.mean(np.abs(err[nz]) / actual[nz])), 4) if nz.any() else float("nan"),
            "tracks": len(actual)}
