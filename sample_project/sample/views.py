from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the orchestrator: exempt from maintenance, never touches the DB."""
    return HttpResponse("ok", content_type="text/plain")


def api_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
