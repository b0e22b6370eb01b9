"""A few rows of the CI views as plain text (what `make demo` prints)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

Query = Callable[[str], tuple[Sequence[str], list[tuple[Any, ...]]]]
"""SQL -> (column names, rows)."""

SAMPLES = (
    (
        "Busiest workflows per day (ci_workflow_daily)",
        "ci_workflow_daily",
        "SELECT project_slug, branch, workflow, day, runs, success_rate, duration_p50_seconds, duration_p95_seconds, "
        "reruns FROM {ds}.ci_workflow_daily ORDER BY runs DESC, day DESC, project_slug, workflow LIMIT 5",
    ),
    (
        "Longest queue times (ci_job_daily)",
        "ci_job_daily",
        "SELECT project_slug, workflow, job, day, runs, queue_p50_seconds, queue_p95_seconds "
        "FROM {ds}.ci_job_daily ORDER BY queue_p95_seconds DESC NULLS LAST, project_slug, job LIMIT 5",
    ),
    (
        "Approval waits (ci_approval_daily)",
        "ci_approval_daily",
        "SELECT project_slug, workflow, day, approvals, waiting, wait_p50_seconds, wait_max_seconds "
        "FROM {ds}.ci_approval_daily ORDER BY wait_max_seconds DESC NULLS LAST, project_slug LIMIT 5",
    ),
    (
        "Default branch: time to recovery (ci_default_branch_recovery)",
        "ci_default_branch_recovery",
        "SELECT project_slug, branch, workflow, failed_at, recovered_at, recovery_seconds "
        "FROM {ds}.ci_default_branch_recovery ORDER BY failed_at DESC LIMIT 5",
    ),
    (
        "Most failing tests (ci_test_daily)",
        "ci_test_daily",
        "SELECT job, test_name, SUM(jobs) AS jobs, SUM(failed) AS failed, SUM(flaky_jobs) AS flaky_jobs, "
        "CAST(SUM(failed) AS DOUBLE) / NULLIF(SUM(passed) + SUM(failed), 0) AS failure_rate "
        "FROM {ds}.ci_test_daily GROUP BY job, test_name ORDER BY failed DESC, job, test_name LIMIT 5",
    ),
    (
        "Flakiest tests (ci_flaky_tests)",
        "ci_flaky_tests",
        "SELECT job, test_name, SUM(times_flaked) AS times_flaked, SUM(time_wasted_seconds) AS time_wasted_seconds, "
        "MAX(last_flaked_at) AS last_flaked_at FROM {ds}.ci_flaky_tests GROUP BY job, test_name "
        "ORDER BY times_flaked DESC, job, test_name LIMIT 5",
    ),
    (
        "Credits per day (ci_credits_daily)",
        "ci_credits_daily",
        "SELECT day, SUM(jobs) AS jobs, SUM(total_credits) AS total_credits FROM {ds}.ci_credits_daily "
        "GROUP BY day ORDER BY day DESC LIMIT 5",
    ),
)


def render(query: Query, dataset: str, existing: set[str]) -> str:
    """The samples of the views in `existing`, each as a small aligned table."""
    parts = []
    for title, view, sql in SAMPLES:
        if view not in existing:
            continue
        names, rows = query(sql.format(ds=dataset))
        cells = [list(names)] + [[_cell(v) for v in row] for row in rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(names))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
        parts.append(f"{title}:\n" + "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]]))
    return "\n\n".join(parts)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (float, Decimal)):
        return f"{value:.2f}" if abs(value) < 10 else f"{value:.0f}"
    text = str(value)
    return text if len(text) <= 40 else "…" + text[-39:]
