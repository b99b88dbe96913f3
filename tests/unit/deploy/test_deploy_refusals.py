"""A manifest that refers to something that does not exist fails the checks.

Each test breaks one thing in the rendered dev overlay and asserts that the
check names it; test_deploy_manifests.py shows that the unbroken overlays pass.
"""

from __future__ import annotations

from k8s_checks import check_all, container_named, find
from k8s_render import Obj


def _app(objects: list[Obj]) -> Obj:
    return container_named(objects, "Deployment", "stateline-app", "app")


def _gateway(objects: list[Obj]) -> Obj:
    return container_named(objects, "Deployment", "stateline-gateway", "gateway")


def test_a_setting_no_code_reads_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    _app(objects)["env"].append({"name": "STATELINE_REDIS_ULR", "value": "redis://x:6379"})
    assert check_all(objects) == [
        "Deployment/stateline-app container app: STATELINE_REDIS_ULR is not a setting "
        "stateline reads"]


def test_a_setting_in_the_configmap_no_code_reads_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "ConfigMap", "stateline-config")["data"]["STATELINE_WORKERS"] = "4"
    problems = check_all(objects)
    assert "Deployment/stateline-app container app: STATELINE_WORKERS is not a setting " \
           "stateline reads" in problems


def test_a_probe_path_the_app_does_not_serve_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    _app(objects)["readinessProbe"]["httpGet"]["path"] = "/healthz"
    assert check_all(objects) == [
        "Deployment/stateline-app container app: readinessProbe path /healthz is not "
        "served by the app"]


def test_a_probe_path_the_gateway_does_not_serve_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    _gateway(objects)["readinessProbe"]["httpGet"]["path"] = "/_stateline/ready"
    assert check_all(objects) == [
        "Deployment/stateline-gateway container gateway: readinessProbe path "
        "/_stateline/ready is not served by the gateway"]


def test_a_probe_on_the_wrong_port_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    _app(objects)["ports"].append({"name": "other", "containerPort": 9000})
    _app(objects)["livenessProbe"]["tcpSocket"]["port"] = "other"
    assert check_all(objects) == [
        "Deployment/stateline-app container app: livenessProbe port 9000 is not the port "
        "the app listens on (8000)"]


def test_a_container_port_other_than_the_listen_port_fails(
        rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "ConfigMap", "stateline-config")["data"]["STATELINE_PORT"] = "8001"
    problems = check_all(objects)
    assert "Deployment/stateline-app container app: port 'http' is 8000, but the app " \
           "listens on 8001" in problems


def test_a_missing_secret_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    ref = _gateway(objects)["env"][-1]["valueFrom"]["secretKeyRef"]
    ref["name"] = "stateline-admin"
    assert check_all(objects) == [
        "Deployment/stateline-gateway: refers to secret 'stateline-admin', which does not "
        "exist"]


def test_a_missing_secret_key_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    del find(objects, "Secret", "stateline-secrets")["data"]["postgres-password"]
    problems = check_all(objects)
    assert "StatefulSet/stateline-postgres: secret 'stateline-secrets' has no key " \
           "'postgres-password'" in problems
    assert "Deployment/stateline-app: secret 'stateline-secrets' has no key " \
           "'postgres-password'" in problems


def test_a_missing_configmap_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = [o for o in rendered["dev"] if o["metadata"]["name"] != "stateline-redis-scripts"]
    problems = check_all(objects)
    assert "StatefulSet/stateline-redis: refers to configMap 'stateline-redis-scripts', " \
           "which does not exist" in problems
    assert "Job/stateline-redis-bootstrap: refers to configMap 'stateline-redis-scripts', " \
           "which does not exist" in problems


def test_an_undefined_variable_reference_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    _gateway(objects)["args"][4] = "$(STATELINE_REGISTRY)"
    problems = check_all(objects)
    assert "Deployment/stateline-gateway container gateway: the command line uses " \
           "$(STATELINE_REGISTRY), which the container's env does not define" in problems


def test_an_unknown_flag_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    _gateway(objects)["args"].append("--registry-pool")
    [problem] = check_all(objects)
    assert problem.startswith("Deployment/stateline-gateway container gateway: `stateline "
                              "gateway --listen 0.0.0.0:8080")
    assert "does not parse" in problem and "--registry-pool" in problem


def test_a_drain_grace_the_pod_does_not_allow_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "Deployment", "stateline-app")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"] = 8
    assert check_all(objects) == [
        "Deployment/stateline-app: terminationGracePeriodSeconds 8 does not cover the drain "
        "(5 s grace + two registry calls = 9 s)"]


def test_a_service_that_selects_no_pods_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "Service", "stateline-postgres")["spec"]["selector"][
        "app.kubernetes.io/component"] = "postgresql"
    assert check_all(objects) == ["Service/stateline-postgres: selects no pods"]


def test_a_network_policy_port_the_pods_lack_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "NetworkPolicy", "stateline-app")["spec"]["ingress"][0]["ports"][0][
        "port"] = "web"
    assert check_all(objects) == [
        "NetworkPolicy/stateline-app: port 'web' is no port of the pods it selects"]


def test_an_unknown_field_fails_the_schema(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "Deployment", "stateline-app")["spec"]["replica"] = 3
    [problem] = check_all(objects)
    assert problem.startswith("Deployment/stateline-app: schema:") and "replica" in problem


def test_an_hpa_for_a_missing_deployment_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    find(objects, "HorizontalPodAutoscaler", "stateline-app")["spec"]["scaleTargetRef"][
        "name"] = "stateline-apps"
    assert check_all(objects) == [
        "HorizontalPodAutoscaler/stateline-app: scales Deployment/stateline-apps, which does "
        "not exist"]


def test_a_password_on_the_command_line_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    env = _gateway(objects)["env"]
    [registry] = [e for e in env if e["name"] == "STATELINE_REGISTRY_URL"]
    registry["value"] = registry["value"].replace("redis+cluster://",
                                                  "redis+cluster://:$(STATELINE_REDIS_PASSWORD)@")
    env.remove(registry)
    env.append(registry)  # after the password it expands
    assert check_all(objects) == [
        "Deployment/stateline-gateway container gateway: a Secret value is on the command line"]


def test_a_missing_s3_credential_fails(rendered: dict[str, list[Obj]]) -> None:
    objects = rendered["dev"]
    del find(objects, "Secret", "stateline-secrets")["data"]["s3-secret-key"]
    problems = check_all(objects)
    assert "Deployment/stateline-app: secret 'stateline-secrets' has no key " \
           "'s3-secret-key'" in problems
    assert "StatefulSet/stateline-blobs: secret 'stateline-secrets' has no key " \
           "'s3-secret-key'" in problems
