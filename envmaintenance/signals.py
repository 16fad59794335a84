"""Signals the process that writes the switch sends (the command, never the web
processes: fifty processes must not post fifty messages).

``switched``: a write succeeded; keyword arguments ``revision``, ``before`` and
``after`` (States), ``by`` and ``reason``.
``confirmed``: a ``--wait`` succeeded; ``revision``, ``processes`` (how many),
``seconds``.
``behind``: a ``--wait`` failed; ``revision``, ``processes`` (the names of those
behind) and ``error`` (what could not be read, or None).
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["behind", "confirmed", "switched"]

switched = Signal()
confirmed = Signal()
behind = Signal()
