"""Issue 16 under the real task runner: a 10-day load by the generated DAGs in a real Airflow 3.3
(scheduler, LocalExecutor, the task SDK's supervisor and task processes), then three rounds of the
emulator's change model (old approvals granted weeks later, an old on-hold workflow canceled, a
failed workflow re-run in an old pipeline, running work finishing, new pipelines), each followed by
one run of `analytics_pipelines` and `analytics_projects`; after each round every table equals the
emulator's truth by value (tests/convergence/test_three_rounds.py makes the same comparison), on
DuckDB, on PostgreSQL and with the emulator's hostile fault profile on.

The runs are triggered with a logical date and no window params, so each is what the scheduler
would run for that date: its window is the stored cursor (the first one's: its data interval
start) and the refresh of unfinished records runs after it. The scheduler's own clock-driven runs
are off (`use_job_schedule`): the wall clock is not the emulator's.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import yaml

from analytics_provider.config.loader import DEFAULT_SPEC
from tests.airflow_stack import AirflowStack, iso, local_stack, temporary_database
from tests.convergence.test_test_results import assert_job_tests_equal_truth
from tests.convergence.test_three_rounds import assert_warehouse_equals_truth
from tests.reliability.helpers import pg_query

pytestmark = [pytest.mark.integration, pytest.mark.slow]

API_KEY = "e2e-converge-key-a2d4"
EMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
FIRST_INTERVAL_START = datetime(2026, 11, 10, tzinfo=timezone.utc)
"""The first run's data interval starts here (a manual run of 11-11 00:30 gets [11-10, 11-11)):
with no stored cursor it loads from here to the emulator's now."""
DAGS = ("analytics_pipelines", "analytics_projects")
LOAD_TIMEOUT = 600.0
RUN_TIMEOUT = 300.0


@dataclass
class Setup:
    airflow: AirflowStack
    emulator: Any
    query: Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture(params=["duckdb", "postgres", "hostile"])
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    """A stack per variant: DuckDB, PostgreSQL as the warehouse, or DuckDB with the emulator's
    hostile fault profile on (resets, 5xx, 429s, truncated bodies, lost page tokens; the spec's
    backoff shortened, tasks retried)."""
    import duckdb

    from analytics_provider.testing.emulator import EmulatorConfig

    home = tmp_path_factory.mktemp(f"airflow_converge_{request.param}")
    settings = {"AIRFLOW__CORE__PARALLELISM": "4", "ANALYTICS_POOL": "", "ANALYTICS_TASK_RETRIES": "0"}
    with contextlib.ExitStack() as cleanup:
        if request.param == "postgres":
            database = cleanup.enter_context(temporary_database(f"warehouse_{uuid.uuid4().hex[:10]}"))
            settings["ANALYTICS_DESTINATION_CONN_ID"] = "analytics_warehouse"
            settings["AIRFLOW_CONN_ANALYTICS_WAREHOUSE"] = json.dumps(
                {"conn_type": "postgres", "host": "127.0.0.1", "port": 5432, "login": "postgres", "schema": database}
            )
        if request.param == "hostile":
            spec = yaml.safe_load(DEFAULT_SPEC.read_text(encoding="utf-8"))
            spec["client"]["error_handler"]["backoff_factor"] = 0.05
            (home / "spec.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
            settings |= {
                "ANALYTICS_SPEC_PATH": str(home / "spec.yaml"),
                "ANALYTICS_TASK_RETRIES": "3",
                "ANALYTICS_RETRY_DELAY_SECONDS": "1",
            }
        airflow, emulator, duckdb_path = cleanup.enter_context(
            local_stack(
                home,
                EmulatorConfig(port=0, seed=7, days=12, now=iso(EMULATOR_NOW), api_key=API_KEY),
                settings,
                set(DAGS),
                unpause=DAGS,
            )
        )
        if request.param == "hostile":
            emulator.set_faults({"profile": "hostile", "seed": 11})

        def query(sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
            if request.param == "postgres":
                return pg_query(database)(sql)
            with duckdb.connect(str(duckdb_path), read_only=True) as con:
                return con.execute(sql, params or []).fetchall()

        yield Setup(airflow, emulator, query)
        if request.param == "hostile":
            faults = emulator.stats()["faults"]
            assert sum(faults.values()) > 0, "the profile should have bitten"


def run_dags(airflow: AirflowStack, logical_date: datetime, timeout: float) -> None:
    """One run of each DAG at `logical_date`, one after the other (parents' DAG first)."""
    for dag_id in DAGS:
        run = airflow.api("POST", f"dags/{dag_id}/dagRuns", json={"logical_date": iso(logical_date)})
        run_id = run["dag_run_id"]

        def done(dag_id: str = dag_id, run_id: str = run_id) -> str | None:
            state = airflow.api("GET", f"dags/{dag_id}/dagRuns/{run_id}")["state"]
            return state if state in ("success", "failed") else None

        state = airflow.wait_until(f"{dag_id} run at {iso(logical_date)}", done, timeout, 2)
        tis = airflow.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500})
        failed = [(t["task_id"], t["map_index"], t["state"]) for t in tis["task_instances"] if t["state"] == "failed"]
        assert state == "success", (dag_id, failed, airflow.diagnostics())


def test_three_rounds_of_changes_converge_under_the_real_task_runner(setup: Setup) -> None:
    airflow, emulator, query = setup.airflow, setup.emulator, setup.query
    held = emulator.control("POST", "hold", {"count": 8})
    assert held["count"] == 8
    run_dags(airflow, FIRST_INTERVAL_START + timedelta(days=1, minutes=30), LOAD_TIMEOUT)
    first = assert_warehouse_equals_truth(emulator, query, since=FIRST_INTERVAL_START)
    assert "on_hold" in {r[0] for r in query("SELECT status FROM analytics.workflow")}, "the load saw the holds"
    assert assert_job_tests_equal_truth(emulator, query, since=FIRST_INTERVAL_START) > 0

    granted = []
    for number in (1, 2, 3):
        changed = emulator.control("POST", "changes", {"round": number})
        granted += changed["approvals_granted"]
        run_dags(airflow, EMULATOR_NOW + timedelta(minutes=30 * number), RUN_TIMEOUT)
        counts = assert_warehouse_equals_truth(emulator, query, since=FIRST_INTERVAL_START)
        assert_job_tests_equal_truth(emulator, query, since=FIRST_INTERVAL_START)
        loaded = {r[0] for r in query("SELECT id FROM analytics.workflow")}
        assert changed["rerun"]["workflow_id"] in loaded, "the re-run in an old pipeline was found"
    assert granted, "the rounds granted old approvals"
    assert first["workflow"] < counts["workflow"]
