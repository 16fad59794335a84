from __future__ import annotations

from datetime import datetime, timezone

import pytest

from envmaintenance.conf import DEFAULT_MESSAGE, load_config
from envmaintenance.switch import (
    InvalidDocument,
    apply_document,
    parse_document,
    write_document,
)

START = datetime(2026, 12, 1, 22, tzinfo=timezone.utc)
END = datetime(2026, 12, 1, 23, tzinfo=timezone.utc)


def test_a_document_uses_the_environments_syntax_and_parsers() -> None:
    document = parse_document(
        "# written by manage.py maintenance on\n"
        "\n"
        "MAINTENANCE_MODE= yes \n"
        "MAINTENANCE_ENDS_AT=2026-12-01T23:00:00Z\n"
        "MAINTENANCE_MESSAGE=Back at 23:00 = soon\n"
        "SET_BY=alice\n"
        "SET_AT=2026-12-01T21:55:00+00:00\n"
        "REASON=db upgrade\n"
    )
    assert dict(document.values) == {
        "enabled": True,
        "ends_at": END,
        "message": "Back at 23:00 = soon",
    }
    assert document.notes["SET_BY"] == "alice"
    assert document.overrides
    assert document.signed() == " by alice (reason: db upgrade)"


def test_a_document_without_a_mode_overrides_nothing() -> None:
    document = parse_document("SET_BY=bob\nREASON=done\n")
    assert not document.overrides
    config = load_config({"MAINTENANCE_MODE": "1"})
    assert apply_document(config, document) is config


@pytest.mark.parametrize(
    "name",
    [
        "MAINTENANCE_ALLOWED_IPS",
        "MAINTENANCE_TRUSTED_PROXIES",
        "MAINTENANCE_EXEMPT_PATHS",
        "MAINTENANCE_BYPASS_TOKEN",
        "MAINTENANCE_SWITCH_URL",
    ],
)
def test_a_way_in_can_never_be_set_through_the_switch(name: str) -> None:
    with pytest.raises(InvalidDocument, match=f"{name} can never be set through"):
        parse_document(f"MAINTENANCE_MODE=1\n{name}=0.0.0.0/0\n")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("MAINTENANCE_MODE=maybe", "MAINTENANCE_MODE: 'maybe' is not a switch"),
        ("MAINTENANCE_ENDS_AT=tomorrow", "MAINTENANCE_ENDS_AT: 'tomorrow' is not"),
        ("MAINTENANCE_MODE", "line 1 is not NAME=value"),
        ("MAINTENANCE_MODE=1\nMAINTENANCE_MODE=0", "MAINTENANCE_MODE is set twice"),
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
    text = write_document(
        {"MAINTENANCE_MODE": "1", "MAINTENANCE_MESSAGE": "Upgrading"},
        {"SET_BY": "alice"},
    )
    assert text == "MAINTENANCE_MODE=1\nMAINTENANCE_MESSAGE=Upgrading\nSET_BY=alice\n"
    assert parse_document(text).values["message"] == "Upgrading"


def test_the_switch_replaces_the_environments_mode_and_window() -> None:
    environment = load_config(
        {
            "MAINTENANCE_STARTS_AT": START.isoformat(),
            "MAINTENANCE_ENDS_AT": END.isoformat(),
            "MAINTENANCE_MESSAGE": "Planned",
        }
    )
    off = apply_document(environment, parse_document("MAINTENANCE_MODE=0"))
    assert (off.enabled, off.starts_at, off.ends_at) == (False, None, None)
    on = apply_document(environment, parse_document("MAINTENANCE_MODE=1"))
    assert (on.enabled, on.starts_at, on.message) == (True, None, "Planned")


def test_an_end_and_message_from_the_switch_win_when_given() -> None:
    environment = load_config(
        {"MAINTENANCE_ENDS_AT": END.isoformat(), "MAINTENANCE_MESSAGE": "Planned"}
    )
    kept = apply_document(environment, parse_document("MAINTENANCE_MODE=1"))
    assert kept.ends_at == END  # "on now, expected back at" the environment's end
    given = apply_document(
        environment,
        parse_document(
            "MAINTENANCE_MODE=1\nMAINTENANCE_ENDS_AT=2026-12-02T01:00:00Z\n"
            "MAINTENANCE_MESSAGE="
        ),
    )
    assert given.ends_at == datetime(2026, 12, 2, 1, tzinfo=timezone.utc)
    assert given.message == DEFAULT_MESSAGE  # empty means the default, as in env


def test_a_window_from_the_switch_does_not_borrow_the_environments_end() -> None:
    environment = load_config({"MAINTENANCE_ENDS_AT": END.isoformat()})
    document = parse_document(
        "MAINTENANCE_MODE=0\nMAINTENANCE_STARTS_AT=2026-12-05T22:00:00Z"
    )
    config = apply_document(environment, document)
    assert config.starts_at == datetime(2026, 12, 5, 22, tzinfo=timezone.utc)
    assert config.ends_at is None


def test_the_switch_never_changes_who_gets_in() -> None:
    environment = load_config(
        {
            "MAINTENANCE_ALLOWED_IPS": "10.0.0.0/8",
            "MAINTENANCE_EXEMPT_PATHS": "/healthz",
        }
    )
    config = apply_document(environment, parse_document("MAINTENANCE_MODE=1"))
    assert config.allowed_networks is environment.allowed_networks
    assert config.exempt_paths is environment.exempt_paths
    assert config.trusted_proxies is environment.trusted_proxies
    assert config.bypass_token is environment.bypass_token


def test_the_switch_may_carry_read_only() -> None:
    environment = load_config({})
    read_only = apply_document(
        environment, parse_document("MAINTENANCE_MODE=1\nMAINTENANCE_READ_ONLY=yes")
    )
    assert (read_only.enabled, read_only.read_only) == (True, True)
    inherited = apply_document(
        load_config({"MAINTENANCE_READ_ONLY": "1"}),
        parse_document("MAINTENANCE_MODE=1"),
    )
    assert inherited.read_only is True
