"""Staff passes: a personal link, signed with SECRET_KEY, that trades for a
cookie naming its holder; the holder is let in until the pass expires or is
revoked. Checking one needs no database and no session: its signature, its
expiry, and the revocations the state carries."""

from __future__ import annotations

import functools
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from django.core import signing
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect

from envmaintenance.bypass import link_value, redirect_without

PARAMETER = COOKIE_NAME = "maintenance_pass"
# Salted for this purpose: no other signed value of the site is a pass.
SALT = "envmaintenance.pass"
MAX_PASS_SECONDS = 30 * 86400
# A signed pass is about 120 characters; longer values are not one of ours.
MAX_TOKEN_LENGTH = 512
PASS_ID = re.compile(r"[0-9a-f]{8}")
_REVOCATION = re.compile(r"([0-9a-f]{8}):([0-9]{1,12})")


@dataclass(frozen=True)
class Pass:
    id: str
    holder: str
    expires: float


def issue(holder: str, seconds: int, now: float) -> tuple[Pass, str]:
    """A new pass and its token (the secret part of the link)."""
    granted = Pass(secrets.token_hex(4), holder, math.floor(now) + seconds)
    payload = {"i": granted.id, "h": holder, "e": granted.expires}
    return granted, signing.dumps(payload, salt=SALT)


@functools.lru_cache(maxsize=1024)
def read_token(token: str) -> Pass | None:
    """The pass a token carries if its signature holds (SECRET_KEY or one of
    SECRET_KEY_FALLBACKS), else None. Each distinct token is checked once."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        found = signing.loads(token, salt=SALT)
        granted = Pass(str(found["i"]), str(found["h"]), float(found["e"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    return (
        granted
        if PASS_ID.fullmatch(granted.id) and math.isfinite(granted.expires)
        else None
    )


class Revocations:
    """MAINTENANCE_REVOKED_PASSES: ``id:expiry`` entries, so that a list that
    only grows can drop the passes that have expired anyway."""

    __slots__ = ("entries", "ids")

    def __init__(self, entries: Iterable[tuple[str, int]] = ()) -> None:
        self.entries = tuple(sorted(dict(entries).items()))
        self.ids = frozenset(pass_id for pass_id, _ in self.entries)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Revocations) and self.entries == other.entries

    def __hash__(self) -> int:
        return hash(self.entries)

    def __repr__(self) -> str:
        return f"Revocations({list(self.ids)})"

    def adding(self, granted: Pass, now: float) -> Revocations:
        """These and one more, without the ones expired by ``now``."""
        kept = [(i, e) for i, e in self.entries if e > now]
        return Revocations([*kept, (granted.id, math.ceil(granted.expires))])

    def written(self, now: float) -> str:
        """As the switch document carries it, the expired ones dropped."""
        return ",".join(f"{i}:{e}" for i, e in self.entries if e > now)


def parse_revocations(raw: str) -> Revocations:
    entries = []
    for entry in raw.replace(",", " ").split():
        found = _REVOCATION.fullmatch(entry)
        if found is None:
            raise ValueError(
                f"{entry!r} is not a revoked pass; expected id:expiry entries as "
                f"'manage.py maintenance revoke' writes them, like 3f2a9c1b:1796169600"
            )
        entries.append((found[1], int(found[2])))
    return Revocations(entries)


class Passes:
    """The gate's part: a pass in a request, valid and not revoked."""

    def holder(
        self, request: HttpRequest, revoked: Revocations, now: float
    ) -> Pass | None:
        """The pass a request's cookie carries, if it lets its holder in now."""
        if COOKIE_NAME not in request.META.get("HTTP_COOKIE", ""):
            return None  # no cookie parsing for everyone else
        return _valid(request.COOKIES.get(COOKIE_NAME), revoked, now)

    def redirect_with_cookie(
        self, request: HttpRequest, revoked: Revocations, now: float
    ) -> HttpResponseRedirect | None:
        """A link with a valid pass: back to its URL, minus the pass, with the
        cookie (until the pass expires; HttpOnly, SameSite=Lax, Secure over
        HTTPS)."""
        token = link_value(request, PARAMETER)
        granted = _valid(token, revoked, now)
        if token is None or granted is None:
            return None
        response = redirect_without(request, PARAMETER)
        give_cookie(response, request, token, granted, now)
        return response


def give_cookie(
    response: HttpResponseBase,
    request: HttpRequest,
    token: str,
    granted: Pass,
    now: float,
) -> None:
    """The pass's cookie, until the pass expires: HttpOnly, SameSite=Lax, Secure
    over HTTPS."""
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max(1, math.floor(granted.expires - now)),
        secure=request.is_secure(),
        httponly=True,
        samesite="Lax",
    )


def _valid(token: str | None, revoked: Revocations, now: float) -> Pass | None:
    granted = None if token is None else read_token(token)
    if granted is None or granted.expires <= now or granted.id in revoked.ids:
        return None
    return granted
