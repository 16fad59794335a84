"""What `manage.py maintenance` says of the fleet: the wait of --wait until every
process has switched and drained, and the table of `processes`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from envmaintenance import schedule
from envmaintenance.fleet import ProcessReport, Progress, Reports, progress
from envmaintenance.stores import StoreError

POLL_SECONDS = 0.2


class FleetBehind(Exception):
    """--wait ran out of time; the message names each process behind."""


def wait_for_fleet(
    reports: Reports,
    document: str,
    seconds: float,
    show: Callable[[str], None] | None = None,
) -> str:
    """Until every reporting process serves ``document``, with no request let in
    before it still in flight; the line to print when done, else FleetBehind."""
    started = time.monotonic()
    drained = 0
    while True:
        now = schedule.clock()
        try:
            found = reports.read_all()
        except StoreError as exc:
            raise FleetBehind(f"cannot read the reports: {exc}") from None
        state = progress(found, document, now)
        drained = max(drained, sum(r.in_flight for r in state.draining))
        elapsed = time.monotonic() - started
        if found and state.confirmed:
            return done_line(len(found), elapsed, drained)
        if elapsed >= seconds:
            raise FleetBehind(behind_text(found, state, now, seconds))
        if show is not None:
            show(progress_line(found, state))
        time.sleep(POLL_SECONDS)


def done_line(count: int, elapsed: float, drained: int) -> str:
    waited = f", after {drained} requests from before it finished" if drained else ""
    noun = "process" if count == 1 else "processes"
    return f"All {count} {noun} switched in {elapsed:.1f} s{waited}."


def progress_line(found: list[ProcessReport], state: Progress) -> str:
    if not found:
        return "waiting: no process reports yet"
    in_flight = sum(r.in_flight for r in state.draining)
    return (
        f"{len(state.switched)}/{len(found)} switched, {len(state.draining)} "
        f"draining ({in_flight} requests), {len(state.behind)} behind, "
        f"{len(state.silent)} not reporting"
    )


def behind_text(
    found: list[ProcessReport], state: Progress, now: float, seconds: float
) -> str:
    if not found:
        return (
            f"no process reported within {seconds:g} s: none follows this switch, "
            f"or none can reach it; nothing is confirmed"
        )
    behind = len(state.waiting)
    lines = [f"{behind} of {len(found)} processes are behind after {seconds:g} s:"]
    for report in state.waiting:
        lines.append(
            f"  {report.name} ({report.server}): {describe(report, state, now)}"
        )
    return "\n".join(lines)


def describe(report: ProcessReport, state: Progress, now: float) -> str:
    ago = f"{now - report.reported_at:.0f} s ago"
    if report in state.silent:
        what = "not reporting"
    elif report in state.draining:
        what = f"switched, {report.in_flight} requests from before still in flight"
    else:
        what = "still serving an earlier document"
    trouble = f"; trouble: {report.trouble}" if report.trouble else ""
    return f"{what} (last report {ago}: maintenance {report.state}{trouble})"


def process_rows(found: list[ProcessReport], now: float) -> list[dict[str, Any]]:
    """What `processes` shows, one dict per process (also its --json)."""
    return [
        {
            "host": report.host,
            "pid": report.pid,
            "server": report.server,
            "state": report.state,
            "read_only": report.read_only,
            "source": report.source,
            "document": report.document,
            "read_ago": (
                None
                if report.last_read_at is None
                else round(now - report.last_read_at)
            ),
            "in_flight": report.in_flight,
            "reported_ago": round(now - report.reported_at),
            "reporting": not report.silent(now),
            "trouble": report.trouble,
        }
        for report in found
    ]


def process_table(rows: list[dict[str, Any]]) -> list[str]:
    """The same as lines for a person: one per process, the silent ones marked."""
    lines = []
    for row in rows:
        mode = " read-only" if row["read_only"] else ""
        read = "never" if row["read_ago"] is None else f"{row['read_ago']} s ago"
        status = "" if row["reporting"] else "  NOT REPORTING"
        trouble = f"  trouble: {row['trouble']}" if row["trouble"] else ""
        lines.append(
            f"{row['host']}:{row['pid']} {row['server']}: {row['state']}{mode} "
            f"({row['source']}, {row['document']}), read {read}, "
            f"{row['in_flight']} in flight, reported {row['reported_ago']} s ago"
            f"{status}{trouble}"
        )
    return lines
