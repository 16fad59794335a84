"""Where the runtime switch lives: its URL, and a store per backend.

A backend is one module of this package and one line of ``BACKENDS``: it parses
its URLs (``location``) and opens a store (``open``) that reads the document,
writes it compare-and-set, and keeps the fleet's membership (``members``).
Nothing here imports a backend's client library until its URL is in use.
"""

from __future__ import annotations

import importlib
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

from envmaintenance.stores.base import (
    COMMAND_TIMEOUT_SECONDS,
    HISTORY_LENGTH,
    MAX_DOCUMENT_BYTES,
    PROCESS_TIMEOUT_SECONDS,
    Conflict,
    Member,
    Members,
    Store,
    StoreError,
    SwitchLocation,
    expected_url,
    redact_url,
)

__all__ = [
    "COMMAND_TIMEOUT_SECONDS",
    "HISTORY_LENGTH",
    "MAX_DOCUMENT_BYTES",
    "PROCESS_TIMEOUT_SECONDS",
    "Conflict",
    "Member",
    "Members",
    "Store",
    "StoreError",
    "SwitchLocation",
    "open_store",
    "parse_switch_url",
    "redact_url",
]

# URL scheme -> the module of this package that serves it (in the order the
# scheme error lists them).
BACKENDS = {
    "file": "file",
    "redis": "redis",
    "rediss": "redis",
    "redis+sentinel": "redis",
    "rediss+sentinel": "redis",
    "redis+cluster": "redis",
    "rediss+cluster": "redis",
}


class Backend(Protocol):
    def parse_location(self, text: str, parts: SplitResult) -> SwitchLocation: ...
    def connect(
        self, location: SwitchLocation, key: str, timeout_seconds: float
    ) -> Store: ...


def _backend(scheme: str) -> Backend:
    # A backend module is its own Backend.
    module: Backend = importlib.import_module(
        f"envmaintenance.stores.{BACKENDS[scheme]}"
    )
    return module


def parse_switch_url(raw: str) -> SwitchLocation | None:
    """MAINTENANCE_SWITCH_URL, validated by its backend; None when empty."""
    text = raw.strip()
    if not text:
        return None
    userinfo = text.partition("//")[2].rpartition("@")[0]
    if any(character in userinfo for character in "/?#"):
        # urlsplit would end the host there and find no password at all.
        raise ValueError(
            expected_url(
                text,
                "the user or password holds '/', '?' or '#'; percent-encode them "
                "(%2F, %3F, %23) or choose a password without them",
            )
        )
    try:
        parts = urlsplit(text)
    except ValueError:
        raise ValueError(expected_url(text, "it is not a URL")) from None
    if parts.scheme not in BACKENDS:
        schemes = ", ".join(BACKENDS)
        raise ValueError(expected_url(text, f"the scheme must be one of {schemes}"))
    return _backend(parts.scheme).parse_location(text, parts)


def open_store(
    location: SwitchLocation,
    key: str,
    timeout_seconds: float = PROCESS_TIMEOUT_SECONDS,
) -> Store:
    """The store at a location; each call to it gives up after the timeout."""
    return _backend(location.scheme).connect(location, key, timeout_seconds)
