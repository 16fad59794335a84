"""The 503: HTML, problem+json and plain-text bodies in every language served,
and their headers, built once."""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import translation
from django.utils.translation import gettext, ngettext

from envmaintenance.conf import Config
from envmaintenance.languages import HEADER_LENGTH, Languages, first_entries, message_in
from envmaintenance.state import DEFAULT_MESSAGE, State, gettext_noop

logger = logging.getLogger("envmaintenance")

TEMPLATE_NAME = "envmaintenance/maintenance.html"
HTML = "text/html"
PROBLEM_JSON = "application/problem+json"
TEXT = "text/plain"
# RFC 9457 §3.1.1: a stable URI names the problem type, so monitors and clients
# can tell planned maintenance from an outage without parsing prose.
PROBLEM_TYPE = "tag:envmaintenance,2026:planned-maintenance"
READ_ONLY_NOTICE = gettext_noop(
    "The site is read-only for now: you can look around, but changes are paused "
    "during maintenance."
)
# Past the announced end, and still on: said instead of a time in the past.
OVERDUE_NOTICE = gettext_noop("This is taking longer than planned.")
_OFFERED = (HTML, PROBLEM_JSON, "application/json", TEXT)
_TEMPLATE_DIR = Path(__file__).parent / "templates"
_LIBRARIES = {"i18n": "django.templatetags.i18n"}


def preferred_media_type(accept: str) -> str:
    """Pick the body for an Accept header with Django's own negotiation.

    Long values are judged by their first media ranges (negotiating 10 kB costs
    5 ms), so the cache holds at most 256 values of at most 256 characters.
    """
    if len(accept) > HEADER_LENGTH:
        accept = first_entries(accept) or "*/*"
    return _negotiate(accept)


@functools.lru_cache(maxsize=256)
def _negotiate(accept: str) -> str:
    probe = HttpRequest()
    probe.META["HTTP_ACCEPT"] = _comparable(accept)
    chosen = probe.get_preferred_type(_OFFERED)
    if chosen is None:
        return TEXT
    return PROBLEM_JSON if chosen == "application/json" else chosen


def _comparable(accept: str) -> str:
    """Accept as our offers can match it.

    Django matches a range with parameters only against the same parameters,
    so "application/json; charset=utf-8" (Spring's default) found no offer:
    every parameter but q goes. Structured +json types (RFC 6839:
    application/vnd.api+json, application/*+json) are JSON clients: they get
    problem+json, which is one.
    """
    ranges = []
    for media_range in accept.split(","):
        media_type, *parameters = media_range.split(";")
        media_type = media_type.strip().lower()
        if media_type.startswith("application/") and media_type.endswith("+json"):
            media_type = PROBLEM_JSON
        quality = [p for p in parameters if p.strip().lower().startswith("q=")]
        ranges.append(";".join([media_type, *quality]))
    return ",".join(ranges)


def humanise_seconds(seconds: int) -> str:
    """'2 hours' style wording in the active language; precision is not the point."""
    if seconds >= 86400:
        days = round(seconds / 86400)
        return ngettext("%(count)d day", "%(count)d days", days) % {"count": days}
    if seconds >= 3600:
        hours = round(seconds / 3600)
        return ngettext("%(count)d hour", "%(count)d hours", hours) % {"count": hours}
    if seconds >= 60:
        minutes = round(seconds / 60)
        return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {
            "count": minutes
        }
    return ngettext("%(count)d second", "%(count)d seconds", seconds) % {
        "count": seconds
    }


def message_for(config: Config, state: State, language: str) -> str:
    """The message in a language: its own variant, the default translated, or
    the state's message as written. Call with the language active."""
    variant = message_in(config, language)
    if variant is not None:
        return variant
    return (
        gettext(DEFAULT_MESSAGE) if state.message == DEFAULT_MESSAGE else state.message
    )


def render_page(
    config: Config,
    state: State,
    language: str,
    *,
    site_template: bool = True,
    overdue: bool = False,
) -> str:
    """Render the HTML page in a language; a site's own template takes precedence
    (unless ``site_template=False``: ours alone, which always renders).
    ``overdue``: past the announced end, the page says so and promises no time."""
    with translation.override(language):
        context = {
            "message": message_for(config, state, language),
            "retry_after": state.default_retry_after,
            "retry_after_text": humanise_seconds(state.default_retry_after),
            "ends_at": None if overdue else state.ends_at,
            "overdue": overdue,
            "reload": config.page_reload,
            "status_path": config.status_path,
            "read_only": state.read_only,
            "read_only_notice": gettext(READ_ONLY_NOTICE),
        }
        own = Engine(dirs=[str(_TEMPLATE_DIR)], libraries=_LIBRARIES)
        try:
            try:
                if not site_template:
                    raise TemplateDoesNotExist(TEMPLATE_NAME)
                template = get_template(TEMPLATE_NAME)
            except TemplateDoesNotExist:
                # The project's TEMPLATES cannot see app templates: use ours.
                return own.get_template(TEMPLATE_NAME).render(Context(context))
            return template.render(context)
        except Exception as exc:  # a broken site template is a start-up error
            raise ImproperlyConfigured(
                f"The template {TEMPLATE_NAME} failed to render in {language!r}: "
                f"{exc!r}"
            ) from exc


def render_bodies(
    config: Config,
    state: State,
    language: str,
    *,
    site_template: bool = True,
    overdue: bool = False,
) -> dict[str, bytes]:
    """The HTML, problem+json and plain-text bodies in a language."""
    with translation.override(language):
        notices = [READ_ONLY_NOTICE] * state.read_only + [OVERDUE_NOTICE] * overdue
        detail = " ".join(
            [*map(gettext, notices), message_for(config, state, language)]
        )
        problem: dict[str, object] = {
            "type": PROBLEM_TYPE,
            "title": gettext("Service Unavailable"),
            "status": 503,
            "detail": detail,
            "read_only": state.read_only,
        }
    if overdue:
        problem["overdue"] = True
    elif state.ends_at:
        problem["ends_at"] = state.ends_at.isoformat()
    page = render_page(
        config, state, language, site_template=site_template, overdue=overdue
    )
    return {
        HTML: page.encode(),
        PROBLEM_JSON: json.dumps(problem, ensure_ascii=False).encode(),
        TEXT: f"{detail}\n".encode(),
    }


# One language's bodies and headers, by media type.
Answers = dict[str, tuple[bytes, dict[str, str]]]

_CONTENT_TYPES = {
    HTML: "text/html; charset=utf-8",
    PROBLEM_JSON: PROBLEM_JSON,
    TEXT: "text/plain; charset=utf-8",
}


class UnavailableResponses:
    """Every body in every language, encoded once; a request picks one.

    Rendered up front, unless ``rendered=False``: a state that cannot stop a
    request renders nothing, so a site's own tests, each with a new client and
    so a new middleware, neither pay for pages nor see them in
    ``response.templates``. At start-up (``strict``) a broken site template is an
    error naming the language; later (a new switch state, a page rendered on
    demand) it is logged and our own template serves instead: never a 500. The
    pages of an overdue maintenance are rendered the first time one is asked for.
    """

    __slots__ = (
        "_by_language",
        "_choose",
        "_json_path",
        "_languages",
        "_messages",
        "_strict",
        "config",
        "state",
    )

    def __init__(
        self,
        config: Config,
        state: State,
        languages: Languages,
        *,
        rendered: bool = True,
        strict: bool = True,
    ) -> None:
        self.config = config
        self.state = state  # the state these answers are for
        self._strict = strict
        self._languages = languages
        self._choose = languages.choose if languages.negotiated else None
        self._json_path = config.json_paths.matches if config.json_paths else None
        self._messages: dict[str, str] = {}
        for language in languages.codes:
            with translation.override(language):
                self._messages[language] = message_for(config, state, language)
        self._by_language: dict[tuple[str, bool], Answers] = {}
        if rendered:
            for language in languages.codes:
                self._render(language, overdue=False)

    def _render(self, language: str, *, overdue: bool) -> Answers:
        if overdue and not any(key[1] for key in self._by_language):
            logger.warning(
                "Maintenance is taking longer than expected: it was to end at %s "
                "(revision %d), and it is still on",
                self.state.ends_at.isoformat() if self.state.ends_at else "?",
                self.state.revision,
            )
        vary = "Accept, Accept-Language" if self._languages.negotiated else "Accept"
        answers = self._by_language[language, overdue] = {
            media_type: (
                body,
                {
                    "Content-Type": _CONTENT_TYPES[media_type],
                    "Content-Length": str(len(body)),
                    "Content-Language": language,
                    # RFC 9110 §10.2.3: delay-seconds.
                    "Retry-After": str(self.state.default_retry_after),
                    "Cache-Control": "no-store",
                    "Vary": vary,
                },
            )
            for media_type, body in self._bodies(language, overdue).items()
        }
        return answers

    def _bodies(self, language: str, overdue: bool) -> dict[str, bytes]:
        config, state = self.config, self.state
        try:
            return render_bodies(config, state, language, overdue=overdue)
        except ImproperlyConfigured:
            if self._strict:
                raise
            logger.exception("Maintenance: serving the built-in page instead")
            return render_bodies(
                config, state, language, site_template=False, overdue=overdue
            )

    def language(self, request: HttpRequest) -> str:
        """The language served to this request, as the site sees it: the
        i18n_patterns prefix of its path, Django's language cookie, then
        Accept-Language; each only where the page speaks it."""
        if self._choose is None:
            return self._languages.fallback
        code, slash, _rest = request.path_info[1:].partition("/")
        if slash and (chosen := self._languages.match(code.lower())) is not None:
            return chosen
        name = settings.LANGUAGE_COOKIE_NAME
        if name in request.META.get("HTTP_COOKIE", ""):
            cookie = request.COOKIES.get(name, "")
            if (chosen := self._languages.match(cookie.lower()[:16])) is not None:
                return chosen
        return self._choose(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))

    def message(self, language: str) -> str:
        """The message as the page shows it in a language served."""
        return self._messages[language]

    @property
    def negotiated(self) -> bool:
        return self._languages.negotiated

    def build(
        self,
        request: HttpRequest,
        retry_after_seconds: int | None = None,
        *,
        overdue: bool = False,
    ) -> HttpResponse:
        """The 503 for this request; a scheduled end overrides Retry-After."""
        language = self.language(request)
        try:
            answers = self._by_language[language, overdue]
        except KeyError:  # not rendered up front
            answers = self._render(language, overdue=overdue)
        if self._json_path is not None and self._json_path(request.path_info):
            media_type = PROBLEM_JSON  # MAINTENANCE_JSON_PATHS: whatever Accept says
        else:
            media_type = preferred_media_type(request.META.get("HTTP_ACCEPT", "*/*"))
        body, headers = answers[media_type]
        if retry_after_seconds is not None:
            headers = {**headers, "Retry-After": str(retry_after_seconds)}
        # RFC 9110 §9.3.2: HEAD gets the GET's headers, Content-Length included,
        # and no body (servers warn about one: gunicorn, for every monitor probe).
        if request.method == "HEAD":
            body = b""
        response = HttpResponse(body, status=503, headers=headers)
        # An expected 503 is not a server error: keep it out of django.request.
        # Django has no public switch for this; tests pin it on every Django of
        # the matrix (test_blocked_request_is_not_logged_by_django).
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
