"""Views over tables other resources may load (flaky tests, usage): created only when the table and
its columns exist, dropped when they are gone. Tables made here with the columns those views read."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import pytest

from analytics_provider.views.refresh import refresh_views
from tests.views.test_views import Query, destination  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

FLAKY = [
    # project_slug, workflow_name, job_name, classname, test_name, times_flaked, time_wasted, workflow_created_at
    ("gh/acme/api", "build", "test", "tests.api", "test_login", 3, 120, "2026-11-18 10:00:00+00"),
    ("gh/acme/api", "build", "test", "tests.api", "test_login", 2, 45, "2026-11-19 08:30:00+00"),
    ("gh/acme/api", "build", "test", "tests.api", "test_logout", 1, 10, "2026-11-17 12:00:00+00"),
    ("gh/acme/web", "deploy", "e2e", "e2e.cart", "test_checkout", 4, 600, "2026-11-20 01:00:00+00"),
]
USAGE = [
    # project_name, vcs_branch, workflow_name, job_run_date, total_credits, compute_credits
    ("api", "main", "build", "2026-11-18", 12.5, 10.0),
    ("api", "main", "build", "2026-11-18", 7.5, 6.0),
    ("api", "main", "build", "2026-11-19", 3.0, 3.0),
    ("web", "feature/x", "deploy", "2026-11-18", 40.0, 32.5),
]


def _create(query: Query) -> None:
    query("CREATE SCHEMA IF NOT EXISTS analytics")
    # as dlt loads `flaky_tests`: one row per project, the list in a nested table
    query(
        "CREATE TABLE analytics.flaky_tests (project_slug VARCHAR, total_flaky_tests DOUBLE PRECISION, _dlt_id VARCHAR)"
    )
    query(
        "CREATE TABLE analytics.flaky_tests__flaky_tests (workflow_name VARCHAR, job_name VARCHAR, "
        "classname VARCHAR, test_name VARCHAR, times_flaked BIGINT, time_wasted BIGINT, "
        "workflow_created_at TIMESTAMP WITH TIME ZONE, _dlt_parent_id VARCHAR)"
    )
    for project in sorted({row[0] for row in FLAKY}):
        query(f"INSERT INTO analytics.flaky_tests VALUES ('{project}', 0, 'id:{project}')")
    query(
        "CREATE TABLE analytics.usage (project_name VARCHAR, vcs_branch VARCHAR, workflow_name VARCHAR, "
        "job_run_date VARCHAR, total_credits DOUBLE PRECISION)"
    )
    for project, *item in FLAKY:
        values = ", ".join(_literal(v) for v in [*item, f"id:{project}"])
        query(f"INSERT INTO analytics.flaky_tests__flaky_tests VALUES ({values})")
    for row in USAGE:
        query(f"INSERT INTO analytics.usage VALUES ({', '.join(_literal(v) for v in row[:5])})")


def _literal(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def test_flaky_and_credit_views_follow_their_tables(destination: tuple[Any, Query]) -> None:  # noqa: F811
    conn_id, query = destination
    first = refresh_views(conn_id, "analytics")
    assert first["created"] == [] and first["skipped"]["ci_flaky_tests"] == ["flaky_tests", "flaky_tests__flaky_tests"]
    _create(query)

    result = refresh_views(conn_id, "analytics")

    assert result["created"] == ["ci_flaky_tests"]
    assert result["skipped"]["ci_workflow_daily"] == ["workflow", "pipelines"]
    assert result["skipped"]["ci_credits_daily"] == ["usage.compute_credits"], "the missing column is named"
    # the column arrives (as with a new field from the API): the next refresh creates the view
    query("ALTER TABLE analytics.usage ADD COLUMN compute_credits DOUBLE PRECISION")
    for project, _, _, day, total, compute in USAGE:
        query(
            f"UPDATE analytics.usage SET compute_credits = {compute} "
            f"WHERE project_name = '{project}' AND job_run_date = '{day}' AND total_credits = {total}"
        )
    assert refresh_views(conn_id, "analytics")["created"] == ["ci_flaky_tests", "ci_credits_daily"]
    flaky: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0, 0.0, 0, ""])
    for project, wf, job, cls, test, times, wasted, at in FLAKY:
        agg = flaky[(project, wf, job, cls, test)]
        agg[0] += times
        agg[1] += wasted
        agg[2] += 1
        agg[3] = max(agg[3], at)
    rows = query("SELECT * FROM analytics.ci_flaky_tests")
    assert {r[:5]: (float(r[5]), float(r[6]), r[7]) for r in rows} == {k: tuple(v[:3]) for k, v in flaky.items()}
    last = {r[:5]: r[8].isoformat(sep=" ").replace("+00:00", "+00") for r in rows}
    assert last == {k: v[3] for k, v in flaky.items()}

    credits: dict[tuple[Any, ...], list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for project, branch, wf, day, total, compute in USAGE:
        agg = credits[(project, branch, wf, date.fromisoformat(day))]
        agg[0] += 1
        agg[1] += total
        agg[2] += compute
    rows = query("SELECT * FROM analytics.ci_credits_daily")
    assert {r[:4]: (r[4], pytest.approx(r[5]), pytest.approx(r[6])) for r in rows} == {
        k: tuple(v) for k, v in credits.items()
    }

    if conn_id is None:  # DuckDB lets a table under a view go (PostgreSQL refuses while the view exists)
        query("DROP TABLE analytics.flaky_tests__flaky_tests")
        assert refresh_views(conn_id, "analytics")["skipped"]["ci_flaky_tests"] == ["flaky_tests__flaky_tests"]
        views = query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'analytics' AND table_type = 'VIEW'"
        )
        assert {r[0] for r in views} == {"ci_credits_daily"}, "the view without its table is dropped"
