"""Which document a process follows, and what it concludes from each read of
the store: the rules of the revisioned switch, without threads or I/O.

A revision only goes up. So once this process (or its cache, or a member of the
fleet) has seen revision 1 or later, a store with no document has lost it
(flushed, evicted, failed over), and a store with an older revision has gone
back in time (a replica that missed the last write, a restored backup): in
both cases the process keeps what it holds, and says so once. A document that
does not parse is rejected (the report says which and why) and changes
nothing.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass

from envmaintenance.cache import Cached
from envmaintenance.documents import InvalidDocument, parse_document
from envmaintenance.state import State

# After start-up, a process that has seen no revision asks the fleet for the
# highest it holds during this many reads: long enough for the members to
# report again after a store came back empty.
READS_THAT_ASK_THE_FLEET = 4


class Outcome(enum.Enum):
    APPLIED = enum.auto()  # a new document (or none) is in force
    UNCHANGED = enum.auto()
    KEPT = enum.auto()  # the store lost the document or went back: kept
    REJECTED = enum.auto()  # the document does not parse: kept


@dataclass(frozen=True)
class Rejection:
    revision: int | None  # as far as it could be read
    error: str


class Follower:
    """The state in force and the revision behind it, from one read to the next."""

    def __init__(self, environment: State, unreadable: str) -> None:
        self.environment = environment
        self.unreadable = unreadable  # MAINTENANCE_SWITCH_UNREADABLE
        self.state = environment  # replaced, whole, on each change
        self.text: str | None = None  # the document in force, as read
        self.read_at: float | None = None  # when it was first read from the store
        self.seen = 0  # the highest revision known to have been written
        self.rejected: Rejection | None = None
        self.trouble: str | None = None  # what is wrong with the store, if anything
        self.from_cache = False
        self._reads = 0

    def start_from(self, cached: Cached) -> bool:
        """Begin where this host's processes were; False if the cache no longer
        parses (then it is no cache)."""
        try:
            document = parse_document(cached.text)
        except InvalidDocument:
            return False
        self._apply(document.state(self.environment), cached.text, cached.read_at)
        self.seen = max(self.seen, document.revision)
        self.from_cache = True
        return True

    def follow(
        self, text: str | None, now: float, highest_held: Callable[[], int | None]
    ) -> Outcome:
        """What one successful read of the store means for this process.
        ``highest_held`` asks the fleet (StoreError when it cannot)."""
        self._reads += 1
        if text is None:
            return self._no_document(highest_held)
        try:
            document = parse_document(text)
        except InvalidDocument as exc:
            self.rejected = Rejection(exc.revision, str(exc))
            self.trouble = None
            return Outcome.REJECTED
        if document.revision and document.revision < self.seen:
            self.trouble = (
                f"the store went back to revision {document.revision}: this process "
                f"holds revision {self.state.revision} and keeps it until a later "
                f"one is written"
            )
            return Outcome.KEPT
        self.trouble = None
        # A good document at or above the rejected revision ends the refusal,
        # also when it is the one in force (an in-place rewrite read half-way).
        if self.rejected and (self.rejected.revision or 0) <= document.revision:
            self.rejected = None
        if document.revision == self.state.revision and text == self.text:
            return Outcome.UNCHANGED
        self._apply(document.state(self.environment), text, now)
        self.seen = max(self.seen, document.revision)
        return Outcome.APPLIED

    def asks_the_fleet(self) -> bool:
        """Whether the next read should ask the fleet for the highest revision
        it holds (before the document: a write landing between the two is then
        applied, never taken for a loss)."""
        return not self.seen and self._reads < READS_THAT_ASK_THE_FLEET

    def _no_document(self, highest_held: Callable[[], int | None]) -> Outcome:
        if not self.seen and self._reads <= READS_THAT_ASK_THE_FLEET:
            self.seen = highest_held() or 0
        if self.seen:
            self.trouble = (
                f"the store has lost the document (flushed, evicted or failed "
                f"over?): revision {self.seen} was written; this process keeps "
                f"{self.holding()} until a new one is written"
            )
            if not self.state.revision and not self.from_cache:
                return self._fall_back()
            return Outcome.KEPT
        self.trouble = None
        if self.text is None and self.state is self.environment:
            return Outcome.UNCHANGED
        self._apply(self.environment, None, None)
        return Outcome.APPLIED

    def failed(self, problem: str, now: float, *, starting: bool) -> str:
        """A read that failed: the state stays; at start-up, without a cache,
        the fallback. Returns what is kept, in words."""
        self.trouble = problem
        if self.from_cache and self.read_at is not None:
            age = max(0, round(now - self.read_at))
            return f"the cached revision {self.state.revision}, first read {age} s ago"
        if starting:
            self._fall_back()
        return self.holding()

    def _fall_back(self) -> Outcome:
        """Neither a revision held nor a cache: MAINTENANCE_SWITCH_UNREADABLE."""
        if self.unreadable != "on":
            return Outcome.UNCHANGED if self.state is self.environment else Outcome.KEPT
        environment = self.environment
        fallback = dataclasses.replace(
            environment, enabled=True, starts_at=None, source="switch"
        )
        if self.state == fallback:
            return Outcome.UNCHANGED
        self._apply(fallback, None, None)
        return Outcome.APPLIED

    def holding(self) -> str:
        """What this process keeps, in words."""
        if self.state.revision:
            return f"revision {self.state.revision}"
        if self.state.source == "switch":
            return "maintenance on (MAINTENANCE_SWITCH_UNREADABLE=on)"
        return "the environment's state"

    def _apply(self, state: State, text: str | None, read_at: float | None) -> None:
        self.state, self.text, self.read_at = state, text, read_at
        self.from_cache = False
