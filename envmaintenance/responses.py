"""The 503: HTML, problem+json and plain-text bodies and their headers, built once."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.http.response import ResponseHeaders
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.loader import get_template

from envmaintenance.conf import MaintenanceConfig

TEMPLATE_NAME = "envmaintenance/maintenance.html"
HTML = "text/html"
PROBLEM_JSON = "application/problem+json"
TEXT = "text/plain"
_OFFERED = (HTML, PROBLEM_JSON, "application/json", TEXT)
_TEMPLATE_DIR = Path(__file__).parent / "templates"


@functools.lru_cache(maxsize=256)
def preferred_media_type(accept: str) -> str:
    """Pick the body for an Accept header with Django's own negotiation.

    Clients send few distinct Accept values, so the answer is cached per value
    (bounded, so hostile headers cannot grow it).
    """
    probe = HttpRequest()
    probe.META["HTTP_ACCEPT"] = accept
    chosen = probe.get_preferred_type(_OFFERED)
    if chosen is None:
        return TEXT
    return PROBLEM_JSON if chosen == "application/json" else chosen


def humanise_seconds(seconds: int) -> str:
    """'2 hours' style wording for the page; precision is not the point."""
    for unit_seconds, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= unit_seconds:
            count = round(seconds / unit_seconds)
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def render_page(config: MaintenanceConfig) -> str:
    """Render the HTML page once; a site's own template takes precedence."""
    context = {
        "message": config.message,
        "retry_after": config.retry_after_seconds,
        "retry_after_text": humanise_seconds(config.retry_after_seconds),
        "ends_at": config.ends_at,
    }
    try:
        try:
            template = get_template(TEMPLATE_NAME)
        except TemplateDoesNotExist:
            # The project's TEMPLATES cannot see app templates: use ours directly.
            own = Engine(dirs=[str(_TEMPLATE_DIR)]).get_template(TEMPLATE_NAME)
            return own.render(Context(context))
        return template.render(context)
    except Exception as exc:  # a broken site template is a start-up error, not a 500
        raise ImproperlyConfigured(
            f"The template {TEMPLATE_NAME} failed to render: {exc!r}"
        ) from exc


class UnavailableResponses:
    """The three bodies, encoded once; a request picks one and copies its headers."""

    __slots__ = ("_variants",)

    def __init__(self, config: MaintenanceConfig, html: str) -> None:
        problem: dict[str, object] = {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": config.message,
        }
        if config.ends_at:
            problem["ends_at"] = config.ends_at.isoformat()
        bodies = {
            HTML: (html.encode(), "text/html; charset=utf-8"),
            PROBLEM_JSON: (json.dumps(problem).encode(), PROBLEM_JSON),
            TEXT: (f"{config.message}\n".encode(), "text/plain; charset=utf-8"),
        }
        self._variants = {
            media_type: (
                body,
                content_type,
                ResponseHeaders(
                    {
                        "Content-Type": content_type,
                        "Content-Length": str(len(body)),
                        # RFC 9110 §10.2.3: delay-seconds.
                        "Retry-After": str(config.retry_after_seconds),
                        "Cache-Control": "no-store",
                        "Vary": "Accept",
                    }
                )._store,
            )
            for media_type, (body, content_type) in bodies.items()
        }

    def build(
        self, request: HttpRequest, retry_after_seconds: int | None = None
    ) -> HttpResponse:
        """The 503 for this request; a scheduled end overrides Retry-After."""
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        body, content_type, headers = self._variants[preferred_media_type(accept)]
        response = HttpResponse(body, status=503, content_type=content_type)
        # ResponseHeaders checks every name and value as it is set, a large part
        # of the cost of a 503. Ours were checked once, at start-up: each response
        # gets a copy of the checked store without running the checks again.
        response.headers = ResponseHeaders.__new__(ResponseHeaders)
        response.headers._store = headers.copy()
        if retry_after_seconds is not None:
            response["Retry-After"] = str(retry_after_seconds)
        # An expected 503 is not a server error: keep it out of django.request.
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
