"""The README's local UI recipe, driven as a user runs it: `scripts/ui.sh` (`make ui`) starts the
emulator and `airflow standalone` on another port than 8080, and a run triggered through the UI's
REST API loads rows equal to what the emulator serves. Without the execution API URL the recipe
sets, every task of that run would fail with "Connection refused"."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests

from tests.airflow_stack import REPO, AirflowStack, free_port

pytestmark = pytest.mark.integration

DAG_ID = "analytics_users"
STARTUP_TIMEOUT = 300.0
RUN_TIMEOUT = 300.0


@pytest.fixture
def ui(tmp_path: Path) -> Iterator[tuple[AirflowStack, str]]:
    port, emulator_port = free_port(), free_port()
    env = {
        **{k: v for k, v in __import__("os").environ.items() if not k.startswith(("AIRFLOW", "ANALYTICS_"))},
        "UI_PORT": str(port),
        "EMULATOR_PORT": str(emulator_port),
        "AIRFLOW_HOME": str(tmp_path),
        # the REST API without a login, so the test can trigger and read runs
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
    }
    stack = AirflowStack(home=tmp_path, env=env, port=port)
    log = tmp_path / "ui.log"
    with open(log, "wb") as handle:
        stack.procs["ui"] = subprocess.Popen(
            ["bash", str(REPO / "scripts" / "ui.sh")],
            env=env,
            cwd=REPO,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # stopped with everything standalone forks
        )
    stack.logs["ui"] = log
    try:
        yield stack, f"http://127.0.0.1:{emulator_port}"
    finally:
        stack.stop(grace=20)


def test_the_ui_recipe_runs_a_dag_that_loads_what_the_api_serves(ui: tuple[AirflowStack, str]) -> None:
    stack, emulator_url = ui
    stack.wait_for_api_server(STARTUP_TIMEOUT)
    stack.wait_until("DAG parsed", lambda: stack.api("GET", f"dags/{DAG_ID}"), STARTUP_TIMEOUT)
    stack.api("PATCH", f"dags/{DAG_ID}", json={"is_paused": False})
    run = stack.api("POST", f"dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": {}})
    run_id = run["dag_run_id"]

    def finished() -> str | None:
        state = stack.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    state = stack.wait_until(f"run {run_id}", finished, RUN_TIMEOUT, interval=2)
    assert state == "success", stack.diagnostics()

    served = requests.get(f"{emulator_url}/v2/me", headers={"api_key": "demo-key"}, timeout=10).json()
    with duckdb.connect(str(stack.home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("SELECT id, login, name FROM analytics.self_ids").fetchall()
    assert rows == [(served["id"], served["login"], served["name"])]
