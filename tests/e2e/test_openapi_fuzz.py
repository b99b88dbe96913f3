"""schemathesis against ``stateline up``: the OpenAPI document holds for whatever is sent.

``stateline up`` (2 app instances, 3 rooms shards, the embedded Redis Cluster, SQLite) is
started on a free port and a temporary data dir. schemathesis's CLI (``st
run``, in a subprocess) loads the document *through the gateway* at
``/api/openapi.json`` and runs every phase against every operation:

- ``examples``, ``coverage`` and ``fuzzing`` (positive and negative data), a
  bounded number of cases per operation (:data:`MAX_EXAMPLES`);
- ``stateful``: sequences that follow the document's links (create a user,
  then read it; add a cart line, then read or remove it; start a session,
  then use its cookie; upload an image, then download or resize it; join a
  room, then read the position).

The document includes the rooms endpoints, so the run also goes through the
gateway to the shards; the fixture waits until a shard answers a room
before the run starts (a starting shard's 503 is not what is under test).

The checks: no 5xx (``not_a_server_error``), every status, content type,
header and body as documented. The test prints the figures (operations, test
cases, requests, checks, failures) and expects zero failures and zero errors.
A fixed seed keeps a failure reproducible; ``STATELINE_FUZZ_SEED`` changes it,
``STATELINE_FUZZ_EXAMPLES`` raises the number of cases.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from upstack import Stack, wait_for

from stateline.local.procs import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

#: Cases per operation and phase: CI's bound (about 10 s of requests on 2 cores);
#: ``STATELINE_FUZZ_EXAMPLES`` raises it for a deeper search by hand.
MAX_EXAMPLES = int(os.environ.get("STATELINE_FUZZ_EXAMPLES", "12"))
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance")
SEED = os.environ.get("STATELINE_FUZZ_SEED", "20261203")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The gateway's URL once every process is up and a shard answers a room."""
    stack = Stack(tmp_path_factory.mktemp("fuzz") / "data", free_port(), apps=2, ready_s=120)
    stack.start()

    def serves_the_document_and_a_room() -> bool:
        stack.assert_running()
        return (httpx.get(f"{stack.url}/api/openapi.json", timeout=2).status_code == 200
                and httpx.get(f"{stack.url}/api/rooms/probe", timeout=2).status_code == 200)

    try:
        # A starting shard's 503 is not what is under test: wait until a room answers.
        wait_for(serves_the_document_and_a_room, 120, "stateline up to serve a room")
        yield stack.url
    finally:
        stack.close()


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
    assert found, "schemathesis is in the test extra: pip install -e '.[test]'"
    return found


def _figures(events: Path) -> dict[str, Any]:
    """Requests, checks by outcome and failures, counted from schemathesis's event stream."""
    requests = 0
    checks: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    rooms: Counter[int] = Counter()
    for line in events.read_text().splitlines():
        event = json.loads(line)
        scenario = event.get("ScenarioFinished")
        if not scenario:
            continue
        for interaction in scenario.get("recorder", {}).get("interactions", {}).values():
            requests += 1
            response = interaction.get("response") or {}
            if "status_code" in response:
                statuses[response["status_code"]] += 1
                if "/api/rooms/" in (interaction.get("request") or {}).get("uri", ""):
                    rooms[response["status_code"]] += 1
        for checks_of_case in scenario.get("recorder", {}).get("checks", {}).values():
            for check in checks_of_case:
                checks[check.get("status", "?")] += 1
    return {"requests": requests, "checks": dict(checks),
            "statuses": dict(sorted(statuses.items())), "rooms": dict(sorted(rooms.items()))}


def test_schemathesis_finds_no_server_error_and_no_schema_break(gateway: str,
                                                                tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    events = tmp_path / "events.ndjson"
    command = [
        _st(), "run", f"{gateway}/api/openapi.json",
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing,stateful",
        "--max-examples", str(MAX_EXAMPLES), "--seed", SEED,
        # One worker: with two threads, hypothesis's ast.parse of a lambda hit CPython 3.11's
        # "AST constructor recursion depth mismatch" SystemError (a schemathesis error, not ours).
        "--workers", "1",
        "--request-timeout", "30", "--generation-database", "none", "--no-color",
        "--report", "json,ndjson", "--report-json-path", str(report),
        "--report-ndjson-path", str(events),
    ]
    started = time.monotonic()
    # cwd: schemathesis keeps a cache folder (.schemathesis/) in its working directory.
    run = subprocess.run(command, capture_output=True, text=True, timeout=360, cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert report.exists(), run.stdout[-4000:] + run.stderr[-2000:]
    summary = json.loads(report.read_text())
    figures = _figures(events)
    cases = summary["test_cases"]
    print(f"\nschemathesis {summary['schemathesis_version']} in {elapsed:.0f} s: "
          f"{summary['operations']['tested']}/{summary['operations']['total']} operations, "
          f"{cases['generated']} test cases, {figures['requests']} requests, "
          f"checks {figures['checks']}, failures {cases['with_failures']}, "
          f"errors {cases['errored']}; statuses {figures['statuses']}; "
          f"of which rooms {figures['rooms']}")
    assert summary["operations"]["tested"] == summary["operations"]["total"]
    assert summary["failures"] == [], run.stdout[-6000:]
    assert summary["errors"] == [], run.stdout[-6000:]
    assert not any(status >= 500 for status in figures["statuses"]), figures
    # The shards were reached through the gateway, and did real work (joined a room).
    assert figures["rooms"].get(201, 0) > 0, figures
    assert run.returncode == 0, run.stdout[-6000:]
