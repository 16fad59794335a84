"""The 503 in the visitor's language, in real Django under WSGI and ASGI."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polib
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.test import AsyncClient, Client
from django.utils import translation

from envmaintenance.checks import check_configuration
from envmaintenance.context_processors import maintenance as maintenance_context
from envmaintenance.middleware import MaintenanceMiddleware
from tests.conftest import SetEnv, SetNow
from tests.test_languages import TEN

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def ten_languages(settings: Any) -> None:
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = [("en", "English"), *TEN]


@pytest.mark.parametrize(
    ("accept_language", "language", "heading"),
    [
        ("de-DE,de;q=0.9,en;q=0.8", "de", "Wegen Wartungsarbeiten offline"),
        ("ja", "ja", "メンテナンス中"),
        ("ar-SA", "ar", "متوقف للصيانة"),
        ("pt-BR", "pt-br", "Em manutenção"),
        ("zh-CN", "zh-hans", "维护中"),
        ("ko", "en", "Down for maintenance"),
        (None, "en", "Down for maintenance"),
    ],
)
def test_the_page_speaks_the_visitor_language(
    maintenance_env: SetEnv,
    client: Client,
    accept_language: str | None,
    language: str,
    heading: str,
) -> None:
    maintenance_env(mode="1")
    headers = {} if accept_language is None else {"accept-language": accept_language}
    response = client.get("/", headers={"accept": BROWSER, **headers})
    assert response.status_code == 503
    assert response["Content-Language"] == language
    assert response["Vary"] == "Accept, Accept-Language"
    html = response.content.decode()
    direction = "rtl" if language == "ar" else "ltr"
    assert f'<html lang="{language}" dir="{direction}">' in html
    assert f"<h1>{heading}</h1>" in html


async def test_under_asgi_too(
    maintenance_env: SetEnv, async_client: AsyncClient
) -> None:
    maintenance_env(mode="1")
    response = await async_client.get(
        "/async", headers={"accept": "application/json", "accept-language": "fr"}
    )
    assert response.status_code == 503
    assert response["Content-Language"] == "fr"
    assert json.loads(response.content)["title"] == "Service indisponible"


def test_every_body_is_translated_and_machine_fields_are_not(
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
) -> None:
    frozen_clock(END - timedelta(hours=1))  # before the end it announces
    maintenance_env(mode="1", read_only="1", ends_at=END.isoformat())
    german = {"accept-language": "de"}
    problem = client.post("/", headers={"accept": "application/json", **german})
    body = json.loads(problem.content)
    assert body["title"] == "Dienst nicht verfügbar"
    assert body["detail"].startswith("Die Website ist vorübergehend schreibgeschützt")
    assert "Wir führen geplante Wartungsarbeiten durch" in body["detail"]
    assert (body["type"], body["status"], body["read_only"], body["ends_at"]) == (
        "tag:envmaintenance,2026:planned-maintenance",
        503,
        True,
        "2026-12-01T23:00:00+00:00",
    )
    text = client.post("/", headers={"accept": "text/plain", **german})
    assert text.content.decode().startswith("Die Website ist vorübergehend")
    assert text["Content-Language"] == "de"


def test_the_end_is_written_the_language_way(
    maintenance_env: SetEnv, client: Client, frozen_clock: SetNow
) -> None:
    frozen_clock(END - timedelta(hours=1))
    maintenance_env(mode="1", ends_at=END.isoformat())
    expected = {
        "de": "Dienstag, 1. Dezember 2026, 23:00 UTC",
        "ja": "2026年12月1日(火) 23:00 UTC",
        "fr": "mardi 1 décembre 2026, 23:00 UTC",
        "pl": "Wtorek, 1 grudnia 2026, 23:00 UTC",
        "en": "Tuesday 1 December 2026, 23:00 UTC",
    }
    for language, when in expected.items():
        html = client.get("/", headers={"accept-language": language}).content.decode()
        assert f">{when}</time>" in html, language


@pytest.mark.parametrize("mode", ["1", "0"])
def test_the_status_endpoint_translates_only_the_message(
    maintenance_env: SetEnv, client: Client, mode: str
) -> None:
    maintenance_env(mode=mode, status_path="/status", ends_at=END.isoformat())
    english = json.loads(client.get("/status").content)
    response = client.get("/status", headers={"accept-language": "de"})
    german = json.loads(response.content)
    assert german.pop("message").startswith("Wir führen geplante Wartungsarbeiten")
    assert english.pop("message").startswith("We are carrying out")
    assert german == english  # state, times, source: the same for machines
    assert response["Content-Language"] == "de"
    assert response["Vary"] == "Accept-Language"


def test_message_variants_per_language(maintenance_env: SetEnv, client: Client) -> None:
    maintenance_env(
        mode="1",
        message="Upgrading the database.",
        message_de="Wir aktualisieren die Datenbank.",
        message_pt_br="Atualizando o banco de dados.",
    )

    def text_for(language: str) -> str:
        headers = {"accept": "text/plain", "accept-language": language}
        return client.get("/", headers=headers).content.decode().strip()

    assert text_for("de-CH") == "Wir aktualisieren die Datenbank."
    assert text_for("pt-BR") == "Atualizando o banco de dados."
    assert text_for("fr") == "Upgrading the database."  # as written, no variant
    assert text_for("en") == "Upgrading the database."


def test_the_default_message_is_translated(
    maintenance_env: SetEnv, client: Client
) -> None:
    maintenance_env(mode="1")
    response = client.get(
        "/", headers={"accept": "text/plain", "accept-language": "it"}
    )
    assert response.content.decode() == (
        "Stiamo effettuando una manutenzione programmata e torneremo presto online.\n"
    )


def test_a_variant_for_a_language_not_served_stops_start_up(
    maintenance_env: SetEnv,
) -> None:
    maintenance_env(mode="0", message_ko="점검 중입니다.")
    with pytest.raises(ImproperlyConfigured, match="MAINTENANCE_MESSAGE_KO: the site"):
        MaintenanceMiddleware(lambda request: HttpResponse())
    [error] = [m for m in check_configuration() if m.id == "envmaintenance.E018"]
    assert error.msg.startswith("MAINTENANCE_MESSAGE_KO: the site does not serve 'ko'")


def test_variants_are_known_variables(maintenance_env: SetEnv) -> None:
    maintenance_env(message_de="Wartung.", message_zh_hans="维护。")
    assert not [m for m in check_configuration() if m.id == "envmaintenance.W008"]


def test_without_i18n_the_page_stays_in_language_code(
    maintenance_env: SetEnv, client: Client, settings: Any
) -> None:
    settings.USE_I18N = False
    maintenance_env(mode="1", status_path="/status")
    response = client.get("/", headers={"accept-language": "de"})
    assert response["Content-Language"] == "en"
    assert response["Vary"] == "Accept"
    assert "<h1>Down for maintenance</h1>" in response.content.decode()
    status = client.get("/status", headers={"accept-language": "de"})
    assert status["Content-Language"] == "en"
    assert "Vary" not in status


def test_a_site_template_is_translated_per_language(
    maintenance_env: SetEnv,
    client: Client,
    page_template: Callable[[str], None],
    settings: Any,
    tmp_path: Path,
) -> None:
    catalog = polib.POFile()
    catalog.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    catalog.append(polib.POEntry(msgid="Our shop is closed.", msgstr="Geschlossen."))
    (tmp_path / "locale" / "de" / "LC_MESSAGES").mkdir(parents=True)
    catalog.save_as_mofile(str(tmp_path / "locale/de/LC_MESSAGES/django.mo"))
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    page_template(
        "{% load i18n %}{% get_current_language as code %}{{ code }}|"
        '{% translate "Our shop is closed." %}|{% translate "Down for maintenance" %}'
    )
    maintenance_env(mode="1")
    assert client.get("/", headers={"accept-language": "de"}).content == (
        b"de|Geschlossen.|Wegen Wartungsarbeiten offline"
    )
    assert client.get("/", headers={"accept-language": "nl"}).content == (
        b"nl|Our shop is closed.|Offline wegens onderhoud"
    )


def test_a_template_failing_in_one_language_names_it(
    maintenance_env: SetEnv, page_template: Callable[[str], None]
) -> None:
    page_template(
        "{% load i18n %}{% get_current_language as code %}"
        "{% if code == 'ja' %}{% include 'missing.html' %}{% endif %}ok"
    )
    maintenance_env(mode="1")
    with pytest.raises(ImproperlyConfigured, match="failed to render in 'ja'"):
        MaintenanceMiddleware(lambda request: HttpResponse())
    [error] = [m for m in check_configuration() if m.id == "envmaintenance.E011"]
    assert "in 'ja'" in error.msg


def test_the_banner_speaks_the_active_language(
    maintenance_env: SetEnv, frozen_clock: SetNow
) -> None:
    maintenance_env(mode="1", ends_at=END.isoformat())
    frozen_clock(END.timestamp() - 600)
    context = maintenance_context(None)  # type: ignore[arg-type]
    with translation.override("de"):
        german = render_to_string("envmaintenance/banner.html", context)
    assert "Wartungsarbeiten laufen bis Dienstag, 1. Dezember, 23:00 UTC" in german
    with translation.override("ar"):
        arabic = render_to_string("envmaintenance/banner.html", context)
    assert "الصيانة جارية حتى" in arabic


def test_a_message_as_written_keeps_its_own_direction(
    maintenance_env: SetEnv, client: Client
) -> None:
    """An English message on the Arabic page must not end with its full stop first."""
    maintenance_env(mode="1", message="Back soon.")
    html = client.get("/", headers={"accept-language": "ar"}).content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert '<p class="message" dir="auto">Back soon.</p>' in html


def test_a_broken_variant_is_a_check_error_not_a_crash(maintenance_env: SetEnv) -> None:
    maintenance_env(message_de="$NOT_SET", message_de_at="x")
    ids = {m.id: m.msg for m in check_configuration()}
    assert ids["envmaintenance.E018"].startswith("MAINTENANCE_MESSAGE_DE: '$NOT_SET'")


HOSTILE = [
    "de" * 50_000,
    "de;q=0.5, " * 5_000,
    "\x00de",
    "ja;q=1e308, de;q=-1",
    "ä, ü;q=0.9",
    ";;;,,,***",
    "zh-Hans-CN-x-private-aaaaaaaaaaaaaaaaaaaaaaaa",
    "de-" + "a" * 300,
]


@pytest.mark.parametrize("accept_language", HOSTILE)
def test_hostile_accept_language_still_gets_the_503(
    maintenance_env: SetEnv, client: Client, accept_language: str
) -> None:
    maintenance_env(mode="1")
    response = client.get("/", headers={"accept-language": accept_language})
    assert response.status_code == 503
    assert response["Content-Language"] in ("en", "de", "ja", "zh-hans")


async def test_hostile_accept_language_under_asgi(
    maintenance_env: SetEnv, async_client: AsyncClient
) -> None:
    maintenance_env(mode="1")
    for accept_language in HOSTILE:
        response = await async_client.get(
            "/async", headers={"accept-language": accept_language}
        )
        assert response.status_code == 503
