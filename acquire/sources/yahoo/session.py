"""The Yahoo session (cookie + crumb): how one is obtained, and how workers share it.

Split from :mod:`acquire.sources.yahoo.client` (the client, which re-exports the public names):
:func:`obtain_session` walks the cookie URL, else the consent chain, then getcrumb;
:class:`RedisSessionStore` shares the result with every worker.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from acquire.errors import PermanentError, RateLimitedError, TransientError
from acquire.http.client import Classifier, default_classifier
from acquire.store import keys

__all__ = [
    "Fetch",
    "MemorySessionStore",
    "RedisSessionStore",
    "SessionRejectedError",
    "SessionStore",
    "UrlRewriter",
    "YahooSession",
    "mirror_rewriter",
    "mirror_root",
    "obtain_session",
]

#: Maps a real Yahoo URL to the URL actually fetched.
UrlRewriter = Callable[[str], str]
_SESSION_COOKIES = frozenset({"A3", "A1"})
_CRUMB = re.compile(r"^[^\s<>{}\"']{1,128}$")

log = logging.getLogger("acquire.sources.yahoo.client")


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
        fields = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        try:
            return YahooSession.model_validate(fields)
        except ValidationError as exc:
            # Written by hand or by an older version: ignore it, a fresh one replaces it.
            log.warning("ignoring malformed Yahoo session in Redis: %s", exc.errors()[0]["msg"])
            return None

    async def save(self, session: YahooSession) -> None:
        mapping = {
            "cookie": session.cookie,
            "crumb": session.crumb,
            "obtained_at": session.obtained_at.isoformat(),
        }
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


def mirror_root(base_url: str) -> str | None:
    """The mirror's root when ``base_url`` is ``{root}/query2.finance.yahoo.com`` on a host
    that is not Yahoo (a ``{root}/{host}/...`` mirror, such as the replay server), else None."""
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
            domain = next(
                (
                    a.partition("=")[2].strip().lstrip(".").lower()
                    for a in attributes
                    if a.lower().startswith("domain=")
                ),
                None,
            )
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
            f"{name}={value}"
            for name, (value, domain) in self._cookies.items()
            if not site_wide_only or domain in (None, "yahoo.com")
        )


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


# ---- obtaining a session -------------------------------------------------------------------

_MAX_CONSENT_STEPS = 8
_HTML_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class SessionRejectedError(PermanentError):
    """401: the crumb or cookie is no longer valid (handled inside the client)."""


class Fetch(Protocol):
    """The client's rate-limited, retrying request function."""

    async def __call__(
        self,
        url: str,
        *,
        classify: Classifier,
        headers: Mapping[str, str] | None = None,
        method: str = "GET",
        content: bytes | None = None,
    ) -> httpx.Response: ...


def _lenient(response: httpx.Response) -> Exception | None:
    # Session pages: redirects and 404s (fc.yahoo.com) are answers; throttling is not.
    throttled = response.status_code == 429 or response.status_code >= 500
    return default_classifier(response) if throttled else None


def _crumb_classifier(response: httpx.Response) -> Exception | None:
    if response.status_code in (400, 401, 403, 404):
        return SessionRejectedError(f"getcrumb refused the cookie: HTTP {response.status_code}")
    return default_classifier(response)


async def obtain_session(
    fetch: Fetch, *, cookie_url: str, consent_url: str, crumb_url: str, rewrite: UrlRewriter
) -> YahooSession | None:
    """Cookie URL first, consent chain second; then getcrumb. ``None`` when both fail."""
    session: YahooSession | None = None
    jar = await _cookie_from_cookie_url(fetch, cookie_url)
    if jar:
        session = await _crumb_for(fetch, crumb_url, jar)
    if session is None:
        log.info("no Yahoo session from the cookie URL; trying the consent flow")
        jar = await _cookie_from_consent(fetch, consent_url, rewrite)
        session = await _crumb_for(fetch, crumb_url, jar) if jar else None
    return session


async def _cookie_from_cookie_url(fetch: Fetch, cookie_url: str) -> _Jar:
    jar = _Jar()
    try:
        response = await fetch(cookie_url, classify=_lenient, headers={"Accept": _HTML_ACCEPT})
    except RateLimitedError:
        raise
    except TransientError as exc:
        # fc.yahoo.com does not even resolve in some regions: the consent flow still works.
        log.info("Yahoo cookie URL unreachable (%s)", exc)
        return jar
    jar.update(response)
    return jar


async def _cookie_from_consent(fetch: Fetch, consent_url: str, rewrite: UrlRewriter) -> _Jar:
    jar = _Jar()
    url, method, content = consent_url, "GET", None
    for _ in range(_MAX_CONSENT_STEPS):
        headers = {"Accept": _HTML_ACCEPT}
        if jar:
            headers["Cookie"] = jar.header()
        if content is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = await fetch(
            rewrite(url), classify=_lenient, headers=headers, method=method, content=content
        )
        jar.update(response)
        if jar.has_session_cookie():
            return jar  # consent recorded; the final redirect back to the quote page is not needed
        location = response.headers.get("location")
        if response.is_redirect and location:
            url, method, content = urljoin(url, location), "GET", None
            continue
        form = _ConsentForm.find(response.text) if response.status_code == 200 else None
        if form is None:
            break
        # Same as clicking "Accept all" (the page's two agree buttons both post agree=agree).
        content = urlencode([*form.fields, ("agree", "agree"), ("agree", "agree")]).encode()
        url, method = urljoin(url, form.action or url), "POST"
    return jar


async def _crumb_for(fetch: Fetch, crumb_url: str, jar: _Jar) -> YahooSession | None:
    cookie = jar.header(site_wide_only=True)
    if not cookie:
        return None
    try:
        response = await fetch(
            crumb_url, classify=_crumb_classifier, headers={"Cookie": cookie, "Accept": "*/*"}
        )
    except SessionRejectedError as exc:
        log.info("%s", exc)
        return None
    crumb = response.text.strip()
    if not _CRUMB.fullmatch(crumb):
        log.info("getcrumb answered something that is not a crumb (%d characters)", len(crumb))
        return None
    return YahooSession(cookie=cookie, crumb=crumb, obtained_at=datetime.now(UTC))
