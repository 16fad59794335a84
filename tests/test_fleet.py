"""The fleet: requests in flight, reports and their validation, membership, and
the wait that reads them."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, replace
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.test import RequestFactory

from envmaintenance.documents import revision_of
from envmaintenance.fleet import (
    Fleet,
    ProcessReport,
    Reporter,
    parse_report,
    read_fleet,
    started_ticks,
)
from envmaintenance.fleet_words import behind, confirmed, progress_line
from envmaintenance.inflight import Admitted, InFlight
from envmaintenance.middleware import MaintenanceMiddleware
from envmaintenance.state import State
from envmaintenance.stores import Member, StoreError, SwitchLocation
from envmaintenance.stores.file import FileStore
from envmaintenance.switch import get_switch
from envmaintenance.waiting import (
    Confirmed,
    FleetBehind,
    Progress,
    Silence,
    judge,
    wait_for_fleet,
)
from tests.conftest import SetEnv
from tests.members import forge

NOW = time.time()
REPORT = ProcessReport(
    id="0123456789abcdef",
    host="web-1",
    pid=100,
    server="gunicorn",
    started_at=NOW - 60,
    revision=5,
    rejected_revision=None,
    rejected_error=None,
    state="on",
    read_only=False,
    source="switch",
    in_flight=0,
    last_read_at=NOW - 1,
    trouble=None,
    reported_at=NOW - 1,
    interval=2,
    seq=7,
)


def as_bytes(**changes: Any) -> bytes:
    return json.dumps({**asdict(REPORT), **changes}).encode()


# -- requests in flight ------------------------------------------------------


def test_in_flight_counts_by_the_state_requests_were_let_in_under() -> None:
    before, after = State(), State(enabled=True)
    in_flight = InFlight()
    first = in_flight.admit(before)
    second = in_flight.admit(before)
    in_flight.admit(after)
    assert in_flight.before(after) == 2
    assert in_flight.before(before) == 1
    first.done()
    second.done()
    assert in_flight.before(after) == 0


def test_in_flight_is_exact_under_threads() -> None:
    state, in_flight = State(), InFlight()

    def serve() -> None:
        for _ in range(5000):
            in_flight.admit(state).done()

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
    in_flight.admit(old).done()
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
    admitted.done()
    assert in_flight.before(new) == 0


def test_a_forked_child_counts_none_of_its_parents_requests() -> None:
    state = State()
    in_flight = InFlight()
    parents = in_flight.admit(state)
    assert in_flight.served
    in_flight.forget()
    assert not in_flight.served
    assert in_flight.before(State(enabled=True)) == 0
    mine = in_flight.admit(state)
    assert mine is not parents
    assert in_flight.before(State(enabled=True)) == 1


@pytest.fixture
def file_switch(maintenance_env: SetEnv, tmp_path: Path, no_reader: None) -> Path:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}")
    return path


def switch_on(path: Path) -> None:
    """The switch goes on, and this process reads it (as its reader would)."""
    path.write_text("REVISION=1\nMAINTENANCE_MODE=1\n")
    get_switch().refresh(time.time())


def test_a_request_let_through_is_in_flight_until_answered(file_switch: Path) -> None:
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
    switch_on(file_switch)
    assert switch.in_flight.before(switch.state) == 1  # admitted while off
    assert middleware(RequestFactory().post("/")).status_code == 503  # not counted
    release.set()
    served.join(10)
    assert switch.in_flight.before(switch.state) == 0


def test_a_view_that_raises_is_no_longer_in_flight(file_switch: Path) -> None:
    def view(request: HttpRequest) -> HttpResponse:
        raise RuntimeError("boom")

    middleware = MaintenanceMiddleware(view)
    with pytest.raises(RuntimeError):
        middleware(RequestFactory().get("/"))
    switch_on(file_switch)
    assert get_switch().in_flight.before(get_switch().state) == 0


@pytest.mark.django_db  # close() sends request_finished, which closes connections
def test_a_streaming_response_is_in_flight_until_its_last_chunk(
    file_switch: Path,
) -> None:
    """--wait must wait for a download admitted before the switch: it counts
    until the server closes it (last chunk sent, or the client gone)."""

    def chunks() -> Iterator[bytes]:
        yield b"one"
        yield b"two"

    middleware = MaintenanceMiddleware(lambda request: StreamingHttpResponse(chunks()))
    response = middleware(RequestFactory().get("/download"))
    switch_on(file_switch)
    switch = get_switch()
    assert switch.in_flight.before(switch.state) == 1  # answered, still streaming
    assert b"".join(response.streaming_content) == b"onetwo"  # type: ignore[attr-defined]
    assert switch.in_flight.before(switch.state) == 1  # sent, not yet closed
    response.close()
    assert switch.in_flight.before(switch.state) == 0
    response.close()  # a second close counts nothing twice
    assert switch.in_flight.before(switch.state) == 0


@pytest.mark.django_db  # close() sends request_finished, which closes connections
def test_a_streaming_response_the_client_left_is_no_longer_in_flight(
    file_switch: Path,
) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"."

    middleware = MaintenanceMiddleware(lambda request: StreamingHttpResponse(endless()))
    response = middleware(RequestFactory().get("/events"))
    next(iter(response))
    response.close()  # the server closes it when the client goes away
    switch_on(file_switch)
    assert get_switch().in_flight.before(get_switch().state) == 0


async def test_a_request_let_through_under_asgi_is_in_flight_too(
    file_switch: Path,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()

    async def view(request: HttpRequest) -> HttpResponse:
        entered.set()
        await release.wait()
        return HttpResponse("written")

    middleware = MaintenanceMiddleware(view)
    switch = get_switch()
    served = asyncio.ensure_future(middleware(RequestFactory().post("/")))  # type: ignore[call-overload]
    await entered.wait()
    await asyncio.to_thread(switch_on, file_switch)
    assert switch.in_flight.before(switch.state) == 1
    release.set()
    await served
    assert switch.in_flight.before(switch.state) == 0


# -- reports ------------------------------------------------------------------


def test_a_report_reads_back_as_written() -> None:
    assert parse_report(REPORT.as_json(), NOW) == REPORT
    assert parse_report(as_bytes(newer_field="ignored"), NOW) == REPORT


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"[]",
        b"null",
        b"x" * 5000,
        as_bytes(padding="x" * 5000),  # oversized
        as_bytes(pid="100"),
        as_bytes(pid=True),
        as_bytes(pid=0),
        as_bytes(revision=-1),
        as_bytes(revision=1.5),
        as_bytes(in_flight=-1),
        as_bytes(interval=0),
        as_bytes(interval=3600),
        as_bytes(state="maybe"),
        as_bytes(source="mallory"),
        as_bytes(read_only="no"),
        as_bytes(id="../../etc"),
        as_bytes(host="web\n1"),
        as_bytes(trouble="\x1b[2Jcleared"),
        as_bytes(server="gunicorn\u202e"),
        as_bytes(rejected_error="e" * 600),
        as_bytes(reported_at=NOW + 3600),  # from the future
        b'{"reported_at": NaN}',
        json.dumps({**asdict(REPORT), "reported_at": math.inf}).encode(),
        json.dumps({**asdict(REPORT), "started_at": math.nan}).encode(),
        json.dumps({k: v for k, v in asdict(REPORT).items() if k != "seq"}).encode(),
    ],
)
def test_anything_else_is_no_report(data: bytes) -> None:
    assert parse_report(data, NOW) is None


def test_read_fleet_counts_what_does_not_validate_and_forgets_the_long_silent(
    tmp_path: Path,
) -> None:
    store = FileStore(SwitchLocation("file", "", "", tmp_path / "switch"))
    forge(store, REPORT.as_json())
    forge(store, b"{garbage")
    old = forge(store, as_bytes(id="fedcba9876543210", reported_at=NOW - 7200))
    fleet = read_fleet(store.members, NOW, forget_after=3600)
    assert fleet.reports == (REPORT,)
    assert fleet.unreadable == 1
    assert old not in [member_id for member_id, _ in store.members.read()]


# -- membership -----------------------------------------------------------------


class Members:
    """In memory, with siblings on this host as scripted."""

    where = "memory"

    def __init__(self, siblings: list[Member]) -> None:
        self._siblings = siblings
        self.reported: list[bytes] = []
        self.left: list[Member] = []

    def can_report(self) -> bool:
        return True

    def report(self, member: Member, revision: int, data: bytes) -> None:
        self.reported.append(data)

    def leave(self, member: Member) -> None:
        self.left.append(member)

    def forget(self, ids: Iterable[str]) -> None:
        raise AssertionError("a process forgets nobody")

    def read(self) -> list[tuple[str, bytes]]:
        return []

    def siblings(self, host_key: str) -> list[Member]:
        return self._siblings

    def highest_revision(self) -> int | None:
        return None


def report_fields() -> dict[str, Any]:
    fields = asdict(REPORT)
    for name in ("id", "host", "pid", "server", "started_at", "seq"):
        del fields[name]
    return fields


def test_a_process_removes_the_members_of_its_host_that_have_gone() -> None:
    """A worker SIGKILLed and replaced never removed itself: a sibling finds
    its pid gone (or taken by another process since) and removes it."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    me = os.getpid()
    alive = Member("aaaaaaaaaaaaaaaa", "h", me, started_ticks(me) or 0)
    dead = Member("bbbbbbbbbbbbbbbb", "h", gone.pid, 1)
    reused = Member("cccccccccccccccc", "h", me, 1)  # our pid, another start
    members = Members([alive, dead, reused])
    reporter = Reporter(members)
    reporter.report(report_fields())
    assert members.left == [dead, reused]
    assert parse_report(members.reported[0], time.time()) is not None


def test_a_clean_exit_leaves_the_fleet() -> None:
    members = Members([])
    reporter = Reporter(members)
    reporter.leave()
    assert members.left == [reporter.member]


def test_a_forked_child_is_a_member_of_its_own() -> None:
    reporter = Reporter(Members([]))
    parent = reporter.member
    reporter.forked()
    assert reporter.member.id != parent.id


# -- the wait -------------------------------------------------------------------


def fleet(*reports: ProcessReport, unreadable: int = 0) -> Fleet:
    return Fleet(reports, unreadable)


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({}, "switched"),
        ({"revision": 6}, "switched"),  # a later write: also confirmed
        ({"in_flight": 3}, "draining"),
        ({"revision": 4}, "behind"),
        ({"revision": 9}, "ahead"),  # above the store's 6: the store went back
        ({"revision": 4, "rejected_revision": 5, "rejected_error": "bad"}, "rejecting"),
        ({"reported_at": NOW - 7}, "silent"),  # three intervals of 2 s, and more
        ({"reported_at": NOW - 6}, "switched"),
    ],
)
def test_judge_sorts_each_member(changes: dict[str, Any], kind: str) -> None:
    report = replace(REPORT, **changes)
    progress = judge(fleet(report), 5, 6, NOW, Silence())
    assert getattr(progress, kind) == (report,)
    assert progress.confirmed is (kind == "switched")


def test_a_member_whose_report_never_changes_is_silent_however_it_is_dated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    silence = Silence()
    clock = [1000.0]
    monkeypatch.setattr(time, "monotonic", lambda: clock[0])
    assert not silence.is_silent(REPORT, NOW)
    clock[0] += 7
    assert silence.is_silent(REPORT, NOW)  # six seconds of watching, same seq
    assert not silence.is_silent(replace(REPORT, seq=8), NOW)


class ScriptedMembers:
    """Members that answer from a script, one list of reports (or an error)
    per read."""

    where = "scripted"

    def __init__(self, answers: list[list[ProcessReport] | Exception]) -> None:
        self.answers = answers
        self.forgotten: list[str] = []

    def read(self) -> list[tuple[str, bytes]]:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return [(r.id, r.as_json()) for r in answer if r.id not in self.forgotten]

    def forget(self, ids: Iterable[str]) -> None:
        self.forgotten += list(ids)


class Scripted:
    """A store whose document holds ``revision``, and scripted members."""

    location = SwitchLocation("redis", "redis://r:6379/0", "redis://r:6379/0")

    def __init__(self, revision: int, *answers: list[ProcessReport] | Exception):
        self.document = f"REVISION={revision}\nMAINTENANCE_MODE=1\n"
        self.members = ScriptedMembers(list(answers))

    def read(self) -> str:
        return self.document


def wait(store: Scripted, seconds: float = 30, **options: Any) -> Any:
    return wait_for_fleet(store, 5, seconds, 3600, revision_of, **options)  # type: ignore[arg-type]


def test_the_wait_shows_progress_until_the_fleet_confirms() -> None:
    fresh = replace(REPORT, reported_at=time.time())
    behind_ = replace(fresh, revision=4)
    draining = replace(fresh, in_flight=2)
    shown: list[str] = []
    done = wait(
        Scripted(5, [], [behind_], [draining], [fresh]),
        show=lambda progress: shown.append(progress_line(progress)),
    )
    assert shown == [
        "revision 5: 0/0 switched, 0 draining (0 requests), 0 behind, 0 silent",
        "revision 5: 0/1 switched, 0 draining (0 requests), 1 behind, 0 silent",
        "revision 5: 0/1 switched, 1 draining (2 requests), 0 behind, 0 silent",
    ]
    line = confirmed(done, 3600)
    assert line.startswith(
        "All 1 process (every process seen in the last hour) serve revision 5, "
        "after 2 requests from before it finished; confirmed in "
    )


def test_a_rejection_fails_the_wait_at_once_quoting_the_error() -> None:
    refusing = replace(
        REPORT,
        reported_at=time.time(),
        revision=4,
        rejected_revision=5,
        rejected_error="MAINTENANCE_MODE: 'maybe' is not a switch",
    )
    started = time.monotonic()
    with pytest.raises(FleetBehind) as info:
        wait(Scripted(5, [refusing]), seconds=600)
    # At once: a hang guard far below the ten minutes the wait had.
    assert time.monotonic() - started < 300
    message = behind(info.value, 5, 600, time.time())
    assert message == (
        "The switch was written (revision 5), but 1 process rejected it:\n"
        "  web-1:100 (gunicorn, 0123456789abcdef): MAINTENANCE_MODE: 'maybe' is "
        "not a switch; still serving revision 4"
    )


def test_a_store_error_while_waiting_is_asked_again_until_it_answers() -> None:
    fresh = replace(REPORT, reported_at=time.time())
    down = StoreError("cannot read the reports of redis://r:6379/0: timeout")
    done = wait(Scripted(5, down, down, [fresh]))
    assert done.progress.switched == (fresh,)


def test_a_store_that_stays_down_fails_the_wait_saying_what_is_unknown() -> None:
    down = StoreError("cannot read the reports of redis://r:6379/0: timeout")
    with pytest.raises(FleetBehind) as info:
        wait(Scripted(5, down), seconds=0.5)
    assert behind(info.value, 5, 0.5, time.time()) == (
        "The switch was written (revision 5), but the store could not be read "
        "while waiting (cannot read the reports of redis://r:6379/0: timeout): "
        "nothing is known of the processes."
    )


def test_a_wait_with_no_member_confirms_nothing() -> None:
    with pytest.raises(FleetBehind) as info:
        wait(Scripted(5, []), seconds=0)
    assert "no process reported within 0 s" in behind(info.value, 5, 0, time.time())


def test_the_members_behind_are_named_each_with_why() -> None:
    now = time.time()
    reports = [
        replace(REPORT, id=f"{n:016x}", pid=n, reported_at=now, revision=4)
        for n in range(1, 24)
    ] + [
        replace(REPORT, id="a" * 16, pid=500, reported_at=now - 60),
        replace(
            REPORT, id="b" * 16, pid=501, reported_at=now, in_flight=3, trouble="t"
        ),
    ]
    with pytest.raises(FleetBehind) as info:
        wait(Scripted(5, reports), seconds=0)
    lines = behind(info.value, 5, 0, now).splitlines()
    assert lines[0] == (
        "The switch was written (revision 5), but 25 of 25 processes are behind "
        "after 0 s:"
    )
    assert lines[1].startswith(
        "  web-1:500 (gunicorn, aaaaaaaaaaaaaaaa): silent since 60 s ago (it last "
        "served revision 5, maintenance on)"
    )
    assert "still serves revision 4, maintenance on" in lines[2]
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == (
        "  … and 5 more ('manage.py maintenance processes' lists them)"
    )


def test_forget_silent_drops_the_silent_members_naming_each() -> None:
    now = time.time()
    fresh = replace(REPORT, reported_at=now)
    gone = replace(REPORT, id="e" * 16, pid=666, reported_at=now - 600)
    store = Scripted(5, [fresh, gone])
    done = wait(store, forget_silent=True)
    assert store.members.forgotten == [gone.id]
    assert confirmed(done, 3600).endswith(
        "\nForgot 1 silent process: web-1:666 (gunicorn, eeeeeeeeeeeeeeee)."
    )


def test_unreadable_reports_are_counted_in_the_answer() -> None:
    progress = Progress(5, switched=(REPORT,), unreadable=3)
    assert progress.confirmed
    line = confirmed(Confirmed(progress, 1.0, 0), 3600)
    assert line.endswith("\n3 unreadable reports ignored.")


# -- the command ------------------------------------------------------------------


@pytest.fixture
def reporting(maintenance_env: SetEnv, tmp_path: Path) -> Iterator[Path]:
    """This test process follows a file switch and reports, as a worker does."""
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", switch_interval="1")
    switch = get_switch()
    switch.reader.interval = 0.05
    switch.start()  # the reader starts, and reports
    yield path
    switch.stop()


def test_wait_returns_once_every_process_serves_the_revision(reporting: Path) -> None:
    out = StringIO()
    call_command("maintenance", "on", "--wait", "10", stdout=out)
    assert (
        out.getvalue()
        .splitlines()[-1]
        .startswith(
            "All 1 process (every process seen in the last hour) serve revision 1; "
        )
    )


def test_wait_names_a_member_that_stopped_reporting(reporting: Path) -> None:
    store = FileStore(SwitchLocation("file", "", "", reporting))
    forge(store, as_bytes(pid=4242, reported_at=time.time() - 60, revision=0))
    with pytest.raises(CommandError) as info:
        call_command("maintenance", "on", "--wait", "1", stdout=StringIO())
    message = str(info.value)
    assert "1 of 2 processes are behind after 1 s" in message
    assert "web-1:4242 (gunicorn, 0123456789abcdef): silent since 6" in message
    assert revision_of(reporting.read_text()) == 1  # the write stands


def test_wait_cannot_confirm_where_processes_cannot_report(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    (tmp_path / "switch.processes").write_text("a file in the way")
    maintenance_env(switch_url=f"file://{tmp_path}/switch")
    with pytest.raises(CommandError, match="Cannot confirm: processes cannot report"):
        call_command("maintenance", "on", "--wait", stdout=StringIO())


def test_processes_lists_each_member_and_forgets_one(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    maintenance_env(switch_url=f"file://{tmp_path}/switch")
    store = FileStore(SwitchLocation("file", "", "", tmp_path / "switch"))
    now = time.time()
    forge(store, as_bytes(reported_at=now, last_read_at=now))
    forge(
        store,
        as_bytes(
            id="fedcba9876543210",
            pid=700,
            reported_at=now - 600,
            last_read_at=now - 600,
            trouble="timeout",
        ),
    )
    forge(store, b"\x00garbage")
    out = StringIO()
    call_command("maintenance", "processes", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(
        "web-1:100 gunicorn (0123456789abcdef): revision 5, on, read 0 s ago, "
        "0 requests in flight from before, reported 0 s ago"
    )
    assert lines[1].endswith("SILENT  trouble: timeout")
    assert lines[2] == "1 unreadable report ignored."
    as_json = StringIO()
    call_command("maintenance", "processes", "--json", stdout=as_json)
    listing = json.loads(as_json.getvalue())
    assert [row["silent"] for row in listing["processes"]] == [False, True]
    assert listing["unreadable"] == 1
    call_command("maintenance", "processes", "--forget", "fedcba9876543210", stdout=out)
    assert [r["pid"] for r in json.loads(_listing())["processes"]] == [100]
    with pytest.raises(CommandError, match="is not a process id"):
        call_command("maintenance", "processes", "--forget", "../x", stdout=out)


def _listing() -> str:
    out = StringIO()
    call_command("maintenance", "processes", "--json", stdout=out)
    return out.getvalue()


def test_a_member_that_left_never_reports_again() -> None:
    """gunicorn --preload: the master leaves as it forks, while its reader may
    be about to report; a report after leaving would make it a member again."""
    members = Members([])
    reporter = Reporter(members)
    reporter.leave()
    reporter.report(report_fields())
    assert members.reported == []
    reporter.forked()  # a child is a member of its own
    reporter.report(report_fields())
    assert len(members.reported) == 1
