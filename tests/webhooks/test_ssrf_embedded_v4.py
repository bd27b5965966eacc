"""Every IPv6 form that carries an IPv4 address is refused when it leads inward (the guard
only: literal addresses, nothing resolved, no traffic sent)."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acquire.webhooks.ssrf import DestinationBlockedError, IPAddress, blocked_reason, resolve_target

_INWARD_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"]  # fmt: skip


def _v6(value: int) -> ipaddress.IPv6Address:
    return ipaddress.IPv6Address(value)


#: How each form wraps an IPv4 address ``v`` (an int).
WRAPPINGS = {
    "IPv4-mapped ::ffff:a.b.c.d": lambda v: _v6(0xFFFF << 32 | v),
    "IPv4-translated ::ffff:0:a.b.c.d": lambda v: _v6(0xFFFF << 48 | v),
    "IPv4-compatible ::a.b.c.d": lambda v: _v6(v),
    "NAT64 64:ff9b::/96": lambda v: _v6(0x0064FF9B << 96 | v),
    "local-use NAT64 64:ff9b:1::/48": lambda v: _v6(0x0064FF9B0001 << 80 | v),
    "6to4 2002::/16": lambda v: _v6(0x2002 << 112 | v << 80),
    # Teredo carries the server's IPv4 in bits 32-63 and the client's, inverted, in the last 32.
    "Teredo server 2001::/32": lambda v: _v6(0x20010000 << 96 | v << 64 | 0xFFFFFFFF),
    "Teredo client 2001::/32": lambda v: _v6(0x20010000 << 96 | 0x08080808 << 64 | (v ^ 0xFFFFFFFF)),
}


@st.composite
def inward_v4(draw: st.DrawFn) -> int:
    net = ipaddress.IPv4Network(draw(st.sampled_from(_INWARD_V4)))
    return int(net[draw(st.integers(0, net.num_addresses - 1))])


@given(inward_v4(), st.sampled_from(sorted(WRAPPINGS)))
def test_inward_ipv4_is_refused_in_every_ipv6_wrapping(v4: int, form: str) -> None:
    address: IPAddress = WRAPPINGS[form](v4)
    assert blocked_reason(address) is not None, (form, address)


@pytest.mark.parametrize(
    ("url", "reason"),
    [("http://[::ffff:0:7f00:1]/", "IPv4-translated"), ("http://[::ffff:0:a9fe:a9fe]/", "IPv4-translated"),
     ("http://[::ffff:0:127.0.0.1]:8080/x", "IPv4-translated"),
     ("http://[::ffff:0:808:808]/", "IPv4-translated"),
     ("http://[::7f00:1]/", "reserved"), ("http://[::ffff:a9fe:a9fe]/", "IPv4-mapped link-local"),
     ("http://[64:ff9b::a00:1]/", "NAT64 private"), ("http://[2002:c0a8:101::1]/", "6to4 private")],
)  # fmt: skip
async def test_embedded_ipv4_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(DestinationBlockedError, match=reason):
        await resolve_target(url)


@pytest.mark.parametrize("address", ["::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"])
def test_forms_a_public_ipv4_is_reached_by_still_pass(address: str) -> None:
    # DNS64 answers IPv4-only hosts with 64:ff9b::/96 on IPv6-only networks: refusing the
    # public ones would break every webhook there.
    assert blocked_reason(ipaddress.ip_address(address)) is None
