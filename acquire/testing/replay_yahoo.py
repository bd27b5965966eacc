"""The Yahoo Finance half of :class:`~acquire.testing.replay.ReplayServer`: recorded exchanges and
Yahoo's session (the ``fc.yahoo.com`` cookie, getcrumb, the crumb on data requests)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["Recording", "YahooReplay", "read_fixture"]


def read_fixture(path: Path) -> bytes:
    """A recording file's bytes (``.gz`` files gunzipped)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


@dataclass(frozen=True)
class Recording:
    """One recorded answer."""

    status: int
    headers: dict[str, str]
    body: bytes
    gzipped: bool = False
    #: ``Set-Cookie`` values, sent as separate headers (they cannot be folded into one).
    cookies: tuple[str, ...] = ()


_Exchange = tuple[str, str, str, dict[str, str], Recording]  # method, host, path, query, answer


class YahooReplay:
    """Answers Yahoo requests from the exchanges recorded under ``<root>/yahoo``."""

    def __init__(self, root: Path) -> None:
        self._exchanges = self._load(root)
        self._crumb, self._cookie = self._credentials()

    @staticmethod
    def _load(root: Path) -> list[_Exchange]:
        exchanges = []
        folder = root / "yahoo"
        for file in sorted(folder.glob("*.json*")) if folder.is_dir() else []:
            data = json.loads(read_fixture(file))
            req, resp = data["request"], data["response"]
            url = urlsplit(req["url"])
            query = {k: v for k, v in parse_qsl(url.query) if k != "crumb"}
            if "bodyJson" in resp:
                body = json.dumps(resp["bodyJson"]).encode()
            else:
                body = str(resp.get("bodyText", "")).encode()
            headers = {
                k: v for k, v in resp.get("headers", {}).items() if k.lower() in ("content-type", "location")
            }
            cookies = resp.get("headers", {}).get("set-cookie", [])
            cookies = (cookies,) if isinstance(cookies, str) else tuple(cookies)
            rec = Recording(int(resp["status"]), headers, body, cookies=cookies)
            exchanges.append((req.get("method", "GET"), url.netloc, url.path, query, rec))
        return exchanges

    def _credentials(self) -> tuple[str, str]:
        """The crumb getcrumb answers and the ``A3`` cookie Yahoo issues, from the recordings."""
        crumb = cookie = ""
        for _method, _host, path, _query, rec in self._exchanges:
            if path == "/v1/test/getcrumb" and rec.status == 200:
                crumb = rec.body.decode().strip()
            for value in rec.cookies:
                if value.startswith("A3="):
                    cookie = value.split(";", 1)[0]
        return crumb, cookie

    def _auth_failure(self, request: Request, path: str) -> Response | None:
        cookies = request.headers.get("cookie", "")
        has_cookie = bool(self._cookie) and self._cookie in cookies.split("; ")
        if path == "/v1/test/getcrumb":
            if has_cookie:
                return None
            description = "Invalid Cookie"
        elif path.startswith(("/v10/finance/quoteSummary/", "/v7/finance/quote")):
            if has_cookie and request.query_params.get("crumb") == self._crumb:
                return None
            description = "Invalid Crumb" if has_cookie else "Invalid Cookie"
        else:
            return None
        body = {"finance": {"result": None, "error": {"code": "Unauthorized", "description": description}}}
        return Response(json.dumps(body).encode(), 401, media_type="application/json")

    def _cookie_host(self) -> Response:
        # fc.yahoo.com has no page: it answers 404 and sets the session cookie on the way.
        response = Response(b"Not Found", 404, media_type="text/html")
        if self._cookie:
            attributes = "Max-Age=31536000; Domain=.yahoo.com; Path=/; SameSite=None; Secure; HttpOnly"
            response.raw_headers.append((b"set-cookie", f"{self._cookie}; {attributes}".encode()))
        return response

    @staticmethod
    def _modules_bonus(query: dict[str, str], rec_query: dict[str, str]) -> int:
        # quoteSummary: a recording holding every requested module beats one that does not.
        wanted, held = query.get("modules"), rec_query.get("modules")
        if wanted is None or held is None:
            return 0
        return 1 if set(wanted.split(",")) <= set(held.split(",")) else 0

    def respond(self, request: Request, host: str, path: str, *, auth: bool) -> Response:
        """The recorded answer to a request for ``host``/``path`` (``auth``: check cookie and crumb)."""
        if host == "fc.yahoo.com":
            return self._cookie_host()
        if auth:
            failure = self._auth_failure(request, path)
            if failure is not None:
                return failure
        query = {k: v for k, v in request.query_params.items() if k != "crumb"}
        best: tuple[int, Recording] | None = None
        for method, rec_host, rec_path, rec_query, rec in self._exchanges:
            if method != request.method or rec_path != path:
                continue
            # Prefer the recording whose query agrees with the request on most parameters.
            score = sum(1 for k, v in query.items() if rec_query.get(k) == v) - len(
                set(rec_query) ^ set(query)
            )
            score += 1000 if rec_host == host else 0
            score += self._modules_bonus(query, rec_query)
            if best is None or score > best[0]:
                best = (score, rec)
        if best is None:
            return Response(b'{"error": "no recording for this request"}', 404, media_type="application/json")
        rec = best[1]
        response = Response(rec.body, rec.status, headers=rec.headers)
        response.raw_headers.extend((b"set-cookie", c.encode("latin-1")) for c in rec.cookies)
        return response
