"""Cron jobs and commands that hold off during maintenance."""

from __future__ import annotations

import logging
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import BaseCommand

from envmaintenance import skip_during_maintenance
from tests.conftest import SetEnv

calls: list[str] = []


@skip_during_maintenance
def send_newsletter(issue: int) -> str:
    calls.append(f"newsletter {issue}")
    return "sent"


@skip_during_maintenance
class Command(BaseCommand):
    def handle(self, *args: Any, **options: Any) -> None:
        calls.append("command")


@pytest.fixture(autouse=True)
def no_calls() -> None:
    calls.clear()


def test_a_function_runs_only_while_no_maintenance_is_active(
    maintenance_env: SetEnv, caplog: pytest.LogCaptureFixture
) -> None:
    assert send_newsletter(1) == "sent"
    maintenance_env(mode="1")
    with caplog.at_level(logging.INFO, logger="envmaintenance"):
        assert send_newsletter(2) is None
    assert calls == ["newsletter 1"]
    assert (
        "Maintenance: skipped send_newsletter (maintenance on, revision 0)"
        in caplog.text
    )


def test_a_management_command_is_skipped_during_maintenance(
    maintenance_env: SetEnv,
) -> None:
    Command().handle()
    maintenance_env(mode="1")
    Command().handle()
    assert calls == ["command"]


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


def test_guard_runs_the_command_only_when_maintenance_is_off(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    marker = tmp_path / "ran"
    assert run("guard", "--", "touch", str(marker)) == ""
    assert marker.exists()
    marker.unlink()
    maintenance_env(mode="1")
    out = run("guard", "--", "touch", str(marker))
    assert out == "Skipped touch: maintenance is on (the environment).\n"
    assert not marker.exists()


def test_guard_exits_as_the_command_does(maintenance_env: SetEnv) -> None:
    with pytest.raises(SystemExit) as info:
        run("guard", "--", "sh", "-c", "exit 4")
    assert info.value.code == 4


def test_guard_can_wait_for_the_end(maintenance_env: SetEnv, tmp_path: Path) -> None:
    import datetime

    marker = tmp_path / "ran"
    now = datetime.datetime.now(datetime.timezone.utc)
    soon = now + datetime.timedelta(seconds=1)
    maintenance_env(
        starts_at=(now - datetime.timedelta(hours=1)).isoformat(),
        ends_at=soon.isoformat(),
        switch_interval="1",
    )
    run("guard", "--wait-until-over", "30s", "--", "touch", str(marker))
    assert marker.exists()  # the window ended within the wait
    marker.unlink()
    later = now + datetime.timedelta(hours=2)
    maintenance_env(starts_at=now.isoformat(), ends_at=later.isoformat())
    out = run("guard", "--wait-until-over", "1s", "--", "touch", str(marker))
    assert out.startswith("Skipped touch: maintenance is scheduled")
    assert not marker.exists()


def test_a_guarded_job_is_in_flight_while_it_runs(
    maintenance_env: SetEnv, tmp_path: Path
) -> None:
    """So that `on --wait` waits for a cron job that started before."""
    from envmaintenance.state import State
    from envmaintenance.switch import get_switch

    maintenance_env(switch_url=f"file://{tmp_path}/switch")
    seen: list[int] = []

    @skip_during_maintenance
    def job() -> None:
        switch = get_switch()
        # In flight from before whatever state comes next.
        seen.append(switch.in_flight.before(State(enabled=True)))

    job()
    get_switch().stop()
    assert seen == [1]
