"""The sandbox's oracle: recommendations from the hidden truth (each user's genre tastes and each track's listening
weight), the ceiling no model trained on plays can beat on average. Only for sandbox evaluation."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from spotify_ai_assets.sandbox.world import GENRES, World

EXPLORE = 0.1  # share of plays the sandbox draws from a random genre (see sandbox/events.py)


def recommendations(world: World, users: list[str], played: pa.Table, start: dt.date, days: int,
                    n: int, keys: list[str] | None = None) -> pa.Table:
    """Top `n` unplayed tracks per user by true play probability over the `days` from `start` on. Users are keyed
    as the feature tables key them: `keys` names the world's users in order (their pseudonyms, core/kernel/privacy.py);
    without it, their raw ids."""
    weights = np.mean([world.track_weights(start + dt.timedelta(days=k)) for k in range(days)], axis=0)
    genre_total = np.bincount(world.track_genre, weights=weights, minlength=len(GENRES))
    within = weights / np.maximum(genre_total[world.track_genre], 1e-12)
    user_pos = {u: i for i, u in enumerate(keys or world.user_ids)}
    track_pos = {t: i for i, t in enumerate(world.track_ids)}
    seen: dict[str, list[int]] = {}
    for u, t in zip(played["user_key"].to_pylist(), played["track_id"].to_pylist(), strict=True):
        if t in track_pos:
            seen.setdefault(u, []).append(track_pos[t])
    out_u, out_t, out_r, out_s = [], [], [], []
    track_ids = np.array(world.track_ids)
    for u in users:
        if u not in user_pos:
            continue
        taste = (1 - EXPLORE) * world.user_taste[user_pos[u]] + EXPLORE / len(GENRES)
        p = taste[world.track_genre] * within
        p[seen.get(u, [])] = -1.0
        top = np.argsort(-p, kind="stable")[:n]
        out_u += [u] * len(top)
        out_t += track_ids[top].tolist()
        out_r += list(range(1, len(top) + 1))
        out_s += p[top].tolist()
    return pa.table({"user_key": pa.array(out_u, pa.string()), "track_id": pa.array(out_t, pa.string()),
                     "rank": pa.array(out_r, pa.int64()), "score": pa.array(out_s, pa.float64())})
