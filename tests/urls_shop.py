"""A shop whose checkout and payments are reached by more than one path: language
prefixes (i18n_patterns) and format suffixes, as Django REST framework adds."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.http import HttpRequest, HttpResponse
from django.urls import path, re_path

from tests.urls import catch_all, healthz


def checkout(request: HttpRequest) -> HttpResponse:
    return HttpResponse("checkout")


def payments(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse("payments")


urlpatterns = [
    path("healthz", healthz),
    # format_suffix_patterns' shape: /api/payments.json, /api/payments.api
    re_path(r"^api/payments(?:\.(?P<format>[a-z0-9]+))?/?$", payments),
    # A loose pattern, as hand-written ones often are.
    re_path(r"^api/payments(?P<rest>.*)$", payments),
    *i18n_patterns(path("checkout/", checkout), prefix_default_language=False),
    path("<path:anything>", catch_all),
]
