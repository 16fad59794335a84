"""What the command says of the fleet: a wait confirmed, or behind and who is
behind and why, and the list of processes (its rows are also its JSON)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from envmaintenance.report import ago, count, span, unreadable_lines
from envmaintenance.state import State

if TYPE_CHECKING:
    from envmaintenance.fleet import ProcessReport
    from envmaintenance.stores import Store
    from envmaintenance.waiting import Confirmed, FleetBehind, Progress

# A wait that fails names at most this many members; `processes` lists all.
NAMED_AT_MOST = 20


def confirmed(result: Confirmed, forget_after: float) -> str:
    progress = result.progress
    drained = (
        f", after {count(result.drained, 'request')} from before it finished"
        if result.drained
        else ""
    )
    total = len(progress.switched)
    return (
        f"All {count(total, 'process', 'processes')} (every process seen in "
        f"{span(forget_after)}) serve revision {progress.target}{drained}; "
        f"confirmed in {result.seconds:.1f} s.{_forgotten(progress)}"
        f"{_unreadable(progress)}"
    )


def progress_line(progress: Progress) -> str:
    in_flight = sum(r.in_flight for r in progress.draining)
    return (
        f"revision {progress.target}: {len(progress.switched)}/{progress.members} "
        f"switched, {len(progress.draining)} draining ({count(in_flight, 'request')}), "
        f"{len(progress.behind) + len(progress.ahead)} behind, "
        f"{len(progress.silent)} silent"
    )


def behind(exc: FleetBehind, target: int, seconds: float, now: float) -> str:
    """Why the wait failed, naming each member that is behind."""
    progress = exc.progress
    written = f"The switch was written (revision {target}), "
    if progress is None or (exc.error is not None and not progress.members):
        return (
            f"{written}but the store could not be read while waiting "
            f"({exc.error}): nothing is known of the processes."
        )
    if progress.rejecting:
        rejecting = count(len(progress.rejecting), "process", "processes")
        lines = [f"{written}but {rejecting} rejected it:"]
        lines += [
            f"  {r.name}: {r.rejected_error}; still serving revision {r.revision}"
            for r in progress.rejecting
        ]
        return "\n".join(lines)
    if not progress.members:
        return (
            f"{written}but no process reported within {seconds:g} s: none follows "
            f"this switch, or none can reach it; nothing is confirmed."
        )
    waiting = progress.waiting
    members = count(progress.members, "process", "processes")
    lines = [
        f"{written}but {len(waiting)} of {members} are behind after {seconds:g} s:"
    ]
    lines += [f"  {r.name}: {_why(r, progress, now)}" for r in waiting[:NAMED_AT_MOST]]
    if len(waiting) > NAMED_AT_MOST:
        lines.append(
            f"  … and {len(waiting) - NAMED_AT_MOST} more ('manage.py maintenance "
            f"processes' lists them)"
        )
    if exc.error:
        lines.append(f"The store could not be read at the end: {exc.error}")
    return "\n".join(lines) + _forgotten(progress) + _unreadable(progress)


def _why(report: ProcessReport, progress: Progress, now: float) -> str:
    last = f"revision {report.revision}, maintenance {report.state}"
    if report in progress.silent:
        what = f"silent since {ago(now, report.reported_at)} (it last served {last})"
    elif report in progress.ahead:
        what = (
            f"holds revision {report.revision}, above the store's: the store went "
            f"back in time"
        )
    elif report in progress.draining:
        what = (
            f"serves revision {report.revision}, with "
            f"{count(report.in_flight, 'request')} from before still in flight"
        )
    else:
        what = f"still serves {last}"
    trouble = f"; trouble: {report.trouble}" if report.trouble else ""
    return what + trouble


def _forgotten(progress: Progress) -> str:
    if not progress.forgotten:
        return ""
    names = ", ".join(r.name for r in progress.forgotten[:NAMED_AT_MOST])
    forgotten = count(len(progress.forgotten), "silent process", "silent processes")
    return f"\nForgot {forgotten}: {names}."


def _unreadable(progress: Progress) -> str:
    if not progress.unreadable:
        return ""
    return f"\n{count(progress.unreadable, 'unreadable report')} ignored."


def process_rows(
    reports: tuple[ProcessReport, ...], now: float
) -> list[dict[str, Any]]:
    """What `processes` shows, one dict per member (also its --json)."""
    from envmaintenance.fleet import SILENT_INTERVALS

    return [
        {
            "id": r.id,
            "host": r.host,
            "pid": r.pid,
            "server": r.server,
            "revision": r.revision,
            "rejected": (
                None
                if r.rejected_error is None
                else {"revision": r.rejected_revision, "error": r.rejected_error}
            ),
            "state": r.state,
            "read_only": r.read_only,
            "source": r.source,
            "read_ago": None if r.last_read_at is None else round(now - r.last_read_at),
            "in_flight": r.in_flight,
            "reported_ago": round(now - r.reported_at),
            "silent": now - r.reported_at > SILENT_INTERVALS * r.interval,
            "trouble": r.trouble,
        }
        for r in reports
    ]


def process_lines(rows: list[dict[str, Any]], unreadable: int, where: str) -> list[str]:
    """The same as lines for a person: one per member, the silent ones marked."""
    if not rows:
        return [f"No process reports to {where}.", *unreadable_lines(unreadable)]
    lines = []
    for row in rows:
        mode = " read-only" if row["read_only"] else ""
        read = "never" if row["read_ago"] is None else f"{row['read_ago']} s ago"
        source = (
            ""
            if row["source"] == "switch" and row["revision"]
            else f", {row['source']}"
        )
        rejected = row["rejected"]
        refused = (
            f"  REJECTED revision {rejected['revision']}: {rejected['error']}"
            if rejected
            else ""
        )
        lines.append(
            f"{row['host']}:{row['pid']} {row['server']} ({row['id']}): revision "
            f"{row['revision']}, {row['state']}{mode}{source}, read {read}, "
            f"{count(row['in_flight'], 'request')} in flight from before, reported "
            f"{row['reported_ago']} s ago{'  SILENT' if row['silent'] else ''}"
            f"{refused}{'  trouble: ' + row['trouble'] if row['trouble'] else ''}"
        )
    return lines + unreadable_lines(unreadable)


def cannot_confirm(store: Store) -> str:
    return (
        f"Cannot confirm: processes cannot report beside {store.location.display} "
        f"(the directory is read-only, as a Kubernetes ConfigMap volume is); the "
        f"document is written, but nothing says every process follows it."
    )


def not_confirmed(written: State) -> str:
    """`run`'s command succeeded and what was in force is written back, but the
    fleet did not confirm it: some processes may still serve maintenance."""
    return (
        f"The command succeeded and revision {written.revision} puts back what "
        f"was in force, but not every process confirmed it (see above): some may "
        f"still serve maintenance"
    )
