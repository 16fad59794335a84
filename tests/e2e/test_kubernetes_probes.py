"""The shipped probes pass: kubelet's own request, to the sample project under
gunicorn configured from the manifests' values, ready with maintenance on or off."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, Start, request
from tests.test_deploy import resources

NODE = "127.0.0.3"  # kubelet probes from the node: never allowlisted
# What kubelet sends besides the probe's own httpHeaders.
KUBELET_HEADERS = {
    "User-Agent": "kube-probe/1.31",
    "Accept": "*/*",
    "Connection": "close",
}


def container() -> dict[str, Any]:
    (web,) = resources()[("Deployment", "web")]["spec"]["template"]["spec"][
        "containers"
    ]
    return dict(web)


def start_from_the_manifests(start_app: Start, tmp_path: Path, mode: str) -> Server:
    """gunicorn with web-env's data as its environment, nothing from .env files."""
    environment = dict(resources()[("ConfigMap", "web-env")]["data"])
    # The ConfigMap volume exists only in a pod: the same file, here.
    environment["MAINTENANCE_SWITCH_URL"] = f"file://{tmp_path}/switch"
    environment["MAINTENANCE_MODE"] = mode
    environment |= {"ENV_FILE": os.devnull, "SECRET_KEY": "from-web-secrets"}
    variables = {
        name.removeprefix("MAINTENANCE_").lower(): value
        for name, value in environment.items()
        if name.startswith("MAINTENANCE_")
    }
    others = {k: v for k, v in environment.items() if not k.startswith("MAINTENANCE_")}
    return start_app("gunicorn", environment=others, **variables)


def probe(server: Server, name: str, host: str | None = None) -> int:
    """Exactly kubelet's request for the container's probe ``name``."""
    action = container()[name]["httpGet"]
    headers = {h["name"]: h["value"] for h in action.get("httpHeaders", [])}
    if host is not None:
        headers["Host"] = host
    headers.setdefault("Host", f"127.0.0.1:{server.port}")  # kubelet: <pod IP>:port
    answer = request(
        server.port, action["path"], source=NODE, headers=KUBELET_HEADERS | headers
    )
    return answer.status


@pytest.mark.parametrize("mode", ["0", "1"])
def test_the_shipped_probes_pass(start_app: Start, tmp_path: Path, mode: str) -> None:
    server = start_from_the_manifests(start_app, tmp_path, mode)
    assert probe(server, "readinessProbe") == 200
    assert probe(server, "livenessProbe") == 200
    assert request(
        server.port, "/", source=NODE, headers={"Host": "example.com"}
    ).status == (200 if mode == "0" else 503)


def test_without_the_host_header_kubelet_would_get_400(
    start_app: Start, tmp_path: Path
) -> None:
    """Why the probes carry a Host: kubelet's default is the pod's address."""
    server = start_from_the_manifests(start_app, tmp_path, "0")
    assert probe(server, "readinessProbe", host=f"10.244.1.7:{server.port}") == 400
