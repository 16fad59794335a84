"""The shipped translations: complete, not fuzzy, compiled, and faithful to the
markup and placeholders of the strings they translate."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from datetime import datetime, timezone

import polib
import pytest
from django.template.loader import render_to_string
from django.utils import translation

from envmaintenance.languages import LOCALE_DIR
from envmaintenance.responses import render_bodies
from envmaintenance.state import State
from tests.conftest import SetNow, make_config

# Directory names (gettext locale names) of the languages the package promises.
PROMISED = ("de", "fr", "es", "pt_BR", "it", "nl", "pl", "ja", "zh_Hans", "ar")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
TAG = re.compile(r"</?[a-z]+[^>]*>")
END = datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc)


def catalog(language: str) -> polib.POFile:
    return polib.pofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.po"))


def key(entry: polib.POEntry | polib.MOEntry) -> tuple[str | None, str]:
    return (entry.msgctxt, entry.msgid)


@pytest.fixture(scope="module")
def source_strings(
    tmp_path_factory: pytest.TempPathFactory,
) -> set[tuple[str | None, str]]:
    """Every string the sources mark for translation, as makemessages finds them."""
    if shutil.which("xgettext") is None:
        pytest.fail(
            "xgettext not found: run scripts/system-packages test (make test does)"
        )
    copy = tmp_path_factory.mktemp("source") / "envmaintenance"
    shutil.copytree(LOCALE_DIR.parent, copy, ignore=shutil.ignore_patterns("locale"))
    (copy / "locale").mkdir()  # where makemessages writes
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "xx"],
        cwd=copy,
        env=environment,
        check=True,
        capture_output=True,
    )
    extracted = polib.pofile(str(copy / "locale" / "xx" / "LC_MESSAGES" / "django.po"))
    return {key(entry) for entry in extracted}


def test_every_promised_language_has_a_catalog() -> None:
    shipped = sorted(path.name for path in LOCALE_DIR.iterdir() if path.is_dir())
    assert shipped == sorted(PROMISED)


@pytest.mark.parametrize("language", PROMISED)
def test_the_catalog_holds_every_source_string_and_no_other(
    language: str, source_strings: set[tuple[str | None, str]]
) -> None:
    entries = {key(entry) for entry in catalog(language) if not entry.obsolete}
    assert source_strings - entries == set(), "missing: run make messages"
    assert entries - source_strings == set(), "no longer in the sources"


@pytest.mark.parametrize("language", PROMISED)
def test_every_entry_is_translated_and_not_fuzzy(language: str) -> None:
    po = catalog(language)
    assert po.metadata["Language"] == language
    header = re.search(r"nplurals=(\d+)", po.metadata["Plural-Forms"])
    assert header is not None
    plurals = int(header[1])
    for entry in po:
        assert "fuzzy" not in entry.flags, entry.msgid
        if entry.msgid_plural:
            forms = [entry.msgstr_plural[n] for n in range(plurals)]
            assert all(forms), entry.msgid
        else:
            assert entry.msgstr, entry.msgid


@pytest.mark.parametrize("language", PROMISED)
def test_translations_keep_the_markup_and_placeholders(language: str) -> None:
    for entry in catalog(language):
        if entry.msgid_plural:
            # A form may spell its number out (Arabic "two days"): never invent one.
            for form in entry.msgstr_plural.values():
                assert set(PLACEHOLDER.findall(form)) <= {"count"}, form
            continue
        assert Counter(PLACEHOLDER.findall(entry.msgstr)) == Counter(
            PLACEHOLDER.findall(entry.msgid)
        ), entry.msgstr
        assert sorted(TAG.findall(entry.msgstr)) == sorted(TAG.findall(entry.msgid))


@pytest.mark.parametrize("language", PROMISED)
def test_the_compiled_catalog_is_up_to_date(language: str) -> None:
    po = catalog(language)
    mo = polib.mofile(str(LOCALE_DIR / language / "LC_MESSAGES" / "django.mo"))

    def translations(
        entries: polib.POFile | polib.MOFile,
    ) -> dict[object, object]:
        return {
            key(entry): entry.msgstr_plural or entry.msgstr
            for entry in entries
            if entry.msgid
        }

    assert translations(mo) == translations(po), "stale .mo: run make messages"


@pytest.mark.parametrize("language", PROMISED)
def test_nothing_english_is_left_on_the_page_or_the_banner(
    language: str, frozen_clock: SetNow
) -> None:
    code = language.lower().replace("_", "-")
    config = make_config(enabled=True, ends_at=END, read_only=True)
    page = render_bodies(config, config.environment, code)["text/html"].decode()
    frozen_clock(END.timestamp() - 86400)
    upcoming = State(starts_at=END, ends_at=END)
    with translation.override(code):
        banner = render_to_string(
            "envmaintenance/banner.html", {"maintenance": upcoming}
        )
    english = (
        "for maintenance",
        "read-only",
        "Expected back",
        "reloads by itself",
        "taking longer",
        "planned maintenance",
        "Scheduled maintenance",
        "during this time",
        "Tuesday",
        "December",
    )
    for phrase in english:
        assert phrase not in page, phrase
        assert phrase not in banner, phrase
