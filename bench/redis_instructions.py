"""Redis's own work per job, counted: instructions (callgrind) and reads, acquire beside arq.

    python bench/redis_instructions.py [--jobs 1000] [--systems acquire,arq]

Wall-clock CPU per job (``bench/queue_peers.py``) moves by tens of percent with the load of a
shared machine; this count does not. For each system, one ``redis-server`` runs under
valgrind's callgrind, instrumented only while ``--jobs`` trivial jobs are enqueued (as
``queue_peers`` does) and drained by one worker process of that system. Reports, per job:
instructions Redis executed (``Ir``), reads it served (``total_reads_processed``: one per
round trip, syscalls included in neither count), commands, and memory left per finished job.
Redis under callgrind runs ~50x slower, so a worker may batch differently than in the wild;
the counts still move only when the commands do.

A rough model of ``queue_peers``' Redis CPU on the 2-core VM, fitted to its quiet-window runs:
0.69 us per thousand instructions plus 19 us per read. Needs ``valgrind`` on ``PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("queue_peers", Path(__file__).with_name("queue_peers.py"))
assert _spec is not None and _spec.loader is not None
peers: Any = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peers)

US_PER_KIR, US_PER_READ = 0.69, 19.0


def _total_ir(profile: str) -> int:
    out = subprocess.run(["callgrind_annotate", "--threshold=100", profile], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if "PROGRAM TOTALS" in line:
            return int(line.split()[0].replace(",", ""))
    raise RuntimeError(f"no totals in {profile}: {out.stderr[-500:]}")


async def _instrument(pid: int, on: bool) -> None:
    """Turn callgrind's counting in server ``pid`` on or off."""
    control = await asyncio.create_subprocess_exec(
        "callgrind_control", "-i", "on" if on else "off", str(pid),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await control.wait()


async def _counters(redis: aioredis.Redis) -> tuple[int, int]:
    stats = await redis.info("stats")
    return int(stats["total_reads_processed"]), int(stats["total_commands_processed"])


async def measure(system: str, jobs: int, keep: str = "") -> dict[str, Any]:
    from acquire.testing.embedded import find_redis_server

    work = tempfile.mkdtemp(prefix="redis-ir-")
    sock, profile = f"{work}/redis.sock", f"{work}/callgrind.out"
    server = subprocess.Popen(  # noqa: ASYNC220 - one server for the whole measurement
        [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={profile}",
            find_redis_server(), "--port", "0", "--unixsocket", sock, "--save", "", "--appendonly", "no",
            "--dir", work, "--slowlog-log-slower-than", "-1",  # slow under valgrind: log nothing
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    redis = aioredis.Redis(unix_socket_path=sock)
    try:
        for _ in range(600):  # valgrind takes a few seconds to start the server
            try:
                await redis.ping()
                break
            except (aioredis.ConnectionError, OSError):
                await asyncio.sleep(0.1)
        url = f"unix://{sock}"
        async with peers._Submitter(system, url) as sub:
            await sub.submit()  # connections open, scripts loaded
            await redis.flushall()
            await _instrument(server.pid, on=True)
            reads0, commands0 = await _counters(redis)
            for _ in range(jobs):
                await sub.submit()
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            worker = await asyncio.create_subprocess_exec(
                sys.executable, peers.__file__, "--worker", system, "--url", url, "--jobs", str(jobs),
                stdout=asyncio.subprocess.PIPE, env=env,
            )  # fmt: skip
            assert worker.stdout is not None
            try:
                await asyncio.wait_for(peers._line(worker.stdout), 900)
                reads1, commands1 = await _counters(redis)
                await _instrument(server.pid, on=False)
                memory = await peers._memory_per_job(redis, jobs)
            finally:
                worker.terminate()
                await worker.wait()
    finally:
        await redis.aclose()
        server.terminate()
        server.wait()
    ir = _total_ir(glob.glob(profile)[0])
    if keep:  # for callgrind_annotate --inclusive=yes: where the instructions go, per command
        os.makedirs(keep, exist_ok=True)
        shutil.copy(glob.glob(profile)[0], os.path.join(keep, f"callgrind.{system}.out"))
    shutil.rmtree(work, ignore_errors=True)
    reads = (reads1 - reads0) / jobs
    return {
        "instructions_per_job": round(ir / jobs),
        "reads_per_job": round(reads, 2),
        "commands_per_job": round((commands1 - commands0) / jobs, 2),
        "memory_bytes_per_job": round(memory),
        "model_cpu_us_per_job": round(ir / jobs / 1000 * US_PER_KIR + reads * US_PER_READ, 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    systems = [s for s in args.systems.split(",") if s]
    started = time.perf_counter()
    figures = {system: await measure(system, args.jobs, args.keep) for system in systems}
    out: dict[str, Any] = {"bench": "redis_instructions", "jobs": args.jobs, "figures": figures}
    if "acquire" in figures:
        out["ratios"] = {
            f"vs_{peer}": {
                name: round(figures["acquire"][name] / figures[peer][name], 3)
                for name in ("instructions_per_job", "reads_per_job", "model_cpu_us_per_job")
            }
            for peer in figures
            if peer != "acquire"
        }
    out["seconds"] = round(time.perf_counter() - started, 1)
    return out


if __name__ == "__main__":
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--systems", default="acquire,arq", help="any of acquire, arq, saq")
    parser.add_argument("--keep", default="", help="a directory to keep each system's callgrind profile in")
    cli = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not installed: this bench counts Redis's instructions with callgrind")
    print(json.dumps(asyncio.run(main(cli))))
