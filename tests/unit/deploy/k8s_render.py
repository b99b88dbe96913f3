"""A small kustomize renderer for the subset deploy/kubernetes/ uses, in pure Python.

Why: CI runs on a fresh Debian machine, whose kubectl (``kubernetes-client``) is too
old for today's kustomize, and nothing may be downloaded outside the package
registries. So the overlays are rendered here, and where a real ``kubectl`` is
installed, test_deploy_render.py checks that both renderings are the same objects.

Supported, and nothing else (an unknown kustomization key is an error, never
silently ignored): ``resources`` (files and directories), ``namespace``,
``configMapGenerator``/``secretGenerator`` (``literals``, ``envs``, ``files``;
only with ``generatorOptions.disableNameSuffixHash: true``), ``patches``
(strategic merge patches, from ``path`` or inline ``patch``, optional
``target`` by kind/name) and ``images`` (``newName``, ``newTag``, ``digest``).
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

Obj = dict[str, Any]

KNOWN_KEYS = {"apiVersion", "kind", "resources", "namespace", "configMapGenerator",
              "secretGenerator", "generatorOptions", "patches", "images"}
#: Kinds the namespace transformer leaves alone (cluster-scoped).
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition", "PriorityClass"}
#: Strategic-merge keys of the list fields the manifests patch (from the Kubernetes
#: OpenAPI's x-kubernetes-patch-merge-key). Other lists are replaced whole.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath",
              "topologySpreadConstraints": "topologyKey", "imagePullSecrets": "name"}


class RenderError(ValueError):
    """The kustomization uses something this renderer does not support, or is broken."""


def identity(obj: Obj) -> tuple[str, str, str]:
    """(kind, namespace, name): how patches and checks find an object."""
    meta = obj.get("metadata") or {}
    return obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")


def load_documents(path: Path) -> list[Obj]:
    """The non-empty YAML documents of one file."""
    with path.open() as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for d in docs:
        if not isinstance(d, dict) or "kind" not in d:
            raise RenderError(f"{path}: every document must be a Kubernetes object")
    return docs


def _kustomization_file(directory: Path) -> Path:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            return directory / name
    raise RenderError(f"{directory}: no kustomization.yaml")


def render(directory: Path | str) -> list[Obj]:
    """Build the kustomization in ``directory`` into a list of objects."""
    directory = Path(directory)
    spec = yaml.safe_load(_kustomization_file(directory).read_text()) or {}
    unknown = set(spec) - KNOWN_KEYS
    if unknown:
        raise RenderError(f"{directory}: unsupported kustomization keys {sorted(unknown)}")
    objects: list[Obj] = []
    for entry in spec.get("resources", []):
        target = directory / entry
        objects.extend(render(target) if target.is_dir() else load_documents(target))
    objects.extend(_generate(directory, spec))
    _no_duplicates(directory, objects)
    for patch in spec.get("patches", []):
        _apply_patch_entry(directory, objects, patch)
    if "namespace" in spec:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        _set_image(objects, image)
    _no_duplicates(directory, objects)
    return objects


def _no_duplicates(directory: Path, objects: list[Obj]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        key = identity(obj)
        if key in seen:
            raise RenderError(f"{directory}: {key} is defined twice")
        seen.add(key)


def _generate(directory: Path, spec: Obj) -> list[Obj]:
    generators = [("ConfigMap", g) for g in spec.get("configMapGenerator", [])]
    generators += [("Secret", g) for g in spec.get("secretGenerator", [])]
    if generators and not (spec.get("generatorOptions") or {}).get("disableNameSuffixHash"):
        raise RenderError(f"{directory}: generators need generatorOptions."
                          "disableNameSuffixHash: true here (hash suffixes are not supported)")
    out = []
    for kind, gen in generators:
        unknown = set(gen) - {"name", "namespace", "literals", "envs", "files", "type"}
        if unknown:
            raise RenderError(f"{directory}: generator {gen.get('name')}: unsupported "
                              f"keys {sorted(unknown)}")
        data: dict[str, str] = {}
        for literal in gen.get("literals", []):
            key, sep, value = literal.partition("=")
            if not sep:
                raise RenderError(f"{directory}: literal {literal!r} has no '='")
            data[key] = value
        for env_file in gen.get("envs", []):
            data.update(read_env_file(directory / env_file))
        for entry in gen.get("files", []):
            key, sep, rel = entry.partition("=")
            path = directory / (rel if sep else key)
            data[key if sep else path.name] = path.read_text()
        meta: Obj = {"name": gen["name"]}
        if "namespace" in gen:
            meta["namespace"] = gen["namespace"]
        obj: Obj = {"apiVersion": "v1", "kind": kind, "metadata": meta}
        if kind == "Secret":
            obj["type"] = gen.get("type", "Opaque")
            obj["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        else:
            obj["data"] = data
        out.append(obj)
    return out


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and ``#`` comments skipped (kustomize's ``envs``)."""
    if not path.is_file():
        raise RenderError(f"{path}: env file missing")
    data = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key:
            raise RenderError(f"{path}:{number}: want KEY=VALUE")
        data[key] = value
    return data


def _apply_patch_entry(directory: Path, objects: list[Obj], entry: Obj) -> None:
    unknown = set(entry) - {"path", "patch", "target"}
    if unknown:
        raise RenderError(f"{directory}: patch entry keys {sorted(unknown)} not supported")
    if "path" in entry:
        docs = load_documents(directory / entry["path"])
    else:
        docs = [d for d in yaml.safe_load_all(entry["patch"]) if d is not None]
    target = entry.get("target")
    for doc in docs:
        if not isinstance(doc, dict):
            raise RenderError(f"{directory}: only strategic merge patches are supported")
        if target:
            unknown = set(target) - {"kind", "name", "namespace"}
            if unknown:
                raise RenderError(f"{directory}: patch target keys {sorted(unknown)} "
                                  "not supported")
            matches = [o for o in objects
                       if all(str(v) == {"kind": identity(o)[0], "namespace": identity(o)[1],
                                         "name": identity(o)[2]}[k]
                              for k, v in target.items())]
        else:
            matches = [o for o in objects if identity(o) == identity(doc)]
        if not matches:
            raise RenderError(f"{directory}: patch for {identity(doc)} matches no object")
        for obj in matches:
            merged = strategic_merge(obj, {k: v for k, v in doc.items()
                                           if k not in ("apiVersion", "kind", "metadata")
                                           or target is None})
            obj.clear()
            obj.update(merged)


def strategic_merge(base: Any, patch: Any, field: str = "") -> Any:
    """``patch`` merged into a copy of ``base``: maps recursively, ``null`` deletes a key,
    lists with a known merge key merged item by item, other lists replaced."""
    if isinstance(patch, dict) and isinstance(base, dict):
        if any(k.startswith("$") for k in patch):
            raise RenderError(f"{field}: patch directives ($patch, ...) are not supported")
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if isinstance(patch, list) and isinstance(base, list) and field in MERGE_KEYS:
        key = MERGE_KEYS[field]
        out = copy.deepcopy(base)
        for item in patch:
            index = next((i for i, b in enumerate(out)
                          if isinstance(b, dict) and b.get(key) == item.get(key)), None)
            if index is None:
                out.append(copy.deepcopy(item))
            else:
                out[index] = strategic_merge(out[index], item, field)
        return out
    return copy.deepcopy(patch)


def _set_image(objects: list[Obj], image: Obj) -> None:
    name = image["name"]
    for obj in objects:
        spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        for container in spec.get("containers", []) + spec.get("initContainers", []):
            current = container.get("image", "")
            repo = current.split("@", 1)[0]
            repo = repo.rsplit(":", 1)[0] if ":" in repo.rsplit("/", 1)[-1] else repo
            if repo != name:
                continue
            new = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new}@{image['digest']}"
            elif "newTag" in image:
                container["image"] = f"{new}:{image['newTag']}"
            else:
                container["image"] = new + current[len(repo):]
