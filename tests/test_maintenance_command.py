from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.processes import ROOT, child_environment

SetEnv = Callable[..., None]
SetNow = Callable[[Any], None]
START = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)
TOKEN = "s3cret-bypass-token-0123456789"


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


def test_summary_of_a_full_configuration(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(
        starts_at=START.isoformat(),
        ends_at=END.isoformat(),
        allowed_ips="10.0.0.0/25 10.0.0.128/25 2001:db8::/32",
        trusted_proxies="172.18.0.0/16",
        exempt_paths="/healthz,/static/",
        bypass_token=TOKEN,
        message="Upgrading",
    )
    frozen_clock(START - timedelta(days=1))
    lines = run().splitlines()
    assert lines == [
        "Maintenance:      upcoming (decided by the environment)",
        "Applies to:       the whole site",
        "Window:           2026-12-01T22:00:00+00:00 → 2026-12-01T23:00:00+00:00",
        "Retry-After:      3600 s, when maintenance is on",
        "Allowed networks: 10.0.0.0/24, 2001:db8::/32",
        "Trusted proxies:  172.18.0.0/16",
        "Exempt paths:     /healthz, /static",
        "JSON paths:       none",
        "Status path:      none",
        "Bypass token:     set (cookies last 43200 s)",
        "Message:          Upgrading",
        "Switch:           not configured (MAINTENANCE_SWITCH_URL)",
    ]
    assert TOKEN not in "\n".join(lines)


@pytest.mark.parametrize(
    ("moment", "state", "retry_after"),
    [
        (START - timedelta(seconds=1), "upcoming", None),  # nothing to wait for
        (START, "scheduled", 3600),
        (END - timedelta(seconds=30), "scheduled", 30),
        (END, "off", None),
    ],
)
def test_state_follows_the_clock(
    maintenance_env: SetEnv,
    frozen_clock: SetNow,
    moment: datetime,
    state: str,
    retry_after: int | None,
) -> None:
    maintenance_env(starts_at=START.isoformat(), ends_at=END.isoformat())
    frozen_clock(moment)
    summary = json.loads(run("--json"))
    assert summary["state"] == state
    assert summary["retry_after"] == retry_after
    assert summary["retry_after_default"] == 3600


def test_json_summary(maintenance_env: SetEnv) -> None:
    maintenance_env(
        mode="1", allowed_ips="10.0.0.1", bypass_token=TOKEN, message_de="Wartung."
    )
    summary = json.loads(run("--json"))
    assert summary.pop("switch") is None
    settings = summary.pop("settings")
    environment = summary.pop("environment")
    assert environment == summary  # without a switch, the environment decides
    assert summary == {  # the state's one JSON shape, as the status endpoint's
        "state": "on",
        "active": True,
        "read_only": False,
        "paths": [],
        "hosts": [],
        "overdue": False,
        "overdue_since": None,
        "starts_at": None,
        "ends_at": None,
        "retry_after": 3600,
        "retry_after_default": 3600,
        "message": "We are carrying out planned maintenance and will be back shortly.",
        "source": "environment",
        "revision": 0,
    }
    assert settings == {
        "allowed_networks": ["10.0.0.1/32"],
        "trusted_proxies": [],
        "exempt_paths": [],
        "json_paths": [],
        "status_path": None,
        "bypass_token_set": True,
        "bypass_max_age": 43200,
        "messages": {"de": "Wartung."},
    }


def test_summary_when_nothing_is_configured() -> None:
    text = run()
    assert "Maintenance:      off (decided by the environment)" in text
    assert "Window:           none" in text
    assert "Allowed networks: none" in text
    assert "Bypass token:     not set" in text


def test_ip_allowed_names_the_network(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.0/8")
    assert run("--ip", "::ffff:10.1.2.3") == (
        "::ffff:10.1.2.3 is allowed during maintenance, by 10.0.0.0/8. "
        "Maintenance is on.\n"
        "Requests that reach the app over a unix socket have no address: they are "
        "blocked unless MAINTENANCE_TRUSTED_PROXIES includes 'unix'.\n"
    )


def test_ip_with_unix_socket_proxies_says_nothing_about_sockets(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.0/8", trusted_proxies="unix")
    assert "unix socket" not in run("--ip", "10.1.2.3")
    assert "Trusted proxies:  unix\n" in run()
    assert json.loads(run("--ip", "10.1.2.3", "--json"))["unix_socket_peers"] == (
        "trusted proxy"
    )


def test_ip_blocked_exits_non_zero(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.1")
    out = StringIO()
    with pytest.raises(SystemExit) as exit_info:
        call_command("maintenance", "--ip", "10.0.0.15", stdout=out)
    assert exit_info.value.code == 1
    assert "10.0.0.15 is blocked during maintenance" in out.getvalue()


def test_ip_as_json(maintenance_env: SetEnv) -> None:
    maintenance_env(allowed_ips="2001:db8::/32")
    assert json.loads(run("--ip", "2001:db8::1", "--json")) == {
        "address": "2001:db8::1",
        "allowed": True,
        "network": "2001:db8::/32",
        "state": "off",
        "unix_socket_peers": "blocked",
    }


@pytest.mark.parametrize("address", ["10.1", "example.com", "010.0.0.1", ""])
def test_invalid_address_is_a_command_error(address: str) -> None:
    with pytest.raises(CommandError, match="is not an IP address") as info:
        run("--ip", address)
    assert info.value.returncode == 2


def test_bad_configuration_is_a_command_error(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="maybe")
    with pytest.raises(CommandError, match="MAINTENANCE_MODE: 'maybe'"):
        run()


def command(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "django", "maintenance", *args],
        cwd=ROOT,
        env=child_environment(DJANGO_SETTINGS_MODULE="tests.settings", **variables),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_exit_statuses_from_a_shell() -> None:
    allowed = command("--ip", "10.0.0.1", MAINTENANCE_ALLOWED_IPS="10.0.0.0/8")
    blocked = command("--ip", "192.0.2.1", MAINTENANCE_ALLOWED_IPS="10.0.0.0/8")
    broken = command(MAINTENANCE_RETRY_AFTER="10m")
    assert allowed.returncode == 0
    assert blocked.returncode == 1
    assert broken.returncode == 1
    assert "MAINTENANCE_RETRY_AFTER: '10m'" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_status_says_read_only_where_and_the_status_path(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(
        mode="1", read_only="1", paths="/checkout", status_path="/maintenance.json"
    )
    lines = run().splitlines()
    assert lines[0] == (
        "Maintenance:      on, read-only: only writes are stopped "
        "(decided by the environment)"
    )
    assert "Applies to:       /checkout" in lines
    assert "Status path:      /maintenance.json" in lines
    summary = json.loads(run("--json"))
    assert summary["read_only"] is True
    assert summary["paths"] == ["/checkout"]
    assert summary["settings"]["status_path"] == "/maintenance.json"


def test_the_summary_lists_the_message_in_each_language(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(message="Back soon.", message_pt_br="Voltamos logo.")
    text = run()
    assert "Message:          Back soon." in text
    assert "Message (pt-br):  Voltamos logo." in text
