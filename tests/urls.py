"""The test site: a few views and, last, a catch-all like an SPA fallback or
flatpages, so a request that escapes its prefix lands somewhere visible."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.cache import cache_control


def home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("home")


def healthz(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse("ok")


def api_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def async_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async home")


@cache_control(public=True, max_age=600)
def cacheable(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse("the same for everyone")


def catch_all(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse(f"catch-all: {request.path_info}")


urlpatterns = [
    path("", home),
    path("healthz", healthz),
    path("healthz/<path:rest>", healthz),
    path("api/status", api_status),
    path("async", async_home),
    path("static/<path:name>", cacheable),
    path("cacheable", cacheable),
    path("<path:anything>", catch_all),
]
