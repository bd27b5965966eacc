"""The HTTP cache: Redis and directory stores, their size bounds, and revalidation over HTTP."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from pathlib import Path
from typing import cast

import httpx
import pytest
import redis.asyncio as aioredis

from acquire.http.cache import (
    CacheEntry,
    DirectoryCache,
    HttpCache,
    NullCache,
    RedisCache,
    cached_fetch,
    create_cache,
)
from acquire.settings import Settings
from acquire.store import keys
from acquire.testing.replay import ReplayServer

UA = {"User-Agent": "acquire tests tests@example.com"}


def entry(url: str, body: bytes, etag: str | None = None) -> CacheEntry:
    return CacheEntry(url=url, body=body, stored_at=time.time(), etag=etag, content_type="text/html")


def incompressible(n: int, seed: int) -> bytes:
    import random

    return random.Random(seed).randbytes(n)


async def test_redis_round_trip_is_compressed(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis, max_bytes=10_000_000)
    body = b"<html>" + b"risk factors " * 10_000 + b"</html>"
    await cache.put("sec", "https://x/a.htm", entry("https://x/a.htm", body, '"abc"'))
    got = await cache.get("sec", "https://x/a.htm")
    assert got is not None and got.body == body and got.etag == '"abc"'
    assert got.content_type == "text/html" and got.url == "https://x/a.htm"
    assert 0 < await cache.size("sec") < len(body) // 20  # stored zlib-compressed
    assert await cache.get("sec", "https://x/other.htm") is None
    assert await cache.get("yahoo", "https://x/a.htm") is None  # namespaces are separate


async def test_redis_evicts_least_recently_used_within_the_bound(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis, max_bytes=2_500)
    for name in ("a", "b"):
        await cache.put("sec", name, entry(name, incompressible(1_000, ord(name))))
    assert await cache.get("sec", "a") is not None  # "a" is now the most recently used
    await cache.put("sec", "c", entry("c", incompressible(1_000, 3)))
    assert await cache.get("sec", "b") is None
    assert await cache.get("sec", "a") is not None and await cache.get("sec", "c") is not None
    assert await cache.size("sec") <= 2_500
    # Replacing an entry counts its bytes once; an entry bigger than the bound is not stored.
    await cache.put("sec", "c", entry("c", incompressible(1_000, 4)))
    assert await cache.size("sec") <= 2_500
    await cache.put("sec", "huge", entry("huge", incompressible(5_000, 5)))
    assert await cache.get("sec", "huge") is None and await cache.get("sec", "a") is not None
    assert await redis.zcard(keys.cache("sec", "_lru")) == 2


async def test_directory_round_trip_and_bound(tmp_path: Path) -> None:
    cache = DirectoryCache(tmp_path, max_bytes=5_000)
    body = b"10-K " * 2_000
    await cache.put("sec", "u1", entry("u1", body, '"e1"'))
    got = await cache.get("sec", "u1")
    assert got is not None and got.body == body and got.etag == '"e1"'
    for i in range(12):
        await cache.put("sec", f"n{i}", entry(f"n{i}", incompressible(900, i)))
    assert cache.size() <= 5_000  # evicted, oldest first
    assert await cache.get("sec", "n11") is not None
    assert await cache.get("sec", "u1") is None  # the oldest entry went first
    with pytest.raises(ValueError, match="namespace"):
        await cache.get("../etc", "x")


async def test_directory_corrupt_entry_is_a_miss(tmp_path: Path) -> None:
    cache = DirectoryCache(tmp_path, max_bytes=1_000_000)
    await cache.put("sec", "u", entry("u", b"hello"))
    (path,) = [p for p in tmp_path.rglob("*") if p.is_file()]
    path.write_bytes(b'{"url": "u"}\nnot zlib')
    assert await cache.get("sec", "u") is None
    assert not path.exists()


async def test_factory_follows_settings(redis: aioredis.Redis, tmp_path: Path) -> None:
    assert isinstance(create_cache(Settings(sec_cache="none")), NullCache)
    assert isinstance(create_cache(Settings(sec_cache="redis"), redis), RedisCache)
    directory = create_cache(Settings(sec_cache="directory", acquire_data_dir=str(tmp_path)))
    assert isinstance(directory, DirectoryCache) and directory.root == tmp_path / "cache"
    with pytest.raises(ValueError, match="Redis"):
        create_cache(Settings(sec_cache="redis"))
    null: HttpCache = NullCache()
    await null.put("sec", "u", entry("u", b"x"))
    assert await null.get("sec", "u") is None


async def test_cached_fetch_immutable_fresh_and_revalidated(
    upstream: ReplayServer, redis: aioredis.Redis
) -> None:
    cache = RedisCache(redis, max_bytes=50_000_000)
    doc = f"{upstream.url}/www.sec.gov/Archives/edgar/data/1318605/000162828025003063/tsla-20241231.htm"
    tickers = f"{upstream.url}/www.sec.gov/files/company_tickers.json"
    async with httpx.AsyncClient(headers=UA) as client:
        first = await cached_fetch(client, doc, cache=cache, namespace="sec", max_age=None)
        again = await cached_fetch(client, doc, cache=cache, namespace="sec", max_age=None)
        assert (first.source, again.source) == ("network", "cache") and first.body == again.body
        assert len(upstream.requests_to("www.sec.gov", "/Archives")) == 1

        fresh1 = await cached_fetch(client, tickers, cache=cache, namespace="sec", max_age=3600)
        fresh2 = await cached_fetch(client, tickers, cache=cache, namespace="sec", max_age=3600)
        assert (fresh1.source, fresh2.source) == ("network", "cache")
        assert fresh1.etag is not None
        stale = await cached_fetch(client, tickers, cache=cache, namespace="sec", max_age=0)
        assert stale.source == "revalidated" and stale.body == fresh1.body
    statuses = [r.status for r in upstream.requests_to("www.sec.gov", "/files")]
    assert statuses == [200, 304]  # the If-None-Match revalidation got a 304, not the body


async def test_redis_damaged_entry_is_a_miss(redis: aioredis.Redis) -> None:
    cache = RedisCache(redis, max_bytes=1_000_000)
    await cache.put("sec", "u", entry("u", b"hello"))
    (entry_key,) = [k for k in await redis.keys(keys.cache("sec", "*")) if b"_" not in k.rsplit(b":", 1)[1]]
    await cast(Awaitable[int], redis.hset(entry_key, mapping={"body": b"not zlib"}))
    assert await cache.get("sec", "u") is None
    await cache.put("sec", "u", entry("u", b"again"))
    got = await cache.get("sec", "u")
    assert got is not None and got.body == b"again"
