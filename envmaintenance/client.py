"""Who the client is: REMOTE_ADDR, or the forwarded hop trusted proxies vouch for."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from envmaintenance.network import NetworkSet, address_key

# Real chains have a handful of proxies. A longer run of trusted hops cannot
# come from a real deployment, and walking it would let a client buy CPU time
# with a long header, so it is treated as unresolvable.
MAX_TRUSTED_HOPS = 32
# "[" + the longest IPv6 text (45) + "]:" + a port, with room for spaces. Longer
# strings cannot be one address; refusing them early also keeps the caches small.
MAX_ADDRESS_LENGTH = 64
# The same few proxy addresses, and returning clients, come back on every
# request: parsing each distinct string once is most of the saving.
_CACHE_SIZE = 4096
# A visitor behind a CDN, a load balancer and nginx: well under this.
_CACHED_HEADER_LENGTH = 256


@dataclass(frozen=True)
class TrustedProxies:
    """The reverse proxies whose X-Forwarded-For hops are believed.

    ``unix_socket``: a peer without an address is one (nginx talking to the app
    over a unix socket leaves REMOTE_ADDR empty or absent), like nginx's
    ``set_real_ip_from unix:``.
    """

    networks: NetworkSet = field(default_factory=NetworkSet)
    unix_socket: bool = False

    def __bool__(self) -> bool:
        return self.unix_socket or bool(self.networks)

    def entries(self) -> list[str]:
        """As configured, merged: ``unix`` first, then the blocks."""
        return ["unix"] * self.unix_socket + list(self.networks.cidrs)


def hop_key(hop: str) -> int | None:
    """Parse one X-Forwarded-For hop as proxies write it, or None.

    Accepted: surrounding spaces, "[v6]", "[v6]:port", "a.b.c.d:port" and
    IPv4-mapped IPv6. Everything address_key refuses stays refused.
    """
    hop = hop.strip(" \t")
    if hop.startswith("["):
        inner, bracket, port = hop[1:].partition("]")
        if not bracket or ":" not in inner or (port and not _is_port(port, ":")):
            return None
        return address_key(inner)
    if hop.count(":") == 1:
        hop, _, port = hop.partition(":")
        if not _is_port(port, ""):
            return None
    return address_key(hop)


def _is_port(text: str, prefix: str) -> bool:
    digits = text[len(prefix) :]
    return (
        text.startswith(prefix)
        and 0 < len(digits) <= 5
        and digits.isascii()
        and digits.isdigit()
        and int(digits) <= 65535
    )


_cached_address_key = functools.lru_cache(maxsize=_CACHE_SIZE)(address_key)


def remote_addr_key(meta: Mapping[str, Any]) -> int | None:
    """Without trusted proxies, the client is REMOTE_ADDR, full stop."""
    remote_addr = meta.get("REMOTE_ADDR", "")
    if not isinstance(remote_addr, str) or len(remote_addr) > MAX_ADDRESS_LENGTH:
        return None
    return _cached_address_key(remote_addr)


class ProxiedClient:
    """The client behind trusted proxies, for one set of them.

    X-Forwarded-For is walked from the right, skipping trusted hops; the first
    untrusted hop is the client, or the left-most when all are trusted (nginx's
    realip with real_ip_recursive on, Rails' RemoteIp). Only the hops needed
    are looked at, so a long header costs no more than a short one. No other
    header is read: any client can set them.
    """

    def __init__(self, trusted: TrustedProxies) -> None:
        self.networks = trusted.networks
        self.unix_socket = trusted.unix_socket
        # The same visitor through the same proxies comes back request after
        # request: each distinct header is resolved once (bounded cache; longer
        # headers are walked every time).
        self._walk_cached = functools.lru_cache(maxsize=_CACHE_SIZE)(self._walk)

    def __call__(self, meta: Mapping[str, Any]) -> int | None:
        """The client's address key, or None when it cannot be told."""
        key = remote_addr_key(meta)
        if key is None:
            # Only a peer with no address at all is a unix-socket peer; one
            # with an unparseable address stays unknown.
            if not self.unix_socket or meta.get("REMOTE_ADDR"):
                return None
        elif not self.networks.contains_key(key):
            return key
        header = meta.get("HTTP_X_FORWARDED_FOR")
        if not header:
            return key
        if len(header) > _CACHED_HEADER_LENGTH:
            return self._walk(header)
        return self._walk_cached(header)

    def _walk(self, header: str) -> int | None:
        end = len(header)
        for _ in range(MAX_TRUSTED_HOPS):
            start = header.rfind(",", 0, end) + 1
            if end - start > MAX_ADDRESS_LENGTH:
                return None
            hop = hop_key(header[start:end])
            if hop is None or start == 0 or not self.networks.contains_key(hop):
                return hop
            end = start - 1
        return None
