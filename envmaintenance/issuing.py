"""Staff passes from the command: issuing one (a link and a history entry),
revoking one (a new revision of the switch that carries it), listing them; and
reading the history."""

from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timezone
from typing import Any

from django.core.management.base import CommandError

from envmaintenance import history, passes, report
from envmaintenance.cli import command_store, host_cache, parse_duration, signature
from envmaintenance.conf import Config
from envmaintenance.control import Refused, look, revocations_in, write
from envmaintenance.documents import settings_of
from envmaintenance.history import Issued
from envmaintenance.operations import Out, now_utc
from envmaintenance.parsers import forbidden_character
from envmaintenance.stores import HISTORY_LENGTH, Store, StoreError

MAX_NAME = 100


def iso(moment: float) -> str:
    return (
        datetime.fromtimestamp(moment, timezone.utc).replace(microsecond=0).isoformat()
    )


def holder_name(name: str) -> str:
    name = name.strip()
    character = forbidden_character(name)
    if not name or len(name) > MAX_NAME or character is not None:
        raise CommandError(
            f"{name!r} is not a name for a pass; expected one line of printable text, "
            f"at most {MAX_NAME} characters"
        )
    return name


def issue(
    config: Config, name: str, seconds: int, by: str, store: Store | None
) -> tuple[passes.Pass, str]:
    """A new pass and its token; into the history when there is a switch."""
    if seconds > passes.MAX_PASS_SECONDS:
        raise CommandError("--for: a pass lasts at most 30 days")
    granted, token = passes.issue(holder_name(name), seconds, time.time())
    if store is not None:
        entry = history.Entry(
            event=history.PASS_ISSUED,
            at=iso(time.time()),
            by=by,
            reason="",
            host=socket.gethostname()[:255],
            revision=0,
            holder=granted.holder,
            pass_id=granted.id,
            expires=iso(granted.expires),
        )
        try:
            store.history.append(entry.encode())
        except StoreError as exc:
            raise CommandError(f"no pass was issued: {exc}") from None
    return granted, token


def issued(store: Store) -> list[Issued]:
    """The passes in the history, newest first, with whether each is revoked
    (by the history, or by the switch document)."""
    read = store.history.read(HISTORY_LENGTH)
    entries = [e for e in map(history.parse_entry, read) if e is not None]
    revoked = {e.pass_id for e in entries if e.event == history.PASS_REVOKED}
    revoked |= revoked_ids(store.read())
    return [
        Issued(e.holder, e.pass_id, e.expires or "", e.by, e.at, e.pass_id in revoked)
        for e in entries
        if e.event == history.PASS_ISSUED
    ]


def revoked_ids(text: str | None) -> frozenset[str]:
    """Every pass a document revokes, expired ones included."""
    written = revocations_in(text, 0)
    return passes.parse_revocations(written).ids if written else frozenset()


def revoke(config: Config, who: str, notes: dict[str, str]) -> list[Issued]:
    """Revoke every unexpired pass of a holder (or the one with this id) in a
    new revision that keeps everything else the switch says."""
    store = command_store(config)
    now = time.time()
    try:
        found = [p for p in issued(store) if who in (p.holder, p.id) and not p.revoked]
    except StoreError as exc:
        raise CommandError(f"nothing was revoked: {exc}") from None
    found = [p for p in found if _expiry(p) > now]
    if not found and passes.PASS_ID.fullmatch(who):  # history lost: revoke by id
        found = [Issued("", who, iso(now + passes.MAX_PASS_SECONDS), "", "", False)]
    if not found:
        raise CommandError(f"no pass of {who!r} is valid now; nothing was written")
    try:
        seen = look(store, host_cache(config))
        revocations = _current_revocations(seen.text)
        for pass_ in found:
            revocations = revocations.adding(
                passes.Pass(pass_.id, pass_.holder, _expiry(pass_)), now
            )
        settings = {
            **settings_of(seen.text),
            "MAINTENANCE_REVOKED_PASSES": revocations.written(now),
        }
        write(store, config.environment, settings, notes, seen)
        for pass_ in found:
            store.history.append(_revoked_entry(pass_, notes).encode())
    except Refused:
        raise CommandError("the switch changed while revoking; run it again") from None
    except StoreError as exc:
        raise CommandError(f"nothing was revoked: {exc}") from None
    return found


def _expiry(issued_pass: Issued) -> float:
    try:
        return datetime.fromisoformat(issued_pass.expires).timestamp()
    except ValueError:
        return time.time() + passes.MAX_PASS_SECONDS


def _current_revocations(text: str | None) -> passes.Revocations:
    written = revocations_in(text, time.time())
    return passes.parse_revocations(written) if written else passes.Revocations()


def _revoked_entry(pass_: Issued, notes: dict[str, str]) -> history.Entry:
    return history.Entry(
        event=history.PASS_REVOKED,
        at=notes.get("SET_AT", ""),
        by=notes.get("SET_BY", ""),
        reason=notes.get("REASON", ""),
        host=socket.gethostname()[:255],
        revision=0,
        holder=pass_.holder,
        pass_id=pass_.id,
        expires=pass_.expires,
    )


def issue_command(config: Config, options: dict[str, Any], out: Out) -> None:
    """`maintenance pass NAME`: the link, once."""
    seconds = parse_duration("for", options["for"])
    by = signature({"by": options["by"], "reason": None}, now_utc())
    store = None if config.switch is None else command_store(config)
    granted, token = issue(config, options["name"], seconds, by["SET_BY"], store)
    for line in report.pass_issued(granted, token, options["url"], store is not None):
        out.say(line)


def revoke_command(config: Config, options: dict[str, Any], out: Out) -> None:
    notes = signature({**options, "message": None}, now_utc())
    for revoked in revoke(config, options["who"].strip(), notes):
        out.say(report.pass_revoked(revoked))


def passes_command(config: Config, options: dict[str, Any], out: Out) -> None:
    try:
        found = issued(command_store(config))
    except StoreError as exc:
        raise CommandError(str(exc)) from None
    if options["json"]:
        out.say(json.dumps([vars(p) for p in found], indent=2))
        return
    for line in report.pass_lines(found, time.time()):
        out.say(line)
