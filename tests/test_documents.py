from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmaintenance.conf import load_config
from envmaintenance.documents import (
    SWITCHED,
    InvalidDocument,
    compose,
    parse_document,
    revision_of,
)
from envmaintenance.state import DEFAULT_MESSAGE, State
from envmaintenance.variables import NAMED, ROWS, STATE_FIELDS

START = datetime(2026, 12, 1, 22, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, tzinfo=timezone.utc)
NOTHING = State()  # the environment of a site with no MAINTENANCE_* set


def applied(text: str, environment: State) -> State:
    """The state a document puts in force over an environment's."""
    return parse_document(text).state(environment)


def environment(**variables: str) -> State:
    return load_config(
        {f"MAINTENANCE_{name.upper()}": value for name, value in variables.items()}
    ).environment


def test_a_document_uses_the_environments_syntax_and_parsers() -> None:
    state = applied(
        "# written by manage.py maintenance on\n"
        "\n"
        "MAINTENANCE_MODE= yes \n"
        "MAINTENANCE_ENDS_AT=2026-12-01T23:00:00Z\n"
        "MAINTENANCE_MESSAGE=Back at 23:00 = soon\n"
        "SET_BY=alice\n"
        "SET_AT=2026-12-01T21:55:00+00:00\n"
        "REASON=db upgrade\n",
        NOTHING,
    )
    assert state == State(
        enabled=True, ends_at=END, message="Back at 23:00 = soon", source="switch"
    )
    assert state.notes["SET_BY"] == "alice"
    assert state.signed() == " by alice (reason: db upgrade)"


def test_a_document_without_a_mode_leaves_the_environment_in_charge() -> None:
    on = environment(mode="1")
    state = applied("SET_BY=bob\nREASON=done\n", on)
    assert state == on
    assert state.source == "environment"
    assert state.notes["SET_BY"] == "bob"  # shown, as who handed control back


@pytest.mark.parametrize(
    "name", sorted(name for name, row in NAMED.items() if not row.switchable)
)
def test_a_fixed_setting_can_never_be_set_through_the_switch(name: str) -> None:
    """Among them every way in: the allowlist, proxies, exempt paths, the token."""
    with pytest.raises(InvalidDocument, match=f"{name} can never be set through"):
        parse_document(f"MAINTENANCE_MODE=1\n{name}=0.0.0.0/0\n")


def test_the_switch_sets_exactly_the_rows_marked_switchable() -> None:
    switchable = {row.name: (row.field, row.parse) for row in ROWS if row.switchable}
    assert switchable == SWITCHED
    ways_in = {"MAINTENANCE_ALLOWED_IPS", "MAINTENANCE_TRUSTED_PROXIES"}
    ways_in |= {"MAINTENANCE_EXEMPT_PATHS", "MAINTENANCE_BYPASS_TOKEN"}
    assert ways_in.isdisjoint(SWITCHED)


def test_only_fields_of_the_state_are_switchable() -> None:
    """parse_document builds a State: a switchable Config field would be dropped."""
    assert all(row.state for row in ROWS if row.switchable)
    assert set(STATE_FIELDS) <= set(State.__dataclass_fields__)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("MAINTENANCE_MODE=maybe", "MAINTENANCE_MODE: 'maybe' is not a switch"),
        ("MAINTENANCE_ENDS_AT=tomorrow", "MAINTENANCE_ENDS_AT: 'tomorrow' is not"),
        ("MAINTENANCE_MODE", "line 1 is not NAME=value"),
        ("MAINTENANCE_MODE=1\nMAINTENANCE_MODE=0", "MAINTENANCE_MODE is set twice"),
        ("SET_BY=a\nSET_BY=b", "SET_BY is set twice"),
        ("COLOR=blue", "line 1: 'COLOR' is not a switch setting"),
        ("<html>", "line 1 is not NAME=value"),
        (
            "MAINTENANCE_STARTS_AT=2026-12-01T23:00:00Z\n"
            "MAINTENANCE_ENDS_AT=2026-12-01T22:00:00Z",
            "MAINTENANCE_ENDS_AT is not after MAINTENANCE_STARTS_AT",
        ),
    ],
)
def test_invalid_documents_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        parse_document(text)
    assert problem in str(info.value)


def test_written_documents_read_back_as_written() -> None:
    text = compose(
        7,
        {"MAINTENANCE_MODE": "1", "MAINTENANCE_MESSAGE": "Upgrading"},
        {"SET_BY": "alice"},
    )
    assert text == (
        "REVISION=7\nMAINTENANCE_MODE=1\nMAINTENANCE_MESSAGE=Upgrading\nSET_BY=alice\n"
    )
    state = applied(text, NOTHING)
    assert (state.message, state.revision, state.source) == ("Upgrading", 7, "switch")


def test_a_document_without_a_revision_is_revision_zero() -> None:
    """Written by hand or by a ConfigMap: still followed, ordered by nothing."""
    assert parse_document("MAINTENANCE_MODE=1\n").revision == 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("REVISION=0\nMAINTENANCE_MODE=1\n", "'0' is not a revision"),
        ("REVISION=-3\nMAINTENANCE_MODE=1\n", "'-3' is not a revision"),
        ("REVISION=+3\nMAINTENANCE_MODE=1\n", "'+3' is not a revision"),
        ("REVISION=\uff13\nMAINTENANCE_MODE=1\n", "is not a revision"),
        (f"REVISION={2**53 + 1}\nMAINTENANCE_MODE=1\n", "is not a revision"),
        ("REVISION=3\nREVISION=4\nMAINTENANCE_MODE=1\n", "REVISION is set twice"),
    ],
)
def test_a_revision_is_a_whole_number_from_one(text: str, problem: str) -> None:
    with pytest.raises(InvalidDocument) as info:
        parse_document(text)
    assert problem in str(info.value)


def test_a_rejected_document_still_says_which_revision_it_claims() -> None:
    """So a process's report can name the revision it refused."""
    with pytest.raises(InvalidDocument) as info:
        parse_document("REVISION=12\nMAINTENANCE_MODE=maybe\n")
    assert info.value.revision == 12
    assert revision_of("REVISION=12\nMAINTENANCE_MODE=maybe\n") == 12


@pytest.mark.parametrize(
    ("text", "revision"),
    [
        (None, 0),
        ("", 0),
        ("MAINTENANCE_MODE=1\n", 0),
        ("REVISION=5\n", 5),
        ("SET_BY=x\r\n  REVISION = 41 \r\nMAINTENANCE_MODE=1", 41),
        ("XREVISION=5\n", 0),
        ("REVISION=5x\n", 0),
        (f"REVISION={2**60}\n", 0),
    ],
)
def test_revision_of_reads_leniently(text: str | None, revision: int) -> None:
    assert revision_of(text) == revision


def test_an_env_document_hands_back_to_the_environment_with_its_revision() -> None:
    on = environment(mode="1")
    state = applied("REVISION=3\nSET_BY=bob\n", on)
    assert (state.enabled, state.source, state.revision) == (True, "environment", 3)


def test_the_switch_replaces_the_environments_mode_and_window() -> None:
    planned = environment(
        starts_at=START.isoformat(), ends_at=END.isoformat(), message="Planned"
    )
    off = applied("MAINTENANCE_MODE=0", planned)
    assert (off.enabled, off.starts_at, off.ends_at) == (False, None, None)
    on = applied("MAINTENANCE_MODE=1", planned)
    assert (on.enabled, on.starts_at, on.message) == (True, None, "Planned")


def test_an_end_and_message_from_the_switch_win_when_given() -> None:
    planned = environment(ends_at=END.isoformat(), message="Planned")
    kept = applied("MAINTENANCE_MODE=1", planned)
    assert kept.ends_at == END  # "on now, expected back at" the environment's end
    given = applied(
        "MAINTENANCE_MODE=1\nMAINTENANCE_ENDS_AT=2026-12-02T01:00:00Z\n"
        "MAINTENANCE_MESSAGE=",
        planned,
    )
    assert given.ends_at == datetime(2026, 12, 2, 1, tzinfo=timezone.utc)
    assert given.message == DEFAULT_MESSAGE  # empty means the default, as in env


def test_a_window_from_the_switch_does_not_borrow_the_environments_end() -> None:
    state = applied(
        "MAINTENANCE_MODE=0\nMAINTENANCE_STARTS_AT=2026-12-05T22:00:00Z",
        environment(ends_at=END.isoformat()),
    )
    assert state.starts_at == datetime(2026, 12, 5, 22, tzinfo=timezone.utc)
    assert state.ends_at is None


def test_the_switch_yields_a_state_and_nothing_of_who_gets_in() -> None:
    """A State has no field for a way in: the type itself keeps the promise."""
    ways_in = {"allowed_networks", "trusted_proxies", "exempt_paths", "bypass_token"}
    assert ways_in.isdisjoint(State.__dataclass_fields__)


def test_the_switch_may_carry_read_only() -> None:
    read_only = applied("MAINTENANCE_MODE=1\nMAINTENANCE_READ_ONLY=yes", NOTHING)
    assert (read_only.enabled, read_only.read_only) == (True, True)
    inherited = applied("MAINTENANCE_MODE=1", environment(read_only="1"))
    assert inherited.read_only is True
