"""Host names (MAINTENANCE_HOSTS): maintenance of one host or tenant, written as
ALLOWED_HOSTS writes them."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Labels of a host name, once in IDNA form: letters, digits and hyphens.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_NAME = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")


def parse_host(entry: str) -> str:
    """One configured host, lower case and in IDNA form (Bücher.example ->
    xn--bcher-kva.example), as a request's Host carries it; a leading dot keeps
    its meaning: the domain and every subdomain."""
    dot, name = ("." if entry.startswith(".") else ""), entry.lstrip(".").rstrip(".")
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        ascii_name = ""
    if not _NAME.fullmatch(ascii_name) or ":" in entry or "*" in entry:
        raise ValueError(
            f"{entry!r} is not a host name; expected names as ALLOWED_HOSTS writes "
            f"them, without a port: shop.example.com, or .example.com for the "
            f"domain and its subdomains"
        )
    return dot + ascii_name


class HostScope:
    """Where maintenance applies by host: exact names, and ``.domain`` for a
    domain and its subdomains. Empty: every host."""

    __slots__ = ("_exact", "_suffixes", "hosts")

    def __init__(self, hosts: Iterable[str] = ()) -> None:
        self.hosts = tuple(dict.fromkeys(hosts))
        self._exact = frozenset(h.lstrip(".") for h in self.hosts)
        self._suffixes = tuple(h for h in self.hosts if h.startswith("."))

    def __bool__(self) -> bool:
        return bool(self.hosts)

    def __repr__(self) -> str:
        return f"HostScope({list(self.hosts)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostScope) and self.hosts == other.hosts

    def __hash__(self) -> int:
        return hash(self.hosts)

    def covers(self, host: str | None) -> bool:
        """Whether a request's host (without its port, as the site sees it) is
        in scope. A host that cannot be told is in scope: a stop fails closed."""
        if host is None:
            return True
        name = host.lower().rstrip(".")
        return name in self._exact or name.endswith(self._suffixes)
