"""Both overlays pass every check, and say what the issue asks of them."""

from __future__ import annotations

import subprocess

import pytest
from k8s_checks import (
    OVERLAYS,
    check_all,
    check_schemas,
    container_named,
    containers,
    find,
    pod_specs,
)
from k8s_render import Obj


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_passes_every_check(rendered: dict[str, list[Obj]], overlay: str) -> None:
    assert check_all(rendered[overlay]) == []


def test_schema_check_sees_each_object(rendered: dict[str, list[Obj]]) -> None:
    # A check that validated nothing would pass too: every broken object must show.
    objects = rendered["dev"]
    for obj in objects:
        if "spec" in obj:
            obj["spec"]["notAField"] = 1
        else:  # Namespace, ConfigMap, Secret
            obj["data"] = 7
    problems = check_schemas(objects)
    assert len(problems) == len(objects)
    assert all(p.endswith(" at spec") for p in problems if "notAField" in p)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_app_pods_name_and_address_themselves(rendered: dict[str, list[Obj]],
                                              overlay: str) -> None:
    env = {e["name"]: e for e in container_named(rendered[overlay], "Deployment",
                                                 "stateline-app", "app")["env"]}
    assert env["STATELINE_INSTANCE_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["STATELINE_HOST"]["value"] == "$(POD_IP)"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_is_bounded_and_unprivileged(rendered: dict[str, list[Obj]],
                                                     overlay: str) -> None:
    for obj, template in pod_specs(rendered[overlay]):
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True, obj["metadata"]
        for c in containers(template):
            assert set(c["resources"]) == {"requests", "limits"}, c["name"]
            assert c["securityContext"]["readOnlyRootFilesystem"] is True, c["name"]
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]


def _ingress_sources(objects: list[Obj], component: str) -> set[str]:
    [policy] = [o for o in objects if o["kind"] == "NetworkPolicy"
                and o["spec"]["podSelector"].get("matchLabels", {})
                .get("app.kubernetes.io/component") == component]
    sources = set()
    for rule in policy["spec"]["ingress"]:
        for peer in rule.get("from", [{"anywhere": True}]):
            sources.add(peer.get("podSelector", {}).get("matchLabels", {})
                        .get("app.kubernetes.io/component", "anywhere"))
    return sources


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies(rendered: dict[str, list[Obj]], overlay: str) -> None:
    objects = rendered[overlay]
    deny = find(objects, "NetworkPolicy", "stateline-default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress"]}
    assert _ingress_sources(objects, "app") == {"gateway"}
    assert _ingress_sources(objects, "gateway") == {"anywhere"}
    # Stores: apps and gateways, plus Redis' own peers and its bootstrap Job.
    assert _ingress_sources(objects, "redis") == {"app", "gateway", "redis", "redis-bootstrap"}
    assert _ingress_sources(objects, "postgres") == {"app"}
    assert _ingress_sources(objects, "blobs") == {"app"}


def test_production_spreads_app_pods_over_zones_and_nodes(
        rendered: dict[str, list[Obj]]) -> None:
    spec = find(rendered["production"], "Deployment", "stateline-app")["spec"]["template"]["spec"]
    keys = {c["topologyKey"] for c in spec["topologySpreadConstraints"]}
    assert keys == {"topology.kubernetes.io/zone", "kubernetes.io/hostname"}
    assert "topologySpreadConstraints" not in find(rendered["dev"], "Deployment",
                                                   "stateline-app")["spec"]["template"]["spec"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_both_tiers_autoscale_and_have_disruption_budgets(rendered: dict[str, list[Obj]],
                                                         overlay: str) -> None:
    objects = rendered[overlay]
    for name in ("stateline-gateway", "stateline-app"):
        hpa = find(objects, "HorizontalPodAutoscaler", name)["spec"]
        assert hpa["metrics"][0]["resource"]["name"] == "cpu"
        assert hpa["minReplicas"] >= 1
        find(objects, "PodDisruptionBudget", name)


def test_gateway_metrics_are_scraped(rendered: dict[str, list[Obj]]) -> None:
    template = find(rendered["dev"], "Deployment", "stateline-gateway")["spec"]["template"]
    assert template["metadata"]["annotations"]["prometheus.io/path"] == "/_stateline/metrics"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_shell_scripts_parse(rendered: dict[str, list[Obj]], overlay: str) -> None:
    # The images' /bin/sh is dash (Debian), as here; `sh -n` reads without running.
    scripts = {f"{o['metadata']['name']}/{k}": v for o in rendered[overlay]
               if o["kind"] == "ConfigMap" for k, v in (o.get("data") or {}).items()
               if k.endswith(".sh")}
    for _, template in pod_specs(rendered[overlay]):
        for c in containers(template):
            hook = ((c.get("lifecycle") or {}).get("preStop") or {}).get("exec", {})
            command = hook.get("command", [])
            if command[:2] == ["/bin/sh", "-c"]:
                scripts[f"{c['name']} preStop"] = command[2]
    assert {"stateline-redis-scripts/start.sh", "stateline-redis-scripts/bootstrap.sh",
            "app preStop"} <= set(scripts)
    for name, text in scripts.items():
        done = subprocess.run(["sh", "-n"], input=text, capture_output=True, text=True,
                              timeout=30, check=False)
        assert done.returncode == 0, (name, done.stderr)
