"""GDPR erasure: remove a user from every lake file that holds personal data, keep a log that survives restores.

What is personal data is discovered, not listed: every Parquet file with a `user_id` column (listening events,
daily user stats, user features, recommendations, ...: the user's rows are dropped), columns that only mention a
user (`added_by`, `owner_id` of playlist snapshots: the value is set to null, the row stays), every string column
of the quarantine tables (raw payloads hold user ids inside text), and every text file (reports' per-user parts,
JSON lines). Only the files that hold the user are rewritten; each rewrite replaces its file whole.

Nothing here keeps a user id. Users are matched by a salted SHA-256 of their id, so the erasure log (the list of
erased users re-applied after every restore) and the audit entries hold only that hash.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from spotify_ai_assets.core.kernel.lake import Lake
from spotify_ai_assets.core.kernel.privacy import KEY_COLUMN, pseudonym
from spotify_ai_assets.core.maintenance import lakefiles
from spotify_ai_assets.core.maintenance.storage import ObjectStore

ERASURE_LOG = lakefiles.COMPLIANCE_PREFIX + "erasure_log"
AUDIT = lakefiles.COMPLIANCE_PREFIX + "audit"
STORE_ERASURE_LOG = "erasure_log"
DEADLINE = dt.timedelta(days=30)
REDACTED = "[erased]"
# Tokens an id can be found as inside text (Spotify user ids are letters, digits, and . _ -).
_TOKEN_RE = re.compile(rb"[A-Za-z0-9_.\-]+")
# Columns that name a user in a row about something else (a playlist item added by them, a playlist they own).
REFERENCE_COLUMNS = ("added_by", "owner_id")
_TEXT_SUFFIXES = (".json", ".jsonl", ".html", ".md", ".csv", ".txt", ".yaml")
_MAX_TEXT_BYTES = 64 * 2**20


class RequestError(ValueError):
    """A malformed erasure request, naming the file and field."""


# The erasure log's hash of a user is the pseudonym analytics tables key their rows by (core/kernel/privacy.py).
subject_hash = pseudonym


@dataclass(frozen=True)
class ErasureRequest:
    user_id: str
    requested_at: dt.datetime
    requester: str
    source: str  # the request file, or "run config"

    def key(self, salt: str) -> str:
        """A stable id for the request that names no one (used as run key and audit file name)."""
        return subject_hash(salt, f"{self.user_id}\x00{self.requested_at.isoformat()}")[:24]

    @classmethod
    def parse(cls, raw: object, source: str) -> ErasureRequest:
        if not isinstance(raw, dict):
            raise RequestError(f"{source}: an erasure request must be a JSON object")
        user_id = raw.get("user_id")
        if not isinstance(user_id, str) or not user_id.strip():
            raise RequestError(f"{source}: field user_id must be a non-empty string")
        requester = raw.get("requester")
        if not isinstance(requester, str) or not requester.strip():
            raise RequestError(f"{source}: field requester must be a non-empty string")
        when = raw.get("requested_at")
        try:
            requested_at = dt.datetime.fromisoformat(str(when))
        except ValueError:
            raise RequestError(f"{source}: field requested_at {when!r} is not an ISO timestamp") from None
        if requested_at.tzinfo is None:
            raise RequestError(f"{source}: field requested_at {when!r} has no time zone")
        return cls(user_id.strip(), requested_at, requester.strip(), source)

    @classmethod
    def from_file(cls, path: str | Path) -> ErasureRequest:
        try:
            raw = json.loads(Path(path).read_text())
        except ValueError as exc:
            raise RequestError(f"{path}: not valid JSON ({exc})") from None
        return cls.parse(raw, str(path))


def request_files(folder: str | Path) -> list[Path]:
    base = Path(folder)
    return sorted(p for p in base.glob("*.json") if p.is_file()) if base.is_dir() else []


@dataclass(frozen=True)
class Removal:
    path: str
    kind: str  # "rows" (Parquet rows dropped), "lines" (JSON lines dropped), "redactions" (text replaced)
    count: int


@dataclass
class ScrubReport:
    removals: list[Removal] = field(default_factory=list)
    files_scanned: int = 0

    @property
    def total(self) -> int:
        return sum(r.count for r in self.removals)

    def by_table(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.removals:
            table = lakefiles.table_and_partition(r.path)[0]
            out[table] = out.get(table, 0) + r.count
        return out


class _Matcher:
    def __init__(self, salt: str, hashes: Iterable[str]):
        self.salt = salt
        self.hashes = frozenset(hashes)
        self._seen: dict[str, bool] = {}

    def __call__(self, value: str) -> bool:
        hit = self._seen.get(value)
        if hit is None:
            hit = self._seen[value] = subject_hash(self.salt, value) in self.hashes
        return hit

    def matched(self, values: Iterable[str]) -> list[str]:
        return sorted({v for v in values if v is not None and self(v)})


def _is_quarantine(path: str) -> bool:
    return path.startswith("quarantine/") or "/quarantine/" in path


def _string_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            or (pa.types.is_dictionary(f.type) and pa.types.is_string(f.type.value_type))]


def _text_hits(match: _Matcher, text: bytes) -> list[str]:
    return match.matched(t.decode() for t in set(_TOKEN_RE.findall(text)))


def _scrub_parquet(data: bytes, path: str, match: _Matcher, apply: bool) -> tuple[bytes | None, int]:
    """(new bytes or None when untouched, rows holding the user)."""
    schema = pq.read_schema(io.BytesIO(data))
    has_user = "user_id" in schema.names
    has_key = KEY_COLUMN in schema.names
    text_columns = _string_columns(schema) if _is_quarantine(path) else []
    references = [c for c in REFERENCE_COLUMNS if c in _string_columns(schema)]
    if not has_user and not has_key and not text_columns and not references:
        return None, 0
    table = pq.read_table(io.BytesIO(data))
    nulled = 0
    for column in references:
        hit_ids = match.matched(pc.unique(table[column]).to_pylist())
        if hit_ids:
            mask = pc.fill_null(pc.is_in(table[column], pa.array(hit_ids)), False)
            nulled += pc.sum(mask.cast(pa.int64())).as_py()
            cleared = pc.if_else(mask, pa.scalar(None, table.schema.field(column).type), table[column])
            table = table.set_column(table.schema.get_field_index(column), table.schema.field(column), cleared)
    keep = pa.array([True] * table.num_rows, pa.bool_())
    if has_user:
        hit_ids = match.matched(pc.unique(table["user_id"].cast(pa.string())).to_pylist())
        if hit_ids:
            keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_in(table["user_id"].cast(pa.string()),
                                                                 pa.array(hit_ids)), False)))
    if has_key and match.hashes:
        # Pseudonymous rows: the key is the hash itself, matched without the raw id.
        keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_in(table[KEY_COLUMN].cast(pa.string()),
                                                             pa.array(sorted(match.hashes))), False)))
    for column in text_columns:
        values = table[column].cast(pa.string()).to_pylist()
        flags = [v is None or not _text_hits(match, v.encode()) for v in values]
        keep = pc.and_(keep, pa.array(flags, pa.bool_()))
    dropped = table.num_rows - pc.sum(keep.cast(pa.int64())).as_py() if table.num_rows else 0
    if not (dropped or nulled) or not apply:
        return None, dropped + nulled
    out = io.BytesIO()
    pq.write_table(table.filter(keep), out, compression="zstd")
    return out.getvalue(), dropped + nulled


def _scrub_text(data: bytes, path: str, match: _Matcher, apply: bool) -> tuple[bytes | None, int, str]:
    hits = _text_hits(match, data)
    if not hits:
        return None, 0, "lines"
    if path.endswith(".jsonl"):
        lines = data.splitlines(keepends=True)
        kept = [line for line in lines if not _text_hits(match, line)]
        return (b"".join(kept) if apply else None), len(lines) - len(kept), "lines"
    text, n = data.decode(errors="surrogateescape"), 0
    for uid in hits:
        pattern = re.compile(rf"(?<![A-Za-z0-9_.\-]){re.escape(uid)}(?![A-Za-z0-9_.\-])")
        text, k = pattern.subn(REDACTED, text)
        n += k
    return (text.encode(errors="surrogateescape") if apply else None), n, "redactions"


def scrub_lake(lake: Lake, salt: str, hashes: Iterable[str], apply: bool = True) -> ScrubReport:
    """Remove (or, with apply=False, only find) every trace of the hashed users in the lake."""
    match = _Matcher(salt, hashes)
    report = ScrubReport()
    if not match.hashes:
        return report
    for f in lakefiles.list_files(lake):
        is_parquet = f.path.endswith(".parquet")
        if not is_parquet and (not f.path.endswith(_TEXT_SUFFIXES) or f.size > _MAX_TEXT_BYTES):
            continue
        report.files_scanned += 1
        data = lakefiles.read_bytes(lake, f.path)
        if is_parquet:
            new, count = _scrub_parquet(data, f.path, match, apply)
            kind = "rows"
        else:
            new, count, kind = _scrub_text(data, f.path, match, apply)
        if count:
            report.removals.append(Removal(f.path, kind, count))
        if new is not None:
            lakefiles.write_bytes(lake, f.path, new)
    return report


def scrub_folder(folder: str | Path, salt: str, hashes: Iterable[str], apply: bool = True) -> ScrubReport:
    """The same over a local folder (the landing folder's raw exports), so a re-ingested day stays clean."""
    base = Path(folder)
    if not base.is_dir():
        return ScrubReport()
    return scrub_lake(Lake(str(base)), salt, hashes, apply)


# ---- the erasure log and the audit -------------------------------------------------------------------------
@dataclass(frozen=True)
class LogEntry:
    subject_hash: str
    request_key: str
    requested_at: str
    completed_at: str


def read_log(lake: Lake, store: ObjectStore | None = None) -> list[LogEntry]:
    """Every erasure on record: the lake's own log and, when given, the copy kept in the backup target."""
    entries: dict[str, LogEntry] = {}
    for f in lakefiles.list_files(lake, include_excluded=True):
        if f.path.startswith(ERASURE_LOG + "/"):
            e = LogEntry(**json.loads(lakefiles.read_bytes(lake, f.path)))
            entries[e.request_key] = e
    if store is not None:
        for key in store.list(STORE_ERASURE_LOG + "/"):
            e = LogEntry(**json.loads(store.get(key)))
            entries.setdefault(e.request_key, e)
    return sorted(entries.values(), key=lambda e: e.completed_at)


def write_log(lake: Lake, entry: LogEntry, store: ObjectStore | None = None) -> None:
    data = json.dumps(asdict(entry), sort_keys=True).encode()
    lakefiles.write_bytes(lake, f"{ERASURE_LOG}/{entry.request_key}.json", data)
    if store is not None:
        store.put(f"{STORE_ERASURE_LOG}/{entry.request_key}.json", data)


@dataclass
class AuditEntry:
    request_key: str
    subject_hash: str
    requester_hash: str
    requested_at: str
    completed_at: str
    run_id: str
    removed: dict[str, int]  # table (or folder) -> rows, lines or redactions removed
    partitions_rewritten: list[str]
    token_store_removed: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def read_audit(lake: Lake, request_key: str) -> dict | None:
    path = f"{AUDIT}/{request_key}.json"
    try:
        return json.loads(lakefiles.read_bytes(lake, path))
    except FileNotFoundError:
        return None


def erase(request: ErasureRequest, *, lake: Lake, salt: str, run_id: str, now: dt.datetime,
          token_store: object | None = None, landing_root: str | None = None,
          store: ObjectStore | None = None) -> AuditEntry:
    """Erase one user everywhere, then log it (lake and backup target) and write the audit entry."""
    hashed = subject_hash(salt, request.user_id)
    lake_report = scrub_lake(lake, salt, [hashed])
    landing_report = scrub_folder(landing_root, salt, [hashed]) if landing_root else ScrubReport()
    removed_token = bool(token_store is not None and token_store.remove_user(request.user_id))  # type: ignore[attr-defined]
    removed = lake_report.by_table()
    removed.update({f"landing/{t}": n for t, n in landing_report.by_table().items()})
    key = request.key(salt)
    entry = AuditEntry(
        request_key=key, subject_hash=hashed, requester_hash=subject_hash(salt, request.requester),
        requested_at=request.requested_at.isoformat(), completed_at=now.astimezone(dt.UTC).isoformat(),
        run_id=run_id, removed=removed, partitions_rewritten=[r.path for r in lake_report.removals],
        token_store_removed=removed_token,
    )
    write_log(lake, LogEntry(hashed, key, entry.requested_at, entry.completed_at), store)
    lakefiles.write_bytes(lake, f"{AUDIT}/{key}.json", entry.to_json().encode())
    return entry


def reapply_log(lake: Lake, salt: str, store: ObjectStore | None = None) -> ScrubReport:
    """After a restore: erase again everyone on record, so an old backup never brings a user back."""
    return scrub_lake(lake, salt, {e.subject_hash for e in read_log(lake, store)})


def leftovers(lake: Lake, salt: str, hashes: Iterable[str], token_user_ids: Iterable[str] = (),
              landing_root: str | None = None) -> list[Removal]:
    """Everywhere an erased user can still be found (empty means the erasure is complete)."""
    hashes = set(hashes)
    found = list(scrub_lake(lake, salt, hashes, apply=False).removals)
    if landing_root:
        found += [Removal(f"landing/{r.path}", r.kind, r.count)
                  for r in scrub_folder(landing_root, salt, hashes, apply=False).removals]
    found += [Removal("token_store", "users", 1) for uid in token_user_ids if subject_hash(salt, uid) in hashes]
    return found


def overdue(pending: Iterable[ErasureRequest], done_keys: set[str], salt: str, now: dt.datetime,
            deadline: dt.timedelta = DEADLINE) -> list[tuple[str, float]]:
    """Requests not completed within the deadline: (request key, days open)."""
    late = []
    for r in pending:
        key = r.key(salt)
        age = now - r.requested_at
        if key not in done_keys and age > deadline:
            late.append((key, round(age.total_seconds() / 86400, 1)))
    return late
