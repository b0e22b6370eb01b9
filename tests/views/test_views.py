"""The CI views on a real DuckDB file and a real PostgreSQL, loaded from the emulator over HTTP, against
the same numbers computed in Python from the emulator's truth (tests/views/expected.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics_provider.testing.chain import run_chain, task_context
from analytics_provider.views.catalog import VIEWS, view
from analytics_provider.views.refresh import refresh_views
from tests.conftest import EMULATOR_NOW
from tests.views.expected import Truth

pytestmark = pytest.mark.integration

Query = Callable[[str], list[tuple[Any, ...]]]
CHAIN = [
    "self_collaborations", "pipelines", "pipeline_workflows", "workflow", "workflow_jobs", "jobs", "projects",
    "specific_project",
]  # fmt: skip
SEED_VIEWS = [
    "ci_workflow_daily", "ci_job_daily", "ci_approval_daily", "ci_default_branch_recovery",
    "ci_default_branch_recovery_daily",
]  # fmt: skip
KEYS = {
    "ci_workflow_daily": 4, "ci_job_daily": 5, "ci_approval_daily": 4, "ci_default_branch_recovery": 5,
    "ci_default_branch_recovery_daily": 4,
}  # fmt: skip


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(params=["duckdb", "postgres"])
def destination(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Query]:
    if request.param == "duckdb":
        import duckdb

        path = tmp_path / "warehouse.duckdb"
        monkeypatch.setenv("ANALYTICS_DUCKDB_PATH", str(path))

        def query(sql: str) -> list[tuple[Any, ...]]:
            with duckdb.connect(str(path)) as con:
                cur = con.execute(sql)
                return cur.fetchall() if cur.description else []

        return None, query
    import psycopg2

    database = request.getfixturevalue("pg_database")

    def pg_query(sql: str) -> list[tuple[Any, ...]]:
        with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as con, con.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description else []

    return "analytics_warehouse", pg_query


def _view(query: Query, name: str) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = query(f"SELECT * FROM analytics.{name}")
    out = {tuple(r[: KEYS[name]]): tuple(r[KEYS[name] :]) for r in rows}
    assert len(out) == len(rows), f"{name}: a group twice"
    return out


def _assert_matches(query: Query, name: str, expected: dict[tuple[Any, ...], tuple[Any, ...]]) -> None:
    loaded = _view(query, name)
    assert expected, f"{name}: the window should hold rows"
    assert set(loaded) == set(expected), f"{name}: groups differ: {set(loaded) ^ set(expected)}"
    for key, values in expected.items():
        got = loaded[key]
        assert len(got) == len(values), name
        for column, (have, want) in enumerate(zip(got, values, strict=True)):
            if isinstance(want, (int, float)) and have is not None:
                have = float(have)  # PostgreSQL's numeric
            where = f"{name} {key} column {KEYS[name] + column}"
            exact = want is None or not isinstance(want, (int, float))
            assert have == (want if exact else pytest.approx(want, rel=1e-9, abs=1e-6)), where


def _job_keys(query: Query) -> set[tuple[str, int]]:
    return {(slug, int(number)) for slug, number in query("SELECT project_slug, number FROM analytics.jobs")}


def _load(conn_id: str | None, since: datetime, until: datetime) -> None:
    run_chain(CHAIN, task_context(), destination_conn_id=conn_id, start=_iso(since), end=_iso(until))


def _check_all(query: Query, truth: Truth) -> None:
    _assert_matches(query, "ci_workflow_daily", truth.workflow_daily())
    _assert_matches(query, "ci_job_daily", truth.job_daily())
    _assert_matches(query, "ci_approval_daily", truth.approval_daily())
    _assert_matches(query, "ci_default_branch_recovery", truth.default_branch_recovery())
    _assert_matches(query, "ci_default_branch_recovery_daily", truth.default_branch_recovery_daily())


def test_views_equal_the_numbers_computed_from_the_emulator(
    emulator: Any, api_connection: str, destination: tuple[Any, Query]
) -> None:
    conn_id, query = destination
    since = EMULATOR_NOW - timedelta(days=4)
    _load(conn_id, since, EMULATOR_NOW)

    result = refresh_views(conn_id, "analytics")

    assert result["created"] == SEED_VIEWS
    assert set(result["skipped"]) == {"ci_test_daily", "ci_flaky_tests", "ci_credits_daily"}
    truth = Truth(emulator, _iso(since), _iso(EMULATOR_NOW), _job_keys(query))
    _check_all(query, truth)
    if conn_id is not None:  # PostgreSQL: each view carries its definition from the catalog as a comment
        for name in SEED_VIEWS:
            comment = query(f"SELECT obj_description('analytics.{name}'::regclass, 'pg_class')")[0][0]
            assert comment == view(name).description
    assert any(v[2] for v in truth.approval_daily().values()), "the window should hold a waiting approval"
    # the derived wait tracks the emulator's own record: the hold is requested 1-5 s after its last upstream
    # job stops, and the first job after it is queued 1-5 s after the grant
    errors = truth.approval_wait_errors()
    assert errors and all(e >= 2 for e in errors), errors
    assert sorted(errors)[len(errors) // 2] <= 10, errors
    recoveries = truth.default_branch_recovery().values()
    assert any(v[3] is not None for v in recoveries), "the window should hold a recovered default branch"

    # open work finishes, a failed workflow is re-run, new work arrives: the tables under the views
    # take the new rows and columns (merge), and the views, refreshed again, still agree
    emulator.state.finish()
    emulator.state.advance(180)
    later = EMULATOR_NOW + timedelta(minutes=180)
    _load(conn_id, since, later)
    assert refresh_views(conn_id, "analytics")["created"] == SEED_VIEWS
    truth = Truth(emulator, _iso(since), _iso(later), _job_keys(query))
    _check_all(query, truth)
    assert sum(v[7] for v in truth.workflow_daily().values()) >= 1, "the window should hold a re-run"


def test_every_view_has_a_readme_entry() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for each in VIEWS:
        assert f"`{each.name}`" in readme, each.name
