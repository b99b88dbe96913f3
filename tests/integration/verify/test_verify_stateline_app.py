"""`stateline verify` on stateline's own app: the services pass, the demo counter is caught.

Two replicas of ``stateline app`` with the session's real redis-server and one
SQLite file shared through a common data dir, exactly as the example scripts
under ``examples/verify/`` tell a user to run them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "verify"
SPAWN = f"{sys.executable} -m stateline app --port {{port}} --instance-id app-{{replica}}"

pytestmark = pytest.mark.slow


def run_verify(script: Path, redis_url: str, data_dir: Path) -> tuple[int, dict]:
    env = {**os.environ, "STATELINE_REDIS_URL": redis_url, "STATELINE_DATA_DIR": str(data_dir)}
    env.pop("STATELINE_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "stateline", "verify", str(script), "--spawn", SPAWN,
         "--health", "/_stateline/health", "--format", "json"],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert done.stdout, done.stderr
    return done.returncode, json.loads(done.stdout)


def test_every_service_answers_the_same_from_any_replica_and_across_restarts(
    redis_url: str, tmp_path: Path
) -> None:
    code, doc = run_verify(EXAMPLES / "stateline-services.yaml", redis_url, tmp_path)
    assert [m["status"] for m in doc["modes"]] == ["reference", "same", "same"], doc
    assert code == 0
    assert doc["modes"][1]["requests"] == doc["modes"][0]["requests"] > 20


def test_the_demo_local_counter_is_caught_at_the_counter_request(
    redis_url: str, tmp_path: Path
) -> None:
    code, doc = run_verify(EXAMPLES / "stateline-demo-counter.yaml", redis_url, tmp_path)
    assert code == 1
    first = doc["first_difference"]
    assert first["path"] == "/api/demo/local-counter"
    assert (first["mode"], first["request"]) == ("round_robin", 2)
    assert first["reference"]["served_by"] == "app-1"
    assert first["other"]["served_by"] == "app-2"
    assert doc["modes"][2]["status"] == "different"
