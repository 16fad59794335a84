"""The floor: Django's handler and one middleware that answers 503 at once."""

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
