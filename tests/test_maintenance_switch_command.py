"""manage.py maintenance on / off / env with a file switch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from envmaintenance import control
from envmaintenance.conf import get_config
from envmaintenance.documents import parse_document, revision_of
from envmaintenance.state import State
from envmaintenance.stores import Store, open_store
from tests.conftest import SetEnv
from tests.members import add_member
from tests.processes import ROOT, child_environment


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def switch_path(tmp_path: Path, maintenance_env: SetEnv) -> Path:
    """A file switch whose fleet has one process (so no write waits for one)."""
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", switch_interval="3")
    add_member(the_store())
    return path


def the_store() -> Store:
    config = get_config()
    assert config.switch is not None
    return open_store(config.switch, config.switch_key)


def test_on_writes_the_next_revision_and_says_what_every_process_will_serve(
    switch_path: Path,
) -> None:
    out = run(
        "on",
        "--for",
        "30m",
        "--message",
        "Upgrading",
        "--reason",
        "db",
        "--by",
        "alice",
    )
    document = parse_document(switch_path.read_text())
    state = document.state(State())
    assert document.revision == 1
    assert state.enabled is True
    assert state.message == "Upgrading"
    assert state.notes["SET_BY"] == "alice"
    assert state.ends_at is not None
    ends = state.ends_at.isoformat()
    assert out == (
        f"Maintenance switched on until {ends}, revision 1 by alice (reason: db): "
        f"every process follows within 4 s once it can read file://{switch_path}.\n"
    )


def test_each_write_goes_one_revision_up(switch_path: Path) -> None:
    for action in ("on", "off", "env", "on"):
        run(action, "--by", "bob")
    assert revision_of(switch_path.read_text()) == 4


def test_off_and_env(switch_path: Path) -> None:
    assert run("off", "--by", "bob").startswith(
        "Maintenance switched off, revision 1 by bob: every process follows"
    )
    assert "MAINTENANCE_MODE=0" in switch_path.read_text()
    out = run("env", "--by", "bob")
    assert out.startswith(
        "Maintenance handed back to the environment (maintenance off there), "
        "revision 2 by bob: every process follows within 4 s"
    )
    document = parse_document(switch_path.read_text())
    assert document.state(State()).source == "environment"
    assert document.revision == 2  # env writes a document; nothing deletes it


def test_a_write_that_lost_a_race_writes_nothing_and_names_the_winner(
    switch_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("off", "--by", "alice")
    real_look = control.look

    def raced(*args: Any, **kwargs: Any) -> control.Seen:
        seen = real_look(*args, **kwargs)
        monkeypatch.setattr("envmaintenance.operations.look", real_look)
        # Somebody else writes between this command's read and its write.
        call_command(
            "maintenance", "on", "--by", "carol", "--reason", "psp", stdout=StringIO()
        )
        return seen

    monkeypatch.setattr("envmaintenance.operations.look", raced)
    with pytest.raises(CommandError) as info:
        run("off", "--by", "bob")
    message = str(info.value)
    assert message.startswith(
        "Nothing was written: the switch changed while this command ran"
    )
    assert "switched on, revision 2 by carol (reason: psp) at 20" in message
    assert "--force" in message
    assert parse_document(switch_path.read_text()).state(State()).enabled is True


def test_force_writes_above_the_winner(
    switch_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run("off", "--by", "alice")
    real_look = control.look

    def raced(*args: Any, **kwargs: Any) -> control.Seen:
        seen = real_look(*args, **kwargs)
        monkeypatch.setattr("envmaintenance.operations.look", real_look)
        call_command("maintenance", "on", "--by", "carol", stdout=StringIO())
        return seen

    monkeypatch.setattr("envmaintenance.operations.look", raced)
    run("off", "--by", "bob", "--force")
    document = parse_document(switch_path.read_text())
    assert document.revision == 3  # above carol's 2: no number is used twice
    assert document.state(State()).enabled is False


def test_a_lost_document_is_said_and_the_next_write_goes_above_the_fleet(
    switch_path: Path,
) -> None:
    add_member(the_store(), revision=7, state="on", source="switch")
    assert not switch_path.exists()  # the file is gone, the fleet holds 7
    status = run()
    assert "the store has LOST its document" in status
    assert "the next write is revision 8" in status
    out = run("on", "--by", "bob")
    assert out.startswith(
        "The store has LOST its document (flushed, evicted or failed over?)"
    )
    assert revision_of(switch_path.read_text()) == 8


def test_a_store_that_went_back_is_said_and_the_next_write_goes_above(
    switch_path: Path,
) -> None:
    switch_path.write_text("REVISION=5\nMAINTENANCE_MODE=0\n")
    add_member(the_store(), revision=9, state="on", source="switch")
    assert "the store WENT BACK to revision 5" in run()
    assert run("on").startswith("The store WENT BACK to revision 5")
    assert revision_of(switch_path.read_text()) == 10


def test_by_taken_from_the_environment_is_checked_too(
    switch_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USER", "ops\nMAINTENANCE_READ_ONLY=1")
    monkeypatch.setenv("LOGNAME", "ops\nMAINTENANCE_READ_ONLY=1")
    with pytest.raises(
        CommandError, match=re.escape("--by (taken from USER) holds U+000A")
    ):
        run("on")
    assert not switch_path.exists()


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--for", "30"], "--for: '30' is not a duration"),
        (["--for", "0m"], "--for: '0m' is not a duration"),
        (["--until", "tomorrow"], "--until: 'tomorrow' is not a date-time"),
        (["--until", "2001-01-01T00:00:00Z"], "is in the past"),
        (["--message", "two\nlines"], "--message holds U+000A"),
        (["--message", "a\u2028MAINTENANCE_READ_ONLY=1"], "--message holds U+2028"),
        (["--message", "a\x85b"], "--message holds U+0085"),
        (["--reason", "db\nMAINTENANCE_READ_ONLY=1"], "--reason holds U+000A"),
        (["--by", "\x1b[2Jmallory"], "--by holds U+001B"),
        (["--by", "evil\u202etxt.exe"], "--by holds U+202E"),
    ],
)
def test_bad_arguments_change_nothing(
    switch_path: Path, args: list[str], problem: str
) -> None:
    with pytest.raises(CommandError, match=re.escape(problem)):
        run("on", *args)
    assert not switch_path.exists()


@pytest.mark.parametrize("action", ["off", "env"])
def test_every_action_refuses_a_reason_that_would_inject(
    switch_path: Path, action: str
) -> None:
    switch_path.write_text("MAINTENANCE_MODE=1\n")
    with pytest.raises(CommandError, match="nothing was written"):
        run(action, "--reason", "done\nMAINTENANCE_MODE=0")
    assert switch_path.read_text() == "MAINTENANCE_MODE=1\n"  # unchanged


def test_until_and_for_exclude_each_other(switch_path: Path) -> None:
    with pytest.raises(CommandError):
        run("on", "--for", "1h", "--until", "2999-01-01T00:00:00Z")
    assert not switch_path.exists()


@pytest.mark.parametrize("action", ["on", "off", "env"])
def test_without_a_switch_the_command_explains_both_routes(action: str) -> None:
    with pytest.raises(CommandError) as info:
        run(action)
    message = str(info.value)
    assert "set MAINTENANCE_MODE=1 (or 0)" in message
    assert "restart the web processes" in message
    assert "MAINTENANCE_SWITCH_URL" in message


def test_a_write_that_fails_is_never_claimed(switch_path: Path) -> None:
    switch_path.mkdir()  # the switch's path is taken by a directory
    with pytest.raises(CommandError, match="the switch was not changed: cannot"):
        run("on")


def test_status_shows_environment_switch_and_effective_state(
    switch_path: Path, maintenance_env: SetEnv
) -> None:
    maintenance_env(mode="0")
    run("on", "--by", "alice", "--reason", "db upgrade")
    lines = run().splitlines()
    assert lines[0] == "Maintenance:      on (decided by the switch, revision 1)"
    assert "Revision:         1" in lines
    assert "Environment:      off" in lines
    assert f"Switch:           file://{switch_path}, read every 3 s" in lines
    assert any(line.startswith("Switched:         by alice at 20") for line in lines)
    assert any(line.startswith("Last read:        ok at 20") for line in lines)
    summary = json.loads(run("--json"))
    assert (summary["state"], summary["source"]) == ("on", "switch")
    assert summary["environment"]["state"] == "off"
    assert summary["switch"]["set_by"] == "alice"
    assert summary["switch"]["reason"] == "db upgrade"
    assert summary["switch"]["error"] is None
    assert summary["revision"] == summary["switch"]["revision"] == 1


def test_status_says_when_the_switch_cannot_be_read(switch_path: Path) -> None:
    switch_path.write_bytes(b"\xff")
    summary = json.loads(run("--json"))
    assert summary["switch"]["error"].endswith(": the document is not UTF-8 text")
    assert summary["switch"]["stale_since"] is not None
    assert summary["source"] == "environment"


def test_on_from_a_shell_exits_zero_and_a_failure_non_zero(tmp_path: Path) -> None:
    def command(*args: str, url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", "maintenance", *args],
            cwd=ROOT,
            env=child_environment(
                DJANGO_SETTINGS_MODULE="tests.settings", MAINTENANCE_SWITCH_URL=url
            ),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    good = command("on", url=f"file://{tmp_path}/switch")
    assert good.returncode == 0, good.stderr
    (tmp_path / "taken").mkdir()
    bad = command("on", url=f"file://{tmp_path}/taken")
    assert bad.returncode != 0
    assert "the switch was not changed" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_on_read_only_writes_it_and_says_so(switch_path: Path) -> None:
    out = run("on", "--read-only", "--by", "alice")
    assert parse_document(switch_path.read_text()).state(State()).read_only is True
    assert out.startswith(
        "Maintenance switched on (read-only: only writes are stopped), revision 1"
    )


def test_a_document_written_with_escapes_is_never_printed_raw(
    switch_path: Path,
) -> None:
    """Written past the command (a script, redis-cli): refused on reading, and
    the status shows what is wrong without the escape itself."""
    switch_path.write_text("MAINTENANCE_MODE=1\nSET_BY=\x1b[2Jmallory\n")
    out = run()
    assert "\x1b" not in out
    assert "line 2 holds U+001B" in out
