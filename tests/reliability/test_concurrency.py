"""Tasks that run at the same time, as Airflow runs them: mapped child tasks in parallel into one
DuckDB file or one PostgreSQL database, and a backfill of `pipelines` next to a scheduled run.

Each task runs in a process of its own (see `helpers.start_task`), four at once. The provider
serialises the steps that touch the destination with a write lock (a file lock for DuckDB, an
advisory lock for PostgreSQL); these tests check that no task fails on a lock, no row is lost or
duplicated, and no task overwrites another's dlt state.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.config.loader import load_spec
from tests.conftest import EMULATOR_NOW
from tests.reliability.helpers import (
    DAY,
    Destination,
    assert_exactly_once,
    assert_ran_at_the_same_time,
    batches,
    completed_loads_of,
    context,
    iso,
    jobs_of,
    make_destination,
    next_run_bounds,
    pipeline_pages,
    run_here,
    start_task,
    stored_cursors,
    true_cursors,
    workflows_of,
)

pytestmark = pytest.mark.integration

START = EMULATOR_NOW - DAY
FIRST = context(START, EMULATOR_NOW)
PARALLEL = 4


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path, api_connection: str) -> Destination:
    return make_destination(request.param, request, tmp_path)


def _in_parallel(tmp_path: Path, resource: str, keys: list[dict[str, Any]], dest: Destination) -> list[dict]:
    """Cut `keys` into PARALLEL batches and run them as PARALLEL simultaneous task processes."""
    size = math.ceil(len(keys) / PARALLEL)
    parts = [keys[i : i + size] for i in range(0, len(keys), size)]
    assert len(parts) == PARALLEL, f"want {PARALLEL} batches of {resource}, have {len(parts)}"
    tasks = [
        start_task(tmp_path, f"{resource}_{i}", resource=resource, parent_keys=part, ctx=FIRST, **dest.kwargs)
        for i, part in enumerate(parts)
    ]
    summaries = [task.wait(180) for task in tasks]
    assert_ran_at_the_same_time(tasks)
    for task in tasks:
        log = task.log().lower()
        for sign in ("could not set lock", "conflicting lock", "deadlock", "timeouterror", "traceback"):
            assert sign not in log, f"task {task.name}: {sign}\n{task.log()[-2000:]}"
    return summaries


def _assert_next_scheduled_run_continues_from_its_cursor(
    emulator: Any, dest: Destination, orgs: list[dict], backfilled: frozenset[str] = frozenset()
) -> None:
    """A further scheduled run loads only the new pipelines (and the lookback hour) and does not
    page through history: the stored cursor (one per org) was right."""
    before = emulator.truth("pipelines", since=iso(START))
    emulator.state.advance(60)
    emulator.reset_stats()

    out = run_here("pipelines", context(EMULATOR_NOW, EMULATOR_NOW + DAY), orgs, **dest.kwargs)

    truth = emulator.truth("pipelines", since=iso(START))
    assert_exactly_once(dest.ids("pipelines"), {p["id"] for p in truth} | backfilled, "pipelines after the next run")
    lookback = load_spec().resource("pipelines").incremental.lookback
    new, reread = next_run_bounds(before, truth, lookback)
    assert new and len(new) <= out["rows"]["pipelines"] <= len(reread), out["rows"]
    assert pipeline_pages(emulator) <= 2 * len(orgs), "the next run paged through history"


def test_mapped_children_load_in_parallel_without_loss_duplicates_or_state_damage(
    emulator: Any, destination: Destination, tmp_path: Path
) -> None:
    dest = destination
    orgs = batches(run_here("self_collaborations", FIRST, **dest.kwargs), "pipelines", **dest.kwargs)[0]
    pipelines = run_here("pipelines", FIRST, orgs, **dest.kwargs)
    cursors_before = stored_cursors(dest)
    assert cursors_before == true_cursors(emulator, iso(START))

    (pw_keys,) = batches(pipelines, "pipeline_workflows", 200, **dest.kwargs)
    pw_out = _in_parallel(tmp_path, "pipeline_workflows", pw_keys, dest)
    (wj_keys,) = batches(pw_out, "workflow_jobs", 1000, **dest.kwargs)
    _in_parallel(tmp_path, "workflow_jobs", wj_keys, dest)

    pipeline_ids = {p["id"] for p in emulator.truth("pipelines", since=iso(START))}
    assert_exactly_once(dest.ids("pipelines"), pipeline_ids, "pipelines")
    wf_truth = workflows_of(emulator, pipeline_ids)
    assert_exactly_once(dest.ids("workflow"), [w["id"] for w in wf_truth], "workflow")
    jobs_truth = jobs_of(emulator, {w["id"] for w in wf_truth})
    assert_exactly_once(dest.ids("workflow_jobs"), [j["id"] for j in jobs_truth], "workflow_jobs")
    loaded = set(dest.query("SELECT id, workflow_id, status FROM analytics.workflow_jobs"))
    assert loaded == {(j["id"], j["workflow_id"], j["status"]) for j in jobs_truth}
    for schema in ("analytics_pipeline_workflows", "analytics_workflow_jobs"):
        assert completed_loads_of(dest, schema) == PARALLEL, f"{schema}: every task's load is committed"
    # the children did not touch the parent's state: its cursor is where the pipelines run left it
    assert stored_cursors(dest) == cursors_before
    _assert_next_scheduled_run_continues_from_its_cursor(emulator, dest, orgs)


def test_backfill_and_scheduled_run_of_pipelines_at_the_same_time(
    emulator: Any, destination: Destination, tmp_path: Path
) -> None:
    dest = destination
    orgs = batches(run_here("self_collaborations", FIRST, **dest.kwargs), "pipelines", **dest.kwargs)[0]
    run_here("pipelines", FIRST, orgs, **dest.kwargs)
    emulator.state.advance(60)
    old_start, old_end = EMULATOR_NOW - 6 * DAY, EMULATOR_NOW - 5 * DAY

    emulator.set_latency(10)  # a little slower, so the two runs overlap for a while
    scheduled = start_task(
        tmp_path, "scheduled", resource="pipelines", parent_keys=orgs, ctx=context(EMULATOR_NOW, EMULATOR_NOW + DAY),
        **dest.kwargs,
    )  # fmt: skip
    backfill = start_task(
        tmp_path, "backfill", resource="pipelines", parent_keys=orgs, ctx=context(old_start, old_end, "backfill"),
        **dest.kwargs,
    )  # fmt: skip
    scheduled_out, backfill_out = scheduled.wait(180), backfill.wait(180)
    assert_ran_at_the_same_time([scheduled, backfill])
    emulator.set_latency(0)

    assert scheduled_out["window"]["stateless"] is False and backfill_out["window"]["stateless"] is True
    recent = {p["id"] for p in emulator.truth("pipelines", since=iso(START))}
    old = {p["id"] for p in emulator.truth("pipelines", since=iso(old_start), until=iso(old_end))}
    assert old and recent
    assert_exactly_once(dest.ids("pipelines"), recent | old, "pipelines")
    assert backfill_out["rows"]["pipelines"] == len(old)
    # the backfill left the scheduled cursor where the scheduled run put it
    assert stored_cursors(dest) == true_cursors(emulator, iso(START))
    _assert_next_scheduled_run_continues_from_its_cursor(emulator, dest, orgs, frozenset(old))
