from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.template.loader import get_template
from django.test import Client, RequestFactory

from envmaintenance.checks import (
    CHECKS,
    MIDDLEWARE_PATH,
    OTHER_CHECKS,
    check_configuration,
    check_middleware,
)
from envmaintenance.conf import ConfigError, load_config
from envmaintenance.context_processors import maintenance as maintenance_context
from envmaintenance.variables import ROWS, Variable
from tests.conftest import SetEnv, SetNow

START = "2026-12-01T22:00:00+00:00"
END = "2026-12-01T23:00:00+00:00"

# For every row: a variable it reads and a value its parser rejects. A row
# added without one fails test_every_row_has_a_bad_value.
BAD_VALUES = {
    "MAINTENANCE_MODE": ("MAINTENANCE_MODE", "maybe"),
    "MAINTENANCE_ALLOWED_IPS": ("MAINTENANCE_ALLOWED_IPS", "10.0.0.1/8"),
    "MAINTENANCE_TRUSTED_PROXIES": (
        "MAINTENANCE_TRUSTED_PROXIES",
        "10.0.0.0/255.0.0.0",
    ),
    "MAINTENANCE_RETRY_AFTER": ("MAINTENANCE_RETRY_AFTER", "0"),
    "MAINTENANCE_EXEMPT_PATHS": ("MAINTENANCE_EXEMPT_PATHS", "healthz"),
    "MAINTENANCE_STARTS_AT": ("MAINTENANCE_STARTS_AT", "2026-12-01T22:00:00"),
    "MAINTENANCE_ENDS_AT": ("MAINTENANCE_ENDS_AT", "9999-12-31T00:00:00Z"),
    "MAINTENANCE_BYPASS_TOKEN": ("MAINTENANCE_BYPASS_TOKEN", "short"),
    "MAINTENANCE_BYPASS_MAX_AGE": ("MAINTENANCE_BYPASS_MAX_AGE", "12h"),
    "MAINTENANCE_READ_ONLY": ("MAINTENANCE_READ_ONLY", "reads"),
    "MAINTENANCE_PATHS": ("MAINTENANCE_PATHS", "/checkout/*"),
    "MAINTENANCE_HOSTS": ("MAINTENANCE_HOSTS", "shop.example.com:8000"),
    "MAINTENANCE_JSON_PATHS": ("MAINTENANCE_JSON_PATHS", "api/"),
    "MAINTENANCE_PAGE_RELOAD": ("MAINTENANCE_PAGE_RELOAD", "sometimes"),
    "MAINTENANCE_REVOKED_PASSES": ("MAINTENANCE_REVOKED_PASSES", "alice"),
    "MAINTENANCE_SWITCH_HOOK": ("MAINTENANCE_SWITCH_HOOK", "notify 'unbalanced"),
    "MAINTENANCE_STATUS_PATH": ("MAINTENANCE_STATUS_PATH", "/status /health"),
    "MAINTENANCE_SWITCH_URL": ("MAINTENANCE_SWITCH_URL", "ftp://example/switch"),
    "MAINTENANCE_SWITCH_INTERVAL": ("MAINTENANCE_SWITCH_INTERVAL", "0"),
    "MAINTENANCE_SWITCH_FORGET_AFTER": ("MAINTENANCE_SWITCH_FORGET_AFTER", "1h"),
    "MAINTENANCE_SWITCH_KEY": ("MAINTENANCE_SWITCH_KEY", "has spaces"),
    "MAINTENANCE_SWITCH_CACHE": ("MAINTENANCE_SWITCH_CACHE", "relative/switch.json"),
    "MAINTENANCE_SWITCH_UNREADABLE": ("MAINTENANCE_SWITCH_UNREADABLE", "off"),
    # os.environ keeps bytes that are not UTF-8 as lone surrogates.
    "MAINTENANCE_MESSAGE": ("MAINTENANCE_MESSAGE", "Back \udcff soon"),
    "MAINTENANCE_MESSAGE_<LANG>": ("MAINTENANCE_MESSAGE_DE", "Zur\udcffck"),
}


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_every_row_has_a_bad_value() -> None:
    assert sorted(BAD_VALUES) == sorted(row.name for row in ROWS)


def test_check_ids_are_unique_and_listed_once() -> None:
    """An id is never reused: no two rows, nor a row and another check, share one."""
    row_ids = [row.check_id for row in ROWS]
    assert len(set(row_ids)) == len(row_ids)
    assert set(row_ids).isdisjoint(OTHER_CHECKS)
    assert set(CHECKS) == {*row_ids, *OTHER_CHECKS}
    assert all(row.check_id.startswith("envmaintenance.E") for row in ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: row.name)
def test_every_row_rejects_a_bad_value_by_name_and_check_id(
    monkeypatch: pytest.MonkeyPatch, row: Variable
) -> None:
    variable, bad = BAD_VALUES[row.name]
    with pytest.raises(ConfigError) as info:
        load_config({variable: bad})
    assert [name for name, _ in info.value.problems] == [variable]
    monkeypatch.setenv(variable, bad)
    messages = check_configuration()
    assert ids(messages) == [row.check_id]
    assert messages[0].msg.startswith(f"{variable}: ")
    assert messages[0].is_serious()


@pytest.mark.parametrize(
    ("variables", "check_id"),
    [
        ({"MAINTENANCE_STARTS_AT": END, "MAINTENANCE_ENDS_AT": START}, "E008"),
        (
            {
                "MAINTENANCE_SWITCH_INTERVAL": "60",
                "MAINTENANCE_SWITCH_FORGET_AFTER": "599",
            },
            "E021",
        ),
    ],
)
def test_a_rule_between_two_variables_is_the_check_error_of_the_second(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], check_id: str
) -> None:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    (message,) = check_configuration()
    assert message.id == f"envmaintenance.{check_id}"
    assert message.msg.startswith(f"{list(variables)[-1]}: ")


def test_valid_configuration_is_silent(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", allowed_ips="10.0.0.0/8", exempt_paths="/healthz")
    assert check_configuration() == []


@pytest.mark.parametrize("allowed", ["0.0.0.0/0", "::/0", "10.0.0.0/8, 0.0.0.0/0"])
def test_w001_allowlist_lets_everyone_in(maintenance_env: SetEnv, allowed: str) -> None:
    maintenance_env(allowed_ips=allowed)
    assert ids(check_configuration()) == ["envmaintenance.W001"]


def test_w001_not_raised_for_half_the_internet(maintenance_env: SetEnv) -> None:
    maintenance_env(allowed_ips="0.0.0.0/1")
    assert check_configuration() == []


def test_middleware_in_place_is_silent() -> None:
    assert check_middleware() == []


def test_w002_middleware_missing(settings: Any) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    assert ids(check_middleware()) == ["envmaintenance.W002"]


@pytest.mark.parametrize(
    "earlier",
    [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ],
)
def test_w003_middleware_after_database_middleware(settings: Any, earlier: str) -> None:
    settings.MIDDLEWARE = [earlier, MIDDLEWARE_PATH]
    assert ids(check_middleware()) == ["envmaintenance.W003"]


def test_manage_py_check_reports_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINTENANCE_RETRY_AFTER", "10m")
    with pytest.raises(SystemCheckError, match=r"envmaintenance\.E003"):
        call_command("check")


def test_w004_allowlist_contains_a_trusted_proxy(maintenance_env: SetEnv) -> None:
    maintenance_env(allowed_ips="10.0.0.0/8, 192.0.2.0/24", trusted_proxies="10.1.2.3")
    messages = check_configuration()
    assert ids(messages) == ["envmaintenance.W004"]
    assert "10.1.2.3/32" in messages[0].msg


def test_w004_names_only_the_overlap(maintenance_env: SetEnv) -> None:
    maintenance_env(allowed_ips="10.0.0.0/24", trusted_proxies="10.0.0.0/16")
    (message,) = check_configuration()
    assert "(10.0.0.0/24)" in message.msg


@pytest.mark.parametrize(
    ("allowed", "trusted"),
    [
        ("10.0.0.0/8", "172.16.0.0/12"),
        ("10.0.0.0/24", "10.0.1.0/24"),  # neighbours, no overlap
        ("0.0.0.0/1", "2001:db8::1"),  # other family
        ("", "10.0.0.1"),
    ],
)
def test_w004_no_false_alarm(
    maintenance_env: SetEnv, allowed: str, trusted: str
) -> None:
    maintenance_env(allowed_ips=allowed, trusted_proxies=trusted)
    assert check_configuration() == []


def test_w004_sees_mapped_proxies(maintenance_env: SetEnv) -> None:
    maintenance_env(allowed_ips="10.0.0.0/8", trusted_proxies="::ffff:10.0.0.1")
    assert ids(check_configuration()) == ["envmaintenance.W004"]


@pytest.mark.parametrize("trusted", ["0.0.0.0/0", "::/0"])
def test_w005_trusting_every_proxy(maintenance_env: SetEnv, trusted: str) -> None:
    maintenance_env(trusted_proxies=trusted)
    assert ids(check_configuration()) == ["envmaintenance.W005"]


def test_w007_exempting_the_root_exempts_everything(maintenance_env: SetEnv) -> None:
    maintenance_env(exempt_paths="/healthz /")
    assert ids(check_configuration()) == ["envmaintenance.W007"]


def test_w006_ends_at_alone_has_no_effect(maintenance_env: SetEnv) -> None:
    maintenance_env(ends_at="2026-12-01T23:00:00Z")
    assert ids(check_configuration()) == ["envmaintenance.W006"]


@pytest.mark.parametrize(
    "extra", [{"mode": "1"}, {"starts_at": "2999-12-01T22:00:00Z"}]
)
def test_w006_not_raised_when_ends_at_has_a_use(
    maintenance_env: SetEnv, extra: dict[str, str]
) -> None:
    maintenance_env(ends_at="2999-12-01T23:00:00Z", **extra)
    assert check_configuration() == []


def test_e011_broken_page_template(page_template: Callable[[str], None]) -> None:
    page_template("{{ message|no_such_filter }}")
    messages = check_configuration()
    assert ids(messages) == ["envmaintenance.E011"]
    assert "no_such_filter" in messages[0].msg


def test_e011_reported_by_manage_py_check(page_template: Callable[[str], None]) -> None:
    page_template("{% broken %}")
    with pytest.raises(SystemCheckError, match=r"envmaintenance\.E011"):
        call_command("check")


def test_w008_names_an_unknown_variable_and_the_closest_known_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAINTAINANCE_MODE", "1")
    monkeypatch.setenv("MAINTENANCE_ALLOWED_IP", "10.0.0.1")
    messages = check_configuration()
    assert ids(messages) == ["envmaintenance.W008", "envmaintenance.W008"]
    assert [m.msg for m in messages] == [
        "MAINTAINANCE_MODE is not a variable envmaintenance reads; "
        "did you mean MAINTENANCE_MODE?",
        "MAINTENANCE_ALLOWED_IP is not a variable envmaintenance reads; "
        "did you mean MAINTENANCE_ALLOWED_IPS?",
    ]


def test_w009_mode_on_before_the_window_starts(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(mode="1", starts_at=START, ends_at=END)
    frozen_clock(datetime.fromisoformat(START) - timedelta(hours=1))
    assert ids(check_configuration()) == ["envmaintenance.W009"]
    frozen_clock(datetime.fromisoformat(START))
    assert check_configuration() == []


def test_w010_window_already_over(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(starts_at=START, ends_at=END)
    frozen_clock(datetime.fromisoformat(END))
    assert ids(check_configuration()) == ["envmaintenance.W010"]
    frozen_clock(datetime.fromisoformat(END) - timedelta(seconds=1))
    assert check_configuration() == []


def test_far_dates_never_break_the_page_the_banner_or_the_check(
    maintenance_env: SetEnv, frozen_clock: SetNow, client: Client
) -> None:
    maintenance_env(
        starts_at="2000-01-01T00:00:00-12:00", ends_at="2999-12-31T23:59:59+14:00"
    )
    frozen_clock(datetime(2026, 12, 1, tzinfo=timezone.utc))
    assert check_configuration() == []
    context = maintenance_context(RequestFactory().get("/"))
    banner = get_template("envmaintenance/banner.html").render(context)
    assert "Maintenance is in progress until Tuesday 31 December, 09:59 UTC" in banner
    assert client.get("/").status_code == 503


def test_w008_without_a_close_name_says_it_has_no_effect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAINTENANCE_URL", "https://status.example.com")
    (message,) = check_configuration()
    assert message.msg == (
        "MAINTENANCE_URL is not a variable envmaintenance reads; it has no effect"
    )


def test_w011_cors_middleware_after_ours(settings: Any) -> None:
    cors = "corsheaders.middleware.CorsMiddleware"
    settings.MIDDLEWARE = [MIDDLEWARE_PATH, cors]
    assert ids(check_middleware()) == ["envmaintenance.W011"]
    settings.MIDDLEWARE = [cors, MIDDLEWARE_PATH]
    assert check_middleware() == []


def test_the_banner_says_read_only(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", read_only="1")
    context = maintenance_context(RequestFactory().get("/"))
    assert context["maintenance"].read_only is True
    banner = get_template("envmaintenance/banner.html").render(context)
    assert "the site is read-only, and changes are refused" in banner
