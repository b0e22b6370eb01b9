"""Issue 17 items 1 and 2: `job_tests` (results of each final job, read once) and `flaky_tests` (the
API's current list per project) equal the emulator's truth by value after a full load and after
incremental runs with changes (running jobs finishing, re-runs), on DuckDB and PostgreSQL; a job
read twice keeps one copy of each result and a test reported twice by one job keeps both; the
request cost is one request per new final job with tests metadata plus its extra pages."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.testing.chain import run_chain, task_context
from analytics_provider.testing.emulator.changes import apply_changes
from tests.conftest import EMULATOR_NOW
from tests.convergence.truth import flatten, norm
from tests.reliability.helpers import iso, make_destination

pytestmark = pytest.mark.integration

START = EMULATOR_NOW - timedelta(days=4)
PIPELINES = ["self_collaborations", "pipelines", "pipeline_workflows", "workflow", "workflow_jobs", "jobs", "job_tests"]
PROJECTS = [
    "projects",
    "insights_workflows",
    "workflow_runs",
    "rerun_workflows",
    "rerun_workflow_jobs",
    "rerun_jobs",
    "rerun_job_tests",
    "flaky_tests",
]
TEST_COLUMNS = ("project_slug", "job_number", "classname", "name", "file", "result", "message", "run_time", "source")
FLAKY_COLUMNS = (
    "test_name",
    "classname",
    "file",
    "job_name",
    "job_number",
    "workflow_name",
    "workflow_id",
    "pipeline_number",
    "workflow_created_at",
    "times_flaked",
    "time_wasted",
    "source",
)


def scheduled_run(start: Any, end: Any, **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chain in (PIPELINES, PROJECTS):
        out.update(run_chain(chain, task_context(start, end), **kwargs))
    return out


def _multiset(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> Counter[tuple[Any, ...]]:
    def value(v: Any) -> Any:
        return round(v, 6) if isinstance(v, float) else norm(v)

    return Counter(tuple(value(r.get(c)) for c in columns) for r in rows)


def expected_job_tests(emulator: Any, query: Any = None, since: datetime = START) -> list[dict[str, Any]]:
    """Results of the jobs the warehouse should hold: those of pipelines created from `since` on, and
    (with `query`) those of the jobs `jobs` holds besides (re-runs in older pipelines)."""
    ids = {p["id"] for p in emulator.truth("pipelines", since=iso(since))}
    wf_ids = {w["id"] for w in emulator.truth("workflow") if w["pipeline_id"] in ids}
    jobs = {
        (j["project_slug"], j["job_number"])
        for j in emulator.truth("workflow_jobs")
        if j["workflow_id"] in wf_ids and j.get("job_number") is not None
    }
    if query is not None:
        jobs |= {tuple(r) for r in query("SELECT project_slug, number FROM analytics.jobs")}
    return [flatten(r) for r in emulator.truth("job_tests") if (r["project_slug"], r["job_number"]) in jobs]


def loaded_job_tests(query: Any) -> list[dict[str, Any]]:
    rows = query(f"SELECT {', '.join(TEST_COLUMNS)} FROM analytics.job_tests")
    return [dict(zip(TEST_COLUMNS, r, strict=True)) for r in rows]


def assert_job_tests_equal_truth(emulator: Any, query: Any, since: datetime = START) -> int:
    """`job_tests` holds exactly the results of the window's jobs and of every job `jobs` holds."""
    want = _multiset(expected_job_tests(emulator, query, since), TEST_COLUMNS)
    got = _multiset(loaded_job_tests(query), TEST_COLUMNS)
    missing, extra = want - got, got - want
    assert not missing and not extra, (
        f"job_tests: {sum(missing.values())} results missing (e.g. {list(missing)[:1]}), "
        f"{sum(extra.values())} extra (e.g. {list(extra)[:1]})"
    )
    return sum(want.values())


def assert_flaky_tests_equal_truth(emulator: Any, query: Any) -> int:
    columns = ", ".join(f"f.{c}" for c in FLAKY_COLUMNS)
    rows = query(
        f"SELECT p.project_slug, {columns} FROM analytics.flaky_tests p "
        "JOIN analytics.flaky_tests__flaky_tests f ON f._dlt_parent_id = p._dlt_id"
    )
    got = _multiset([dict(zip(("project_slug", *FLAKY_COLUMNS), r, strict=True)) for r in rows], FLAKY_COLUMNS)
    truth = [flatten(r) for r in emulator.truth("flaky_tests")]
    want = _multiset(truth, FLAKY_COLUMNS)
    assert got == want, f"flaky_tests: {sum((want - got).values())} missing, {sum((got - want).values())} extra"
    totals = dict(query("SELECT project_slug, total_flaky_tests FROM analytics.flaky_tests"))
    per_project = Counter(r["project_slug"] for r in truth)
    assert {k: v for k, v in totals.items() if v} == {
        slug: len({(r["classname"], r["test_name"]) for r in truth if r["project_slug"] == slug})
        for slug in per_project
    }
    return sum(want.values())


def expected_test_daily(emulator: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    """`ci_test_daily` computed from the emulator's records, not from the warehouse."""
    jobs = {(j["project_slug"], j["number"]): j for j in emulator.truth("jobs")}
    per_job: dict[tuple[Any, ...], Counter[str]] = {}
    run_time: Counter[tuple[Any, ...]] = Counter()
    for r in expected_job_tests(emulator):
        job = jobs[(r["project_slug"], r["job_number"])]
        day = datetime.fromisoformat(job["started_at"].replace("Z", "+00:00")).date()
        key = (r["project_slug"], job["latest_workflow"]["name"], job["name"], r["classname"], r["name"], day)
        per_job.setdefault((*key, r["job_number"]), Counter())[r["result"]] += 1
        if r["result"] != "skipped":
            run_time[key] += r["run_time"]
    agg: dict[tuple[Any, ...], list[Any]] = {}
    for (*key, _), c in per_job.items():
        a = agg.setdefault(tuple(key), [0, 0, 0, 0, 0, 0])
        a[0] += 1
        a[1] += sum(c.values())
        a[2] += c["success"]
        a[3] += c["failure"]
        a[4] += c["skipped"]
        a[5] += bool(c["success"] and c["failure"])
    return {
        k: (
            a[0],
            a[1],
            a[2],
            a[3],
            a[4],
            round(a[3] / (a[2] + a[3]), 6) if a[2] + a[3] else None,
            a[5],
            round(run_time[k] / (a[1] - a[4]), 6) if a[1] - a[4] else None,
        )
        for k, a in agg.items()
    }


def assert_views_equal_truth(emulator: Any, query: Any, conn_id: str | None) -> None:
    from analytics_provider.views.refresh import refresh_views

    created = refresh_views(conn_id, "analytics")["created"]
    assert {"ci_test_daily", "ci_flaky_tests"} <= set(created), created
    rows = query("SELECT * FROM analytics.ci_test_daily")

    def r6(v: Any) -> Any:
        return None if v is None else round(float(v), 6)

    got = {tuple(r[:6]): (*(int(v) for v in r[6:11]), r6(r[11]), int(r[12]), r6(r[13])) for r in rows}
    want = expected_test_daily(emulator)
    assert want, "the window holds test results"
    assert got == want, f"ci_test_daily: {len(set(got) ^ set(want))} groups differ in keys"
    flaky: dict[tuple[Any, ...], list[Any]] = {}
    for f in emulator.truth("flaky_tests"):
        key = (f["project_slug"], f["workflow-name"], f["job-name"], f["classname"], f["test-name"])
        a = flaky.setdefault(key, [0, 0, 0])
        a[0] += f["times-flaked"]
        a[1] += f["time-wasted"]
        a[2] += 1
    got_flaky = {
        tuple(r[:5]): [int(r[5]), int(r[6]), int(r[7])] for r in query("SELECT * FROM analytics.ci_flaky_tests")
    }
    assert got_flaky == flaky


@pytest.mark.parametrize("kind", ["duckdb", "postgres"])
def test_test_results_and_flaky_tests_equal_the_api_after_changes(
    kind: str, emulator: Any, api_connection: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    destination = make_destination(kind, request, tmp_path)
    query = destination.query
    emulator.reset_stats()
    scheduled_run(START, EMULATOR_NOW, **destination.kwargs)
    first = assert_job_tests_equal_truth(emulator, query)
    assert first > 0 and assert_flaky_tests_equal_truth(emulator, query) > 0
    assert_views_equal_truth(emulator, query, destination.conn_id)
    results = Counter(r["result"] for r in loaded_job_tests(query))
    assert results["failure"] and results["skipped"] and results["success"], results
    # one job reports one test twice: both rows are kept
    per_test = Counter((r["project_slug"], r["job_number"], r["classname"], r["name"]) for r in loaded_job_tests(query))
    assert max(per_test.values()) >= 2

    # cost: one request per job with test metadata read (plus extra pages), 404s for the rest
    routes = emulator.stats()["routes"]
    tests_route = next(k for k in routes if k.endswith("/tests"))
    final_jobs = {
        (j["project_slug"], j["number"])
        for j in emulator.truth("jobs", since=iso(START))
        if j["status"] in ("success", "failed", "canceled")
    }
    with_results = {(r["project_slug"], r["job_number"]) for r in expected_job_tests(emulator)}
    pages = sum(
        -(-n // 20) - 1
        for n in Counter((r["project_slug"], r["job_number"]) for r in expected_job_tests(emulator)).values()
    )
    assert len(with_results) + pages <= routes[tests_route] <= len(final_jobs) + pages, routes[tests_route]

    end = EMULATOR_NOW
    for number in (1, 2):
        apply_changes(emulator.state, number)
        before = {tuple(r) for r in query("SELECT project_slug, job_number FROM analytics.job_tests")}
        emulator.reset_stats()
        begin, end = end, end + timedelta(minutes=30)
        scheduled_run(begin, end, **destination.kwargs)
        assert assert_job_tests_equal_truth(emulator, query) >= first
        assert_flaky_tests_equal_truth(emulator, query)
        assert_views_equal_truth(emulator, query, destination.conn_id)
        after = {tuple(r) for r in query("SELECT project_slug, job_number FROM analytics.job_tests")}
        # an incremental run reads the tests of the jobs that became final, never the old ones again
        read = emulator.stats()["routes"].get(tests_route, 0)
        assert read <= len(after - before) * 2 + 10, (read, len(after - before))


def test_a_job_read_twice_keeps_one_copy_of_each_result(emulator: Any, api_connection: str, duckdb_path: Path) -> None:
    """Clearing and re-running `job_tests` (or a backfill over the same window) replaces the results
    of the jobs it reads: no result is duplicated, none lost."""
    from tests.reliability.helpers import duckdb_query

    query = duckdb_query(duckdb_path)
    scheduled_run(START, EMULATOR_NOW)
    once = assert_job_tests_equal_truth(emulator, query)
    # the same window again, stateless (a backfill): every job and its tests are read again
    run_chain(PIPELINES, task_context(START, EMULATOR_NOW), start=iso(START), end=iso(EMULATOR_NOW))
    assert assert_job_tests_equal_truth(emulator, query) == once


def test_a_test_no_longer_flaky_leaves_the_warehouse(
    emulator: Any, api_connection: str, duckdb_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A merge replaces each project's whole list: when the API stops listing a test (two weeks
    without a flake), or lists none for a project, the warehouse drops it too."""
    from analytics_provider.testing.emulator import job_tests
    from tests.reliability.helpers import duckdb_query

    query = duckdb_query(duckdb_path)
    run_chain(["projects", "flaky_tests"], task_context(START, EMULATOR_NOW))
    assert assert_flaky_tests_equal_truth(emulator, query) > 0
    monkeypatch.setattr(job_tests, "FLAKY_DAYS", 0)  # every flake is now older than the window
    assert emulator.truth("flaky_tests") == []
    run_chain(["projects", "flaky_tests"], task_context(START, EMULATOR_NOW))
    assert query("SELECT count(*) FROM analytics.flaky_tests__flaky_tests") == [(0,)]
    assert {r[0] for r in query("SELECT total_flaky_tests FROM analytics.flaky_tests")} == {0}


def test_rate_limits_and_server_errors_on_the_new_endpoints_lose_nothing(
    emulator: Any, api_connection: str, duckdb_path: Path, fast_spec: str
) -> None:
    """429 (with Retry-After) and 503 bursts on `/tests` and `/flaky-tests`: the retrying session gets
    through, and both tables still equal the API."""
    from tests.reliability.helpers import duckdb_query

    query = duckdb_query(duckdb_path)
    emulator.set_faults(
        {
            "seed": 3,
            "rules": [
                {"kind": "rate_limit", "count": 6, "retry_after": 1, "path": "/tests$"},
                {"kind": "status", "status": 503, "count": 4, "path": "/tests$"},
                {"kind": "rate_limit", "count": 2, "retry_after": 1, "path": "/flaky-tests$"},
            ],
        }
    )
    scheduled_run(START, EMULATOR_NOW, spec_path=fast_spec)
    faults = emulator.stats()["faults"]
    assert faults.get("rate_limit", 0) == 8 and faults.get("status", 0) == 4, faults
    assert assert_job_tests_equal_truth(emulator, query) > 0
    assert assert_flaky_tests_equal_truth(emulator, query) > 0
