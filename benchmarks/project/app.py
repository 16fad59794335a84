"""The benchmark's own Django code: its one view, and two middleware that
answer a 503 to every request without a decision."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import path

from benchmarks.variants import BROWSER_ACCEPT, CLIENT

urlpatterns = [path("", lambda request: HttpResponse("ok"))]


class Constant503Middleware:
    """The floor: the least a Django 503 can cost."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        pass

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(status=503)
        response._has_been_logged = True  # type: ignore[attr-defined]  # no error log
        return response


class BlindMiddleware(Constant503Middleware):
    """The body and headers envmaintenance answers a blocked browser, asked of
    it once at start-up, then given to every request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.test import RequestFactory

        from envmaintenance.middleware import MaintenanceMiddleware

        browser = RequestFactory().get(
            "/", HTTP_ACCEPT=BROWSER_ACCEPT, REMOTE_ADDR=CLIENT
        )
        sample = MaintenanceMiddleware(get_response)(browser)
        assert isinstance(sample, HttpResponse)
        assert sample.status_code == 503
        self.body, self.headers = sample.content, dict(sample.items())

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = HttpResponse(self.body, status=503, headers=self.headers)
        response._has_been_logged = True  # type: ignore[attr-defined]  # no error log
        return response
