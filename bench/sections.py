"""10-K section extraction speed and document store throughput.

    python bench/sections.py [--rounds 3]

Sections: every 10-K in the fixtures (the layout corpus and the recorded Archives documents)
is split into all its items with ``extract_sections``; the best of ``--rounds`` runs per
document counts (one core, this process), as CPU seconds of this process (``cpu``: what one
core spends, fair on a shared machine) and as wall-clock seconds (``wall``). Store: 16
documents of 2 MB are put and read back through each backend (embedded Redis, a directory in
a temporary folder, S3 through moto's server on loopback), reported in MB/s. Prints one line
per document on stderr and one final JSON line on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import hashlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from acquire.analysis.sections import extract_sections
from acquire.store.blobs import BlobStore, DirectoryBlobs, RedisBlobs, S3Blobs
from acquire.testing.embedded import EmbeddedRedis

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "sec"
_DOCUMENTS = 16
_SIZE = 2 * 1024 * 1024


def _ten_ks() -> list[Path]:
    corpus = sorted((FIXTURES / "corpus" / "html").glob("*.html.gz"))
    archives = [p for p in sorted((FIXTURES / "www.sec.gov").rglob("*.htm.gz")) if p.stat().st_size > 100_000]
    return corpus + archives


def bench_sections(rounds: int) -> dict[str, Any]:
    cpu: list[float] = []
    wall: list[float] = []
    for path in _ten_ks():
        raw = gzip.decompress(path.read_bytes())
        best_cpu = best_wall = float("inf")
        for _ in range(rounds):
            start, start_cpu = time.perf_counter(), time.process_time()
            sections = extract_sections(raw)
            best_cpu = min(best_cpu, time.process_time() - start_cpu)
            best_wall = min(best_wall, time.perf_counter() - start)
        cpu.append(best_cpu)
        wall.append(best_wall)
        print(
            f"{path.name:45} cpu {best_cpu:.3f}s wall {best_wall:.3f}s {len(sections)} items", file=sys.stderr
        )
    return {
        "documents": len(cpu),
        "cpu_median_s": round(statistics.median(cpu), 4),
        "cpu_max_s": round(max(cpu), 4),
        "wall_median_s": round(statistics.median(wall), 4),
        "wall_max_s": round(max(wall), 4),
        "target_median_s": 0.1,
        "target_max_s": 0.3,
    }


async def _throughput(blobs: BlobStore) -> dict[str, float]:
    payloads = [os.urandom(_SIZE) for _ in range(_DOCUMENTS)]
    names = [hashlib.sha256(p).hexdigest() for p in payloads]
    start = time.perf_counter()
    for name, payload in zip(names, payloads, strict=True):
        await blobs.put(name, payload)
    put = time.perf_counter() - start
    start = time.perf_counter()
    for name in names:
        assert await blobs.get(name) is not None
    get = time.perf_counter() - start
    megabytes = _DOCUMENTS * _SIZE / 1e6
    return {"put_mb_s": round(megabytes / put, 1), "get_mb_s": round(megabytes / get, 1)}


async def bench_store(folder: Path) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    results: dict[str, Any] = {}
    with EmbeddedRedis(folder / "redis") as server:
        redis = aioredis.Redis.from_url(server.url)
        results["redis"] = await _throughput(RedisBlobs(redis))
        await redis.aclose()
    results["directory"] = await _throughput(DirectoryBlobs(folder / "documents"))
    # moto's server logs every request through werkzeug on stderr, between the per-document lines.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    try:
        host, port = moto.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        keys = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}
        boto3.client("s3", endpoint_url=endpoint, **keys).create_bucket(Bucket="bench")
        config = {
            "endpoint": endpoint,
            "access_key_id": "bench",
            "secret_access_key": "bench",
            "region": "us-east-1",
            "allow_http": "true",
        }
        results["s3_moto"] = await _throughput(S3Blobs(f"s3://bench/{uuid.uuid4().hex}", config=config))
    finally:
        moto.stop()
    results["documents"], results["document_mb"] = _DOCUMENTS, _SIZE / 1e6
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sections = bench_sections(args.rounds)
    with tempfile.TemporaryDirectory() as folder:
        store = asyncio.run(bench_store(Path(folder)))
    print(json.dumps({"bench": "sections", "sections": sections, "store": store}))


if __name__ == "__main__":
    main()
