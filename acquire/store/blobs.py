"""Where document bytes live: Redis, a local directory or S3-compatible object storage.

A :class:`BlobStore` keeps immutable objects named by their sha256 and knows nothing about
jobs, orgs or retention (:mod:`acquire.store.documents` does). Every backend writes
atomically, so a reader never sees half an object:

* **Redis** (``redis``): one string per object (``SET`` is atomic).
* **Directory** (``file:///path``): written to a temporary file in the target's folder,
  flushed to disk, then renamed over the final name (``os.replace`` is atomic on POSIX).
* **S3** (``s3://bucket/prefix``) through `obstore <https://developmentseed.org/obstore/>`_:
  an object becomes visible only once its ``PUT`` (or multipart upload) completes. The
  endpoint, region and credentials come from the standard ``AWS_*`` environment variables
  (``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
  ``AWS_ALLOW_HTTP`` for a plain-HTTP endpoint), or from ``config``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis

from acquire.errors import ConfigurationError
from acquire.store import keys

__all__ = ["BlobStore", "DirectoryBlobs", "RedisBlobs", "S3Blobs", "open_blob_store"]

CHUNK = 256 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


def _checked(sha256: str) -> str:
    # Object names are built from this: anything but 64 hex digits could walk a path.
    if not _SHA256.fullmatch(sha256):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256


class BlobStore(Protocol):
    """Immutable objects by sha256. ``get``/``size`` answer ``None`` for a missing object."""

    scheme: str

    def uri(self, sha256: str) -> str:
        """Where the object lives, for humans and downstream consumers."""
        ...

    async def put(self, sha256: str, data: bytes) -> None: ...

    async def get(self, sha256: str) -> bytes | None: ...

    async def size(self, sha256: str) -> int | None: ...

    def stream(self, sha256: str) -> AsyncIterator[bytes]:
        """The object in chunks (the caller checked it exists)."""
        ...

    async def delete(self, sha256: str) -> None: ...

    async def aclose(self) -> None: ...


class RedisBlobs:
    """Objects as Redis strings (the default; the embedded Redis of the demo holds them too)."""

    scheme = "redis"

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    def uri(self, sha256: str) -> str:
        return f"redis:///{keys.document_blob(_checked(sha256))}"

    async def put(self, sha256: str, data: bytes) -> None:
        await self.redis.set(keys.document_blob(_checked(sha256)), data)

    async def get(self, sha256: str) -> bytes | None:
        value: bytes | None = await self.redis.get(keys.document_blob(_checked(sha256)))
        return value

    async def size(self, sha256: str) -> int | None:
        key = keys.document_blob(_checked(sha256))
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.strlen(key)
            exists, length = await pipe.execute()
        return int(length) if exists else None

    async def stream(self, sha256: str) -> AsyncIterator[bytes]:
        key = keys.document_blob(_checked(sha256))
        at = 0
        while True:
            chunk: bytes = await self.redis.getrange(key, at, at + CHUNK - 1)
            if chunk:
                yield chunk
            if len(chunk) < CHUNK:
                return
            at += CHUNK

    async def delete(self, sha256: str) -> None:
        await self.redis.delete(keys.document_blob(_checked(sha256)))

    async def aclose(self) -> None:
        """The Redis client belongs to the caller."""


class DirectoryBlobs:
    """Objects as files under ``root/ab/cd/<sha256>`` (two fan-out levels keep folders small)."""

    scheme = "file"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def path(self, sha256: str) -> Path:
        sha = _checked(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def uri(self, sha256: str) -> str:
        return self.path(sha256).as_uri()

    async def put(self, sha256: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self.path(sha256), data)

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".partial-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def get(self, sha256: str) -> bytes | None:
        try:
            return await asyncio.to_thread(self.path(sha256).read_bytes)
        except FileNotFoundError:
            return None

    async def size(self, sha256: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(sha256).stat)).st_size
        except FileNotFoundError:
            return None

    async def stream(self, sha256: str) -> AsyncIterator[bytes]:
        handle = await asyncio.to_thread(self.path(sha256).open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, sha256: str) -> None:
        await asyncio.to_thread(self.path(sha256).unlink, missing_ok=True)

    async def aclose(self) -> None:
        """Nothing is held open between calls."""


class S3Blobs:
    """Objects in an S3-compatible bucket under ``prefix/ab/<sha256>``, through obstore."""

    scheme = "s3"

    def __init__(self, url: str, *, config: Mapping[str, Any] | None = None) -> None:
        from obstore.store import S3Store

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigurationError(f"ACQUIRE_DOCUMENT_STORE: expected s3://bucket/prefix, got {url!r}")
        self.bucket = parts.netloc
        self.prefix = unquote(parts.path).strip("/")
        self._store = S3Store(self.bucket, prefix=self.prefix or None, config=cast(Any, dict(config or {})))

    def _name(self, sha256: str) -> str:
        sha = _checked(sha256)
        return f"{sha[:2]}/{sha}"

    def uri(self, sha256: str) -> str:
        prefix = f"{self.prefix}/" if self.prefix else ""
        return f"s3://{self.bucket}/{prefix}{self._name(sha256)}"

    async def put(self, sha256: str, data: bytes) -> None:
        import obstore

        await obstore.put_async(self._store, self._name(sha256), data)

    async def get(self, sha256: str) -> bytes | None:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            result = await obstore.get_async(self._store, self._name(sha256))
            return bytes(await result.bytes_async())
        except (NotFoundError, FileNotFoundError):
            return None

    async def size(self, sha256: str) -> int | None:
        import obstore
        from obstore.exceptions import NotFoundError

        try:
            meta = await obstore.head_async(self._store, self._name(sha256))
        except (NotFoundError, FileNotFoundError):
            return None
        return int(meta["size"])

    async def stream(self, sha256: str) -> AsyncIterator[bytes]:
        import obstore

        result = await obstore.get_async(self._store, self._name(sha256))
        async for chunk in result.stream(min_chunk_size=CHUNK):
            yield bytes(chunk)

    async def delete(self, sha256: str) -> None:
        import obstore
        from obstore.exceptions import NotFoundError

        with contextlib.suppress(NotFoundError, FileNotFoundError):
            await obstore.delete_async(self._store, self._name(sha256))

    async def aclose(self) -> None:
        """obstore's client pool closes with the store object."""


def open_blob_store(
    setting: str, redis: aioredis.Redis, *, s3_config: Mapping[str, Any] | None = None
) -> BlobStore:
    """The backend ``ACQUIRE_DOCUMENT_STORE`` names: ``redis``, ``file:///path`` or ``s3://bucket/prefix``."""
    if setting == "redis":
        return RedisBlobs(redis)
    if setting.startswith("file://"):
        parts = urlsplit(setting)
        if parts.netloc not in ("", "localhost") or not parts.path:
            raise ConfigurationError(
                f"ACQUIRE_DOCUMENT_STORE: expected file:///absolute/path, got {setting!r}"
            )
        return DirectoryBlobs(unquote(parts.path))
    if setting.startswith("s3://"):
        return S3Blobs(setting, config=s3_config)
    raise ConfigurationError(
        f"ACQUIRE_DOCUMENT_STORE must be redis, file:///path or s3://bucket/prefix (got {setting!r})"
    )
