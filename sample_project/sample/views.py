from __future__ import annotations

import math
import time

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.views.decorators.cache import cache_control


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html")


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for the orchestrator: exempt from maintenance, never touches the DB."""
    return HttpResponse("ok", content_type="text/plain")


def api_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def contact(request: HttpRequest) -> HttpResponse:
    """A form: in read-only maintenance its GET works and its POST gets the 503."""
    return render(request, "contact.html", {"sent": request.method == "POST"})


@cache_control(public=True, max_age=300)
def page(request: HttpRequest, slug: str) -> HttpResponse:
    """A CMS page, the same for everyone: shared caches may keep it."""
    return HttpResponse(format_html("<h1>Page {}</h1>", slug))


def app_shell(request: HttpRequest) -> HttpResponse:
    return HttpResponse(format_html("<h1>App shell</h1><p>{}</p>", request.path_info))


MAX_SLOW_SECONDS = 30


def slow(request: HttpRequest) -> HttpResponse:
    """Answers after ?seconds= (at most 30): a request still writing when the
    switch turns maintenance on, for `maintenance on --wait` to wait for."""
    try:
        asked = float(request.GET.get("seconds", "3"))
    except ValueError:
        asked = 3.0
    seconds = min(max(asked, 0.0), MAX_SLOW_SECONDS) if math.isfinite(asked) else 3.0
    time.sleep(seconds)
    return HttpResponse(f"answered after {seconds:g} s\n", content_type="text/plain")
