"""The SSRF guard for outgoing webhooks: only public addresses, checked once, connected to as checked.

A ``callback_url`` is chosen by a tenant, so delivering to it must not let that tenant reach
the worker's own network (Redis, the cloud metadata service at ``169.254.169.254``, admin
ports on ``localhost``). :func:`resolve_target` therefore

1. parses the URL strictly: ``http``/``https`` only, no credentials, no backslashes,
   whitespace or control characters (the inputs on which URL parsers disagree);
2. resolves the host **once** with ``loop.getaddrinfo`` and rejects the URL if *any* address
   is not publicly routable (:func:`blocked_reason`). Checking the resolved addresses, not
   the text, also covers the numeric spellings the resolver accepts (``2130706433``,
   ``0x7f000001``, ``0177.0.0.1`` are all ``127.0.0.1``) and names that resolve inward;
3. returns the checked addresses, and the caller connects to one of them (never to the name),
   sending the original ``Host`` header and TLS server name. A second resolution, which a
   DNS-rebinding attacker would answer differently, never happens.

IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by the IPv4 address they lead to (DNS64 gives
IPv4-only receivers NAT64 addresses on IPv6-only networks); IPv4-translated
``::ffff:0:a.b.c.d``, IPv4-compatible ``::a.b.c.d``, Teredo ``2001::/32`` and local-use NAT64
``64:ff9b:1::/48`` are refused outright.

``WEBHOOK_ALLOW_HOSTS`` (comma-separated host names and IPs/CIDRs) exempts destinations from
the address check, for intranet receivers and tests; the URL rules still apply.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from acquire.errors import PermanentError
from acquire.settings import AllowList

__all__ = [
    "AllowList",
    "DestinationBlockedError",
    "IPAddress",
    "Resolver",
    "Target",
    "blocked_reason",
    "parse_url",
    "resolve_target",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: ``(host, port) -> addresses``; the default is the event loop's ``getaddrinfo``.
Resolver = Callable[[str, int], Awaitable[Sequence[IPAddress]]]

MAX_URL_LENGTH = 2048
_NO_EXEMPTIONS = AllowList()
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters on which URL parsers disagree (WHATWG treats "\" as "/", others as data).
_SUSPICIOUS = re.compile(r"[\x00-\x20\x7f\\]")


def _nets(*cidrs: str) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(c) for c in cidrs)


# Checked in order; the first match names the reason. Anything not listed must still be
# `is_global` (the IANA special-purpose registries), so an omission here fails closed.
_BLOCKED: tuple[tuple[str, tuple[IPNetwork, ...]], ...] = (
    ("unspecified", _nets("0.0.0.0/8", "::/128")),
    ("loopback", _nets("127.0.0.0/8", "::1/128")),
    ("private", _nets("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7")),
    ("link-local (incl. cloud metadata)", _nets("169.254.0.0/16", "fe80::/10")),
    ("shared address space (CGNAT)", _nets("100.64.0.0/10")),
    ("multicast", _nets("224.0.0.0/4", "ff00::/8")),
    ("reserved or broadcast", _nets("240.0.0.0/4", "fec0::/10", "::/96", "100::/64")),
    # SIIT's IPv4-translated form (RFC 2765) is only meaningful inside a translator's domain.
    ("IPv4-translated", _nets("::ffff:0:0:0/96")),
    ("Teredo tunnel", _nets("2001::/32")),
    ("local-use NAT64", _nets("64:ff9b:1::/48")),
    (
        "documentation or benchmarking",
        _nets(
            "192.0.0.0/24",
            "192.0.2.0/24",
            "198.18.0.0/15",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "2001:db8::/32",
            "2001:2::/48",
        ),
    ),
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class DestinationBlockedError(PermanentError):
    """A webhook URL is malformed or leads to an address the SSRF guard refuses."""


def _embedded_v4(address: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | None:
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` must not be contacted, or ``None`` if it is publicly routable."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            form, v4 = embedded
            inner = blocked_reason(v4)
            return f"{form} {inner} address {v4}" if inner else None
        address = ipaddress.IPv6Address(int(address))  # drop a %zone suffix
    for reason, networks in _BLOCKED:
        if any(address in net for net in networks):
            return reason
    if not address.is_global:
        return "not globally routable"
    return None


@dataclass(frozen=True)
class Target:
    """A parsed webhook URL, and (after :func:`resolve_target`) the addresses it may use."""

    scheme: str
    host: str  # lower-case ASCII (IDNA), IPv6 without brackets
    port: int
    raw_path: bytes  # path and query, as sent
    addresses: tuple[IPAddress, ...] = ()

    @property
    def host_header(self) -> str:
        """The ``Host`` header the receiver expects (port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if _DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def redacted(self) -> str:
        """The URL without its query string (which may carry a receiver's token), for logs."""
        path = self.raw_path.split(b"?", 1)[0].decode("ascii", "replace")
        return f"{self.scheme}://{self.host_header}{path}"

    def url_for(self, address: IPAddress) -> httpx.URL:
        """The URL that connects to ``address`` itself, so nothing resolves the name again."""
        return httpx.URL(scheme=self.scheme, host=str(address), port=self.port, raw_path=self.raw_path)


def parse_url(url: str) -> Target:
    """Parse a webhook URL strictly; :class:`DestinationBlockedError` says what is wrong with it."""
    if len(url) > MAX_URL_LENGTH:
        raise DestinationBlockedError(f"callback_url is longer than {MAX_URL_LENGTH} characters")
    if _SUSPICIOUS.search(url):
        raise DestinationBlockedError("callback_url contains whitespace, control characters or a backslash")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise DestinationBlockedError(f"callback_url is not a valid URL: {exc}") from None
    if parsed.scheme not in _DEFAULT_PORTS:
        raise DestinationBlockedError("callback_url must use http or https")
    authority = url.split("://", 1)[-1].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if parsed.userinfo or "@" in authority:
        raise DestinationBlockedError("callback_url must not contain credentials (user:password@)")
    host = parsed.raw_host.decode("ascii").lower().rstrip(".")  # IDNA-encoded: safe in Host and DNS
    if not host:
        raise DestinationBlockedError("callback_url has no host")
    port = parsed.port or _DEFAULT_PORTS[parsed.scheme]
    return Target(parsed.scheme, host, port, parsed.raw_path or b"/")


async def _getaddrinfo(host: str, port: int) -> list[IPAddress]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: dict[IPAddress, None] = {}
    for family, *_, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault(ipaddress.ip_address(str(sockaddr[0])), None)
    return list(seen)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


async def resolve_target(
    url: str, allow: AllowList = _NO_EXEMPTIONS, *, resolver: Resolver | None = None
) -> Target:
    """Parse ``url``, resolve its host once and check every address (see the module docstring).

    Returns the :class:`Target` with the checked addresses to connect to. Raises
    :class:`DestinationBlockedError` for a bad URL or a refused address, and :class:`OSError`
    (``socket.gaierror``) when the name does not resolve, which is worth retrying.
    """
    target = parse_url(url)
    literal = _literal(target.host)
    if literal is not None:
        addresses: Sequence[IPAddress] = [literal]
    else:
        addresses = await (resolver or _getaddrinfo)(target.host, target.port)
        if not addresses:
            raise socket.gaierror(f"{target.host} has no IPv4 or IPv6 address")
    if not allow.exempts_host(target.host):
        for address in addresses:
            reason = None if allow.exempts_address(address) else blocked_reason(address)
            if reason is not None:
                raise DestinationBlockedError(
                    f"callback_url host {target.host!r} resolves to {address}, a {reason} address"
                )
    return Target(target.scheme, target.host, target.port, target.raw_path, tuple(addresses))
