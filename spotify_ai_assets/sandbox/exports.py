"""The backend's hourly event exports, as the sandbox delivers them to the landing folder.

Like a real feed, a small share of records arrive broken (truncated JSON, missing or malformed fields) and
some events are delivered twice; `_manifest.json` records how many of each, so tests can check that every
record is accounted for.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from spotify_ai_assets.sandbox.events import EVENT_SCHEMA, generate_day
from spotify_ai_assets.sandbox.world import World

BAD_KINDS = ("malformed_json", "missing_track_id", "bad_country", "negative_ms", "bad_played_at", "bad_track_id")
PARQUET_BAD_KINDS = ("missing_track_id", "bad_country", "negative_ms", "bad_track_id")


@dataclass(frozen=True)
class ExportManifest:
    day: str
    files: list[str]
    records: int
    bad: int
    duplicates: int

    @property
    def unique_good(self) -> int:
        return self.records - self.bad - self.duplicates


def day_dir(landing_root: str | Path, day: dt.date) -> Path:
    return Path(landing_root, "events", f"date={day.isoformat()}")


def write_day_exports(world: World, landing_root: str | Path, day: dt.date, fmt: str = "mixed",
                      bad_rate: float = 0.002, duplicate_rate: float = 0.001) -> ExportManifest:
    """Write the day's 24 hourly files (jsonl, parquet, or mixed: JSON lines on even hours)."""
    out = day_dir(landing_root, day)
    out.mkdir(parents=True, exist_ok=True)
    files, records, bad, dups = [], 0, 0, 0
    for hour, table in generate_day(world, day):
        rng = np.random.default_rng([world.seed, 5, day.toordinal(), hour])
        as_json = fmt == "jsonl" or (fmt == "mixed" and hour % 2 == 0)
        n = table.num_rows
        n_bad = int(rng.binomial(n, bad_rate)) if bad_rate else 0
        n_dup = int(rng.binomial(n, duplicate_rate)) if duplicate_rate else 0
        picks = rng.choice(n, size=min(n, n_bad + n_dup), replace=False) if n else np.array([], dtype=int)
        bad_idx, dup_idx = picks[:n_bad], picks[n_bad:]
        stem = f"events-{day.isoformat()}T{hour:02d}"
        if as_json:
            path = out / f"{stem}.jsonl"
            _write_jsonl(table, path, bad_idx, dup_idx)
        else:
            path = out / f"{stem}.parquet"
            _write_parquet(table, path, bad_idx, dup_idx)
        files.append(path.name)
        records += n + len(dup_idx)
        bad += len(bad_idx)
        dups += len(dup_idx)
    manifest = ExportManifest(day.isoformat(), files, records, bad, dups)
    (out / "_manifest.json").write_text(json.dumps(manifest.__dict__, indent=2))
    return manifest


def ensure_day_exports(world: World, landing_root: str | Path, day: dt.date, **kwargs: object) -> ExportManifest:
    """Deliver the day's exports unless they are already there (the sandbox backend is deterministic)."""
    manifest = day_dir(landing_root, day) / "_manifest.json"
    if manifest.exists():
        return ExportManifest(**json.loads(manifest.read_text()))
    return write_day_exports(world, landing_root, day, **kwargs)  # type: ignore[arg-type]


def _atomic_target(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def _write_jsonl(table: pa.Table, path: Path, bad_idx: np.ndarray, dup_idx: np.ndarray) -> None:
    rows = table.cast(EVENT_SCHEMA).to_pylist()
    bad = {int(i): BAD_KINDS[k % len(BAD_KINDS)] for k, i in enumerate(bad_idx)}
    dup = {int(i) for i in dup_idx}
    tmp = _atomic_target(path)
    with tmp.open("w") as fh:
        for i, row in enumerate(rows):
            row["played_at"] = row["played_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z")
            line = _corrupt_json(row, bad[i]) if i in bad else json.dumps(row)
            fh.write(line + "\n")
            if i in dup:
                fh.write(line + "\n")
    tmp.replace(path)


def _corrupt_json(row: dict, kind: str) -> str:
    row = dict(row)
    if kind == "malformed_json":
        return json.dumps(row)[:-17]
    if kind == "missing_track_id":
        row.pop("track_id")
    elif kind == "bad_country":
        row["country"] = "Germany"
    elif kind == "negative_ms":
        row["ms_played"] = -1200
    elif kind == "bad_played_at":
        row["played_at"] = "yesterday evening"
    elif kind == "bad_track_id":
        row["track_id"] = "not-a-track"
    return json.dumps(row)


def _write_parquet(table: pa.Table, path: Path, bad_idx: np.ndarray, dup_idx: np.ndarray) -> None:
    if len(bad_idx):
        plain = table.cast(EVENT_SCHEMA)
        cols = {name: plain[name].to_pylist() if name in ("track_id", "country", "ms_played") else plain[name]
                for name in EVENT_SCHEMA.names}
        for k, i in enumerate(bad_idx):
            kind = PARQUET_BAD_KINDS[k % len(PARQUET_BAD_KINDS)]
            i = int(i)
            if kind == "missing_track_id":
                cols["track_id"][i] = None
            elif kind == "bad_country":
                cols["country"][i] = "Germany"
            elif kind == "negative_ms":
                cols["ms_played"][i] = -1200
            else:
                cols["track_id"][i] = "not-a-track"
        table = pa.table({n: pa.array(c, EVENT_SCHEMA.field(n).type) if isinstance(c, list) else c
                          for n, c in cols.items()})
    if len(dup_idx):
        table = pa.concat_tables([table, table.take(pa.array(np.sort(dup_idx)))])
    tmp = _atomic_target(path)
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)
