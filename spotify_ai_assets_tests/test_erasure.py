"""GDPR erasure on a real lake folder: the user is gone from every table that holds them (found by column, not by
a list), only affected partitions are rewritten, the audit names no one, and an old backup restored later does not
bring them back."""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pytest

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.tokens import FileTokenStore
from spotify_ai_assets.core.maintenance import backup, erasure, lakefiles, restore
from spotify_ai_assets.core.maintenance.storage import LocalStore
from spotify_ai_assets_tests.maintenance_fixtures import fill_lake, moto_endpoint, now, s3_bucket  # noqa: F401

SALT = "test-salt"


@pytest.fixture
def lake(tmp_path) -> Lake:
    lake = Lake(str(tmp_path / "lake"))
    fill_lake(lake)
    return lake


def _request(user: str = "bob_77") -> erasure.ErasureRequest:
    return erasure.ErasureRequest(user, dt.datetime(2026, 1, 6, 9, tzinfo=dt.UTC), "dpo@example.com", "test")


def _all_bytes(lake: Lake) -> bytes:
    return b"".join(lakefiles.read_bytes(lake, f.path) for f in lakefiles.list_files(lake, include_excluded=True))


def test_erasure_removes_the_user_everywhere_and_audits_without_personal_data(lake: Lake, tmp_path):
    tokens = FileTokenStore(tmp_path / "tokens.json")
    tokens.add_user("bob_77", "rt-bob")
    tokens.add_user("alice.k", "rt-alice")
    landing = tmp_path / "landing" / "events" / "date=2026-01-05"
    landing.mkdir(parents=True)
    (landing / "export-00.jsonl").write_text('{"user_id": "bob_77", "track_id": "t1"}\n'
                                             '{"user_id": "alice.k", "track_id": "t2"}\n')
    untouched = lake.path("daily_track_country_stats", "2026-01-05")
    before = lake.fs.get_file_info(untouched).mtime_ns

    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="run-1", now=now(), token_store=tokens,
                          landing_root=str(tmp_path / "landing"))

    assert entry.removed == {"listening_events": 6, "daily_user_stats": 2, "user_features": 1,
                             "quarantine/listening_events": 1, "reports/platform_daily": 1,
                             "landing/events": 1}
    assert entry.token_store_removed and tokens.all_user_ids() == ["alice.k"]
    for day in ("2026-01-05", "2026-01-06"):
        assert "bob_77" not in lake.read("listening_events", day)["user_id"].to_pylist()
        assert set(lake.read("daily_user_stats", day)["user_id"].to_pylist()) == {"alice.k", "carol-x"}
    assert lake.fs.get_file_info(untouched).mtime_ns == before  # a partition without the user is not rewritten
    report = lake.read_file("reports/platform_daily", "report.html", "2026-01-05")
    assert b"bob_777 is someone else" in report and b"[erased]" in report and b"alice.k" in report
    assert (landing / "export-00.jsonl").read_text() == '{"user_id": "alice.k", "track_id": "t2"}\n'
    assert erasure.leftovers(lake, SALT, [entry.subject_hash], tokens.all_user_ids(), str(tmp_path / "landing")) \
        == []

    audit = erasure.read_audit(lake, entry.request_key)
    assert audit is not None and audit["run_id"] == "run-1" and audit["removed"]["listening_events"] == 6
    assert audit["subject_hash"] == erasure.subject_hash(SALT, "bob_77")
    text = json.dumps(audit)
    assert "bob_77" not in text and "dpo@example.com" not in text
    # Nor anywhere else in the lake, compliance records included (bob_777 is another user).
    assert re.findall(rb"bob_77(?!7)", _all_bytes(lake)) == []


def test_the_completeness_scan_finds_a_planted_leftover(lake: Lake):
    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="r", now=now())
    lake.write("recommendations", pa.table({"user_id": ["bob_77", "carol-x"], "track_id": ["t1", "t2"]}),
               "2026-01-06")
    found = erasure.leftovers(lake, SALT, [entry.subject_hash], token_user_ids=["bob_77"])
    assert [(r.path, r.count) for r in found] == [("recommendations/date=2026-01-06/part-0.parquet", 1),
                                                  ("token_store", 1)]


def test_restoring_an_old_backup_keeps_an_erased_user_erased(lake: Lake, tmp_path):
    store = LocalStore(tmp_path / "backups")
    old = backup.take_backup(lake, store, code_version="t", now=now())
    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="r", now=now(), store=store)

    # The erasure rewrote the backup's objects: no backup yields the user any more.
    assert erasure.leftovers(lake, SALT, [entry.subject_hash], store=store) == []
    assert entry.backup_objects_rewritten == 7 and entry.backup_manifests_rewritten == 1
    assert restore.verify(store, backup.load_manifest(store, old.backup_id)) == []
    # Into the same lake, and into a brand-new lake that has no erasure log of its own.
    for target in (lake, Lake(str(tmp_path / "fresh"))):
        report = restore.restore(store, old.backup_id, target, salt=SALT)
        assert report.erasures_reapplied == 1 and report.erasure_removals == 0
        assert erasure.leftovers(target, SALT, [entry.subject_hash]) == []
        assert "bob_77" not in target.read("listening_events", "2026-01-05")["user_id"].to_pylist()
        assert target.read("daily_user_stats", "2026-01-05").num_rows == 2
    assert erasure.read_log(lake)[0].subject_hash == entry.subject_hash  # the restore kept the lake's own log


def test_a_backup_copy_made_before_the_erasure_is_erased_again_in_staging_before_it_goes_live(lake: Lake, tmp_path):
    """A backup target the erasure could not rewrite (an offline copy brought back) still never brings the user
    back: the log is applied in the staging area, and nothing with the user is ever switched in."""
    store = LocalStore(tmp_path / "backups")
    old = backup.take_backup(lake, store, code_version="t", now=now())
    offline = LocalStore(tmp_path / "offline")
    for key in store.list(""):
        offline.put(key, store.get(key))
    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="r", now=now(), store=store)
    assert erasure.leftovers(lake, SALT, [entry.subject_hash], store=offline)  # the copy still holds bob_77
    report = restore.restore(offline, old.backup_id, lake, salt=SALT)
    assert report.erasures_reapplied == 1 and report.erasure_removals == 11
    assert erasure.leftovers(lake, SALT, [entry.subject_hash], raw_ids=["bob_77"]) == []
    assert not [f for f in lakefiles.list_files(lake, include_excluded=True) if f.path.startswith("_staging/")]


def test_requests_are_validated_with_the_file_and_field_named(tmp_path):
    path = tmp_path / "r1.json"
    path.write_text(json.dumps({"user_id": "bob_77", "requested_at": "2026-01-06T09:00:00", "requester": "dpo"}))
    with pytest.raises(erasure.RequestError, match=r"r1.json: field requested_at has no time zone"):
        erasure.ErasureRequest.from_file(path)
    path.write_text(json.dumps({"requested_at": "2026-01-06T09:00:00Z", "requester": "dpo"}))
    with pytest.raises(erasure.RequestError, match=r"r1\.json: field user_id"):
        erasure.ErasureRequest.from_file(path)


def test_requests_open_past_30_days_are_overdue():
    old, fresh = _request("bob_77"), _request("alice.k")
    later = old.requested_at + dt.timedelta(days=31)
    fresh = erasure.ErasureRequest("alice.k", later - dt.timedelta(days=2), "dpo", "t")
    late = erasure.overdue([old, fresh], set(), SALT, later)
    assert late == [(old.key(SALT), 31.0)]
    assert erasure.overdue([old], {old.key(SALT)}, SALT, later) == []  # completed: not overdue


def test_erasure_and_its_reapplication_work_on_an_s3_lake(moto_endpoint, s3_bucket, tmp_path):  # noqa: F811
    lake = Lake(f"s3://{s3_bucket}/lake", s3_endpoint_url=moto_endpoint)
    fill_lake(lake)
    store = LocalStore(tmp_path / "backups")
    old = backup.take_backup(lake, store, code_version="t", now=now())
    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="r", now=now(), store=store)
    assert entry.removed["listening_events"] == 6
    assert erasure.leftovers(lake, SALT, [entry.subject_hash]) == []
    restore.restore(store, old.backup_id, lake, salt=SALT)
    assert erasure.leftovers(lake, SALT, [entry.subject_hash]) == []
    assert lake.read("daily_user_stats", "2026-01-06").num_rows == 2


def test_a_user_named_in_a_playlist_row_is_nulled_and_the_row_kept(lake: Lake):
    lake.write("playlist_snapshots", pa.table({
        "playlist_id": ["p1", "p1", "p2"], "owner_id": ["bob_77", "bob_77", "carol-x"],
        "track_id": ["t1", "t2", "t3"], "added_by": ["bob_77", "alice.k", None]}), "2026-01-06")
    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="r", now=now())
    assert entry.removed["playlist_snapshots"] == 3  # two owner cells, one added_by cell
    snap = lake.read("playlist_snapshots", "2026-01-06")
    assert snap["track_id"].to_pylist() == ["t1", "t2", "t3"]
    assert snap["owner_id"].to_pylist() == [None, None, "carol-x"]
    assert snap["added_by"].to_pylist() == [None, "alice.k", None]
    assert erasure.leftovers(lake, SALT, [entry.subject_hash]) == []


def test_pseudonymous_rows_are_erased_by_hash_and_stay_erased_after_a_restore(lake: Lake, tmp_path):
    from spotify_ai_assets.core.kernel.privacy import pseudonym, pseudonymize

    lake.write("daily_user_stats", pseudonymize(pa.table({"user_id": ["alice.k", "bob_77", "carol-x"],
                                                          "plays": [1, 2, 3]}), SALT), "2026-01-07")
    assert pseudonym(SALT, "bob_77") in lake.read("daily_user_stats", "2026-01-07")["user_key"].to_pylist()
    store = LocalStore(tmp_path / "backups")
    old = backup.take_backup(lake, store, code_version="t", now=now())
    entry = erasure.erase(_request(), lake=lake, salt=SALT, run_id="r", now=now(), store=store)
    assert entry.removed["daily_user_stats"] == 2 + 1  # raw-id rows of two days, one pseudonymous row
    keys = lake.read("daily_user_stats", "2026-01-07")["user_key"].to_pylist()
    assert keys == [pseudonym(SALT, "alice.k"), pseudonym(SALT, "carol-x")]
    # A pseudonymous leftover is found by the completeness scan...
    lake.write("recommendations", pa.table({"user_key": [pseudonym(SALT, "bob_77")], "track_id": ["t1"]}),
               "2026-01-07")
    assert [r.path for r in erasure.leftovers(lake, SALT, [entry.subject_hash])] == [
        "recommendations/date=2026-01-07/part-0.parquet"]
    # ...and an old backup restored later loses the row again (the log holds only the hash).
    restore.restore(store, old.backup_id, lake, salt=SALT)
    assert pseudonym(SALT, "bob_77") not in lake.read("daily_user_stats", "2026-01-07")["user_key"].to_pylist()
