"""Issue 16: a load of 10 days, then three rounds of the emulator's change model (old approvals
granted weeks later, an old on-hold workflow canceled, a failed workflow re-run in a pipeline 2.5+
days old, running jobs finishing, new pipelines), each followed by one scheduled run of both DAGs'
chains: after every round each table equals the emulator's truth by value, on DuckDB and
PostgreSQL, and under the hostile fault profile.

The chains run in-process (`run_chain`, the DAG factory's tasks and key hand-over), not under
`airflow dags test`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.testing.chain import run_chain, task_context
from analytics_provider.testing.emulator.changes import apply_changes, hold_approvals
from analytics_provider.testing.emulator.model import DAY_MS, parse_time
from tests.conftest import EMULATOR_NOW
from tests.convergence.truth import assert_equals_truth
from tests.reliability.helpers import iso, make_destination

pytestmark = pytest.mark.integration

START = EMULATOR_NOW - timedelta(days=10)
PIPELINES = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow", "workflow_jobs", "jobs"]
PROJECTS = ["projects", "insights_workflows", "workflow_runs", "rerun_workflows", "rerun_workflow_jobs", "rerun_jobs"]
RUNS_LOOKBACK_MS = DAY_MS


def scheduled_run(start: datetime, end: datetime, runner: Any = None, **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chain in (PIPELINES, PROJECTS):
        out.update((runner or run_chain)(chain, task_context(start, end), **kwargs))
    return out


def assert_warehouse_equals_truth(emulator: Any, query: Any, since: datetime = START) -> dict[str, int]:
    """Every table of both chains equals the truth for the pipelines created from `since` on."""
    pipelines = emulator.truth("pipelines", since=iso(since))
    ids = {p["id"] for p in pipelines}
    workflows = [w for w in emulator.truth("workflow") if w["pipeline_id"] in ids]
    wf_ids = {w["id"] for w in workflows}
    wf_jobs = [j for j in emulator.truth("workflow_jobs") if j["workflow_id"] in wf_ids]
    job_ids = {(j["project_slug"], j["job_number"]) for j in wf_jobs if j.get("job_number") is not None}
    jobs = [j for j in emulator.truth("jobs") if (j["project_slug"], j["number"]) in job_ids]
    counts = {
        "pipelines": assert_equals_truth(query, "pipelines", ("id",), pipelines),
        "workflow": assert_equals_truth(query, "workflow", ("id",), workflows),
        "workflow_jobs": assert_equals_truth(query, "workflow_jobs", ("id",), wf_jobs),
        "jobs": assert_equals_truth(query, "jobs", ("project_slug", "number"), jobs),
    }
    # insights list finished runs; a run is in the window of the run after it finished when it took
    # at most the lookback (1 day) from creation to end
    start = parse_time(iso(since) + "Z")
    runs = [r for r in emulator.truth("workflow_runs") if parse_time(r["created_at"]) >= start]
    seen = {r[0] for r in query("SELECT id FROM analytics.workflow_runs")}
    quick = {r["id"] for r in runs if parse_time(r["stopped_at"]) - parse_time(r["created_at"]) <= RUNS_LOOKBACK_MS}
    assert quick <= seen, f"workflow_runs: {len(quick - seen)} runs missing"
    counts["workflow_runs"] = assert_equals_truth(query, "workflow_runs", ("id",), [r for r in runs if r["id"] in seen])
    return counts


def converge(emulator: Any, query: Any, runner: Any = None, **kwargs: Any) -> list[dict[str, Any]]:
    held = hold_approvals(emulator.state, 8)
    assert held["count"] == 8
    scheduled_run(START, EMULATOR_NOW, runner, **kwargs)
    first = assert_warehouse_equals_truth(emulator, query)
    statuses = {r[0] for r in query("SELECT status FROM analytics.workflow")}
    assert "on_hold" in statuses, "the load saw the held approvals"
    rounds = []
    end = EMULATOR_NOW
    for number in (1, 2, 3):
        changed = apply_changes(emulator.state, number)
        emulator.reset_stats()
        begin, end = end, end + timedelta(minutes=30)
        out = scheduled_run(begin, end, runner, **kwargs)
        counts = assert_warehouse_equals_truth(emulator, query)
        loaded = {r[0] for r in query("SELECT id FROM analytics.workflow")}
        assert changed["rerun"]["workflow_id"] in loaded, "the re-run in an old pipeline was found"
        rounds.append({"changed": changed, "requests": emulator.stats()["total"], "counts": counts, "out": out})
    assert first["workflow"] < rounds[-1]["counts"]["workflow"]
    return rounds


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_three_rounds_of_changes_converge_by_value(
    kind: str, emulator: Any, api_connection: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    destination = make_destination(kind, request, tmp_path)
    rounds = converge(emulator, destination.query, **destination.kwargs)
    granted = [w for r in rounds for w in r["changed"]["approvals_granted"]]
    assert granted and rounds[0]["changed"]["canceled"], "the rounds granted and canceled old approvals"


def test_three_rounds_converge_under_the_hostile_profile(
    emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str
) -> None:
    from tests.reliability.helpers import duckdb_query
    from tests.reliability.test_hostile import run_with_task_retries

    def runner(chain: list[str], context: dict[str, Any], spec_path: str) -> dict[str, Any]:
        return run_with_task_retries(chain, context, spec_path)[0]

    emulator.set_faults({"profile": "hostile", "seed": 11})
    converge(emulator, duckdb_query(duckdb_path), runner, spec_path=fast_spec)
    assert sum(emulator.stats()["faults"].values()) > 0


def test_the_old_seven_day_horizon_leaves_granted_approvals_stale(
    emulator: Any, api_connection: str, duckdb_path: Path, tmp_path: Path
) -> None:
    """The comparison is sharp enough to see issue 16's bug: with `max_age: 7d` (the old default) a
    workflow held in a pipeline older than a week keeps `on_hold` after its approval is granted."""
    import yaml

    from analytics_provider.config.loader import DEFAULT_SPEC
    from tests.reliability.helpers import duckdb_query

    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    next(r for r in raw["resources"] if r["name"] == "pipelines")["refresh"]["max_age"] = "7d"
    spec_path = tmp_path / "seven_days.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    with pytest.raises(AssertionError, match=r"workflow: \d+ values differ from the API.*'on_hold'"):
        converge(emulator, duckdb_query(duckdb_path), spec_path=str(spec_path))
