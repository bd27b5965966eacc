"""Loaded at start-up by the worker process of the document crash test (via PYTHONPATH).

At the worker's first document write, half the bytes reach a temporary file in the store's
folder and the process SIGKILLs itself: a crash between the download and the store write.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from acquire.store import blobs


def _write_then_die(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    (target.parent / ".partial-crash").write_bytes(data[: len(data) // 2])
    os.kill(os.getpid(), signal.SIGKILL)


blobs.DirectoryBlobs._write = staticmethod(_write_then_die)  # type: ignore[method-assign]
