"""An independent model of client resolution, on the standard library's ipaddress.

Property tests compare the package against it; it favours clarity over speed.
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _reference_address(text: str) -> Address | None:
    """An independent model of one address, on the standard library's ipaddress."""
    if "%" in text or not text.isascii():  # ipaddress accepts zone ids
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _reference_port(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 5 and int(text) <= 65535


def _reference_hop(hop: str) -> Address | None:
    hop = hop.strip(" \t")
    if hop.startswith("["):
        inner, bracket, rest = hop[1:].partition("]")
        if not bracket or ":" not in inner:
            return None
        if rest and not (rest.startswith(":") and _reference_port(rest[1:])):
            return None
        hop = inner
    elif hop.count(":") == 1:
        hop, _, port = hop.partition(":")
        if not _reference_port(port):
            return None
    return _reference_address(hop)


def reference_client(
    remote_addr: str, hops: list[str], trusted_proxies: list[str]
) -> Address | None:
    """The client as nginx's realip (recursive) would pick it, short chains only."""
    trusted = [ipaddress.ip_network(network) for network in trusted_proxies]

    def is_trusted(address: Address) -> bool:
        return any(address in network for network in trusted)

    client = _reference_address(remote_addr)
    if client is None or not is_trusted(client) or not ",".join(hops):
        return client
    for index, hop in enumerate(reversed(hops)):
        parsed = _reference_hop(hop)
        if parsed is None or index == len(hops) - 1 or not is_trusted(parsed):
            return parsed
    raise AssertionError("unreachable: the left-most hop ends the walk")
