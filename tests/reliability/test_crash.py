"""A task killed with SIGKILL (OOM killer, lost worker) during extract or during load, then retried
the way Airflow retries it: nothing lost, nothing duplicated, the incremental cursor still right.

The killed attempts run in processes of their own (see `helpers.start_task`) and are killed at a
known point:
- during extract: the emulator answers slowly (latency) and the process is killed once some
  pages were served, with more to come; the process would stop before its load (`load_start`
  pause), so a slow test can never let it load before the kill, and the test checks that it had
  not got there;
- during load: `runner.py` wraps dlt's `Load.complete_package` so the process stops (and is
  killed) after every load job ran — rows copied to staging and merged into the final tables,
  the pipeline state row written — but before the load package is committed (`_dlt_loads`);
- after load: `runner.py` wraps `dlt.Pipeline.load` so the process is killed after the load was
  committed but before the task returned its summary (its XCom) to Airflow.
The retries run in this process, with the same context and upstream XCom as the killed attempt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analytics_provider.config.loader import load_spec
from tests.conftest import EMULATOR_NOW
from tests.reliability.helpers import (
    DAY,
    Destination,
    assert_exactly_once,
    batches,
    completed_loads_of,
    context,
    duckdb_query,
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

START = EMULATOR_NOW - 2 * DAY  # data interval start of the first scheduled run
FIRST = context(START, EMULATOR_NOW)
NEXT = context(EMULATOR_NOW, EMULATOR_NOW + DAY)


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path, api_connection: str) -> Destination:
    return make_destination(request.param, request, tmp_path)


def _assert_pipelines_match_truth(emulator: Any, dest: Destination) -> list[dict[str, Any]]:
    truth = emulator.truth("pipelines", since=iso(START))
    assert_exactly_once(dest.ids("pipelines"), [p["id"] for p in truth], "pipelines")
    errors = sum(len(p.get("errors") or []) for p in truth)
    loaded_errors = dest.query("SELECT count(*) FROM analytics.pipelines__errors")[0][0] if errors else 0
    assert loaded_errors == errors, "pipelines__errors: child rows lost or duplicated"
    return truth


def _assert_next_run_continues_from_the_cursor(emulator: Any, dest: Destination, orgs_keys: list[dict]) -> None:
    """A further scheduled run loads only new pipelines and does not page through history."""
    before = emulator.truth("pipelines", since=iso(START))
    emulator.state.advance(60)
    emulator.reset_stats()

    out = run_here("pipelines", NEXT, orgs_keys, **dest.kwargs)

    truth = _assert_pipelines_match_truth(emulator, dest)
    # each org's cursor minus the 1 h lookback: the new pipelines and the last hour before them, no more
    new, reread = next_run_bounds(before, truth, load_spec().resource("pipelines").incremental.lookback)
    assert new, "the emulator should have made new pipelines in an hour"
    assert len(new) <= out["rows"]["pipelines"] <= len(reread), out["rows"]
    orgs = len(orgs_keys)
    assert pipeline_pages(emulator) <= 2 * orgs, f"{pipeline_pages(emulator)} pipeline pages for {orgs} orgs"


def test_pipelines_killed_during_extract_then_during_load_retries_load_exactly_once(
    emulator: Any, destination: Destination, tmp_path: Path
) -> None:
    dest = destination
    orgs = batches(run_here("self_collaborations", FIRST, **dest.kwargs), "pipelines", **dest.kwargs)[0]

    # attempt 1: killed during extract, with pipeline pages still to come
    emulator.set_latency(150)
    attempt = start_task(
        tmp_path,
        "extract_kill",
        resource="pipelines",
        parent_keys=orgs,
        ctx=FIRST,
        pause_at="load_start",
        **dest.kwargs,
    )
    attempt.wait_until(lambda: pipeline_pages(emulator) >= 2, what="two pipeline pages served")
    attempt.kill_during_extract()
    emulator.set_latency(0)
    assert "pipelines" not in dest.tables() and completed_loads_of(dest, "analytics_pipelines") == 0

    # attempt 2: killed during load, after the rows were merged into `pipelines`, before the commit
    attempt = start_task(
        tmp_path,
        "load_kill",
        resource="pipelines",
        parent_keys=orgs,
        ctx=FIRST,
        pause_at="before_commit",
        **dest.kwargs,
    )
    attempt.wait_paused()
    attempt.kill()
    assert dest.ids("pipelines"), "the kill should land after the merge wrote rows"
    assert completed_loads_of(dest, "analytics_pipelines") == 0, "the killed load must not be committed"

    # attempt 3 (Airflow's retry): same context, same upstream keys
    out = run_here("pipelines", FIRST, orgs, **dest.kwargs)

    truth = _assert_pipelines_match_truth(emulator, dest)
    assert stored_cursors(dest) == true_cursors(emulator, iso(START)), "the stored cursor is the newest pipeline"
    handed = {k["pipeline_id"] for batch in batches(out, "pipeline_workflows", **dest.kwargs) for k in batch}
    assert {p["id"] for p in truth} <= handed, "the retry must hand every pipeline to its children"
    assert completed_loads_of(dest, "analytics_pipelines") == 1
    _assert_next_run_continues_from_the_cursor(emulator, dest, orgs)


def test_child_tasks_killed_during_load_and_extract_are_retried_exactly_once(
    emulator: Any, api_connection: str, duckdb_path: Path, tmp_path: Path
) -> None:
    """The chain self_collaborations -> pipelines -> pipeline_workflows -> workflow_jobs, with the
    child tasks killed: pipeline_workflows during load, workflow_jobs during extract."""
    dest = Destination("duckdb", None, duckdb_query(duckdb_path))
    orgs = batches(run_here("self_collaborations", FIRST), "pipelines")[0]
    pipelines = run_here("pipelines", FIRST, orgs)
    (pw_keys,) = batches(pipelines, "pipeline_workflows", 200)

    attempt = start_task(
        tmp_path,
        "pw_load_kill",
        resource="pipeline_workflows",
        parent_keys=pw_keys,
        ctx=FIRST,
        pause_at="before_commit",
    )
    attempt.wait_paused()
    attempt.kill()
    assert dest.ids("workflow") and completed_loads_of(dest, "analytics_pipeline_workflows") == 0
    workflows = run_here("pipeline_workflows", FIRST, pw_keys)

    wj_batches = batches(workflows, "workflow_jobs", 200)
    emulator.set_latency(100)
    emulator.reset_stats()
    attempt = start_task(
        tmp_path,
        "wj_extract_kill",
        resource="workflow_jobs",
        parent_keys=wj_batches[0],
        ctx=FIRST,
        pause_at="load_start",
    )
    route = "GET /v2/workflow/{workflow_id}/job"
    attempt.wait_until(lambda: emulator.stats()["routes"].get(route, 0) >= 8, what="eight job lists served")
    attempt.kill_during_extract()
    emulator.set_latency(0)
    assert "workflow_jobs" not in dest.tables()
    for keys in wj_batches:
        run_here("workflow_jobs", FIRST, keys)

    pipeline_ids = {p["id"] for p in emulator.truth("pipelines", since=iso(START))}
    assert_exactly_once(dest.ids("pipelines"), pipeline_ids, "pipelines")
    wf_truth = workflows_of(emulator, pipeline_ids)
    assert_exactly_once(dest.ids("workflow"), [w["id"] for w in wf_truth], "workflow")
    jobs_truth = jobs_of(emulator, {w["id"] for w in wf_truth})
    assert_exactly_once(dest.ids("workflow_jobs"), [j["id"] for j in jobs_truth], "workflow_jobs")
    loaded = dest.query("SELECT id, workflow_id, status FROM analytics.workflow_jobs")
    assert set(loaded) == {(j["id"], j["workflow_id"], j["status"]) for j in jobs_truth}


def test_a_day_whose_run_was_killed_on_every_attempt_is_caught_up_by_the_next_scheduled_run(
    emulator: Any, api_connection: str, duckdb_path: Path, tmp_path: Path
) -> None:
    """README: a scheduled run loads "from the stored cursor minus the lookback (1 h)". When one
    day's run dies on every attempt (here: SIGKILL during extract), the next day's run must load
    that day too."""
    dest = Destination("duckdb", None, duckdb_query(duckdb_path))
    orgs = batches(run_here("self_collaborations", FIRST), "pipelines")[0]
    run_here("pipelines", FIRST, orgs)
    emulator.state.advance(24 * 60)
    emulator.set_latency(150)
    emulator.reset_stats()
    day2 = context(EMULATOR_NOW, EMULATOR_NOW + DAY)
    attempt = start_task(
        tmp_path, "day2_killed", resource="pipelines", parent_keys=orgs, ctx=day2, pause_at="load_start"
    )
    attempt.wait_until(lambda: pipeline_pages(emulator) >= 1, what="a pipeline page served")
    attempt.kill_during_extract()
    emulator.set_latency(0)
    assert completed_loads_of(dest, "analytics_pipelines") == 1, "the killed attempt committed nothing"
    emulator.state.advance(24 * 60)

    run_here("pipelines", context(EMULATOR_NOW + DAY, EMULATOR_NOW + 2 * DAY), orgs)

    pipeline_ids = [p["id"] for p in emulator.truth("pipelines", since=iso(START))]
    assert_exactly_once(dest.ids("pipelines"), pipeline_ids, "pipelines")


def test_pipelines_killed_after_its_load_committed_still_hands_every_new_pipeline_to_its_children(
    emulator: Any, api_connection: str, duckdb_path: Path, tmp_path: Path
) -> None:
    """The worst moment: the load is committed (rows and cursor stored) but the task dies before
    Airflow gets its summary, so the retry starts from the advanced cursor. Its summary must still
    name every pipeline whose workflows were never loaded, or they are never loaded. The window
    is longer than `refresh.lookback` (24 h): a first run of a weekly schedule, or a run
    catching up after a pause."""
    dest = Destination("duckdb", None, duckdb_query(duckdb_path))
    wide = context(EMULATOR_NOW - 3 * DAY, EMULATOR_NOW)
    orgs = batches(run_here("self_collaborations", wide), "pipelines")[0]

    attempt = start_task(
        tmp_path, "after_load_kill", resource="pipelines", parent_keys=orgs, ctx=wide, pause_at="after_load"
    )
    attempt.wait_paused()
    attempt.kill()
    retry = run_here("pipelines", wide, orgs)
    for keys in batches(retry, "pipeline_workflows", 200):
        run_here("pipeline_workflows", wide, keys)

    pipeline_ids = {p["id"] for p in emulator.truth("pipelines", since=iso(EMULATOR_NOW - 3 * DAY))}
    assert_exactly_once(dest.ids("pipelines"), pipeline_ids, "pipelines")
    with_workflows = {w["pipeline_id"] for w in workflows_of(emulator, pipeline_ids)}
    loaded_owners = {r[0] for r in dest.query("SELECT DISTINCT pipeline_id FROM analytics.workflow")}
    lost = with_workflows - loaded_owners
    assert not lost, f"{len(lost)} of {len(with_workflows)} pipelines never got their workflows loaded"
