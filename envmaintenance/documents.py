"""The switch document: NAME=value lines that put a State in force over the
environment's, read with the environment's own names and parsers, and the
revision that orders every write (REVISION=<n>: it only goes up).

A document can start or lift a maintenance, never open a way in: it carries only
what a State holds. It cannot be half-written or injected either: an empty one,
a mode without a value, and any control or bidi character are invalid, and an
invalid document changes nothing.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from envmaintenance.parsers import forbidden_character
from envmaintenance.passes import Revocations
from envmaintenance.state import State
from envmaintenance.variables import FIELDS, NAMED

# What the switch may set: the rows marked switchable (the mode, the window, the
# message and read-only), by the environment's own names and parsers.
SWITCHED: dict[str, tuple[str, Callable[[str], Any]]] = {
    row.name: (row.field, row.parse) for row in NAMED.values() if row.switchable
}
MODE = FIELDS["enabled"].name
REVOKED_PASSES = FIELDS["revoked_passes"].name
REVISION = "REVISION"  # orders every write; obeyed, never shown as a setting
NOTES = ("SET_BY", "SET_AT", "REASON")  # who, when and why: shown, never obeyed
_NEVER_SWITCHED = set(NAMED) - set(SWITCHED)
# JSON and JavaScript count exactly up to here.
MAX_REVISION = 2**53
_REVISION_LINE = re.compile(
    r"^[ \t]*REVISION[ \t]*=[ \t]*([0-9]{1,16})[ \t]*\r?$", re.M
)


class InvalidDocument(ValueError):
    """A switch document that does not parse; the message names the line, and
    ``revision`` is the revision it claims, where that much could be read."""

    def __init__(self, message: str, revision: int | None = None) -> None:
        super().__init__(message)
        self.revision = revision


@dataclass(frozen=True)
class Document:
    """A parsed document: its revision (0 when written without one, by hand or
    by a ConfigMap), the State fields it sets and its notes."""

    text: str
    revision: int
    values: Mapping[str, Any]
    notes: Mapping[str, str]

    def state(self, environment: State) -> State:
        """The state this document puts in force over the environment's.

        The document's mode and window replace the environment's; its end,
        message and read-only switch, when given, replace the environment's.
        Switched on without a window of its own, the environment's end still
        says when the site is expected back. Without MAINTENANCE_MODE the
        environment decides (`maintenance env`).
        """
        values = self.values
        if "enabled" not in values:
            return dataclasses.replace(
                environment,
                notes=self.notes,
                revision=self.revision,
                revoked_passes=self.revocations(environment),
            )
        borrow_end = values["enabled"] and "starts_at" not in values
        return dataclasses.replace(
            environment,
            enabled=values["enabled"],
            starts_at=values.get("starts_at"),
            ends_at=values.get("ends_at", environment.ends_at if borrow_end else None),
            message=values.get("message", environment.message),
            read_only=values.get("read_only", environment.read_only),
            paths=values.get("paths", environment.paths),
            hosts=values.get("hosts", environment.hosts),
            revoked_passes=self.revocations(environment),
            source="switch",
            notes=self.notes,
            revision=self.revision,
        )

    def revocations(self, environment: State) -> Revocations:
        """The passes revoked here and in the environment: revoking only adds."""
        mine: Revocations = self.values.get("revoked_passes", Revocations())
        return Revocations([*environment.revoked_passes.entries, *mine.entries])


def settings_of(text: str | None) -> dict[str, str]:
    """The settings a document writes, as written (no revision, notes or
    revoked passes): what `maintenance run` puts back. {} when it does not
    parse, or holds no mode."""
    try:
        document = parse_document(text or "")
    except InvalidDocument:
        return {}
    if "enabled" not in document.values:
        return {}
    found = {}
    for line in document.text.split("\n"):
        name, equals, value = line.strip(" \t\r").partition("=")
        name = name.strip(" \t")
        if equals and name in SWITCHED and name != REVOKED_PASSES:
            found[name] = value.strip(" \t")
    return found


def revision_of(text: str | None) -> int:
    """The revision a text claims, read leniently (0: none): what a process
    rejected, and what the store holds, even when the rest does not parse."""
    found = None if text is None else _REVISION_LINE.search(text)
    return int(found[1]) if found and int(found[1]) <= MAX_REVISION else 0


def parse_document(text: str) -> Document:
    """The document, or InvalidDocument.

    Lines end at "\\n" only (a "\\r" before it is dropped): str.splitlines()
    would also end one at U+2028 or a form feed, and a value could then carry
    a second setting.
    """
    claimed = revision_of(text) or None
    if not text.strip():
        raise InvalidDocument(
            "the document is empty (a write in progress? an editor that truncates "
            "first?); 'manage.py maintenance env' hands control to the environment"
        )
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
    try:
        for number, raw_line in enumerate(text.split("\n"), 1):
            line = raw_line.removesuffix("\r")
            character = forbidden_character(line)
            if character is not None:
                raise InvalidDocument(f"line {number} holds {character}")
            line = line.strip(" \t")
            if line and not line.startswith("#"):
                _read_line(number, line, values, notes)
        starts, ends = values.get("starts_at"), values.get("ends_at")
        if starts and ends and ends <= starts:
            raise InvalidDocument(
                "MAINTENANCE_ENDS_AT is not after MAINTENANCE_STARTS_AT"
            )
    except InvalidDocument as exc:
        raise InvalidDocument(str(exc), claimed) from None
    revision = values.pop(REVISION, 0)
    return Document(text, revision, MappingProxyType(values), MappingProxyType(notes))


def _read_line(
    number: int, line: str, values: dict[str, Any], notes: dict[str, str]
) -> None:
    name, equals, raw = line.partition("=")
    name = name.strip(" \t")
    if not equals:
        raise InvalidDocument(f"line {number} is not NAME=value")
    if name in NOTES:
        if name in notes:
            raise InvalidDocument(f"{name} is set twice")
        notes[name] = raw.strip(" \t")
    elif name == REVISION:
        if REVISION in values:
            raise InvalidDocument(f"{REVISION} is set twice")
        values[REVISION] = _parse_revision(raw)
    elif name in SWITCHED:
        field_name, parse = SWITCHED[name]
        if field_name in values:
            raise InvalidDocument(f"{name} is set twice")
        if name == MODE and not raw.strip(" \t"):
            # In the environment an empty mode is off; here it is a line cut
            # short, and a wrong guess would open or close the site.
            raise InvalidDocument(f"{MODE} has no value; expected 1 or 0")
        values[field_name] = _parse_value(name, parse, raw)
    elif name in _NEVER_SWITCHED:
        raise InvalidDocument(f"{name} can never be set through the switch")
    else:
        raise InvalidDocument(f"line {number}: {name!r} is not a switch setting")


def _parse_revision(raw: str) -> int:
    digits = raw.strip(" \t")
    if digits.isascii() and digits.isdigit() and 1 <= int(digits) <= MAX_REVISION:
        return int(digits)
    raise InvalidDocument(
        f"{REVISION}: {raw!r} is not a revision; expected a whole number from 1 "
        f"to {MAX_REVISION}"
    )


def _parse_value(name: str, parse: Callable[[str], Any], raw: str) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        raise InvalidDocument(f"{name}: {exc}") from None


def compose(
    revision: int, settings: Mapping[str, str], notes: Mapping[str, str]
) -> str:
    """The text of a document, its revision first; every line must read back
    as written."""
    lines = [f"{REVISION}={revision}"]
    lines += [f"{name}={value}" for name, value in {**settings, **notes}.items()]
    return "\n".join(lines) + "\n"
