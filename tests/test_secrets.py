"""A Redis password or a bypass token never reaches a screen or a log: not through
`manage.py check`, `manage.py maintenance`, nor a failed start-up, whether the URL
parses or not."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from envmaintenance.conf import ConfigError, load_config
from envmaintenance.stores import redact_url
from tests.conftest import SetEnv
from tests.processes import ROOT, sample_project_environment

# Nothing listens on port 9 of the loopback: reading the switch fails at once.
# Generated passwords hold these; #, / and ? end urlsplit's netloc early.
PASSWORDS = [f"S3{character}CRET" for character in "#/?@:%"] + ["h#u/n?t@e:r%2"]
SECRET_PARTS = ("S3", "CRET", "h#u", "t@e")
URLS = [
    f"{scheme}://{user}:{password}@127.0.0.1:9/0"
    for password in PASSWORDS
    for scheme, user in (("redis", ""), ("rediss", "alice"))
] + [
    "redis://127.0.0.1:9/0?password=S3CRET",
    "redis://:S3CRET@127.0.0.1:99999/0?password=S3CRET",
    "redis://:S3CRET@[::1/0",
    "redis://:S3$CRET@127.0.0.1:9/0",  # a $ names a variable
]


def assert_no_secret(text: str) -> None:
    for part in SECRET_PARTS:
        assert part not in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:S3#CRET@host:6379/0", "redis://***@host:6379/0"),
        ("redis://alice:S3/C?R#E@T@host/0", "redis://***@host/0"),
        ("redis://host:6379/0?password=S3CRET", "redis://host:6379/0?***"),
        ("rediss://u:p@host/0?password=x#frag", "rediss://***@host/0?***"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("file:///var/run/switch", "file:///var/run/switch"),
        ("user:S3CRET@host", "***@host"),
    ],
)
def test_a_url_is_redacted_as_a_string(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def shown_at_start_up(url: str) -> str:
    """The start-up error, or the switch as logs and reprs show it."""
    try:
        config = load_config({"MAINTENANCE_SWITCH_URL": url})
    except ConfigError as exc:
        return str(exc)
    assert config.switch is not None
    return config.switch.display + repr(config)


@pytest.mark.parametrize("url", URLS)
def test_start_up_errors_and_reprs_never_show_the_password(url: str) -> None:
    shown = shown_at_start_up(url)
    assert_no_secret(shown)
    assert "***@" in shown or "?***" in shown


def test_a_password_that_urlsplit_misreads_says_how_to_write_it() -> None:
    with pytest.raises(ConfigError, match="percent-encode them") as info:
        load_config({"MAINTENANCE_SWITCH_URL": "redis://:S3#CRET@host:6379/0"})
    assert_no_secret(str(info.value))


def test_a_token_with_a_dollar_is_never_echoed() -> None:
    with pytest.raises(ConfigError) as info:
        load_config({"MAINTENANCE_BYPASS_TOKEN": "$S3CRETS3CRETS3CRET"})
    assert "S3CRET" not in str(info.value)
    assert "the token refers to a variable that is not set" in str(info.value)


@pytest.mark.parametrize("url", URLS)
def test_manage_py_check_never_shows_the_password(
    maintenance_env: SetEnv, url: str
) -> None:
    maintenance_env(switch_url=url)
    out, err = StringIO(), StringIO()
    try:
        call_command("check", stdout=out, stderr=err)
    except SystemCheckError as exc:
        assert_no_secret(str(exc))
    assert_no_secret(out.getvalue() + err.getvalue())


@pytest.mark.parametrize("url", URLS)
def test_manage_py_maintenance_never_shows_the_password(
    maintenance_env: SetEnv, url: str
) -> None:
    maintenance_env(switch_url=url)
    out = StringIO()
    try:
        call_command("maintenance", "--json", stdout=out)
    except CommandError as exc:
        assert_no_secret(str(exc))
    else:
        assert '://***@127.0.0.1:9/0"' in out.getvalue() or "?***" in out.getvalue()
    assert_no_secret(out.getvalue())


@pytest.mark.parametrize("password", ["S3#CRET", "S3/CRET", "S3?CRET"])
def test_a_failed_start_up_never_shows_the_password(password: str) -> None:
    url = f"redis://:{password}@127.0.0.1:9/0"
    started = subprocess.run(
        [sys.executable, "-c", "import sample.wsgi"],
        cwd=ROOT / "sample_project",
        env=sample_project_environment(switch_url=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0
    assert "MAINTENANCE_SWITCH_URL: 'redis://***@127.0.0.1:9/0'" in (started.stderr)
    assert_no_secret(started.stdout + started.stderr)
