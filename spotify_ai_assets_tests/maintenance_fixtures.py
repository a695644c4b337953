"""Shared by the maintenance tests: a real S3 API (moto server on loopback, started and stopped here) and a small
lake holding personal data in the shapes the platform writes (tables with user_id, quarantine raw payloads,
a report file)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator

import boto3
import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.lake import Lake


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    bucket = f"backups-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
    return bucket


USERS = ["alice.k", "bob_77", "carol-x"]
DAYS = ["2026-01-05", "2026-01-06"]


def fill_lake(lake: Lake) -> None:
    for n, day in enumerate(DAYS):
        lake.write("listening_events", pa.table({
            "user_id": [USERS[i % 3] for i in range(9 + n)], "track_id": [f"t{i}" for i in range(9 + n)],
            "ms_played": list(range(9 + n))}), day)
        lake.write("daily_user_stats", pa.table({"user_id": USERS, "plays": [3, 3, 3 + n]}), day)
        lake.write("daily_track_country_stats", pa.table({"track_id": ["t1", "t2"], "plays": [5, 6]}), day)
    lake.write("quarantine/listening_events", pa.table({
        "source": ["export-00.jsonl:3"], "field": ["ms_played"], "reason": ["not a number"],
        "raw": [json.dumps({"user_id": "bob_77", "track_id": "t9", "ms_played": "x"})]}), DAYS[0])
    lake.write("user_features", pa.table({"user_id": USERS, "pop_share": [0.1, 0.2, 0.3]}))
    lake.write_file("reports/platform_daily", "report.html",
                    b"<html><td>top listener bob_77</td><td>alice.k</td><td>bob_777 is someone else</td></html>",
                    DAYS[0])


def now() -> dt.datetime:
    return dt.datetime(2026, 1, 7, 3, 0, tzinfo=dt.UTC)
