"""The docker-compose topology, run for real on this machine: CeleryExecutor with two workers.

Started here, in a temporary AIRFLOW_HOME: a fresh PostgreSQL metadata database (also the Celery
result backend), Redis DB 5 as the broker (flushed before and after), the API emulator (subprocess),
a fresh PostgreSQL warehouse database as the dlt destination (connection `analytics_warehouse`),
then `airflow api-server`, `airflow dag-processor`, `airflow scheduler` and two `airflow celery
worker`s (concurrency 2 each, different `--celery-hostname`s and task `hostname`s).

One manual run of `analytics_pipelines` loads one day of the emulator's history, with the spec's
`batch_size` lowered to 10 so the children fan out into many mapped tasks. Checked: the run
succeeds, mapped tasks ran on both workers, and `pipelines`, `workflow`, `workflow_jobs` and `jobs`
in the warehouse equal the emulator's truth for that day, without duplicate keys.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.airflow_stack import REPO, airflow_env, free_port, iso, temporary_database
from tests.deploy.celery_stack import DAG_ID, REDIS_URL, STOP_GRACE, CeleryStack, flush_redis_db
from tests.deploy.worker_identity import HOSTNAME_ENV

pytestmark = [pytest.mark.integration, pytest.mark.slow]

POOL = "analytics_api"
API_KEY = "celery-key-3f9a61d0"
WORKERS = ("worker-a", "worker-b")
WORKER_CONCURRENCY = 2
BATCH_SIZE = 10
DATASET = "analytics"

EMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
EMULATOR_SCALE = 0.5
"""About 13 pipelines, 20 workflows, 90 workflow jobs and 74 job details on the window's day: with
batches of 10, about 13 mapped load tasks (seed 11)."""
WINDOW_START = datetime(2026, 11, 18, tzinfo=timezone.utc)
WINDOW_END = WINDOW_START + timedelta(days=1)
PRIMARY_KEYS = {"pipelines": ("id",), "workflow": ("id",), "workflow_jobs": ("id",), "jobs": ("project_slug", "number")}

STARTUP_TIMEOUT = 150.0
RUN_TIMEOUT = 270.0


def _spec_with_small_batches(directory: Path) -> Path:
    from analytics_provider.config.loader import DEFAULT_SPEC

    spec = yaml.safe_load(DEFAULT_SPEC.read_text())
    spec["resource_defaults"]["batch_size"] = BATCH_SIZE
    for resource in spec["resources"]:  # a resource's own batch size (pipeline_workflows) would win
        resource.pop("batch_size", None)
    path = directory / "analytics_api_small_batches.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _celery_worker_importable() -> None:
    """Fail at once, with the cause, if `airflow celery worker` cannot even start."""
    try:
        import airflow.providers.celery.executors.celery_executor_utils  # noqa: F401
    except ImportError as exc:
        pytest.fail(
            f"`airflow celery worker` cannot start here: {exc}. apache-airflow-providers-celery 3.26.0 imports "
            "`retry` from `celery.backends.database`, which celery 5.7.0 removed: install `celery<5.7`."
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryStack]:
    from analytics_provider.testing.emulator import EmulatorConfig, spawn_emulator

    _celery_worker_importable()
    began = time.monotonic()
    home = tmp_path_factory.mktemp("airflow_celery")
    suffix = uuid.uuid4().hex[:10]
    metadata_db, warehouse_db = f"airflow_celery_{suffix}", f"analytics_celery_{suffix}"
    port = free_port()
    with contextlib.ExitStack() as cleanup:
        for database in (metadata_db, warehouse_db):
            cleanup.enter_context(temporary_database(database))
        flush_redis_db()
        cleanup.callback(flush_redis_db)

        emulator = spawn_emulator(
            EmulatorConfig(port=0, seed=11, days=3, scale=EMULATOR_SCALE, now=iso(EMULATOR_NOW), api_key=API_KEY)
        )
        cleanup.callback(emulator.stop)

        env = airflow_env(
            home=home,
            database=metadata_db,
            port=port,
            emulator_url=emulator.base_url,
            api_key=API_KEY,
            settings={
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": REDIS_URL,
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql://postgres@127.0.0.1:5432/{metadata_db}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(WORKER_CONCURRENCY),
                "AIRFLOW__CORE__PARALLELISM": "8",
                "ANALYTICS_SPEC_PATH": str(_spec_with_small_batches(home)),
                "ANALYTICS_DESTINATION_CONN_ID": "analytics_warehouse",
                "ANALYTICS_DATASET": DATASET,
                "ANALYTICS_TASK_RETRIES": "0",
                "AIRFLOW_CONN_ANALYTICS_WAREHOUSE": json.dumps(
                    {
                        "conn_type": "postgres",
                        "host": "127.0.0.1",
                        "port": 5432,
                        "login": "postgres",
                        "schema": warehouse_db,
                    }
                ),
            },
        )
        stack = CeleryStack(
            home=home, env=env, port=port, metadata_db=metadata_db, warehouse_db=warehouse_db, emulator=emulator
        )
        cleanup.callback(stack.stop, STOP_GRACE)  # runs before the databases are dropped and Redis is flushed

        stack.cli("db", "migrate", timeout=300)
        stack.cli("pools", "set", POOL, str(2 * WORKER_CONCURRENCY), "analytics API")
        stack.start_core()
        for name in WORKERS:
            stack.start(
                name,
                *("celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", str(WORKER_CONCURRENCY)),
                extra_env={
                    # the task instance's `hostname` names the worker that ran it
                    "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.deploy.worker_identity.hostname",
                    HOSTNAME_ENV: name,
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
                    "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                },
            )

        stack.wait_for_api_server(STARTUP_TIMEOUT)
        stack.wait_until(
            f"{DAG_ID} parsed",
            lambda: stack.meta("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (DAG_ID,)),
            STARTUP_TIMEOUT,
        )
        errors = stack.meta("SELECT filename, stacktrace FROM import_error")
        assert not errors, f"DAG import errors: {errors}"
        for name in WORKERS:
            stack.wait_until(f"{name} ready", lambda n=name: " ready." in stack.logs[n].read_text(), STARTUP_TIMEOUT)
        stack.cli("dags", "unpause", DAG_ID)
        sys.stdout.write(f"\nCelery stack ready after {time.monotonic() - began:.0f}s\n")
        yield stack
        stopping = time.monotonic()
        stack.stop(STOP_GRACE)
        sys.stdout.write(f"\nCelery stack stopped in {time.monotonic() - stopping:.0f}s\n")


def _normalise(value: Any) -> Any:
    """Comparable form of a warehouse value and of the API's JSON value (timestamps as UTC datetimes)."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc)
    if isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", value):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    return value


def _compare_with_truth(stack: CeleryStack, table: str, truth: list[dict[str, Any]]) -> int:
    """Same keys, no duplicates, and every top-level scalar field of the API equal to its column."""
    key = PRIMARY_KEYS[table]
    columns = [
        r[0]
        for r in stack.warehouse(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (DATASET, table),
        )
    ]
    assert columns, f"no table {DATASET}.{table} in the warehouse"
    fields = sorted(
        {k for row in truth for k, v in row.items() if k in columns and not isinstance(v, dict | list)} | set(key)
    )
    select = ", ".join(f'"{c}"' for c in fields)
    rows = stack.warehouse(f'SELECT {select} FROM {DATASET}."{table}"')
    loaded = [dict(zip(fields, r, strict=True)) for r in rows]
    loaded_keys = [tuple(r[k] for k in key) for r in loaded]
    duplicates = {k for k in loaded_keys if loaded_keys.count(k) > 1}
    assert not duplicates, f"duplicate {key} in {table}: {sorted(duplicates)[:5]}"
    expected = {tuple(r[k] for k in key): r for r in truth}
    by_key = dict(zip(loaded_keys, loaded, strict=True))
    assert set(by_key) == set(expected), (
        f"{table}: {len(by_key)} rows loaded, {len(expected)} in truth; missing "
        f"{sorted(set(expected) - set(by_key))[:5]}, unexpected {sorted(set(by_key) - set(expected))[:5]}"
    )
    mismatches = [
        (k, f, row.get(f), by_key[k][f])
        for k, row in expected.items()
        for f in fields
        if _normalise(row.get(f)) != _normalise(by_key[k][f])
    ]
    assert not mismatches, f"{table}: {len(mismatches)} values differ from the API, e.g. {mismatches[:5]}"
    return len(fields)


def test_celery_workers_load_one_day_like_the_emulator_says(stack: CeleryStack) -> None:
    run_id = f"celery_{uuid.uuid4().hex[:8]}"
    conf = {"start": iso(WINDOW_START), "end": iso(WINDOW_END)}
    started = time.monotonic()
    stack.cli("dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps(conf))

    def finished() -> str | None:
        rows = stack.meta("SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id))
        return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

    state = stack.wait_until(f"run {run_id} finished", finished, RUN_TIMEOUT, interval=2.0)
    sys.stdout.write(f"\n{DAG_ID} run {run_id}: {state} after {time.monotonic() - started:.0f}s\n")
    assert state == "success", stack.run_report(run_id) + stack.diagnostics()

    tis = stack.task_instances(run_id)
    assert all(t["state"] in ("success", "skipped") for t in tis), stack.run_report(run_id)
    ran = [t for t in tis if t["state"] == "success"]
    assert {t["hostname"] for t in ran} <= set(WORKERS), {t["hostname"] for t in ran}
    mapped = [t for t in ran if t["map_index"] >= 0]
    per_worker = {
        name: sorted(f"{t['task_id']}[{t['map_index']}]" for t in mapped if t["hostname"] == name) for name in WORKERS
    }
    sys.stdout.write(f"mapped task instances per worker: { {k: len(v) for k, v in per_worker.items()} }\n")
    assert len({t["task_id"] for t in mapped if t["map_index"] > 0}) >= 2, "too few mapped tasks to prove anything"
    assert all(per_worker.values()), f"mapped tasks did not run on both workers: {per_worker}"

    since, until = iso(WINDOW_START), iso(WINDOW_END)
    for table, resource in (
        ("pipelines", "pipelines"),
        ("workflow", "workflow"),
        ("workflow_jobs", "workflow_jobs"),
        ("jobs", "jobs"),
    ):
        truth = stack.emulator.truth(resource, since=since, until=until)
        assert truth, f"the emulator has no {resource} in [{since}, {until}): the test would prove nothing"
        compared = _compare_with_truth(stack, table, truth)
        sys.stdout.write(f"{table}: {len(truth)} rows equal the emulator's truth ({compared} columns compared)\n")
