"""What `make demo` prints of the views: a few aligned rows of each view that exists."""

from __future__ import annotations

from typing import Any

from analytics_provider.views.report import render


def test_render_prints_the_views_that_exist_and_skips_the_others() -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("CREATE SCHEMA analytics")
    con.execute(
        "CREATE VIEW analytics.ci_workflow_daily AS SELECT * FROM (VALUES "
        "('gh/acme/api', 'main', 'build', DATE '2026-11-19', 7, 0.714285, 95.5, 180.25, 1), "
        "('gh/acme/web', NULL, 'deploy', DATE '2026-11-18', 2, NULL, NULL, NULL, 0)) "
        "t(project_slug, branch, workflow, day, runs, success_rate, duration_p50_seconds, duration_p95_seconds, reruns)"
    )

    def query(sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        cur = con.execute(sql)
        return [d[0] for d in cur.description], cur.fetchall()

    text = render(query, "analytics", {"ci_workflow_daily"})

    lines = text.splitlines()
    assert lines[0] == "Busiest workflows per day (ci_workflow_daily):"
    assert lines[1].split() == [
        "project_slug", "branch", "workflow", "day", "runs", "success_rate", "duration_p50_seconds",
        "duration_p95_seconds", "reruns",
    ]  # fmt: skip
    assert lines[3].split() == ["gh/acme/api", "main", "build", "2026-11-19", "7", "0.71", "96", "180", "1"]
    assert lines[4].split() == ["gh/acme/web", "-", "deploy", "2026-11-18", "2", "-", "-", "-", "0"]
    assert "ci_job_daily" not in text, "a view that does not exist is left out"
