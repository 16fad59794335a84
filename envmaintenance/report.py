"""Everything the package says in words about the state and the switch: the
lines processes log, and what `manage.py maintenance` prints. A change of state
reads the same in a process's log and in the command's answer."""

from __future__ import annotations

import signal
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from envmaintenance.history import LOST, PASS_ISSUED, PASS_REVOKED, Entry, Issued
from envmaintenance.state import State

if TYPE_CHECKING:
    from envmaintenance.conf import Config
    from envmaintenance.control import Seen
    from envmaintenance.follower import Rejection
    from envmaintenance.passes import Pass


def change(state: State, now: float) -> str:
    """'switched on until …, revision 42, by alice (reason: db)'."""
    described = state.describe(now)
    if state.source == "environment":
        what = f"handed back to the environment (maintenance {described} there)"
    elif described == "on":
        ends = state.ends_at
        what = "switched on" + state.scope()
        what += "" if ends is None else f" until {ends.isoformat()}"
        if state.read_only:
            what += " (read-only: only writes are stopped)"
    elif described == "off":
        what = "switched off"
    else:
        what = f"{described}{state.scope()} ({state.window()})"
    revision = f", revision {state.revision}" if state.revision else ""
    return f"{what}{revision}{state.signed()}"


def transition(state: State, now: float, display: str) -> str:
    """The line each process logs when it follows a new state."""
    return f"Maintenance {change(state, now)}, via {display}"


def trouble(problem: str, kept: str | None, state: State, now: float) -> str:
    """What a process logs, once, when the store fails (``kept``: what it
    keeps until the store is readable again) or forgets (the problem says what
    it keeps)."""
    described = f"maintenance {state.describe(now)}"
    if kept is None:
        return f"Maintenance switch: {problem} ({described})"
    return (
        f"Maintenance switch: {problem}; keeping {kept} ({described}) until it is "
        f"readable again"
    )


def rejection(rejected: Rejection, display: str, state: State) -> str:
    """What a process logs, once, when it rejects a document."""
    return (
        f"Maintenance switch: rejected the document at {display} (revision "
        f"{rejected.revision or 'none'}): {rejected.error}; keeping revision "
        f"{state.revision}"
    )


def outcome(state: State, now: float, config: Config) -> str:
    """The command's line after a write: what every process will serve, and by
    when (a reader reads every interval; a read gives up within a second)."""
    assert config.switch is not None
    within = config.switch_interval_seconds + 1
    return (
        f"Maintenance {change(state, now)}: every process follows within {within} s "
        f"once it can read {config.switch.display}."
    )


def start_up(config: Config, state: State, now: float) -> str:
    """One line per process: what it believes, for whoever reads the logs."""
    following = (
        ""
        if config.switch is None
        else f"; following the switch at {config.switch.display} every "
        f"{config.switch_interval_seconds} s (in force: the {state.source}"
        + (f", revision {state.revision})" if state.revision else ")")
    )
    window = state.window()
    return (
        f"Maintenance {state.describe(now)}{state.scope()}: "
        f"{len(config.allowed_networks)} allowed "
        f"networks, {len(config.trusted_proxies.entries())} trusted proxies, "
        f"{len(config.exempt_paths.prefixes)} exempt paths, Retry-After "
        f"{state.retry_after(now)} s"
        + (f", window {window}" if window else "")
        + following
    )


def moment(value: float | None) -> str | None:
    if value is None:
        return None
    return datetime.fromtimestamp(value, timezone.utc).isoformat()


def ago(now: float, then: float) -> str:
    return f"{max(0, round(now - then))} s ago"


def count(number: int, noun: str, plural: str | None = None) -> str:
    """'1 request', '3 requests'."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def span(seconds: float) -> str:
    """'the last hour', 'the last 90 minutes', 'the last 600 seconds'."""
    if seconds % 3600 == 0:
        hours = int(seconds // 3600)
        return "the last hour" if hours == 1 else f"the last {hours} hours"
    if seconds % 60 == 0:
        return f"the last {int(seconds // 60)} minutes"
    return f"the last {seconds:g} seconds"


def store_went_wrong(seen: Seen) -> str:
    """Before a write, when the store does not hold the latest revision."""
    if seen.lost:
        what = "has LOST its document (flushed, evicted or failed over?)"
    else:
        what = f"WENT BACK to revision {seen.store_revision}"
    return (
        f"The store {what}; the fleet holds revision {seen.highest}: writing "
        f"revision {seen.highest + 1}, above it."
    )


def refused(current: State | None, revision: int) -> str:
    """A write that lost a race: who switched to what, when, at which revision."""
    now = datetime.now(timezone.utc).timestamp()
    if current is None:
        what = (
            f"the store now holds a document that does not parse (revision {revision})"
        )
    else:
        set_at = current.notes.get("SET_AT")
        when = f" at {set_at}" if set_at else ""
        what = f"maintenance was {change(current, now)}{when}"
    return (
        f"Nothing was written: the switch changed while this command ran: {what}. "
        f"Run the command again to switch over it, or add --force."
    )


def exported(written: list[Path]) -> list[str]:
    return [
        *(f"wrote {path}" for path in written),
        "Include nginx-http.conf in nginx's http block and nginx-server.conf in "
        "the server block that proxies to the app: nginx then serves the page "
        "when the app cannot answer, and passes every other answer untouched.",
    ]


def how_it_ended(command: list[str], status: int) -> str:
    """'migrate exited with status 3', 'migrate was stopped by SIGINT'."""
    name = command[0]
    if status > 128:
        try:
            signal_name = signal.Signals(status - 128).name
        except ValueError:
            signal_name = f"signal {status - 128}"
        return f"{name} was stopped by {signal_name}"
    return f"{name} exited with status {status}"


def stays_on(written: State, why: str, previous: dict[str, str]) -> str:
    """The one line `run` says when it leaves maintenance on."""
    back = "off" if previous.get("MAINTENANCE_MODE") == "0" else "env"
    if previous.get("MAINTENANCE_MODE") == "1":
        back = "off"  # it was on before: say how to lift it all the same
    return (
        f"{why}: maintenance stays on (revision {written.revision}); lift it "
        f"with: manage.py maintenance {back} --wait"
    )


def pass_issued(granted: Pass, token: str, url: str, recorded: bool) -> list[str]:
    """A new pass: the link (the only place its token ever appears), until when,
    and how to revoke it."""
    joiner = "&" if "?" in url else "?"
    expires = datetime.fromtimestamp(granted.expires, timezone.utc).isoformat()
    revoke = (
        f"Revoke it with: manage.py maintenance revoke {granted.id}"
        if recorded
        else "Without a switch it cannot be revoked before it expires (but by "
        "rotating SECRET_KEY)."
    )
    return [
        f"A pass for {granted.holder} (id {granted.id}), valid until {expires}. "
        f"Following this link, on any URL of the site, lets its holder in:",
        f"  {url}{joiner}maintenance_pass={token}",
        revoke,
    ]


def pass_revoked(revoked: Issued) -> str:
    holder = f" of {revoked.holder}" if revoked.holder else ""
    return (
        f"Revoked the pass {revoked.id}{holder}: every process refuses it at its "
        f"next read of the switch."
    )


def pass_lines(found: list[Issued], now: float) -> list[str]:
    if not found:
        return ["No pass was issued (or the history holds none)."]
    lines = []
    for issued in found:
        try:
            expired = datetime.fromisoformat(issued.expires).timestamp() <= now
        except ValueError:
            expired = False
        status = "revoked" if issued.revoked else ("expired" if expired else "valid")
        lines.append(
            f"{issued.id} {issued.holder}: {status} until {issued.expires}, issued "
            f"by {issued.by or 'unknown'} at {issued.at}"
        )
    return lines


def unreadable_lines(unreadable: int) -> list[str]:
    return [f"{count(unreadable, 'unreadable report')} ignored."] if unreadable else []


def history_lines(entries: list[Entry], unreadable: int, lost: bool) -> list[str]:
    """The history, newest first, a line an entry."""
    lines = []
    if lost:
        lines.append(
            "The store has LOST its document (flushed, evicted or failed over?): "
            "what follows is what it still holds."
        )
    for entry in entries:
        who = f" by {entry.by}" if entry.by else ""
        why = f" (reason: {entry.reason})" if entry.reason else ""
        lines.append(f"{entry.at} {_entry_words(entry)}{who} on {entry.host}{why}")
    if not entries:
        lines.append("The history is empty.")
    return lines + unreadable_lines(unreadable)


def _entry_words(entry: Entry) -> str:
    if entry.event == PASS_ISSUED:
        return f"pass {entry.pass_id} issued to {entry.holder}, until {entry.expires}"
    if entry.event == PASS_REVOKED:
        return f"pass {entry.pass_id} of {entry.holder or 'unknown'} revoked"
    if entry.event == LOST:
        return f"the store had lost its document (revision {entry.revision} held)"
    scope = (f" for {', '.join(entry.paths)}" if entry.paths else "") + (
        f" of {', '.join(entry.hosts)}" if entry.hosts else ""
    )
    until = f" until {entry.ends_at}" if entry.ends_at else ""
    read_only = " (read-only)" if entry.read_only else ""
    return f"revision {entry.revision}: {entry.state}{read_only}{scope}{until}"
