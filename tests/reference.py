"""Property-test inputs built from what they mean, and the client they name.

The code under test parses text. This model never does: each hop is built from
an address and written in one of the forms proxies write (or in a spelling
known to be wrong), so the expected client follows from how the input was
made, not from reading it back with rules copied from the code.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from hypothesis import strategies as st

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

TRUSTED = [
    ipaddress.ip_network(block) for block in ("10.0.0.0/8", "2001:db8:ffff::/48")
]
ALLOWED = [
    ipaddress.ip_network(block) for block in ("198.51.100.0/24", "2001:db8::/32")
]


@dataclass(frozen=True)
class Written:
    """Text as a client or proxy sends it, and the address it names (or None)."""

    text: str
    address: Address | None


def _meaning(address: Address) -> Address:
    """IPv4-mapped IPv6 means the IPv4 address (the package's documented rule)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _addresses(*texts: str) -> st.SearchStrategy[Address]:
    return st.sampled_from([ipaddress.ip_address(text) for text in texts])


# Weighted towards proxies: chains of trusted hops are where walks go wrong.
PROXY_ADDRESSES = _addresses(
    "10.0.0.3", "10.9.9.9", "2001:db8:ffff::2", "::ffff:10.0.0.4"
)
ADDRESSES = st.one_of(
    PROXY_ADDRESSES,
    _addresses("198.51.100.7", "203.0.113.1", "2001:db8::1", "::ffff:198.51.100.9"),
    st.ip_addresses(),
)
PORTS = st.integers(min_value=0, max_value=65535)


@st.composite
def hops(draw: st.DrawFn) -> Written:
    """One X-Forwarded-For entry: a good form of an address, or a bad spelling."""
    address = draw(ADDRESSES)
    port = draw(PORTS)
    if address.version == 4:
        good = [f"{address}", f"{address}:{port}", f" {address}\t", f"::ffff:{address}"]
    else:
        good = [f"{address}", f"[{address}]", f"[{address}]:{port}"]
    bad = [
        "",
        "unknown",
        "_hidden",
        f"{address}/32",
        f"{address}%eth0",
        f"[{address}",
        f"{address}]",
        f"[{address}]{port}",
        f"{address}:{port + 65536}",
        f"{address}:",
        f"{int(address)}",
        f"{address}.7",
        f"{address}:+1",
    ]
    if draw(st.integers(0, 3)):
        return Written(draw(st.sampled_from(good)), _meaning(address))
    return Written(draw(st.sampled_from(bad)), None)


@st.composite
def peers(draw: st.DrawFn) -> Written:
    """REMOTE_ADDR: a plain address (often a proxy's), or something that is not one."""
    address = draw(st.one_of(PROXY_ADDRESSES, ADDRESSES))
    if draw(st.integers(0, 3)):
        return Written(str(address), _meaning(address))
    bad = ["", "garbage", f"[{address}]", f"{address}/8", f"{address}\x00"]
    if address.version == 4:
        bad.append(f"{address}:80")  # for IPv6, "::1:80" is an address
    return Written(draw(st.sampled_from(bad)), None)


def _in(
    address: Address, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    return any(address in network for network in networks)


def expected_client(peer: Written, chain: list[Written] | None) -> Address | None:
    """The client nginx's realip (recursive) names for this peer and chain."""
    if peer.address is None or not _in(peer.address, TRUSTED) or not chain:
        return peer.address
    if not ",".join(hop.text for hop in chain):
        return peer.address  # an empty header is no header
    for index, hop in enumerate(reversed(chain)):
        if (
            hop.address is None
            or index == len(chain) - 1
            or not _in(hop.address, TRUSTED)
        ):
            return hop.address
    raise AssertionError("unreachable: the left-most hop ends the walk")


def is_allowed(client: Address | None) -> bool:
    return client is not None and _in(client, ALLOWED)
