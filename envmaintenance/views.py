"""A view for logged-in staff that hands them their pass while the database is
up, before a maintenance starts: include ``envmaintenance.urls``."""

from __future__ import annotations

import time

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme

from envmaintenance import issuing, passes
from envmaintenance.cli import command_store
from envmaintenance.conf import get_config

STAFF_PASS_SECONDS = 8 * 3600


def staff_pass(request: HttpRequest) -> HttpResponse:
    """A pass for the staff member asking, as a cookie, then back to ``next``.
    It reads the user (and so the database): use it before maintenance."""
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return redirect_to_login(request.get_full_path())
    config = get_config()
    store = None if config.switch is None else command_store(config)
    name = user.get_username()
    granted, token = issuing.issue(config, name, STAFF_PASS_SECONDS, name, store)
    target = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = HttpResponseRedirect(target)
    response["Cache-Control"] = "no-store"
    passes.give_cookie(response, request, token, granted, time.time())
    return response
