"""The deployment files say what the package does: the Kubernetes manifests'
environment loads, their switch document parses, probes hit an exempt path, and
the switch is mounted so kubelet can update it."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

import yaml

from envmaintenance.conf import load_config
from envmaintenance.documents import parse_document
from envmaintenance.state import State
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
    document = next(iter(switch.values()))
    assert parse_document(document).state(State()).source == "environment"


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
    (mount,) = [
        m for m in container["volumeMounts"] if m["name"] == "maintenance-switch"
    ]
    assert "subPath" not in mount
    assert PurePosixPath(mount["mountPath"]) == switch_file.parent
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == "maintenance-switch"


def pod_and_containers() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    pod = resources()[("Deployment", "web")]["spec"]["template"]["spec"]
    return pod, pod["containers"] + pod.get("initContainers", [])


# The Pod Security Standards' "restricted" profile, as its page lists the rules.
RESTRICTED_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def restricted_violations(
    pod: dict[str, Any], containers: list[dict[str, Any]]
) -> list[str]:
    found = [
        f"pod: {key}" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)
    ]
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        found += [
            f"volume {volume['name']}: {k}" for k in kinds - RESTRICTED_VOLUME_TYPES
        ]
    pod_context = pod.get("securityContext", {})
    for container in containers:
        context = {**pod_context, **container.get("securityContext", {})}
        name = container["name"]
        capabilities = container.get("securityContext", {}).get("capabilities", {})
        checks = {
            "privileged": not context.get("privileged", False),
            "allowPrivilegeEscalation: false": context.get("allowPrivilegeEscalation")
            is False,
            "runAsNonRoot: true": context.get("runAsNonRoot") is True,
            "runAsUser is not 0": context.get("runAsUser", 1) != 0,
            "seccompProfile RuntimeDefault or Localhost": context.get(
                "seccompProfile", {}
            ).get("type")
            in {"RuntimeDefault", "Localhost"},
            "capabilities drop ALL": "ALL" in capabilities.get("drop", []),
            "adds no capability but NET_BIND_SERVICE": set(capabilities.get("add", []))
            <= {"NET_BIND_SERVICE"},
            "no hostPort": not any(
                p.get("hostPort") for p in container.get("ports", [])
            ),
        }
        found += [f"{name}: {rule}" for rule, holds in checks.items() if not holds]
    return found


def test_the_pod_meets_the_restricted_pod_security_standard() -> None:
    assert restricted_violations(*pod_and_containers()) == []


def test_the_restricted_check_can_fail() -> None:
    pod, containers = pod_and_containers()
    loose = [{"name": "web", "securityContext": {"privileged": True}}]
    assert "web: privileged" in restricted_violations({}, loose)
    assert "pod: hostNetwork" in restricted_violations(
        {"hostNetwork": True}, containers
    )
    host_path = {**pod, "volumes": [{"name": "x", "hostPath": {"path": "/"}}]}
    assert restricted_violations(host_path, containers) == ["volume x: hostPath"]


def test_the_image_is_read_only_with_a_writable_tmp() -> None:
    pod, (container,) = pod_and_containers()
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    (tmp,) = [v for v in pod["volumes"] if v["name"] == mounts["/tmp"]]
    assert "emptyDir" in tmp


def test_probes_name_a_host_django_allows() -> None:
    allowed = resources()[("ConfigMap", "web-env")]["data"]["ALLOWED_HOSTS"].split(",")
    _, (container,) = pod_and_containers()
    for probe in ("readinessProbe", "livenessProbe"):
        headers = {
            h["name"]: h["value"] for h in container[probe]["httpGet"]["httpHeaders"]
        }
        assert headers["Host"] in allowed


def test_only_the_ingress_controller_reaches_the_web_port() -> None:
    policy = resources()[("NetworkPolicy", "web-from-ingress-only")]["spec"]
    pod = resources()[("Deployment", "web")]["spec"]["template"]
    assert (
        policy["podSelector"]["matchLabels"].items()
        <= pod["metadata"]["labels"].items()
    )
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (source,) = rule["from"]  # an empty "from" would admit every pod
    assert source["namespaceSelector"]["matchLabels"]
    assert source["podSelector"]["matchLabels"]
    (port,) = rule["ports"]
    (container,) = pod["spec"]["containers"]
    assert port["port"] in {p["name"] for p in container["ports"]}
