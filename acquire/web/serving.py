"""uvicorn options that bound what slow or numerous clients can hold in the web process.

uvicorn's defaults accept any number of connections and, with httptools, headers of any size;
a client sending its headers a byte at a time is never timed out (uvicorn has no header
deadline). :func:`uvicorn_limits` returns the options the examples and the demo run with:

>>> uvicorn.run(app, host="0.0.0.0", port=8080, **uvicorn_limits())

- ``limit_concurrency``: beyond this many open connections (or running requests) new requests
  get a 503 at once. Each connection is a file descriptor: keep it well under ``ulimit -n``.
- ``http="h11"`` with ``h11_max_incomplete_event_size``: a request head that grows past this
  many bytes before it is complete is a 400 and the connection closes (httptools, uvicorn's
  faster parser, applies no such limit; use it behind a proxy that bounds headers).
- ``timeout_keep_alive``: an idle connection between requests is closed after this many s.

The router's own ``body_timeout`` bounds how long a request body may take. What none of these
can stop is many connections that never finish their headers: run behind a proxy with header
and body timeouts (README, "Deployment").
"""

from __future__ import annotations

from typing import Any

__all__ = ["uvicorn_limits"]


def uvicorn_limits(
    *, max_connections: int = 1024, max_header_bytes: int = 16_384, keep_alive_seconds: int = 5
) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config`` that cap slow and idle clients.

    ``max_connections`` must leave room for the SSE clients you expect (one connection each).
    """
    if max_connections < 1 or max_header_bytes < 1024 or keep_alive_seconds < 1:
        raise ValueError("max_connections >= 1, max_header_bytes >= 1024 and keep_alive_seconds >= 1")
    return {
        "http": "h11",
        "limit_concurrency": max_connections,
        "h11_max_incomplete_event_size": max_header_bytes,
        "timeout_keep_alive": keep_alive_seconds,
    }
