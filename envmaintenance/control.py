"""What the command does to the switch: the next document, written
compare-and-set, with a revision above every one seen.

"Seen" is more than the store's answer: a store that lost its document (a
flush, a failover to a replica that missed the last write) answers nothing or
an older revision, while the fleet still holds a later one. The next write goes
above all of them, so every process takes it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from envmaintenance import history
from envmaintenance.cache import SwitchCache
from envmaintenance.documents import compose, parse_document, revision_of
from envmaintenance.passes import parse_revocations
from envmaintenance.state import State
from envmaintenance.stores import Conflict, Store

POLL_SECONDS = 0.2
REVOKED = "MAINTENANCE_REVOKED_PASSES"
_REVOKED_LINE = re.compile(rf"^[ \t]*{REVOKED}[ \t]*=(.*)$", re.MULTILINE)
# A write that lost a race is tried again this often under --force.
FORCE_ATTEMPTS = 5


class Refused(Exception):
    """Somebody wrote the switch between our read and our write; nothing was
    written. ``current`` is what the store holds now."""

    def __init__(self, current: str | None) -> None:
        self.current = current
        super().__init__("the switch changed while this command ran")


@dataclass(frozen=True)
class Seen:
    """What the store, the fleet and this host's cache say before a write."""

    text: str | None  # the document in the store
    fleet_revision: int | None  # the highest revision a member holds; None: none
    cached_revision: int = 0

    @property
    def store_revision(self) -> int:
        return revision_of(self.text)

    @property
    def highest(self) -> int:
        fleet = self.fleet_revision or 0
        return max(self.store_revision, fleet, self.cached_revision)

    @property
    def lost(self) -> bool:
        """The store has no document, though one was written."""
        return self.text is None and self.highest > 0

    @property
    def went_back(self) -> bool:
        """The store holds an older revision than the fleet."""
        return self.text is not None and self.store_revision < self.highest


def look(
    store: Store,
    cache: SwitchCache | None,
    *,
    patience_seconds: float = 0.0,
) -> Seen:
    """Read what was seen (StoreError when the store cannot be read).

    A store with no document and no member may have just come back empty
    (processes report again within an interval): with ``patience_seconds``,
    wait that long for the fleet before taking it for one never written.
    """
    cached = cache.load(time.time()) if cache is not None else None
    cached_revision = 0 if cached is None else cached.revision
    if not store.members.can_report():
        patience_seconds = 0  # no member can ever be heard from here
    deadline = time.monotonic() + patience_seconds
    while True:
        seen = Seen(store.read(), store.members.highest_revision(), cached_revision)
        if seen.text is not None or seen.fleet_revision is not None:
            return seen
        if time.monotonic() >= deadline:
            return seen
        time.sleep(POLL_SECONDS)


def write(
    store: Store,
    environment: State,
    settings: Mapping[str, str],
    notes: Mapping[str, str],
    seen: Seen,
    *,
    force: bool = False,
) -> State:
    """Write the next revision if the store still holds what was seen; Refused
    otherwise (``force``: write above whatever it holds). The passes revoked so
    far stay revoked. The write goes into the history with it. Returns the state
    every process will serve."""
    now = time.time()
    for _attempt in range(FORCE_ATTEMPTS if force else 1):
        kept = revocations_in(seen.text, now)
        written = {**({REVOKED: kept} if kept else {}), **settings}
        text = compose(seen.highest + 1, written, notes)
        # Never write what no process could read.
        state = parse_document(text).state(environment)
        entry = history.switched(state, now, dict(notes)).encode()
        try:
            store.write(text, seen.text, entry=entry)
        except Conflict as exc:
            if not force:
                raise Refused(exc.current) from None
            seen = Seen(exc.current, seen.fleet_revision, seen.cached_revision)
            continue
        return state
    raise Refused(seen.text)


def revocations_in(text: str | None, now: float) -> str:
    """The passes a document revokes that have not expired, as it writes them:
    read leniently, so that a write over a document that does not parse keeps
    them revoked all the same."""
    found = None if text is None else _REVOKED_LINE.search(text)
    if found is None:
        return ""
    try:
        return parse_revocations(found[1].strip()).written(now)
    except ValueError:
        return ""
