"""Maintenance that fits the site: scopes by path and host (from the environment
and from the switch), answers by path, the page in the language the site shows,
and an overdue maintenance."""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta, timezone
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.template import Context, Template
from django.test import Client, RequestFactory

import envmaintenance
from envmaintenance import access
from envmaintenance.conf import ConfigError, load_config
from envmaintenance.documents import parse_document
from envmaintenance.hosts import HostScope, parse_host
from envmaintenance.state import State
from envmaintenance.switch import get_switch
from tests.conftest import SetEnv, SetNow
from tests.members import add_member

NOW = 1_800_000_000.0
PAST = datetime.fromtimestamp(NOW - 600, timezone.utc)
LATER = datetime.fromtimestamp(NOW + 1800, timezone.utc)
BROWSER = "text/html,application/xhtml+xml,*/*;q=0.8"


# -- hosts --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("shop.example.com", "shop.example.com"),
        ("Shop.Example.COM", "shop.example.com"),
        (".example.com", ".example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("localhost", "localhost"),
        ("shop.example.com.", "shop.example.com"),
    ],
)
def test_hosts_are_written_as_allowed_hosts_writes_them(
    entry: str, parsed: str
) -> None:
    assert parse_host(entry) == parsed


@pytest.mark.parametrize(
    "entry",
    [
        "shop.example.com:8000",
        "*.example.com",
        "*",
        "-shop.example",
        "a..b",
        "[::1]",
        "",
    ],
)
def test_anything_else_is_no_host(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        parse_host(entry)


@pytest.mark.parametrize(
    ("host", "inside"),
    [
        ("shop.example.com", True),
        ("SHOP.example.com", True),
        ("shop.example.com.", True),
        ("api.tenant.example.org", True),  # .tenant.example.org: a subdomain
        ("tenant.example.org", True),  # and the domain itself
        ("badtenant.example.org", False),  # not a suffix at a dot
        ("example.com", False),
        ("www.shop.example.com", False),  # exact names are exact
        (None, True),  # a host that cannot be told: a stop fails closed
    ],
)
def test_a_host_scope_matches_names_and_domains(host: str | None, inside: bool) -> None:
    scope = HostScope(
        [parse_host("shop.example.com"), parse_host(".tenant.example.org")]
    )
    assert scope.covers(host) is inside


def test_a_bad_host_stops_start_up_naming_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_HOSTS": "shop.example.com:443"})
    assert info.value.problems[0][0] == "MAINTENANCE_HOSTS"


@pytest.fixture
def shop(maintenance_env: SetEnv, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".example.com", "testserver"]
    maintenance_env(mode="1", hosts="shop.example.com", allowed_ips="192.0.2.1")


@pytest.mark.usefixtures("shop")
@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("shop.example.com", 503),
        ("shop.example.com:8443", 503),  # the port is not part of the name
        ("SHOP.EXAMPLE.COM", 503),
        ("api.example.com", 200),  # another host of the same site
        ("evil.com", 503),  # one ALLOWED_HOSTS refuses: cannot be told, inside
        ("", 503),
    ],
)
def test_maintenance_of_one_host(client: Client, host: str, status: int) -> None:
    if host:
        response = client.get("/", HTTP_HOST=host)
    else:  # no Host at all: SERVER_NAME, which ALLOWED_HOSTS refuses
        response = client.get("/", SERVER_NAME="unknown.invalid")
    assert response.status_code == status


@pytest.mark.usefixtures("shop")
def test_the_hosts_known_follow_allowed_hosts_and_stay_bounded(
    client: Client, settings: Any
) -> None:
    assert client.get("/", HTTP_HOST="api.example.com").status_code == 200
    settings.ALLOWED_HOSTS = ["shop.example.com", "testserver"]
    # Now refused: it cannot be told, so it is inside.
    assert client.get("/", HTTP_HOST="api.example.com").status_code == 503
    settings.ALLOWED_HOSTS = [".example.com"]
    for n in range(access.MAX_HOSTS * 2):  # made-up hosts only fill it
        assert client.get("/", HTTP_HOST=f"h{n}.example.com").status_code == 200
        assert len(access._HOSTS) <= access.MAX_HOSTS
    assert client.get("/", HTTP_HOST="shop.example.com").status_code == 503


@pytest.mark.usefixtures("shop")
def test_a_forwarded_host_counts_only_where_the_site_trusts_it(
    client: Client, settings: Any
) -> None:
    headers = {"host": "api.example.com", "x-forwarded-host": "shop.example.com"}
    # Not trusted: the Host decides; trusted: as the site sees it.
    assert client.get("/", headers=headers).status_code == 200
    settings.USE_X_FORWARDED_HOST = True
    assert Client().get("/", headers=headers).status_code == 503


def test_paths_and_hosts_must_both_match(
    maintenance_env: SetEnv, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [".example.com"]
    maintenance_env(mode="1", hosts="shop.example.com", paths="/checkout")
    client = Client()
    assert client.get("/checkout", HTTP_HOST="shop.example.com").status_code == 503
    assert client.get("/", HTTP_HOST="shop.example.com").status_code == 200
    assert client.get("/checkout", HTTP_HOST="api.example.com").status_code == 200


# -- scopes from the switch --------------------------------------------------------


@pytest.fixture
def switch_path(tmp_path: Path, maintenance_env: SetEnv, no_reader: None) -> Path:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", allowed_ips="192.0.2.1")
    assert get_switch().store is not None
    add_member(get_switch().store)  # type: ignore[arg-type]
    return path


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


def test_the_switch_carries_a_scope(switch_path: Path, settings: Any) -> None:
    settings.ALLOWED_HOSTS = [".example.com"]
    out = run(
        "on",
        "--paths",
        "/checkout, /basket/",
        "--hosts",
        "Shop.Example.com",
        "--by",
        "ops",
    )
    assert out.startswith(
        "Maintenance switched on for /checkout, /basket/ of shop.example.com, "
        "revision 1 by ops"
    )
    text = switch_path.read_text()
    assert "MAINTENANCE_PATHS=/checkout,/basket/\n" in text
    assert "MAINTENANCE_HOSTS=shop.example.com\n" in text
    get_switch().refresh(time.time())
    client = Client()
    assert client.get("/checkout", HTTP_HOST="shop.example.com").status_code == 503
    assert client.get("/basket", HTTP_HOST="shop.example.com").status_code == 503
    assert client.get("/", HTTP_HOST="shop.example.com").status_code == 200
    assert client.get("/checkout", HTTP_HOST="api.example.com").status_code == 200
    status = run()
    assert "Applies to:       /checkout, /basket/ of shop.example.com" in status
    summary = json.loads(run("--json"))
    assert (summary["paths"], summary["hosts"]) == (
        ["/checkout", "/basket/"],
        ["shop.example.com"],
    )


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--paths", "checkout"], "--paths: 'checkout' is not a path"),
        (["--paths", "/checkout/*"], "--paths: '/checkout/*' holds characters"),
        (["--hosts", "shop:80"], "--hosts: 'shop:80' is not a host name"),
        (["--paths", " , "], "--paths names none"),
    ],
)
def test_a_bad_scope_writes_nothing(
    switch_path: Path, args: list[str], problem: str
) -> None:
    with pytest.raises(CommandError) as info:
        run("on", *args)
    assert problem in str(info.value)
    assert not switch_path.exists()


def test_a_switch_without_a_scope_keeps_the_environments() -> None:
    environment = load_config({"MAINTENANCE_PATHS": "/checkout"}).environment
    state = parse_document("REVISION=1\nMAINTENANCE_MODE=1\n").state(environment)
    assert state.paths.prefixes == ("/checkout",)
    whole = parse_document("REVISION=2\nMAINTENANCE_MODE=1\nMAINTENANCE_PATHS=/\n")
    assert whole.state(environment).paths.prefixes == ("/",)


def test_what_can_never_be_switched_still_cannot() -> None:
    for name in (
        "MAINTENANCE_ALLOWED_IPS",
        "MAINTENANCE_EXEMPT_PATHS",
        "MAINTENANCE_JSON_PATHS",
    ):
        with pytest.raises(ValueError, match="can never be set through the switch"):
            parse_document(f"MAINTENANCE_MODE=1\n{name}=/x\n")


# -- asking about one place -----------------------------------------------------


def test_is_active_answers_for_a_path_and_a_host(maintenance_env: SetEnv) -> None:
    maintenance_env(
        mode="1",
        paths="/basket",
        hosts="shop.example.com",
        exempt_paths="/basket/health",
    )
    assert envmaintenance.is_active()
    assert envmaintenance.is_active(path="/basket/")
    assert not envmaintenance.is_active(path="/catalogue/")
    assert not envmaintenance.is_active(path="/basket/health")  # exempt
    assert envmaintenance.is_active(path="/basket/", host="shop.example.com:443")
    assert not envmaintenance.is_active(path="/basket/", host="api.example.com")
    assert envmaintenance.is_active(host="shop.example.com")


def test_is_active_is_false_while_nothing_is_active(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="0", status_path="/status")
    assert not envmaintenance.is_active(path="/basket/")


def test_a_template_asks_whether_a_path_is_stopped(
    maintenance_env: SetEnv, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = [".example.com"]
    maintenance_env(mode="1", paths="/basket", hosts="shop.example.com")
    page = Template(
        '{% load envmaintenance %}{% maintenance_stops "/basket/" as closed %}'
        "{% if closed %}closed{% else %}open{% endif %}"
    )
    for host, said in (("shop.example.com", "closed"), ("api.example.com", "open")):
        request = RequestFactory().get("/product/1", HTTP_HOST=host)
        assert page.render(Context({"request": request})) == said
    other = Template(
        '{% load envmaintenance %}{% maintenance_stops "/catalogue/" as c %}{{ c }}'
    )
    assert other.render(Context({})) == "False"


# -- answers by path ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "headers", "media_type"),
    [
        ("/api/status", {}, "application/problem+json"),
        ("/api/status", {"accept": "*/*"}, "application/problem+json"),
        ("/api/status", {"accept": BROWSER}, "application/problem+json"),
        ("/", {"accept": "*/*"}, "text/html; charset=utf-8"),
        ("/", {"accept": "application/json"}, "application/problem+json"),
        ("/apiary", {"accept": "*/*"}, "text/html; charset=utf-8"),
    ],
)
def test_json_paths_answer_problem_json_whatever_accept_says(
    maintenance_env: SetEnv, path: str, headers: dict[str, str], media_type: str
) -> None:
    maintenance_env(mode="1", json_paths="/api/")
    response = Client().post(path, content_type="application/json", headers=headers)
    assert response.status_code == 503
    assert response["Content-Type"] == media_type


# -- the page's language, as the site shows it ---------------------------------------


@pytest.fixture
def three_languages(settings: Any, maintenance_env: SetEnv) -> None:
    settings.LANGUAGES = [
        ("en", "English"),
        ("de", "German"),
        ("fr", "French"),
        ("xx", "None"),
    ]
    maintenance_env(mode="1")


@pytest.mark.usefixtures("three_languages")
@pytest.mark.parametrize(
    ("path", "cookie", "accept_language", "language"),
    [
        ("/de/katalog/", None, None, "de"),  # the i18n prefix
        ("/de/katalog/", "fr", "fr", "de"),  # the prefix first
        ("/katalog/", "de", "fr", "de"),  # then Django's language cookie
        ("/katalog/", None, "fr", "fr"),  # then Accept-Language
        ("/katalog/", None, None, "en-us"),  # then LANGUAGE_CODE
        ("/xx/katalog/", "xx", "de", "de"),  # a language the page does not speak
        ("/katalog/", "x" * 300, "fr", "fr"),  # a cookie that is no language
    ],
)
def test_the_page_speaks_the_language_the_site_shows(
    path: str, cookie: str | None, accept_language: str | None, language: str
) -> None:
    client = Client()
    if cookie is not None:
        client.cookies["django_language"] = cookie
    headers = {} if accept_language is None else {"accept-language": accept_language}
    response = client.get(path, headers=headers)
    assert response["Content-Language"] == language


# -- overdue -----------------------------------------------------------------------


def overdue_response(client: Client) -> Any:
    response = client.get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 503
    return response


def test_an_overdue_maintenance_says_so_and_promises_no_past_time(
    maintenance_env: SetEnv, frozen_clock: SetNow, caplog: pytest.LogCaptureFixture
) -> None:
    frozen_clock(NOW)
    maintenance_env(
        mode="1", ends_at=PAST.isoformat(), retry_after="900", status_path="/status"
    )
    client = Client()
    with caplog.at_level(logging.WARNING, logger="envmaintenance"):
        problem = overdue_response(client)
        overdue_response(client)
        html = client.get("/", HTTP_ACCEPT=BROWSER, HTTP_ACCEPT_LANGUAGE="de")
    body = json.loads(problem.content)
    assert body["overdue"] is True
    assert "ends_at" not in body
    assert body["detail"].startswith("This is taking longer than planned. ")
    assert problem["Retry-After"] == "900"  # the configured delay, not a past end
    page = html.content.decode()
    assert "Das dauert länger als geplant." in page
    assert "<time" not in page
    overdue = [
        r for r in caplog.records if "taking longer than expected" in r.getMessage()
    ]
    assert len(overdue) == 1  # once per process, however many 503s
    status = json.loads(client.get("/status").content)
    assert (status["overdue"], status["overdue_since"]) == (True, PAST.isoformat())


@pytest.mark.parametrize("how", ["until", "for"])
def test_a_switch_with_an_end_becomes_overdue(
    switch_path: Path, frozen_clock: SetNow, how: str
) -> None:
    if how == "until":
        run("on", "--until", LATER.isoformat())
    else:
        run("on", "--for", "30m")
    ends = parse_document(switch_path.read_text()).state(State()).ends_at
    assert ends is not None
    frozen_clock(ends.timestamp() - 60)
    get_switch().refresh(ends.timestamp() - 60)
    assert "ends_at" in json.loads(overdue_response(Client()).content)
    frozen_clock(ends.timestamp() + 1)
    assert json.loads(overdue_response(Client()).content)["overdue"] is True
    assert "OVERDUE since" in run()


def test_a_window_that_ended_is_over_not_overdue(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    frozen_clock(NOW)
    start = datetime.fromtimestamp(NOW - 3600, timezone.utc)
    maintenance_env(
        starts_at=start.isoformat(), ends_at=PAST.isoformat(), status_path="/s"
    )
    status = json.loads(Client().get("/s").content)
    assert (status["active"], status["overdue"]) == (False, False)


def test_the_command_warns_of_a_maintenance_on_for_more_than_a_day(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    started = datetime.fromtimestamp(NOW, timezone.utc) - timedelta(days=2)
    frozen_clock(NOW)
    maintenance_env(starts_at=started.isoformat())
    lines = run().splitlines()
    assert lines[1].startswith("WARNING:          maintenance has been on for 2.0 days")
    assert "search engines" in lines[1]
