"""Checks of rendered manifests against the Kubernetes schemas and against stateline itself.

Each check takes the rendered objects and returns a list of problems (strings
naming the object and what is wrong); an empty list means it passed. What the
manifests may say is read from the code, never from a hand-kept list:

- the ``STATELINE_*`` variables: the fields of :class:`stateline.settings.Settings`
  plus every ``envvar="STATELINE_..."`` option and ``= "STATELINE_..."`` constant in
  ``src/`` (scanned, so a setting added there is known here at once);
- the command lines: parsed by the real ``stateline`` click command, so an unknown
  subcommand or flag, or a bad value for one, is a problem;
- probe and scrape paths: an app path is one the app's own router matches for GET
  (``stateline.app.factory``); a gateway path is one a real ``Gateway`` object's
  admin endpoint does not answer 404 for;
- probe and Service ports: named ports resolve to a container port, and that port
  is the one the process listens on (``STATELINE_PORT`` for the app, ``--listen``
  for the gateway).
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import kubernetes_validate
from k8s_render import Obj, identity

REPO = Path(__file__).resolve().parents[3]
SRC = REPO / "src" / "stateline"
KUSTOMIZE = REPO / "deploy" / "kubernetes"
OVERLAYS = ("dev", "production")
#: The Kubernetes version whose OpenAPI schemas the objects must satisfy (strict:
#: unknown fields are errors). The oldest minor still supported upstream as of 2026.
KUBERNETES_VERSION = "1.32"
IMAGE = "stateline"  # the image built from this repository's Dockerfile
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job"}
_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


# -- what the code reads and serves -------------------------------------------------


def known_settings() -> set[str]:
    """Every ``STATELINE_*`` variable some stateline process reads."""
    from stateline.settings import ENV_PREFIX, Settings

    names = {ENV_PREFIX + f.name.upper() for f in fields(Settings)}
    pattern = re.compile(r"""(?:envvar\s*=\s*|^\s*[A-Z_]+\s*(?::\s*\w+\s*)?=\s*)"""
                         r"""["'](STATELINE_[A-Z0-9_]+)["']""", re.MULTILINE)
    for path in SRC.rglob("*.py"):
        names.update(pattern.findall(path.read_text()))
    return names


def app_serves(path: str) -> bool:
    """Whether one of the app's routes answers ``GET path`` (matched as its router does)."""
    from starlette.routing import Match

    from stateline.app.factory import _routes

    scope = {"type": "http", "path": path, "method": "GET", "root_path": ""}
    return any(r.matches(scope)[0] is Match.FULL for r in _routes())


def gateway_serves(path: str) -> bool:
    """Whether ``GET path`` is one of a gateway's own (never proxied) endpoints."""
    from stateline.gateway.config import from_flags
    from stateline.gateway.server import Gateway

    gw = Gateway(from_flags(listen="127.0.0.1:1", backends=["127.0.0.1:2"],
                            registry_url=None, pool="apps"))
    if not path.startswith("/_stateline/"):
        return False  # any other path is proxied to the apps, not answered by the gateway
    # Any answer but 404 means the endpoint exists (health may say 503: "no instances yet").
    return not gw.admin.answer(b"GET", path.encode(), [], False).startswith(b"HTTP/1.1 404 ")


def parse_command(args: list[str], env: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """(subcommand, its parsed parameters) for ``stateline ARGS``, with ``env`` set
    while click reads ``envvar`` options. Raises click's error for a bad command line."""
    import typer.main

    from stateline import cli

    if not cli.app.registered_commands:
        cli._register_all()  # what `stateline` (cli.main) does before parsing
    group = typer.main.get_command(cli.app)
    if not args:
        raise ValueError("no subcommand given")
    name, rest = args[0], args[1:]
    sub = group.commands.get(name)  # type: ignore[attr-defined]
    if sub is None:
        raise ValueError(f"no such stateline subcommand {name!r}")
    saved = {k: os.environ.get(k) for k in env}
    try:
        os.environ.update(env)
        with sub.make_context(name, list(rest)) as ctx:
            return name, dict(ctx.params)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# -- walking the objects --------------------------------------------------------------


def pod_specs(objects: list[Obj]) -> Iterator[tuple[Obj, Obj]]:
    """(workload, its pod template) for every workload."""
    for obj in objects:
        if obj["kind"] in WORKLOADS:
            yield obj, obj["spec"]["template"]


def containers(template: Obj) -> list[Obj]:
    spec = template.get("spec") or {}
    return list(spec.get("initContainers", [])) + list(spec.get("containers", []))


def where(obj: Obj, container: Obj | None = None) -> str:
    kind, _, name = identity(obj)
    return f"{kind}/{name}" + (f" container {container['name']}" if container else "")


def _index(objects: list[Obj], kind: str) -> dict[tuple[str, str], Obj]:
    return {(identity(o)[1], identity(o)[2]): o for o in objects if o["kind"] == kind}


def _data_keys(obj: Obj) -> set[str]:
    return set(obj.get("data") or {}) | set(obj.get("stringData") or {})


def container_env(objects: list[Obj], namespace: str, container: Obj,
                  fields: dict[str, str] | None = None) -> dict[str, str]:
    """The container's environment as Kubernetes would build it: ``envFrom`` first, then
    ``env`` in order with ``$(VAR)`` expanded. ConfigMap and Secret values come from the
    rendered objects; downward-API fields from ``fields`` (``{"status.podIP": ...}``),
    else a ``<NAME>`` placeholder, as is anything that cannot be resolved offline."""
    configmaps = _index(objects, "ConfigMap")
    secrets = _index(objects, "Secret")

    def secret_data(name: str) -> dict[str, str]:
        found = secrets.get((namespace, name)) or {}
        return {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            cm = configmaps.get((namespace, source["configMapRef"]["name"]))
            env.update({k: str(v) for k, v in ((cm or {}).get("data") or {}).items()})
        if "secretRef" in source:
            env.update(secret_data(source["secretRef"]["name"]))
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            env[name] = _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), str(item["value"]))
            continue
        source = item.get("valueFrom", {})
        value: str | None = None
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            cm = configmaps.get((namespace, ref["name"])) or {}
            value = (cm.get("data") or {}).get(ref["key"])
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            value = secret_data(ref["name"]).get(ref["key"])
        elif "fieldRef" in source:
            value = (fields or {}).get(source["fieldRef"]["fieldPath"])
        env[name] = f"<{name}>" if value is None else str(value)
    return env


def _expand(values: list[str], env: dict[str, str]) -> list[str]:
    return [_VAR.sub(lambda m: env.get(m.group(1), m.group(0)), v) for v in values]


def stateline_args(container: Obj, env: dict[str, str]) -> list[str]:
    """The arguments after ``stateline`` (the image's entrypoint), ``$(VAR)`` expanded."""
    command = list(container.get("command", []))
    return _expand(command[1:] + list(container.get("args", [])), env)


def find(objects: list[Obj], kind: str, name: str) -> Obj:
    """The one object of that kind and name."""
    [obj] = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    return obj


def container_named(objects: list[Obj], kind: str, name: str, container_name: str) -> Obj:
    [c] = [c for c in find(objects, kind, name)["spec"]["template"]["spec"]["containers"]
           if c["name"] == container_name]
    return c


# -- the checks -------------------------------------------------------------------------


def check_schemas(objects: list[Obj]) -> list[str]:
    """Every object is valid against the Kubernetes OpenAPI schema of its kind (strict)."""
    problems = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(str(p) for p in exc.path) if hasattr(exc, "path") else ""
            problems.append(f"{where(obj)}: schema: {exc.message} at {path}")
        except kubernetes_validate.SchemaNotFoundError:
            problems.append(f"{where(obj)}: no Kubernetes {KUBERNETES_VERSION} schema for "
                            f"{obj.get('apiVersion')} {obj.get('kind')}")
    return problems


def check_settings(objects: list[Obj]) -> list[str]:
    """Every STATELINE_* variable set on a container, or in a ConfigMap it loads, is read."""
    known = known_settings()
    problems = []
    configmaps = _index(objects, "ConfigMap")
    for obj, template in pod_specs(objects):
        namespace = identity(obj)[1]
        for c in containers(template):
            names = [e["name"] for e in c.get("env", [])]
            for source in c.get("envFrom", []):
                ref = source.get("configMapRef")
                cm = configmaps.get((namespace, ref["name"])) if ref else None
                names += list((cm or {}).get("data") or {})
            for name in names:
                if name.startswith("STATELINE_") and name not in known:
                    problems.append(f"{where(obj, c)}: {name} is not a setting stateline reads")
    return problems


def check_references(objects: list[Obj]) -> list[str]:
    """Every Secret and ConfigMap (and key) a pod refers to exists in its namespace, and
    every ``$(VAR)`` in env values, args and command is defined before its use."""
    configmaps, secrets = _index(objects, "ConfigMap"), _index(objects, "Secret")
    stores = {"configMap": configmaps, "secret": secrets}
    problems = []

    def need(obj: Obj, kind: str, name: str, key: str | None) -> None:
        found = stores[kind].get((identity(obj)[1], name))
        if found is None:
            problems.append(f"{where(obj)}: refers to {kind} {name!r}, which does not exist")
        elif key is not None and key not in _data_keys(found):
            problems.append(f"{where(obj)}: {kind} {name!r} has no key {key!r}")

    for obj, template in pod_specs(objects):
        for volume in (template.get("spec") or {}).get("volumes", []):
            if "configMap" in volume:
                need(obj, "configMap", volume["configMap"]["name"], None)
            if "secret" in volume:
                need(obj, "secret", volume["secret"]["secretName"], None)
        for c in containers(template):
            defined: set[str] = set()
            for source in c.get("envFrom", []):
                for kind, ref in (("configMap", "configMapRef"), ("secret", "secretRef")):
                    if ref in source:
                        need(obj, kind, source[ref]["name"], None)
                        found = stores[kind].get((identity(obj)[1], source[ref]["name"]))
                        defined |= _data_keys(found or {})
            for item in c.get("env", []):
                source = item.get("valueFrom", {})
                for kind, ref in (("configMap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                    if ref in source:
                        need(obj, kind, source[ref]["name"], source[ref]["key"])
                for var in _VAR.findall(str(item.get("value", ""))):
                    if var not in defined:
                        problems.append(f"{where(obj, c)}: env {item['name']} uses $({var}), "
                                        "not defined before it")
                defined.add(item["name"])
            for var in _VAR.findall(" ".join(c.get("args", []) + c.get("command", []))):
                if var not in defined:
                    problems.append(f"{where(obj, c)}: the command line uses $({var}), "
                                    "which the container's env does not define")
    return problems


def check_no_secret_in_argv(objects: list[Obj]) -> list[str]:
    """No Secret value reaches a command line (``ps`` shows argv to every local user;
    the environment only to the process's owner)."""
    secrets = _index(objects, "Secret")
    problems = []
    for obj, template in pod_specs(objects):
        namespace = identity(obj)[1]
        values = {base64.b64decode(v).decode() for (ns, _), sec in secrets.items()
                  if ns == namespace for v in (sec.get("data") or {}).values()}
        for c in containers(template):
            env = container_env(objects, namespace, c)
            argv = " ".join(_expand(list(c.get("command", [])) + list(c.get("args", [])), env))
            for value in values:
                if value and value in argv:
                    problems.append(f"{where(obj, c)}: a Secret value is on the command line")
                    break
    return problems


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_selectors(objects: list[Obj]) -> list[str]:
    """Every Service, PDB and NetworkPolicy selects some pods; Service target ports and
    NetworkPolicy ports name ports those pods have; HPAs and StatefulSets point at
    objects that exist."""
    problems = []
    pods = [(identity(o)[1], t) for o, t in pod_specs(objects)]

    def selected(namespace: str, selector: dict[str, str]) -> list[Obj]:
        return [t for ns, t in pods if ns == namespace
                and _labels_match(selector, (t.get("metadata") or {}).get("labels") or {})]

    def port_names(templates: list[Obj]) -> set[str | int]:
        out: set[str | int] = set()
        for t in templates:
            for c in containers(t):
                for p in c.get("ports", []):
                    out.add(p["containerPort"])
                    if "name" in p:
                        out.add(p["name"])
        return out

    names = {(o["kind"], identity(o)[1], identity(o)[2]) for o in objects}
    for obj in objects:
        kind, namespace, _ = identity(obj)
        spec = obj.get("spec") or {}
        if kind == "Service":
            chosen = selected(namespace, spec.get("selector") or {})
            if not spec.get("selector") or not chosen:
                problems.append(f"{where(obj)}: selects no pods")
            for port in spec.get("ports", []):
                target = port.get("targetPort", port["port"])
                if chosen and target not in port_names(chosen):
                    problems.append(f"{where(obj)}: targetPort {target!r} is no port of the "
                                    "pods it selects")
        elif kind in ("PodDisruptionBudget", "NetworkPolicy"):
            selector = spec.get("selector" if kind == "PodDisruptionBudget" else "podSelector")
            labels = (selector or {}).get("matchLabels") or {}
            chosen = selected(namespace, labels)
            if labels and not chosen:
                problems.append(f"{where(obj)}: selects no pods")
            for rule in spec.get("ingress", []):
                for peer in rule.get("from", []):
                    peer_labels = (peer.get("podSelector") or {}).get("matchLabels")
                    if peer_labels and not selected(namespace, peer_labels):
                        problems.append(f"{where(obj)}: ingress peer {peer_labels} selects "
                                        "no pods")
                for port in rule.get("ports", []):
                    if chosen and port.get("port") not in port_names(chosen):
                        problems.append(f"{where(obj)}: port {port.get('port')!r} is no port "
                                        "of the pods it selects")
        elif kind == "HorizontalPodAutoscaler":
            ref = spec["scaleTargetRef"]
            if (ref["kind"], namespace, ref["name"]) not in names:
                problems.append(f"{where(obj)}: scales {ref['kind']}/{ref['name']}, "
                                "which does not exist")
        elif kind == "StatefulSet" and ("Service", namespace, spec.get("serviceName")) \
                not in names:
            problems.append(f"{where(obj)}: serviceName {spec.get('serviceName')!r} is no "
                            "Service")
    return problems


def _port_number(container: Obj, port: str | int) -> int | None:
    for p in container.get("ports", []):
        if port in (p.get("name"), p["containerPort"]):
            return int(p["containerPort"])
    return None


def check_stateline_containers(objects: list[Obj]) -> list[str]:
    """For every container of the stateline image: its command line parses; its probes
    and scrape annotations name paths that process serves, on the port it listens on."""
    problems = []
    for obj, template in pod_specs(objects):
        namespace = identity(obj)[1]
        for c in containers(template):
            if c.get("image", "").rsplit("/", 1)[-1].split(":")[0].split("@")[0] != IMAGE:
                continue
            env = container_env(objects, namespace, c)
            args = stateline_args(c, env)
            try:
                role, params = parse_command(args, {k: v for k, v in env.items()
                                                    if k.startswith("STATELINE_")})
            except Exception as exc:  # click's usage errors, or no such subcommand
                problems.append(f"{where(obj, c)}: `stateline {' '.join(args)}` does not "
                                f"parse: {exc}")
                continue
            if role == "app":
                listens = int(params.get("port") or env.get("STATELINE_PORT", "8080"))
                serves = app_serves
            elif role == "gateway":
                listens = int((params.get("listen") or "127.0.0.1:8080").rpartition(":")[2])
                serves = gateway_serves
            else:
                problems.append(f"{where(obj, c)}: runs `stateline {role}`, which is neither "
                                "the gateway nor an app instance")
                continue
            problems += _check_probes(obj, c, role, listens, serves)
            if role == "app":
                problems += _check_drain(obj, template, params)
            annotations = (template.get("metadata") or {}).get("annotations") or {}
            if annotations.get("prometheus.io/scrape") == "true":
                path = annotations.get("prometheus.io/path", "/metrics")
                port = int(annotations.get("prometheus.io/port", listens))
                if not serves(path):
                    problems.append(f"{where(obj, c)}: scrape path {path} is not served by "
                                    f"the {role}")
                if port != listens:
                    problems.append(f"{where(obj, c)}: scrape port {port} is not the port "
                                    f"the {role} listens on ({listens})")
    return problems


def _check_probes(obj: Obj, c: Obj, role: str, listens: int, serves: Any) -> list[str]:
    problems = []
    for ports in c.get("ports", []):
        if ports.get("name") == "http" and ports["containerPort"] != listens:
            problems.append(f"{where(obj, c)}: port 'http' is {ports['containerPort']}, but "
                            f"the {role} listens on {listens}")
    for kind in ("readinessProbe", "livenessProbe", "startupProbe"):
        probe = c.get(kind)
        if not probe:
            continue
        action = probe.get("httpGet") or probe.get("tcpSocket")
        if action is None:
            continue
        number = _port_number(c, action["port"])
        if number is None:
            problems.append(f"{where(obj, c)}: {kind} port {action['port']!r} is no port of "
                            "the container")
        elif number != listens:
            problems.append(f"{where(obj, c)}: {kind} port {number} is not the port the "
                            f"{role} listens on ({listens})")
        if "httpGet" in probe and not serves(probe["httpGet"].get("path", "/")):
            problems.append(f"{where(obj, c)}: {kind} path {probe['httpGet'].get('path')} is "
                            f"not served by the {role}")
    if role == "app" and not (c.get("readinessProbe") or {}).get("httpGet"):
        problems.append(f"{where(obj, c)}: an app needs an HTTP readiness probe on its health")
    return problems


def _check_drain(obj: Obj, template: Obj, params: dict[str, Any]) -> list[str]:
    """The pod's termination grace must cover the instance's drain."""
    from stateline.app.server import REGISTRY_CALL_TIMEOUT_S

    grace = float(params.get("drain_grace") or 0)
    needed = grace + 2 * REGISTRY_CALL_TIMEOUT_S
    allowed = (template.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
    if allowed <= needed:
        return [f"{where(obj)}: terminationGracePeriodSeconds {allowed} does not cover the "
                f"drain ({grace:g} s grace + two registry calls = {needed:g} s)"]
    return []


def check_all(objects: list[Obj]) -> list[str]:
    """Every check above, schemas included."""
    return (check_schemas(objects) + check_settings(objects) + check_references(objects)
            + check_no_secret_in_argv(objects) + check_selectors(objects)
            + check_stateline_containers(objects))
