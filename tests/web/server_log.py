"""A fixture capturing what uvicorn and acquire log while a test runs (uvicorn's loggers do not
propagate to the root logger, so pytest's ``caplog`` never sees its tracebacks)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

__all__ = ["ServerLog", "server_log"]


class ServerLog(logging.Handler):
    """Every record logged while the test runs; ``seen`` is set by each."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.seen = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.seen.set()

    @property
    def messages(self) -> list[str]:
        return [r.getMessage() for r in self.records]

    @property
    def tracebacks(self) -> list[str]:
        """Records that carry a traceback or report an error."""
        return [r.getMessage() for r in self.records if r.exc_info or r.levelno >= logging.ERROR]


@pytest.fixture
def server_log() -> Iterator[ServerLog]:
    handler = ServerLog()
    web_log = logging.getLogger("acquire.web")
    level = web_log.level
    web_log.setLevel(logging.DEBUG)
    loggers = [logging.getLogger("uvicorn"), logging.getLogger("acquire")]
    for logger in loggers:
        logger.addHandler(handler)
    yield handler
    for logger in loggers:
        logger.removeHandler(handler)
    web_log.setLevel(level)
