"""The whole pipelines chain against the emulator's `hostile` fault profile (429 bursts with
Retry-After, 5xx, truncated bodies, connection resets, slow answers, a missing page-token key on
last pages), with Airflow-like task retries: it finishes green and the destination equals the truth.

The spec is a copy of the shipped one with `backoff_factor` 0.05 instead of 2, so 5xx and bad
bodies are retried within milliseconds; the retry count (3) and the Retry-After handling of 429
(waited out, 1 s each) are the shipped ones.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from analytics_provider.config.loader import load_spec
from analytics_provider.fanout.batching import plan_batches
from analytics_provider.operators.load import AnalyticsLoadOperator
from analytics_provider.testing.chain import task_context
from tests.conftest import EMULATOR_NOW
from tests.reliability.helpers import DAY, assert_exactly_once, duckdb_query, iso, jobs_of, workflows_of

pytestmark = pytest.mark.integration

CHAIN = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow", "workflow_jobs", "jobs"]
START = EMULATOR_NOW - DAY
TASK_RETRIES = 2  # as `retries=2` on the task: three attempts


def run_with_task_retries(
    resources: list[str], context: dict[str, Any], spec_path: str
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """Like `run_chain`, but a failed task (one batch of a mapped child) is retried up to
    TASK_RETRIES times, as Airflow does; `AirflowFailException` is not retried, as in Airflow."""
    spec = load_spec(spec_path)
    outputs: dict[str, list[dict[str, Any]]] = {}
    failures: list[str] = []
    for name in resources:
        resource = spec.resource(name)
        if resource.parent is None:
            batch_list: list[Any] = [None]
        else:
            size = 0 if resource.incremental else resource.batch_size
            batch_list = plan_batches(outputs[resource.parent], child=name, batch_size=size, spec_path=spec_path)
        outputs[name] = []
        for index, keys in enumerate(batch_list):
            for attempt in range(TASK_RETRIES + 1):
                op = AnalyticsLoadOperator(
                    task_id=f"{name}_{index}", resource=name, parent_keys=keys, spec_path=spec_path
                )
                try:
                    outputs[name].append(op.execute(context))
                    break
                except AirflowFailException:
                    raise
                except Exception as exc:
                    failures.append(f"{name}[{index}] attempt {attempt + 1}: {type(exc).__name__}: {exc}")
                    if attempt == TASK_RETRIES:
                        raise
    return outputs, failures


def test_pipelines_chain_against_the_hostile_profile_equals_the_truth(
    emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str
) -> None:
    emulator.set_faults({"profile": "hostile", "seed": 5})
    emulator.reset_stats()

    _outputs, failures = run_with_task_retries(CHAIN, task_context(START, EMULATOR_NOW), fast_spec)

    stats = emulator.stats()
    faults = Counter(stats["faults"])
    assert faults["rate_limit"] and sum(faults.values()) >= 10, f"the profile should have bitten: {faults}"
    emulator.set_faults({})
    query = duckdb_query(duckdb_path)

    pipelines = {p["id"] for p in emulator.truth("pipelines", since=iso(START))}
    assert_exactly_once([r[0] for r in query("SELECT id FROM analytics.pipelines")], pipelines, "pipelines")
    workflows = workflows_of(emulator, pipelines)
    loaded_wf = query("SELECT id, status, name, pipeline_id FROM analytics.workflow")
    assert_exactly_once([r[0] for r in loaded_wf], [w["id"] for w in workflows], "workflow")
    assert set(loaded_wf) == {(w["id"], w["status"], w["name"], w["pipeline_id"]) for w in workflows}
    wf_jobs = jobs_of(emulator, {w["id"] for w in workflows})
    loaded_wj = query("SELECT id, status, job_number, workflow_id FROM analytics.workflow_jobs")
    assert_exactly_once([r[0] for r in loaded_wj], [j["id"] for j in wf_jobs], "workflow_jobs")
    assert set(loaded_wj) == {(j["id"], j["status"], j.get("job_number"), j["workflow_id"]) for j in wf_jobs}
    job_keys = [(j["project_slug"], j["job_number"]) for j in wf_jobs if j.get("job_number") is not None]
    assert job_keys, "the window should hold finished jobs"
    loaded_jobs = [tuple(r) for r in query("SELECT project_slug, number FROM analytics.jobs")]
    assert_exactly_once(loaded_jobs, job_keys, "jobs")
    truth_jobs = {(j["project_slug"], j["number"]): j["status"] for j in emulator.truth("jobs")}
    for slug, number, status in query("SELECT project_slug, number, status FROM analytics.jobs"):
        assert truth_jobs[(slug, number)] == status
    print(f"hostile: {stats['total']} requests, faults {dict(faults)}, task retries {len(failures)}: {failures}")  # noqa: T201
