"""Exempt path prefixes, matched on the normalised request path."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable


def normalise_path(path: str) -> str:
    """Resolve dot segments and repeated slashes, so /static/../admin is /admin."""
    if "/." not in path and "//" not in path:
        return path  # the common case costs two substring scans
    # normpath keeps a leading "//" (POSIX allows it a special meaning; URLs don't).
    return "/" + posixpath.normpath(path).lstrip("/")


def parse_exempt_path(entry: str) -> str:
    """Validate one configured prefix and return it without a trailing slash."""
    if not entry.startswith("/"):
        raise ValueError(f"{entry!r} is not a path; each must start with '/'")
    if "?" in entry or "#" in entry:
        raise ValueError(f"{entry!r} holds a query or fragment; give the path only")
    normalised = normalise_path(entry)
    if normalised.rstrip("/") != entry.rstrip("/"):
        raise ValueError(
            f"{entry!r} is not a normalised path; did you mean {normalised!r}?"
        )
    return entry.rstrip("/") or "/"


class ExemptPaths:
    """Prefixes served during maintenance: /healthz covers /healthz/x, not /healthzz."""

    __slots__ = ("_exact", "_prefixes", "prefixes")

    def __init__(self, prefixes: Iterable[str] = ()) -> None:
        self.prefixes = tuple(dict.fromkeys(prefixes))
        self._exact = frozenset(self.prefixes)
        self._prefixes = tuple(
            prefix if prefix == "/" else prefix + "/" for prefix in self.prefixes
        )

    def __bool__(self) -> bool:
        return bool(self.prefixes)

    def __repr__(self) -> str:
        return f"ExemptPaths({list(self.prefixes)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExemptPaths) and self.prefixes == other.prefixes

    def __hash__(self) -> int:
        return hash(self.prefixes)

    def matches(self, path: str) -> bool:
        path = normalise_path(path)
        return path in self._exact or path.startswith(self._prefixes)
