"""Announcing what the command did: the signals, and MAINTENANCE_SWITCH_HOOK,
run once per event by the process that wrote (a CDN purge, a chat message, a
status page). A hook is bounded in time, and its failure never undoes a switch."""

from __future__ import annotations

import logging
import os
import subprocess
from typing import Any

from envmaintenance import signals
from envmaintenance.state import State

logger = logging.getLogger("envmaintenance")

HOOK_TIMEOUT_SECONDS = 30
SENDER = "envmaintenance"


def announce(
    hook: tuple[str, ...], event: str, state: State, now: float, **details: Any
) -> str | None:
    """Send the event's signal, then run the hook; the hook's trouble in words,
    or None."""
    signal = {
        "switched": signals.switched,
        "confirmed": signals.confirmed,
        "behind": signals.behind,
    }[event]
    signal.send(sender=SENDER, revision=state.revision, **details)
    if not hook:
        return None
    return run_hook(hook, hook_environment(event, state, now, details))


def hook_environment(
    event: str, state: State, now: float, details: dict[str, Any]
) -> dict[str, str]:
    """What a hook is told, as ENVMAINTENANCE_* variables (not MAINTENANCE_*,
    which a hook that runs manage.py would read as its own settings)."""
    words = "environment" if state.source == "environment" else state.describe(now)
    told = {
        "EVENT": event,
        "REVISION": str(state.revision),
        "STATE": words,
        "READ_ONLY": "1" if state.read_only else "0",
        "PATHS": ",".join(state.paths.prefixes),
        "HOSTS": ",".join(state.hosts.hosts),
        "ENDS_AT": "" if state.ends_at is None else state.ends_at.isoformat(),
        "BY": details.get("by") or state.notes.get("SET_BY", ""),
        "REASON": details.get("reason") or state.notes.get("REASON", ""),
    }
    return {f"ENVMAINTENANCE_{name}": value for name, value in told.items()}


def run_hook(hook: tuple[str, ...], told: dict[str, str]) -> str | None:
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("ENVMAINTENANCE_")
    }
    try:
        finished = subprocess.run(  # noqa: S603 - the operator's own command
            hook,
            env={**environment, **told},
            stdin=subprocess.DEVNULL,
            timeout=HOOK_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        seconds = HOOK_TIMEOUT_SECONDS
        return f"the hook {hook[0]} did not finish within {seconds} s and was stopped"
    except OSError as exc:
        return f"the hook {hook[0]} could not run: {exc.strerror or exc}"
    if finished.returncode != 0:
        return f"the hook {hook[0]} failed (exit status {finished.returncode})"
    return None
