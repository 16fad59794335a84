"""The 503: HTML, problem+json and plain-text bodies and their headers, built once."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.template import Context, Engine, TemplateDoesNotExist
from django.template.loader import get_template

from envmaintenance.conf import MaintenanceConfig

if TYPE_CHECKING:
    from envmaintenance.switch import Effective

TEMPLATE_NAME = "envmaintenance/maintenance.html"
HTML = "text/html"
PROBLEM_JSON = "application/problem+json"
TEXT = "text/plain"
# RFC 9457 §3.1.1: a stable URI names the problem type, so monitors and clients
# can tell planned maintenance from an outage without parsing prose.
PROBLEM_TYPE = "tag:envmaintenance,2026:planned-maintenance"
READ_ONLY_NOTICE = (
    "The site is read-only for now: you can look around, but changes are paused "
    "during maintenance."
)
_OFFERED = (HTML, PROBLEM_JSON, "application/json", TEXT)
_TEMPLATE_DIR = Path(__file__).parent / "templates"
# Browsers and HTTP libraries send a few short Accept values (under 150
# characters), each negotiated once. Longer ones come from broken or hostile
# clients: negotiating 10 kB costs 5 ms, so they are judged by the media ranges
# in their first 256 characters. The cache is bounded in bytes, not only in
# entries: at most 256 values of at most 256 characters.
_ACCEPT_LENGTH = 256


def preferred_media_type(accept: str) -> str:
    """Pick the body for an Accept header with Django's own negotiation."""
    return _negotiate(accept if len(accept) <= _ACCEPT_LENGTH else _shorten(accept))


def _shorten(accept: str) -> str:
    cut = accept.rfind(",", 0, _ACCEPT_LENGTH)
    return accept[:cut] if cut > 0 else "*/*"


@functools.lru_cache(maxsize=256)
def _negotiate(accept: str) -> str:
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
        "read_only": config.read_only,
        "read_only_notice": READ_ONLY_NOTICE,
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
    """The three bodies, encoded once; a request picks one and its headers."""

    __slots__ = ("_variants",)

    def __init__(self, config: MaintenanceConfig, html: str) -> None:
        detail = (
            f"{READ_ONLY_NOTICE} {config.message}"
            if config.read_only
            else config.message
        )
        problem: dict[str, object] = {
            "type": PROBLEM_TYPE,
            "title": "Service Unavailable",
            "status": 503,
            "detail": detail,
            "read_only": config.read_only,
        }
        if config.ends_at:
            problem["ends_at"] = config.ends_at.isoformat()
        bodies = {
            HTML: (html.encode(), "text/html; charset=utf-8"),
            PROBLEM_JSON: (json.dumps(problem).encode(), PROBLEM_JSON),
            TEXT: (f"{detail}\n".encode(), "text/plain; charset=utf-8"),
        }
        self._variants = {
            media_type: (
                body,
                {
                    "Content-Type": content_type,
                    "Content-Length": str(len(body)),
                    # RFC 9110 §10.2.3: delay-seconds.
                    "Retry-After": str(config.retry_after_seconds),
                    "Cache-Control": "no-store",
                    "Vary": "Accept",
                },
            )
            for media_type, (body, content_type) in bodies.items()
        }

    def bodies(self) -> dict[str, bytes]:
        """Each body by media type, as served: for the edge fallback's files."""
        return {media_type: body for media_type, (body, _) in self._variants.items()}

    def build(
        self, request: HttpRequest, retry_after_seconds: int | None = None
    ) -> HttpResponse:
        """The 503 for this request; a scheduled end overrides Retry-After."""
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        # preferred_media_type, inlined: one call less on every 503.
        short = accept if len(accept) <= _ACCEPT_LENGTH else _shorten(accept)
        body, headers = self._variants[_negotiate(short)]
        if retry_after_seconds is not None:
            headers = {**headers, "Retry-After": str(retry_after_seconds)}
        response = HttpResponse(body, status=503, headers=headers)
        # An expected 503 is not a server error: keep it out of django.request.
        # Django has no public switch for this; tests pin it on every Django of
        # the matrix (test_blocked_request_is_not_logged_by_django).
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response


def status_response(effective: Effective, now: float) -> HttpResponse:
    """MAINTENANCE_STATUS_PATH: the state in force, for monitors and status pages.

    From memory, for everyone, on or off; never the allowlist or the token.
    """
    plan, config = effective.schedule, effective.config
    active = plan.is_active(now)
    body = {
        "state": plan.describe(now),
        "active": active,
        "read_only": config.read_only,
        "starts_at": None if config.starts_at is None else config.starts_at.isoformat(),
        "ends_at": None if config.ends_at is None else config.ends_at.isoformat(),
        "retry_after": plan.retry_after_seconds(now) if active else None,
        "message": config.message,
        "source": effective.source,
    }
    return HttpResponse(
        json.dumps(body),
        headers={
            "Content-Type": "application/json",
            "Cache-Control": "no-store",
            # Status pages on other origins read it (no credentials involved).
            "Access-Control-Allow-Origin": "*",
        },
    )
