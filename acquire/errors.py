"""Exception types shared by sources, jobs and the client.

The job runtime decides what to do with a failure from its class alone:

- :class:`TransientError` (timeouts, resets, 5xx, 429): retried with exponential backoff
  and jitter, up to ``ACQUIRE_MAX_TRIES``; ``retry_after`` overrides the delay when the
  upstream said how long to wait.
- :class:`NotFoundError`: the thing asked for does not exist upstream. Recorded on its item,
  never retried.
- :class:`PermanentError` (and anything else): fails at once.
"""

from __future__ import annotations

import warnings
from typing import Any

__all__ = [
    "AcquireError",
    "ConfigurationError",
    "JobFailedError",
    "JobNotFinishedError",
    "JobNotFoundError",
    "NotFoundError",
    "OrgQueueFullError",
    "PermanentError",
    "RateLimitedError",
    "ResultFormatError",
    "TransientError",
]


class AcquireError(Exception):
    """Base class of every error acquire raises on purpose."""


class PermanentError(AcquireError):
    """A failure that retrying cannot fix (bad input upstream, refused access, parse error)."""


class ConfigurationError(PermanentError, ValueError):
    """acquire is misconfigured: a malformed or unknown setting (the message names the
    environment variable), or a setting an upstream refused (SEC and the declared User-Agent)."""


class NotFoundError(PermanentError):
    """The upstream says the requested item does not exist."""


class TransientError(AcquireError):
    """A failure worth retrying later."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """The upstream throttled us (HTTP 429, or SEC's 403 rate-threshold page)."""


class OrgQueueFullError(AcquireError):
    """The organisation already has as much work waiting as it may (HTTP 429 from the router).

    Nothing was enqueued; ``retry_after`` (seconds) suggests when to submit again.
    """

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class JobNotFoundError(AcquireError, LookupError):
    """No job with this id exists for this organisation (or it has expired)."""


class JobNotFinishedError(AcquireError):
    """The job's result was asked for before the job reached a final status."""


class JobFailedError(AcquireError):
    """The job's result was asked for, but the job failed before producing one.

    ``error_type`` and ``error`` are the job's (as on its status record).
    """

    def __init__(self, message: str, *, error_type: str | None = None, error: str | None = None) -> None:
        super().__init__(message)
        self.error_type, self.error = error_type, error


class ResultFormatError(AcquireError):
    """A stored result does not load as its kind's model (another acquire version wrote it)."""


#: Names kept for code written against 0.1.0; each access warns.
DEPRECATED_ALIASES: dict[str, str] = {
    "JobNotFound": "JobNotFoundError",
    "JobNotFinished": "JobNotFinishedError",
    "SettingsError": "ConfigurationError",
}


def __getattr__(name: str) -> Any:
    if name in DEPRECATED_ALIASES:
        new = DEPRECATED_ALIASES[name]
        warnings.warn(f"acquire.{name} is deprecated; use {new}", DeprecationWarning, stacklevel=2)
        return globals()[new]
    raise AttributeError(f"module 'acquire.errors' has no attribute {name!r}")
