"""The `analytics_usage` DAG under a real Airflow 3.3: its task defers to `UsageExportTrigger` in a
real `airflow triggerer`, the triggerer is killed while the export is still processing, a new
triggerer resumes the same trigger (the export is not created again), and the `usage` table in
DuckDB equals the emulator's truth by value.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.usage_csv import _value
from tests.airflow_stack import AirflowStack, iso, local_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "analytics_usage"
API_KEY = "e2e-usage-key-3f9a"
EMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
START, END = "2026-11-17T00:00:00Z", "2026-11-19T00:00:00Z"
EXPORT_DELAY_S = 45
STARTUP_TIMEOUT = 180.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowStack, Any, Path]]:
    from analytics_provider.testing.emulator import EmulatorConfig

    with local_stack(
        tmp_path_factory.mktemp("airflow_usage"),
        EmulatorConfig(port=0, seed=5, days=5, now=iso(EMULATOR_NOW), api_key=API_KEY),
        {
            "AIRFLOW__CORE__PARALLELISM": "2",
            "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "6",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
            "ANALYTICS_POOL": "",
            "ANALYTICS_TASK_RETRIES": "0",
            "ANALYTICS_USAGE_POLL_SECONDS": "2",
        },
        {DAG_ID},
        unpause=(DAG_ID,),
        startup_timeout=STARTUP_TIMEOUT,
        processes=("triggerer",),
    ) as running:
        yield running


def kill(airflow: AirflowStack, name: str) -> None:
    """SIGKILL one process group of the stack (a crash: no graceful hand-over) and forget it."""
    proc = airflow.procs.pop(name)
    airflow.logs.pop(name)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def task_state(airflow: AirflowStack, run_id: str) -> str | None:
    ti = airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/usage")
    return ti.get("state")


def test_trigger_resumes_after_a_triggerer_restart_and_usage_equals_truth(
    stack: tuple[AirflowStack, Any, Path],
) -> None:
    import duckdb

    airflow, emulator, duckdb_path = stack
    org_id = airflow_orgs(emulator)[0]
    emulator.control("POST", "usage_export", {"delay_s": EXPORT_DELAY_S})
    run = airflow.api(
        "POST",
        f"dags/{DAG_ID}/dagRuns",
        json={"logical_date": None, "conf": {"start": START, "end": END, "orgs": org_id}},
    )
    run_id = run["dag_run_id"]
    airflow.wait_until("task deferred", lambda: task_state(airflow, run_id) == "deferred", 240, interval=1)
    kill(airflow, "triggerer")
    jobs = emulator.control("GET", "usage_export")["jobs"]
    assert [j["state"] for j in jobs] in (["created"], ["processing"]), "killed while the export was running"
    airflow.start("triggerer-2", "triggerer")

    def finished() -> str | None:
        state = airflow.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    assert airflow.wait_until("run finished", finished, 300, interval=2) == "success", airflow.diagnostics()
    jobs = emulator.control("GET", "usage_export")["jobs"]
    assert len(jobs) == 1 and jobs[0]["state"] == "completed", "the resumed trigger polled the same export"

    truth = emulator.control(
        "GET", "usage_export/truth", query={"org_id": org_id, "start": START, "end": "2026-11-18T23:59:59Z"}
    )["rows"]
    assert truth and jobs[0]["rows"] == len(truth)
    columns = list(truth[0])
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        got = con.execute(f"SELECT {', '.join(columns)} FROM analytics.usage ORDER BY job_id").fetchall()
    expected = sorted(
        ({k: None if v is None else _value(k, str(v)) for k, v in row.items()} for row in truth),
        key=lambda r: r["job_id"],
    )
    assert [dict(zip(columns, [_utc(v) for v in row], strict=True)) for row in got] == expected


def airflow_orgs(emulator: Any) -> list[str]:
    import requests

    response = requests.get(f"{emulator.base_url}/v2/me/collaborations", headers={"api_key": API_KEY}, timeout=30)
    return [o["id"] for o in response.json()]


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value
