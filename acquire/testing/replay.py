"""A local HTTP server that replays recorded SEC EDGAR and Yahoo Finance responses.

Used by the test-suite, the benchmarks and ``acquire demo``: point ``SEC_WWW_BASE_URL`` at
``{server.url}/www.sec.gov``, ``SEC_DATA_BASE_URL`` at ``{server.url}/data.sec.gov`` and
``YAHOO_BASE_URL`` at ``{server.url}/query2.finance.yahoo.com`` and the real clients talk to
it over a real loopback socket. Nothing here reaches the network.

Recordings live in a directory (``tests/fixtures`` in the repository)::

    sec/<host>/<path>[.gz]        one file per URL; a sibling ``.meta.json`` may give status/headers
    yahoo/<name>.json[.gz]        one recorded exchange: {"request": {...}, "response": {...}}

The server also plays an unfriendly upstream on demand: :meth:`ReplayServer.inject` queues
faults (status codes, bodies, delays, truncated bodies, dropped connections) for matching
paths, ``sec_max_rps`` makes it answer like SEC's fair-access throttle, and every request is
logged with its arrival time so a test can check the rate a fleet produced.

Yahoo's session is emulated too: ``fc.yahoo.com`` answers 404 with the recorded ``A3`` cookie
(as the real host does), recorded ``Set-Cookie`` headers are replayed, and with
``yahoo_auth=True`` getcrumb requires that cookie and quoteSummary/quote require the recorded
crumb, answering Yahoo's 401 ``Invalid Crumb``/``Invalid Cookie`` bodies otherwise.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import socket
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from acquire.testing.replay_yahoo import Recording, YahooReplay, read_fixture

__all__ = ["Fault", "LoggedRequest", "Recording", "ReplayServer", "default_fixtures_dir"]

SEC_HOSTS = ("www.sec.gov", "data.sec.gov")
UNDECLARED_TOOL_PAGE = (
    b"<html><head><title>SEC.gov | Your Request Originates from an Undeclared Automated Tool"
    b"</title></head><body><h1>Your Request Originates from an Undeclared Automated Tool</h1>"
    b"<p>To allow for equitable access to all users, SEC reserves the right to limit requests "
    b"originating from undeclared automated tools.</p></body></html>"
)
_DECLARED_UA = re.compile(r"\S+@\S+\.\S+")


def default_fixtures_dir() -> Path:
    """The recordings shipped in the repository (``tests/fixtures`` beside the package)."""
    return Path(__file__).resolve().parents[2] / "tests" / "fixtures"


@dataclass
class Fault:
    """One injected response. ``status``/``body`` replace the recording; ``delay`` sleeps
    first (a timeout for a client with a shorter one); ``truncate`` cuts the body to that many
    bytes while announcing the full length; ``reset`` closes the connection without a reply."""

    status: int = 500
    body: bytes = b"Internal Server Error"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    truncate: int | None = None
    reset: bool = False


@dataclass(frozen=True)
class LoggedRequest:
    at: float
    method: str
    host: str
    path: str
    query: str
    status: int
    user_agent: str


def _content_type(path: str) -> str:
    for suffix, ctype in (
        (".json", "application/json"),
        (".xml", "application/xml"),
        (".htm", "text/html"),
        (".html", "text/html"),
        (".txt", "text/plain"),
    ):
        if path.endswith(suffix):
            return ctype
    return "application/octet-stream"


class ReplayServer:
    """ASGI app replaying recordings, plus a runner on a loopback port (:meth:`start`)."""

    def __init__(
        self,
        fixtures: Path | None = None,
        *,
        sec_max_rps: float | None = None,
        sec_block_seconds: float = 600.0,
        sec_window: float = 1.0,
        require_user_agent: bool = True,
        yahoo_auth: bool = False,
    ) -> None:
        self.root = fixtures or default_fixtures_dir()
        #: Check Yahoo's cookie (getcrumb) and crumb (quoteSummary, quote) like the real API.
        self.yahoo_auth = yahoo_auth
        self.sec_max_rps = sec_max_rps
        self.sec_block_seconds = sec_block_seconds
        #: The throttle counts requests in a sliding window of this many seconds (SEC: 1 s). A
        #: stand-in running in a busy test process may shorten it by its own scheduling jitter.
        self.sec_window = sec_window
        self.require_user_agent = require_user_agent
        self.log: list[LoggedRequest] = []
        self._faults: list[tuple[re.Pattern[str], deque[Fault]]] = []
        self._chaos: tuple[float, Callable[[], Fault], Any] | None = None
        self._sec_window: deque[float] = deque()
        self._sec_blocked_until = 0.0
        self._yahoo = YahooReplay(self.root)
        self._lock = threading.Lock()
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # ---- configuration -------------------------------------------------------------------

    def inject(self, path_regex: str, *faults: Fault) -> None:
        """Answer the next requests whose ``/host/path`` matches with ``faults``, in order."""
        with self._lock:
            self._faults.append((re.compile(path_regex), deque(faults)))

    def chaos(self, rate: float, make_fault: Callable[[], Fault], seed: int = 0) -> None:
        """Answer a random ``rate`` share of requests with ``make_fault()`` (seeded, repeatable)."""
        import random

        self._chaos = (rate, make_fault, random.Random(seed))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self.log.clear()
            self._chaos = None
            self._sec_window.clear()
            self._sec_blocked_until = 0.0

    def settings_overrides(self) -> dict[str, str]:
        """The :class:`~acquire.settings.Settings` fields that point the clients at this server."""
        return {
            "sec_www_base_url": f"{self.url}/www.sec.gov",
            "sec_data_base_url": f"{self.url}/data.sec.gov",
            "yahoo_base_url": f"{self.url}/query2.finance.yahoo.com",
            "yahoo_cookie_url": f"{self.url}/fc.yahoo.com",
        }

    def requests_to(self, host: str, path_prefix: str = "/") -> list[LoggedRequest]:
        return [r for r in self.log if r.host == host and r.path.startswith(path_prefix)]

    # ---- ASGI ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        request = Request(scope, receive)
        # Stamped on arrival: the rate a fleet produced is measured by when requests came in.
        request.state.arrived = time.monotonic()
        host, _, path = request.url.path.lstrip("/").partition("/")
        path = "/" + path
        ua = request.headers.get("user-agent", "")
        fault = self._next_fault(f"/{host}{path}")
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.reset:
                self._record(request, host, path, 0, ua)
                raise ConnectionResetError("injected connection reset")
            response = Response(fault.body, fault.status, headers=fault.headers)
            if fault.truncate is not None:
                return await self._send_truncated(response, fault.truncate, send, request, host, path, ua)
        else:
            response = self._respond(request, host, path, ua)
        self._record(request, host, path, response.status_code, ua)
        await response(scope, receive, send)

    async def _send_truncated(
        self, response: Response, keep: int, send: Send, request: Request, host: str, path: str, ua: str
    ) -> None:
        self._record(request, host, path, response.status_code, ua)
        headers = [(k.encode(), v.encode()) for k, v in response.headers.items()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.body[:keep], "more_body": True})
        # Ending the ASGI call with the body incomplete makes the server drop the connection.
        raise ConnectionResetError("injected truncated body")

    def _record(self, request: Request, host: str, path: str, status: int, ua: str) -> None:
        with self._lock:
            self.log.append(
                LoggedRequest(
                    request.state.arrived, request.method, host, path, request.url.query, status, ua
                )
            )

    def _next_fault(self, target: str) -> Fault | None:
        with self._lock:
            for pattern, queue in self._faults:
                if queue and pattern.search(target):
                    return queue.popleft()
            if self._chaos is not None:
                rate, make, rng = self._chaos
                if rng.random() < rate:
                    return make()
        return None

    def _respond(self, request: Request, host: str, path: str, ua: str) -> Response:
        if host in SEC_HOSTS:
            return self._sec(request, host, path, ua)
        if host.endswith("yahoo.com"):
            return self._yahoo.respond(request, host, path, auth=self.yahoo_auth)
        return Response(b"unknown host", 404)

    # ---- SEC -----------------------------------------------------------------------------

    def _sec(self, request: Request, host: str, path: str, ua: str) -> Response:
        if self.require_user_agent and not _DECLARED_UA.search(ua):
            return Response(UNDECLARED_TOOL_PAGE, 403, media_type="text/html")
        if self.sec_max_rps is not None:
            now = request.state.arrived
            with self._lock:
                if now < self._sec_blocked_until:
                    return self._rate_page()
                window = self._sec_window
                while window and now - window[0] >= self.sec_window:
                    window.popleft()
                window.append(now)
                if len(window) > self.sec_max_rps:
                    self._sec_blocked_until = now + self.sec_block_seconds
                    return self._rate_page()
        file = self.root / "sec" / host / path.lstrip("/")
        if ".." in path.split("/"):
            return Response(b"bad path", 400)
        for candidate in (file, file.with_name(file.name + ".gz")):
            if candidate.is_file():
                return self._sec_file(request, candidate, path)
        if host == "www.sec.gov":
            body = read_fixture(self.root / "sec/errors/archives_full-index_2099_403.xml.gz")
            return Response(body, 403, media_type="application/xml")
        body = read_fixture(self.root / "sec/errors/submissions_CIK-000000001_404.xml.gz")
        return Response(body, 404, media_type="application/xml")

    def _rate_page(self) -> Response:
        return Response(
            read_fixture(self.root / "sec/errors/rate-exceeded.html.gz"), 403, media_type="text/html"
        )

    @staticmethod
    def _sec_file(request: Request, candidate: Path, path: str) -> Response:
        raw = candidate.read_bytes()
        headers = {"content-type": _content_type(path), "cache-control": "max-age=0"}
        etag = f'"{zlib.crc32(raw):08x}"'
        headers["etag"] = etag
        if request.headers.get("if-none-match") == etag:
            return Response(b"", 304, headers=headers)
        if candidate.suffix == ".gz" and "gzip" in request.headers.get("accept-encoding", ""):
            headers["content-encoding"] = "gzip"
            return Response(raw, 200, headers=headers)
        return Response(gzip.decompress(raw) if candidate.suffix == ".gz" else raw, 200, headers=headers)

    # ---- runner --------------------------------------------------------------------------

    def start(self) -> ReplayServer:
        """Serve on ``127.0.0.1`` on a free port in a background thread; sets :attr:`url`."""
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self, log_level="critical", access_log=False, lifespan="on")
        self._server = server = uvicorn.Server(config)
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()

            async def serve() -> None:
                task = loop.create_task(server.serve(sockets=[sock]))
                # uvicorn has no startup callback; its `started` flag is all there is.
                while not server.started and not task.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                started.set()
                await task

            loop.run_until_complete(serve())
            loop.close()

        self._thread = threading.Thread(target=run, name="acquire-replay", daemon=True)
        self._thread.start()
        if not started.wait(10) or not server.started:
            raise RuntimeError("replay server failed to start")
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)
        self._server = self._thread = None

    def __enter__(self) -> ReplayServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
