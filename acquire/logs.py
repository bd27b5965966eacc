"""Logging setup: plain or JSON lines, each record carrying the job id and org it is about."""

from __future__ import annotations

import contextvars
import json
import logging
from datetime import UTC, datetime

__all__ = ["configure_logging", "job_context"]

#: Set by the job runtime around each job so every log line inside it names the job.
job_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "acquire_job_context", default=None
)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ctx = job_context.get() or {}
        record.job_id = ctx.get("job_id", "-")
        record.org = ctx.get("org", "-")
        return True


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", "-"),
            "org": getattr(record, "org", "-"),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Configure the ``acquire`` and ``arq`` loggers (idempotent)."""
    handler = logging.StreamHandler()
    handler.addFilter(_ContextFilter())
    if json_lines:
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(org)s/%(job_id)s] %(message)s")
        )
    for name in ("acquire", "arq"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(level)
        logger.propagate = False
