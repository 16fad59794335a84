"""When maintenance is on: the switch, the scheduled window, and Retry-After."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime

from envmaintenance.conf import MAX_RETRY_AFTER_SECONDS, MaintenanceConfig

# The one seam tests replace to move time; per request it is a single call.
clock = time.time


@dataclass(frozen=True)
class MaintenanceState:
    """What templates see as ``maintenance``: enough to announce a window."""

    active: bool
    upcoming: bool
    starts_at: datetime | None
    ends_at: datetime | None
    source: str = "environment"  # or "switch": who decided
    read_only: bool = False  # only writes are stopped


class Schedule:
    """The switch and the window as timestamps, so a request costs a comparison."""

    __slots__ = ("_ends", "_forced", "_retry_after_seconds", "_starts", "config")

    def __init__(self, config: MaintenanceConfig) -> None:
        self.config = config
        self._forced = config.enabled
        self._starts = config.starts_at.timestamp() if config.starts_at else None
        self._ends = config.ends_at.timestamp() if config.ends_at else None
        self._retry_after_seconds = config.retry_after_seconds

    @property
    def forced(self) -> bool:
        """MAINTENANCE_MODE is on: active whatever the window says."""
        return self._forced

    @property
    def has_end(self) -> bool:
        return self._ends is not None

    def is_active(self, now: float) -> bool:
        if self._forced:
            return True
        if self._starts is None or now < self._starts:
            return False
        return self._ends is None or now < self._ends

    def may_be_active(self, now: float) -> bool:
        """Whether this process can still see maintenance at ``now`` or later."""
        if self._forced:
            return True
        return self._starts is not None and (self._ends is None or now < self._ends)

    def is_upcoming(self, now: float) -> bool:
        """A window starts later (whatever MAINTENANCE_MODE says now)."""
        return self._starts is not None and now < self._starts

    def retry_after_seconds(self, now: float) -> int:
        """Seconds until the announced end, rounded up and at most a week (longer
        503s make search engines drop pages); else the configured delay."""
        if self._ends is not None and now < self._ends:
            return min(math.ceil(self._ends - now), MAX_RETRY_AFTER_SECONDS)
        return self._retry_after_seconds

    def retry_after_if_blocked(self, now: float) -> int:
        """What a blocked request gets now; the configured delay while inactive."""
        if self.is_active(now):
            return self.retry_after_seconds(now)
        return self._retry_after_seconds

    def state(self, now: float) -> MaintenanceState:
        return MaintenanceState(
            active=self.is_active(now),
            upcoming=self.is_upcoming(now),
            starts_at=self.config.starts_at,
            ends_at=self.config.ends_at,
            read_only=self.config.read_only,
        )

    def describe(self, now: float) -> str:
        """on / scheduled / upcoming / off, as ``manage.py maintenance`` prints it."""
        if self._forced:
            return "on"
        if self.is_active(now):
            return "scheduled"
        if self.is_upcoming(now):
            return "upcoming"
        return "off"


def describe_window(config: MaintenanceConfig) -> str:
    """'start → end' as logs and the command print it."""
    starts = "now" if config.starts_at is None else config.starts_at.isoformat()
    ends = "no end set" if config.ends_at is None else config.ends_at.isoformat()
    return f"{starts} → {ends}"
