"""The wait of `--wait`: until every member of the fleet serves a revision (or
a later one) and nothing it let in before is still being served.

A member that stopped reporting is behind, whatever its last report said; one
that rejected the revision fails the wait at once; a store that fails while
waiting is asked again until the time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from envmaintenance.fleet import SILENT_INTERVALS, Fleet, ProcessReport, read_fleet
from envmaintenance.stores import Store, StoreError

POLL_SECONDS = 0.2
# After a store error: 0.2 s, 0.4 s, 0.8 s, then every second.
MAX_BACKOFF_SECONDS = 1.0


class Silence:
    """When each member's report last changed, as this command saw it: a
    report that never changes is silent however it is dated."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, float]] = {}

    def is_silent(self, report: ProcessReport, now: float) -> bool:
        watched = time.monotonic()
        seq, since = self._seen.get(report.id, (-1, watched))
        if seq != report.seq:
            self._seen[report.id], since = (report.seq, watched), watched
        limit = SILENT_INTERVALS * report.interval
        return now - report.reported_at > limit or watched - since > limit


@dataclass(frozen=True)
class Progress:
    """Where each member stands against the revision written."""

    target: int
    switched: tuple[ProcessReport, ...] = ()
    draining: tuple[ProcessReport, ...] = ()  # switched, earlier requests in flight
    behind: tuple[ProcessReport, ...] = ()  # an earlier revision
    ahead: tuple[ProcessReport, ...] = ()  # above the store's: the store went back
    rejecting: tuple[ProcessReport, ...] = ()  # refused the revision (or a later one)
    silent: tuple[ProcessReport, ...] = ()
    unreadable: int = 0
    forgotten: tuple[ProcessReport, ...] = field(default=())  # by --forget-silent

    @property
    def members(self) -> int:
        return len(self.switched) + len(self.waiting) + len(self.rejecting)

    @property
    def waiting(self) -> tuple[ProcessReport, ...]:
        return self.silent + self.behind + self.ahead + self.draining

    @property
    def confirmed(self) -> bool:
        return bool(self.switched) and not (self.waiting or self.rejecting)


def judge(
    fleet: Fleet,
    target: int,
    store_revision: int,
    now: float,
    silence: Silence,
) -> Progress:
    kinds: dict[str, list[ProcessReport]] = {
        "switched": [],
        "draining": [],
        "behind": [],
        "ahead": [],
        "rejecting": [],
        "silent": [],
    }
    for report in fleet.reports:
        rejected = report.rejected_revision
        if rejected is not None and rejected >= target > report.revision:
            kind = "rejecting"
        elif silence.is_silent(report, now):
            kind = "silent"
        elif report.revision < target:
            kind = "behind"
        elif report.revision > store_revision:
            kind = "ahead"
        elif report.in_flight:
            kind = "draining"
        else:
            kind = "switched"
        kinds[kind].append(report)
    found = {kind: tuple(reports) for kind, reports in kinds.items()}
    return Progress(target, unreadable=fleet.unreadable, **found)


class FleetBehind(Exception):
    """The time ran out, or a member rejected the revision."""

    def __init__(self, progress: Progress | None, error: str | None) -> None:
        self.progress, self.error = progress, error
        super().__init__(error or "behind")


@dataclass(frozen=True)
class Confirmed:
    progress: Progress
    seconds: float
    drained: int  # requests from before that finished while waiting


class _Watch:
    """What one wait remembers from poll to poll."""

    def __init__(self, forget_silent: bool) -> None:
        self.silence = Silence()
        self.forget_silent = forget_silent
        self.forgotten: tuple[ProcessReport, ...] = ()
        self.drained = 0  # requests from before seen in flight, at most

    def poll(
        self,
        store: Store,
        target: int,
        forget_after: float,
        revision_of: Callable[[str | None], int],
    ) -> Progress:
        """Where the fleet stands now; StoreError when the store cannot say."""
        store_revision = revision_of(store.read())
        fleet = read_fleet(store.members, time.time(), forget_after)
        progress = judge(fleet, target, store_revision, time.time(), self.silence)
        if self.forget_silent and progress.silent:
            store.members.forget(report.id for report in progress.silent)
            self.forgotten += progress.silent
            progress = replace(progress, silent=())
        draining = sum(report.in_flight for report in progress.draining)
        self.drained = max(self.drained, draining)
        return replace(progress, forgotten=self.forgotten)


def wait_for_fleet(
    store: Store,
    target: int,
    seconds: float,
    forget_after: float,
    revision_of: Callable[[str | None], int],
    *,
    forget_silent: bool = False,
    show: Callable[[Progress], None] | None = None,
) -> Confirmed:
    """Until the fleet serves ``target``; FleetBehind when the time runs out
    (or at once, when a member rejects it). A store that fails while waiting
    is asked again (0.2 s, 0.4 s, … 1 s apart) until then."""
    started, watch = time.monotonic(), _Watch(forget_silent)
    progress: Progress | None = None
    error: str | None = None
    pause = POLL_SECONDS
    while True:
        try:
            progress = watch.poll(store, target, forget_after, revision_of)
        except StoreError as exc:
            error, pause = str(exc), min(pause * 2, MAX_BACKOFF_SECONDS)
        else:
            error, pause = None, POLL_SECONDS
            if progress.rejecting:
                raise FleetBehind(progress, None)
            if progress.confirmed:
                elapsed = time.monotonic() - started
                return Confirmed(progress, elapsed, watch.drained)
            if show is not None:
                show(progress)
        remaining = seconds - (time.monotonic() - started)
        if remaining <= 0:
            raise FleetBehind(progress, error)
        time.sleep(min(pause, remaining))
