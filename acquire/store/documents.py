"""The document store: filings kept by sha256, referenced by jobs, read only by their org.

Bytes live in a :class:`~acquire.store.blobs.BlobStore` (Redis, a directory or S3), one copy
per sha256 however many jobs or orgs fetched it. Who may read them, and for how long, lives
in Redis next to the jobs:

* A job's references are the hash ``acquire:{org}:job:{id}:documents`` (accession ->
  :class:`StoredDocument`), which expires with the job (``ACQUIRE_RESULT_TTL``). Reads go
  through it and nothing else: an org reaches a document only through one of its own jobs,
  so a sha256 is not a capability.
* Each object has a set of the documents keys that reference it and a score in
  ``acquire:documents:index``: the time before which it is never swept (the reference time
  plus the longer of ``ACQUIRE_RESULT_TTL`` and ``ACQUIRE_DOCUMENT_TTL``).
* :meth:`DocumentStore.sweep` deletes an object only when its time has passed and none of
  its referencing keys still exists, so deleting or expiring one job never removes a
  document another live job references.

Writes cannot leave a reference to a missing object: the object is written (atomically, by
the backend) before the reference, and a reference is added to an object already in the
index only in the same Lua script that checks the sweeper is not deleting it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from typing import Any, cast

import redis.asyncio as aioredis
from pydantic import BaseModel

from acquire.errors import AcquireError
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.blobs import BlobStore, open_blob_store

__all__ = ["DocumentNotFoundError", "DocumentStore", "StoredDocument"]

# KEYS: job documents, index, refs, lock, job status | ARGV: sha, accession, ref json,
# not-before score, ttl, phase ('check' or 'commit').
# Returns -1 job gone, 0 being swept (try again), 2 absent (write it, then commit), 1 referenced.
_REFERENCE = """
if redis.call('EXISTS', KEYS[5]) == 0 then return -1 end
if redis.call('EXISTS', KEYS[4]) == 1 then return 0 end
if ARGV[6] == 'check' and not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 2 end
redis.call('ZADD', KEYS[2], 'GT', ARGV[4], ARGV[1])
redis.call('SADD', KEYS[3], KEYS[1])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
end
return 1
"""

# KEYS: index | ARGV: now, limit, lock ms, key prefix of documents.
# Due objects with a live reference get a later score (when that reference expires); the
# others are locked, leave the index and are returned for deletion.
_SWEEP = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local claimed = {}
for _, sha in ipairs(due) do
  local refs = ARGV[4] .. sha .. ':refs'
  local latest = -1
  for _, ref in ipairs(redis.call('SMEMBERS', refs)) do
    local left = redis.call('PTTL', ref)
    if left == -2 then redis.call('SREM', refs, ref)
    elseif left == -1 then latest = math.max(latest, 86400000)
    elseif left > latest then latest = left end
  end
  if latest >= 0 then
    redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + latest / 1000 + 1, sha)
  else
    redis.call('SET', ARGV[4] .. sha .. ':lock', '1', 'PX', ARGV[3])
    redis.call('ZREM', KEYS[1], sha)
    redis.call('DEL', refs)
    claimed[#claimed + 1] = sha
  end
end
return claimed
"""

_LOCK_MS = 30_000
_RETRY_DELAY = 0.05


class DocumentNotFoundError(AcquireError, LookupError):
    """No such document for this org's job (missing, expired, or another org's: one answer)."""


class StoredDocument(BaseModel):
    """A job's reference to one stored filing document (and its 10-K sections, if any)."""

    accession: str
    #: The sha256 of the filing's primary document as SEC served it (its document id).
    sha256: str
    size: int
    content_type: str
    #: Where the document's bytes are stored; ``None`` when only sections were kept.
    uri: str | None = None
    #: The sha256 and URI of the document's visible text (``document_text``).
    text_sha256: str | None = None
    text_uri: str | None = None
    #: The sha256 and URI of the sections JSON (10-K forms only).
    sections_sha256: str | None = None
    sections_uri: str | None = None
    #: The items whose text was kept (``None``: every item of the filing).
    sections: list[str] | None = None
    company: str | None = None
    form: str | None = None
    fiscal_year: int | None = None
    filing_date: str | None = None
    document_url: str | None = None

    @property
    def stored(self) -> bool:
        """Whether the document's own bytes are in the store (not only its sections)."""
        return self.uri is not None


class DocumentStore:
    """Content-addressed document bytes with org-scoped, job-referenced retention."""

    def __init__(
        self, redis: aioredis.Redis, blobs: BlobStore, *, ttl: int = 3600, document_ttl: int = 0
    ) -> None:
        self.redis = redis
        self.blobs = blobs
        self.ttl = ttl
        self.retention = max(ttl, document_ttl)
        self._reference = redis.register_script(_REFERENCE)
        self._sweep = redis.register_script(_SWEEP)

    @classmethod
    def from_settings(cls, redis: aioredis.Redis, settings: Settings) -> DocumentStore:
        """The store ``ACQUIRE_DOCUMENT_STORE`` names, with the retention of ``settings``."""
        return cls(
            redis,
            open_blob_store(settings.acquire_document_store, redis),
            ttl=settings.acquire_result_ttl,
            document_ttl=settings.acquire_document_ttl,
        )

    async def aclose(self) -> None:
        await self.blobs.aclose()

    # ---- writes --------------------------------------------------------------------------

    async def put(self, org: str, job_id: str, ref: StoredDocument, objects: Mapping[str, bytes]) -> int:
        """Make sure each of ``objects`` (sha256 -> bytes) is stored, then record ``ref`` on the job.

        Returns how many objects were written (the others' one copy already existed). A job
        that no longer exists gets nothing recorded (:class:`DocumentNotFoundError`).
        """
        written = 0
        last = len(objects) - 1
        for index, (sha256, data) in enumerate(objects.items()):
            written += await self._ensure(org, job_id, sha256, data, ref if index == last else None)
        return written

    async def _ensure(
        self, org: str, job_id: str, sha256: str, data: bytes, ref: StoredDocument | None
    ) -> bool:
        wrote = False
        phase = "check"
        deadline = time.monotonic() + _LOCK_MS / 1000
        while True:
            state = await self._call(org, job_id, sha256, ref, phase)
            if state == 1:
                return wrote
            if state == -1:
                raise DocumentNotFoundError(f"job {job_id} no longer exists")
            if state == 2:
                await self.blobs.put(sha256, data)
                wrote, phase = True, "commit"
                continue
            # The sweeper is deleting this object: once it is done, write it again.
            if time.monotonic() > deadline:
                raise AcquireError(f"document {sha256} stayed locked by the sweeper")
            await asyncio.sleep(_RETRY_DELAY)
            phase = "check"

    async def _call(self, org: str, job_id: str, sha256: str, ref: StoredDocument | None, phase: str) -> int:
        documents = keys.job_documents(org, job_id)
        names = [
            documents,
            keys.document_index(),
            keys.document_refs(sha256),
            keys.document_lock(sha256),
            keys.job_status(org, job_id),
        ]
        score = time.time() + self.retention
        accession, body = (ref.accession, ref.model_dump_json(exclude_none=True)) if ref else ("", "")
        args: list[str | float] = [sha256, accession, body, score, self.ttl, phase]
        return int(await self._reference(keys=names, args=args))

    async def sweep(self, *, now: float | None = None, limit: int = 100) -> list[str]:
        """Delete objects past their retention that no live job references; returns their sha256s."""
        at = time.time() if now is None else now
        raw = await self._sweep(keys=[keys.document_index()], args=[at, limit, _LOCK_MS, keys.DOCUMENTS])
        claimed = [s.decode() if isinstance(s, bytes) else str(s) for s in raw]
        for sha256 in claimed:
            try:
                await self.blobs.delete(sha256)
            finally:
                await self.redis.delete(keys.document_lock(sha256))
        return claimed

    # ---- org-scoped reads ----------------------------------------------------------------

    async def list_refs(self, org: str, job_id: str) -> list[StoredDocument]:
        """The documents ``org``'s job references, by filing date then accession."""
        raw = await cast(Awaitable[dict[bytes, bytes]], self.redis.hgetall(keys.job_documents(org, job_id)))
        refs = [StoredDocument.model_validate_json(v) for v in raw.values()]
        return sorted(refs, key=lambda r: (r.filing_date or "", r.accession))

    async def ref(self, org: str, job_id: str, name: str) -> StoredDocument:
        """One reference by accession or by document sha256, only among ``org``'s job's own."""
        key = keys.job_documents(org, job_id)
        raw = await cast(Awaitable[bytes | None], self.redis.hget(key, name))
        if raw is not None:
            return StoredDocument.model_validate_json(raw)
        for ref in await self.list_refs(org, job_id) if len(name) == 64 else []:
            if ref.sha256 == name:
                return ref
        raise DocumentNotFoundError(f"no document {name!r} in job {job_id}")

    async def read(self, org: str, job_id: str, name: str) -> tuple[StoredDocument, bytes]:
        """A document's bytes; :class:`DocumentNotFoundError` if not stored for this job."""
        ref = await self.ref(org, job_id, name)
        if ref.uri is None:
            raise DocumentNotFoundError(f"only the sections of {ref.accession} were stored")
        data = await self.blobs.get(ref.sha256)
        if data is None:
            raise DocumentNotFoundError(f"document {ref.sha256} is no longer stored")
        return ref, data

    async def open(
        self, org: str, job_id: str, name: str
    ) -> tuple[StoredDocument, int, AsyncIterator[bytes]]:
        """A document's reference, size and a chunk stream (for HTTP responses)."""
        ref = await self.ref(org, job_id, name)
        size = await self.blobs.size(ref.sha256) if ref.uri is not None else None
        if size is None:
            raise DocumentNotFoundError(f"document {ref.accession} is not stored")
        return ref, size, self.blobs.stream(ref.sha256)

    async def text(self, org: str, job_id: str, name: str) -> str:
        """A document's visible text; :class:`DocumentNotFoundError` if not stored for this job."""
        ref = await self.ref(org, job_id, name)
        data = await self.blobs.get(ref.text_sha256) if ref.text_sha256 else None
        if data is None:
            raise DocumentNotFoundError(f"no text stored for {ref.accession}")
        return data.decode()

    async def sections(self, org: str, job_id: str, name: str) -> list[dict[str, Any]]:
        """The stored sections of a 10-K (dicts of :class:`~acquire.analysis.sections.Section`)."""
        ref = await self.ref(org, job_id, name)
        data = await self.blobs.get(ref.sections_sha256) if ref.sections_sha256 else None
        if data is None:
            raise DocumentNotFoundError(f"no sections stored for {ref.accession}")
        sections: list[dict[str, Any]] = json.loads(data)["sections"]
        return sections
