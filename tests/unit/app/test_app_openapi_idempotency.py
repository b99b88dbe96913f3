"""``@idempotent`` documents itself: exactly the handlers it wraps carry the Idempotency-Key.

Which handlers it wraps is found here independently of its mark, by reading
the source (every function decorated ``@idempotent(...)`` anywhere in the
package), so a decorator that forgot to mark, or a mark on a handler it does
not wrap, fails the test.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route

import stateline
from stateline.app.errors import ApiError
from stateline.app.factory import create_app
from stateline.app.idempotency import MAX_KEY_CHARS, parse_key
from stateline.app.routing import PathRoute
from stateline.settings import Settings


def _wrapped_in_source() -> set[tuple[str, str]]:
    """(module, function) of every function decorated with ``@idempotent(...)``."""
    root = Path(stateline.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        module = "stateline." + ".".join(path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
                continue
            for deco in node.decorator_list:
                call = deco.func if isinstance(deco, ast.Call) else deco
                if isinstance(call, ast.Name) and call.id == "idempotent":
                    found.add((module, node.name))
    return found


@pytest.fixture(scope="module")
def app_and_doc() -> tuple[Any, dict[str, Any]]:
    app = create_app(Settings(redis_url="redis://127.0.0.1:1/0"), "spec-test")
    return app, app.state.openapi


def _operations(app: Any, doc: dict[str, Any]) -> dict[tuple[str, str], tuple[Any, dict]]:
    from stateline.shards.api import routes as shard_routes

    out = {}
    for route in [*app.routes, *shard_routes]:
        for r in route.routes if isinstance(route, PathRoute) else [route]:
            assert isinstance(r, Route)
            for method in r.methods or ():
                if method != "HEAD":
                    out[(r.endpoint.__module__, r.endpoint.__name__)] = (
                        r.endpoint, doc["paths"][r.path][method.lower()])
    return out


def _key_param(op: dict[str, Any]) -> dict[str, Any] | None:
    keys = [p for p in op.get("parameters", []) if p["name"].lower() == "idempotency-key"]
    assert len(keys) <= 1
    return keys[0] if keys else None


def test_exactly_the_idempotent_handlers_document_the_header(app_and_doc: Any) -> None:
    app, doc = app_and_doc
    wrapped = _wrapped_in_source()
    assert len(wrapped) >= 8
    ops = _operations(app, doc)
    assert wrapped <= set(ops), "every @idempotent handler is routed"
    for name, (_, op) in ops.items():
        param = _key_param(op)
        if name not in wrapped:
            assert param is None, f"{name} is not @idempotent but documents the key"
            assert all("Idempotent-Replayed" not in r.get("headers", {})
                       for r in op["responses"].values()), name
            continue
        assert param is not None, f"{name} is @idempotent but its document lacks the key"
        assert param["in"] == "header" and param["required"] is False
        assert param["schema"]["maxLength"] == MAX_KEY_CHARS + 2  # the quotes of an sf-string
        successes = [r for s, r in op["responses"].items() if int(s) < 400]
        assert successes and all(
            r["headers"]["Idempotent-Replayed"]["schema"] == {"type": "string", "enum": ["true"]}
            for r in successes), name
        responses = op["responses"]
        assert "invalid_idempotency_key" in responses["400"]["description"], name
        assert "idempotency_in_flight" in responses["409"]["description"], name
        assert "Retry-After" in responses["409"]["headers"], name
        assert "idempotency_key_reused" in responses["422"]["description"], name
        assert all(r["content"]["application/json"]["schema"] ==
                   {"$ref": "#/components/schemas/Error"}
                   for s, r in responses.items() if s in ("400", "409", "422")), name


def test_a_declared_409_keeps_its_own_code_and_gains_the_in_flight_one(
        app_and_doc: Any) -> None:
    _, doc = app_and_doc
    conflict = doc["paths"]["/api/users"]["post"]["responses"]["409"]["description"]
    assert "email_taken" in conflict and "idempotency_in_flight" in conflict


@pytest.mark.parametrize("key, accepted", [
    ("a", True), ("550e8400-e29b-41d4-a716-446655440000", True), ('"quoted"', True),
    ("k" * MAX_KEY_CHARS, True), ('"' + "k" * MAX_KEY_CHARS + '"', True),
    ("k" * (MAX_KEY_CHARS + 1), False), ("", False), ("a b", False), ('a"b', False),
    ("a\\b", False), ('""', False), ("é", False), ('"a', False),
])
def test_the_documented_pattern_is_what_the_parser_accepts(
        app_and_doc: Any, key: str, accepted: bool) -> None:
    _, doc = app_and_doc
    param = _key_param(doc["paths"]["/api/users"]["post"])
    assert param is not None
    schema = param["schema"]
    documented = (schema["minLength"] <= len(key) <= schema["maxLength"]
                  and re.fullmatch(schema["pattern"].strip("^$"), key) is not None)
    try:
        parse_key([key])
        parsed = True
    except ApiError as exc:
        assert exc.status == 400 and exc.code == "invalid_idempotency_key"
        parsed = False
    assert documented is parsed is accepted


def test_reading_the_shard_declarations_starts_nothing(tmp_path: Path) -> None:
    """The app imports ``stateline.shards.api`` for its document: no thread, no server, no file."""
    code = ("import sys, threading, stateline.app.openapi as o; o.routes_behind_the_gateway(); "
            "assert threading.active_count() == 1, threading.enumerate(); "
            "assert 'granian' not in sys.modules; "
            "from stateline.shards.api import ROOMS; assert not ROOMS.ready and not ROOMS.rooms")
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert list(tmp_path.iterdir()) == []
