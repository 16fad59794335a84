"""Requests being served, by the state they were let in under, so that a switch
can wait for the ones admitted before it to finish (`--wait`'s drain)."""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from envmaintenance.state import State


class Admitted(collections.deque[None]):
    """The requests being served that were let in under one state: one item
    each. A deque's append and pop are thread-safe, so a request takes no lock;
    the state is kept so that its id is not reused while counted."""

    __slots__ = ("dropped", "state")

    def __init__(self, state: State | None) -> None:
        super().__init__()
        self.state = state
        self.dropped = False  # no longer counted: a request must admit again

    # One request admitted under this state is answered: a C call, no frame.
    done = collections.deque.pop


class InFlight:
    """Correct under threaded workers (gunicorn gthread) and ASGI, without a lock
    per request (about a tenth of a microsecond). The lock guards the table of
    states, which changes once per new document."""

    def __init__(self) -> None:
        self._by_state: dict[int, Admitted] = {}
        self.served = False  # whether this process ever let a request in
        self.forget()

    def admit(self, state: State) -> Admitted:
        """Count a request in; the ``done()`` of what it returns counts it out."""
        admitted = self._last
        if admitted.state is not state or admitted.dropped:
            admitted = self._register(state)
        admitted.append(None)
        if admitted.dropped:  # dropped between the look-up and the append
            admitted.pop()
            return self.admit(state)
        return admitted

    def _register(self, state: State) -> Admitted:
        with self._lock:
            self.served = True
            admitted = self._by_state.setdefault(id(state), Admitted(state))
            self._last = admitted
            return admitted

    def before(self, state: State) -> int:
        """Still served, let in under another state than this one. The states
        that nothing is served under any more are dropped here."""
        with self._lock:
            for key, admitted in list(self._by_state.items()):
                if admitted.state is not state and not admitted:
                    admitted.dropped = True
                    del self._by_state[key]
            return sum(len(a) for a in self._by_state.values() if a.state is not state)

    def forget(self) -> None:
        """Count nothing (in a forked child: the parent's requests are not this
        process's)."""
        self._lock = threading.Lock()  # the parent's may have been held
        for admitted in self._by_state.values():
            admitted.dropped = True
            admitted.clear()
        self._by_state = {}
        self.served = False
        # The state requests were last let in under: none yet.
        self._last = Admitted(None)
        self._last.dropped = True
