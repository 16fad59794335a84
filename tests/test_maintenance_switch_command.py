"""manage.py maintenance on / off / env with a file switch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from envmaintenance.documents import parse_document
from envmaintenance.schedule import State
from tests.conftest import SetEnv
from tests.processes import ROOT, child_environment


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def switch_path(tmp_path: Path, maintenance_env: SetEnv) -> Path:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", switch_interval="3")
    return path


def test_on_writes_the_document_and_says_what_every_process_will_serve(
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
    state = parse_document(switch_path.read_text(), State())
    assert state.enabled is True
    assert state.message == "Upgrading"
    assert state.notes["SET_BY"] == "alice"
    assert state.ends_at is not None
    ends = state.ends_at.isoformat()
    assert out == (
        f"Maintenance ON, expected back by {ends}, in every process within 4 s, once "
        f"the store is reachable (switch at file://{switch_path} by alice "
        f"(reason: db)).\n"
    )


def test_off_and_env(switch_path: Path) -> None:
    assert run("off", "--by", "bob").startswith("Maintenance OFF, in every process")
    assert "MAINTENANCE_MODE=0" in switch_path.read_text()
    out = run("env", "--by", "bob")
    assert out.startswith(
        "Control is back with the environment: maintenance off there, in every "
        "process within 4 s, once the store is reachable"
    )
    assert parse_document(switch_path.read_text(), State()).source == "environment"


def test_until_takes_an_iso_moment(switch_path: Path) -> None:
    run("on", "--until", "2999-01-01T00:00:00+01:00")
    assert "MAINTENANCE_ENDS_AT=2999-01-01T00:00:00+01:00" in switch_path.read_text()


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
    with pytest.raises(CommandError, match="not allowed with argument"):
        run("on", "--for", "1h", "--until", "2999-01-01T00:00:00Z")


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
    assert lines[0] == "Maintenance:      on (decided by the switch)"
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


def test_status_says_when_the_switch_cannot_be_read(switch_path: Path) -> None:
    switch_path.write_bytes(b"\xff")
    summary = json.loads(run("--json"))
    assert summary["switch"]["error"] == "the document is not UTF-8 text"
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
    assert parse_document(switch_path.read_text(), State()).read_only is True
    assert out.startswith("Maintenance ON (read-only: only writes are stopped), in")


def test_a_document_written_with_escapes_is_never_printed_raw(
    switch_path: Path,
) -> None:
    """Written past the command (a script, redis-cli): refused on reading, and
    the status shows what is wrong without the escape itself."""
    switch_path.write_text("MAINTENANCE_MODE=1\nSET_BY=\x1b[2Jmallory\n")
    out = run()
    assert "\x1b" not in out
    assert "line 2 holds U+001B" in out
