"""The document store on its three real backends: Redis, a directory and S3 (moto server)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from acquire.errors import ConfigurationError
from acquire.ids import new_job_id
from acquire.models import JobKind, JobState, JobStatus
from acquire.settings import Settings
from acquire.store import keys
from acquire.store.blobs import BlobStore, DirectoryBlobs, RedisBlobs, S3Blobs, open_blob_store
from acquire.store.documents import DocumentNotFoundError, DocumentStore, StoredDocument
from acquire.store.jobs import JobStore

ACCESSION = "0001045810-24-000029"


@pytest.fixture(params=["redis", "directory", "s3"])
async def blobs(
    request: pytest.FixtureRequest, redis: aioredis.Redis, tmp_path: Path
) -> AsyncIterator[BlobStore]:
    if request.param == "redis":
        yield RedisBlobs(redis)
    elif request.param == "directory":
        yield DirectoryBlobs(tmp_path / "documents")
    else:
        config: dict[str, Any] = request.getfixturevalue("s3_config")
        yield S3Blobs(f"s3://documents/{uuid.uuid4().hex}", config=config)


async def _job(jobs: JobStore, org: str) -> str:
    job_id = new_job_id()
    status = JobStatus(
        job_id=job_id,
        org=org,
        kind=JobKind.SEC_FILINGS,
        state=JobState.QUEUED,
        created_at=datetime.now(UTC),
        request={},
    )
    await jobs.create(status)
    return job_id


def _ref(data: bytes, blobs: BlobStore, accession: str = ACCESSION) -> StoredDocument:
    sha = hashlib.sha256(data).hexdigest()
    return StoredDocument(
        accession=accession, sha256=sha, size=len(data), content_type="text/html", uri=blobs.uri(sha)
    )


async def test_one_copy_per_sha256_read_back_whole_and_streamed(
    redis: aioredis.Redis, blobs: BlobStore
) -> None:
    jobs, store = JobStore(redis), DocumentStore(redis, blobs, ttl=600)
    data = bytes(range(256)) * 5000  # 1.28 MB: several stream chunks
    ref = _ref(data, blobs)
    first, second = await _job(jobs, "acme"), await _job(jobs, "globex")
    assert await store.put("acme", first, ref, {ref.sha256: data}) == 1
    assert await store.put("globex", second, ref, {ref.sha256: data}) == 0  # the one copy already exists
    got_ref, got = await store.read("acme", first, ACCESSION)
    assert got == data and got_ref.sha256 == ref.sha256
    assert (await store.read("globex", second, ref.sha256))[1] == data  # by sha256 too
    _, size, chunks = await store.open("acme", first, ACCESSION)
    assert size == len(data)
    assert b"".join([chunk async for chunk in chunks]) == data
    assert [r.accession for r in await store.list_refs("acme", first)] == [ACCESSION]


async def test_an_org_reads_only_through_its_own_jobs(redis: aioredis.Redis, blobs: BlobStore) -> None:
    jobs, store = JobStore(redis), DocumentStore(redis, blobs, ttl=600)
    data = b"<html>acme's filing</html>"
    ref = _ref(data, blobs)
    mine, theirs = await _job(jobs, "acme"), await _job(jobs, "globex")
    await store.put("acme", mine, ref, {ref.sha256: data})
    for name in (ACCESSION, ref.sha256):
        with pytest.raises(DocumentNotFoundError):
            await store.read("globex", theirs, name)  # its own job never fetched it
        with pytest.raises(DocumentNotFoundError):
            await store.read("globex", mine, name)  # acme's job id under globex's org
    with pytest.raises(ValueError, match="invalid job id"):
        await store.read("acme", "../" + mine, ACCESSION)


async def test_deleting_one_job_keeps_what_another_live_job_references(
    redis: aioredis.Redis, blobs: BlobStore
) -> None:
    jobs, store = JobStore(redis), DocumentStore(redis, blobs, ttl=600)
    shared, alone = b"shared filing", b"only in the first job"
    ref_shared, ref_alone = _ref(shared, blobs), _ref(alone, blobs, "0001045810-24-000030")
    first, second = await _job(jobs, "acme"), await _job(jobs, "globex")
    await store.put("acme", first, ref_shared, {ref_shared.sha256: shared})
    await store.put("acme", first, ref_alone, {ref_alone.sha256: alone})
    await store.put("globex", second, ref_shared, {ref_shared.sha256: shared})
    assert await store.sweep() == []  # nothing is past its retention yet
    await jobs.delete("acme", first)
    later = 10**10  # past every retention: only live references keep a document
    assert await store.sweep(now=later) == [ref_alone.sha256]
    assert await blobs.get(ref_alone.sha256) is None
    assert await blobs.get(ref_shared.sha256) == shared
    assert (await store.read("globex", second, ACCESSION))[1] == shared
    await redis.delete(keys.job_documents("globex", second))  # the second job's references expire
    assert await store.sweep(now=later * 2) == [ref_shared.sha256]
    assert await blobs.get(ref_shared.sha256) is None


async def test_document_ttl_outlives_the_jobs(redis: aioredis.Redis, blobs: BlobStore) -> None:
    jobs, store = JobStore(redis), DocumentStore(redis, blobs, ttl=600, document_ttl=86400)
    data = b"kept for a day"
    ref = _ref(data, blobs)
    job = await _job(jobs, "acme")
    await store.put("acme", job, ref, {ref.sha256: data})
    await jobs.delete("acme", job)
    score = await redis.zscore(keys.document_index(), ref.sha256)
    assert score is not None
    assert await store.sweep(now=score - 1) == []  # within ACQUIRE_DOCUMENT_TTL
    assert await blobs.get(ref.sha256) == data
    assert await store.sweep(now=score + 1) == [ref.sha256]


async def test_a_crash_before_the_reference_leaves_no_reference(
    redis: aioredis.Redis, blobs: BlobStore
) -> None:
    jobs, store = JobStore(redis), DocumentStore(redis, blobs, ttl=600)
    data = b"written, then the worker died"
    ref = _ref(data, blobs)
    job = await _job(jobs, "acme")
    await blobs.put(ref.sha256, data)  # the worker died here: bytes written, reference not
    with pytest.raises(DocumentNotFoundError):
        await store.read("acme", job, ACCESSION)
    assert await store.list_refs("acme", job) == []
    assert await redis.zscore(keys.document_index(), ref.sha256) is None
    assert await store.put("acme", job, ref, {ref.sha256: data}) == 1  # the re-run stores it (once)
    assert (await store.read("acme", job, ACCESSION))[1] == data


async def test_a_job_that_is_gone_gets_no_reference(redis: aioredis.Redis, blobs: BlobStore) -> None:
    store = DocumentStore(redis, blobs, ttl=600)
    data = b"late write"
    ref = _ref(data, blobs)
    with pytest.raises(DocumentNotFoundError):
        await store.put("acme", new_job_id(), ref, {ref.sha256: data})


async def test_a_document_being_swept_is_written_again_by_a_new_reference(
    redis: aioredis.Redis, blobs: BlobStore
) -> None:
    jobs, store = JobStore(redis), DocumentStore(redis, blobs, ttl=600)
    data = b"swept and fetched again"
    ref = _ref(data, blobs)
    old = await _job(jobs, "acme")
    await store.put("acme", old, ref, {ref.sha256: data})
    await jobs.delete("acme", old)
    await redis.delete(keys.job_documents("acme", old))
    # The sweeper claims it (lock set, out of the index) but has not deleted the bytes yet.
    claimed = await store._sweep(keys=[keys.document_index()], args=[10**10, 10, 30_000, keys.DOCUMENTS])
    assert [c.decode() for c in claimed] == [ref.sha256]
    await blobs.delete(ref.sha256)
    await redis.delete(keys.document_lock(ref.sha256))
    new = await _job(jobs, "acme")
    assert await store.put("acme", new, ref, {ref.sha256: data}) == 1
    assert (await store.read("acme", new, ACCESSION))[1] == data


def test_directory_writes_are_atomic_and_leave_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = DirectoryBlobs(tmp_path)
    sha = hashlib.sha256(b"x").hexdigest()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", disk_full)  # the write fails after its bytes went out
        with pytest.raises(OSError, match="No space"):
            DirectoryBlobs._write(blobs.path(sha), b"x")
    assert not blobs.path(sha).exists()
    assert list(blobs.path(sha).parent.iterdir()) == []
    DirectoryBlobs._write(blobs.path(sha), b"x")
    assert blobs.path(sha).read_bytes() == b"x"
    assert [p.name for p in blobs.path(sha).parent.iterdir()] == [sha]


def test_the_setting_names_the_backend(redis: aioredis.Redis, tmp_path: Path) -> None:
    assert isinstance(open_blob_store("redis", redis), RedisBlobs)
    directory = open_blob_store(f"file://{tmp_path}", redis)
    assert isinstance(directory, DirectoryBlobs) and directory.root == tmp_path.resolve()
    s3 = open_blob_store("s3://bucket/some/prefix", redis, s3_config={"region": "us-east-1"})
    assert isinstance(s3, S3Blobs) and s3.uri("a" * 64) == f"s3://bucket/some/prefix/aa/{'a' * 64}"
    with pytest.raises(ValueError, match="sha256"):
        directory.path("../../etc/passwd")
    with pytest.raises(ConfigurationError, match=r"ACQUIRE_DOCUMENT_STORE: .*must be redis"):
        Settings.from_env({"ACQUIRE_DOCUMENT_STORE": "ftp://nowhere"})
