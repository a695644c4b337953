"""Where backups go: a tiny object-store interface over a local folder or an S3 bucket (a boto3 client).

Keys are `/`-separated relative names. The backup code only needs put/get/exists/list/delete, so both stores are
easy to reason about and the S3 one is tested against a real S3 API (moto server), not mocked calls.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Protocol


class MissingObject(KeyError):
    """An object the caller expected in the store is not there."""


class ObjectStore(Protocol):
    url: str

    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def exists(self, key: str) -> bool: ...
    def list(self, prefix: str) -> list[str]: ...
    def delete(self, key: str) -> None: ...


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"object key {key!r} is not a plain relative name")
    return key


class LocalStore:
    """A folder. Writes go aside and are renamed into place, so a reader never sees half an object."""

    def __init__(self, root: str | Path):
        self.root = Path(root).absolute()
        self.url = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except OSError as exc:  # name the object: "No space left on device" alone says nowhere
            tmp.unlink(missing_ok=True)
            raise OSError(exc.errno, f"could not write backup object {path}: {exc.strerror or exc}") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MissingObject(f"{self.url}/{key}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def list(self, prefix: str) -> list[str]:
        base = self.root / prefix if prefix else self.root
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)) for p in base.rglob("*")
                      if p.is_file() and not p.name.startswith("."))

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def temporary_files(self) -> list[tuple[str, float]]:
        """(path, mtime) of every in-flight write `.<name>.<uuid>.tmp`: live ones and orphans of killed writes."""
        if not self.root.exists():
            return []
        return [(str(p), p.stat().st_mtime) for p in self.root.rglob(".*.tmp") if p.is_file()]


class S3Store:
    """`s3://bucket/prefix` through a boto3 S3 client (dagster-aws's `S3Resource.get_client()` in the pipeline)."""

    def __init__(self, client: Any, bucket: str, prefix: str = ""):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")

    def _key(self, key: str) -> str:
        _check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise MissingObject(f"{self.url}/{key}") from None

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except self.client.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise

    def list(self, prefix: str) -> list[str]:
        if ".." in prefix.split("/") or prefix.startswith("/"):
            raise ValueError(f"prefix {prefix!r} is not a plain relative name")
        full = f"{self.prefix}/{prefix}" if self.prefix else prefix
        cut = len(self.prefix) + 1 if self.prefix else 0
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(o["Key"][cut:] for o in page.get("Contents", []))
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))


def split_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://"):
        raise ValueError(f"{url!r} is not an s3:// URL")
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise ValueError(f"{url!r} names no bucket")
    return bucket, prefix.strip("/")


def open_store(url: str, s3_client: Any | None = None, endpoint_url: str | None = None) -> ObjectStore:
    """A store for a folder or an `s3://bucket/prefix` URL; without a client, a plain boto3 one is made
    (honouring `endpoint_url`, i.e. AWS_ENDPOINT_URL, for S3-compatible stores)."""
    if not url.startswith("s3://"):
        return LocalStore(url)
    bucket, prefix = split_s3_url(url)
    if s3_client is None:
        import boto3  # deferred: a local backup folder never needs it

        s3_client = boto3.client("s3", endpoint_url=endpoint_url)
    return S3Store(s3_client, bucket, prefix)
