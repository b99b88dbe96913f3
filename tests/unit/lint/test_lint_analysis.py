"""The analyser end to end on small trees written to a temporary folder."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from stateline.lint import lint
from stateline.lint.report import to_json, to_sarif


def write(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body).lstrip())
    return root


def found(root: Path) -> list[tuple[str, int, str]]:
    return [(f.path, f.line, f.rule) for f in lint([root], cwd=root).findings]


def test_a_helper_two_modules_away_mutating_its_argument_is_found_at_its_write(
        tmp_path: Path) -> None:
    write(tmp_path, {
        "app.py": """
            from fastapi import FastAPI
            from service import record
            app = FastAPI()
            SEEN = {}

            @app.post("/seen/{k}")
            def seen(k: str):
                record(SEEN, k)
        """,
        "service.py": """
            from util import put

            def record(table, key):
                put(table, key, True)
        """,
        "util.py": """
            def put(d, k, v):
                d[k] = v
        """,
    })
    result = lint([tmp_path], cwd=tmp_path)
    assert [(f.path, f.line, f.rule) for f in result.findings] == [("util.py", 2, "SL104")]
    assert result.findings[0].chain == ["POST /seen/{k}", "seen", "record", "put", "d[k] = v"]
    assert result.findings[0].cell == "app.SEEN"


def test_an_aliased_import_of_another_modules_state_is_followed(tmp_path: Path) -> None:
    write(tmp_path, {
        "shop/__init__.py": "",
        "shop/store.py": "USERS = {}\n",
        "shop/api.py": """
            from flask import Blueprint
            from .store import USERS as u
            bp = Blueprint("api", __name__)

            @bp.route("/users/<name>", methods=["POST"])
            def add(name):
                u[name] = {"name": name}
                return "ok"
        """,
    })
    assert found(tmp_path) == [("shop/api.py", 7, "SL104")]


def test_mutual_recursion_reaches_a_fixed_point(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": """
        from fastapi import FastAPI
        app = FastAPI()
        LOG = []

        def ping(items, n):
            if n:
                pong(items, n - 1)

        def pong(items, n):
            items.append(n)
            ping(items, n)

        @app.get("/")
        def root():
            ping(LOG, 3)
    """})
    assert found(tmp_path) == [("app.py", 10, "SL102")]


def test_start_up_code_may_build_tables_freely(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": """
        from contextlib import asynccontextmanager
        from fastapi import FastAPI
        TABLE = {}
        COUNT = 0

        def fill():
            TABLE["a"] = 1

        @asynccontextmanager
        async def lifespan(app):
            fill()
            yield

        def create_app():
            app = FastAPI(lifespan=lifespan)
            TABLE["b"] = 2

            @app.get("/t")
            def read():
                return TABLE
            return app

        if __name__ == "__main__":
            COUNT = 5
            TABLE.clear()
    """})
    assert found(tmp_path) == []


def test_writes_to_external_store_clients_are_the_cure(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": """
        from functools import lru_cache
        import redis
        from fastapi import FastAPI
        r = redis.Redis()
        app = FastAPI()

        @lru_cache
        def get_settings():
            return {"url": "redis://"}

        @app.post("/hit")
        def hit():
            r.incr("hits")
            r.hset("h", "k", 1)
            r.append("log", "x")
            return get_settings()
    """})
    assert found(tmp_path) == []


def test_suppression_needs_a_reason(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": """
        from fastapi import FastAPI
        app = FastAPI()
        A = []
        B = []

        @app.get("/")
        def root():
            A.append(1)  # stateline: allow[SL102] demo of the pitfall
            B.append(1)  # stateline: allow[container-mutation]
    """})
    result = lint([tmp_path], cwd=tmp_path)
    assert [(f.line, f.rule) for f in result.findings] == [(9, "SL002"), (9, "SL102")]
    assert [(f.line, f.rule) for f in result.suppressed] == [(8, "SL102")]


def test_a_syntax_error_is_reported_and_the_rest_is_analysed(tmp_path: Path) -> None:
    write(tmp_path, {
        "broken.py": "def f(:\n    pass\n",
        "app.py": """
            from fastapi import FastAPI
            app = FastAPI()
            N = 0

            @app.get("/")
            def root():
                global N
                N += 1
        """,
    })
    assert found(tmp_path) == [("app.py", 8, "SL101"), ("broken.py", 1, "SL001")]


def test_analysed_code_is_never_imported_or_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(tmp_path, {"app.py": f"""
        open({str(marker)!r}, "w").write("imported")
        raise SystemExit(3)
    """})
    assert found(tmp_path) == []
    assert not marker.exists()


def test_json_findings_have_the_contract_fields_and_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/app.py": """
        from fastapi import FastAPI
        app = FastAPI()
        X = {}

        @app.put("/x/{k}")
        def put(k: str):
            X[k] = 1
    """})
    result = lint([tmp_path / "pkg"], cwd=tmp_path)
    doc = json.loads(to_json(result.findings))
    (item,) = doc["findings"]
    assert set(item) == {"rule", "severity", "path", "line", "col", "message", "cell", "chain",
                         "fix"}
    assert item["path"] == "pkg/app.py"
    assert item["chain"][0] == "PUT /x/{k}"
    assert "Redis" in item["fix"]


def test_sarif_is_a_2_1_0_log_with_rules_and_located_results(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": """
        from fastapi import FastAPI
        app = FastAPI()
        X = []

        @app.get("/")
        def root():
            X.append(1)
    """})
    doc = json.loads(to_sarif(lint([tmp_path], cwd=tmp_path).findings))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    (res,) = run["results"]
    assert ids[res["ruleIndex"]] == res["ruleId"] == "SL102"
    loc = res["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "app.py"
    assert loc["region"] == {"startLine": 7, "startColumn": 5}
    assert res["level"] == "error"


def test_progress_is_reported_once_per_file(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "A = 1\n", "b.py": "B = 2\n", "c/d.py": "D = 3\n"})
    seen: list[tuple[int, int]] = []
    result = lint([tmp_path], cwd=tmp_path, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert (result.files, result.lines) == (3, 3)


def test_per_request_objects_and_framework_plumbing_stay_silent(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": """
        from contextvars import ContextVar
        from flask import Flask, g, session
        from flask.views import MethodView
        app = Flask(__name__)
        current = ContextVar("current", default="")

        class Page(MethodView):
            title = "page"

            def get(self):
                self.title = "other"
                g.user = "ann"
                session["seen"] = True
                current.set("ann")
                return self.title

        app.add_url_rule("/page", view_func=Page.as_view("page"))
    """})
    assert found(tmp_path) == []
