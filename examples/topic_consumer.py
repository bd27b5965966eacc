"""Consume the SEC topic stream (``SEC_TOPIC``, default ``data.sec``) with a consumer group.

Every filing the SEC job records is appended to the topic as one Redis Stream entry with the
fields ``org``, ``job_id``, ``kind`` and ``data`` (JSON: ``{"company", "cik", "filing"}``).
This consumer prints one line per filing. Run it (from a source checkout)::

    export REDIS_URL=redis://localhost:6379/0
    python -m examples.topic_consumer --group filings-printer --consumer printer-1

Start several with different ``--consumer`` names to share the work. ``--burst`` exits once
nothing new arrives for ``--block-ms`` (useful in scripts and tests).

Delivery is at least once:

* the group is created with ``XGROUP CREATE ... MKSTREAM`` (from the start of the stream, so
  a new group sees what is already there; ``BUSYGROUP`` means it exists, which is fine);
* an entry is acknowledged (``XACK``) only after it was handled, so a consumer that dies
  mid-way leaves it pending;
* on start a consumer first re-reads its own pending entries (``XREADGROUP`` from id ``0``),
  and it claims entries another consumer left pending for longer than ``--claim-idle-ms``
  (``XAUTOCLAIM``), so nothing is lost when a consumer is replaced by one with a new name.

Handlers must therefore be idempotent: ``job_id`` plus the filing's ``accession`` identify a
filing. A handler that raises stops the consumer with the entry still pending; a poison entry
would then be redelivered forever, so a production consumer should also check the delivery
count (``XPENDING``) and park such entries in a dead-letter stream.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

__all__ = ["Entry", "consume", "ensure_group", "format_filing", "main"]


@dataclass(frozen=True)
class Entry:
    """One topic entry: the stream id, who produced it and the decoded payload."""

    id: str
    org: str
    job_id: str
    kind: str
    data: dict[str, Any]


Handler = Callable[[Entry], Awaitable[None] | None]


def _decode(entry_id: bytes | str, fields: dict[bytes | str, bytes | str]) -> Entry:
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    try:
        data = json.loads(text.get("data", "{}"))
    except json.JSONDecodeError:
        data = {"unparseable": text.get("data")}
    return Entry(
        id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        org=text.get("org", ""),
        job_id=text.get("job_id", ""),
        kind=text.get("kind", ""),
        data=data if isinstance(data, dict) else {"value": data},
    )


def format_filing(entry: Entry) -> str:
    """One human line for an SEC topic entry."""
    filing = entry.data.get("filing") or {}
    return (
        f"{entry.id} org={entry.org} {entry.data.get('company', '?')} {filing.get('form', '?')} "
        f"FY{filing.get('fiscal_year', '?')} {filing.get('accession', '?')} {filing.get('status', '?')}"
    )


def _print_filing(entry: Entry) -> None:
    print(format_filing(entry), flush=True)


async def ensure_group(redis: aioredis.Redis, stream: str, group: str) -> None:
    """Create ``group`` on ``stream`` (and the stream itself) unless it exists."""
    try:
        await redis.xgroup_create(stream, group, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def _handle(redis: aioredis.Redis, stream: str, group: str, entries: list[Any], handle: Handler) -> int:
    for entry_id, fields in entries:
        if fields is None:  # deleted (trimmed) while pending: nothing to handle, just release it
            await redis.xack(stream, group, entry_id)
            continue
        outcome = handle(_decode(entry_id, fields))
        if outcome is not None:
            await outcome
        await redis.xack(stream, group, entry_id)
    return len(entries)


async def consume(
    redis: aioredis.Redis,
    *,
    stream: str = "data.sec",
    group: str = "filings-printer",
    consumer: str = "printer-1",
    handle: Handler = _print_filing,
    count: int = 100,
    block_ms: int = 5000,
    claim_idle_ms: int = 60_000,
    burst: bool = False,
    stop: asyncio.Event | None = None,
) -> int:
    """Handle entries until ``stop`` is set (or, with ``burst``, until none arrive in ``block_ms``).

    Returns how many entries were handled and acknowledged.
    """
    await ensure_group(redis, stream, group)
    handled = 0
    # 1. Our own pending entries: delivered to this consumer name before, never acknowledged.
    while True:
        reply = await redis.xreadgroup(group, consumer, {stream: "0"}, count=count)
        entries = reply[0][1] if reply else []
        if not entries:
            break
        handled += await _handle(redis, stream, group, entries, handle)
    # 2. Entries other consumers left pending for too long (they died or were renamed).
    cursor: bytes | str = "0-0"
    while True:
        cursor, claimed, *_ = await redis.xautoclaim(
            stream, group, consumer, claim_idle_ms, cursor, count=count
        )
        handled += await _handle(redis, stream, group, claimed, handle)
        if cursor in (b"0-0", "0-0"):
            break
    # 3. New entries.
    while stop is None or not stop.is_set():
        reply = await redis.xreadgroup(group, consumer, {stream: ">"}, count=count, block=block_ms)
        entries = reply[0][1] if reply else []
        if not entries and burst:
            break
        handled += await _handle(redis, stream, group, entries, handle)
    return handled


async def _main(args: argparse.Namespace) -> int:
    redis = aioredis.Redis.from_url(os.environ.get("REDIS_URL", "redis://localhost:6379/0"))
    try:
        handled = await consume(
            redis,
            stream=args.stream,
            group=args.group,
            consumer=args.consumer,
            block_ms=args.block_ms,
            claim_idle_ms=args.claim_idle_ms,
            burst=args.burst,
        )
    finally:
        await redis.aclose()
    print(f"handled {handled} entries", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--stream", default=os.environ.get("SEC_TOPIC", "data.sec"))
    parser.add_argument("--group", default="filings-printer")
    parser.add_argument("--consumer", default="printer-1")
    parser.add_argument("--block-ms", type=int, default=5000)
    parser.add_argument("--claim-idle-ms", type=int, default=60_000)
    parser.add_argument("--burst", action="store_true", help="exit when no entry arrives within --block-ms")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_main(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
