from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path


def home(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse("home")


def healthz(request: HttpRequest, **kwargs: str) -> HttpResponse:
    return HttpResponse("ok")


def api_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


async def async_home(request: HttpRequest) -> HttpResponse:
    return HttpResponse("async home")


urlpatterns = [
    path("", home),
    path("healthz", healthz),
    path("healthz/<path:rest>", healthz),
    path("api/status", api_status),
    path("async", async_home),
    path("<path:anything>", home),
]
