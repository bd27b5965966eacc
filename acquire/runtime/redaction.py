"""What a tenant reads names the public upstreams, never the internal ones a worker talks to.

Workers may reach SEC and Yahoo through mirrors or proxies (``SEC_WWW_BASE_URL=
http://10.1.2.3:8080/sec``). Those URLs and host names end up in error messages ("SEC has no
http://10.1.2.3:8080/sec/Archives/...") and in item data (document URLs). Status records,
items, events, results and topic entries show the public URL instead
(``https://www.sec.gov/Archives/...``); the worker's log keeps the real one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TypeVar

import httpx
import pydantic_core
from pydantic import BaseModel

from acquire.settings import Settings

__all__ = ["UpstreamRedactor"]

T = TypeVar("T")

_UPSTREAM_URLS = ("sec_www_base_url", "sec_data_base_url", "yahoo_base_url", "yahoo_cookie_url")
#: Stands for an internal host shared by several upstreams (one mirror serving them all).
_SHARED_HOST = "upstream"


class UpstreamRedactor:
    """Replaces internal upstream URLs and hosts with public ones in tenant-visible values."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        # Longest first: a whole base URL before its host:port, and that before its bare host.
        self._pairs = sorted(pairs, key=lambda pair: -len(pair[0]))

    @classmethod
    def from_settings(cls, settings: Settings) -> UpstreamRedactor:
        """The replacements for every upstream URL setting that differs from its public default."""
        pairs: list[tuple[str, str]] = []
        public_of_host: dict[str, set[str]] = {}
        public_hosts: set[str] = set()
        for name in _UPSTREAM_URLS:
            internal, public = getattr(settings, name), str(Settings.model_fields[name].default)
            public_hosts.add(httpx.URL(public).host)
            if internal == public:
                continue
            pairs.append((internal, public))
            url = httpx.URL(internal)
            for text in (url.netloc.decode("ascii"), url.host):
                public_of_host.setdefault(text, set()).add(httpx.URL(public).host)
        for text, hosts in public_of_host.items():
            if text and text not in public_hosts:
                pairs.append((text, next(iter(hosts)) if len(hosts) == 1 else _SHARED_HOST))
        return cls(pairs)

    @property
    def active(self) -> bool:
        """Whether any upstream is internal (without one there is nothing to replace)."""
        return bool(self._pairs)

    def text(self, value: str) -> str:
        """``value`` with internal upstream URLs and hosts replaced by public ones."""
        for internal, public in self._pairs:
            value = value.replace(internal, public)
        return value

    def tree(self, value: T) -> T:
        """A model or JSON-like value (dicts, lists, models inside) with :meth:`text` applied
        to its strings; a model comes back as a model of the same class."""
        if not self._pairs:
            return value
        encoded = pydantic_core.to_json(value).decode()
        redacted = self.text(encoded)
        if redacted == encoded:
            return value
        # URLs and host names hold no character JSON escapes, so the text stays valid JSON.
        if isinstance(value, BaseModel):
            return type(value).model_validate_json(redacted)
        return json.loads(redacted)  # type: ignore[no-any-return]

    def error(self, error: tuple[str, str]) -> tuple[str, str]:
        """An ``(error_type, message)`` pair with the message redacted."""
        return error[0], self.text(error[1])

    def __repr__(self) -> str:
        return f"UpstreamRedactor({len(self._pairs)} replacements)"
