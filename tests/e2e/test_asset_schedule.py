"""Asset-aware scheduling under a real Airflow 3.3 (issue 17 item 5): a run of `analytics_pipelines`
that loads test results (`job_tests`) updates the Asset `analytics.job_tests`, and the scheduler
starts `analytics_tests` from that event, with no clock; its `flaky_tests` then equal the
emulator's truth by value.

The stack runs with the scheduler's own scheduling on (`use_job_schedule`, which asset-triggered
runs need). So that unpausing `analytics_pipelines` does not start a run for the real-world day
(the emulator's clock is not the wall clock), the test's copy of the shipped spec moves that DAG
to a yearly schedule whose first interval has not ended: only the run the test triggers happens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics_provider.config.loader import DEFAULT_SPEC
from tests.airflow_stack import AirflowStack, iso, local_stack
from tests.convergence.test_test_results import assert_flaky_tests_equal_truth

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_KEY = "e2e-asset-key-51c0"
EMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
STARTUP_TIMEOUT = 180.0
RUN_TIMEOUT = 300.0


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AirflowStack, Any, Path]]:
    from analytics_provider.testing.emulator import EmulatorConfig

    home = tmp_path_factory.mktemp("airflow_assets")
    spec = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))
    for dag in spec["dags"]:
        if dag["dag_id"] == "analytics_pipelines":
            dag["schedule"] = "0 0 1 1 *"  # first interval [2026-01-01, 2027-01-01): no run of its own
    spec_path = home / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    with local_stack(
        home,
        EmulatorConfig(port=0, seed=9, days=4, now=iso(EMULATOR_NOW), api_key=API_KEY),
        {
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
            "ANALYTICS_SPEC_PATH": str(spec_path),
            "ANALYTICS_POOL": "",
            "ANALYTICS_TASK_RETRIES": "0",
        },
        {"analytics_pipelines", "analytics_tests"},
        unpause=("analytics_pipelines", "analytics_tests"),
        startup_timeout=STARTUP_TIMEOUT,
    ) as running:
        yield running


def runs(airflow: AirflowStack, dag_id: str) -> list[dict[str, Any]]:
    return airflow.api("GET", f"dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]


def finished(airflow: AirflowStack, dag_id: str, run_id: str | None = None) -> dict[str, Any] | None:
    for run in runs(airflow, dag_id):
        if (run_id is None or run["dag_run_id"] == run_id) and run["state"] in ("success", "failed"):
            return run
    return None


def test_flaky_tests_follow_test_results_without_a_clock(stack: tuple[AirflowStack, Any, Path]) -> None:
    import duckdb

    airflow, emulator, duckdb_path = stack
    assert runs(airflow, "analytics_tests") == [], "an asset-aware DAG does not run before its asset is updated"
    start, end = EMULATOR_NOW - timedelta(days=2), EMULATOR_NOW
    trigger = airflow.api(
        "POST",
        "dags/analytics_pipelines/dagRuns",
        json={"logical_date": None, "conf": {"start": iso(start), "end": iso(end)}},
    )
    run_id = trigger["dag_run_id"]
    done = airflow.wait_until(
        "pipelines run finished", lambda: finished(airflow, "analytics_pipelines", run_id), RUN_TIMEOUT, 2
    )
    assert done["state"] == "success", airflow.diagnostics()
    assert [r["dag_run_id"] for r in runs(airflow, "analytics_pipelines")] == [run_id], "no run of its own clock"

    tests_run = airflow.wait_until(
        "analytics_tests run finished", lambda: finished(airflow, "analytics_tests"), RUN_TIMEOUT, 2
    )
    assert tests_run["state"] == "success", airflow.diagnostics()
    assert tests_run["run_type"] == "asset_triggered", tests_run
    events = airflow.api("GET", f"dags/analytics_tests/dagRuns/{tests_run['dag_run_id']}/upstreamAssetEvents")
    sources = {(e["source_dag_id"], e["source_task_id"]) for e in events["asset_events"]}
    assert ("analytics_pipelines", "pipeline_workflows_batches.job_tests") in sources, sources
    assert {e["uri"] for e in events["asset_events"]} == {"analytics://analytics/job_tests"}

    def query(sql: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(duckdb_path), read_only=True) as con:
            return con.execute(sql).fetchall()

    assert query("SELECT count(*) FROM analytics.job_tests")[0][0] > 0
    assert assert_flaky_tests_equal_truth(emulator, query) > 0
    summary = airflow.api(
        "GET",
        f"dags/analytics_tests/dagRuns/{tests_run['dag_run_id']}/taskInstances/flaky_tests/xcomEntries/return_value",
        params={"deserialize": "true"},
    )["value"]
    summary = json.loads(summary) if isinstance(summary, str) else summary
    assert summary["requests"] == 1 + len(emulator.truth("projects")), "the projects list, then one per project"
