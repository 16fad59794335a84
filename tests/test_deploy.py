"""The deployment files say what the package does: the Kubernetes manifests'
environment loads, their switch document parses, probes hit an exempt path, and
the switch is mounted so kubelet can update it."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from envmaintenance.conf import load_config
from envmaintenance.switch import parse_document
from tests.processes import ROOT

MANIFESTS = ROOT / "deploy" / "kubernetes"


def resources() -> dict[tuple[str, str], Any]:
    found = {}
    for path in sorted(MANIFESTS.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


def test_the_environment_loads_and_the_switch_document_parses() -> None:
    environment = dict(resources()[("ConfigMap", "web-env")]["data"])
    url = environment.pop("MAINTENANCE_SWITCH_URL")
    load_config(environment)  # the directory of the switch exists only in a pod
    assert url.startswith("file:///")
    switch = resources()[("ConfigMap", "maintenance-switch")]["data"]
    assert PurePosixPath(url.removeprefix("file://")).name in switch
    assert not parse_document(next(iter(switch.values()))).overrides


def test_probes_use_an_exempt_path() -> None:
    environment = resources()[("ConfigMap", "web-env")]["data"]
    exempt = load_config(environment | {"MAINTENANCE_SWITCH_URL": ""}).exempt_paths
    (container,) = resources()[("Deployment", "web")]["spec"]["template"]["spec"][
        "containers"
    ]
    for probe in ("readinessProbe", "livenessProbe"):
        assert exempt.matches(container[probe]["httpGet"]["path"])


def test_the_switch_is_a_whole_configmap_volume_never_a_sub_path() -> None:
    pod = resources()[("Deployment", "web")]["spec"]["template"]["spec"]
    environment = resources()[("ConfigMap", "web-env")]["data"]
    switch_file = PurePosixPath(environment["MAINTENANCE_SWITCH_URL"][len("file://") :])
    (container,) = pod["containers"]
    (mount,) = container["volumeMounts"]
    assert "subPath" not in mount
    assert PurePosixPath(mount["mountPath"]) == switch_file.parent
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "maintenance-switch"
