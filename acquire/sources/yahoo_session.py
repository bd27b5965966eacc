"""The Yahoo session (cookie + crumb) shared by every worker, and the consent-flow helpers.

Split from :mod:`acquire.sources.yahoo`, which re-exports the public names.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acquire import keys

__all__ = [
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionStore",
    "UrlRewriter",
    "YahooSession",
    "mirror_rewriter",
]

#: Maps a real Yahoo URL to the URL actually fetched.
UrlRewriter = Callable[[str], str]
_SESSION_COOKIES = frozenset({"A3", "A1"})
_CRUMB = re.compile(r"^[^\s<>{}\"']{1,128}$")

log = logging.getLogger("acquire.sources.yahoo")


# ---- the shared session ----------------------------------------------------------------------


class YahooSession(BaseModel):
    """A cookie header and the crumb Yahoo issued for it. Both are credentials: never logged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cookie: str = Field(min_length=1, max_length=16_384, repr=False)
    crumb: str = Field(min_length=1, max_length=128, pattern=_CRUMB.pattern, repr=False)
    obtained_at: datetime


class SessionStore(Protocol):
    """Where the fleet keeps the current :class:`YahooSession`."""

    async def load(self) -> YahooSession | None:
        """The stored session, or ``None`` (absent, expired or unreadable)."""

    async def save(self, session: YahooSession) -> None:
        """Replace the stored session."""


class MemorySessionStore:
    """A session store for one process (scripts, or a client without Redis)."""

    def __init__(self) -> None:
        self._session: YahooSession | None = None

    async def load(self) -> YahooSession | None:
        return self._session

    async def save(self, session: YahooSession) -> None:
        self._session = session


class RedisSessionStore:
    """The session in a Redis hash (``keys.yahoo_session()``), shared by every worker.

    ``ttl`` bounds how long a session is reused without Yahoo rejecting it first; the cookie
    lives a year, but a day-old crumb costs one extra getcrumb at most.
    """

    def __init__(self, redis: aioredis.Redis, *, ttl: int = 86_400) -> None:
        if ttl < 1:
            raise ValueError(f"ttl must be >= 1 second, got {ttl!r}")
        self._redis = redis
        self._ttl = ttl
        self._key = keys.yahoo_session()

    async def load(self) -> YahooSession | None:
        raw: Mapping[Any, Any] = await self._redis.hgetall(self._key)  # type: ignore[misc]
        if not raw:
            return None
        fields = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in raw.items()}  # fmt: skip
        try:
            return YahooSession.model_validate(fields)
        except ValidationError as exc:
            # Written by hand or by an older version: ignore it, a fresh one replaces it.
            log.warning("ignoring malformed Yahoo session in Redis: %s", exc.errors()[0]["msg"])
            return None

    async def save(self, session: YahooSession) -> None:
        mapping = {"cookie": session.cookie, "crumb": session.crumb,
                   "obtained_at": session.obtained_at.isoformat()}  # fmt: skip
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key)
            pipe.hset(self._key, mapping=mapping)
            pipe.expire(self._key, self._ttl)
            await pipe.execute()


# ---- URL rewriting ---------------------------------------------------------------------------


def mirror_rewriter(root: str) -> UrlRewriter:
    """Rewrite ``https://{host}/{path}?{query}`` to ``{root}/{host}/{path}?{query}``."""
    root = root.rstrip("/")

    def rewrite(url: str) -> str:
        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return f"{root}/{parts.netloc}{parts.path or '/'}{query}"

    return rewrite


def _mirror_root(base_url: str) -> str | None:
    # ".../query2.finance.yahoo.com" on a host that is not Yahoo: a {root}/{host}/... mirror.
    parts = urlsplit(base_url)
    head, _, last = parts.path.rstrip("/").rpartition("/")
    if last.endswith("yahoo.com") and not parts.netloc.endswith("yahoo.com"):
        return f"{parts.scheme}://{parts.netloc}{head}"
    return None


# ---- cookies and the consent form ------------------------------------------------------------


class _Jar:
    """Cookies collected during the dance. Domains are not matched (every host involved is
    Yahoo's); the session keeps only the cookies Yahoo scopes to all of ``yahoo.com``."""

    def __init__(self) -> None:
        self._cookies: dict[str, tuple[str, str | None]] = {}

    def update(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            pair, *attributes = (part.strip() for part in header.split(";"))
            name, sep, value = pair.partition("=")
            if not sep or not name:
                continue
            domain = next((a.partition("=")[2].strip().lstrip(".").lower() for a in attributes
                           if a.lower().startswith("domain=")), None)  # fmt: skip
            expired = any(a.lower() in ("max-age=0", "max-age=-1") for a in attributes)
            if expired or not value:
                self._cookies.pop(name, None)
            else:
                self._cookies[name] = (value, domain)

    def __bool__(self) -> bool:
        return bool(self._cookies)

    def has_session_cookie(self) -> bool:
        return not _SESSION_COOKIES.isdisjoint(self._cookies)

    def header(self, *, site_wide_only: bool = False) -> str:
        return "; ".join(
            f"{name}={value}" for name, (value, domain) in self._cookies.items()
            if not site_wide_only or domain in (None, "yahoo.com")
        )  # fmt: skip


class _ConsentForm(HTMLParser):
    """The hidden fields of the consent page's form (csrfToken, sessionId, ...)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: list[tuple[str, str]] = []
        self._in_form = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        if tag == "form" and attr.get("method", "").lower() == "post" and self.action is None:
            self._in_form, self.action = True, attr.get("action", "")
        elif tag == "input" and self._in_form and attr.get("type") == "hidden" and attr.get("name"):
            self.fields.append((attr["name"], attr.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._in_form = False

    @classmethod
    def find(cls, html: str) -> _ConsentForm | None:
        parser = cls()
        parser.feed(html)
        names = {name for name, _ in parser.fields}
        return parser if {"csrfToken", "sessionId"} <= names else None
