"""What processes report, in-flight counts, and the wait that reads them."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import replace
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory

from envmaintenance.fleet import (
    Admitted,
    FileReports,
    InFlight,
    ProcessReport,
    digest,
    progress,
    reports_for,
)
from envmaintenance.middleware import MaintenanceMiddleware
from envmaintenance.schedule import State
from envmaintenance.stores import FileStore, SwitchLocation
from envmaintenance.switch import get_switch
from envmaintenance.waiting import FleetBehind, wait_for_fleet
from tests.conftest import SetEnv, SetNow

NOW = 1_800_000_000.0
REPORT = ProcessReport(
    host="web-1",
    pid=100,
    server="gunicorn",
    started_at=NOW - 60,
    document=digest("MAINTENANCE_MODE=1\n"),
    state="on",
    read_only=False,
    source="switch",
    last_read_at=NOW - 1,
    trouble=None,
    in_flight=0,
    reported_at=NOW - 1,
    interval=2,
)


def file_reports(tmp_path: Path) -> FileReports:
    path = tmp_path / "switch"
    return FileReports(FileStore(SwitchLocation("file", "", "", path)))


def test_in_flight_counts_by_the_state_requests_were_let_in_under() -> None:
    before, after = State(), State(enabled=True)
    in_flight = InFlight()
    first = in_flight.admit(before)
    second = in_flight.admit(before)
    in_flight.admit(after)
    assert in_flight.before(after) == 2
    assert in_flight.before(before) == 1
    in_flight.done(first)
    in_flight.done(second)
    assert in_flight.before(after) == 0


def test_in_flight_is_exact_under_threads() -> None:
    state, in_flight = State(), InFlight()

    def serve() -> None:
        for _ in range(5000):
            in_flight.done(in_flight.admit(state))

    threads = [threading.Thread(target=serve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert in_flight.before(State(enabled=True)) == 0
    assert in_flight.before(state) == 0


def test_a_request_admitted_while_its_state_is_dropped_is_still_counted() -> None:
    """The reporter drops a state nothing is served under just as a request of
    that state is being admitted: the request is counted in a live entry."""
    old, new = State(), State(enabled=True)
    in_flight = InFlight()
    in_flight.done(in_flight.admit(old))
    dropped = in_flight._by_state[id(old)]

    class DroppedOnAppend(Admitted):
        """The entry of ``old``, dropped by the reporter right as a request
        appends to it."""

        def append(self, item: None) -> None:
            in_flight.before(new)
            super().append(item)

    racing = DroppedOnAppend(old)
    in_flight._by_state[id(old)] = in_flight._last = racing
    admitted = in_flight.admit(old)
    assert admitted is not racing
    assert admitted is not dropped
    assert racing.dropped
    assert len(racing) == 0
    assert in_flight.before(new) == 1
    in_flight.done(admitted)
    assert in_flight.before(new) == 0


def test_a_forked_child_counts_none_of_its_parents_requests() -> None:
    state = State()
    in_flight = InFlight()
    parents = in_flight.admit(state)
    in_flight.forget()
    assert in_flight.before(State(enabled=True)) == 0
    mine = in_flight.admit(state)
    assert mine is not parents
    assert in_flight.before(State(enabled=True)) == 1


def test_file_reports_are_written_read_and_removed(tmp_path: Path) -> None:
    reports = file_reports(tmp_path)
    assert reports.writable()
    reports.write(REPORT)
    reports.write(replace(REPORT, pid=101))
    assert [r.pid for r in reports.read_all()] == [100, 101]
    (reports.directory / "garbage.json").write_text("{")
    assert len(reports.read_all()) == 2  # what does not parse is no report
    reports.remove("web-1", 100)
    assert [r.pid for r in reports.read_all()] == [101]


def test_where_reports_cannot_be_written_nobody_pretends(tmp_path: Path) -> None:
    (tmp_path / "switch.processes").write_text("a file in the way")
    store = FileStore(SwitchLocation("file", "", "", tmp_path / "switch"))
    assert reports_for(store) is None


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({}, "switched"),
        ({"in_flight": 3}, "draining"),
        ({"document": digest("MAINTENANCE_MODE=0\n")}, "behind"),
        ({"reported_at": NOW - 7}, "silent"),  # three intervals of 2 s, and more
        ({"reported_at": NOW - 6}, "switched"),
    ],
)
def test_progress_sorts_each_process(changes: dict[str, object], kind: str) -> None:
    report = replace(REPORT, **changes)  # type: ignore[arg-type]
    state = progress([report], REPORT.document, NOW)
    assert getattr(state, kind) == (report,)
    assert state.confirmed is (kind == "switched")


def test_a_request_let_through_is_in_flight_until_answered(
    maintenance_env: SetEnv, tmp_path: Path, no_reader: None
) -> None:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}")
    entered, release = threading.Event(), threading.Event()

    def view(request: HttpRequest) -> HttpResponse:
        entered.set()
        release.wait(10)
        return HttpResponse("written")

    middleware = MaintenanceMiddleware(view)
    switch = get_switch()
    served = threading.Thread(target=middleware, args=(RequestFactory().post("/"),))
    served.start()
    assert entered.wait(10)
    path.write_text("MAINTENANCE_MODE=1\n")
    switch.refresh(switch.attempted_at + 2)
    assert switch.in_flight.before(switch.state) == 1  # admitted while off
    assert middleware(RequestFactory().post("/")).status_code == 503  # not counted
    release.set()
    served.join(10)
    assert switch.in_flight.before(switch.state) == 0


def reporting_process(maintenance_env: SetEnv, tmp_path: Path) -> Path:
    """This test process follows a file switch and reports, as a worker does."""
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", switch_interval="1")
    switch = get_switch()
    switch.interval = 0.05
    switch.current(switch.attempted_at)  # the reader starts, and reports
    return path


def test_wait_returns_once_every_process_has_switched(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    reporting_process(maintenance_env, tmp_path)
    out = StringIO()
    call_command("maintenance", "on", "--wait", "10", stdout=out)
    assert out.getvalue().splitlines()[-1].startswith("All 1 process switched in ")


def test_wait_names_a_process_that_stopped_reporting(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    path = reporting_process(maintenance_env, tmp_path)
    reports = file_reports(tmp_path)
    silent = replace(REPORT, pid=4242, reported_at=time.time() - 60)
    reports.write(silent)
    with pytest.raises(CommandError) as info:
        call_command("maintenance", "on", "--wait", "1", stdout=StringIO())
    message = str(info.value)
    assert "1 of 2 processes are behind after 1 s" in message
    assert "web-1:4242 (gunicorn): not reporting (last report 6" in message
    assert path.read_text().startswith("MAINTENANCE_MODE=1\n")  # the write stands


def test_wait_cannot_confirm_where_processes_cannot_report(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    (tmp_path / "switch.processes").write_text("a file in the way")
    maintenance_env(switch_url=f"file://{tmp_path}/switch")
    with pytest.raises(CommandError, match="cannot confirm: processes cannot report"):
        call_command("maintenance", "on", "--wait", stdout=StringIO())


def test_processes_lists_what_each_reports(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    maintenance_env(switch_url=f"file://{tmp_path}/switch")
    reports = file_reports(tmp_path)
    assert reports.writable()
    now = time.time()
    reports.write(replace(REPORT, reported_at=now, last_read_at=now))
    reports.write(
        replace(
            REPORT,
            pid=700,
            reported_at=now - 600,
            last_read_at=now - 600,
            trouble="timeout",
        )
    )
    out = StringIO()
    call_command("maintenance", "processes", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("web-1:100 gunicorn: on (switch, sha256:")
    assert "0 in flight, reported 0 s ago" in lines[0]
    assert lines[1].endswith("NOT REPORTING  trouble: timeout")
    as_json = StringIO()
    call_command("maintenance", "processes", "--json", stdout=as_json)
    assert '"reporting": false' in as_json.getvalue()


class Scripted:
    """Reports that answer from a script, one list per read."""

    where = "scripted"

    def __init__(self, *answers: list[ProcessReport]) -> None:
        self.answers = list(answers)

    def write(self, report: ProcessReport) -> None:
        raise AssertionError("the wait never writes")

    def remove(self, host: str, pid: int) -> None:
        raise AssertionError("the wait never removes")

    def read_all(self) -> list[ProcessReport]:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def test_the_wait_shows_progress_until_the_fleet_confirms(
    frozen_clock: SetNow,
) -> None:
    frozen_clock(NOW)
    behind = replace(REPORT, document=digest(None))
    draining = replace(REPORT, in_flight=2)
    shown: list[str] = []
    done = wait_for_fleet(
        Scripted([], [behind], [draining], [REPORT]), REPORT.document, 30, shown.append
    )
    assert shown == [
        "waiting: no process reports yet",
        "0/1 switched, 0 draining (0 requests), 1 behind, 0 not reporting",
        "0/1 switched, 1 draining (2 requests), 0 behind, 0 not reporting",
    ]
    assert done.startswith("All 1 process switched in ")
    assert done.endswith(", after 2 requests from before it finished.")


def test_a_wait_with_no_process_reporting_confirms_nothing(
    frozen_clock: SetNow,
) -> None:
    frozen_clock(NOW)
    with pytest.raises(FleetBehind, match="no process reported within 0 s"):
        wait_for_fleet(Scripted([]), REPORT.document, 0)


def test_a_process_still_draining_is_named_with_its_requests(
    frozen_clock: SetNow,
) -> None:
    frozen_clock(NOW)
    draining = replace(REPORT, in_flight=3, trouble="timeout")
    with pytest.raises(FleetBehind) as info:
        wait_for_fleet(Scripted([draining]), REPORT.document, 0)
    assert "switched, 3 requests from before still in flight" in str(info.value)
    assert "trouble: timeout" in str(info.value)


async def test_a_request_let_through_under_asgi_is_in_flight_too(
    maintenance_env: SetEnv, tmp_path: Path, no_reader: None
) -> None:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}")
    entered, release = asyncio.Event(), asyncio.Event()

    async def view(request: HttpRequest) -> HttpResponse:
        entered.set()
        await release.wait()
        return HttpResponse("written")

    middleware = MaintenanceMiddleware(view)
    switch = get_switch()
    served = asyncio.ensure_future(middleware(RequestFactory().post("/")))  # type: ignore[call-overload]
    await entered.wait()
    path.write_text("MAINTENANCE_MODE=1\n")
    await asyncio.to_thread(switch.refresh, switch.attempted_at + 2)
    assert switch.in_flight.before(switch.state) == 1
    release.set()
    assert (await served).status_code == 200
    assert switch.in_flight.before(switch.state) == 0
