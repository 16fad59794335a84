"""The floor: Django's handler and one middleware that answers 503 at once; and
the same 503 envmaintenance sends, with no decision made."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class Constant503Middleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(status=503)
        response._has_been_logged = True  # type: ignore[attr-defined]  # no error log
        return response


class ConstantPageMiddleware:
    """envmaintenance's page and headers, built once, answered to everyone: what
    that answer costs where the quick start places it, before any decision."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from envmaintenance.conf import get_config
        from envmaintenance.languages import served_languages
        from envmaintenance.responses import UnavailableResponses

        config = get_config()
        probe = HttpRequest()
        probe.META["HTTP_ACCEPT"] = "text/html"
        sample = UnavailableResponses(
            config, config.environment, served_languages(config)
        ).build(probe)
        self.body, self.headers = sample.content, dict(sample.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(self.body, status=503, headers=self.headers)
        response._has_been_logged = True  # type: ignore[attr-defined]  # no error log
        return response
