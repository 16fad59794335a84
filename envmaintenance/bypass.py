"""The bypass link: a secret query parameter that trades for a signed cookie."""

from __future__ import annotations

from django.core.exceptions import TooManyFieldsSent
from django.http import HttpRequest, HttpResponseRedirect
from django.utils.crypto import constant_time_compare
from django.utils.encoding import escape_uri_path
from django.utils.http import escape_leading_slashes

PARAMETER = "maintenance_bypass"
COOKIE_NAME = "maintenance_bypass"


class Bypass:
    """Checks the link's token and the cookie it leaves behind.

    The cookie is signed with SECRET_KEY and salted with the token, so rotating
    MAINTENANCE_BYPASS_TOKEN revokes every cookie; it never holds the token.
    """

    __slots__ = ("_max_age_seconds", "_salt", "_token")

    def __init__(self, token: str, max_age_seconds: int) -> None:
        self._token = token
        self._salt = f"envmaintenance.bypass:{token}"
        self._max_age_seconds = max_age_seconds

    def has_valid_cookie(self, request: HttpRequest) -> bool:
        if COOKIE_NAME not in request.COOKIES:
            return False
        value = request.get_signed_cookie(
            COOKIE_NAME, default=None, salt=self._salt, max_age=self._max_age_seconds
        )
        return value is not None

    def redirect_with_cookie(self, request: HttpRequest) -> HttpResponseRedirect | None:
        """For a request carrying the right token: back to its URL, minus the
        token, with the cookie. Any other request keeps its 503."""
        supplied = link_value(request, PARAMETER)
        if supplied is None or not constant_time_compare(supplied, self._token):
            return None
        response = redirect_without(request, PARAMETER)
        response.set_signed_cookie(
            COOKIE_NAME,
            "1",
            salt=self._salt,
            max_age=self._max_age_seconds,
            secure=request.is_secure(),
            httponly=True,
            samesite="Lax",
        )
        return response


def link_value(request: HttpRequest, parameter: str) -> str | None:
    """A link's parameter, parsed only when the query string names it: one
    Django refuses to parse (more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS)
    carries none."""
    if parameter not in request.META.get("QUERY_STRING", ""):
        return None
    try:
        return request.GET.get(parameter)
    except TooManyFieldsSent:
        return None


def redirect_without(request: HttpRequest, parameter: str) -> HttpResponseRedirect:
    """Back to the request's URL, minus the parameter: percent-encoded and
    without a leading "//", so it stays on this site; never cached."""
    query = request.GET.copy()
    del query[parameter]
    location = escape_leading_slashes(escape_uri_path(request.path))
    if query:
        location += "?" + query.urlencode()
    response = HttpResponseRedirect(location)
    response["Cache-Control"] = "no-store"
    return response
