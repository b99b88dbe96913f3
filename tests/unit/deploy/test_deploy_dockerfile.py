"""The Dockerfile, checked against the repository (the image cannot be built here).

No base image can be pulled on this machine, so the file is read instead: what it
copies must exist and get past .dockerignore, what the build needs must be copied,
the builder must compile the gateway, and what the runtime stage runs, exposes and
runs as must agree with pyproject.toml and with the Kubernetes manifests.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field

import pytest
from k8s_checks import REPO, container_env, containers, known_settings, pod_specs
from k8s_render import Obj


@dataclass
class Stage:
    image: str
    name: str | None
    steps: list[tuple[str, str]] = field(default_factory=list)  # (INSTRUCTION, rest)

    def all(self, instruction: str) -> list[str]:
        return [rest for ins, rest in self.steps if ins == instruction]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages); continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif not stages and instruction == "ARG":
            key, _, default = rest.partition("=")
            args[key] = default
        elif stages:
            stages[-1].steps.append((instruction, rest))
    return args, stages


def _pattern(pattern: str) -> re.Pattern[str]:
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out + r"\Z")


def dockerignored(path: str, rules: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
    excluded = False
    for rule in rules:
        negate = rule.startswith("!")
        regex = _pattern(rule.lstrip("!").strip("/"))
        if any(regex.match(p) for p in prefixes):
            excluded = not negate
    return excluded


def ignore_rules() -> list[str]:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile((REPO / "Dockerfile").read_text())


def _copies(stage: Stage) -> list[tuple[list[str], str, str | None]]:
    """(sources, destination, --from stage) of every COPY."""
    out = []
    for rest in stage.all("COPY"):
        words = shlex.split(rest)
        source_stage = next((w.split("=", 1)[1] for w in words if w.startswith("--from=")), None)
        words = [w for w in words if not w.startswith("--")]
        out.append((words[:-1], words[-1], source_stage))
    return out


def test_dockerignore_rules_match_as_docker_does() -> None:
    rules = ["*", "!src/", "src/**/*.so", "!keep.txt"]
    assert dockerignored(".venv/bin/python", rules)
    assert dockerignored("README.md", rules)
    assert not dockerignored("keep.txt", rules)
    assert not dockerignored("src/stateline/cli.py", rules)
    assert dockerignored("src/stateline/gateway/proxy.cpython-312-x86_64-linux-gnu.so", rules)


def test_two_stages_on_the_official_slim_python(dockerfile: tuple[dict, list[Stage]]) -> None:
    args, stages = dockerfile
    assert [s.name for s in stages] == ["builder", "runtime"]
    for stage in stages:
        assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", stage.image), stage.image
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11" and args["PYTHON_VERSION"] >= "3.11"


def test_what_the_builder_copies_exists_and_passes_dockerignore(
        dockerfile: tuple[dict, list[Stage]]) -> None:
    _, stages = dockerfile
    rules = ignore_rules()
    copied: set[str] = set()
    for sources, _, from_stage in _copies(stages[0]):
        assert from_stage is None
        for source in sources:
            assert (REPO / source).exists(), source
            assert not dockerignored(source, rules), source
            copied.add(source.rstrip("/"))
    # What building the wheel reads: pyproject.toml, setup.py (the Cython extensions),
    # the readme pyproject.toml names, and the package sources.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    needed = {"pyproject.toml", "setup.py", project["project"]["readme"],
              *project["tool"]["setuptools"]["packages"]["find"]["where"]}
    assert needed <= copied, needed - copied
    # Every Python file of the package reaches the build; local builds and caches do not.
    for path in (REPO / "src").rglob("*.py"):
        assert not dockerignored(str(path.relative_to(REPO)), rules), path
    for local in (".venv/bin/python", ".stateline/stateline.db", "tests/conftest.py",
                  "src/stateline/gateway/proxy.c", "src/stateline/gateway/_native_build.json",
                  "src/stateline/__pycache__/cli.cpython-312.pyc",
                  "deploy/kubernetes/production/secrets.env"):
        assert dockerignored(local, rules), local


def test_the_builder_compiles_the_gateway_and_the_runtime_refuses_pure_python(
        dockerfile: tuple[dict, list[Stage]]) -> None:
    _, (builder, runtime) = dockerfile
    build = " ".join(builder.all("RUN"))
    assert "gcc" in build and re.search(r"pip wheel .*\s\.$", builder.all("RUN")[-1])
    assert [(s, d, f) for s, d, f in _copies(runtime)] == [(["/wheels"], "/wheels", "builder")]
    install = " ".join(runtime.all("RUN"))
    assert "--no-index" in install  # only the builder's wheels, nothing fetched again
    assert "native.mode != 'compiled'" in install
    assert "gcc" not in install


def _stateline_pods(objects: list[Obj]) -> list[tuple[Obj, Obj]]:
    return [(t, c) for _, t in pod_specs(objects) for c in containers(t)
            if c["image"].rsplit("/", 1)[-1].startswith("stateline:")]


@pytest.mark.parametrize("overlay", ["dev", "production"])
def test_runtime_agrees_with_pyproject_and_the_manifests(
        dockerfile: tuple[dict, list[Stage]], rendered: dict[str, list[Obj]],
        overlay: str) -> None:
    _, (_, runtime) = dockerfile
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    [entrypoint] = runtime.all("ENTRYPOINT")
    assert json.loads(entrypoint)[0] in scripts
    [user] = runtime.all("USER")
    uid = int(user.split(":")[0])
    assert uid != 0
    env = dict(w.split("=", 1) for rest in runtime.all("ENV") for w in shlex.split(rest))
    assert {k for k in env if k.startswith("STATELINE_")} <= known_settings()
    exposed = {int(p) for rest in runtime.all("EXPOSE") for p in rest.split()}
    pods = _stateline_pods(rendered[overlay])
    assert len(pods) == 2  # gateway and app, one image
    for template, c in pods:
        assert template["spec"]["securityContext"]["runAsUser"] == uid
        assert {p["containerPort"] for p in c["ports"]} <= exposed
        data_dir = container_env(rendered[overlay], "stateline", c).get(
            "STATELINE_DATA_DIR", env["STATELINE_DATA_DIR"])
        assert data_dir in {m["mountPath"] for m in c["volumeMounts"]}
        assert "/tmp" in {m["mountPath"] for m in c["volumeMounts"]}

