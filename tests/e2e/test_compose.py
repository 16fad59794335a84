"""docker-compose.yml as an operator runs it, without a Docker engine: the values
interpolated from .env.example, the Redis service's own options and health check
run against a real redis-server, the switch URL through the package's parser."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from envmaintenance.conf import load_config
from envmaintenance.stores import StoreError, open_store
from tests.e2e.conftest import RedisServer, require
from tests.processes import ROOT

_REFERENCE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def dotenv(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text().splitlines()
        if line and not line.startswith("#") and "=" in line
    )
    return dict(pairs)


def interpolate(text: str, values: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}."""

    def value(match: re.Match[str]) -> str:
        name, kind, word = match.groups()
        if values.get(name):
            return values[name]
        if kind == "?":
            raise LookupError(f"{name}: {word}")
        return word if kind == "-" else ""

    return _REFERENCE.sub(value, text)


def compose(**overrides: str) -> dict[str, Any]:
    values = dotenv(ROOT / ".env.example") | overrides
    text = interpolate((ROOT / "docker-compose.yml").read_text(), values)
    return dict(yaml.safe_load(text))


@pytest.fixture
def compose_redis(tmp_path: Path) -> Any:
    """redis-server with the compose service's own options (bound to loopback)."""
    service = compose()["services"]["redis"]
    program, *arguments = service["command"]
    assert program == "redis-server"
    server = RedisServer(
        require("redis-server", "redis-server"), tmp_path, tuple(arguments)
    )
    server.start()
    yield server, service
    server.kill()


def health_check(port: int, environment: dict[str, str]) -> int:
    """The service's health check, as the engine runs it (CMD-SHELL: sh -c)."""
    require("redis-cli", "redis-tools")
    kind, command = compose()["services"]["redis"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    # The container's Redis listens on 6379; this one on a free port.
    command = command.replace("redis-cli", f"redis-cli -p {port}", 1)
    env = {"PATH": os.environ["PATH"], **environment}
    return subprocess.run(
        ["sh", "-c", command], env=env, timeout=10, check=False
    ).returncode


def test_redis_asks_for_the_password(compose_redis: Any) -> None:
    server, _service = compose_redis
    require("redis-cli", "redis-tools")
    refused = subprocess.run(
        ["redis-cli", "-p", str(server.port), "ping"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    # Why the health check is not `redis-cli ping`: refused, it still exits 0.
    assert refused.returncode == 0
    assert "NOAUTH" in refused.stdout


def test_the_health_check_passes_only_with_the_password(compose_redis: Any) -> None:
    server, service = compose_redis
    assert health_check(server.port, service["environment"]) == 0
    assert health_check(server.port, {}) != 0
    assert health_check(server.port, {"REDISCLI_AUTH": "wrong"}) != 0


def test_the_web_services_switch_url_holds_the_password(compose_redis: Any) -> None:
    server, _service = compose_redis
    url = compose()["services"]["web"]["environment"]["MAINTENANCE_SWITCH_URL"]
    local = url.replace("@redis:6379/", f"@127.0.0.1:{server.port}/")
    config = load_config({"MAINTENANCE_SWITCH_URL": local})
    assert config.switch is not None
    assert config.switch.display == f"redis://***@127.0.0.1:{server.port}/0"
    store = open_store(config.switch, config.switch_key)
    store.write("REVISION=1\nMAINTENANCE_MODE=1\n", None)
    assert store.read() == "REVISION=1\nMAINTENANCE_MODE=1\n"
    anonymous = load_config({"MAINTENANCE_SWITCH_URL": server.url}).switch
    assert anonymous is not None
    # Refused without the password: our own error, naming the store, not its
    # password (redis-py's and redis-server's wording are theirs to change).
    with pytest.raises(StoreError, match=r"^cannot read redis://127\.0\.0\.1:"):
        open_store(anonymous, config.switch_key).read()


def test_compose_needs_a_redis_password() -> None:
    with pytest.raises(LookupError, match=r"set REDIS_PASSWORD in \.env"):
        compose(REDIS_PASSWORD="")


@pytest.mark.parametrize(
    ("overrides", "published"),
    [
        ({}, "127.0.0.1:8000:8080"),
        ({"PROXY_ADDRESS": "0.0.0.0"}, "0.0.0.0:8000:8080"),  # noqa: S104 - on purpose
    ],
)
def test_the_proxy_listens_on_this_machine_unless_told(
    overrides: dict[str, str], published: str
) -> None:
    assert compose(**overrides)["services"]["proxy"]["ports"] == [published]
