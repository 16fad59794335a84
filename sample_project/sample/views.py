from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator

from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
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


def asked_seconds(request: HttpRequest) -> float:
    """?seconds=, 3 by default, at most 30."""
    try:
        asked = float(request.GET.get("seconds", "3"))
    except ValueError:
        asked = 3.0
    return min(max(asked, 0.0), MAX_SLOW_SECONDS) if math.isfinite(asked) else 3.0


def slow(request: HttpRequest) -> HttpResponse:
    """Answers after ?seconds= (at most 30): a request still writing when the
    switch turns maintenance on, for `maintenance on --wait` to wait for."""
    seconds = asked_seconds(request)
    time.sleep(seconds)
    return HttpResponse(f"answered after {seconds:g} s\n", content_type="text/plain")


def stream(request: HttpRequest) -> StreamingHttpResponse:
    """A line a second for ?seconds= seconds: a response still streaming when
    the switch turns maintenance on, for `--wait` to wait for its last chunk.
    Under ASGI the lines come from an async generator: Django would read a
    sync one to the end before sending anything."""
    count = int(asked_seconds(request))

    def lines() -> Iterator[str]:
        for number in range(1, count + 1):
            time.sleep(1)
            yield f"chunk {number} of {count}\n"

    async def async_lines() -> AsyncIterator[str]:
        for number in range(1, count + 1):
            await asyncio.sleep(1)
            yield f"chunk {number} of {count}\n"

    content = async_lines() if isinstance(request, ASGIRequest) else lines()
    return StreamingHttpResponse(content, content_type="text/plain")
