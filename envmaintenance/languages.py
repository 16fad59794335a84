"""Which languages the page speaks, and which one each visitor gets.

The languages are decided once per process from the settings; a request's
Accept-Language is matched with Django's own parsing and variant rules, once per
distinct header value.
"""

from __future__ import annotations

import functools
import gettext
from pathlib import Path

from django.conf import settings
from django.utils.translation import get_supported_language_variant, to_locale

# Private, with no public equivalent: pinned by test_languages.py on every Django
# of the matrix.
from django.utils.translation.trans_real import parse_accept_lang_header

from envmaintenance.conf import Config, ConfigError

LOCALE_DIR = Path(__file__).parent / "locale"
# The language the package's strings are written in: it needs no catalog.
SOURCE_LANGUAGE = "en"
# Browsers send Accept-Language values of a few dozen characters. Longer ones
# are judged by their first entries, so the cache holds at most 256 values of at
# most 256 characters.
HEADER_LENGTH = 256
# Browsers send a handful of languages; a hostile header sends dozens of random
# ones, each an uncached lookup in Django. Only the first few are examined.
MAX_LANGUAGES_EXAMINED = 8


def first_entries(header: str) -> str:
    """The entries of a comma-separated header that fit in HEADER_LENGTH."""
    if len(header) <= HEADER_LENGTH:
        return header
    cut = header.rfind(",", 0, HEADER_LENGTH)
    return header[:cut] if cut > 0 else ""


class Languages:
    """The languages served, LANGUAGE_CODE first, and the choice for a header."""

    __slots__ = ("_by_generic", "_choose", "_match", "_served", "codes", "fallback")

    def __init__(self, codes: tuple[str, ...]) -> None:
        self.codes = codes
        self.fallback = codes[0]
        self._served = frozenset(codes)
        # pt-pt finds pt-br when no other Portuguese is served, as Django's own
        # non-strict variant rule does.
        self._by_generic: dict[str, str] = {}
        for code in reversed(codes):
            self._by_generic[code.split("-")[0]] = code
        self._choose = functools.lru_cache(maxsize=256)(self._negotiate)
        # Per tag, misses included: Django caches the variants it finds, not the
        # LookupError of one it does not (issue: hostile Accept-Language).
        self._match = functools.lru_cache(maxsize=256)(self._match_tag)

    @property
    def negotiated(self) -> bool:
        """Whether the choice depends on the request at all."""
        return len(self.codes) > 1

    def choose(self, accept_language: str) -> str:
        """The served language that best matches an Accept-Language value."""
        return self._choose(first_entries(accept_language))

    def match(self, code: str) -> str | None:
        """The served language for a lower-case tag (a path prefix, a cookie),
        or None."""
        return self._match(code)

    def _negotiate(self, accept_language: str) -> str:
        examined = ",".join(accept_language.split(",")[:MAX_LANGUAGES_EXAMINED])
        for code, quality in parse_accept_lang_header(examined):
            if code == "*":
                break
            if quality == 0:  # RFC 9110 §12.4.2: "not acceptable"
                continue
            match = self._match(code)
            if match is not None:
                return match
        return self.fallback

    def _match_tag(self, code: str) -> str | None:
        """Django's variant among LANGUAGES (de-at -> de, zh-cn -> zh-hans), if
        served; else a served language of the same family."""
        generic = code.split("-")[0]
        if generic not in self._by_generic:
            # Every variant Django could find shares the tag's family: none of a
            # family we do not serve is served. Random tags stop here.
            return None
        try:
            variant = get_supported_language_variant(code).lower()
        except LookupError:
            variant = code
        if variant in self._served:
            return variant
        return self._by_generic[generic]


def served_languages(config: Config) -> Languages:
    """LANGUAGE_CODE, then each of LANGUAGES with a catalog (ours or the site's).

    Without USE_I18N, LANGUAGE_CODE alone, as Django itself does. A message
    variant in a language that is not served is a ConfigError naming it.
    """
    fallback = settings.LANGUAGE_CODE.lower()
    codes = [fallback]
    if settings.USE_I18N:
        codes += [code.lower() for code, _ in settings.LANGUAGES if has_catalog(code)]
    languages = Languages(tuple(dict.fromkeys(codes)))
    problems = unserved_variants(config, languages)
    if problems:
        raise ConfigError(problems)
    return languages


def routed_language_codes() -> tuple[str, ...]:
    """The codes i18n_patterns may put in front of a path: all of LANGUAGES."""
    if not settings.USE_I18N:
        return ()
    return tuple(code for code, _name in settings.LANGUAGES)


def has_catalog(code: str) -> bool:
    """Ours, or the site's in LOCALE_PATHS; gettext also finds de for de-at."""
    if code.lower().split("-")[0] == SOURCE_LANGUAGE:
        return True
    directories = [LOCALE_DIR, *settings.LOCALE_PATHS]
    locale = to_locale(code)
    return any(gettext.find("django", str(path), [locale]) for path in directories)


def message_in(config: Config, language: str) -> str | None:
    """MAINTENANCE_MESSAGE_<LANG> for this language or its generic one, if set."""
    variants = dict(config.messages)
    return variants.get(language) or variants.get(language.split("-")[0])


def unserved_variants(config: Config, languages: Languages) -> list[tuple[str, str]]:
    """(variable, problem) for each message in a language the site does not serve."""
    generic = {code.split("-")[0] for code in languages.codes}
    return [
        (
            variant_name(language),
            f"the site does not serve {language!r} (it serves "
            f"{', '.join(languages.codes)}); name the variant after one of them, "
            f"or add the language to LANGUAGES with a translation",
        )
        for language, _message in config.messages
        if language not in languages.codes and language not in generic
    ]


def variant_name(language: str) -> str:
    """The variable that holds the message in a language: pt-br -> ..._PT_BR."""
    return f"MAINTENANCE_MESSAGE_{language.upper().replace('-', '_')}"
