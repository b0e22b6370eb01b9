"""Scheduled runs keep unfinished records fresh (running workflows, pending approvals, re-runs) at the
cost of what is unfinished plus the lookback, against the emulator and a real DuckDB file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from analytics_provider.config.loader import DEFAULT_SPEC, load_spec
from analytics_provider.fanout.batching import plan_batches
from analytics_provider.testing.chain import run_chain, task_context
from tests.conftest import EMULATOR_NOW
from tests.operators.test_load import _duckdb_query, _iso

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
PIPELINES_DAG = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow", "workflow_jobs", "jobs"]


def _truth_since(emulator: Any, since: str) -> dict[str, set[Any]]:
    pipelines = {p["id"] for p in emulator.truth("pipelines", since=since)}
    workflows = [w for w in emulator.truth("pipeline_workflows") if w["pipeline_id"] in pipelines]
    wf_ids = {w["id"] for w in workflows}
    wf_jobs = [j for j in emulator.truth("workflow_jobs") if j["workflow_id"] in wf_ids]
    return {
        "pipelines": pipelines,
        "workflow": {(w["id"], w["status"], w["name"]) for w in workflows},
        "workflow_jobs": {(j["id"], j["status"], j.get("job_number")) for j in wf_jobs},
        "jobs": {(j["project_slug"], j["job_number"]) for j in wf_jobs if j.get("job_number") is not None},
    }


def _loaded(query: Any) -> dict[str, set[Any]]:
    tables = {
        "pipelines": "SELECT id FROM analytics.pipelines",
        "workflow": "SELECT id, status, name FROM analytics.workflow",
        "workflow_jobs": "SELECT id, status, job_number FROM analytics.workflow_jobs",
        "jobs": "SELECT project_slug, number FROM analytics.jobs",
    }
    loaded: dict[str, set[Any]] = {}
    for table, sql in tables.items():
        rows = query(sql)
        assert len(rows) == len(set(rows)), f"{table}: duplicate rows"
        loaded[table] = {r[0] if len(r) == 1 else tuple(r) for r in rows}
    ids = [r[0] for r in query("SELECT id FROM analytics.workflow")]
    assert len(ids) == len(set(ids)), "workflow: duplicate ids"
    return loaded


def test_next_scheduled_run_brings_unfinished_records_to_their_final_state(
    emulator: Any, api_connection: str, duckdb_path: Path
) -> None:
    query = _duckdb_query(duckdb_path)
    since = _iso(EMULATOR_NOW - 2 * DAY)
    run_chain(PIPELINES_DAG, task_context(EMULATOR_NOW - 2 * DAY, EMULATOR_NOW - DAY))
    first = _loaded(query)
    final = load_spec().resource("jobs").skip_final["status"]
    marks = ", ".join(f"'{status}'" for status in final)
    first_final = set(query(f"SELECT project_slug, number FROM analytics.jobs WHERE status IN ({marks})"))
    assert first_final < first["jobs"], "running jobs have details too"
    unfinished = {w for w in first["workflow"] if w[1] in ("running", "on_hold", "failing")}
    assert unfinished, "the first load should see running workflows and pending approvals"
    assert first == _truth_since(emulator, since), "the first load equals the truth of its moment"

    changed = emulator.state.finish()
    assert changed["rerun"], "the emulator re-ran a failed workflow"
    total_pipelines = len(first["pipelines"])
    emulator.reset_stats()
    out = run_chain(PIPELINES_DAG, task_context(EMULATOR_NOW - DAY, EMULATOR_NOW))

    truth = _truth_since(emulator, since)
    assert _loaded(query) == truth, "after the refresh the destination equals the truth"
    assert changed["rerun"]["workflow_id"] in {w[0] for w in truth["workflow"]}
    # cost: only the lookback span and the owners of unfinished workflows were re-read
    refresh = out["pipelines"][0]["refresh"]
    routes = emulator.stats()["routes"]
    workflow_lists = sum(n for r, n in routes.items() if r.startswith("GET /v2/pipeline/") and r.endswith("/workflow"))
    assert workflow_lists == refresh["parents_reread"] < total_pipelines
    owners = {p for p in first["pipelines"]} - {  # pipelines older than the lookback with no unfinished work
        p
        for p in first["pipelines"]
        if p in {k["pipeline_id"] for batch in plan_batches(out["pipelines"], "pipeline_workflows") for k in batch}
    }
    assert owners, "some old, finished pipelines were not re-read"
    job_details = sum(n for r, n in routes.items() if "/job/" in r and r.startswith("GET /v2/project/"))
    not_final_before = truth["jobs"] - first_final
    assert job_details == len(not_final_before), "job details are re-read until final, then never again"


def test_records_unfinished_past_the_cutoff_are_no_longer_reread(
    emulator: Any, api_connection: str, duckdb_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = yaml.safe_load(DEFAULT_SPEC.read_text())
    pipelines = next(r for r in raw["resources"] if r["name"] == "pipelines")
    pipelines["refresh"].update({"max_age": "1h", "lookback": "1h"})
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(raw))
    query = _duckdb_query(duckdb_path)
    run_chain(PIPELINES_DAG, task_context(EMULATOR_NOW - 2 * DAY, EMULATOR_NOW - DAY), spec_path=str(spec_path))
    unfinished = "status IN ('running', 'on_hold', 'failing')"
    cutoff = f"TIMESTAMP '{_iso(EMULATOR_NOW - timedelta(hours=1))}'"
    old_unfinished = query(f"SELECT count(*) FROM analytics.workflow WHERE {unfinished} AND created_at < {cutoff}")
    young_owners = query(
        f"SELECT count(DISTINCT pipeline_id) FROM analytics.workflow WHERE {unfinished} AND created_at >= {cutoff}"
    )
    assert old_unfinished[0][0] > 0

    emulator.reset_stats()
    out = run_chain(
        ["self_collaborations", "pipelines"], task_context(EMULATOR_NOW - DAY, EMULATOR_NOW), spec_path=str(spec_path)
    )

    refresh = out["pipelines"][0]["refresh"]
    assert refresh["dropped_unfinished"] == old_unfinished[0][0]
    assert refresh["unfinished_parents"] == young_owners[0][0]
    logged = capsys.readouterr()
    assert f"{old_unfinished[0][0]} unfinished `workflow` rows are older than 1 h and no longer re-read" in (
        logged.out + logged.err
    )
