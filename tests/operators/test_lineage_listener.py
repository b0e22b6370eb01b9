"""The OpenLineage provider's own listener, in a real task runner (`airflow dags test`), writing
its events through the client's file transport: the load tasks' events carry the facets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY, EMULATOR_NOW

pytest.importorskip("airflow.providers.openlineage")
pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _events(path: Path) -> list[dict[str, Any]]:
    files = [path] if path.is_file() else sorted(path.parent.glob(path.name + "*"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines() if line.strip()]


def test_the_listener_emits_the_load_tasks_facets_without_the_key(tmp_path: Path) -> None:
    from analytics_provider.testing.emulator import Emulator, EmulatorConfig

    emulator = Emulator(EmulatorConfig(port=0, seed=5, days=2, now=EMULATOR_NOW, api_key=API_KEY)).start()
    events_file = tmp_path / "lineage.jsonl"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path / 'airflow.db'}",
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "analytics-test",
        "AIRFLOW_CONN_ANALYTICS_API_DEFAULT": json.dumps(
            {
                "conn_type": "analytics_api",
                "host": emulator.base_url,
                "password": API_KEY,
                "extra": {"auth_header": "circle-token", "auth_location": "query"},
            }
        ),
        "ANALYTICS_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
        "ANALYTICS_TASK_RETRIES": "0",
    }
    try:
        for args in (["db", "migrate"], ["dags", "test", "analytics_users", EMULATOR_NOW.strftime("%Y-%m-%d")]):
            done = subprocess.run(
                [sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True, timeout=600
            )
            assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    finally:
        emulator.stop()

    events = _events(events_file)
    complete = {
        e["job"]["name"].rsplit(".", 1)[-1]: e
        for e in events
        if e["eventType"] == "COMPLETE" and e["job"]["name"].startswith("analytics_users.")
    }
    assert {"self_ids", "me"} <= set(complete), sorted(e["job"]["name"] for e in events)
    port = emulator.port
    for task, path, table in (("self_ids", "/v2/me", "self_ids"), ("me", "/v1.1/me", "me")):
        event = complete[task]
        assert [(i["namespace"], i["name"].rsplit("/v", 1)[-1]) for i in event["inputs"]] == [
            (f"http://127.0.0.1:{port}", path.rsplit("/v", 1)[-1])
        ]
        [out] = [o for o in event["outputs"] if o["name"] == f"analytics.{table}"]
        assert out["namespace"] == f"duckdb://{(tmp_path / 'warehouse.duckdb').resolve()}"
        assert out["outputFacets"]["outputStatistics"]["rowCount"] == 1
        assert "id" in {f["name"] for f in out["facets"]["schema"]["fields"]} or table == "me"
    raw = "\n".join(json.dumps(e) for e in events)
    assert API_KEY not in raw, "no key in any event"
