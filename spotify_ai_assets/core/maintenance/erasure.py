"""GDPR erasure: remove a user from every place that holds personal data, keep a log that survives restores.

What is personal data is discovered, not listed: every Parquet file with a `user_id` column (listening events,
daily user stats, user features, recommendations, ...: the user's rows are dropped), columns that only mention a
user (`added_by`, `owner_id` of playlist snapshots: the value is set to null, the row stays), every string column
of the quarantine tables (raw payloads hold user ids inside text), and every text file (reports' per-user parts,
JSON lines). Only the files that hold the user are rewritten; each rewrite replaces its file whole. The same scrub
runs over the landing folder, every backup object (content-addressed objects are rewritten and their manifests
updated, see `scrub_backups`), the JSON log files and the instance's compute logs.

Ids are matched as data, never by a pattern of "safe" characters: any string a record can hold (quotes, slashes,
spaces, unicode) is a user id. A value matches when it *is* the id: a column value, a JSON string (at any depth),
a quoted string inside a log message, a whitespace-free token. While a request is carried out the raw id is also
searched literally in every text, in each of its encodings (raw, JSON-escaped, HTML-escaped, Python repr).

Nothing here keeps a user id. Users are matched by a salted SHA-256 of their id, so the erasure log (the list of
erased users re-applied after every restore) and the audit entries hold only that hash.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import hashlib
import html
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
from spotify_ai_assets.core.maintenance.backup import list_backups, load_manifest, manifest_key, object_key
from spotify_ai_assets.core.maintenance.storage import ObjectStore

ERASURE_LOG = lakefiles.COMPLIANCE_PREFIX + "erasure_log"
AUDIT = lakefiles.COMPLIANCE_PREFIX + "audit"
STORE_ERASURE_LOG = "erasure_log"
DEADLINE = dt.timedelta(days=30)
REDACTED = "[erased]"
# Whitespace-free tokens: the plain form an id takes in free text.
_TOKEN_RE = re.compile(r"[^\s\"'<>,;:=(){}\[\]]+")
_DQ_RE = re.compile(r'"((?:[^"\\]|\\.){1,4096})"')
_SQ_RE = re.compile(r"'((?:[^'\\]|\\.){1,4096})'")
_WORD = re.compile(r"\w")
# Columns that name a user in a row about something else (a playlist item added by them, a playlist they own).
REFERENCE_COLUMNS = ("added_by", "owner_id")
_TEXT_SUFFIXES = (".json", ".jsonl", ".html", ".md", ".csv", ".txt", ".yaml", ".log", ".out", ".err")
_MAX_TEXT_BYTES = 64 * 2**20
MAX_USER_ID_CHARS = 4096  # longer "ids" are not looked for inside text (ingestion bounds ids far below this)


class RequestError(ValueError):
    """A malformed erasure request, naming the file and field."""


# The erasure log's hash of a user is the pseudonym analytics tables key their rows by (core/kernel/privacy.py).
subject_hash = pseudonym


@dataclass(frozen=True)
class ErasureRequest:
    user_id: str
    requested_at: dt.datetime
    requester: str
    source: str  # the request file

    def key(self, salt: str) -> str:
        """A stable id for the request that names no one (used as run key and audit file name)."""
        return subject_hash(salt, f"{self.user_id}\x00{self.requested_at.isoformat()}")[:24]

    @classmethod
    def parse(cls, raw: object, source: str) -> ErasureRequest:
        if not isinstance(raw, dict):
            raise RequestError(f"{source}: an erasure request must be a JSON object")
        user_id = raw.get("user_id")
        # Any string a record can hold is an id (quotes, slashes, unicode): only emptiness and NUL are refused.
        if not isinstance(user_id, str) or not user_id.strip():
            raise RequestError(f"{source}: field user_id must be a non-empty string")
        if "\x00" in user_id:
            raise RequestError(f"{source}: field user_id holds a NUL character")
        requester = raw.get("requester")
        if not isinstance(requester, str) or not requester.strip():
            raise RequestError(f"{source}: field requester must be a non-empty string")
        when = raw.get("requested_at")
        try:
            requested_at = dt.datetime.fromisoformat(str(when))
        except ValueError:
            raise RequestError(f"{source}: field requested_at is not an ISO timestamp") from None
        if requested_at.tzinfo is None:
            raise RequestError(f"{source}: field requested_at has no time zone")
        # The id is kept exactly as written: " bob" and "bob" are different ids.
        return cls(user_id, requested_at, requester.strip(), source)

    @classmethod
    def from_file(cls, path: str | Path) -> ErasureRequest:
        try:
            raw = json.loads(Path(path).read_bytes().decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise RequestError(f"{path}: not valid UTF-8 JSON") from None
        return cls.parse(raw, str(path))


def request_files(folder: str | Path) -> list[Path]:
    base = Path(folder)
    return sorted(p for p in base.glob("*.json") if p.is_file() and not p.is_symlink()) if base.is_dir() else []


def request_in_folder(folder: str | Path, name_or_path: str) -> Path:
    """The request file `name_or_path` if it is a regular file directly inside the requests folder; anything else
    (another folder, `..`, a symlink out of it) is refused before it is read or deleted."""
    base = Path(folder).resolve()
    raw = Path(name_or_path)
    candidate = raw if raw.is_absolute() else base / raw
    if candidate.is_symlink():
        raise RequestError(f"request file {name_or_path!r} is a symlink: refused")
    resolved = candidate.resolve()
    if resolved.parent != base:
        raise RequestError(f"request file {name_or_path!r} is not in the requests folder {base}: refused")
    if not resolved.is_file() or resolved.suffix != ".json":
        raise RequestError(f"request file {name_or_path!r} is not a .json file in {base}")
    return resolved


@dataclass(frozen=True)
class Removal:
    path: str
    kind: str  # "rows" (Parquet rows dropped), "lines" (JSON lines dropped), "redactions" (text replaced), ...
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


def encodings(user_id: str) -> list[str]:
    """How an id is spelled inside text: as is, JSON-escaped (ASCII or not), HTML-escaped, Python repr."""
    forms = {user_id, json.dumps(user_id)[1:-1], json.dumps(user_id, ensure_ascii=False)[1:-1],
             html.escape(user_id, quote=True), html.escape(user_id, quote=False), repr(user_id)[1:-1]}
    return sorted((f for f in forms if f), key=len, reverse=True)


def _unquote(body: str, quote: str) -> str:
    try:
        return json.loads(f'"{body}"') if quote == '"' else ast.literal_eval(f"'{body}'")
    except (ValueError, SyntaxError):
        return body


def _json_strings(doc: object, out: set[str]) -> None:
    if isinstance(doc, str):
        out.add(doc)
    elif isinstance(doc, dict):
        for k, v in doc.items():
            out.add(str(k))
            _json_strings(v, out)
    elif isinstance(doc, list):
        for v in doc:
            _json_strings(v, out)
    elif doc is not None and not isinstance(doc, bool):
        out.add(str(doc))  # a numeric id


def candidates(text: str) -> set[str]:
    """Every string in `text` that could be a whole user id: the text itself, each JSON string value (any depth),
    each quoted string, each whitespace-free token, and the same inside every JSON string found."""
    found: set[str] = set()
    todo, seen = [text], set()
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        stripped = t.strip()
        if stripped and len(stripped) <= MAX_USER_ID_CHARS:
            found.add(stripped)
        if t and len(t) <= MAX_USER_ID_CHARS:
            found.add(t)
        if stripped[:1] in ("{", "[", '"'):
            strings: set[str] = set()
            with contextlib.suppress(ValueError):
                _json_strings(json.loads(stripped), strings)
            todo.extend(strings - seen)
        for m in _DQ_RE.finditer(t):
            found.add(_unquote(m.group(1), '"'))
        for m in _SQ_RE.finditer(t):
            found.add(_unquote(m.group(1), "'"))
        found.update(_TOKEN_RE.findall(t))
    return found


class _Matcher:
    """Is a value one of the users? By salted hash (everyone in the erasure log) and, while a request is carried
    out, by its raw id searched literally in every encoding."""

    def __init__(self, salt: str, hashes: Iterable[str], raw_ids: Iterable[str] = ()):
        self.salt = salt
        self.raw_ids = tuple(dict.fromkeys(r for r in raw_ids if r))
        self.hashes = frozenset(hashes) | {subject_hash(salt, r) for r in self.raw_ids}
        self._needles = [(form, uid) for uid in self.raw_ids for form in encodings(uid)]
        self._seen: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def __call__(self, value: str) -> bool:
        hit = self._seen.get(value)
        if hit is None:
            hit = self._seen[value] = subject_hash(self.salt, value) in self.hashes
        return hit

    def matched(self, values: Iterable[object]) -> list[str]:
        return sorted({str(v) for v in values if v is not None and self(str(v))})

    def literal_spans(self, text: str) -> list[tuple[int, int]]:
        """Where a raw id (in any encoding) stands in `text` as a whole: an id that begins or ends with a word
        character must not be glued to another one (`bob` is not found in `bobby`)."""
        spans = []
        for form, _ in self._needles:
            start = text.find(form)
            while start >= 0:
                end = start + len(form)
                left_ok = not _WORD.match(form[0]) or start == 0 or not _WORD.match(text[start - 1])
                right_ok = not _WORD.match(form[-1]) or end == len(text) or not _WORD.match(text[end])
                if left_ok and right_ok:
                    spans.append((start, end))
                start = text.find(form, start + 1)
        return spans

    def text_hits(self, text: str) -> list[str]:
        """The strings in `text` that are one of the users (for redaction), empty when none is."""
        hits = [text[a:b] for a, b in self.literal_spans(text)]
        if self.hashes:
            hits += [c for c in candidates(text) if self(c)]
        return sorted(set(hits), key=len, reverse=True)


def _is_quarantine(path: str) -> bool:
    return path.startswith("quarantine/") or "/quarantine/" in path


def _string_columns(schema: pa.Schema) -> list[str]:
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            or (pa.types.is_dictionary(f.type) and pa.types.is_string(f.type.value_type))]


def _as_text(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """An id column as text, whatever type a file gave it: ids are matched as text. Arrow casts most types; binary
    that is not UTF-8, or a nested type, it cannot, and those values are compared by their Python text instead, so
    a file with an odd type is still erased, not skipped."""
    try:
        return values.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in values.to_pylist()], pa.string())


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
        ids = _as_text(table["user_id"])
        hit_ids = match.matched(pc.unique(ids).to_pylist())
        if hit_ids:
            keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_in(ids, pa.array(hit_ids)), False)))
    if has_key and match.hashes:
        # Pseudonymous rows: the key is the hash itself, matched without the raw id.
        keep = pc.and_(keep, pc.invert(pc.fill_null(pc.is_in(_as_text(table[KEY_COLUMN]),
                                                             pa.array(sorted(match.hashes))), False)))
    for column in text_columns:
        values = table[column].cast(pa.string()).to_pylist()
        flags = [v is None or not match.text_hits(v) for v in values]
        keep = pc.and_(keep, pa.array(flags, pa.bool_()))
    dropped = table.num_rows - pc.sum(keep.cast(pa.int64())).as_py() if table.num_rows else 0
    if not (dropped or nulled) or not apply:
        return None, dropped + nulled
    out = io.BytesIO()
    pq.write_table(table.filter(keep), out, compression="zstd")
    return out.getvalue(), dropped + nulled


def _redact(text: str, hits: list[str]) -> tuple[str, int]:
    n = 0
    for hit in hits:  # longest first, so a longer spelling is replaced before a part of it
        for form in encodings(hit):
            pattern = re.compile((r"(?<!\w)" if _WORD.match(form[0]) else "") + re.escape(form)
                                 + (r"(?!\w)" if _WORD.match(form[-1]) else ""))
            text, k = pattern.subn(REDACTED, text)
            n += k
    return text, n


def scrub_text(data: bytes, path: str, match: _Matcher, apply: bool) -> tuple[bytes | None, int, str]:
    """JSON lines: lines holding a user are dropped; other text: each occurrence is replaced by `[erased]`.
    Looked at line by line, so a JSON line is judged by its own values."""
    text = data.decode("utf-8", errors="surrogateescape")
    lines = text.splitlines(keepends=True)
    if path.endswith(".jsonl"):
        kept = [line for line in lines if not match.text_hits(line)]
        removed = len(lines) - len(kept)
        return ("".join(kept).encode("utf-8", errors="surrogateescape") if apply and removed else None,
                removed, "lines")
    hits = sorted({h for line in lines for h in match.text_hits(line)}, key=len, reverse=True)
    if not hits:
        return None, 0, "redactions"
    new, n = _redact(text, hits)
    return (new.encode("utf-8", errors="surrogateescape") if apply else None), max(n, 1), "redactions"


def _scrub_bytes(data: bytes, path: str, match: _Matcher, apply: bool) -> tuple[bytes | None, int, str]:
    if path.endswith(".parquet"):
        new, count = _scrub_parquet(data, path, match, apply)
        return new, count, "rows"
    return scrub_text(data, path, match, apply)


def _scannable(path: str, size: int) -> bool:
    return path.endswith(".parquet") or (path.endswith(_TEXT_SUFFIXES) and size <= _MAX_TEXT_BYTES)


def scrub_lake(lake: Lake, salt: str, hashes: Iterable[str], apply: bool = True,
               raw_ids: Iterable[str] = ()) -> ScrubReport:
    """Remove (or, with apply=False, only find) every trace of the users in the lake, a restore's staging area
    included (the compliance records hold hashes only)."""
    match = _Matcher(salt, hashes, raw_ids)
    report = ScrubReport()
    if not match:
        return report
    for f in lakefiles.list_files(lake, include_excluded=True):
        if f.path.startswith(lakefiles.COMPLIANCE_PREFIX) or not _scannable(f.path, f.size):
            continue
        report.files_scanned += 1
        new, count, kind = _scrub_bytes(lakefiles.read_bytes(lake, f.path), f.path, match, apply)
        if count:
            report.removals.append(Removal(f.path, kind, count))
        if new is not None:
            lakefiles.write_bytes(lake, f.path, new)
    return report


def scrub_folder(folder: str | Path, salt: str, hashes: Iterable[str], apply: bool = True,
                 raw_ids: Iterable[str] = ()) -> ScrubReport:
    """The same over a local folder (the landing folder's raw exports, compute logs), so nothing stays behind."""
    base = Path(folder)
    if not base.is_dir():
        return ScrubReport()
    return scrub_lake(Lake(str(base.absolute())), salt, hashes, apply, raw_ids)


def scrub_file(path: str | Path, salt: str, hashes: Iterable[str], apply: bool = True,
               raw_ids: Iterable[str] = ()) -> Removal | None:
    """One local text file (a JSON log file): lines holding a user dropped (.jsonl) or redacted."""
    p = Path(path)
    if not p.is_file():
        return None
    match = _Matcher(salt, hashes, raw_ids)
    new, count, kind = scrub_text(p.read_bytes(), p.name, match, apply)
    if new is not None:
        Lake(str(p.parent.absolute())).put_bytes(str(p.absolute()), new)
    return Removal(str(p), kind, count) if count else None


def find_in_texts(salt: str, hashes: Iterable[str], texts: Iterable[tuple[str, str]],
                  raw_ids: Iterable[str] = ()) -> list[Removal]:
    """Where any of the users shows up in `texts` ((where, text) pairs: serialized run records and events of the
    Dagster instance, handed over by the shell, which owns the instance)."""
    match = _Matcher(salt, hashes, raw_ids)
    found: dict[str, int] = {}
    for where, text in texts:
        if match.text_hits(text):
            found[where] = found.get(where, 0) + 1
    return [Removal(where, "records", n) for where, n in sorted(found.items())]


# ---- backups ------------------------------------------------------------------------------------------------
@dataclass
class BackupScrub:
    objects_rewritten: int = 0
    manifests_rewritten: int = 0
    objects_deleted: int = 0
    leftovers: list[Removal] = field(default_factory=list)


def scrub_backups(store: ObjectStore, salt: str, hashes: Iterable[str], apply: bool = True,
                  raw_ids: Iterable[str] = ()) -> BackupScrub:
    """Remove the users from every backup: each content-addressed object that holds one is rewritten (a new object
    under its new checksum), every manifest that listed it is rewritten to point at the new object (size, checksum
    and row count updated), then the old objects no manifest uses any more are deleted. With apply=False, only
    find them. A kill part-way leaves some manifests on old objects: the next erasure run (or its completeness
    check) finds them and finishes the job."""
    match = _Matcher(salt, hashes, raw_ids)
    result = BackupScrub()
    if not match:
        return result
    ids = list_backups(store)
    replaced: dict[str, tuple[str, int, int | None] | None] = {}  # old sha -> (new sha, size, rows) or None
    for backup_id in ids:
        manifest = load_manifest(store, backup_id)
        changed = False
        entries = []
        for e in manifest.entries:
            if e.sha256 not in replaced:
                replaced[e.sha256] = None
                if _scannable(e.path, e.size):
                    data = store.get(object_key(e.sha256))
                    new, count, kind = _scrub_bytes(data, e.path, match, apply)
                    if count and not apply:
                        result.leftovers.append(Removal(f"backup {backup_id}: {e.path}", kind, count))
                    if new is not None:
                        sha = hashlib.sha256(new).hexdigest()
                        store.put(object_key(sha), new)
                        rows = lakefiles.parquet_rows(new) if e.path.endswith(".parquet") else None
                        replaced[e.sha256] = (sha, len(new), rows)
                        result.objects_rewritten += 1
            swap = replaced[e.sha256]
            if swap is not None:
                sha, size, rows = swap
                e = type(e)(e.path, size, sha, rows, e.mtime_ns)
                changed = True
            entries.append(e)
        if changed and apply:
            manifest.entries = entries
            store.put(manifest_key(backup_id), manifest.to_json().encode())
            result.manifests_rewritten += 1
    if apply and any(v is not None for v in replaced.values()):
        referenced = {object_key(e.sha256) for b in ids for e in load_manifest(store, b).entries}
        for old, swap in replaced.items():
            if swap is not None and object_key(old) not in referenced:
                store.delete(object_key(old))
                result.objects_deleted += 1
    return result


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
    backup_objects_rewritten: int = 0
    backup_manifests_rewritten: int = 0
    # Set by the completeness scan: True when nothing was found anywhere, False when something was (the request
    # file is then kept, so the request stays open), None when no scan ran.
    complete: bool | None = None
    leftovers: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)


def read_audit(lake: Lake, request_key: str) -> dict | None:
    path = f"{AUDIT}/{request_key}.json"
    try:
        return json.loads(lakefiles.read_bytes(lake, path))
    except FileNotFoundError:
        return None


def write_audit(lake: Lake, entry: AuditEntry) -> None:
    lakefiles.write_bytes(lake, f"{AUDIT}/{entry.request_key}.json", entry.to_json().encode())


def completed_keys(lake: Lake) -> set[str]:
    """Requests whose erasure was carried out and found complete (audits written before the completeness field
    existed count as complete: their request files were removed at once)."""
    done = set()
    for f in lakefiles.list_files(lake, include_excluded=True):
        if f.path.startswith(AUDIT + "/") and f.path.endswith(".json"):
            audit = json.loads(lakefiles.read_bytes(lake, f.path))
            if audit.get("complete", True) is not False:
                done.add(audit["request_key"])
    return done


def erase(request: ErasureRequest, *, lake: Lake, salt: str, run_id: str, now: dt.datetime,
          token_store: object | None = None, landing_root: str | None = None,
          store: ObjectStore | None = None, log_files: Iterable[str] = (),
          compute_log_root: str | None = None) -> AuditEntry:
    """Erase one user everywhere: the lake (a restore's staging area included), the landing folder, every backup
    object, the JSON log files, the compute logs and the token store. The erasure log entry is written first, so
    a restore that runs meanwhile or later re-applies it even if this run is killed part-way."""
    hashed = subject_hash(salt, request.user_id)
    key = request.key(salt)
    logged_at = now.astimezone(dt.UTC).isoformat()
    write_log(lake, LogEntry(hashed, key, request.requested_at.isoformat(), logged_at), store)
    raw = [request.user_id]
    lake_report = scrub_lake(lake, salt, [hashed], raw_ids=raw)
    landing_report = scrub_folder(landing_root, salt, [hashed], raw_ids=raw) if landing_root else ScrubReport()
    backups = scrub_backups(store, salt, [hashed], raw_ids=raw) if store is not None else BackupScrub()
    logs = [r for r in (scrub_file(f, salt, [hashed], raw_ids=raw) for f in log_files) if r]
    compute = scrub_folder(compute_log_root, salt, [hashed], raw_ids=raw) if compute_log_root else ScrubReport()
    removed_token = bool(token_store is not None and token_store.remove_user(request.user_id))  # type: ignore[attr-defined]
    removed = lake_report.by_table()
    removed.update({f"landing/{t}": n for t, n in landing_report.by_table().items()})
    if logs:
        removed["json_logs"] = sum(r.count for r in logs)
    if compute.removals:
        removed["compute_logs"] = compute.total
    entry = AuditEntry(
        request_key=key, subject_hash=hashed, requester_hash=subject_hash(salt, request.requester),
        requested_at=request.requested_at.isoformat(), completed_at=now.astimezone(dt.UTC).isoformat(),
        run_id=run_id, removed=removed, partitions_rewritten=[r.path for r in lake_report.removals],
        token_store_removed=removed_token, backup_objects_rewritten=backups.objects_rewritten,
        backup_manifests_rewritten=backups.manifests_rewritten,
    )
    write_audit(lake, entry)
    return entry


def reapply_log(lake: Lake, salt: str, store: ObjectStore | None = None) -> ScrubReport:
    """After a restore: erase again everyone on record, so an old backup never brings a user back."""
    return scrub_lake(lake, salt, {e.subject_hash for e in read_log(lake, store)})


def leftovers(lake: Lake, salt: str, hashes: Iterable[str], token_user_ids: Iterable[str] = (),
              landing_root: str | None = None, *, store: ObjectStore | None = None, log_files: Iterable[str] = (),
              compute_log_root: str | None = None, instance_texts: Iterable[tuple[str, str]] = (),
              raw_ids: Iterable[str] = ()) -> list[Removal]:
    """Everywhere an erased user can still be found (empty means the erasure is complete): the lake with its
    quarantine, reports and staging area, the landing folder, every backup, the JSON log files, the compute logs,
    the instance's run records and events (as texts from the shell) and the token store."""
    hashes, raw_ids = set(hashes), list(raw_ids)
    found = list(scrub_lake(lake, salt, hashes, apply=False, raw_ids=raw_ids).removals)
    if landing_root:
        found += [Removal(f"landing/{r.path}", r.kind, r.count)
                  for r in scrub_folder(landing_root, salt, hashes, apply=False, raw_ids=raw_ids).removals]
    if store is not None:
        found += scrub_backups(store, salt, hashes, apply=False, raw_ids=raw_ids).leftovers
    found += [r for r in (scrub_file(f, salt, hashes, apply=False, raw_ids=raw_ids) for f in log_files) if r]
    if compute_log_root:
        found += [Removal(f"compute_logs/{r.path}", r.kind, r.count)
                  for r in scrub_folder(compute_log_root, salt, hashes, apply=False, raw_ids=raw_ids).removals]
    found += find_in_texts(salt, hashes, instance_texts, raw_ids)
    raw = set(raw_ids)
    found += [Removal("token_store", "users", 1) for uid in token_user_ids
              if subject_hash(salt, uid) in hashes or uid in raw]
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
