"""The SSRF guard: every inward destination is refused before a byte is sent.

Each blocked case points at a live receiver's port where it could reach one, and asserts the
receiver saw nothing; positive controls (the same spellings with an allow-list) prove those
URLs would otherwise have arrived.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acquire.errors import ConfigurationError
from acquire.settings import Settings
from acquire.webhooks import build_message
from acquire.webhooks.delivery import WebhookAttempt, WebhookOutcome, deliver
from acquire.webhooks.ssrf import (
    AllowList,
    DestinationBlockedError,
    IPAddress,
    Resolver,
    blocked_reason,
    parse_url,
    resolve_target,
)
from tests.support.webhooks import JOB_ID, Receiver, hook_settings


async def send(url: str, settings: Settings, *, resolver: Resolver | None = None) -> WebhookAttempt:
    msg = build_message(JOB_ID, "completed", {"n": 1}, settings=settings)
    return await deliver(msg, url, settings=settings, attempt=1, resolver=resolver)


def error_of(record: WebhookAttempt) -> str:
    assert record.error is not None, record
    return record.error


LOOPBACK_FORMS = {ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::ffff:127.0.0.1")}
BLOCKED_HOSTS = [
    ("127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),
    ("100.64.0.1", "CGNAT"),
    ("224.0.0.1", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("[::1]", "loopback"),
    ("[::ffff:127.0.0.1]", "IPv4-mapped loopback"),
    ("[64:ff9b::7f00:1]", "NAT64 loopback"),
    ("[2002:7f00:1::]", "6to4 loopback"),
    ("[fe80::1]", "link-local"),
    ("[fd00::1]", "private"),
    ("2130706433", "loopback"),  # decimal 127.0.0.1, resolved by getaddrinfo
    ("0x7f000001", "loopback"),  # hex
    ("127.1", "loopback"),  # short form
    ("localhost", "loopback"),  # a name that resolves inward
]


@pytest.mark.parametrize(("host", "reason"), BLOCKED_HOSTS)
async def test_inward_destinations_are_blocked_and_never_reached(
    receiver: Receiver, host: str, reason: str
) -> None:
    settings = hook_settings(allow="")
    record = await send(f"http://{host}:{receiver.port}/hook", settings)
    assert record.outcome == WebhookOutcome.GAVE_UP
    assert record.status_code is None and record.address is None
    assert error_of(record).startswith("blocked:") and reason in error_of(record)
    assert receiver.requests == []


async def test_octal_form_is_rejected_as_a_url() -> None:
    # httpx refuses 0177.0.0.1 outright; getaddrinfo would have made it 127.0.0.1.
    with pytest.raises(DestinationBlockedError, match="not a valid URL"):
        await resolve_target("http://0177.0.0.1/")


@pytest.mark.parametrize(
    ("host", "allow"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.0/8"),
        ("0x7f000001", "127.0.0.1/32"),
        ("localhost", "localhost"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
    ],
)
async def test_allow_list_exempts_hosts_and_cidrs(receiver: Receiver, host: str, allow: str) -> None:
    # The positive control for the test above: these spellings do reach 127.0.0.1.
    record = await send(f"http://{host}:{receiver.port}/hook", hook_settings(allow=allow))
    assert record.outcome == WebhookOutcome.DELIVERED, record.error
    assert record.address is not None
    assert ipaddress.ip_address(record.address) in LOOPBACK_FORMS
    [seen] = receiver.requests
    assert seen.headers["host"] == f"{host}:{receiver.port}"


async def test_redirect_to_metadata_is_not_followed(receiver: Receiver) -> None:
    receiver.answer(302, {"location": "http://169.254.169.254/latest/meta-data/"})
    record = await send(f"{receiver.url}/hook", hook_settings())
    assert record.status_code == 302 and record.outcome == WebhookOutcome.RETRY
    assert "169.254.169.254" in error_of(record) and "not followed" in error_of(record)
    assert len(receiver.requests) == 1


class CountingResolver:
    """A DNS stand-in whose answers change between calls, as a rebinding attacker's would."""

    def __init__(self, *answers: Sequence[str]) -> None:
        self.answers = [[ipaddress.ip_address(a) for a in answer] for answer in answers]
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append((host, port))
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


async def test_connects_to_the_checked_address_without_resolving_again(receiver: Receiver) -> None:
    # First answer allowed, any later one internal: a second lookup would go elsewhere (or
    # fail, since hook.invalid does not exist), so delivery proves the checked IP was used.
    resolver = CountingResolver(["127.0.0.1"], ["10.0.0.1"])
    settings = hook_settings(allow="127.0.0.1/32")
    record = await send(f"http://hook.invalid:{receiver.port}/p?q=1", settings, resolver=resolver)
    assert record.outcome == WebhookOutcome.DELIVERED, record.error
    assert resolver.calls == [("hook.invalid", receiver.port)]
    [seen] = receiver.requests
    assert seen.headers["host"] == f"hook.invalid:{receiver.port}" and seen.target == "/p?q=1"


async def test_any_internal_address_blocks_the_name(receiver: Receiver) -> None:
    resolver = CountingResolver(["93.184.215.14", "127.0.0.1"])
    record = await send(f"http://hook.invalid:{receiver.port}/", hook_settings(allow=""), resolver=resolver)
    assert record.outcome == WebhookOutcome.GAVE_UP and "127.0.0.1" in error_of(record)
    assert receiver.requests == []


async def test_next_checked_address_is_tried_when_one_refuses(receiver: Receiver) -> None:
    resolver = CountingResolver(["127.0.0.2", "127.0.0.1"])  # nothing listens on 127.0.0.2
    record = await send(
        f"http://hook.invalid:{receiver.port}/", hook_settings(allow="127.0.0.0/8"), resolver=resolver
    )
    assert record.outcome == WebhookOutcome.DELIVERED and record.address == "127.0.0.1"
    assert len(receiver.requests) == 1


async def test_https_uses_the_host_name_for_sni_while_connecting_to_the_ip(tmp_path: Path) -> None:
    # A TLS server with a self-signed certificate records the SNI name the client sends.
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=hook.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        names.append(name)

    context.sni_callback = record_sni

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()  # never reached: the client rejects the certificate first

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    try:
        resolver = CountingResolver(["127.0.0.1"])
        record = await send(f"https://hook.test:{port}/", hook_settings(allow="127.0.0.1"), resolver=resolver)
    finally:
        server.close()
    # Our client does not trust the self-signed certificate: the attempt fails, but only after
    # the server saw the real host name, never the IP.
    assert names == ["hook.test"]
    assert record.outcome == WebhookOutcome.RETRY and "CERTIFICATE_VERIFY_FAILED" in error_of(record)


# ---- address classification --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("255.255.255.255", "reserved"),
        ("240.0.0.1", "reserved"),
        ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("fe80::1%eth0", "link-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo"),
        ("64:ff9b:1::a00:1", "local-use NAT64"),
        ("::ffff:10.1.2.3", "IPv4-mapped private"),
        ("64:ff9b::a9fe:a9fe", "NAT64 link-local"),
        ("::7f00:1", "reserved"),
    ],
)
def test_blocked_reasons(address: str, reason: str) -> None:
    found = blocked_reason(ipaddress.ip_address(address))
    assert found is not None and reason in found


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) is None


_INWARD_V4 = [
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "224.0.0.0/4",
    "240.0.0.0/4",
]


@st.composite
def inward_v4(draw: st.DrawFn) -> ipaddress.IPv4Address:
    net = ipaddress.IPv4Network(draw(st.sampled_from(_INWARD_V4)))
    return net[draw(st.integers(0, net.num_addresses - 1))]


@given(inward_v4(), st.sampled_from(["plain", "mapped", "nat64", "6to4"]))
def test_inward_ipv4_is_blocked_in_every_wrapping(v4: ipaddress.IPv4Address, form: str) -> None:
    forms: dict[str, IPAddress] = {
        "plain": v4,
        "mapped": ipaddress.IPv6Address(0xFFFF << 32 | int(v4)),
        "nat64": ipaddress.IPv6Address(0x0064FF9B << 96 | int(v4)),
        "6to4": ipaddress.IPv6Address(0x2002 << 112 | int(v4) << 80),
    }
    assert blocked_reason(forms[form]) is not None


# ---- URL rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/", "http or https"),
        ("file:///etc/passwd", "http or https"),
        ("http://user:pass@example.com/", "credentials"),
        ("http://@example.com/", "credentials"),
        ("http://example.com\\@127.0.0.1/", "backslash"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/\r\nX-Injected: 1", "control"),
        ("http:///path", "no host"),
        ("http://example.com/" + "a" * 2100, "longer than"),
        ("http://[::1/", "not a valid URL"),
    ],
)
def test_bad_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(DestinationBlockedError, match=message):
        parse_url(url)


async def test_bad_url_gives_up_without_a_request() -> None:
    record = await send("http://user:pw@example.com/", hook_settings(allow="example.com"))
    assert record.outcome == WebhookOutcome.GAVE_UP and "credentials" in error_of(record)
    assert record.url == "<invalid URL>"


def test_target_keeps_path_query_and_default_port() -> None:
    target = parse_url("HTTPS://Hooks.Example.COM./a/b?x=1&y=%20")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert target.raw_path == b"/a/b?x=1&y=%20" and target.host_header == "hooks.example.com"
    assert target.redacted == "https://hooks.example.com/a/b"
    assert parse_url("http://bücher.example/").host_header == "xn--bcher-kva.example"
    ipv6 = parse_url("http://[2001:db8::1]:8080/")
    assert ipv6.host_header == "[2001:db8::1]:8080"
    assert str(ipv6.url_for(ipaddress.ip_address("2001:db8::1"))) == "http://[2001:db8::1]:8080/"


def test_allow_list_parsing() -> None:
    allow = AllowList.parse(" Hooks.Internal. , 10.0.0.0/8,[fd00::1], 192.168.1.7 ,")
    assert allow.exempts_host("hooks.internal") and not allow.exempts_host("other.internal")
    assert allow.exempts_address(ipaddress.ip_address("10.9.8.7"))
    assert allow.exempts_address(ipaddress.ip_address("fd00::1"))
    assert allow.exempts_address(ipaddress.ip_address("192.168.1.7"))
    assert not allow.exempts_address(ipaddress.ip_address("192.168.1.8"))
    for bad in ("10.0.0.0/33", "bad host!", "http://x"):
        with pytest.raises(ConfigurationError, match="WEBHOOK_ALLOW_HOSTS"):
            AllowList.parse(bad)
