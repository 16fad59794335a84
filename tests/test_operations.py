"""The operator's maintenance end to end, in one process: the history, the
signals and the hook, and `maintenance run` around a command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from envmaintenance import events, signals
from envmaintenance.documents import InvalidDocument, parse_document, revision_of
from envmaintenance.history import PASS_ISSUED, SWITCHED, Entry, parse_entry
from envmaintenance.state import State
from envmaintenance.stores import HISTORY_LENGTH, SwitchLocation
from envmaintenance.stores.file import FileStore
from envmaintenance.switch import get_switch
from tests.conftest import SetEnv
from tests.members import add_member
from tests.processes import ROOT, child_environment


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def switch_path(tmp_path: Path, maintenance_env: SetEnv) -> Path:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", switch_interval="1")
    add_member(get_switch().store)  # type: ignore[arg-type]
    return path


@pytest.fixture
def reporting(maintenance_env: SetEnv, tmp_path: Path) -> Iterator[Path]:
    """This test process follows a file switch and reports, as a worker does:
    `--wait` has a member that acknowledges."""
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", switch_interval="1")
    switch = get_switch()
    switch.reader.interval = 0.05
    switch.start()
    yield path
    switch.stop()


# -- history -------------------------------------------------------------------


def test_every_write_and_every_pass_goes_into_the_history(switch_path: Path) -> None:
    run(
        "on", "--paths", "/checkout", "--for", "30m", "--by", "alice", "--reason", "psp"
    )
    run("pass", "carol", "--by", "alice")
    run("env", "--by", "bob")
    lines = run("history").splitlines()
    assert len(lines) == 3
    assert " revision 2: environment by bob on " in lines[0]
    assert " pass " in lines[1]
    assert " issued to carol, until " in lines[1]
    assert " revision 1: on for /checkout until " in lines[2]
    assert lines[2].endswith("(reason: psp)")
    entries = json.loads(run("history", "--json"))
    assert [e["event"] for e in entries] == [SWITCHED, PASS_ISSUED, SWITCHED]
    assert entries[2]["paths"] == ["/checkout"]
    assert "maintenance_pass" not in run("history")  # never a pass's secret


def test_the_history_keeps_the_last_thousand(tmp_path: Path) -> None:
    store = FileStore(SwitchLocation("file", "", "", tmp_path / "switch"))
    entry = Entry(SWITCHED, "2026-12-01T00:00:00+00:00", "a", "", "h", 1)
    for number in range(HISTORY_LENGTH + 150):
        store.history.append(Entry(**{**vars(entry), "revision": number}).encode())
    kept = store.history.read(HISTORY_LENGTH + 500)
    assert len(kept) == HISTORY_LENGTH
    newest = parse_entry(kept[0])
    assert newest is not None
    assert newest.revision == HISTORY_LENGTH + 149
    lines = (tmp_path / "switch.history").read_bytes().count(b"\n")
    assert lines <= HISTORY_LENGTH * 1.1


def test_what_does_not_parse_in_the_history_is_counted_not_shown(
    switch_path: Path,
) -> None:
    run("on", "--by", "alice")
    with (switch_path.parent / "switch.history").open("ab") as history:
        history.write(b'{"event": "\\u001b[2Jx"}\nnot json\n')
    lines = run("history").splitlines()
    assert lines[-1] == "2 unreadable reports ignored."
    assert "\x1b" not in run("history")


def test_a_lost_document_is_said_in_the_history(switch_path: Path) -> None:
    add_member(get_switch().store, revision=7, state="on", source="switch")  # type: ignore[arg-type]
    run("on", "--by", "alice")
    assert "the store had lost its document (revision 7 held)" in run("history")


# -- signals and the hook ----------------------------------------------------------


def test_a_write_is_announced_once_with_before_and_after(switch_path: Path) -> None:
    heard: list[dict[str, Any]] = []

    def receiver(sender: object, **kwargs: Any) -> None:
        heard.append(kwargs)

    signals.switched.connect(receiver)
    try:
        run("on", "--by", "alice", "--reason", "db")
        run("off", "--by", "bob")
    finally:
        signals.switched.disconnect(receiver)
    first, second = heard
    assert (first["revision"], first["by"], first["reason"]) == (1, "alice", "db")
    assert isinstance(first["before"], State)
    assert first["after"].enabled is True
    assert second["before"].enabled is True
    assert second["after"].enabled is False


def test_a_wait_is_announced_confirmed_or_behind(reporting: Path) -> None:
    heard: list[tuple[str, dict[str, Any]]] = []

    def confirmed(sender: object, **kwargs: Any) -> None:
        heard.append(("confirmed", kwargs))

    def behind(sender: object, **kwargs: Any) -> None:
        heard.append(("behind", kwargs))

    signals.confirmed.connect(confirmed)
    signals.behind.connect(behind)
    try:
        run("on", "--wait", "10")
        get_switch().stop()  # the one member goes silent
        with pytest.raises(CommandError):
            run("off", "--wait", "0.5")
    finally:
        signals.confirmed.disconnect(confirmed)
        signals.behind.disconnect(behind)
    (kind, details), (kind2, details2) = heard
    assert (kind, details["revision"], details["processes"]) == ("confirmed", 1, 1)
    assert (kind2, details2["revision"], len(details2["processes"])) == ("behind", 2, 1)


def hook_script(tmp_path: Path, body: str) -> str:
    script = tmp_path / "hook.sh"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def test_the_hook_is_told_each_event_in_its_environment(
    reporting: Path, maintenance_env: SetEnv, tmp_path: Path
) -> None:
    told = tmp_path / "told"
    hook = hook_script(
        tmp_path, f"env | grep ^ENVMAINTENANCE_ | sort >> {told}; echo --- >> {told}"
    )
    maintenance_env(switch_hook=f"{hook} --quiet")
    run(
        "on",
        "--paths",
        "/checkout",
        "--for",
        "30m",
        "--by",
        "alice",
        "--reason",
        "psp",
        "--wait",
        "10",
    )
    first, second, _rest = told.read_text().split("---\n")
    assert "ENVMAINTENANCE_EVENT=switched\n" in first
    assert "ENVMAINTENANCE_REVISION=1\n" in first
    assert "ENVMAINTENANCE_STATE=on\n" in first
    assert "ENVMAINTENANCE_PATHS=/checkout\n" in first
    assert "ENVMAINTENANCE_BY=alice\n" in first
    assert "ENVMAINTENANCE_REASON=psp\n" in first
    assert "ENVMAINTENANCE_ENDS_AT=20" in first
    assert "ENVMAINTENANCE_EVENT=confirmed\n" in second


def test_a_hook_that_fails_or_hangs_never_undoes_the_switch(
    switch_path: Path,
    maintenance_env: SetEnv,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    maintenance_env(switch_hook=hook_script(tmp_path, "exit 3"))
    out = run("on")
    assert "the hook " in out
    assert "failed (exit status 3); the switch stands" in out
    assert revision_of(switch_path.read_text()) == 1
    monkeypatch.setattr(events, "HOOK_TIMEOUT_SECONDS", 0.5)
    maintenance_env(switch_hook=hook_script(tmp_path, "sleep 30"))
    started = time.monotonic()
    out = run("off")
    assert time.monotonic() - started < 20  # not the hook's thirty seconds
    assert "did not finish within 0.5 s and was stopped; the switch stands" in out
    assert revision_of(switch_path.read_text()) == 2
    maintenance_env(switch_hook="/no/such/hook")
    assert "could not run" in run("env")


def test_the_switch_can_never_set_the_hook() -> None:
    with pytest.raises(InvalidDocument, match="can never be set through the switch"):
        parse_document("MAINTENANCE_MODE=1\nMAINTENANCE_SWITCH_HOOK=rm -rf /\n")


# -- maintenance run ------------------------------------------------------------------


def test_run_switches_on_runs_and_puts_back_what_was_in_force(
    reporting: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    out = run(
        "run",
        "--for",
        "20m",
        "--reason",
        "0042",
        "--wait",
        "10",
        "--",
        "sh",
        "-c",
        f"touch {marker}",
    )
    assert marker.exists()
    document = parse_document(reporting.read_text())
    assert document.revision == 2
    assert document.state(State()).source == "environment"  # env was in control
    assert out.count("serve revision") == 2  # both confirmed


def test_run_puts_back_off_when_off_was_in_force(reporting: Path) -> None:
    run("off", "--wait", "10")
    run("run", "--wait", "10", "--", "sh", "-c", "exit 0")
    assert parse_document(reporting.read_text()).values["enabled"] is False


def test_a_command_that_fails_leaves_maintenance_on_with_its_status(
    reporting: Path,
) -> None:
    err = StringIO()
    with pytest.raises(SystemExit) as info:
        call_command(
            "maintenance",
            "run",
            "--wait",
            "10",
            "--",
            "sh",
            "-c",
            "exit 3",
            stdout=StringIO(),
            stderr=err,
        )
    assert info.value.code == 3
    assert parse_document(reporting.read_text()).state(State()).enabled is True
    assert (
        err.getvalue()
        .strip()
        .endswith(
            "sh exited with status 3: maintenance stays on (revision 1); lift it with: "
            "manage.py maintenance env --wait"
        )
    )


def test_a_failed_wait_runs_nothing(switch_path: Path, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    err = StringIO()
    with pytest.raises(SystemExit) as info:
        call_command(
            "maintenance",
            "run",
            "--wait",
            "0.3",
            "--",
            "touch",
            str(marker),
            stdout=StringIO(),
            stderr=err,
        )
    assert info.value.code == 1
    assert not marker.exists()
    assert (
        "the wait failed, so the command did not run: maintenance stays on"
        in err.getvalue()
    )


def test_run_needs_a_command(switch_path: Path) -> None:
    with pytest.raises(CommandError, match="give the command after --"):
        run("run", "--")


def test_an_interrupted_run_leaves_maintenance_on(
    reporting: Path, tmp_path: Path
) -> None:
    """SIGINT to `run` (a script, no terminal): forwarded to the command, which
    ends; maintenance stays on, and `run` exits as the command did."""
    started = tmp_path / "started"
    command = [
        sys.executable,
        "-m",
        "django",
        "maintenance",
        "run",
        "--wait",
        "10",
        "--",
        "sh",
        "-c",
        f"touch {started}; exec sleep 30",
    ]
    environment = child_environment(
        DJANGO_SETTINGS_MODULE="tests.settings",
        MAINTENANCE_SWITCH_URL=f"file://{reporting}",
        MAINTENANCE_SWITCH_INTERVAL="1",
    )
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not started.exists():
        assert time.monotonic() < deadline, process.communicate(timeout=5)
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 128 + signal.SIGINT
    assert "sh was stopped by SIGINT: maintenance stays on (revision 1)" in err, err
    assert parse_document(reporting.read_text()).state(State()).enabled is True
    assert os.path.exists(started)


def test_run_with_a_store_it_cannot_read_says_so_in_one_line(
    tmp_path: Path, maintenance_env: SetEnv
) -> None:
    (tmp_path / "switch").mkdir()  # a directory where the document should be
    maintenance_env(switch_url=f"file://{tmp_path}/switch")
    with pytest.raises(CommandError, match=r"^the switch was not changed: cannot read"):
        run("run", "--", "true")
