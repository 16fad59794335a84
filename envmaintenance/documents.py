"""The switch document: NAME=value lines that put a State in force over the
environment's, read with the environment's own names and parsers.

A document can start or lift a maintenance, never open a way in: it carries only
what a State holds. It cannot be half-written or injected either: an empty one,
a mode without a value, and any control or bidi character are invalid, and an
invalid document changes nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from envmaintenance.parsers import forbidden_character
from envmaintenance.schedule import State
from envmaintenance.variables import FIELDS, NAMED

# What the switch may set: the rows marked switchable (the mode, the window, the
# message and read-only), by the environment's own names and parsers.
SWITCHED: dict[str, tuple[str, Callable[[str], Any]]] = {
    row.name: (row.field, row.parse) for row in NAMED.values() if row.switchable
}
MODE = FIELDS["enabled"].name
NOTES = ("SET_BY", "SET_AT", "REASON")  # who, when and why: shown, never obeyed
_NEVER_SWITCHED = set(NAMED) - set(SWITCHED)


class InvalidDocument(ValueError):
    """A switch document that does not parse; the message names the line."""


def parse_document(text: str, environment: State) -> State:
    """The state a document puts in force over the environment's.

    The document's mode and window replace the environment's; its end, message
    and read-only switch, when given, replace the environment's. Switched on
    without a window of its own, the environment's end still says when the site
    is expected back. Without MAINTENANCE_MODE the environment decides.
    """
    values, notes = read_lines(text)
    if "enabled" not in values:
        return dataclasses.replace(environment, notes=notes)
    borrow_end = values["enabled"] and "starts_at" not in values
    return State(
        enabled=values["enabled"],
        starts_at=values.get("starts_at"),
        ends_at=values.get("ends_at", environment.ends_at if borrow_end else None),
        message=values.get("message", environment.message),
        read_only=values.get("read_only", environment.read_only),
        source="switch",
        notes=notes,
    )


def read_lines(text: str) -> tuple[dict[str, Any], Mapping[str, str]]:
    """(State fields set, notes) of a document, or InvalidDocument.

    Lines end at "\\n" only (a "\\r" before it is dropped): str.splitlines()
    would also end one at U+2028 or a form feed, and a value could then carry
    a second setting.
    """
    if not text.strip():
        raise InvalidDocument(
            "the document is empty (a write in progress? an editor that truncates "
            "first?); 'manage.py maintenance env' hands control to the environment"
        )
    values: dict[str, Any] = {}
    notes: dict[str, str] = {}
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
        raise InvalidDocument("MAINTENANCE_ENDS_AT is not after MAINTENANCE_STARTS_AT")
    return values, MappingProxyType(notes)


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


def _parse_value(name: str, parse: Callable[[str], Any], raw: str) -> Any:
    try:
        return parse(raw)
    except ValueError as exc:
        raise InvalidDocument(f"{name}: {exc}") from None


def write_document(settings: Mapping[str, str], notes: Mapping[str, str]) -> str:
    """The text of a document; every line must read back as written."""
    lines = [f"{name}={value}" for name, value in {**settings, **notes}.items()]
    return "\n".join(lines) + "\n"
