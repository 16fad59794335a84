from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from envmaintenance.bypass import COOKIE_NAME

SetEnv = Callable[..., None]
TOKEN = "s3cret-bypass-token-0123456789"


@pytest.fixture
def bypass_on(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", bypass_token=TOKEN, bypass_max_age="600")


@pytest.mark.usefixtures("bypass_on")
def test_token_redirects_to_the_same_url_without_it(client: Client) -> None:
    response = client.get(f"/reports/?year=2026&maintenance_bypass={TOKEN}&page=2")
    assert response.status_code == 302
    assert response["Location"] == "/reports/?year=2026&page=2"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.usefixtures("bypass_on")
def test_token_alone_redirects_to_the_bare_path(client: Client) -> None:
    assert client.get(f"/?maintenance_bypass={TOKEN}")["Location"] == "/"


@pytest.mark.usefixtures("bypass_on")
def test_cookie_flags_and_contents(client: Client) -> None:
    response = client.get(f"/?maintenance_bypass={TOKEN}")
    cookie = response.cookies[COOKIE_NAME]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 600
    assert cookie["path"] == "/"
    assert not cookie["secure"]
    assert TOKEN not in cookie.value
    assert TOKEN not in str(response.cookies)


@pytest.mark.usefixtures("bypass_on")
def test_cookie_is_secure_on_https(client: Client) -> None:
    response = client.get(f"/?maintenance_bypass={TOKEN}", secure=True)
    assert response.cookies[COOKIE_NAME]["secure"] is True


@pytest.mark.usefixtures("bypass_on")
def test_the_cookie_lets_its_holder_through(client: Client) -> None:
    client.get(f"/?maintenance_bypass={TOKEN}")
    response = client.get("/")
    assert response.status_code == 200
    assert response.content == b"home"


@pytest.mark.usefixtures("bypass_on")
@pytest.mark.parametrize(
    "supplied",
    ["wrong-token-wrong-token-wrong", TOKEN[:-1], TOKEN + "x", "", TOKEN.upper()],
)
def test_wrong_token_gets_503_and_no_cookie(client: Client, supplied: str) -> None:
    response = client.get("/", {"maintenance_bypass": supplied})
    assert response.status_code == 503
    assert COOKIE_NAME not in response.cookies


@pytest.mark.usefixtures("bypass_on")
def test_tampered_cookie_gets_503(client: Client) -> None:
    client.get(f"/?maintenance_bypass={TOKEN}")
    value = client.cookies[COOKIE_NAME].value
    client.cookies[COOKIE_NAME] = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert client.get("/").status_code == 503
    client.cookies[COOKIE_NAME] = "1"
    assert client.get("/").status_code == 503


@pytest.mark.usefixtures("bypass_on")
def test_expired_cookie_gets_503(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as past:
        issued = time.time() - 601
        past.setattr("django.core.signing.time.time", lambda: issued)
        client.get(f"/?maintenance_bypass={TOKEN}")
    assert client.get("/").status_code == 503


def test_rotating_the_token_revokes_cookies(maintenance_env: SetEnv) -> None:
    maintenance_env(mode="1", bypass_token=TOKEN)
    holder = Client()
    holder.get(f"/?maintenance_bypass={TOKEN}")
    assert holder.get("/").status_code == 200
    maintenance_env(bypass_token="a-completely-new-token-42")
    rotated = Client()
    rotated.cookies = holder.cookies
    assert rotated.get("/").status_code == 503


def test_cookie_is_signed_with_the_secret_key(
    maintenance_env: SetEnv, settings: object
) -> None:
    maintenance_env(mode="1", bypass_token=TOKEN)
    holder = Client()
    holder.get(f"/?maintenance_bypass={TOKEN}")
    settings.SECRET_KEY = "another-secret-key"  # type: ignore[attr-defined]
    assert holder.get("/").status_code == 503


def test_without_a_token_configured_the_parameter_means_nothing(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1")
    response = client.get(f"/?maintenance_bypass={TOKEN}")
    assert response.status_code == 503
    assert COOKIE_NAME not in response.cookies


@pytest.mark.usefixtures("bypass_on")
@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("//evil.example/x", "/%2Fevil.example/x"),
        ("/a\r\nSet-Cookie: x=1", "/a%0D%0ASet-Cookie:%20x%3D1"),
        ("/caf\xc3\xa9", "/caf%C3%A9"),  # WSGI: UTF-8 bytes as latin-1
    ],
)
def test_redirect_stays_on_this_site(client: Client, path: str, location: str) -> None:
    # PATH_INFO is what the server decoded from the request line.
    response = client.get(f"/?maintenance_bypass={TOKEN}", PATH_INFO=path)
    assert response.status_code == 302
    assert response["Location"] == location


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("with_token", [False, True])
def test_too_many_query_fields_still_get_the_503(
    bypass_on: None,
    client: Client,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    debug: bool,
    with_token: bool,
) -> None:
    settings.DEBUG = debug
    fields = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1
    query = "&".join(f"f{n}=x" for n in range(fields))
    if with_token:
        query += f"&maintenance_bypass={TOKEN}"
    with caplog.at_level(logging.WARNING):
        response = client.get(f"/?{query}")
    assert response.status_code == 503
    assert COOKIE_NAME not in response.cookies
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.usefixtures("bypass_on")
def test_the_token_never_reaches_the_logs(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        client.get(f"/x?maintenance_bypass={TOKEN}")
        client.get(f"/x?maintenance_bypass={TOKEN[:-1]}")
        client.get("/x")
    assert caplog.records
    assert not [r for r in caplog.records if TOKEN in r.getMessage()]
