"""The one security decision: may this request pass while maintenance is active?

Everything that lets a request in during maintenance is decided here and only
here: the scope (a path outside MAINTENANCE_PATHS is served as usual), exempt
paths, read-only maintenance, the allowlist (the client behind trusted proxies),
and the bypass link and its cookie. The HTTP middleware asks it for each
request; the command asks it for one address (`--ip`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import DisallowedHost
from django.core.signals import setting_changed
from django.dispatch import receiver

from envmaintenance.bypass import Bypass
from envmaintenance.client import ProxiedClient, remote_addr_key
from envmaintenance.conf import Config, get_config
from envmaintenance.languages import routed_language_codes
from envmaintenance.network import address_key, format_key
from envmaintenance.passes import Passes

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponseRedirect

    from envmaintenance.state import State

logger = logging.getLogger("envmaintenance")


# The host Django's get_host() makes of a request's Host (and X-Forwarded-Host,
# where the site trusts it), or None, per pair of headers: get_host() checks
# ALLOWED_HOSTS at the cost of a tenth of a request, and a site has few hosts.
# A flood of made-up hosts only empties it; a change of the settings it reads
# (in tests) too.
_HOSTS: dict[tuple[str | None, str], str | None] = {}
MAX_HOSTS = 256


def request_host(request: HttpRequest) -> str | None:
    """The host a request is for, as the site sees it (Django's get_host(),
    X-Forwarded-Host where the site trusts it), without its port; None when it
    cannot be told (no Host, one ALLOWED_HOSTS refuses)."""
    meta = request.META
    if "HTTP_HOST" not in meta:  # get_host() makes one of the server's name
        return host_of(request)
    key = (meta.get("HTTP_X_FORWARDED_HOST"), meta["HTTP_HOST"])
    try:
        return _HOSTS[key]
    except KeyError:
        if len(_HOSTS) >= MAX_HOSTS:
            _HOSTS.clear()
        host = _HOSTS[key] = host_of(request)
        return host


def host_of(request: HttpRequest) -> str | None:
    try:
        return without_port(request.get_host())
    except DisallowedHost:
        return None


@receiver(setting_changed)
def forget_hosts(*, setting: str, **_: Any) -> None:
    if setting in ("ALLOWED_HOSTS", "USE_X_FORWARDED_HOST", "DEBUG"):
        _HOSTS.clear()


def without_port(host: str) -> str | None:
    """shop.example.com:8000 -> shop.example.com; [::1]:8000 -> [::1]."""
    if host.endswith("]") or ":" not in host:  # no port (an IPv6 literal's own)
        return host or None
    return host.rpartition(":")[0] or None


class Verdict(enum.Enum):
    """How a request goes on."""

    UNTOUCHED = enum.auto()  # outside the scope, exempt, or a read in read-only
    PRIVATE = enum.auto()  # let in during maintenance: no shared cache may keep it
    STOPPED = enum.auto()  # gets the 503


# Module globals: per request, a global lookup costs a sixth of an enum attribute.
UNTOUCHED, PRIVATE, STOPPED = Verdict.UNTOUCHED, Verdict.PRIVATE, Verdict.STOPPED
# Read-only maintenance stops writes; these methods only read (RFC 9110 §9.2.1).
READS = frozenset({"GET", "HEAD", "OPTIONS"})


class Gate:
    """Built once per process from the configuration: each check is a bound
    callable, or None when it does not apply (benchmarks/ measures why)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # The codes i18n_patterns may put in front of a path (/de/checkout/).
        self.languages = frozenset(code.lower() for code in routed_language_codes())
        self.is_exempt = config.exempt_paths.matches if config.exempt_paths else None
        self.client_key: Callable[[Mapping[str, Any]], int | None] = (
            ProxiedClient(config.trusted_proxies)
            if config.trusted_proxies
            else remote_addr_key
        )
        # Until the first X-Forwarded-For arrives with no proxy declared.
        self.watching_for_proxies = not config.trusted_proxies
        self.allowed = config.allowed_networks
        self.is_allowed = config.allowed_networks.contains_key
        self.bypass = (
            Bypass(config.bypass_token, config.bypass_max_age_seconds)
            if config.bypass_token
            else None
        )
        self.passes = Passes()

    def judge(
        self, request: HttpRequest, state: State, now: float
    ) -> Verdict | HttpResponseRedirect:
        """How a request goes on while ``state`` is active: untouched, let in
        privately, stopped, or (a bypass or pass link) redirected with its
        cookie."""
        # The path first: the host is asked for only where the path is inside.
        if not self.stops_at(state, request.path_info, None):
            return UNTOUCHED
        if state.hosts and not state.hosts.covers(request_host(request)):
            return UNTOUCHED
        if state.read_only and request.method in READS:
            # Reads pass for everyone; a link still trades for its cookie, so
            # its holder can write too.
            return self.trade_link(request, state, now) or UNTOUCHED
        meta = request.META
        if self.watching_for_proxies and "HTTP_X_FORWARDED_FOR" in meta:
            self.report_undeclared_proxy(meta)
        client = self.client_key(meta)
        if client is not None and self.is_allowed(client):
            return PRIVATE
        if self.bypass is not None and self.bypass.has_valid_cookie(request):
            return PRIVATE
        granted = self.passes.holder(request, state.revoked_passes, now)
        if granted is not None:
            logger.info(
                "Maintenance: let in %s by a staff pass (%s)",
                granted.holder,
                granted.id,
            )
            return PRIVATE
        redirect = self.trade_link(request, state, now)
        if redirect is not None:
            return redirect
        if logger.isEnabledFor(logging.INFO):
            logger.info(
                "Maintenance: 503 for %s %r from %s",
                request.method,
                request.path,
                "an unknown address" if client is None else format_key(client),
            )
        return STOPPED

    def trade_link(
        self, request: HttpRequest, state: State, now: float
    ) -> HttpResponseRedirect | None:
        """A bypass link or a staff pass link, traded for its cookie."""
        if self.bypass is not None:
            redirect = self.bypass.redirect_with_cookie(request)
            if redirect is not None:
                return redirect
        return self.passes.redirect_with_cookie(request, state.revoked_passes, now)

    def stops_at(self, state: State, path: str | None, host: str | None) -> bool:
        """Whether ``state`` applies at this path and host: inside its scope,
        and not exempt. None for either: any (a host that cannot be told is
        inside, as a stop fails closed)."""
        if path is not None:
            if state.paths and not state.paths.covers(path, self.languages):
                return False
            if self.is_exempt is not None and self.is_exempt(path):
                return False
        return not state.hosts or state.hosts.covers(host)

    def network_for(self, address: str) -> str | None:
        """The allowlisted block that lets this address in, or None (`--ip`);
        ValueError when it is not one address."""
        key = address_key(address)
        if key is None:
            raise ValueError(f"{address!r} is not an IP address")
        return self.allowed.network_for(key)

    def report_undeclared_proxy(self, meta: Mapping[str, Any]) -> None:
        """The first X-Forwarded-For with no trusted proxy says one was forgotten.

        With nginx on the same host and 127.0.0.1 allowlisted, everyone would be
        let in as the proxy. Said once per process, then no longer looked for.
        """
        self.watching_for_proxies = False
        logger.warning(
            "Maintenance: requests carry X-Forwarded-For, so a proxy seems to be "
            "in front of the app, but MAINTENANCE_TRUSTED_PROXIES is not set: "
            "every client is judged by the proxy's address (%s). List the "
            "proxy in MAINTENANCE_TRUSTED_PROXIES.",
            meta.get("REMOTE_ADDR") or "none: a unix socket? use 'unix'",
        )


_gate: Gate | None = None


def gate() -> Gate:
    """The process's gate, for the configuration in force (is_active(), tags)."""
    global _gate
    config = get_config()
    if _gate is None or _gate.config is not config:
        _gate = Gate(config)
    return _gate
