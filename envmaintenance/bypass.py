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
        """For a request carrying the right token: back to its URL, minus the token.

        Any other request keeps its 503: the query string is parsed only when
        it names the parameter, and one Django refuses to parse (more fields
        than DATA_UPLOAD_MAX_NUMBER_FIELDS) carries no token.
        """
        if PARAMETER not in request.META.get("QUERY_STRING", ""):
            return None
        try:
            supplied = request.GET.get(PARAMETER)
        except TooManyFieldsSent:
            return None
        if supplied is None or not constant_time_compare(supplied, self._token):
            return None
        query = request.GET.copy()
        del query[PARAMETER]
        # Percent-encoded and without a leading "//", so it stays on this site.
        location = escape_leading_slashes(escape_uri_path(request.path))
        if query:
            location += "?" + query.urlencode()
        response = HttpResponseRedirect(location)
        response["Cache-Control"] = "no-store"
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
