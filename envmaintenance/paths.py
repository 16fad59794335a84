"""Path prefixes (exempt paths, the maintenance scope), matched on the path
exactly as Django routes it."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

# What a literal path prefix is made of: RFC 3986 path characters, decoded (so
# letters of any script), without the ones a prefix never holds: "%" (paths
# arrive decoded), "?" and "#" (not path), "*" and "$" (no wildcards or
# anchors: a prefix is not a pattern) and "," (the list separator).
_PREFIX_SYNTAX = re.compile(r"[/\w.~!&'()+;=:@-]+")
_HOW_TO_WRITE = "prefixes only: /static/ covers /static/... and nothing else"


def is_normal_path(path: str) -> bool:
    """No empty, "." or ".." segment: Django routes it as the prefix match sees it.

    A trailing slash is allowed (/static/ is normal). Anything else is not
    resolved here: /x/../healthz reaches whatever view matches it as received,
    so it must be judged like any other request (issue: exempt-path bypass).
    """
    if "//" in path:
        return False
    if "/." not in path:
        return True  # the common case costs two substring scans
    return all(segment not in {".", ".."} for segment in path.split("/"))


def parse_path_prefix(entry: str) -> str:
    """Validate one configured prefix and return it without a trailing slash."""
    return validate_path_prefix(entry).rstrip("/") or "/"


def validate_path_prefix(entry: str) -> str:
    """One configured prefix as written, or ValueError saying how to write it."""
    if not entry.startswith("/"):
        raise ValueError(f"{entry!r} is not a path; each must start with '/'")
    if not _PREFIX_SYNTAX.fullmatch(entry):
        raise ValueError(
            f"{entry!r} holds characters a path prefix never has "
            f"(wildcards, queries, fragments or percent-encoding); {_HOW_TO_WRITE}"
        )
    if not is_normal_path(entry):
        normalised = "/" + posixpath.normpath(entry).lstrip("/")
        raise ValueError(
            f"{entry!r} is not a normalised path; did you mean {normalised!r}?"
        )
    return entry


class PathPrefixes:
    """Literal prefixes at segment boundaries: /healthz covers /healthz/x, not
    /healthzz."""

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
        return f"PathPrefixes({list(self.prefixes)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathPrefixes) and self.prefixes == other.prefixes

    def __hash__(self) -> int:
        return hash(self.prefixes)

    def matches(self, path: str) -> bool:
        """Under a prefix, and already normal: for exemptions, which let in."""
        return (
            path in self._exact or path.startswith(self._prefixes)
        ) and is_normal_path(path)


class PathScope:
    """Where maintenance applies (MAINTENANCE_PATHS): a stop, so it fails closed.

    A prefix covers every path that starts with it, segment boundary or not:
    /api/payments covers /api/payments.json (DRF's format suffixes) and
    /api/payments;jsessionid=1. A trailing slash marks a boundary: /api/ covers
    /api and what starts with /api/, not /apiary. A path that is not normal
    (/x/../checkout) may reach any view, so it is inside; and so is a path under
    a language prefix the site routes (i18n_patterns: /de/checkout/) whose rest
    is inside.
    """

    __slots__ = ("_bare", "prefixes")

    def __init__(self, prefixes: Iterable[str] = ()) -> None:
        self.prefixes = tuple(dict.fromkeys(prefixes))
        # /api/ covers /api itself too.
        self._bare = frozenset(
            p[:-1] for p in self.prefixes if p != "/" and p[-1] == "/"
        )

    def __bool__(self) -> bool:
        return bool(self.prefixes)

    def __repr__(self) -> str:
        return f"PathScope({list(self.prefixes)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PathScope) and self.prefixes == other.prefixes

    def __hash__(self) -> int:
        return hash(self.prefixes)

    def covers(self, path: str, languages: frozenset[str] = frozenset()) -> bool:
        """Whether ``path`` is inside; ``languages``: the lower-case codes the
        site's i18n_patterns may put in front of a path."""
        if self._starts_inside(path) or not is_normal_path(path):
            return True
        if languages:
            # /de/checkout/, /pt-BR/checkout/: i18n_patterns route them to the view
            # /checkout/ reaches (LocaleMiddleware reads the code in any case).
            code, slash, rest = path[1:].partition("/")
            if slash and code.lower() in languages:
                return self._starts_inside("/" + rest)
        return False

    def _starts_inside(self, path: str) -> bool:
        return path.startswith(self.prefixes) or path in self._bare
