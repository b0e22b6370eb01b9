"""End to end: the generated `analytics_pipelines` DAG under a real Airflow 3.3 on this machine.

One module-scoped fixture starts, in a temporary AIRFLOW_HOME: a fresh PostgreSQL metadata
database, the API emulator (subprocess), `airflow db migrate`, the `analytics_api` pool, and
`airflow scheduler` (LocalExecutor), `airflow dag-processor` and `airflow api-server` as
subprocesses. Every check compares the destination DuckDB file with the emulator's truth.

The DuckDB file takes one writing process: it is opened read-only here, and only after checking
that no DAG run is queued or running.

`[scheduler] use_job_schedule` is off: unpausing the DAG would otherwise make the scheduler
create a run for the latest real-world day (catchup is off, the wall clock is not the
emulator's), and that run would race the runs under test for the DuckDB file and the CPU.
Backfill and manual runs are scheduled as usual.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.config.loader import load_spec
from analytics_provider.dag_factory import FactoryConfig
from analytics_provider.fanout.batching import LABEL_MAX, batch_bounds, batch_label
from tests.airflow_stack import AirflowStack, iso, local_stack, tail

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DAG_ID = "analytics_pipelines"
DAG_IDS = {"analytics_pipelines", "analytics_projects", "analytics_users"}
POOL = "analytics_api"
API_KEY = "e2e-key-7c41d2b9"
EMULATOR_NOW = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)
DAY = timedelta(days=1)
D = EMULATOR_NOW.replace(hour=0, minute=0)
"""The emulator's current day; its history covers the `HISTORY_DAYS` before `EMULATOR_NOW`."""


def batch_size(plan_task: str) -> int:
    """The shipped spec's `batch_size` of the child a plan task cuts keys for: keys per mapped task."""
    return load_spec().resource(plan_task.removeprefix("plan_")).batch_size


PIPELINE_BATCH = batch_size("plan_pipeline_workflows")
POOL_SLOTS = FactoryConfig.from_env().pool_slots
"""The fan-out is spread over at least this many batches when it has the keys (`batch_bounds`)."""
HISTORY_DAYS = 14
"""Days of the emulator's history: enough before the backfill's days for more than one batch."""
E2E_SCALE = 1.5
"""~47 pipelines a day (seed 11): a few days hold more than one batch of them."""
GROUP = "pipeline_workflows_batches"
"""The mapped task group: per batch of pipelines, their workflows, job lists and job details."""
FAN_OUTS = {
    "plan_context": ("context",),
    "plan_pipeline_workflows": tuple(
        f"{GROUP}.{t}" for t in ("pipeline_workflows", "workflow", "workflow_jobs", "jobs")
    ),
}
"""Plan tasks and the tasks mapped over their batches."""
PRIMARY_KEYS = {
    "pipelines": ("id",),
    "workflow": ("id",),
    "workflow_jobs": ("id",),
    "jobs": ("project_slug", "number"),
}

STARTUP_TIMEOUT = 180.0
BACKFILL_TIMEOUT = 420.0
RUN_TIMEOUT = 240.0
POLL_SECONDS = 2.0
TERMINAL = {"success", "failed"}


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def json_output(stdout: str) -> Any:
    """The JSON document of a CLI `-o json` output (log lines such as warnings may precede it)."""
    for line in stdout.splitlines():
        if line.startswith(("[", "{")):
            return json.loads(line)
    raise AssertionError(f"no JSON in the CLI output: {stdout[-2000:]}")


@dataclass
class SchedulerStack(AirflowStack):
    """A running Airflow (scheduler, dag-processor, api-server) plus the emulator it reads from."""

    emulator: Any
    duckdb_path: Path

    # -- REST -----------------------------------------------------------------------------
    def runs(self) -> list[dict[str, Any]]:
        return self.api("GET", f"dags/{DAG_ID}/dagRuns", params={"limit": 100})["dag_runs"]

    def task_instances(self, run_id: str) -> list[dict[str, Any]]:
        return self.api("GET", f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances", params={"limit": 500})["task_instances"]

    def xcom(self, run_id: str, task_id: str, map_index: int = -1, key: str = "return_value") -> Any:
        entry = self.api(
            "GET",
            f"dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}",
            params={"map_index": map_index, "deserialize": "true"},
        )
        value = entry["value"]
        return json.loads(value) if isinstance(value, str) else value

    def task_log(self, run_id: str, task_id: str, map_index: int, attempt: int) -> Path | None:
        """The local log file of one attempt (found by walking: run ids hold `:` and `+`)."""
        root = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
        if map_index >= 0:
            root = root / f"map_index={map_index}"
        found = root / f"attempt={attempt}.log"
        return found if found.exists() else None

    def run_report(self, run_ids: list[str]) -> str:
        """Task states of the runs, with log tails of failed or retried attempts."""
        parts = []
        for run_id in run_ids:
            try:
                tis = self.task_instances(run_id)
            except Exception as exc:
                parts.append(f"\n{run_id}: cannot list task instances: {exc}")
                continue
            rows = sorted((t["task_id"], t["map_index"], t["state"], t["try_number"]) for t in tis)
            parts.append(f"\n{run_id}: " + ", ".join(f"{t}[{m}]={s}(try {n})" for t, m, s, n in rows))
            for task_id, map_index, state, tries in rows:
                if state in ("failed", "up_for_retry", "upstream_failed") or (tries or 0) > 1:
                    for attempt in range(1, (tries or 1) + 1):
                        log = self.task_log(run_id, task_id, map_index, attempt)
                        if log is not None:
                            parts.append(f"\n--- {task_id}[{map_index}] attempt {attempt} ---\n{tail(log, 25)}")
        return "".join(parts)

    def wait_for_runs(self, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
        """Poll until every run is finished; fail on a failed run or at the deadline, with logs."""
        deadline = time.monotonic() + timeout
        while True:
            runs = {r["dag_run_id"]: r for r in self.runs() if r["dag_run_id"] in run_ids}
            states = {run_id: runs.get(run_id, {}).get("state") for run_id in run_ids}
            if all(state in TERMINAL for state in states.values()):
                if any(state != "success" for state in states.values()):
                    raise AssertionError(f"DAG runs failed: {states}" + self.run_report(run_ids) + self.diagnostics())
                return runs
            self.check_alive()
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"DAG runs not finished after {timeout:.0f}s: {states}"
                    + self.run_report(run_ids)
                    + self.diagnostics()
                )
            time.sleep(POLL_SECONDS)

    # -- the destination --------------------------------------------------------------------
    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Read the DuckDB file; refuses while a run is queued or running (it may hold the write lock)."""
        import duckdb

        active = [r["dag_run_id"] for r in self.runs() if r["state"] in ("queued", "running")]
        assert not active, f"runs still active, not opening {self.duckdb_path}: {active}"
        with duckdb.connect(str(self.duckdb_path), read_only=True) as con:
            return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SchedulerStack]:
    from analytics_provider.testing.emulator import EmulatorConfig

    with local_stack(
        tmp_path_factory.mktemp("airflow_e2e"),
        EmulatorConfig(port=0, seed=11, days=HISTORY_DAYS, scale=E2E_SCALE, now=iso(EMULATOR_NOW), api_key=API_KEY),
        {
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
            "ANALYTICS_TASK_RETRIES": "1",
            "ANALYTICS_RETRY_DELAY_SECONDS": "1",
        },
        DAG_IDS,
        unpause=(DAG_ID,),
        startup_timeout=STARTUP_TIMEOUT,
        pools={POOL: 4},
        factory=SchedulerStack,
    ) as (stack, _, _):
        yield stack


# -- checks shared by the tests ------------------------------------------------------------------


def truth_ids(stack: SchedulerStack, resource: str, start: datetime, end: datetime) -> set[str]:
    return {row["id"] for row in stack.emulator.truth(resource, since=iso(start), until=iso(end))}


def assert_no_duplicate_keys(stack: SchedulerStack) -> None:
    for table, key in PRIMARY_KEYS.items():
        cols = ", ".join(key)
        dupes = stack.query(f"SELECT {cols}, count(*) FROM analytics.{table} GROUP BY {cols} HAVING count(*) > 1")
        assert not dupes, f"duplicate primary keys in `{table}`: {dupes[:5]}"


def assert_window_children_loaded(stack: SchedulerStack, start: datetime, end: datetime) -> None:
    """`workflow` and `workflow_jobs` hold exactly the emulator's rows for the pipelines of [start, end),
    and `jobs` the details of every started job among them."""
    pipelines = sorted(truth_ids(stack, "pipelines", start, end))
    workflows = sorted(truth_ids(stack, "workflow", start, end))
    assert pipelines and workflows, "the window holds no data: the test would prove nothing"
    loaded_wf = {r[0] for r in stack.query("SELECT id FROM analytics.workflow WHERE pipeline_id IN ?", [pipelines])}
    assert loaded_wf == set(workflows), (
        f"workflows of the window's pipelines: {len(loaded_wf)} loaded, {len(workflows)} in truth; "
        f"missing {sorted(set(workflows) - loaded_wf)[:5]}, unexpected {sorted(loaded_wf - set(workflows))[:5]}"
    )
    truth_jobs = {r["id"] for r in stack.emulator.truth("workflow_jobs", since=iso(start), until=iso(end))}
    loaded_jobs = {
        r[0] for r in stack.query("SELECT id FROM analytics.workflow_jobs WHERE workflow_id IN ?", [workflows])
    }
    assert loaded_jobs == truth_jobs, (
        f"jobs of the window's workflows: {len(loaded_jobs)} loaded, {len(truth_jobs)} in truth; "
        f"missing {sorted(truth_jobs - loaded_jobs)[:5]}, unexpected {sorted(loaded_jobs - truth_jobs)[:5]}"
    )
    detail_keys = {(r["project_slug"], r["number"]) for r in stack.emulator.truth("jobs", iso(start), iso(end))}
    loaded_details = set(stack.query("SELECT project_slug, number FROM analytics.jobs"))
    missing = detail_keys - loaded_details
    assert not missing, f"{len(missing)} of {len(detail_keys)} job details missing, e.g. {sorted(missing)[:5]}"


def batch_of(stack: SchedulerStack, run_id: str, ref: dict[str, Any]) -> list[dict[str, Any]]:
    """The batch a plan task's reference names, from the plan task's XCom."""
    where = ref["batch_xcom"]
    return stack.xcom(run_id, where["task_id"], key=where["key"])


def assert_mapped_per_plan(stack: SchedulerStack, run_id: str) -> dict[str, int]:
    """Each task of a fan-out ran once per batch its plan task returned (map indexes 0..n-1), every
    batch at most its child's `batch_size` keys, and `pipelines` once (not mapped); returns the number of
    batches per plan task. A plan task returns one small reference per batch; the batch itself
    is an XCom of its own."""
    tis = stack.task_instances(run_id)
    assert all(t["state"] == "success" or t["state"] == "skipped" for t in tis), stack.run_report([run_id])
    assert [(t["map_index"], t["state"]) for t in tis if t["task_id"] == "pipelines"] == [(-1, "success")]
    counts = {}
    for plan_task, mapped in FAN_OUTS.items():
        plan = stack.xcom(run_id, plan_task)
        counts[plan_task] = len(plan)
        for task_id in mapped:
            indexes = sorted(t["map_index"] for t in tis if t["task_id"] == task_id)
            if not plan:  # an empty plan skips the mapped task
                assert [(t["map_index"], t["state"]) for t in tis if t["task_id"] == task_id] == [(-1, "skipped")]
                continue
            assert indexes == list(range(len(plan))), f"{run_id}: `{task_id}` map indexes {indexes}, plan {len(plan)}"
            # map_index_template names each mapped task by what it loads
            # (a task the scheduler skipped because its upstream in the group skipped is never tried,
            # so it never renders a name and the API shows its bare index: only tried ones count)
            names = {
                t["map_index"]: t.get("rendered_map_index") or ""
                for t in tis
                if t["task_id"] == task_id and (t["state"] != "skipped" or t.get("try_number"))
            }
            states = {t["map_index"]: (t["state"], t.get("try_number")) for t in tis if t["task_id"] == task_id}
            assert all(re.fullmatch(r"\d+ keys( from .+)?", name) for name in names.values()), (task_id, names, states)
        top = {t["map_index"]: t.get("rendered_map_index") for t in tis if t["task_id"] == mapped[0]}
        for index, ref in enumerate(plan):
            batch = batch_of(stack, run_id, ref)
            assert 0 < len(batch) == ref["keys"] <= batch_size(plan_task), (plan_task, index, len(batch), ref)
            assert batch[0] == ref["first"]
            # the label names the batch's size and the start of its first key, short enough not to
            # wrap the UI's breadcrumb
            assert top[index] == batch_label(batch), (top[index], batch[0])
            assert len(top[index]) <= LABEL_MAX
    return counts


# -- the tests ---------------------------------------------------------------------------------


def test_backfill_loads_exactly_its_data_intervals(airflow: SchedulerStack) -> None:
    start, end = D - 3 * DAY, D
    airflow.cli(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        (D - 3 * DAY).date().isoformat(),
        "--to-date",
        (D - DAY).date().isoformat(),
    )
    runs = [r for r in airflow.runs() if r["run_type"] == "backfill"]
    assert len(runs) == 3, f"expected 3 backfill runs, got {[(r['dag_run_id'], r['logical_date']) for r in runs]}"
    run_ids = [r["dag_run_id"] for r in runs]
    finished = airflow.wait_for_runs(run_ids, BACKFILL_TIMEOUT)

    # a run with logical date X covers [X, X + 1 day): together exactly [D-3, D)
    intervals = sorted(
        (parse_ts(r["data_interval_start"]), parse_ts(r["data_interval_end"])) for r in finished.values()
    )
    assert intervals == [(start + i * DAY, start + (i + 1) * DAY) for i in range(3)], intervals
    assert all(parse_ts(r["logical_date"]) == parse_ts(r["data_interval_start"]) for r in finished.values())

    listed = json_output(airflow.cli("dags", "list-runs", DAG_ID, "-o", "json"))
    assert {r["run_id"]: r["state"] for r in listed if r["run_id"] in run_ids} == dict.fromkeys(run_ids, "success")

    # each run loaded exactly its own interval (stateless window from the data interval)
    load_ids: list[str] = []
    for run in finished.values():
        summary = airflow.xcom(run["dag_run_id"], "pipelines")
        window = summary["window"]
        assert window["origin"] == "backfill data interval" and window["stateless"], window
        assert (parse_ts(window["start"]), parse_ts(window["end"])) == (
            parse_ts(run["data_interval_start"]),
            parse_ts(run["data_interval_end"]),
        )
        expected = truth_ids(airflow, "pipelines", parse_ts(window["start"]), parse_ts(window["end"]))
        assert summary["rows"].get("pipelines") == len(expected), (run["dag_run_id"], summary["rows"], len(expected))
        load_ids += summary["load_ids"]

    truth = truth_ids(airflow, "pipelines", start, end)
    by_load = {r[0] for r in airflow.query("SELECT id FROM analytics.pipelines WHERE _dlt_load_id IN ?", [load_ids])}
    assert by_load == truth, f"backfill loaded {len(by_load)} pipelines, truth {len(truth)}: extra {by_load - truth}"
    in_window = {
        r[0]
        for r in airflow.query(
            "SELECT id FROM analytics.pipelines WHERE created_at >= ? AND created_at < ?", [start, end]
        )
    }
    assert in_window == truth, f"missing {sorted(truth - in_window)[:5]}, unexpected {sorted(in_window - truth)[:5]}"
    assert_window_children_loaded(airflow, start, end)
    assert_no_duplicate_keys(airflow)

    # mapped tasks ran mapped: one task instance per batch of parent keys
    counts = {run_id: assert_mapped_per_plan(airflow, run_id) for run_id in run_ids}
    for run_id, per_plan in counts.items():
        assert per_plan["plan_pipeline_workflows"] >= 1, (run_id, per_plan)


def test_manual_trigger_with_conf_loads_exactly_the_window(airflow: SchedulerStack) -> None:
    # one day across the backfill's last two days: the merge must not duplicate what is there
    start, end = D - 2 * DAY + timedelta(hours=12), D - DAY + timedelta(hours=12)
    run_id = f"e2e_manual_{uuid.uuid4().hex[:8]}"
    airflow.cli(
        "dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps({"start": iso(start), "end": iso(end)})
    )
    run = airflow.wait_for_runs([run_id], RUN_TIMEOUT)[run_id]
    assert run["run_type"] == "manual"
    assert run["conf"] == {"start": iso(start), "end": iso(end)}

    summary = airflow.xcom(run_id, "pipelines")
    window = summary["window"]
    assert window["origin"] == "params" and window["stateless"], window
    assert (parse_ts(window["start"]), parse_ts(window["end"])) == (start, end)
    truth = truth_ids(airflow, "pipelines", start, end)
    assert summary["rows"].get("pipelines") == len(truth), (summary["rows"], len(truth))
    loaded = {
        r[0] for r in airflow.query("SELECT id FROM analytics.pipelines WHERE _dlt_load_id IN ?", [summary["load_ids"]])
    }
    assert loaded == truth, f"run loaded {len(loaded)}, truth {len(truth)}: outside the window {loaded - truth}"
    in_window = {
        r[0]
        for r in airflow.query(
            "SELECT id FROM analytics.pipelines WHERE created_at >= ? AND created_at < ?", [start, end]
        )
    }
    assert in_window == truth
    assert_window_children_loaded(airflow, start, end)
    assert_no_duplicate_keys(airflow)
    assert_mapped_per_plan(airflow, run_id)


def test_one_failed_map_index_is_retried_alone(airflow: SchedulerStack) -> None:
    # a window with more pipelines than one batch, so the fan-out group maps over several batches:
    # the days just before the backfill's, which no other test loads (jobs already loaded and final
    # are not fetched again, so a window over loaded days would not request the target job)
    for days in range(1, HISTORY_DAYS - 3):
        start, end = D - (3 + days) * DAY, D - 3 * DAY
        pipelines = truth_ids(airflow, "pipelines", start, end)
        if len(batch_bounds(len(pipelines), PIPELINE_BATCH, min_batches=POOL_SLOTS)) > 1:
            break
    else:
        pytest.fail(f"the days before the backfill hold {len(pipelines)} pipelines: not enough for two batches")
    details = airflow.emulator.truth("jobs", since=iso(start), until=iso(end))
    target = details[0]  # any job of the window; which batch holds it is read from the plan below
    slug, number = target["project_slug"], target["number"]
    # 500 (a retried status) on as many requests for this one job as the client attempts (1 + 3
    # retries in the shipped spec): the task's first try fails, its second try gets through
    attempts = load_spec().client.error_handler.max_attempts
    assert attempts > 1 and 500 in load_spec().client.error_handler.retry_on_status_codes
    rule = {"kind": "status", "status": 500, "count": attempts, "path": f"^/v2/project/{re.escape(slug)}/job/{number}$"}
    airflow.emulator.set_faults({"rules": [rule]})
    airflow.emulator.reset_stats()
    run_id = f"e2e_retry_{uuid.uuid4().hex[:8]}"
    try:
        airflow.cli(
            "dags", "trigger", DAG_ID, "--run-id", run_id, "--conf", json.dumps({"start": iso(start), "end": iso(end)})
        )
        airflow.wait_for_runs([run_id], RUN_TIMEOUT)
        stats = airflow.emulator.stats()
    finally:
        airflow.emulator.set_faults({})
    assert stats["faults"] == {"status": attempts}, stats["faults"]

    plan = airflow.xcom(run_id, "plan_pipeline_workflows")
    assert len(plan) == len(batch_bounds(len(pipelines), PIPELINE_BATCH, min_batches=POOL_SLOTS))
    hit = [
        i for i, ref in enumerate(plan) if {"pipeline_id": target["pipeline"]["id"]} in batch_of(airflow, run_id, ref)
    ]
    assert len(hit) == 1, f"job {slug}/{number}'s pipeline in batches {hit}"
    jobs = f"{GROUP}.jobs"
    tis = airflow.task_instances(run_id)
    tries = {(t["task_id"], t["map_index"]): (t["state"], t["try_number"]) for t in tis}
    # a skipped task never ran (try 0); every task that ran did so once, but the one map index
    retried = {key: value for key, value in tries.items() if value != ("skipped", 0) and value[1] != 1}
    assert retried == {(jobs, hit[0]): ("success", 2)}, (
        f"expected only jobs[{hit[0]}] retried: {retried}" + airflow.run_report([run_id])
    )
    assert all(state in ("success", "skipped") for state, _ in tries.values()), tries
    assert len([key for key in tries if key[0] == jobs]) == len(plan) > 1, tries
    first_try = airflow.task_log(run_id, jobs, hit[0], attempt=1)
    assert first_try is not None and "HTTP 500" in first_try.read_text(errors="replace"), first_try

    loaded = set(airflow.query("SELECT project_slug, number FROM analytics.jobs"))
    missing = {(d["project_slug"], d["number"]) for d in details} - loaded
    assert not missing, f"job details missing after the retry: {sorted(missing)[:5]}"
    # the target row was written by the second try of its map index
    retry_loads = airflow.xcom(run_id, jobs, map_index=hit[0])["load_ids"]
    written_by = airflow.query(
        "SELECT _dlt_load_id FROM analytics.jobs WHERE project_slug = ? AND number = ?", [slug, number]
    )
    assert written_by and written_by[0][0] in retry_loads, (written_by, retry_loads)
    assert_window_children_loaded(airflow, start, end)
    assert_no_duplicate_keys(airflow)
