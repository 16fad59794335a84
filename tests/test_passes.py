"""Staff passes: a signed personal link, a cookie naming its holder, no
database and no session per request; revoked through the switch."""

from __future__ import annotations

import time
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import signing
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from envmaintenance import passes
from envmaintenance.passes import Revocations, issue, parse_revocations, read_token
from envmaintenance.switch import get_switch
from tests.conftest import SetEnv
from tests.members import add_member

NOW = time.time()


def run(*args: str) -> str:
    out = StringIO()
    call_command("maintenance", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def blocked(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", allowed_ips="192.0.2.1")


def token_for(holder: str = "alice", seconds: int = 3600) -> tuple[passes.Pass, str]:
    return issue(holder, seconds, time.time())


@pytest.mark.usefixtures("blocked")
def test_a_pass_link_trades_for_a_cookie_that_lets_its_holder_in() -> None:
    _granted, token = token_for()
    client = Client()
    response = client.get(f"/pages/x?a=1&maintenance_pass={token}")
    assert response.status_code == 302
    assert response["Location"] == "/pages/x?a=1"  # the pass is not kept in the URL
    assert response["Cache-Control"] == "no-store"
    cookie = response.cookies["maintenance_pass"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # plain HTTP here; HTTPS below
    assert 3590 <= int(cookie["max-age"]) <= 3600  # until the pass expires
    assert client.get("/").status_code == 200
    assert "private" in client.get("/")["Cache-Control"]


@pytest.mark.usefixtures("blocked")
def test_over_https_the_cookie_is_secure() -> None:
    _granted, token = token_for()
    response = Client().get(f"/?maintenance_pass={token}", secure=True)
    assert response.cookies["maintenance_pass"]["secure"] is True


@pytest.mark.usefixtures("blocked")
@pytest.mark.django_db
def test_checking_a_pass_touches_no_database(
    django_assert_num_queries: Any,
) -> None:
    _granted, token = token_for()
    client = Client()
    client.cookies["maintenance_pass"] = token
    with django_assert_num_queries(0):
        assert client.get("/").status_code == 200


def forged(payload: Any, key: str = "tests-only-not-secret") -> str:
    return signing.dumps(payload, key=key, salt=passes.SALT)


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: issue("alice", 60, time.time() - 61)[1],
    "another site's key": lambda: forged(
        {"i": "abcdef01", "h": "x", "e": NOW + 3600}, "other"
    ),
    "another salt": lambda: signing.dumps({"i": "abcdef01", "h": "x", "e": NOW + 3600}),
    "tampered": lambda: token_for()[1][:-2] + "xx",
    "not a pass": lambda: "hello",
    "empty": lambda: "",
    "huge": lambda: "x" * 10_000,
    "bad id": lambda: forged({"i": "../../x", "h": "x", "e": NOW + 3600}),
    "no expiry": lambda: forged({"i": "abcdef01", "h": "x"}),
    "nan expiry": lambda: forged({"i": "abcdef01", "h": "x", "e": float("nan")}),
    "a list": lambda: forged([1, 2, 3]),
}


@pytest.mark.usefixtures("blocked")
@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_a_bad_pass_gets_the_503_never_a_500(kind: str) -> None:
    token = BAD_TOKENS[kind]()
    client = Client()
    client.cookies["maintenance_pass"] = token
    assert client.get("/").status_code == 503
    link = Client().get("/", {"maintenance_pass": token})
    assert link.status_code == 503
    assert "maintenance_pass" not in link.cookies


@pytest.mark.usefixtures("blocked")
def test_a_pass_signed_with_a_fallback_key_still_counts(settings: Any) -> None:
    _granted, token = token_for()
    settings.SECRET_KEY = "a-new-key-after-rotation"
    settings.SECRET_KEY_FALLBACKS = ["tests-only-not-secret"]
    read_token.cache_clear()
    client = Client()
    client.cookies["maintenance_pass"] = token
    assert client.get("/").status_code == 200
    settings.SECRET_KEY_FALLBACKS = []
    read_token.cache_clear()
    assert client.get("/").status_code == 503


def test_revocations_are_id_and_expiry_and_drop_what_expired() -> None:
    revocations = parse_revocations("abcdef01:2000000000, 12345678:100")
    assert revocations.ids == {"abcdef01", "12345678"}
    assert revocations.written(NOW) == "abcdef01:2000000000"
    granted, _token = token_for()
    assert granted.id in revocations.adding(granted, NOW).ids
    assert "12345678" not in revocations.adding(granted, NOW).ids
    with pytest.raises(ValueError, match="is not a revoked pass"):
        parse_revocations("alice")
    assert not Revocations()


@pytest.mark.usefixtures("blocked")
def test_a_pass_revoked_in_the_state_is_refused(maintenance_env: SetEnv) -> None:
    granted, token = token_for()
    maintenance_env(revoked_passes=f"{granted.id}:{int(granted.expires)}")
    client = Client()
    client.cookies["maintenance_pass"] = token
    assert client.get("/").status_code == 503


def test_reads_pass_read_only_maintenance_and_a_link_still_gives_the_cookie(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="1", read_only="1", allowed_ips="192.0.2.1")
    _granted, token = token_for()
    client = Client()
    assert client.get("/").status_code == 200
    assert client.get(f"/?maintenance_pass={token}").status_code == 302
    assert client.post("/").status_code == 200  # the holder writes too


# -- from the command, through the switch ---------------------------------------


@pytest.fixture
def switch_path(tmp_path: Path, maintenance_env: SetEnv, no_reader: None) -> Path:
    path = tmp_path / "switch"
    maintenance_env(switch_url=f"file://{path}", mode="1", allowed_ips="192.0.2.1")
    add_member(get_switch().store)  # type: ignore[arg-type]
    return path


def link_of(output: str) -> str:
    (line,) = [line for line in output.splitlines() if "maintenance_pass=" in line]
    return line.strip()


def test_pass_revoke_and_passes(switch_path: Path) -> None:
    out = run(
        "pass",
        "alice",
        "--for",
        "2h",
        "--by",
        "ops",
        "--url",
        "https://shop.example.com/",
    )
    assert "A pass for alice (id " in out
    link = link_of(out)
    assert link.startswith("https://shop.example.com/?maintenance_pass=")
    token = link.partition("maintenance_pass=")[2]
    client = Client()
    client.cookies["maintenance_pass"] = token
    assert client.get("/").status_code == 200
    listing = run("passes")
    assert " alice: valid until " in listing
    assert "issued by ops" in listing
    assert token not in listing  # never the secret
    revoked = run("revoke", "alice", "--by", "ops", "--reason", "left the team")
    assert revoked.startswith("Revoked the pass ")
    get_switch().refresh(time.time())  # every process, at its next read
    assert client.get("/").status_code == 503
    assert " alice: revoked until " in run("passes")
    run("off", "--by", "ops")  # a later write keeps it revoked
    run("on", "--by", "ops")
    get_switch().refresh(time.time())
    assert client.get("/").status_code == 503


def test_revoking_nobody_writes_nothing(switch_path: Path) -> None:
    with pytest.raises(CommandError, match="no pass of 'bob' is valid now"):
        run("revoke", "bob")
    assert not switch_path.exists()


def test_a_pass_needs_a_name_of_one_line(switch_path: Path) -> None:
    with pytest.raises(CommandError, match="is not a name for a pass"):
        run("pass", "alice\nMAINTENANCE_MODE=0")
    with pytest.raises(CommandError, match="lasts at most 30 days"):
        run("pass", "alice", "--for", "31d")


def test_without_a_switch_a_pass_still_works_but_cannot_be_revoked(
    blocked: None,
) -> None:
    out = run("pass", "alice")
    assert "cannot be revoked before it expires" in out
    token = link_of(out).partition("maintenance_pass=")[2]
    client = Client()
    client.cookies["maintenance_pass"] = token
    assert client.get("/").status_code == 200


@override_settings(ROOT_URLCONF="tests.urls_passes")
@pytest.mark.django_db
def test_logged_in_staff_get_their_pass_from_the_view(maintenance_env: SetEnv) -> None:
    maintenance_env(allowed_ips="192.0.2.1")  # maintenance not on yet: the db is up
    staff = User.objects.create_user("carol", password="x", is_staff=True)
    client = Client()
    assert client.get("/maintenance/pass/").status_code == 302  # to the login
    assert "maintenance_pass" not in client.cookies
    client.force_login(User.objects.create_user("dave", password="x"))
    assert "maintenance_pass" not in client.get("/maintenance/pass/").cookies
    client.force_login(staff)
    response = client.get("/maintenance/pass/?next=/pages/x")
    assert response["Location"] == "/pages/x"
    granted = read_token(response.cookies["maintenance_pass"].value)
    assert granted is not None
    assert granted.holder == "carol"
    offsite = client.get("/maintenance/pass/?next=https://evil.example/")
    assert offsite["Location"] == "/"
