"""What the command does to the switch, action by action: writing it (into the
history, announced to signals and the hook), waiting for the fleet, running a
command under maintenance. What it prints is passed in (``Out``) and worded in
envmaintenance.report."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Protocol

from django.core.management.base import CommandError

from envmaintenance import (
    current_state,
    events,
    fleet_words,
    history,
    is_active,
    report,
)
from envmaintenance.cli import (
    command_store,
    host_cache,
    on_settings,
    parse_duration,
    signature,
)
from envmaintenance.conf import Config
from envmaintenance.control import Refused, Seen, look, write
from envmaintenance.documents import (
    InvalidDocument,
    parse_document,
    revision_of,
    settings_of,
)
from envmaintenance.guards import serving_one, wait_until_over
from envmaintenance.state import State
from envmaintenance.stores import Store, StoreError
from envmaintenance.waiting import FleetBehind, wait_for_fleet


class Out(Protocol):
    def say(self, line: str) -> None: ...
    def warn(self, line: str) -> None: ...
    def show(self, line: str) -> None:
        """A progress line, on a terminal only."""


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def switch(
    config: Config,
    settings: dict[str, str],
    notes: dict[str, str],
    out: Out,
    *,
    force: bool = False,
) -> tuple[State, Store]:
    """Write the next revision every process will read, say what it does, and
    announce it. CommandError when nothing was written."""
    store = command_store(config)
    patience = config.switch_interval_seconds + 1
    try:
        seen = look(store, host_cache(config), patience_seconds=patience)
        if seen.lost or seen.went_back:
            out.say(report.store_went_wrong(seen))
        if seen.lost:  # the history lost it too: say so there, for the record
            store.history.append(history.lost(seen.highest, notes).encode())
        written = write(store, config.environment, settings, notes, seen, force=force)
    except Refused as exc:
        raise CommandError(refusal(config, exc)) from None
    except (StoreError, InvalidDocument) as exc:
        raise CommandError(f"the switch was not changed: {exc}") from None
    now = time.time()
    out.say(report.outcome(written, now, config))
    before = state_of(seen.text, config)
    trouble = events.announce(
        config.switch_hook,
        "switched",
        written,
        now,
        before=before,
        after=written,
        by=notes.get("SET_BY", ""),
        reason=notes.get("REASON", ""),
    )
    if trouble is not None:
        out.warn(f"{trouble}; the switch stands")
    return written, store


def state_of(text: str | None, config: Config) -> State:
    """What a document put in force (the environment's, for none or a bad one)."""
    try:
        return parse_document(text or "").state(config.environment)
    except InvalidDocument:
        return config.environment


def refusal(config: Config, exc: Refused) -> str:
    try:
        current = parse_document(exc.current or "").state(config.environment)
    except InvalidDocument:
        current = None
    return report.refused(current, revision_of(exc.current))


def wait(
    config: Config,
    store: Store,
    written: State,
    seconds: float,
    out: Out,
    *,
    forget_silent: bool = False,
) -> None:
    """Until the fleet serves the revision, or CommandError naming who does not;
    either way announced."""
    if not store.members.can_report():
        raise CommandError(fleet_words.cannot_confirm(store))
    forget_after = config.switch_forget_after_seconds
    revision = written.revision
    try:
        result = wait_for_fleet(
            store,
            revision,
            seconds,
            forget_after,
            revision_of,
            forget_silent=forget_silent,
            show=lambda progress: out.show(fleet_words.progress_line(progress)),
        )
    except FleetBehind as exc:
        names = [r.name for r in exc.progress.waiting] if exc.progress else []
        announce(config, "behind", written, out, processes=names, error=exc.error)
        raise CommandError(
            fleet_words.behind(exc, revision, seconds, time.time())
        ) from None
    out.say(fleet_words.confirmed(result, forget_after))
    count = len(result.progress.switched)
    announce(config, "confirmed", written, out, processes=count, seconds=result.seconds)


def announce(
    config: Config, event: str, state: State, out: Out, **details: Any
) -> None:
    trouble = events.announce(config.switch_hook, event, state, time.time(), **details)
    if trouble is not None:
        out.warn(f"{trouble}; the switch stands")


def run_wrapped(config: Config, options: dict[str, Any], out: Out) -> int:
    """`maintenance run`: on and wait; the command; back to what was in force
    if it succeeded. Returns the exit status."""
    command = command_of(options)
    try:
        previous = settings_of(command_store(config).read())
    except StoreError as exc:
        raise CommandError(f"the switch was not changed: {exc}") from None
    seconds = options["wait"] if options["wait"] is not None else 60.0
    notes = signature(options, now_utc())
    on = on_settings(options, now_utc())
    written, store = switch(config, on, notes, out, force=options["force"])
    if not waited(config, store, written, seconds, out, options["forget_silent"]):
        why = "the wait failed, so the command did not run"
        out.warn(report.stays_on(written, why, previous))
        return 1
    status = run_child(command)
    if status != 0:
        why = report.how_it_ended(command, status)
        out.warn(report.stays_on(written, why, previous))
        return status
    back, store = switch(config, previous, signature(options, now_utc()), out)
    if waited(config, store, back, seconds, out, False):
        return 0
    out.warn(fleet_words.not_confirmed(back))
    return 1


def command_of(options: dict[str, Any]) -> list[str]:
    command = list(options["command"])
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise CommandError(
            "run: give the command after --, like: run -- manage.py migrate"
        )
    return command


def waited(
    config: Config, store: Store, written: State, seconds: float, out: Out, forget: bool
) -> bool:
    """wait(), its failure said rather than raised."""
    try:
        wait(config, store, written, seconds, out, forget_silent=forget)
    except CommandError as exc:
        out.warn(str(exc))
        return False
    return True


def run_child(command: list[str]) -> int:
    """The command, on this terminal; SIGTERM (and SIGINT, which a terminal
    sends the child itself) forwarded to it. Its exit status, or 128 + the
    signal that ended it, as a shell says it."""
    try:
        child = subprocess.Popen(command)  # noqa: S603 - the operator's own command
    except OSError as exc:
        raise CommandError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    with forwarding(child):
        status = child.wait()
    return 128 - status if status < 0 else status


@contextmanager
def forwarding(child: subprocess.Popen[bytes]) -> Iterator[None]:
    forwarded = [signal.SIGTERM]
    if not (sys.stdin.isatty() and os.getpgrp() == os.tcgetpgrp(sys.stdin.fileno())):
        forwarded.append(signal.SIGINT)  # no terminal delivers it to the child

    def forward(signum: int, frame: object) -> None:
        child.send_signal(signum)

    saved = {number: signal.signal(number, forward) for number in forwarded}
    if signal.SIGINT not in saved:
        saved[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        for number, handler in saved.items():
            signal.signal(number, handler)


def store_words(seen: Seen) -> dict[str, Any]:
    """What the store and the fleet hold, as the summary shows it."""
    return {
        "revision": seen.store_revision,
        "fleet": seen.fleet_revision,
        "highest": seen.highest,
        "lost": seen.lost,
        "went_back": seen.went_back,
        "next": seen.highest + 1,
    }


def run_command(config: Config, options: dict[str, Any], out: Out) -> None:
    """`maintenance run`, its exit status the command's."""
    status = run_wrapped(config, options, out)
    if status:
        raise SystemExit(status)


def switch_command(config: Config, options: dict[str, Any], out: Out) -> None:
    """`maintenance on|off|env`: write the next revision every process will read,
    say what it does, and wait for the fleet when asked."""
    now = now_utc()
    settings = {"off": {"MAINTENANCE_MODE": "0"}, "env": {}}.get(options["action"])
    if settings is None:
        settings = on_settings(options, now)
    written, store = switch(
        config, settings, signature(options, now), out, force=options["force"]
    )
    if options["wait"] is not None:
        forget_silent = options["forget_silent"]
        wait(config, store, written, options["wait"], out, forget_silent=forget_silent)


def guard_command(config: Config, options: dict[str, Any], out: Out) -> None:
    """`maintenance guard -- COMMAND`: the command only while no maintenance is
    active (then its exit status); otherwise one line, and exit 0."""
    command = command_of(options)
    if options["wait_until_over"] is not None:
        seconds = parse_duration("wait-until-over", options["wait_until_over"])
        wait_until_over(seconds, config.switch_interval_seconds)
    if is_active():
        current = current_state()
        described = current.describe(time.time()) + current.scope()
        decided = f"the {current.source}" + (
            f", revision {current.revision}" if current.revision else ""
        )
        out.say(f"Skipped {command[0]}: maintenance is {described} ({decided}).")
        return
    with serving_one():  # --wait waits for the job
        status = run_child(command)
    if status:
        raise SystemExit(status)
