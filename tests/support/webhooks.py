"""A real HTTP receiver for outgoing webhooks, and the settings the webhook tests sign with."""

from __future__ import annotations

import asyncio
import base64
from collections import deque
from dataclasses import dataclass

import h11

from acquire.settings import Settings

SECRET_A = "whsec_" + base64.b64encode(b"A" * 24).decode()
SECRET_B = "whsec_" + base64.b64encode(b"B" * 32).decode()
SECRET_C = "whsec_" + base64.b64encode(b"C" * 32).decode()
JOB_ID = "AbCdEfGhIjKlMnOpQrSt_-"


@dataclass
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP/1.1 server on ``host``: records each request, answers from a queue (else 200)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.requests: list[Received] = []
        self.hold = asyncio.Event()  # set by default; clear it to keep requests hanging
        self.hold.set()
        self._answers: deque[tuple[int, dict[str, str]]] = deque()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def answer(self, status: int, headers: dict[str, str] | None = None) -> None:
        self._answers.append((status, headers or {}))

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = b""
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return  # connection closed or TLS bytes: not an HTTP request
            assert request is not None
            headers = {k.decode().lower(): v.decode() for k, v in request.headers}
            self.requests.append(Received(request.method.decode(), request.target.decode(), headers, body))
            await self.hold.wait()
            status, extra = self._answers.popleft() if self._answers else (200, {})
            reply = [*extra.items(), ("content-length", "0"), ("connection", "close")]
            writer.write(conn.send(h11.Response(status_code=status, headers=reply)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
        except (h11.RemoteProtocolError, ConnectionError):
            return
        finally:
            writer.close()


def hook_settings(secret: str = SECRET_A, allow: str = "127.0.0.1", **extra: object) -> Settings:
    values: dict[str, object] = {"webhook_timeout": 5.0, **extra}
    return Settings.model_validate({"webhook_secret": secret, "webhook_allow_hosts": allow, **values})
