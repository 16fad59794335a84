from __future__ import annotations

import functools
import os
from typing import Any
from unittest import mock

import pytest
from django.http import HttpResponse
from django.test import Client, RequestFactory
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from envmaintenance.conf import get_config
from envmaintenance.middleware import MaintenanceMiddleware
from tests import reference
from tests.conftest import SetEnv


@hypothesis_settings(deadline=None)
@given(
    peer=reference.peers(),
    chain=st.one_of(st.none(), st.lists(reference.hops(), max_size=6)),
)
def test_any_client_headers_get_503_or_pass_and_pass_only_when_allowed(
    peer: reference.Written, chain: list[reference.Written] | None
) -> None:
    meta: dict[str, Any] = {"REMOTE_ADDR": peer.text}
    if chain is not None:
        meta["HTTP_X_FORWARDED_FOR"] = ",".join(hop.text for hop in chain)
    status = _hypothesis_middleware()(RequestFactory().get("/", **meta)).status_code
    allowed = reference.is_allowed(reference.expected_client(peer, chain))
    assert status == (200 if allowed else 503)


@functools.cache
def _hypothesis_middleware() -> MaintenanceMiddleware:
    """Built once: hypothesis examples share it instead of re-reading the env."""
    environ = {
        "MAINTENANCE_MODE": "1",
        "MAINTENANCE_ALLOWED_IPS": " ".join(map(str, reference.ALLOWED)),
        "MAINTENANCE_TRUSTED_PROXIES": " ".join(map(str, reference.TRUSTED)),
    }
    with mock.patch.dict(os.environ, environ):
        get_config.cache_clear()
        try:
            return MaintenanceMiddleware(lambda request: HttpResponse("ok"))
        finally:
            get_config.cache_clear()


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/%00", {}),
        ("/%E0%A4%A", {}),
        ("/%ZZ", {}),
        ("/" + "a" * 8000, {}),
        ("/", {"HTTP_X_FORWARDED_FOR": "\x00" * 100}),
        ("/", {"HTTP_X_FORWARDED_FOR": "x" * 5000}),
        ("/", {"HTTP_X_FORWARDED_FOR": "unknown"}),
        ("/", {"HTTP_X_FORWARDED_FOR": "1.2.3.4.5, [::1, 999.999.999.999"}),
        ("/", {"HTTP_X_FORWARDED_FOR": "fe80::1%eth0"}),
        ("/", {"REMOTE_ADDR": "fe80::1%eth0"}),
        ("/", {"REMOTE_ADDR": "\x00"}),
        ("/", {"HTTP_ACCEPT": "text/html;q=\x00"}),
        ("/", {"HTTP_ACCEPT": "*/*;q=nan, text/plain;q=inf"}),
        ("/", {"HTTP_ACCEPT": ";;;,,,/"}),
        ("/", {"HTTP_HOST": "bad host..com:99999"}),
        ("/", {"HTTP_HOST": "evil.example"}),
        ("/", {"HTTP_X_REAL_IP": "127.0.0.1", "HTTP_FORWARDED": "for=127.0.0.1"}),
    ],
)
def test_hostile_requests_get_the_503_not_a_500(
    maintenance_env: SetEnv, client: Client, path: str, headers: dict[str, Any]
) -> None:
    maintenance_env(mode="1", allowed_ips="127.0.0.2", trusted_proxies="127.0.0.1")
    assert client.get(path, **headers).status_code == 503


def test_bad_host_with_host_validation_before_us_is_a_400(
    maintenance_env: SetEnv, client: Client, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True  # SecurityMiddleware reads the host first
    maintenance_env(mode="1")
    assert client.get("/", HTTP_HOST="evil.example").status_code == 400
