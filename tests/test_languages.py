"""Which languages are served, and which one each Accept-Language gets."""

from __future__ import annotations

import tracemalloc
from pathlib import Path
from typing import Any

import polib
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header
from hypothesis import given
from hypothesis import strategies as st

from envmaintenance import languages
from envmaintenance.conf import Config, load_config
from envmaintenance.languages import (
    HEADER_LENGTH,
    Languages,
    first_entries,
    served_languages,
)

# The ten languages the package ships, as Django names them in LANGUAGES.
SHIPPED = ("de", "fr", "es", "pt-br", "it", "nl", "pl", "ja", "zh-hans", "ar")
TEN = [(code, code) for code in SHIPPED]


@pytest.fixture
def ten(settings: Any) -> Languages:
    """A site that lists the ten shipped languages, in English by default."""
    settings.LANGUAGE_CODE = "en"
    settings.LANGUAGES = [("en", "English"), *TEN]
    return served_languages(Config())


def test_django_default_languages_get_every_shipped_translation(
    settings: Any,
) -> None:
    codes = served_languages(Config()).codes
    assert codes[0] == settings.LANGUAGE_CODE == "en-us"
    assert set(SHIPPED) <= set(codes)
    # Regional variants in LANGUAGES ride on the generic catalog (es-ar on es,
    # en-gb on the source language); languages we do not ship are not served.
    assert {"es-ar", "es-mx", "en-gb"} <= set(codes)
    assert not {"ko", "ru", "pt", "zh-hant", "tr"} & set(codes)


def test_only_the_site_languages_are_served(settings: Any) -> None:
    settings.LANGUAGE_CODE = "de"
    settings.LANGUAGES = [("de", "German"), ("fr", "French"), ("ko", "Korean")]
    assert served_languages(Config()).codes == ("de", "fr")


def test_without_i18n_only_language_code_is_served(settings: Any) -> None:
    settings.USE_I18N = False
    settings.LANGUAGE_CODE = "de"
    languages = served_languages(Config())
    assert languages.codes == ("de",)
    assert not languages.negotiated


def test_a_site_catalog_adds_its_language(settings: Any, tmp_path: Path) -> None:
    catalog = polib.POFile()
    catalog.metadata = {"Content-Type": "text/plain; charset=UTF-8"}
    catalog.append(polib.POEntry(msgid="Down for maintenance", msgstr="유지 보수 중"))
    (tmp_path / "ko" / "LC_MESSAGES").mkdir(parents=True)
    catalog.save_as_mofile(str(tmp_path / "ko" / "LC_MESSAGES" / "django.mo"))
    settings.LOCALE_PATHS = [tmp_path]
    settings.LANGUAGES = [("ko", "Korean"), ("ru", "Russian")]
    assert served_languages(Config()).codes == ("en-us", "ko")


@pytest.mark.parametrize(
    ("accept_language", "chosen"),
    [
        ("de", "de"),
        ("de-AT,de;q=0.9,en;q=0.8", "de"),
        ("pt-BR,pt;q=0.9", "pt-br"),
        ("pt-PT", "pt-br"),  # the only Portuguese served
        ("zh-CN,zh;q=0.9", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("ar-EG", "ar"),
        ("ko, fr;q=0.5", "fr"),  # the best match that is served
        ("fr;q=0.5, ja;q=0.8", "ja"),  # quality values, not order
        ("en;q=0, de;q=0.1", "de"),  # q=0: not acceptable
        ("de;q=0", "en"),
        ("*", "en"),
        ("ko, *;q=0.5", "en"),
        ("xx-yy", "en"),
        ("", "en"),
        ("de;q=x", "en"),  # malformed: Django rejects the whole header
        ("EN-gb", "en"),
    ],
)
def test_each_header_gets_the_best_served_language(
    ten: Languages, accept_language: str, chosen: str
) -> None:
    assert ten.choose(accept_language) == chosen


@given(st.text(max_size=600))
def test_no_header_value_breaks_the_choice(accept_language: str) -> None:
    languages = Languages(("en", "de", "ja"))
    assert languages.choose(accept_language) in ("en", "de", "ja")


def test_a_long_header_is_judged_by_its_first_entries(ten: Languages) -> None:
    assert ten.choose("ja, " + "x-y;q=0.5, " * 1000) == "ja"
    assert ten.choose("ja-" + "x" * 1000) == "en"  # one entry, too long: none
    assert len(first_entries("de, " * 500)) <= HEADER_LENGTH


def test_the_choice_cache_is_bounded_in_bytes(ten: Languages) -> None:
    """Distinct hostile values (10 kB each) cannot grow a worker."""

    def hostile(first: int, count: int) -> int:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(first, first + count):
            ten.choose(f"de-{n:x}, " + "x-yz;q=0.1, " * 900)
        return tracemalloc.get_traced_memory()[0] - before

    tracemalloc.start()
    filled = hostile(0, 2000)  # ours and Django's caches fill up...
    grown = hostile(2000, 4000)  # ...and stay full
    tracemalloc.stop()
    # Ours: 256 values of at most 256 characters. Django's own caches of parsed
    # values and variants hold 1,000 entries each, a few megabytes at most.
    assert filled < 5_000_000, filled
    assert grown < 100_000, grown


def test_django_parses_accept_language_as_relied_on() -> None:
    """parse_accept_lang_header is private: pinned on every Django of the matrix."""
    assert parse_accept_lang_header("fr;q=0.5, DE-at, *;q=0.1") == (
        ("de-at", 1.0),
        ("fr", 0.5),
        ("*", 0.1),
    )
    assert parse_accept_lang_header("de;q=x") == ()


def test_a_message_variant_needs_a_served_language(settings: Any) -> None:
    settings.LANGUAGES = [("de", "German"), ("es-ar", "Argentinian Spanish")]
    config = load_config(
        {
            "MAINTENANCE_MESSAGE_DE": "Wartung.",
            "MAINTENANCE_MESSAGE_ES": "Mantenimiento.",  # es-ar is served
            "MAINTENANCE_MESSAGE_KO": "점검 중",
        }
    )
    with pytest.raises(ImproperlyConfigured) as raised:
        served_languages(config)
    assert str(raised.value) == (
        "MAINTENANCE_MESSAGE_KO: the site does not serve 'ko' (it serves en-us, de, "
        "es-ar); name the variant after one of them, or add the language to "
        "LANGUAGES with a translation"
    )


def test_message_variants_are_named_after_language_codes() -> None:
    config = load_config(
        {
            "MAINTENANCE_MESSAGE": "Back soon.",
            "MAINTENANCE_MESSAGE_PT_BR": " Voltamos logo. ",
            "MAINTENANCE_MESSAGE_zh_hans": "很快回来。",
            "MAINTENANCE_MESSAGE_DE": "",  # empty, like the others: not set
        }
    )
    assert config.messages == (("pt-br", "Voltamos logo."), ("zh-hans", "很快回来。"))
    assert config.environment.message == "Back soon."


def test_one_language_cannot_have_two_variants() -> None:
    with pytest.raises(ImproperlyConfigured) as raised:
        load_config(
            {"MAINTENANCE_MESSAGE_DE": "Wartung.", "MAINTENANCE_MESSAGE_de": "x"}
        )
    assert str(raised.value) == (
        "MAINTENANCE_MESSAGE_de: MAINTENANCE_MESSAGE_DE already sets it; keep one"
    )


def test_a_variant_that_is_not_utf8_is_named() -> None:
    undecodable = b"Wartung \xff".decode("utf-8", "surrogateescape")
    with pytest.raises(ImproperlyConfigured, match=r"MAINTENANCE_MESSAGE_DE: .* UTF-8"):
        load_config({"MAINTENANCE_MESSAGE_DE": undecodable})
    with pytest.raises(ImproperlyConfigured, match=r"MAINTENANCE_MESSAGE: .* UTF-8"):
        load_config({"MAINTENANCE_MESSAGE": undecodable})


def test_a_hostile_header_costs_at_most_eight_lookups_once(
    ten: Languages, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the first eight entries are examined, a tag of a family the site does
    not serve never reaches Django, and a tag seen before is not looked up again."""
    lookups: list[str] = []
    real = translation.get_supported_language_variant

    def counted(code: str) -> str:
        lookups.append(code)
        return real(code)

    monkeypatch.setattr(languages, "get_supported_language_variant", counted)
    foreign = [f"x{chr(97 + n % 26)}{chr(97 + n // 26)}-q{n}" for n in range(28)]
    assert ten.choose(", ".join(foreign)) == "en"
    assert lookups == []  # no served language is of these families
    regional = [f"de-x{chr(97 + n % 26)}{chr(97 + n // 26)}" for n in range(28)]
    assert ten.choose(";q=0.5, ".join(regional)) == "de"
    assert len(lookups) <= 8
    lookups.clear()
    assert ten.choose(", ".join(regional[:3])) == "de"
    assert lookups == []  # looked up before
    assert ten.choose(", ".join([*foreign[:8], "ja"])) == "en"  # ninth: unseen
    assert ten.choose(", ".join([*foreign[:7], "ja"])) == "ja"
