"""Child processes of the CLI tests: their output read line by line, and the Redis they left."""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path
from typing import IO

import psutil


class Lines:
    """A process's text stream, read by a thread (so nothing waits for whoever holds the pipe
    open: a ``redis-server`` left behind would). :meth:`wait_for` returns once a line with
    ``text`` arrived, or the stream ended."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: IO[bytes]) -> None:
        for raw in stream:
            with self._changed:
                self.lines.append(raw.decode(errors="replace"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(
                lambda: self._ended or any(text in line for line in self.lines), timeout
            ) and any(text in line for line in self.lines)

    def wait_ended(self, timeout: float) -> bool:
        """Whether the stream ended (its process exited) within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._ended, timeout)

    def __str__(self) -> str:
        return "".join(self.lines)


def redis_servers(path: Path | str) -> list[psutil.Process]:
    """Live ``redis-server`` processes whose command line names ``path`` (a socket or data
    directory), not counting their guard."""
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["status"] == psutil.STATUS_ZOMBIE or "redis_guard" in cmdline:
            continue
        if "redis-server" in cmdline and str(path) in cmdline:
            found.append(proc)
    return found


def kill_if_running(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
