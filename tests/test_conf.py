from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from hypothesis import given
from hypothesis import strategies as st

from envmaintenance.conf import (
    Config,
    ConfigError,
    get_config,
    load_config,
    unknown_variables,
)
from envmaintenance.state import DEFAULT_MESSAGE
from envmaintenance.variables import NAMED, STATE_FIELDS

GENERIC = (
    "is not an IP address or CIDR block; "
    "expected addresses like 192.0.2.1 or blocks like 10.0.0.0/8"
)


def problems_for(environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(environ)
    return str(info.value)


def test_defaults_when_nothing_is_set() -> None:
    config = load_config({})
    assert config == Config()
    assert config.environment.enabled is False
    assert not config.allowed_networks
    assert config.environment.default_retry_after == 3600
    assert not config.exempt_paths
    assert config.environment.message == DEFAULT_MESSAGE


def test_every_config_field_but_the_state_is_filled_by_one_row() -> None:
    fixed = {row.field for row in NAMED.values() if not row.state}
    config_fields = set(Config.__dataclass_fields__) - {"environment", "messages"}
    assert fixed == config_fields
    assert len(fixed) + len(STATE_FIELDS) == len(NAMED)


def test_config_is_immutable() -> None:
    config = load_config({})
    with pytest.raises(AttributeError):
        config.environment.default_retry_after = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    "raw", ["1", "true", "TRUE", "True", "yes", "YES", "on", "On", " 1 ", "\ttrue\t"]
)
def test_mode_on(raw: str) -> None:
    assert load_config({"MAINTENANCE_MODE": raw}).environment.enabled is True


@pytest.mark.parametrize("raw", ["0", "false", "FALSE", "no", "off", "OFF", "", "  "])
def test_mode_off(raw: str) -> None:
    assert load_config({"MAINTENANCE_MODE": raw}).environment.enabled is False


@pytest.mark.parametrize("raw", ["maybe", "2", "y", "ok", "enabled", "1.0", "-1"])
def test_mode_rejects_unknown_words(raw: str) -> None:
    message = problems_for({"MAINTENANCE_MODE": raw})
    assert message.startswith(f"MAINTENANCE_MODE: {raw!r}")
    assert "expected 1/0, true/false, yes/no or on/off" in message


def test_allowed_ips_accepts_commas_and_whitespace() -> None:
    config = load_config(
        {"MAINTENANCE_ALLOWED_IPS": "10.0.0.0/8, 192.0.2.1\n2001:db8::/32,,\t"}
    )
    assert [str(n) for n in config.allowed_networks.networks] == [
        "10.0.0.0/8",
        "192.0.2.1/32",
        "2001:db8::/32",
    ]


def test_allowed_ips_empty_means_none() -> None:
    assert not load_config({"MAINTENANCE_ALLOWED_IPS": " "}).allowed_networks


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("10.0.0.0/33", "'10.0.0.0/33' has prefix /33; IPv4 allows 0 to 32"),
        (
            "10.0.0.0/8,10.0.0.1/8",
            "'10.0.0.1/8' has host bits set; did you mean 10.0.0.0/8?",
        ),
        ("010.0.0.1", "'010.0.0.1' is not a valid IP address"),
        ("300.1.2.3", "'300.1.2.3' is not a valid IP address"),
        (
            "example.com",
            "'example.com' is a host name; names are not resolved, give IP addresses",
        ),
        ("nginx", "'nginx' is a host name; names are not resolved, give IP addresses"),
        (
            "10.0.0.0/8;10.1.0.0/16",
            "'10.0.0.0/8;10.1.0.0/16' holds ';'; separate entries with commas "
            "or spaces",
        ),
        (
            "192.168.1.0/255.255.255.0",
            "'192.168.1.0/255.255.255.0' has a netmask; did you mean 192.168.1.0/24?",
        ),
        (
            "10.0.0.0/255.0.255.0",
            "'10.0.0.0/255.0.255.0' has an invalid netmask; write a prefix "
            "length like /24",
        ),
        ('"10.0.0.0/8', "'\"10.0.0.0/8' is quoted; remove the quotes around the list"),
        (
            "'10.0.0.0/8'",
            "\"'10.0.0.0/8'\" is quoted; remove the quotes around the list",
        ),
        ("fe80::1%eth0", "'fe80::1%eth0' has a zone id; give the address without %..."),
        (
            "300.1.2.3/255.0.0.0",
            "'300.1.2.3/255.0.0.0' has a netmask; write a prefix length like /24 "
            "instead",
        ),
        (
            "::ffff:10.0.0.0/8",
            "'::ffff:10.0.0.0/8' mixes IPv6 and IPv4 notation; write IPv4 "
            "networks as a.b.c.d/n",
        ),
        (
            "10.0.0.0/08",
            "'10.0.0.0/08' " + GENERIC,
        ),
        (
            "10.0.0.0/+8",
            "'10.0.0.0/+8' " + GENERIC,
        ),
        (
            "10.0.0.0/\u0668",
            "'10.0.0.0/\u0668' " + GENERIC,
        ),
    ],
)
def test_allowed_ips_says_what_is_wrong_once(raw: str, problem: str) -> None:
    assert problems_for({"MAINTENANCE_ALLOWED_IPS": raw}) == (
        f"MAINTENANCE_ALLOWED_IPS: {problem}"
    )


def test_allowed_ips_host_bits_suggest_the_network() -> None:
    message = problems_for({"MAINTENANCE_ALLOWED_IPS": "10.0.0.1/8"})
    assert "has host bits set; did you mean 10.0.0.0/8?" in message


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("1", 1), ("120", 120), (" 60 ", 60), ("0120", 120), ("604800", 604800)],
)
def test_retry_after_accepts_whole_seconds(raw: str, seconds: int) -> None:
    assert (
        load_config({"MAINTENANCE_RETRY_AFTER": raw}).environment.default_retry_after
        == seconds
    )


@pytest.mark.parametrize(
    "raw",
    [
        "-5",
        "0",
        "abc",
        "1.5",
        "+120",
        "1_000",
        "10m",
        "99999999",
        "604801",
        "",
        "\u0661\u0662",
        "9" * 5000,
    ],
)
def test_retry_after_rejects(raw: str) -> None:
    message = problems_for({"MAINTENANCE_RETRY_AFTER": raw})
    assert message.startswith(f"MAINTENANCE_RETRY_AFTER: {raw!r}")
    assert "expected a whole number from 1 to 604800" in message


def test_exempt_paths() -> None:
    config = load_config({"MAINTENANCE_EXEMPT_PATHS": "/healthz, /static/"})
    assert config.exempt_paths.prefixes == ("/healthz", "/static")


def test_exempt_path_without_leading_slash_is_rejected() -> None:
    message = problems_for({"MAINTENANCE_EXEMPT_PATHS": "/healthz,static/"})
    assert message.startswith("MAINTENANCE_EXEMPT_PATHS: 'static/'")
    assert "must start with '/'" in message


def test_message_is_kept_and_empty_means_default() -> None:
    def message(raw: str) -> str:
        return load_config({"MAINTENANCE_MESSAGE": raw}).environment.message

    assert message(" Back at 10 ") == "Back at 10"
    assert message("") == DEFAULT_MESSAGE


def test_dollar_reads_another_variable_and_can_be_escaped() -> None:
    environ = {"MAINTENANCE_MESSAGE": "$OPS_NOTICE", "OPS_NOTICE": "Upgrading"}
    assert load_config(environ).environment.message == "Upgrading"
    costs = load_config({"MAINTENANCE_MESSAGE": r"Costs \$5"})
    assert costs.environment.message == "Costs $5"


def test_dollar_reference_to_an_unset_variable_is_an_error() -> None:
    message = problems_for({"MAINTENANCE_ALLOWED_IPS": "$OFFICE_IPS"})
    assert message == (
        "MAINTENANCE_ALLOWED_IPS: '$OFFICE_IPS' refers to a variable that is not "
        "set (a leading $ names a variable; write \\$ for a literal dollar sign)"
    )


def test_a_price_in_the_message_says_how_to_write_a_dollar() -> None:
    message = problems_for({"MAINTENANCE_MESSAGE": "$5 off when we are back"})
    assert message.startswith("MAINTENANCE_MESSAGE: '$5 off when we are back'")
    assert "write \\$ for a literal dollar sign" in message


def test_the_bypass_token_is_not_in_the_repr() -> None:
    token = "s3cret-bypass-token-0123456789"
    config = load_config({"MAINTENANCE_BYPASS_TOKEN": token})
    assert config.bypass_token == token
    assert token not in repr(config)
    assert token not in str(config)


@pytest.mark.parametrize(
    ("name", "closest"),
    [
        ("MAINTAINANCE_MODE", "MAINTENANCE_MODE"),
        ("MAINTENENCE_MODE", "MAINTENANCE_MODE"),
        ("MAINTENANCE_ALLOWED_IP", "MAINTENANCE_ALLOWED_IPS"),
        ("MAINTENANCE_ALLOWEDIPS", "MAINTENANCE_ALLOWED_IPS"),
        ("MAINTENANCE_TRUSTED_PROXY", "MAINTENANCE_TRUSTED_PROXIES"),
        ("MAINTENANCE_EXEMPT_PATH", "MAINTENANCE_EXEMPT_PATHS"),
        ("MAINTENANCE_START_AT", "MAINTENANCE_STARTS_AT"),
        ("MAINTENANCE_URL", None),
    ],
)
def test_unknown_variables_are_named_with_the_closest_known_one(
    name: str, closest: str | None
) -> None:
    environ = {name: "1", "MAINTENANCE_MODE": "1", "PATH": "/bin", "MAINT": "x"}
    assert unknown_variables(environ) == [(name, closest)]


def test_known_and_unrelated_variables_are_not_unknown() -> None:
    known = dict.fromkeys(NAMED, "")
    unrelated = {"MAINTAINER": "me", "MAIN_DB": "x", "DJANGO_SETTINGS_MODULE": "x"}
    assert unknown_variables({**known, **unrelated}) == []


def test_unknown_variables_are_logged_once_at_start_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("MAINTAINANCE_MODE", "1")
    monkeypatch.setenv("MAINTENANCE_ALLOWED_IP", "10.0.0.1")
    with caplog.at_level(logging.WARNING, logger="envmaintenance"):
        get_config()
        get_config()
    (record,) = caplog.records
    assert record.getMessage() == (
        "Maintenance: MAINTAINANCE_MODE is not a variable envmaintenance reads; did "
        "you mean MAINTENANCE_MODE?; MAINTENANCE_ALLOWED_IP is not a variable "
        "envmaintenance reads; did you mean MAINTENANCE_ALLOWED_IPS?"
    )


def test_dollar_reference_to_itself_is_an_error() -> None:
    message = problems_for({"MAINTENANCE_MESSAGE": "$MAINTENANCE_MESSAGE"})
    assert message == "MAINTENANCE_MESSAGE: '$MAINTENANCE_MESSAGE' refers to itself"


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_MODE": "maybe", "MAINTENANCE_RETRY_AFTER": "0"})
    assert [name for name, _ in info.value.problems] == [
        "MAINTENANCE_MODE",
        "MAINTENANCE_RETRY_AFTER",
    ]
    assert isinstance(info.value, ImproperlyConfigured)


def test_get_config_reads_os_environ_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAINTENANCE_MODE", "1")
    first = get_config()
    monkeypatch.setenv("MAINTENANCE_MODE", "0")
    assert get_config() is first
    assert first.environment.enabled is True
    get_config.cache_clear()
    assert get_config().environment.enabled is False  # a new process would see it


@given(variable=st.sampled_from(sorted(NAMED)), value=st.text())
def test_any_value_loads_or_names_its_variable(variable: str, value: str) -> None:
    problems: tuple[tuple[str, str], ...] = ()
    try:
        load_config({variable: value})
    except ConfigError as exc:
        problems = exc.problems
    assert all(name == variable for name, _ in problems)


def test_trusted_proxies_parse_like_the_allowlist() -> None:
    config = load_config(
        {"MAINTENANCE_TRUSTED_PROXIES": "172.16.0.0/12 ::ffff:10.0.0.1"}
    )
    assert list(config.trusted_proxies.networks.cidrs) == [
        "10.0.0.1/32",
        "172.16.0.0/12",
    ]


@pytest.mark.parametrize(
    "raw", ["10.0.0.1/8", "nginx", "10.0.0.0/255.0.0.0", "::1%lo", "unix:/run/x.sock"]
)
def test_invalid_trusted_proxies_fail_start_up(raw: str) -> None:
    message = problems_for({"MAINTENANCE_TRUSTED_PROXIES": raw})
    assert message.startswith(f"MAINTENANCE_TRUSTED_PROXIES: {raw!r}")


@pytest.mark.parametrize("word", ["unix", "UNIX", "unix:"])
def test_trusted_proxies_accept_unix_for_socket_peers(word: str) -> None:
    config = load_config({"MAINTENANCE_TRUSTED_PROXIES": f"{word}, 10.0.0.0/8"})
    assert config.trusted_proxies.unix_socket is True
    assert config.trusted_proxies.entries() == ["unix", "10.0.0.0/8"]
    assert load_config({}).trusted_proxies.unix_socket is False


def test_unix_is_not_an_allowlist_entry() -> None:
    message = problems_for({"MAINTENANCE_ALLOWED_IPS": "unix"})
    assert "'unix' is a host name" in message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-01T22:00:00Z", datetime(2026, 12, 1, 22, tzinfo=timezone.utc)),
        ("2026-12-01T23:00:00+01:00", datetime(2026, 12, 1, 22, tzinfo=timezone.utc)),
        (
            " 2026-12-01 22:00:00.5-05:30 ",
            datetime(2026, 12, 2, 3, 30, 0, 500000, timezone.utc),
        ),
    ],
)
def test_starts_at_accepts_iso_8601_with_offset(raw: str, expected: datetime) -> None:
    assert load_config({"MAINTENANCE_STARTS_AT": raw}).environment.starts_at == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("2026-12-01T22:00:00", "has no UTC offset"),
        ("2026-12-01", "has no UTC offset"),
        ("tomorrow 22:00", "is not a date-time"),
        ("2026-13-01T22:00:00Z", "not a valid date-time"),
        ("2026-12-01T25:00:00Z", "not a valid date-time"),
        ("1764626400", "is not a date-time"),
    ],
)
@pytest.mark.parametrize("variable", ["MAINTENANCE_STARTS_AT", "MAINTENANCE_ENDS_AT"])
def test_moments_reject(variable: str, raw: str, reason: str) -> None:
    message = problems_for({variable: raw})
    assert message.startswith(f"{variable}: {raw!r}")
    assert reason in message
    assert "expected an ISO 8601 date-time with offset" in message


@pytest.mark.parametrize(
    "raw",
    [
        "0001-01-01T00:00:00Z",
        "1999-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
        "9999-12-31T23:59:59+00:00",
    ],
)
@pytest.mark.parametrize("variable", ["MAINTENANCE_STARTS_AT", "MAINTENANCE_ENDS_AT"])
def test_moments_outside_a_sane_range_fail_start_up(variable: str, raw: str) -> None:
    message = problems_for({variable: raw})
    assert message.startswith(f"{variable}: {raw!r} is in the year ")
    assert message.endswith("expected a year from 2000 to 2999")


@pytest.mark.parametrize("raw", ["2000-01-01T00:00:00Z", "2999-12-31T23:59:59+14:00"])
def test_moments_at_the_edges_of_the_range_load(raw: str) -> None:
    assert load_config({"MAINTENANCE_ENDS_AT": raw}).environment.ends_at is not None


@pytest.mark.parametrize("end", ["2026-12-01T22:00:00Z", "2026-12-01T21:00:00Z"])
def test_end_must_be_after_start(end: str) -> None:
    message = problems_for(
        {"MAINTENANCE_STARTS_AT": "2026-12-01T22:00:00Z", "MAINTENANCE_ENDS_AT": end}
    )
    assert message.startswith(f"MAINTENANCE_ENDS_AT: {end!r} is not after")


def test_empty_moments_are_unset() -> None:
    config = load_config({"MAINTENANCE_STARTS_AT": "", "MAINTENANCE_ENDS_AT": " "})
    assert config.environment.starts_at is None
    assert config.environment.ends_at is None


def test_bypass_token_and_max_age() -> None:
    config = load_config(
        {"MAINTENANCE_BYPASS_TOKEN": "a" * 16, "MAINTENANCE_BYPASS_MAX_AGE": "600"}
    )
    assert config.bypass_token == "a" * 16
    assert config.bypass_max_age_seconds == 600
    assert load_config({}).bypass_max_age_seconds == 12 * 3600
    assert load_config({"MAINTENANCE_BYPASS_TOKEN": " "}).bypass_token is None


@pytest.mark.parametrize(
    "token",
    ["fifteen-chars-x", "has spaces in it, long", "amp&ersand-long-token", "ü" * 20],
)
def test_weak_or_unsafe_bypass_token_fails_without_echoing_it(token: str) -> None:
    message = problems_for({"MAINTENANCE_BYPASS_TOKEN": token})
    assert message.startswith("MAINTENANCE_BYPASS_TOKEN: the token")
    assert "at least 16 characters" in message
    assert token not in message


@pytest.mark.parametrize("raw", ["0", "12h", "-1", "2592001"])
def test_bypass_max_age_rejects(raw: str) -> None:
    message = problems_for({"MAINTENANCE_BYPASS_MAX_AGE": raw})
    assert "expected a whole number from 1 to 2592000" in message


@pytest.mark.parametrize(
    ("variable", "raw", "character"),
    [
        ("MAINTENANCE_MODE", "1\n", "U+000A"),
        ("MAINTENANCE_MESSAGE", "Back soon\nMAINTENANCE_READ_ONLY=1", "U+000A"),
        ("MAINTENANCE_MESSAGE", "Back\u2028soon", "U+2028"),
        ("MAINTENANCE_MESSAGE", "Back\x85soon", "U+0085"),
        ("MAINTENANCE_MESSAGE", "\x1b[2Jcleared", "U+001B"),
        ("MAINTENANCE_MESSAGE", "abc\u202edcba", "U+202E"),
        ("MAINTENANCE_MESSAGE", "isolate\u2066x", "U+2066"),
        ("MAINTENANCE_MESSAGE", "form\x0cfeed", "U+000C"),
        ("MAINTENANCE_MESSAGE_DE", "Zur\x7fck", "U+007F"),
        ("MAINTENANCE_SWITCH_KEY", "key\x00", "U+0000"),
        ("MAINTENANCE_ALLOWED_IPS", "10.0.0.0/8\x0b192.0.2.1", "U+000B"),
    ],
)
def test_a_value_holding_a_control_character_stops_start_up(
    variable: str, raw: str, character: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config({variable: raw})
    ((name, problem),) = info.value.problems
    assert name == variable
    assert f"holds {character}, which no value may hold" in problem


def test_a_tab_is_text_and_a_line_break_separates_list_entries() -> None:
    config = load_config(
        {
            "MAINTENANCE_MESSAGE": "Back\tsoon",
            "MAINTENANCE_EXEMPT_PATHS": "/healthz\r\n/static/",
        }
    )
    assert config.environment.message == "Back\tsoon"
    assert config.exempt_paths.prefixes == ("/healthz", "/static")


def test_a_secret_with_a_control_character_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_BYPASS_TOKEN": "s3cret-s3cret-s3cret\n"})
    assert "s3cret" not in str(info.value)
    assert "the token holds U+000A" in str(info.value)


def test_forget_after_defaults_to_an_hour() -> None:
    assert load_config({}).switch_forget_after_seconds == 3600


@pytest.mark.parametrize(
    ("raw", "seconds"), [("20", 20), (" 600 ", 600), ("2592000", 2592000)]
)
def test_forget_after_accepts_whole_seconds_up_to_thirty_days(
    raw: str, seconds: int
) -> None:
    config = load_config({"MAINTENANCE_SWITCH_FORGET_AFTER": raw})
    assert config.switch_forget_after_seconds == seconds


@pytest.mark.parametrize("raw", ["0", "-1", "1h", "600.5", "+600", "2592001", ""])
def test_forget_after_rejects(raw: str) -> None:
    message = problems_for({"MAINTENANCE_SWITCH_FORGET_AFTER": raw})
    assert message == (
        f"MAINTENANCE_SWITCH_FORGET_AFTER: {raw!r} is not a number of seconds; "
        f"expected a whole number from 1 to 2592000"
    )


def test_forget_after_of_exactly_ten_intervals_loads() -> None:
    config = load_config(
        {"MAINTENANCE_SWITCH_INTERVAL": "6", "MAINTENANCE_SWITCH_FORGET_AFTER": "60"}
    )
    assert config.switch_forget_after_seconds == 60


def test_forget_after_one_second_short_of_ten_intervals_names_both_values() -> None:
    message = problems_for(
        {"MAINTENANCE_SWITCH_INTERVAL": "6", "MAINTENANCE_SWITCH_FORGET_AFTER": "59"}
    )
    assert message == (
        "MAINTENANCE_SWITCH_FORGET_AFTER: '59' is less than ten times "
        "MAINTENANCE_SWITCH_INTERVAL ('6'); expected at least 60"
    )


def test_forget_after_is_measured_against_the_default_interval() -> None:
    config = load_config({"MAINTENANCE_SWITCH_FORGET_AFTER": "20"})
    assert config.switch_forget_after_seconds == 20
    message = problems_for({"MAINTENANCE_SWITCH_FORGET_AFTER": "19"})
    assert message == (
        "MAINTENANCE_SWITCH_FORGET_AFTER: '19' is less than ten times "
        "MAINTENANCE_SWITCH_INTERVAL (2, the default); expected at least 20"
    )


def test_an_invalid_interval_is_reported_once_not_against_forget_after() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(
            {"MAINTENANCE_SWITCH_INTERVAL": "0", "MAINTENANCE_SWITCH_FORGET_AFTER": "5"}
        )
    assert [name for name, _ in info.value.problems] == ["MAINTENANCE_SWITCH_INTERVAL"]


def test_switch_cache_is_a_file_in_an_existing_directory(tmp_path: Path) -> None:
    path = tmp_path / "switch.json"
    assert load_config({"MAINTENANCE_SWITCH_CACHE": str(path)}).switch_cache == path
    assert load_config({"MAINTENANCE_SWITCH_CACHE": " "}).switch_cache is None


def test_switch_cache_that_is_a_directory_asks_for_a_file_inside_it(
    tmp_path: Path,
) -> None:
    message = problems_for({"MAINTENANCE_SWITCH_CACHE": str(tmp_path)})
    assert message == (
        f"MAINTENANCE_SWITCH_CACHE: {str(tmp_path)!r} is a directory; give the "
        f"path of a file inside it, like {tmp_path / 'switch.json'}"
    )


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("relative/switch.json", "is not an absolute path to a file"),
        ("/var/cache/", "is not an absolute path to a file"),
        (
            "/no/such/directory/switch.json",
            "the directory '/no/such/directory' does not exist",
        ),
    ],
)
def test_switch_cache_rejects(raw: str, problem: str) -> None:
    message = problems_for({"MAINTENANCE_SWITCH_CACHE": raw})
    assert message.startswith("MAINTENANCE_SWITCH_CACHE: ")
    assert problem in message
