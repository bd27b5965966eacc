"""A size-bounded HTTP response cache, in Redis or in a directory, with revalidation.

Sources get a :class:`HttpCache` injected and call :func:`cached_fetch`, which knows the two
kinds of upstream data:

- immutable (``max_age=None``), e.g. an EDGAR Archives document: once stored it is served
  from the cache forever (until evicted) and never fetched again;
- changing (``max_age`` seconds), e.g. submissions or the ticker map: fresh entries are
  served as is; a stale entry with an ``ETag`` is revalidated with ``If-None-Match`` and a
  ``304`` only refreshes it.

Bodies are stored zlib-compressed. Both stores are bounded by ``max_bytes`` and evict the
least recently used entries first; :class:`RedisCache` keeps an exact byte count in Redis
(one Lua script per write), :class:`DirectoryCache` rescans its directory whenever this
process has written a tenth of the bound since the last scan. ``SEC_CACHE=none`` gives
:class:`NullCache`. No pickle anywhere: entries are bytes plus JSON metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import redis.asyncio as aioredis

from acquire.errors import TransientError
from acquire.http.client import Classifier, Limiter, default_classifier, fetch
from acquire.serialization import dumps
from acquire.settings import Settings
from acquire.store import keys

__all__ = [
    "CacheEntry",
    "CachedResponse",
    "DirectoryCache",
    "HttpCache",
    "NullCache",
    "RedisCache",
    "cached_fetch",
    "create_cache",
]

# Compressing a multi-megabyte 10-K takes a noticeable slice of CPU: do it off the event loop.
_THREAD_THRESHOLD = 256 * 1024


@dataclass(frozen=True)
class CacheEntry:
    """One cached response body (uncompressed here; stores compress it)."""

    url: str
    body: bytes
    stored_at: float
    etag: str | None = None
    content_type: str | None = None

    def meta(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "stored_at": self.stored_at,
            "etag": self.etag,
            "content_type": self.content_type,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], body: bytes) -> CacheEntry:
        return cls(
            url=str(meta["url"]),
            body=body,
            stored_at=float(meta["stored_at"]),
            etag=meta.get("etag"),
            content_type=meta.get("content_type"),
        )


class HttpCache(Protocol):
    """Where :func:`cached_fetch` keeps responses. ``namespace`` groups keys (e.g. ``sec``)."""

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        """The entry stored under ``key``, or ``None``."""

    async def put(self, namespace: str, key: str, entry: CacheEntry) -> None:
        """Store ``entry`` (evicting older entries to stay within the size bound)."""


async def _compress(body: bytes) -> bytes:
    if len(body) >= _THREAD_THRESHOLD:
        return await asyncio.to_thread(zlib.compress, body, 6)
    return zlib.compress(body, 6)


async def _decompress(blob: bytes) -> bytes:
    if len(blob) >= _THREAD_THRESHOLD // 8:
        return await asyncio.to_thread(zlib.decompress, blob)
    return zlib.decompress(blob)


def _digest(key: str) -> str:
    # Keys are URLs: hash them into fixed-size, glob-safe Redis keys and file names.
    return hashlib.sha256(key.encode()).hexdigest()[:40]


class NullCache:
    """Caches nothing (``SEC_CACHE=none``)."""

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        return None

    async def put(self, namespace: str, key: str, entry: CacheEntry) -> None:
        return None


# KEYS: entry, lru zset, sizes hash, total counter. ARGV: meta json, blob, now, max_bytes.
_PUT = """
local size = string.len(ARGV[2])
local max_bytes = tonumber(ARGV[4])
local old = tonumber(redis.call('HGET', KEYS[3], KEYS[1]) or '0')
redis.call('HSET', KEYS[1], 'meta', ARGV[1], 'body', ARGV[2])
redis.call('HSET', KEYS[3], KEYS[1], size)
local total = redis.call('INCRBY', KEYS[4], size - old)
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
local evicted = 0
while total > max_bytes do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then break end
  redis.call('ZREM', KEYS[2], oldest)
  redis.call('DEL', oldest)
  local gone = tonumber(redis.call('HGET', KEYS[3], oldest) or '0')
  redis.call('HDEL', KEYS[3], oldest)
  total = redis.call('DECRBY', KEYS[4], gone)
  evicted = evicted + 1
end
return evicted
"""


class RedisCache:
    """Entries as Redis hashes (``keys.cache(namespace, digest)``), LRU-evicted past ``max_bytes``.

    Bookkeeping per namespace: ``keys.cache(ns, "_lru")`` (zset, last use), ``"_sizes"``
    (hash, stored bytes) and ``"_bytes"`` (the total). Entries have no TTL, so the count is
    exact; an entry that Redis itself evicted (``maxmemory``) is just a miss.
    """

    def __init__(self, redis: aioredis.Redis, *, max_bytes: int) -> None:
        self._redis = redis
        self.max_bytes = max_bytes
        self._put = redis.register_script(_PUT)

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        entry_key = keys.cache(namespace, _digest(key))
        meta, blob = await self._redis.hmget(entry_key, ["meta", "body"])  # type: ignore[misc]
        if meta is None or blob is None:
            return None
        try:
            entry = CacheEntry.from_meta(json.loads(meta), await _decompress(blob))
        except (ValueError, KeyError, zlib.error):
            return None  # a damaged entry is a miss; the next put replaces it
        await self._redis.zadd(keys.cache(namespace, "_lru"), {entry_key: time.time()}, xx=True)
        return entry

    async def put(self, namespace: str, key: str, entry: CacheEntry) -> None:
        blob = await _compress(entry.body)
        if len(blob) > self.max_bytes:
            return  # would evict everything else and still not fit
        await self._put(
            keys=[
                keys.cache(namespace, _digest(key)),
                keys.cache(namespace, "_lru"),
                keys.cache(namespace, "_sizes"),
                keys.cache(namespace, "_bytes"),
            ],
            args=[dumps(entry.meta()), blob, time.time(), self.max_bytes],
        )

    async def size(self, namespace: str) -> int:
        """Bytes (compressed) this namespace holds."""
        return int(await self._redis.get(keys.cache(namespace, "_bytes")) or 0)


class DirectoryCache:
    """Entries as files ``<root>/<namespace>/<xx>/<digest>``: a JSON line, then the zlib body.

    Writes are atomic (temporary file + rename), so concurrent processes never read half a
    file. The file's mtime is its last use; eviction removes the oldest files until the total
    is under 90 % of ``max_bytes``.
    """

    def __init__(self, root: str | os.PathLike[str], *, max_bytes: int) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self._written_since_scan: int | None = None  # None: no scan yet in this process

    def _path(self, namespace: str, key: str) -> Path:
        digest = _digest(key)
        if not namespace.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"cache namespace must be alphanumeric, got {namespace!r}")
        return self.root / namespace / digest[:2] / digest

    async def get(self, namespace: str, key: str) -> CacheEntry | None:
        path = self._path(namespace, key)
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        header, _, blob = raw.partition(b"\n")
        try:
            entry = CacheEntry.from_meta(json.loads(header), await _decompress(blob))
        except (ValueError, KeyError, zlib.error):
            path.unlink(missing_ok=True)  # a corrupt entry is a miss, not an error
            return None
        with contextlib.suppress(OSError):  # evicted meanwhile by another process
            os.utime(path)
        return entry

    async def put(self, namespace: str, key: str, entry: CacheEntry) -> None:
        blob = await _compress(entry.body)
        data = dumps(entry.meta()).encode() + b"\n" + blob
        if len(data) > self.max_bytes:
            return
        path = self._path(namespace, key)
        await asyncio.to_thread(_write_atomic, path, data)
        self._written_since_scan = (self._written_since_scan or 0) + len(data)
        if self._written_since_scan == len(data) or self._written_since_scan > self.max_bytes // 10:
            await asyncio.to_thread(self._evict)
            self._written_since_scan = 0

    def _evict(self) -> None:
        files: list[tuple[float, int, Path]] = []
        for path in self.root.rglob("*"):
            if path.is_file() and not path.name.endswith(".tmp"):
                with contextlib.suppress(OSError):  # gone between listing and stat
                    stat = path.stat()
                    files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        if total <= self.max_bytes:
            return
        for _, size, path in sorted(files, key=lambda f: f[0]):
            if total <= self.max_bytes * 0.9:
                break
            path.unlink(missing_ok=True)
            total -= size

    def size(self) -> int:
        """Bytes the directory holds (scanned)."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def create_cache(settings: Settings, redis: aioredis.Redis | None = None) -> HttpCache:
    """The cache ``SEC_CACHE`` selects (``redis`` needs the worker's Redis client)."""
    if settings.sec_cache == "none" or settings.sec_cache_max_bytes == 0:
        return NullCache()
    if settings.sec_cache == "directory":
        root = Path(settings.acquire_data_dir) / "cache"
        return DirectoryCache(root, max_bytes=settings.sec_cache_max_bytes)
    if redis is None:
        raise ValueError("SEC_CACHE=redis needs a Redis client")
    return RedisCache(redis, max_bytes=settings.sec_cache_max_bytes)


@dataclass(frozen=True)
class CachedResponse:
    """A body from :func:`cached_fetch` and where it came from."""

    url: str
    body: bytes
    source: str  # "network", "cache" (fresh or immutable) or "revalidated" (a 304)
    etag: str | None = None
    content_type: str | None = None

    def json(self) -> Any:
        return json.loads(self.body)


async def cached_fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    cache: HttpCache,
    namespace: str,
    max_age: float | None,
    classify: Classifier = default_classifier,
    limiter: Limiter | None = None,
    attempts: int = 3,
    backoff_base: float = 0.5,
    headers: Mapping[str, str] | None = None,
    validate: Callable[[bytes], bool] | None = None,
) -> CachedResponse:
    """GET ``url`` through ``cache``: ``max_age=None`` for immutable resources (see module doc)."""
    entry = await cache.get(namespace, url)
    now = time.time()
    if entry is not None and (max_age is None or now - entry.stored_at < max_age):
        return CachedResponse(url, entry.body, "cache", entry.etag, entry.content_type)
    request_headers = dict(headers or {})
    if entry is not None and entry.etag:
        request_headers["If-None-Match"] = entry.etag
    response = await fetch(
        client,
        url,
        classify=classify,
        limiter=limiter,
        attempts=attempts,
        backoff_base=backoff_base,
        headers=request_headers,
    )
    if response.status_code == 304 and entry is not None:
        refreshed = CacheEntry(url, entry.body, time.time(), entry.etag, entry.content_type)
        await cache.put(namespace, url, refreshed)
        return CachedResponse(url, entry.body, "revalidated", entry.etag, entry.content_type)
    etag = response.headers.get("etag")
    ctype = response.headers.get("content-type")
    if validate is not None and not validate(response.content):
        # Never cache a body the caller cannot use: every retry would read it back.
        raise TransientError(f"unusable response body from {url}")
    await cache.put(namespace, url, CacheEntry(url, response.content, time.time(), etag, ctype))
    return CachedResponse(url, response.content, "network", etag, ctype)
