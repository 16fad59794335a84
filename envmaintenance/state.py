"""What maintenance is now: the one State the environment or the switch decides,
and the clock it is judged by. Every output that says whether maintenance is
active, or how long to wait (the 503's Retry-After, the status endpoint, the
command, the start-up line, the page), asks a State; none works it out again."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from envmaintenance.hosts import HostScope
from envmaintenance.passes import Revocations
from envmaintenance.paths import PathScope

# The one seam tests replace to move time; per request it is a single call.
clock = time.time


def gettext_noop(text: str) -> str:
    """Marks text for makemessages. Django's own needs settings, and this module
    is imported without them (scripts/demo)."""
    return text


# A week: search engines start dropping pages that answer 503 for longer.
MAX_RETRY_AFTER_SECONDS = 604_800
DEFAULT_RETRY_AFTER_SECONDS = 3600
# Shown in the visitor's language when MAINTENANCE_MESSAGE is not set.
DEFAULT_MESSAGE = gettext_noop(
    "We are carrying out planned maintenance and will be back shortly."
)
_NO_NOTES: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class State:
    """The mode, the window, the message and read-only, and who decided them.

    The environment yields one at start-up; the runtime switch yields a new one
    for each document, with its revision. Judging it at a moment costs a
    comparison or two.
    """

    enabled: bool = False  # MAINTENANCE_MODE: on whatever the window says
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    message: str = DEFAULT_MESSAGE
    read_only: bool = False  # only writes are stopped
    # Where it applies (MAINTENANCE_PATHS, MAINTENANCE_HOSTS): empty, everywhere.
    paths: PathScope = field(default_factory=PathScope)
    hosts: HostScope = field(default_factory=HostScope)
    # Staff passes no longer valid (MAINTENANCE_REVOKED_PASSES): a way in closed.
    revoked_passes: Revocations = field(default_factory=Revocations)
    # MAINTENANCE_RETRY_AFTER: the wait a 503 asks for when no end is announced.
    default_retry_after: int = DEFAULT_RETRY_AFTER_SECONDS
    source: str = "environment"  # or "switch"
    revision: int = 0  # of the switch document in force; 0: none
    # Who, when and why (SET_BY, SET_AT, REASON): shown, never obeyed.
    notes: Mapping[str, str] = field(default_factory=lambda: _NO_NOTES, compare=False)
    _starts: float | None = field(init=False, repr=False, compare=False)
    _ends: float | None = field(init=False, repr=False, compare=False)
    # Before this moment the state stops nothing: per request, one comparison.
    quiet_until: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        starts, ends = self.starts_at, self.ends_at
        object.__setattr__(self, "_starts", starts.timestamp() if starts else None)
        object.__setattr__(self, "_ends", ends.timestamp() if ends else None)
        starts_or_never = math.inf if self._starts is None else self._starts
        quiet = -math.inf if self.enabled else starts_or_never
        object.__setattr__(self, "quiet_until", quiet)

    def is_active(self, now: float) -> bool:
        if now < self.quiet_until:  # the middleware's fast path asks this alone
            return False
        return self.enabled or self._ends is None or now < self._ends

    def may_be_active(self, now: float) -> bool:
        """Whether this state can still stop a request at ``now`` or later."""
        if self.enabled:
            return True
        return self._starts is not None and (self._ends is None or now < self._ends)

    def is_upcoming(self, now: float) -> bool:
        """A window starts later (whatever MAINTENANCE_MODE says now)."""
        return self._starts is not None and now < self._starts

    @property
    def active(self) -> bool:
        """Active now: for templates and tasks (``maintenance.active``)."""
        return self.is_active(clock())

    @property
    def upcoming(self) -> bool:
        return self.is_upcoming(clock())

    @property
    def has_end(self) -> bool:
        return self._ends is not None

    def retry_after(self, now: float) -> int:
        """Seconds a blocked client should wait: until the announced end,
        rounded up and at most a week (longer 503s make search engines drop
        pages); without one, or once it has passed, MAINTENANCE_RETRY_AFTER."""
        if self._ends is not None and now < self._ends:
            return min(math.ceil(self._ends - now), MAX_RETRY_AFTER_SECONDS)
        return self.default_retry_after

    def is_overdue(self, now: float) -> bool:
        """On past the end it announced (`--for`, `--until`, MAINTENANCE_ENDS_AT
        with MAINTENANCE_MODE=1): later than expected, and still on."""
        return self.enabled and self._ends is not None and now >= self._ends

    def describe(self, now: float) -> str:
        """on / scheduled / upcoming / off, as logs and the command say it."""
        if self.enabled:
            return "on"
        if self.is_active(now):
            return "scheduled"
        if self.is_upcoming(now):
            return "upcoming"
        return "off"

    def window(self) -> str:
        """'start → end' as logs and the command print it, or '' without one."""
        if self.starts_at is None and self.ends_at is None:
            return ""
        starts = "now" if self.starts_at is None else self.starts_at.isoformat()
        ends = "no end set" if self.ends_at is None else self.ends_at.isoformat()
        return f"{starts} → {ends}"

    def scope(self) -> str:
        """' for /checkout, /basket of shop.example.com', or '' for the whole site."""
        paths, hosts = ", ".join(self.paths.prefixes), ", ".join(self.hosts.hosts)
        if paths and hosts:
            return f" for {paths} of {hosts}"
        return f" for {paths or hosts}" if paths or hosts else ""

    def signed(self) -> str:
        """' by alice (reason: db upgrade)', as far as the notes tell."""
        by = f" by {self.notes['SET_BY']}" if "SET_BY" in self.notes else ""
        reason = f" (reason: {self.notes['REASON']})" if "REASON" in self.notes else ""
        return by + reason

    def as_json(self, now: float) -> dict[str, Any]:
        """The one JSON shape of a state: the status endpoint and the command.

        ``retry_after`` is what a blocked request gets now, null while inactive;
        ``retry_after_default`` is the configured delay beside it.
        """
        active = self.is_active(now)
        overdue = self.is_overdue(now)
        return {
            "state": self.describe(now),
            "active": active,
            "read_only": self.read_only,
            "paths": list(self.paths.prefixes),
            "hosts": list(self.hosts.hosts),
            "overdue": overdue,
            "overdue_since": _moment(self.ends_at) if overdue else None,
            "starts_at": _moment(self.starts_at),
            "ends_at": _moment(self.ends_at),
            "retry_after": self.retry_after(now) if active else None,
            "retry_after_default": self.default_retry_after,
            "message": self.message,
            "source": self.source,
            "revision": self.revision,
        }


def _moment(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
