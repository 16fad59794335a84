"""MAINTENANCE_STATUS_PATH: the state in force as JSON, for monitors and status
pages, answered by the middleware itself, for everyone, on or off."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from envmaintenance.responses import UnavailableResponses

# The status endpoint reads; OPTIONS is the CORS preflight of a status page.
STATUS_METHODS = ("GET", "HEAD", "OPTIONS")


def status_response(
    responses: UnavailableResponses, now: float, request: HttpRequest
) -> HttpResponse:
    """MAINTENANCE_STATUS_PATH: the state in force, for monitors and status pages.

    From memory, for everyone, on or off; never the allowlist or the token. Only
    the message follows the visitor's language; the fields a machine reads do not.
    """
    if request.method not in STATUS_METHODS:
        return HttpResponseNotAllowed(STATUS_METHODS, headers=_STATUS_HEADERS)
    if request.method == "OPTIONS":
        return HttpResponse(status=204, headers=_PREFLIGHT_HEADERS)
    language = responses.language(request)
    fields = responses.state.as_json(now)
    fields["message"] = responses.message(language)
    body = json.dumps(fields, ensure_ascii=False).encode()
    headers = {
        **_STATUS_HEADERS,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        "Content-Language": language,
    }
    if responses.negotiated:
        headers["Vary"] = "Accept-Language"
    return HttpResponse(b"" if request.method == "HEAD" else body, headers=headers)


_STATUS_HEADERS = {
    "Cache-Control": "no-store",
    # Status pages on other origins read it (no credentials involved).
    "Access-Control-Allow-Origin": "*",
}
_PREFLIGHT_HEADERS = {
    **_STATUS_HEADERS,
    "Allow": ", ".join(STATUS_METHODS),
    "Access-Control-Allow-Methods": ", ".join(STATUS_METHODS),
    "Access-Control-Max-Age": "86400",
}
