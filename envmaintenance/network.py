"""Addresses and networks: strict parsing in, a sorted range table out."""

from __future__ import annotations

import re
import socket
from bisect import bisect_right
from collections.abc import Iterable

import netaddr

# One integer space for both families: IPv4 addresses keep their value, IPv6
# addresses are shifted above it, so an IPv4-mapped client (::ffff:a.b.c.d)
# lands on its IPv4 key and one bisect serves both families.
_IPV6_OFFSET = 1 << 32
_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"

# netaddr's prefix parsing accepts "/08", "/+8", "/ 8" and Unicode digits; only
# the canonical ASCII form is allowed through to it.
_ENTRY_SYNTAX = re.compile(r"[0-9A-Fa-f:.]+(?:/(?:0|[1-9][0-9]{0,2}))?")
_NETMASK_SYNTAX = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# The last label of a name starts with a letter (RFC 1123: web, db-1, example.com);
# 0x0a000001 and 10.0.0.1a are broken addresses, not names.
_HOST_NAME_SYNTAX = re.compile(r"(?:[A-Za-z0-9-]+\.)*[A-Za-z][A-Za-z0-9-]*\.?")
_QUOTES = frozenset("\"'`")


class InvalidNetwork(ValueError):
    """An allowlist or proxy entry that is not a canonical address or CIDR block."""


def address_key(text: str) -> int | None:
    """Map an address string to its lookup key, or None if it is not one address.

    socket.inet_pton has netaddr's strictness (no leading zeros, shorthand,
    integers or zone ids) at a fifteenth of the cost, which matters per request.
    """
    try:
        if ":" not in text:
            return int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError, TypeError):  # ValueError: NUL or surrogates
        return None
    if packed[:12] == _MAPPED_PREFIX:
        return int.from_bytes(packed[12:], "big")
    return _IPV6_OFFSET + int.from_bytes(packed, "big")


def format_key(key: int) -> str:
    """The address text of a lookup key, for logs and messages."""
    if key < _IPV6_OFFSET:
        return socket.inet_ntop(socket.AF_INET, key.to_bytes(4, "big"))
    return socket.inet_ntop(socket.AF_INET6, (key - _IPV6_OFFSET).to_bytes(16, "big"))


def parse_network(entry: str) -> netaddr.IPNetwork:
    """Parse one address or CIDR block, refusing every ambiguous spelling."""
    if not _ENTRY_SYNTAX.fullmatch(entry):
        raise InvalidNetwork(_diagnose(entry))
    address_text, _, prefix_text = entry.partition("/")
    try:
        address = netaddr.IPAddress(address_text)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        raise InvalidNetwork(f"{entry!r} is not a valid IP address") from None
    if address.is_ipv4_mapped():
        if prefix_text:
            raise InvalidNetwork(
                f"{entry!r} mixes IPv6 and IPv4 notation; "
                f"write IPv4 networks as a.b.c.d/n"
            )
        address = address.ipv4()
    max_prefix = 32 if address.version == 4 else 128
    prefix = int(prefix_text) if prefix_text else max_prefix
    if prefix > max_prefix:
        raise InvalidNetwork(
            f"{entry!r} has prefix /{prefix}; IPv{address.version} allows 0 to "
            f"{max_prefix}"
        )
    # Built from integers: formatting and re-parsing a string costs twice as much
    # at start-up, which shows with 100,000 blocks.
    network = netaddr.IPNetwork((int(address), prefix), version=address.version)
    if int(address) & ((1 << (max_prefix - prefix)) - 1):
        raise InvalidNetwork(
            f"{entry!r} has host bits set; did you mean {network.cidr}?"
        )
    return network


def _diagnose(entry: str) -> str:
    """Say what is wrong with an entry that is not an address or block at all."""
    if entry[:1] in _QUOTES or entry[-1:] in _QUOTES:
        return f"{entry!r} is quoted; remove the quotes around the list"
    if ";" in entry:
        return f"{entry!r} holds ';'; separate entries with commas or spaces"
    address_text, slash, mask = entry.partition("/")
    if slash and _NETMASK_SYNTAX.fullmatch(mask):
        return _netmask_hint(entry, address_text, mask)
    if "%" in entry:
        return f"{entry!r} has a zone id; give the address without %..."
    if _HOST_NAME_SYNTAX.fullmatch(entry) and ":" not in entry:
        return f"{entry!r} is a host name; names are not resolved, give IP addresses"
    return (
        f"{entry!r} is not an IP address or CIDR block; "
        f"expected addresses like 192.0.2.1 or blocks like 10.0.0.0/8"
    )


def _netmask_hint(entry: str, address_text: str, mask: str) -> str:
    try:
        bits = netaddr.IPAddress(mask, version=4).netmask_bits()
        network = netaddr.IPNetwork(f"{address_text}/{bits}", version=4)
    except (netaddr.AddrFormatError, ValueError, TypeError):
        return f"{entry!r} has a netmask; write a prefix length like /24 instead"
    if str(network.netmask) != mask:  # 255.0.255.0 is no netmask
        return f"{entry!r} has an invalid netmask; write a prefix length like /24"
    return f"{entry!r} has a netmask; did you mean {network.cidr}?"


class NetworkSet:
    """An immutable set of networks with O(log n) membership.

    netaddr merges the blocks; lookups bisect the sorted starts of the merged
    ranges, so 20,000 blocks cost a few comparisons more than one.
    """

    __slots__ = ("_ends", "_starts", "cidrs")

    def __init__(self, networks: Iterable[netaddr.IPNetwork] = ()) -> None:
        # cidr_merge sorts IPv4 before IPv6, which is also the order of the keys.
        merged = netaddr.cidr_merge(list(networks))
        # Only strings and ints are kept: the garbage collector does not track
        # them, so 100,000 blocks add nothing to the collections every request
        # can trigger.
        self.cidrs = tuple(str(network) for network in merged)
        offsets = [_IPV6_OFFSET if network.version == 6 else 0 for network in merged]
        self._starts = tuple(
            n.first + off for n, off in zip(merged, offsets, strict=True)
        )
        self._ends = tuple(n.last + off for n, off in zip(merged, offsets, strict=True))

    @property
    def networks(self) -> tuple[netaddr.IPNetwork, ...]:
        """The merged blocks as netaddr objects, for checks and reports."""
        return tuple(netaddr.IPNetwork(cidr) for cidr in self.cidrs)

    def __bool__(self) -> bool:
        return bool(self.cidrs)

    def __len__(self) -> int:
        return len(self.cidrs)

    def __repr__(self) -> str:
        return f"NetworkSet({list(self.cidrs)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NetworkSet) and self.cidrs == other.cidrs

    def __hash__(self) -> int:
        return hash(self.cidrs)

    def contains_key(self, key: int) -> bool:
        index = bisect_right(self._starts, key) - 1
        return index >= 0 and key <= self._ends[index]

    def network_for(self, key: int) -> str | None:
        """The merged block holding ``key``, to explain a decision."""
        index = bisect_right(self._starts, key) - 1
        if index >= 0 and key <= self._ends[index]:
            return self.cidrs[index]
        return None

    def covers_everything(self) -> bool:
        return any(cidr.endswith("/0") for cidr in self.cidrs)
