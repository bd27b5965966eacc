"""Run ``redis-server`` as the child of this small guard, which ties its life to acquire's.

    python -I redis_guard.py /path/to/redis-server [redis arguments...]

:class:`~acquire.testing.embedded.EmbeddedRedis` starts the guard in a process group of its
own (so a Ctrl-C or a signal sent to acquire's process group does not reach Redis: acquire
stops it last, after its worker's graceful shutdown) and keeps the only write end of the
guard's stdin. The guard stops Redis (SIGTERM, then SIGKILL after ``_KILL_AFTER`` seconds)
when that pipe reaches end-of-file, which happens when acquire closes it to stop Redis *or*
when acquire dies in any way, SIGKILL included: the kernel closes a dead process's files.
That needs no polling and no Linux-only ``PR_SET_PDEATHSIG`` (which fires when the *thread*
that started the child exits, a trap for a threaded parent). On Linux the guard also sets
``PR_SET_PDEATHSIG`` for Redis, its own single-threaded child, so Redis ends even if the guard
itself is killed. The guard exits with Redis's exit code. Standard library only: it runs
with ``-I``, without acquire's imports.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading

_KILL_AFTER = 30.0  # seconds Redis gets to exit after SIGTERM (an AOF fsync at most)
_PR_SET_PDEATHSIG = 1


def _die_with_guard() -> None:
    """In the forked child, before exec: SIGTERM when the guard dies (Linux only)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: redis_guard.py REDIS_SERVER [ARGS...]", file=sys.stderr)
        return 2
    preexec = _die_with_guard if sys.platform == "linux" else None
    redis = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=preexec)  # noqa: S603
    stopping = threading.Lock()

    def kill() -> None:
        if redis.returncode is None:
            redis.kill()

    def stop() -> None:
        if not stopping.acquire(blocking=False):
            return
        if redis.returncode is None:
            try:
                os.kill(redis.pid, signal.SIGTERM)
            except ProcessLookupError:
                return
            killer = threading.Timer(_KILL_AFTER, kill)
            killer.daemon = True
            killer.start()

    def watch_parent() -> None:
        try:
            while os.read(0, 4096):  # anything written is ignored; only end-of-file matters
                pass
        except OSError:  # no stdin at all: nobody to outlive
            pass
        stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop())
    threading.Thread(target=watch_parent, name="watch-parent", daemon=True).start()
    return redis.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
